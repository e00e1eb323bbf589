"""Shared helpers for the ssl/distill tests: tiny random-init checkpoints and short 48 kHz audio."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

CKPT_SEED = 0


def write_audio_folder(root: Path, n: int = 6, seconds: float = 1.2, sr: int = 48000, seed: int = 0) -> Path:
    """``n`` mono wavs: harmonic tones (varied f0) plus band-limited noise up to ~20 kHz, so every
    rate from 8 to 48 kHz sees different content. Nested folders, like EARS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        f0 = rng.uniform(90, 260)
        x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 40) if f0 * h < 20000)
        noise = np.fft.irfft(np.fft.rfft(rng.standard_normal(len(t))) * (np.fft.rfftfreq(len(t), 1 / sr) < 20000),
                             n=len(t))
        env = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * t)
        y = (0.3 * x / np.max(np.abs(x)) * env + 0.05 * noise).astype(np.float32)
        path = root / f"spk{i % 2}" / f"utt{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y, sr, subtype="FLOAT")
    return root


def unlabelled_folder(tmp: Path) -> Path:
    """Audio for distillation tests (own small files: fast and independent of the corpus generator)."""
    return write_audio_folder(Path(tmp) / "unlabelled")
