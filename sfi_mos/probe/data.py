"""The probe set as audio in memory: twin clips plus one row per (clean, degraded) pair.

Two sources (``load(kind, root)``):
* ``probe``: the synthetic corpus's probe folder (``DIR/probe``: ``pairs.csv`` + ``wav/``), labels by
  construction included;
* ``track3``: any Track 3 layout corpus (the real one too): every eval clip at >= 24 kHz becomes a
  clean twin and its degraded twins are made in memory with the same kinds and severities
  (``sfi_mos.data.synth.twins``), seeded by the clip name; no labels.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import read_track3
from ..data.audio import read_audio
from ..data.synth import twins
from ..data.synth.plan import rng_for
from ..data.tables import at, read_rows
from ..errors import InputError

PAIR_COLUMNS = ("pair_id", "twin_id", "kind", "severity", "sample_rate", "clean", "degraded")
KINDS = ("probe", "track3")


@dataclass
class ProbeSet:
    clips: dict[str, tuple[np.ndarray, int]]  # utt_id -> (float32 samples, rate)
    pairs: pd.DataFrame  # PAIR_COLUMNS (+ mos_clean, mos_degraded, label_delta when labelled)
    source: str


def read_probe_folder(root: str | os.PathLike) -> ProbeSet:
    root = Path(root)
    path = root / "pairs.csv"
    if not path.is_file():
        raise InputError(str(path), "missing: not a probe folder (generate the corpus with "
                                    "python -m sfi_mos.data.synth, which writes DIR/probe)")
    cols = list(PAIR_COLUMNS) + ["clean_path", "degraded_path"]
    df = read_rows(path, cols)
    extra = [c for c in ("mos_clean", "mos_degraded", "label_delta") if c in pd.read_csv(path, nrows=0).columns]
    labels = read_rows(path, extra) if extra else None
    if df.empty:
        raise InputError(str(path), "no pairs")
    if df["pair_id"].duplicated().any():
        dup = df[df["pair_id"].duplicated()].iloc[0]
        raise InputError(at(path, int(dup["line"])), f"duplicate pair_id {dup['pair_id']!r}")
    clips: dict[str, tuple[np.ndarray, int]] = {}
    rates, sev = [], []
    for r in df.itertuples():
        where = at(path, int(r.line))
        try:
            rate, s = int(r.sample_rate), float(r.severity)
        except ValueError:
            raise InputError(where, f"sample_rate {r.sample_rate!r} / severity {r.severity!r} not numeric") from None
        if not 0.0 < s <= 1.0:
            raise InputError(where, f"severity {s} outside (0, 1]")
        rates.append(rate)
        sev.append(s)
        for utt, rel in ((r.clean, r.clean_path), (r.degraded, r.degraded_path)):
            if utt in clips:
                if clips[utt][1] != rate:
                    raise InputError(where, f"clip {utt!r} listed at {rate} Hz and at {clips[utt][1]} Hz")
                continue
            clips[utt] = read_audio(root / rel, expected_sr=rate, context=where)
    for r, (a, b) in zip(df.itertuples(), [(clips[u][0], clips[v][0]) for u, v in zip(df.clean, df.degraded)]):
        if len(a) != len(b):
            raise InputError(at(path, int(r.line)), f"twins {r.clean!r} and {r.degraded!r} differ in length")
    pairs = df[list(PAIR_COLUMNS)].assign(sample_rate=rates, severity=sev)
    if labels is not None:
        for c in extra:
            pairs[c] = pd.to_numeric(labels[c], errors="coerce").to_numpy()
    return ProbeSet(clips, pairs.reset_index(drop=True), str(root))


def twins_from_track3(root: str | os.PathLike, seed: int = 0) -> ProbeSet:
    """Clean twins = the corpus's labelled eval clips at >= 24 kHz; degraded ones made here."""
    utts = read_track3(root).utterances
    src = utts[(utts.split == "eval") & (utts.sample_rate >= twins.MIN_TWIN_FS)].sort_values("utt_id")
    if src.empty:
        raise InputError(str(root), f"no eval clips at >= {twins.MIN_TWIN_FS} Hz to make probe twins from")
    clips, rows = {}, []
    for u in src.itertuples():
        x, fs = read_audio(u.wav_path, expected_sr=int(u.sample_rate))
        x = x[: twins.fast_length(len(x))]  # fast exact-length FFT splits (a few ms shorter)
        clean = f"{u.utt_id}_clean"
        clips[clean] = (x, fs)
        for kind in twins.KINDS:
            for j, s in enumerate(twins.SEVERITIES):
                name = f"{u.utt_id}_{kind}_s{j + 1}"
                y, _ = twins.apply(kind, x.astype(np.float64), fs, s, rng_for(seed, "twin", name))
                peak = float(np.max(np.abs(y)))
                # the shared low band must stay shared: rescale both twins if the degraded one would clip
                clips[name] = (np.clip(y, -1.0, 1.0).astype(np.float32), fs) if peak <= 1.0 else (
                    (y / peak).astype(np.float32), fs)
                if peak > 1.0:
                    clips[f"{name}:clean"] = ((x / peak).astype(np.float32), fs)
                rows.append({"pair_id": name, "twin_id": u.utt_id, "kind": kind, "severity": s, "sample_rate": fs,
                             "clean": f"{name}:clean" if peak > 1.0 else clean, "degraded": name})
    return ProbeSet(clips, pd.DataFrame(rows, columns=list(PAIR_COLUMNS)), str(root))


def load(kind: str, root: str | os.PathLike, seed: int = 0) -> ProbeSet:
    if kind == "probe":
        return read_probe_folder(root)
    if kind == "track3":
        return twins_from_track3(root, seed)
    raise InputError("probe data", f"unknown kind {kind!r}; expected one of {KINDS}")
