"""DNSMOS (Reddy et al., ICASSP 2022) through the ``speechmos`` package's bundled ONNX models.

Scores: P.808 MOS (``model_v8.onnx``) and the P.835 overall quality OVRL (``sig_bak_ovr.onnx``, with
the package's polynomial mapping), each averaged over 9.01 s windows every 1 s (a shorter clip is
doubled until it is not, as in Microsoft's reference script: a 3.6 s clip is 5 windows, 45 s of audio).

Where the time goes (``python -m sfi_mos.bench peers``): about 95 % in the P.835 model, once per
window; the mel spectrogram, the P.808 model and resampling are the rest. ``scores`` runs the
package's own steps, but all windows of a clip in one call per model (onnxruntime has a batch axis;
the scores equal the package's window-by-window loop to float32 rounding, a test checks), which
saves the per-call overhead (about 7-10 % per clip).
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
        segs = windows(x)
        if segs is None:  # windows of unequal length: the package's own loop
            res = self._model(x, PEER_RATE, False)
            return {"DNSMOS-P808": float(res["p808_mos"]), "DNSMOS-OVRL": float(res["ovrl_mos"])}
        m = self._model
        mels = np.stack([m.audio_melspec(audio=s[:-160]) for s in segs]).astype("float32")
        p808 = m.p808_onnx_sess.run(None, {"input_1": mels})[0][:, 0]
        raw = m.onnx_sess.run(None, {"input_1": segs})[0]
        ovr = [m.get_polyfit_val(sig, bak, ovr, False)[2] for sig, bak, ovr in raw]  # per window, as the package
        return {"DNSMOS-P808": float(np.mean(list(p808))), "DNSMOS-OVRL": float(np.mean(ovr))}


def windows(audio: np.ndarray, fs: int = PEER_RATE) -> np.ndarray | None:
    """The package's windows of one clip (``speechmos.dnsmos.DNSMOS.__call__``: looping, 1 s hop, the
    same index arithmetic), stacked (n, 9.01 s); None when they are not all the same length."""
    from speechmos.dnsmos import INPUT_LENGTH  # optional extra (peers): imported only when DNSMOS runs

    len_samples = int(INPUT_LENGTH * fs)
    while len(audio) < len_samples:
        audio = np.append(audio, audio)
    num_hops = int(np.floor(len(audio) / fs) - INPUT_LENGTH) + 1
    segs = [audio[int(i * fs): int((i + INPUT_LENGTH) * fs)] for i in range(num_hops)]
    segs = [s for s in segs if len(s) >= len_samples]
    if not segs or len({len(s) for s in segs}) != 1:
        return None
    return np.stack(segs).astype("float32")
