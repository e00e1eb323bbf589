"""DNSMOS (Reddy et al., ICASSP 2022) through the ``speechmos`` package's bundled ONNX models.

Scores: P.808 MOS (``model_v8.onnx``) and the P.835 overall quality OVRL (``sig_bak_ovr.onnx``, with
the package's polynomial mapping), each averaged over 9.01 s windows (shorter clips are looped by
the package, as in Microsoft's reference script).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from .base import PEER_RATE, Peer, missing, to_rate


class DNSMOS(Peer):
    name = "dnsmos"
    score_names = ("DNSMOS-P808", "DNSMOS-OVRL")

    def __init__(self):
        try:
            from speechmos import dnsmos as mod  # optional extra (peers): missing -> NotInstalled
        except ImportError as e:
            raise missing("DNSMOS (speechmos, onnxruntime, librosa)", e) from None
        import onnxruntime as ort  # optional extra (peers); speechmos above already needed it

        here = os.path.dirname(os.path.abspath(mod.__file__))
        paths = [os.path.join(here, "dnsmos_models", f) for f in ("sig_bak_ovr.onnx", "model_v8.onnx")]
        self._model = mod.DNSMOS(*paths)
        # the package's sessions take every core; a stage job gets torch's thread budget (faster on
        # shared cores than contending threads), so rebuild them with it
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = torch.get_num_threads(), 1
        self._model.onnx_sess, self._model.p808_onnx_sess = (ort.InferenceSession(p, opts) for p in paths)

    def scores(self, wave: np.ndarray, fs: int) -> dict[str, float]:
        x = np.clip(to_rate(wave, fs), -1.0, 1.0).astype(np.float32)  # the package refuses |x| > 1
        res = self._model(x, PEER_RATE, False)
        return {"DNSMOS-P808": float(res["p808_mos"]), "DNSMOS-OVRL": float(res["ovrl_mos"])}
