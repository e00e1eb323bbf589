"""Leaderboard rows for an imported model's predictions (e.g. the authors' released checkpoint scored with
``python -m sfi_mos.predict --model authors:CKPT``), labelled as such: computed here from a model that
was not trained here.

``--imported LABEL=PREDS.csv`` takes the predict CSV (``utt_id,path,sample_rate,pred``) joined to the
Track 3 labels of ``--track3 DIR`` (by audio path, else by utterance id), or a CSV that already holds
``mos``, ``system_id`` and ``split`` (a predict stage's ``predictions.csv``).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sfi_mos.errors import InputError

from . import stats as S

SYSTEM = "imported model"
NEEDS = ("utt_id", "pred", "sample_rate")


def _label(spec: str) -> tuple[str, Path]:
    label, sep, path = spec.partition("=")
    return (label, Path(path)) if sep else (Path(spec).stem, Path(spec))


def read(spec: str, track3: str | None) -> tuple[str, pd.DataFrame, str]:
    """(label, labelled predictions utt_id,pred,mos,system_id,sample_rate,split, source path)."""
    label, path = _label(spec)
    if not path.is_file():
        raise InputError(f"--imported {path}", "no such predictions file")
    df = pd.read_csv(path)
    missing = [c for c in NEEDS if c not in df.columns]
    if missing:
        raise InputError(str(path), f"missing columns {missing} (expected sfi_mos.predict output)")
    if not {"mos", "system_id", "split"} <= set(df.columns):
        if track3 is None:
            raise InputError(f"--imported {path}", "unlabelled predictions: pass --track3 DIR to join the labels")
        from sfi_mos.data import read_corpus  # lazy: soundfile and the corpus readers only for --track3

        utts = read_corpus("track3", track3).utterances
        utts = utts[utts.mos.notna()]
        by_path = {str(Path(p).resolve()): i for i, p in zip(utts.index, utts.wav_path)}
        rows = [by_path.get(str(Path(p).resolve())) for p in df["path"]] if "path" in df.columns else [None] * len(df)
        by_id = dict(zip(utts.utt_id.astype(str), utts.index))
        rows = [r if r is not None else by_id.get(str(u)) for r, u in zip(rows, df["utt_id"])]
        keep = [r is not None for r in rows]
        if not any(keep):
            raise InputError(str(path), f"no prediction matches a labelled Track 3 utterance of {track3}")
        lab = utts.loc[[r for r in rows if r is not None], ["utt_id", "mos", "system_id", "split"]].reset_index(drop=True)
        df = pd.concat([df.loc[keep, ["pred", "sample_rate"]].reset_index(drop=True), lab], axis=1)
    return label, df, str(path)


def rows(imported, split: str, bootstrap: int, seed: int) -> list[dict]:
    """One leaderboard row per (label, predictions, source), scored on ``split``."""
    out = []
    for label, df, source in imported:
        sub = df[(df["split"].astype(str) == split) & df["mos"].notna()].reset_index(drop=True)
        if sub.empty:
            raise InputError(source, f"no labelled predictions for split {split!r}")
        rec = S.score(sub, bootstrap, seed)["all"]
        out.append({"system": SYSTEM, "label": label, **{k: v[0] for k, v in rec.items()},
                    **{f"{k}_{e}": v[i] for k, v in rec.items() for i, e in ((1, "lo"), (2, "hi"))},
                    "source": source, "transcription": "computed here from an imported model's predictions",
                    "inferred": "", "note": f"{len(sub)} {split} utterances"})
    return out
