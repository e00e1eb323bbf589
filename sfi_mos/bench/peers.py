"""``python -m sfi_mos.bench peers``: cost per clip of the offline peers, and where DNSMOS's goes.

* ``per_clip_s`` {peer: seconds} for one 3.6 s clip at 48 kHz (the probe twins' length), through the
  same wrappers the peers stage uses (resampling to 16 kHz included); min of round-robin repeats,
  on ``--threads`` threads (default 1: what a run_all job gets on a 2-core machine).
  ``first_clip_s``: the first call after loading (one-off costs: onnxruntime's first run, librosa's
  numba-compiled helpers, which numba caches on disk after the first process ever).
* ``dnsmos``: the breakdown. ``speechmos`` follows Microsoft's reference script: a clip shorter than
  9.01 s is doubled until it is not (3.6 -> 7.2 -> 14.4 s) and scored in 9.01 s windows every 1 s
  (``windows_per_clip``: 5, i.e. 45 s of audio for a 3.6 s clip), each window through both ONNX
  models. ``per_window_s``: the P.835 model (``sig_bak_ovr``, raw waveform in), the P.808 model and its
  mel spectrogram. ``batched_windows_s``: all windows of a clip in one call per model (what the
  wrapper does; the same scores to float32 rounding) against ``looped_windows_s``, the package's call per window;
  ``package_call_s``: the package's whole ``DNSMOS.__call__`` on the clip, for comparison.
Requires the ``peers`` extra.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .. import peers
from ..data.synth.plan import rng_for
from ..data.synth.texts import HARVARD
from ..data.synth.voice import TIERS, make_speaker, render
from ..peers.base import to_rate
from ..peers.dnsmos import windows
from . import time_interleaved

CLIP_SECONDS = 3.6
RATE = 48000


def add_arguments(p) -> None:
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads (default 1)")


def _clip() -> np.ndarray:
    x = render(HARVARD[3], TIERS["natural"], make_speaker(rng_for(0, "spk")), RATE, rng_for(0, "r"), CLIP_SECONDS)
    x = np.resize(x, int(CLIP_SECONDS * RATE))  # exactly 3.6 s: the window count depends on the length
    return (x * 0.05 / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def dnsmos_breakdown(peer, x: np.ndarray, reps: int) -> dict:
    m = peer._model
    segs = windows(np.clip(to_rate(x, RATE), -1.0, 1.0))
    mels = np.stack([m.audio_melspec(s[:-160]) for s in segs]).astype(np.float32)
    t = time_interleaved({
        "p835_window": lambda: m.onnx_sess.run(None, {"input_1": segs[:1]}),
        "p808_window": lambda: m.p808_onnx_sess.run(None, {"input_1": mels[:1]}),
        "mel_window": lambda: m.audio_melspec(segs[0][:-160]),
        "resample_clip": lambda: to_rate(x, RATE),
        "looped": lambda: [(m.onnx_sess.run(None, {"input_1": s[None]}),
                            m.p808_onnx_sess.run(None, {"input_1": g[None]})) for s, g in zip(segs, mels)],
        "batched": lambda: (m.onnx_sess.run(None, {"input_1": segs}), m.p808_onnx_sess.run(None, {"input_1": mels})),
        "package": lambda: m(np.clip(to_rate(x, RATE), -1.0, 1.0), 16000, False),
        "wrapper": lambda: peer.scores(x, RATE),
    }, reps=reps, warmup=1)
    return {"windows_per_clip": len(segs), "audio_scored_s": round(len(segs) * segs.shape[1] / 16000, 2),
            "per_window_s": {k: t[f"{k}_window"]["min"] for k in ("p835", "p808", "mel")},
            "resample_s": t["resample_clip"]["min"],
            "looped_windows_s": t["looped"]["min"], "batched_windows_s": t["batched"]["min"],
            "package_call_s": t["package"]["min"], "wrapper_s": t["wrapper"]["min"]}


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    x = _clip()
    loaded, first = {}, {}
    for name in peers.NAMES:
        if not peers.versions((name,))[0]:
            continue
        t = time.perf_counter()
        loaded[name] = peers.load(name)
        first[f"{name}_load"] = time.perf_counter() - t
        t = time.perf_counter()
        loaded[name].scores(x, RATE)
        first[name] = time.perf_counter() - t
    if not loaded:
        return {"error": "the peers extra is not installed (pip install -e '.[peers]')"}
    t = time_interleaved({n: (lambda p=p: p.scores(x, RATE)) for n, p in loaded.items()}, reps=args.reps, warmup=0)
    out = {"clip_s": CLIP_SECONDS, "rate": RATE, "threads": args.threads,
           "per_clip_s": {n: v["min"] for n, v in t.items()}, "first_clip_s": first}
    if "dnsmos" in loaded:
        out["dnsmos"] = dnsmos_breakdown(loaded["dnsmos"], x, args.reps)
    return out
