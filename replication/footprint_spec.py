"""Which model a training run's memory and FLOPs are measured on (``replication.footprint``): the spec of
a stage-graph node. Shared by the footprint measurement and the GPU plan (``gpu_costs``); no torch."""
from __future__ import annotations

from typing import Any

from sfi_mos.config import to_dict

from . import costs, rehearse_report as report


def _arch_kind(upstream: str) -> str | None:
    return next((k for k in ("wavlm", "hubert", "wav2vec2") if k in upstream), None)


def spec_for(node, graph, grid, size: str) -> dict[str, Any] | None:
    """The footprint spec of a training node (None: no training, or an upstream of unknown class).

    Cells map onto few specs: the SFI layer is the grid template's (its ablations change the layer's
    design, not its tensors' sizes much), dropout is on (the worst case) and LayerDrop off."""
    from sfi_mos.ssl.checkpoints import tiny_arch  # lazy: torch; run_all imports this module at start

    cfg, stage = node.config, node.stage
    sfi = to_dict(grid.distill.sfi)
    if stage == "distill":
        if cfg.steps == 0:
            return None
        t = _arch_kind(cfg.teacher.name)
        s = _arch_kind(cfg.student.name) if cfg.student else t
        if t is None or s is None:
            return None
        return {"stage": stage, "backbone": "sfi", "arch": tiny_arch(s, size), "teacher_arch": tiny_arch(t, size),
                "sfi": sfi, "ratings_per_pass": 1, "rates": sorted(int(r) for r in cfg.rates),
                "rate_weights": [1] * len(cfg.rates)}
    if stage not in ("pretrain", "finetune"):
        return None
    b = cfg.backbone
    corpus = costs.CORPUS_SIZES["bvcc" if stage == "pretrain" else "track3"]
    if b.kind == "sfi":
        parent = graph.nodes.get(b.student_run)
        d = parent.config if parent is not None else None
        # a released student (import) is the authors' HuBERT-class SFI student
        name = (d.student or d.teacher).name if parent is not None and parent.stage == "distill" else "hubert"
        rates = sorted(corpus.train)
        weights = [corpus.train[r] for r in rates]
    else:
        name, sfi, rates, weights = b.teacher.name, None, [16000], [1]  # resampled: the model sees 16 kHz
    kind = _arch_kind(name)
    if kind is None:
        return None
    return {"stage": stage, "backbone": b.kind, "arch": tiny_arch(kind, size), "teacher_arch": None, "sfi": sfi,
            "ratings_per_pass": report.ratings_per_pass(cfg, corpus.ratings_per_clip), "rates": rates,
            "rate_weights": weights}
