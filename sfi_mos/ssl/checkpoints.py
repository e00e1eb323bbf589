"""Random-init wav2vec 2.0 / HuBERT / WavLM checkpoints in s3prl's own file formats.

THESE ARE RANDOMLY INITIALISED, NOT PRETRAINED. No model weights can be downloaded here, so tests
and the embedded default configuration build their teachers from these files; they exist so that
s3prl's real loading path (``S3PRLUpstream("<kind>_local", path_or_url=...)``) is the one that runs.
Any number measured with them says nothing about pretrained SSL models. On a cluster, point
``TeacherSpec`` at real checkpoints (``hubert``, ``wav2vec2``, ``wavlm_base_plus`` or a ``*_local`` path).

Formats (read by ``s3prl.upstream.{wav2vec2,hubert}.convert.load_converted_model`` and
``s3prl.upstream.wavlm.expert``; all values plain Python so ``torch.load(weights_only=True)`` works):

* wav2vec2: ``{"task_cfg", "model_cfg", "model_weight"}``
* hubert:   the same plus ``"dictionaries_symbols"``
* wavlm:    ``{"cfg", "model"}``

Sizes: ``tiny`` = 2 transformer layers, hidden 64, 32 conv channels (0.4 MB files, for tests);
``base`` = the Base architecture (12 layers, 768 hidden, 512 conv channels; ~360 MB each).
Both keep the Base conv geometry (K=10, S=5 first conv; 400-sample field, 320-sample hop).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..atomic import torch_save
from . import arch as archmod

SIZES = ("tiny", "base")
TINY = dict(encoder_layers=2, encoder_embed_dim=64, encoder_ffn_embed_dim=128, encoder_attention_heads=2,
            conv_feature_layers="[(32,10,5)] + [(32,3,2)] * 4 + [(32,2,2)] * 2", final_dim=32,
            conv_pos=16, conv_pos_groups=4, latent_vars=8, latent_groups=2)
BASE = dict(encoder_layers=12)  # every other field: the class defaults = the Base models
WAVLM_EXTRA = dict(relative_position_embedding=True, num_buckets=32, max_distance=128, gru_rel_pos=True)
# Base models use feature_grad_mult 0.1 in pretraining; s3prl sets it to 0 for inference anyway
HUBERT_SYMBOLS = [["<s>", "<pad>", "</s>", "<unk>"] + [str(i) for i in range(8)]]


def tiny_arch(kind: str, size: str = "tiny") -> dict[str, Any]:
    """The arch dict (see ``arch``) of the random-init model of ``kind`` and ``size``."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {SIZES}")
    cfg = dict(TINY if size == "tiny" else BASE)
    if kind == "wav2vec2":
        return {"kind": kind, "model_cfg": cfg, "task_cfg": {"normalize": False}}
    if kind == "hubert":
        return {"kind": kind, "model_cfg": {**cfg, "label_rate": 50.0},
                "task_cfg": {"label_rate": 50.0, "normalize": False},
                "dictionaries_symbols": HUBERT_SYMBOLS}
    if kind == "wavlm":
        wcfg = {k: v for k, v in cfg.items() if k not in ("final_dim", "latent_vars", "latent_groups")}
        return {"kind": kind, "model_cfg": {**wcfg, **WAVLM_EXTRA, "normalize": False}}
    raise ValueError(f"unknown model kind {kind!r}; expected one of {archmod.KINDS}")


def checkpoint_dict(model: torch.nn.Module, arch: dict[str, Any]) -> dict[str, Any]:
    """``model``'s weights in s3prl's checkpoint format for ``arch['kind']``."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if arch["kind"] == "wavlm":
        return {"cfg": dict(arch["model_cfg"]), "model": state}
    out = {"task_cfg": dict(arch["task_cfg"]), "model_cfg": dict(arch["model_cfg"]), "model_weight": state}
    if arch["kind"] == "hubert":
        out["dictionaries_symbols"] = [list(d) for d in arch["dictionaries_symbols"]]
    return out


def write_tiny_checkpoints(out_dir: str | Path, size: str = "tiny", seed: int = 0) -> dict[str, Path]:
    """Write random-init (NOT pretrained) checkpoints of all three kinds, plus a second WavLM
    ("wavlm_base"); returns ``{name: path}``.

    Same ``seed`` -> byte-identical weights. Files are written atomically and only when missing
    (their names carry kind, size and seed), so parallel test sessions can share a directory.
    """
    out_dir = Path(out_dir)
    paths = {}
    # "wavlm_base": a second WavLM, standing in for WavLM Base next to WavLM Base+ (the authors'
    # non-SFI WavLM baseline is not their distillation teacher)
    for i, (name, kind) in enumerate([(k, k) for k in archmod.KINDS] + [("wavlm_base", "wavlm")]):
        arch = tiny_arch(kind, size)
        path = out_dir / f"{name}_{size}_random_seed{seed}.pt"
        paths[name] = path
        if path.exists():
            continue
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 1000 + i)  # the global RNG of the caller is left untouched
            model = archmod.build(arch)
        torch_save(path, checkpoint_dict(model, arch))
    return paths
