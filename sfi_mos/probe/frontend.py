"""Front-end diagnostics: how much of the SFI layer's analog response lies above 8 kHz.

    share(filter) = sum_{8 kHz < f <= 24 kHz} |H(f)|^2 / sum_{0 <= f <= 24 kHz} |H(f)|^2

on a uniform 25 Hz grid (``SFIConv1d.analog_response``), averaged over the layer's filters. A layer
that resamples to 16 kHz in effect has share 0; a 48 kHz-native filter bank spread evenly over
0-24 kHz has 2/3. Stages of one SFI model (``trajectory``): the teacher-fitted (or random)
initialisation (``sfi_init.pt`` of the distill run), after distillation (``student.pt``), after MOS
pre-training and after fine-tuning (``best.pt`` of the pretrain / fine-tune runs).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..mos.checkpoint import load_run
from ..sfi import SFIConv1d
from ..ssl import SFIStudent

SPLIT_HZ = 8000.0
TOP_HZ = 24000.0
GRID_HZ = 25.0
SFI_INIT = "sfi_init.pt"  # written by the distill stage (sfi_mos.train.distill.SFI_INIT)


@torch.no_grad()
def highband_shares(layer, split_hz: float = SPLIT_HZ, top_hz: float = TOP_HZ) -> np.ndarray:
    """Per-filter share of response energy in (split_hz, top_hz] of an ``SFIConv1d``."""
    f = torch.linspace(0.0, top_hz, int(round(top_hz / GRID_HZ)) + 1)
    e = layer.analog_response(f).abs().pow(2).reshape(-1, len(f)).double().cpu()
    tot = e.sum(1)
    return (e[:, f > split_hz].sum(1) / tot.clamp(min=1e-300)).numpy()


def share_summary(layer) -> dict[str, float]:
    s = highband_shares(layer)
    return {"mean": float(np.mean(s)), "median": float(np.median(s)), "p90": float(np.percentile(s, 90)),
            "n_filters": int(len(s))}


def sfi_layer(model) -> Any | None:
    """The SFI layer of a ``MOSModel``, its ``Backbone`` or an ``SFIStudent`` (None for other front ends)."""
    model = getattr(model, "backbone", model)  # MOSModel -> Backbone
    model = getattr(model, "model", model) if not isinstance(model, SFIStudent) else model  # -> the SSL net
    return model.sfi if isinstance(model, SFIStudent) else None


def trajectory(distill_dir: str | Path | None, pretrain_dir: str | Path | None,
               finetuned: Sequence[Any]) -> dict[str, Any] | None:
    """Energy share at each stage of one SFI cell; ``finetuned`` are its loaded fold MOS models.

    Stages whose files are absent (a run from before ``sfi_init.pt`` existed, no pre-training) are
    reported as None with the reason."""
    layers = [sfi_layer(m) for m in finetuned]
    if not layers or any(layer is None for layer in layers):
        return None
    out: dict[str, Any] = {"split_hz": SPLIT_HZ, "top_hz": TOP_HZ, "stages": {}, "missing": {}}
    if distill_dir is not None:
        init = Path(distill_dir) / SFI_INIT
        if init.exists():
            out["stages"]["init"] = share_summary(SFIConv1d.from_export(torch.load(init, weights_only=True)))
        else:
            out["missing"]["init"] = f"{init} not found (distill run made before it was saved)"
        out["stages"]["distilled"] = share_summary(SFIStudent.load(Path(distill_dir) / "student.pt").sfi)
    if pretrain_dir is not None:
        out["stages"]["pretrained"] = share_summary(sfi_layer(load_run(pretrain_dir)[0]))
    folds = [share_summary(layer) for layer in layers]
    out["stages"]["finetuned"] = {k: float(np.mean([f[k] for f in folds])) for k in ("mean", "median", "p90")}
    out["stages"]["finetuned"]["n_filters"] = folds[0]["n_filters"]
    out["finetuned_per_fold"] = [f["mean"] for f in folds]
    return out
