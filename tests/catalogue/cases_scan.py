"""Issue 21, class 2: folder scans never skip in silence. A folder input takes every format soundfile
reads (``.flac``, ``.ogg``, ``.opus``, ``.mp3``, ``.aiff``, upper-case suffixes) and audio under
symbolic links to folders (a link loop ends); audio soundfile cannot decode is an error row; other
files are listed as skipped on stderr and in the errors file; the counts are printed at the end."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .builders import make_track3, write_wav
from .cases_predict import _clips, _model
from .harness import Case, Setup

P, D = "sfi_mos.predict", "sfi_mos.data"


def _tone(sr: int, seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _write(tmp: Path, rel: str, sr: int = 16000, **kw) -> str:
    p = tmp / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    sf.write(p, _tone(sr, seed=len(rel)), sr, **kw)
    return rel


def _predicted(ids: set[str], counts: str | None = None):
    def check(r) -> None:
        df = pd.read_csv(r.tmp / "preds.csv")
        assert set(df["utt_id"]) >= ids, (sorted(df["utt_id"]), ids)
        assert df["pred"].between(1, 5).all(), df
        if counts is not None:
            assert re.search(counts, r.stderr), r.stderr[-2000:]
    return check


def _formats(tmp: Path) -> Setup:
    _clips(tmp, 1)
    _write(tmp, "audio/a.flac")
    _write(tmp, "audio/b.ogg")
    _write(tmp, "audio/c.mp3", format="MP3")
    _write(tmp, "audio/d.opus", 48000, format="OGG", subtype="OPUS")
    _write(tmp, "audio/e.aiff")
    return Setup([P, "--model", _model(tmp), "audio", "--out", "preds.csv"],
                 check=_predicted({"a", "b", "c", "d", "e"}, r"found 6 inputs: predicted 6, failed 0, skipped 0"))


def _upper_case_suffixes(tmp: Path) -> Setup:
    _clips(tmp, 1)
    _write(tmp, "audio/LOUD.WAV", format="WAV")
    _write(tmp, "audio/Take.Flac", format="FLAC")
    return Setup([P, "--model", _model(tmp), "audio", "--out", "preds.csv"], check=_predicted({"LOUD", "Take"}))


def _symlinked_subfolder(tmp: Path) -> Setup:
    _clips(tmp, 1)
    _write(tmp, "elsewhere/session2/far.wav")
    (tmp / "audio" / "s2").symlink_to(tmp / "elsewhere" / "session2", target_is_directory=True)
    return Setup([P, "--model", _model(tmp), "audio", "--out", "preds.csv"], check=_predicted({"far"}))


def _symlink_loop(tmp: Path) -> Setup:
    _clips(tmp, 2)
    (tmp / "audio" / "again").symlink_to(tmp / "audio", target_is_directory=True)  # a loop
    return Setup([P, "--model", _model(tmp), "audio", "--out", "preds.csv"], timeout=120,
                 check=_predicted(set(), r"predicted 2, failed 0, skipped 1"))


def _unreadable_audio_is_an_error(tmp: Path) -> Setup:
    _clips(tmp, 2)
    (tmp / "audio" / "phone.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)
    return Setup([P, "--model", _model(tmp), "audio", "--out", "preds.csv"], names=("phone.m4a", "soundfile"),
                 present=("preds.csv", "preds.errors.csv"), check=_predicted(set(), r"predicted 2, failed 1"))


def _other_files_listed_as_skipped(tmp: Path) -> Setup:
    _clips(tmp, 2)
    (tmp / "audio" / "README.txt").write_text("recorded on 2024-05-01\n")
    (tmp / "audio" / "cover.png").write_bytes(b"\x89PNG\r\n")

    def listed(r) -> None:
        _predicted(set(), r"predicted 2, failed 0, skipped 2")(r)
        assert "skipped: audio/README.txt" in r.stderr and "skipped: audio/cover.png" in r.stderr, r.stderr
        err = pd.read_csv(r.tmp / "preds.errors.csv")
        assert {Path(p).name for p in err["path"]} == {"README.txt", "cover.png"}, err

    return Setup([P, "--model", _model(tmp), "audio", "--out", "preds.csv"], check=listed)


def _data_folder_every_format(tmp: Path) -> Setup:
    write_wav(tmp / "unl" / "a.wav", 48000, seconds=0.3)
    _write(tmp, "unl/b.flac", 48000)
    _write(tmp, "unl/c.ogg", 48000)
    (tmp / "unl" / "notes.txt").write_text("x\n")

    def counted(r) -> None:
        assert '"files": 3' in r.stdout and "skipped 1" in r.stderr, (r.stdout, r.stderr)
        assert "skipped: " in r.stderr and "notes.txt" in r.stderr, r.stderr

    return Setup([D, "folder", "unl"], check=counted)


def _data_folder_symlinked_speaker(tmp: Path) -> Setup:
    write_wav(tmp / "unl" / "p1" / "a.wav", 48000, seconds=0.3)
    write_wav(tmp / "other" / "p2" / "b.wav", 48000, seconds=0.3)
    (tmp / "unl" / "p2").symlink_to(tmp / "other" / "p2", target_is_directory=True)
    (tmp / "unl" / "loop").symlink_to(tmp / "unl", target_is_directory=True)
    return Setup([D, "folder", "unl"], check=lambda r: _has(r.stdout, '"files": 2'))


def _data_folder_m4a_named(tmp: Path) -> Setup:
    write_wav(tmp / "unl" / "a.wav", 48000, seconds=0.3)
    (tmp / "unl" / "b.m4a").write_bytes(b"\x00" * 64)
    return Setup([D, "folder", "unl"], names=("b.m4a", "soundfile"))


def _has(text: str, what: str) -> None:
    assert what in text, text[-2000:]


def _track3_untouched_by_scan(tmp: Path) -> Setup:
    make_track3(tmp / "t3", n_sys=2, n_utt=2, n_lis=3, n_eval=1)
    (tmp / "t3" / "DATA" / "wav" / "notes.txt").write_text("x\n")  # list files name the clips: no scan
    return Setup([D, "track3", "t3"], check=lambda r: _has(r.stdout, '"utterances"'))


CASES = [
    Case("scan/predict-flac-ogg-mp3-opus-aiff", _formats, code=0, outcome="handled"),
    Case("scan/predict-upper-case-suffixes", _upper_case_suffixes, code=0, outcome="handled"),
    Case("scan/predict-symlinked-subfolder", _symlinked_subfolder, code=0, outcome="handled"),
    Case("scan/predict-symlink-loop-ends", _symlink_loop, code=0, outcome="handled"),
    Case("scan/predict-m4a-is-an-error-row", _unreadable_audio_is_an_error, code=1),
    Case("scan/predict-other-files-listed-as-skipped", _other_files_listed_as_skipped, code=0, outcome="handled"),
    Case("scan/data-folder-every-format-counted", _data_folder_every_format, code=0, outcome="handled"),
    Case("scan/data-folder-symlinked-speaker-and-loop", _data_folder_symlinked_speaker, code=0, outcome="handled"),
    Case("scan/data-folder-m4a-named", _data_folder_m4a_named),
    Case("scan/track3-lists-not-a-scan", _track3_untouched_by_scan, code=0, outcome="handled"),
]
