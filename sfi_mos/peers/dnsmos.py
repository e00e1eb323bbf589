"""DNSMOS (Reddy et al., ICASSP 2022) through the ``speechmos`` package's bundled ONNX models.

Scores: P.808 MOS (``model_v8.onnx``) and the P.835 overall quality OVRL (``sig_bak_ovr.onnx``, with
the package's polynomial mapping), each averaged over 9.01 s windows (shorter clips are looped by
the package, as in Microsoft's reference script).
"""
from __future__ import annotations

import os

import numpy as np

from .base import PEER_RATE, Peer, missing, to_rate


class DNSMOS(Peer):
    name = "dnsmos"
    score_names = ("DNSMOS-P808", "DNSMOS-OVRL")

    def __init__(self):
        try:
            from speechmos import dnsmos as mod
        except ImportError as e:
            raise missing("DNSMOS (speechmos, onnxruntime, librosa)", e) from None
        here = os.path.dirname(os.path.abspath(mod.__file__))
        self._model = mod.DNSMOS(os.path.join(here, "dnsmos_models", "sig_bak_ovr.onnx"),
                                 os.path.join(here, "dnsmos_models", "model_v8.onnx"))

    def scores(self, wave: np.ndarray, fs: int) -> dict[str, float]:
        x = np.clip(to_rate(wave, fs), -1.0, 1.0).astype(np.float32)  # the package refuses |x| > 1
        res = self._model(x, PEER_RATE, False)
        return {"DNSMOS-P808": float(res["p808_mos"]), "DNSMOS-OVRL": float(res["ovrl_mos"])}
