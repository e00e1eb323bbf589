"""Model files of a MOS run: ``best.pt`` (weights + what is needed to rebuild) and ``listeners.json``.

``best.pt`` carries the backbone architecture, so a run dir (or a copy of it on another machine) predicts
without the distill run or teacher checkpoint it was trained from. Only backbones outside the
wav2vec2/HuBERT/WavLM family are rebuilt from ``config.json``'s spec (their source must be reachable).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..atomic import torch_save
from ..config import from_dict
from ..errors import InputError
from ..specs import BackboneSpec
from .backbone import architecture, build_backbone, from_architecture
from .model import MOSModel
from ..jsonio import read_json

BEST = "best.pt"


def save_model(path: str | Path, model: MOSModel, *, train_listeners: list[int], **meta) -> None:
    torch_save(path, {"model": model.state_dict(), "backbone": architecture(model.backbone),
                      "n_listeners": model.head.n_listeners,
                      "condition_sr": model.head.sr is not None, "train_listeners": list(train_listeners),
                      **meta})


def read_backbone_spec(run_dir: str | Path) -> BackboneSpec:
    """The backbone spec a MOS run's ``config.json`` records (only the ``backbone`` key is read)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise InputError(str(path), "not a MOS run dir (no config.json)")
    cfg = read_json(path, shape={"backbone": dict}, what="MOS run config")
    return from_dict(BackboneSpec, cfg["backbone"])


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[MOSModel, dict]:
    """(model in eval mode, best.pt metadata) for a finished pretrain/finetune run dir."""
    run_dir = Path(run_dir)
    path = run_dir / BEST
    if not path.exists():
        if (run_dir / "done.json").exists():
            raise InputError(str(path), "missing from a finished MOS run (done.json is there): the checkpoint "
                                        "was moved or deleted; rerun the run or give another run dir")
        raise InputError(str(path), "no best.pt: the MOS run has not finished an epoch")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(blob, dict) or not {"model", "n_listeners", "condition_sr"} <= set(blob):
            raise ValueError("not a MOS model checkpoint")
    except Exception as e:  # truncated or foreign file: pickle, zip and torch raise many types
        raise InputError(str(path), f"corrupt or not a MOS checkpoint ({type(e).__name__}: {e})") from None
    if blob.get("backbone") is not None:
        backbone = from_architecture(blob["backbone"])
    else:
        backbone = build_backbone(read_backbone_spec(run_dir), run_dir)
    model = MOSModel(backbone, blob["n_listeners"], blob["condition_sr"])
    model.load_state_dict(blob["model"])
    model.to(device).eval()
    return model, {k: v for k, v in blob.items() if k != "model"}


LISTENER_INITS = ("index", "mean")


def init_from_pretrain(model: MOSModel, pretrain_dir: str | Path, listeners: str = "index") -> dict:
    """Load a pretrain run's backbone, MLP and SR embedding into ``model``.

    ``listeners``: ``index`` copies the pre-trained listener rows by index (the authors load the whole
    state dict, so Track 3 listener k starts from BVCC listener k's row); ``mean`` starts every new
    listener from the mean of the pretrained listeners' embeddings (the ids of the two corpora mean
    different people). A model without an SR embedding in pre-training gets a fresh one either way."""
    if listeners not in LISTENER_INITS:
        raise InputError("init_listeners", f"unknown {listeners!r}; expected one of {LISTENER_INITS}")
    src, meta = load_run(pretrain_dir)
    a, b = src.backbone, model.backbone
    if a.native_rate != b.native_rate or a.hidden_size != b.hidden_size:
        raise InputError(str(pretrain_dir), f"pretrain backbone {src.backbone.kind}/{src.backbone.hidden_size} "
                         f"does not match {model.backbone.kind}/{model.backbone.hidden_size}")
    model.backbone.load_state_dict(src.backbone.state_dict())
    model.head.mlp.load_state_dict(src.head.mlp.state_dict())
    if model.head.sr is not None and src.head.sr is not None:
        model.head.sr.load_state_dict(src.head.sr.state_dict())
    if listeners == "index" and src.head.n_listeners > model.head.n_listeners:
        # the whole pre-trained table comes along (the authors' is always 1000 rows)
        model.head.listener = torch.nn.Embedding(src.head.n_listeners, model.head.listener.embedding_dim)
    with torch.no_grad():
        dst = model.head.listener.weight
        if listeners == "index":
            # rows the pre-trained table lacks keep their fresh init, as the never-trained rows of the
            # authors' 1000-row table would (ssl_mos.py l.51-53)
            n = min(dst.shape[0], src.head.listener.weight.shape[0])
            dst[:n].copy_(src.head.listener.weight[:n])
        else:
            seen = torch.tensor(meta["train_listeners"], dtype=torch.long)
            dst.copy_(src.head.listener.weight[seen].mean(0).expand_as(dst))
    return {"init_run": str(pretrain_dir), "init_epoch": meta.get("epoch"), "init_listeners": listeners}
