"""DistillMOS (Stahl & Gamper, 2025) through the ``distillmos`` package's bundled v7 weights."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import torch

from .base import Peer, missing, to_rate


class DistillMOS(Peer):
    name = "distillmos"
    score_names = ("DistillMOS",)

    def __init__(self):
        try:
            import distillmos  # optional extra (peers): missing -> NotInstalled
        except ImportError as e:
            raise missing("DistillMOS (distillmos, xls-r-sqa)", e) from None
        with contextlib.redirect_stdout(io.StringIO()):  # it prints where the weights came from
            self._model = distillmos.ConvTransformerSQAModel().eval()

    @torch.no_grad()
    def scores(self, wave: np.ndarray, fs: int) -> dict[str, float]:
        x = torch.from_numpy(to_rate(wave, fs))[None]
        return {"DistillMOS": float(self._model(x).reshape(-1)[0])}
