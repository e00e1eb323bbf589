"""The one tidy representation every corpus reader returns.

``ratings``: one row per individual rating, columns ``RATING_COLUMNS``:
    utt_id, wav_path (absolute), system_id, listener (raw name), listener_id (stable int),
    rating (float 1-5), sample_rate (Hz, int), split ("train"|"dev"|"eval"|"test"), corpus.
``utterances``: one row per (utt_id, split), ``UTT_COLUMNS``; mos = mean rating (NaN for
    unlabelled utterances such as the Track 3 eval list before the answers were released).

The same clip may be rated in two listening tests (Track 3 train and dev: single-rate vs mixed-rate
context); it then has rows in both splits and the split is part of every grouping key.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sfi_mos import atomic
from sfi_mos.data.audio import audio_info, read_audio
from sfi_mos.errors import InputError
from sfi_mos.jsonio import read_json

RATING_COLUMNS = ["utt_id", "wav_path", "system_id", "listener", "listener_id", "rating",
                  "sample_rate", "split", "corpus"]
UTT_COLUMNS = ["utt_id", "wav_path", "system_id", "sample_rate", "split", "mos", "n_ratings",
               "corpus"]
SPLITS = ("train", "dev", "eval", "test")


def assign_listener_ids(listeners: pd.Series, splits: pd.Series) -> dict[str, int]:
    """Stable raw-name -> int map: training listeners first (sorted), then the rest (sorted).

    Putting train listeners first means their ids do not move when dev/eval labels are added
    to a corpus later (e.g. the Track 3 post-evaluation release).
    """
    train = sorted(set(listeners[splits == "train"]))
    rest = sorted(set(listeners) - set(train))
    return {name: i for i, name in enumerate(train + rest)}


def finish_ratings(df: pd.DataFrame, corpus: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Add listener ids and the corpus name, fix dtypes and column order."""
    df = df.reset_index(drop=True)
    mapping = assign_listener_ids(df["listener"], df["split"])
    out = pd.DataFrame({
        "utt_id": df["utt_id"].astype(object),
        "wav_path": df["wav_path"].astype(str).astype(object),
        "system_id": df["system_id"].astype(object),
        "listener": df["listener"].astype(object),
        "listener_id": df["listener"].map(mapping).astype(np.int64),
        "rating": df["rating"].astype(np.float64),
        "sample_rate": df["sample_rate"].astype(np.int64),
        "split": df["split"].astype(object),
        "corpus": corpus,
    })
    out["corpus"] = out["corpus"].astype(object)
    return out[RATING_COLUMNS], mapping


def per_utterance(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per (utt_id, split): MOS = mean of that split's ratings, n_ratings = their count."""
    missing = [c for c in ("utt_id", "wav_path", "system_id", "sample_rate", "split", "rating")
               if c not in ratings.columns]
    if missing:
        raise InputError("ratings table", f"missing column(s) {', '.join(missing)}")
    keys = ["utt_id", "split"]
    g = ratings.groupby(keys, sort=False)
    out = g[["wav_path", "system_id", "sample_rate"]].first()
    out["mos"] = g["rating"].mean().astype(np.float64)
    out["n_ratings"] = g["rating"].size().astype(np.int64)
    out["corpus"] = g["corpus"].first() if "corpus" in ratings.columns else ""
    return out.reset_index()[UTT_COLUMNS]


def unlabelled_utterances(utts: pd.DataFrame, corpus: str) -> pd.DataFrame:
    """Utterances without ratings (mos NaN, n_ratings 0) in the ``UTT_COLUMNS`` layout."""
    out = utts[["utt_id", "wav_path", "system_id", "sample_rate", "split"]].copy()
    out["wav_path"] = out["wav_path"].astype(str)
    out["mos"] = np.nan
    out["n_ratings"] = np.int64(0)
    out["corpus"] = corpus
    return out[UTT_COLUMNS]


def check_audio_files(utts: pd.DataFrame, check_audio: bool | str, where_col: str = "source",
                      rate_col: str | None = "sample_rate") -> dict[str, int]:
    """Check each distinct wav once; returns {wav_path: real rate}.

    ``check_audio``: False (skip), True/"header" (soundfile.info: exists, readable, mono, length,
    rate) or "full" (also decode, catching NaN/inf samples and truncated data).
    """
    if check_audio not in (False, True, "header", "full"):
        raise InputError("check_audio", f"must be False, True, 'header' or 'full', got {check_audio!r}")
    rates: dict[str, int] = {}
    if check_audio is False:
        return rates
    cols = ["wav_path", where_col] + ([rate_col] if rate_col else [])
    for row in utts[cols].drop_duplicates("wav_path").itertuples(index=False):
        path, where = row[0], row[1]
        expected = int(row[2]) if rate_col and pd.notna(row[2]) else None
        if check_audio == "full":
            _, sr = read_audio(path, expected, context=where)
        else:
            sr = audio_info(path, expected, context=where).sample_rate
        rates[str(path)] = sr
    return rates


def empty_systems() -> pd.DataFrame:
    """The ``Corpus.systems`` layout with no rows (corpus ships no system-level MOS file)."""
    return pd.DataFrame({"system_id": pd.Series(dtype=object), "split": pd.Series(dtype=object),
                         "mos": pd.Series(dtype=np.float64)})


@dataclass
class Corpus:
    """A read corpus: per-rating and per-utterance tables plus the listener map."""

    kind: str  # "track3" | "bvcc"
    root: Path
    ratings: pd.DataFrame
    utterances: pd.DataFrame
    listeners: dict[str, int]
    # official system-level MOS shipped with the corpus (Track 3 sys_mix_*.csv, BVCC
    # mydata_system.csv): columns system_id, split, mos; empty when absent
    systems: pd.DataFrame = field(default_factory=lambda: empty_systems())

    @property
    def splits(self) -> list[str]:
        return [s for s in SPLITS if (self.utterances["split"] == s).any()]

    def split_ratings(self, split: str) -> pd.DataFrame:
        return self.ratings[self.ratings["split"] == split].reset_index(drop=True)

    def split_utterances(self, split: str) -> pd.DataFrame:
        return self.utterances[self.utterances["split"] == split].reset_index(drop=True)

    def save_listener_map(self, path: str | os.PathLike) -> None:
        atomic.write_json(path, self.listeners)

    @staticmethod
    def load_listener_map(path: str | os.PathLike) -> dict[str, int]:
        data = read_json(path, what="listener map")
        if not isinstance(data, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                for k, v in data.items()):
            raise InputError(path, "listener map must be a JSON object of name -> integer id")
        if len(set(data.values())) != len(data):
            raise InputError(path, "listener map gives two listeners the same id")
        return data

    def with_listener_map(self, mapping: dict[str, int], extend: bool = False) -> "Corpus":
        """Re-number listeners with a saved map (e.g. the one a trained model used).

        Listeners absent from the map are an error unless ``extend``, which appends them (sorted)
        after the largest id in the map.
        """
        mapping = dict(mapping)
        unknown = sorted(set(self.ratings["listener"]) - set(mapping))
        if unknown and not extend:
            raise InputError(f"{self.root} ({self.kind})",
                             f"{len(unknown)} listener(s) not in the listener map, e.g. {unknown[:3]}")
        nxt = max(mapping.values(), default=-1) + 1
        for i, name in enumerate(unknown):
            mapping[name] = nxt + i
        ratings = self.ratings.copy()
        ratings["listener_id"] = ratings["listener"].map(mapping).astype(np.int64)
        return replace(self, ratings=ratings, listeners=mapping)
