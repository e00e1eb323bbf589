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
import pandas as pd
import torch
from tqdm import tqdm

from ..data import MIN_SECONDS, audio_info, read_audio
from ..errors import InputError
from ..mos.authors_format import DEFAULT_LISTENERS, load_authors
from ..mos.checkpoint import load_run
from ..mos.head import to_mos
from ..resume import Memo, no_store
from ..rundir import DONE, is_done
from .inputs import CHUNK_SECONDS, unique_ids
from .models import check_mos_run

MIN_RATE, MAX_RATE = 8000, 96000


def is_resource_error(e: BaseException) -> bool:
    """Out of memory (host or GPU): the clip is too large for this machine, not a bug."""
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(e).lower()
    return isinstance(e, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                            or "cannot allocate memory" in text)


def resource_message(e: BaseException) -> str:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    return f"out of memory while predicting this file ({type(e).__name__}: {first}); predict it alone, on a " \
           "larger machine, or with a smaller --chunk-seconds"


def check_rate(sample_rate: int, where: str) -> int:
    sr = int(sample_rate)
    if not MIN_RATE <= sr <= MAX_RATE:
        raise InputError(where, f"sampling rate {sr} Hz outside the supported {MIN_RATE}-{MAX_RATE} Hz")
    return sr


def resolve_device(device: str | torch.device | None, where: str = "device") -> torch.device:
    """``None`` -> cuda when available, else cpu; a device that is not there is an InputError."""
    if device is None or device == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InputError(where, f"not a device: {device!r} ({e}); use cpu or cuda[:N]") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise InputError(where, f"{device!r} asked for, but no CUDA GPU is available here; use cpu")
        if dev.index is not None and dev.index >= n:
            raise InputError(where, f"{device!r} asked for, but there are only {n} CUDA GPU(s)")
    elif dev.type != "cpu":
        raise InputError(where, f"unsupported device {device!r}; use cpu or cuda[:N]")
    return dev


