"""MOS training data: one item per clip carrying all of its (listener, rating) pairs, or one item per
rating (``rating_rows``: the authors' dataset rows, the default batching).

Batches hold one sampling rate (the SFI layer is set per batch) and their order is a pure function of
(seed, epoch), so a resumed run replays exactly the batches an uninterrupted run would have seen.
Training batch sizes count rating rows, as the paper's do (its rows are ratings): with ``grouped``
batching whole utterances are packed up to ``batch_size`` ratings; an optimiser step covers
``batch_size * grad_accum`` ratings either way.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..data import read_audio
from ..errors import InputError
from .head import to_norm


@dataclass(frozen=True)
class Utterance:
    utt_id: str
    wav_path: str
    sample_rate: int
    system_id: str
    split: str
    listener_ids: tuple[int, ...]
    ratings: tuple[float, ...]

    @property
    def mos(self) -> float:
        return float(np.mean(self.ratings))


def group_ratings(ratings: pd.DataFrame) -> list[Utterance]:
    """Per-rating rows (sfi_mos.data columns) -> utterances sorted by utt_id."""
    need = {"utt_id", "wav_path", "sample_rate", "system_id", "listener_id", "rating", "split"}
    missing = need - set(ratings.columns)
    if missing:
        raise InputError("ratings", f"missing columns {sorted(missing)}")
    df = ratings.sort_values(["utt_id", "listener_id"], kind="stable")
    utt = df["utt_id"].astype(str).to_numpy()
    starts = np.flatnonzero(np.r_[True, utt[1:] != utt[:-1]]) if len(utt) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(utt)]
    cols = {c: df[c].to_numpy() for c in ("wav_path", "sample_rate", "system_id", "split", "listener_id", "rating")}
    return [Utterance(utt[a], str(cols["wav_path"][a]), int(cols["sample_rate"][a]), str(cols["system_id"][a]),
                      str(cols["split"][a]), tuple(int(v) for v in cols["listener_id"][a:b]),
                      tuple(float(v) for v in cols["rating"][a:b]))
            for a, b in zip(starts.tolist(), ends.tolist())]


BATCHINGS = ("rows", "grouped")


def rating_rows(items: list[Utterance]) -> list[Utterance]:
    """One item per rating (the authors' dataset rows: wav, listener, score), in utterance order."""
    return [Utterance(u.utt_id, u.wav_path, u.sample_rate, u.system_id, u.split, (lid,), (r,))
            for u in items for lid, r in zip(u.listener_ids, u.ratings)]


def epoch_batches(items: list[Utterance], batch_size: int, seed: int, epoch: int, shuffle: bool = True,
                  by_ratings: bool = False) -> list[list[int]]:
    """Index batches, each of a single sampling rate; order depends only on (seed, epoch).

    ``by_ratings``: ``batch_size`` counts rating rows (the paper's unit) and whole utterances are packed
    while their ratings fit (at least one utterance per batch); otherwise it counts utterances."""
    rng = np.random.default_rng([seed, epoch])
    by_rate: dict[int, list[int]] = {}
    for i, u in enumerate(items):
        by_rate.setdefault(u.sample_rate, []).append(i)
    sizes = {len(u.ratings) if by_ratings else 1 for u in items}
    uniform = sizes.pop() if len(sizes) == 1 else None  # every item the same size (e.g. rating rows)
    batches = []
    for rate in sorted(by_rate):
        idx = np.array(by_rate[rate])
        if shuffle:
            idx = idx[rng.permutation(len(idx))]
        if uniform is not None:  # then packing is chunking (the same batches as the loop below, faster)
            k = max(1, batch_size // uniform)
            batches += [idx[i:i + k].tolist() for i in range(0, len(idx), k)]
            continue
        cur: list[int] = []
        size = 0
        for i in idx.tolist():
            n = len(items[i].ratings) if by_ratings else 1
            if cur and size + n > batch_size:
                batches.append(cur)
                cur, size = [], 0
            cur.append(i)
            size += n
        if cur:
            batches.append(cur)
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def uniform_epoch_steps(counts: dict[int, int], per_item: int, batch_size: int, ratings_per_step: int,
                        seed: int, epoch: int) -> int:
    """len(step_groups(...)) of an epoch whose items all hold ``per_item`` ratings (``counts``: items per
    rate), from counts alone: the same random draws as ``epoch_batches`` (a permutation per rate, then
    one of the batches), so it agrees with it exactly, without building the batches (cost estimates)."""
    rng = np.random.default_rng([seed, epoch])
    k = max(1, batch_size // per_item)
    sizes = []
    for rate in sorted(counts):
        rng.permutation(counts[rate])  # the item shuffle: only its draw matters here
        n = counts[rate]
        sizes += [k] * (n // k) + ([n % k] if n % k else [])
    steps, acc = 0, 0
    order = rng.permutation(len(sizes))
    for b, i in enumerate(order):
        acc += sizes[i] * per_item
        if acc >= ratings_per_step or b == len(order) - 1:
            steps, acc = steps + 1, 0
    return steps


def step_groups(items: list[Utterance], batches: list[list[int]], ratings_per_step: int) -> list[tuple[int, int, int]]:
    """(first batch, end batch, ratings) of each optimiser step: batches accumulate until they hold at
    least ``ratings_per_step`` ratings (the paper's effective batch); the epoch's last step may be smaller."""
    sizes = {len(u.ratings) for u in items}
    per_item = sizes.pop() if len(sizes) == 1 else None
    groups, start, acc = [], 0, 0
    for b, idx in enumerate(batches):
        acc += len(idx) * per_item if per_item is not None else sum(len(items[i].ratings) for i in idx)
        if acc >= ratings_per_step or b == len(batches) - 1:
            groups.append((start, b + 1, acc))
            start, acc = b + 1, 0
    return groups


def load_wav(u: Utterance) -> np.ndarray:
    wav, sr = read_audio(u.wav_path, expected_sr=u.sample_rate)
    return wav


def crop(wav: np.ndarray, sample_rate: int, max_seconds: float | None, seed: int, epoch: int,
         utt_id: str) -> np.ndarray:
    """Random crop to ``max_seconds``, seeded per (seed, epoch, utterance) so resume needs no RNG state."""
    if max_seconds is None:
        return wav
    n = int(round(max_seconds * sample_rate))
    if len(wav) <= n:
        return wav
    rng = np.random.default_rng([seed, epoch, zlib.crc32(utt_id.encode())])
    start = int(rng.integers(0, len(wav) - n + 1))
    return wav[start:start + n]


def make_batch(items: list[Utterance], idx: list[int], device: torch.device, *, max_seconds=None,
               seed: int = 0, epoch: int = 0, audio_cache: dict | None = None) -> dict:
    """Tensors for one batch: U clips at one rate, and R = sum of their ratings rows."""
    us = [items[i] for i in idx]
    rates = {u.sample_rate for u in us}
    if len(rates) != 1:
        raise ValueError(f"a batch must hold one sampling rate, got {sorted(rates)}")
    wavs, utt_index, listeners, targets = [], [], [], []
    for k, u in enumerate(us):
        if audio_cache is not None and u.utt_id in audio_cache:
            wav = audio_cache[u.utt_id]
        else:
            wav = load_wav(u)
            if audio_cache is not None:
                audio_cache[u.utt_id] = wav
        wav = crop(wav, u.sample_rate, max_seconds, seed, epoch, u.utt_id)
        wavs.append(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)).to(device))
        utt_index += [k] * len(u.ratings)
        listeners += list(u.listener_ids)
        targets += [to_norm(r) for r in u.ratings]
    return {
        "wavs": wavs,
        "sample_rate": rates.pop(),
        "utt_index": torch.tensor(utt_index, dtype=torch.long, device=device),
        "listener_ids": torch.tensor(listeners, dtype=torch.long, device=device),
        "targets": torch.tensor(targets, dtype=torch.float32, device=device),
    }
