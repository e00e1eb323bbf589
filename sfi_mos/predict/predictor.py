"""Load-once Python API: ``Predictor.from_runs(run_dirs).predict(paths or arrays, sample_rate)``.

Scores are averaged over each model's training listeners and over the given (fold) models on the
normalised scale, then mapped to 1-5. Clips are batched by rate; the backbone runs in exact mode and
frames are masked, so a clip's score does not depend on the batch size or on its batch mates.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..errors import InputError
from ..mos.checkpoint import load_run
from ..mos.head import to_mos

MIN_RATE, MAX_RATE = 8000, 96000


def check_rate(sample_rate: int, where: str) -> int:
    sr = int(sample_rate)
    if not MIN_RATE <= sr <= MAX_RATE:
        raise InputError(where, f"sampling rate {sr} Hz outside the supported {MIN_RATE}-{MAX_RATE} Hz")
    return sr


class Predictor:
    def __init__(self, models: Sequence[tuple[torch.nn.Module, Sequence[int]]], device=None):
        if not models:
            raise InputError("models", "no model given")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.models = [(m.to(self.device).eval(), list(lis)) for m, lis in models]

    @classmethod
    def from_runs(cls, *run_dirs: str | os.PathLike, device=None) -> "Predictor":
        """One or more finished pretrain/finetune run dirs (e.g. the k fold models)."""
        if len(run_dirs) == 1 and isinstance(run_dirs[0], (list, tuple)):
            run_dirs = tuple(run_dirs[0])
        models = []
        for d in run_dirs:
            model, meta = load_run(Path(d))
            models.append((model, meta["train_listeners"]))
        return cls(models, device=device)

    @torch.no_grad()
    def predict_waves(self, waves: Sequence[np.ndarray], rates: Sequence[int], batch_size: int = 8,
                      progress: bool = False) -> np.ndarray:
        """MOS (1-5) for each (samples, rate) pair, in input order."""
        if batch_size < 1:
            raise InputError("batch_size", f"must be >= 1, got {batch_size}")
        out = np.full(len(waves), np.nan)
        order = sorted(range(len(waves)), key=lambda i: (int(rates[i]), len(waves[i]), i))
        batches, cur = [], []
        for i in order:  # batches of one rate, similar lengths (less padding, same results)
            if cur and (len(cur) == batch_size or int(rates[cur[0]]) != int(rates[i])):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        for idx in tqdm(batches, desc="predict", disable=not progress):
            sr = int(rates[idx[0]])
            wavs = [torch.as_tensor(np.asarray(waves[i], dtype=np.float32)).to(self.device) for i in idx]
            norm = torch.zeros(len(idx), dtype=torch.float64)
            for model, listeners in self.models:
                norm += model.predict_norm(wavs, sr, listeners).double().cpu()
            out[idx] = to_mos(norm / len(self.models)).numpy()
        return out

    def predict(self, inputs: Sequence, sample_rate: int | Sequence[int] | None = None,
                batch_size: int = 8, progress: bool = False) -> np.ndarray:
        """``inputs``: wav paths, or 1-D arrays with ``sample_rate`` (one int or one per array)."""
        if isinstance(inputs, (str, os.PathLike, np.ndarray, torch.Tensor)):
            inputs = [inputs]
        waves, rates = [], []
        for k, x in enumerate(inputs):
            if isinstance(x, (str, os.PathLike)):
                from ..data import read_audio

                wav, sr = read_audio(x)
            else:
                if sample_rate is None:
                    raise InputError(f"input {k}", "arrays need a sample_rate")
                sr = sample_rate if np.isscalar(sample_rate) else sample_rate[k]
                wav = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
                if wav.ndim != 1:
                    raise InputError(f"input {k}", f"expected a 1-D mono array, got shape {wav.shape}")
                if not np.isfinite(wav).all():
                    raise InputError(f"input {k}", "array contains NaN/inf samples")
            rates.append(check_rate(sr, str(x) if isinstance(x, (str, os.PathLike)) else f"input {k}"))
            waves.append(wav.astype(np.float32, copy=False))
        return self.predict_waves(waves, rates, batch_size=batch_size, progress=progress)
