"""Corpus readers: one tidy per-rating table for every corpus (see :mod:`sfi_mos.data.ratings`).

    read_track3(root, eval_root=None)   AudioMOS 2025 Track 3 layout (also the synthetic corpus)
    read_bvcc(root)                     BVCC / VoiceMOS 2022 main-track layout
    read_corpus(kind, root)             dispatch on "track3" | "bvcc"
    UnlabelledAudio(root, crop_seconds, seed)   recursive wav folder with seeded crops
    read_audio(path, expected_sr)       checked mono float32 decoding
"""
from __future__ import annotations

import os

from sfi_mos.data.audio import MIN_SECONDS, AudioInfo, audio_info, rate_from_tag, read_audio
from sfi_mos.data.bvcc import read_bvcc
from sfi_mos.data.ratings import RATING_COLUMNS, SPLITS, UTT_COLUMNS, Corpus, per_utterance
from sfi_mos.data.track3 import Track3Names, read_track3
from sfi_mos.data.unlabelled import UnlabelledAudio
from sfi_mos.errors import InputError

READERS = {"track3": read_track3, "bvcc": read_bvcc}


def read_corpus(kind: str, root: str | os.PathLike, **kwargs) -> Corpus:
    """Read a labelled corpus of layout ``kind`` ("track3" | "bvcc"); kwargs go to the reader."""
    if kind not in READERS:
        hint = " (unlabelled folders: use UnlabelledAudio)" if kind == "folder" else ""
        raise InputError("corpus kind", f"unknown kind {kind!r}; expected one of "
                                        f"{', '.join(READERS)}{hint}")
    return READERS[kind](root, **kwargs)


__all__ = ["MIN_SECONDS", "AudioInfo", "Corpus", "InputError", "RATING_COLUMNS", "READERS",
           "SPLITS", "Track3Names", "UTT_COLUMNS", "UnlabelledAudio", "audio_info",
           "per_utterance", "rate_from_tag", "read_audio", "read_bvcc", "read_corpus",
           "read_track3"]
