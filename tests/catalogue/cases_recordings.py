"""Issue 21, class 8: real recordings. Stereo and multichannel files (44.1/48 kHz) are predicted by
default, mixed to mono (``--channel N`` takes one channel; the authors' demo.py flattens the channels
end to end instead, see docs/predict_inputs.md); corpus readers read them too. An error names what was
given and what was expected: a predict, score or distill run given as ``--model`` says so."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .builders import make_track3, track3_name
from .cases_predict import _clips, _model
from .harness import Case, Setup, shared

P, D = "sfi_mos.predict", "sfi_mos.data"


def _voice(sr: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    f0 = 120 + 40 * seed
    return (0.3 * np.sin(2 * np.pi * f0 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
            + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def _stereo(tmp: Path, sr: int = 48000, channels: int = 2) -> np.ndarray:
    """rec/take.wav with different channels, and the mono files the suite should read it as."""
    x = np.stack([_voice(sr, 1.0, k) for k in range(channels)], axis=1)
    (tmp / "rec").mkdir(parents=True, exist_ok=True)
    (tmp / "mono").mkdir(parents=True, exist_ok=True)
    sf.write(tmp / "rec" / "take.wav", x, sr, subtype="FLOAT")
    sf.write(tmp / "mono" / "mix.wav", x.mean(axis=1), sr, subtype="FLOAT")
    for k in range(channels):
        sf.write(tmp / "mono" / f"ch{k}.wav", x[:, k], sr, subtype="FLOAT")
    return x


def _same_pred(a: str, b: str):
    def check(r) -> None:
        df = pd.read_csv(r.tmp / "preds.csv").set_index("utt_id")["pred"]
        assert abs(df[a] - df[b]) < 1e-4, df
    return check


def _stereo_mixed(tmp: Path) -> Setup:
    _stereo(tmp)
    return Setup([P, "--model", _model(tmp), "rec/take.wav", "mono/mix.wav", "--out", "preds.csv"],
                 check=_same_pred("take", "mix"))


def _stereo_channel_one(tmp: Path) -> Setup:
    _stereo(tmp)
    return Setup([P, "--model", _model(tmp), "rec/take.wav", "mono/ch1.wav", "--out", "preds.csv", "--channel", "1"],
                 check=_same_pred("take", "ch1"))


def _six_channels(tmp: Path) -> Setup:
    _stereo(tmp, 44100, 6)
    return Setup([P, "--model", _model(tmp), "rec/take.wav", "mono/mix.wav", "--out", "preds.csv"],
                 check=_same_pred("take", "mix"))


def _channel_out_of_range(tmp: Path) -> Setup:
    _stereo(tmp)
    return Setup([P, "--model", _model(tmp), "rec/take.wav", "mono/ch0.wav", "--out", "preds.csv", "--channel", "2"],
                 names=("take.wav", "--channel 2", "2 channel"), present=("preds.csv", "preds.errors.csv"))


def _run_of(stage: str):
    def setup(tmp: Path) -> Setup:
        src = sorted(p for p in (shared("smoke") / "results" / "smoke" / stage).iterdir() if p.is_dir())[0]
        (tmp / "results" / stage).mkdir(parents=True)
        shutil.copytree(src, tmp / "results" / stage / src.name, ignore=shutil.ignore_patterns("ckpt", "*.pt"))
        clips = _clips(tmp)
        return Setup([P, "--model", f"results/{stage}/{src.name}", *clips, "--out", "preds.csv"],
                     names=(src.name, f"{stage} run", "finetune"), absent=("preds.csv",))
    return setup


def _finished_without_best_pt(tmp: Path) -> Setup:
    run = _model(tmp)
    (tmp / run / "best.pt").unlink()
    return Setup([P, "--model", run, *_clips(tmp), "--out", "preds.csv"], names=("best.pt", "finished"),
                 absent=("preds.csv",))


def _track3_stereo_clip(tmp: Path) -> Setup:
    make_track3(tmp / "t3", n_sys=2, n_utt=2, n_lis=3, n_eval=1)
    wav = tmp / "t3" / "DATA" / "wav" / f"{track3_name('16k', 1, 1)}.wav"
    x, sr = sf.read(wav, dtype="float32")
    sf.write(wav, np.stack([x, x[::-1]], axis=1), sr)
    return Setup([D, "track3", "t3", "--check-audio", "full"], check=lambda r: _has(r.stdout, '"utterances"'))


def _has(text: str, what: str) -> None:
    assert what in text, text[-2000:]


CASES = [
    Case("recordings/predict-stereo-mixed-to-mono", _stereo_mixed, code=0, outcome="handled"),
    Case("recordings/predict-stereo-channel-1", _stereo_channel_one, code=0, outcome="handled"),
    Case("recordings/predict-six-channels-44k", _six_channels, code=0, outcome="handled"),
    Case("recordings/predict-channel-out-of-range", _channel_out_of_range, code=1),
    Case("recordings/predict-model-is-a-predict-run", _run_of("predict")),
    Case("recordings/predict-model-is-a-score-run", _run_of("score")),
    Case("recordings/predict-model-is-a-distill-run", _run_of("distill")),
    Case("recordings/predict-model-finished-without-best-pt", _finished_without_best_pt),
    Case("recordings/data-track3-stereo-clip-read", _track3_stereo_clip, code=0, outcome="handled"),
]