class Predictor:
    def __init__(self, models: Sequence[tuple[torch.nn.Module, Sequence[int]]], device=None):
        if not models:
            raise InputError("models", "no model given")
        self.device = resolve_device(device)
        self.models = [(m.to(self.device).eval(), list(lis)) for m, lis in models]

    @classmethod
    def from_runs(cls, *run_dirs: str | os.PathLike, device=None) -> "Predictor":
        """One or more finished pretrain/finetune run dirs (e.g. the k fold models)."""
        if len(run_dirs) == 1 and isinstance(run_dirs[0], (list, tuple)):
            run_dirs = tuple(run_dirs[0])
        device = resolve_device(device)  # before minutes of loading
        models = []
        for d in run_dirs:
            if not Path(d).is_dir():
                raise InputError(str(d), "no such run dir")
            check_mos_run(d)  # a distill or predict run is named for what it is
            if not is_done(d):  # best.pt of a run still training (or killed): not the final model
                raise InputError(str(d), f"unfinished run (no {DONE}); finish it (rerun run_all) or pick "
                                         "a finished run dir")
            model, meta = load_run(Path(d))
            models.append((model, meta["train_listeners"]))
        return cls(models, device=device)

    @classmethod
    def from_authors(cls, ckpt: str | os.PathLike, ssl: str | os.PathLike | None = None,
                     listeners: Sequence[int] | None = None, device=None) -> "Predictor":
        """The authors' Lightning checkpoint (``sfi_mos.mos.authors_format``), scored as their demo.py
        does (listener ids 1-10 unless ``listeners``), in MOS units."""
        device = resolve_device(device)
        model = load_authors(ckpt, ssl)
        lis = list(DEFAULT_LISTENERS if listeners is None else listeners)
        n = model.model.head.n_listeners
        bad = [i for i in lis if not 0 <= int(i) < n]
        if not lis or bad:
            raise InputError("--listeners", f"listener ids must be 0..{n - 1} (the checkpoint's table), got {bad or lis}")
        return cls([(model, lis)], device=device)

    def _rate(self, sample_rate: int, where: str) -> int:
        """``check_rate``, and the rates a model itself refuses (the authors' SR embedding)."""
        sr = check_rate(sample_rate, where)
        for model, _ in self.models:
            if hasattr(model, "check_rate"):
                model.check_rate(sr, where)
        return sr

    @staticmethod
    def _batches(keys: Sequence[tuple[int, int]], batch_size: int) -> list[list[int]]:
        """Index batches of one rate and similar lengths (less padding; results do not depend on it)."""
        if batch_size < 1:
            raise InputError("batch_size", f"must be >= 1, got {batch_size}")
        batches, cur = [], []
        for i in sorted(range(len(keys)), key=lambda i: (keys[i][0], keys[i][1], i)):
            if cur and (len(cur) == batch_size or keys[cur[0]][0] != keys[i][0]):
                batches.append(cur)
                cur = []
            cur.append(i)
        return batches + ([cur] if cur else [])

    @torch.no_grad()
    def _score(self, waves: Sequence[np.ndarray], sr: int) -> np.ndarray:
        wavs = [torch.as_tensor(np.asarray(w, dtype=np.float32)).to(self.device) for w in waves]
        norm = torch.zeros(len(wavs), dtype=torch.float64)
        for model, listeners in self.models:
            norm += model.predict_norm(wavs, sr, listeners).double().cpu()
        return to_mos(norm / len(self.models)).numpy()

    @torch.no_grad()
    def _score_chunked(self, path, sr: int, frames: int, chunk: int, channel: int | None) -> float:
        """One long file in ``ceil(frames / chunk)`` equal chunks, read one at a time: per model and
        listener the chunks' frame means are pooled by their frame counts, then tanh, as for one clip."""
        n = -(-frames // chunk)
        bounds = np.linspace(0, frames, n + 1).round().astype(int)
        sums = [torch.zeros(len(lis), dtype=torch.float64) for _, lis in self.models]
        count = [0] * len(self.models)
        for a, b in zip(bounds[:-1], bounds[1:]):
            wav = torch.as_tensor(read_audio(path, expected_sr=sr, start=int(a), stop=int(b), channel=channel,
                                             min_samples=0)[0]).to(self.device)
            for k, (model, lis) in enumerate(self.models):
                means, n_frames = model.frame_means([wav], sr, lis)
                sums[k] += means[0].double().cpu() * int(n_frames[0])
                count[k] += int(n_frames[0])
        norm = sum(torch.tanh(s / c).mean() for s, c in zip(sums, count)) / len(self.models)
        return float(to_mos(norm))

    def predict_waves(self, waves: Sequence[np.ndarray], rates: Sequence[int], batch_size: int = 8,
                      progress: bool = False, memo: Memo = no_store) -> np.ndarray:
        """MOS (1-5) for each (samples, rate) pair, in input order. ``memo`` (``sfi_mos.resume``) keeps
        each batch's predictions, so a stage killed half-way predicts only the batches it had left."""
        for k, (w, sr) in enumerate(zip(waves, rates)):
            check_length(len(w), self._rate(sr, f"input {k}"), f"input {k}")
        out = np.full(len(waves), np.nan)
        batches = self._batches([(int(r), len(w)) for w, r in zip(waves, rates)], batch_size)
        for j, idx in enumerate(tqdm(batches, desc="predict", disable=not progress)):
            out[idx] = memo(f"batch{j:06d}-of-{len(batches)}",
                            lambda idx=idx: self._score([waves[i] for i in idx], int(rates[idx[0]])).tolist())
        return out

    def predict_files(self, paths: Sequence[str | os.PathLike], batch_size: int = 8,
                      progress: bool = False, ids: Sequence[str] | None = None, channel: int | None = None,
                      chunk_seconds: float = CHUNK_SECONDS) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(predictions ``utt_id,path,sample_rate,pred`` in input order, errors ``path,error``).

        Headers are checked first and audio is read one batch at a time, so a large folder never sits
        in memory and one bad file costs only its own row; so does a file that runs out of memory.
        Several channels are mixed to mono, or ``channel`` is taken. Files longer than
        ``chunk_seconds`` (0: never) are predicted in chunks (:meth:`_score_chunked`). ``ids``: one
        utterance id per path (default: the file stem, or the path where stems clash; see
        ``inputs.unique_ids``)."""
        ids = list(ids) if ids is not None else unique_ids([Path(p) for p in paths])
        if len(ids) != len(paths) or len(set(ids)) != len(ids):
            raise InputError("ids", "need one unique utterance id per path")

        infos, errors = {}, {}
        for i, p in enumerate(paths):
            try:
                info = audio_info(p, channel=channel)
                infos[i] = (self._rate(info.sample_rate, str(p)), info.frames)
            except InputError as e:
                errors[i] = e.problem
        preds: dict[int, float] = {}
        long = [i for i in sorted(infos) if chunk_seconds > 0 and infos[i][1] > chunk_seconds * infos[i][0]]
        ok = [i for i in sorted(infos) if i not in set(long)]
        for idx in tqdm(self._batches([infos[i] for i in ok], batch_size), desc="predict", disable=not progress):
            members, waves = [], []
            for j in idx:
                i = ok[j]
                try:
                    waves.append(read_audio(paths[i], expected_sr=infos[i][0], channel=channel)[0])
                    members.append(i)
                except InputError as e:  # header fine, samples not (truncated, NaN)
                    errors[i] = e.problem
                except MemoryError as e:
                    errors[i] = resource_message(e)
            if members:
                self._score_batch(members, waves, infos[members[0]][0], preds, errors)
        for i in tqdm(long, desc="predict long files", disable=not progress or not long):
            sr = infos[i][0]
            try:
                preds[i] = self._score_chunked(paths[i], sr, infos[i][1], int(round(chunk_seconds * sr)), channel)
            except InputError as e:
                errors[i] = e.problem
            except Exception as e:
                if not is_resource_error(e):
                    raise
                errors[i] = resource_message(e)
        done = [i for i in sorted(infos) if i in preds]
        df = pd.DataFrame({"utt_id": [ids[i] for i in done], "path": [str(paths[i]) for i in done],
                           "sample_rate": [infos[i][0] for i in done], "pred": [preds[i] for i in done]})
        err = pd.DataFrame({"path": [str(paths[i]) for i in sorted(errors)],
                            "error": [errors[i] for i in sorted(errors)]})
        return df, err

    def _score_batch(self, members: list[int], waves: list[np.ndarray], sr: int, preds: dict, errors: dict) -> None:
        """Score one batch; when it runs out of memory, each clip again alone, so only the clip that
        cannot fit loses its row."""
        try:
            preds.update(zip(members, self._score(waves, sr)))
            return
        except Exception as e:
            if not is_resource_error(e):
                raise
            if len(members) == 1:
                errors[members[0]] = resource_message(e)
                return
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        for i, w in zip(members, waves):
            self._score_batch([i], [w], sr, preds, errors)

    def predict(self, inputs: Sequence, sample_rate: int | Sequence[int] | None = None,
                batch_size: int = 8, progress: bool = False) -> np.ndarray:
        """``inputs``: wav paths, or 1-D arrays with ``sample_rate`` (one int or one per array)."""
        if isinstance(inputs, (str, os.PathLike, np.ndarray, torch.Tensor)):
            inputs = [inputs]
        waves, rates = [], []
        for k, x in enumerate(inputs):
            if isinstance(x, (str, os.PathLike)):
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


def check_length(n: int, sample_rate: int, where: str) -> None:
    need = int(np.ceil(MIN_SECONDS * sample_rate - 1e-9))
    if n < need:
        raise InputError(where, f"{n} samples at {sample_rate} Hz is shorter than the model's receptive field "
                                f"({need} samples)")
