"""BVCC reader (VoiceMOS Challenge 2022 main track; the MOS pre-training corpus).

Layout under ``root``:
    DATA/wav/*.wav                       16 kHz clips, named <sysID>-<utt>.wav
    DATA/sets/TRAINSET, DEVSET, TESTSET  no header; rows sysID,uttID,rating,ignore,listenerinfo
                                         (uttID includes ".wav"); TRAINSET required
    DATA/mydata_system.csv               system_ID,mean  (optional, dataset-wide system MOS)

A real row: ``sys64e2f,sys64e2f-utt9c183cd.wav,4,VDP1ovyrBzg8_1,{}_30-39_bZPQE7w4Zl3g_Female_Valid_1_No``.
The listener info is ``{}_<age range>_<listener id>_<gender>_<...>``; the listener is its third
``_`` field (``bZPQE7w4Zl3g``). Info strings not in that form are used whole as the listener name.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from sfi_mos.data.audio import wav_index
from sfi_mos.data.ratings import (Corpus, check_audio_files, empty_systems, finish_ratings,
                                  per_utterance)
from sfi_mos.data.tables import at, check_unique, parse_numbers, read_rows
from sfi_mos.errors import InputError

SET_FILES = (("TRAINSET", "train"), ("DEVSET", "dev"), ("TESTSET", "test"))
_COLUMNS = ["sysID", "uttID", "rating", "ignore", "listenerinfo"]


def listener_name(info: str) -> str:
    """``{}_30-39_bZPQE7w4Zl3g_Female_...`` -> ``bZPQE7w4Zl3g``; other forms are returned whole."""
    parts = info.split("_")
    if parts[0] == "{}" and len(parts) >= 3 and parts[2]:
        return parts[2]
    return info


def _read_set(path: Path, split: str) -> pd.DataFrame:
    df = read_rows(path, _COLUMNS, header=False)
    if df.empty:  # would silently drop the whole split
        raise InputError(path, "no ratings: the file is empty; restore its rows or remove the file")
    for col in ("sysID", "uttID", "listenerinfo"):
        empty = df[col] == ""
        if empty.any():
            raise InputError(at(path, int(df["line"][empty].iloc[0])), f"empty {col}")
    stems = df["uttID"].map(lambda u: os.path.basename(u[:-4] if u.lower().endswith(".wav") else u))
    # BVCC names are <sysID>-<utt>; a row whose sysID contradicts its file name is corrupt
    prefix = stems.str.split("-", n=1).str[0]
    bad = stems.str.contains("-", regex=False) & (prefix != df["sysID"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(at(path, int(df["line"].iloc[i])),
                         f"sysID {df['sysID'].iloc[i]!r} contradicts uttID {df['uttID'].iloc[i]!r}")
    out = pd.DataFrame({"utt_id": stems, "system_id": df["sysID"],
                        "listener": df["listenerinfo"].map(listener_name),
                        "rating": parse_numbers(df["rating"], df["line"], path),
                        "split": split, "line": df["line"], "file": str(path)})
    check_unique(out, ["utt_id", "listener"], path, "rating (utterance, listener)")
    return out


def read_bvcc(root: str | os.PathLike, check_audio: bool | str = True,
              sample_rate: int | None = 16000) -> Corpus:
    """Read a BVCC-layout corpus into a :class:`Corpus` (splits train/dev/test).

    ``sample_rate``: the rate every clip must have (BVCC is 16 kHz); ``None`` takes each file's
    header rate, which needs ``check_audio``. ``check_audio`` as in :func:`read_track3`.
    """
    root = Path(root).resolve()
    sets = root / "DATA" / "sets"
    if not (root / "DATA").is_dir():
        raise InputError(root, "not a BVCC corpus: DATA/ folder missing")
    if not (sets / "TRAINSET").is_file():
        raise InputError(sets / "TRAINSET", "file not found (BVCC needs DATA/sets/TRAINSET)")
    if sample_rate is None and check_audio is False:
        raise InputError(root, "sample_rate=None needs check_audio to read the rates from the wavs")
    frames = [_read_set(sets / name, split) for name, split in SET_FILES if (sets / name).is_file()]
    ratings = pd.concat(frames, ignore_index=True)

    # one clip in two splits would leak test material into training
    first = ratings.drop_duplicates("utt_id")[["utt_id", "split", "file", "line"]]
    clash = ratings.merge(first, on="utt_id", suffixes=("", "_first"))
    clash = clash[clash["split"] != clash["split_first"]]
    if len(clash):
        r = clash.iloc[0]
        raise InputError(at(r["file"], r["line"]), f"utterance {r['utt_id']!r} is in split "
                         f"{r['split']!r} but already in {r['split_first']!r} "
                         f"({at(r['file_first'], r['line_first'])})")

    wav_dir = root / "DATA" / "wav"
    paths = ratings["utt_id"].map(wav_index(wav_dir))
    if paths.isna().any():
        r = ratings[paths.isna()].iloc[0]
        link = wav_dir / f"{r['utt_id']}.wav"
        if link.is_symlink():
            raise InputError(at(r["file"], r["line"]), f"{link} is a broken symbolic link (points to "
                                                       f"{os.readlink(link)!r})")
        raise InputError(at(r["file"], r["line"]),
                         f"unknown utterance {r['utt_id']!r}: no {r['utt_id']}.wav in {wav_dir}")
    ratings["wav_path"] = paths.astype(str)
    ratings["source"] = "listed in " + ratings["file"] + " line " + ratings["line"].astype(str)
    ratings["sample_rate"] = sample_rate if sample_rate is not None else np.nan
    rates = check_audio_files(ratings, check_audio)
    if sample_rate is None:
        ratings["sample_rate"] = ratings["wav_path"].map(rates)

    ratings, listeners = finish_ratings(ratings, "bvcc")
    utts = per_utterance(ratings)
    return Corpus("bvcc", root, ratings, utts, listeners, _read_systems(root, utts))


def _read_systems(root: Path, utts: pd.DataFrame) -> pd.DataFrame:
    path = root / "DATA" / "mydata_system.csv"
    if not path.is_file():
        return empty_systems()
    df = read_rows(path, ["system_ID", "mean"])
    known = set(utts["system_id"])
    unknown = ~df["system_ID"].isin(known)
    # before the test labels were released the file already listed the test systems
    if unknown.any() and (root / "DATA" / "sets" / "TESTSET").is_file():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(at(path, int(df["line"].iloc[i])),
                         f"unknown system {df['system_ID'].iloc[i]!r}: no utterance of it in the sets")
    out = pd.DataFrame({"system_id": df["system_ID"], "split": "all", "line": df["line"],
                        "mos": parse_numbers(df["mean"], df["line"], path, "system MOS")})
    check_unique(out, ["system_id"], path, "system")
    return out.drop(columns="line").astype({"system_id": object, "split": object})
