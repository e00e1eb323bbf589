"""``python -m sfi_mos.data KIND ROOT``: damaged Track 3 / BVCC / folder corpora and bad ``--json`` paths."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .builders import (inject_bytes, make_bvcc, make_track3, nan_wav, not_utf8, readonly, track3_name, wav_named,
                       truncate_wav, write_lines, write_wav)
from .harness import Case, Setup

M = "sfi_mos.data"
WAV16 = f"DATA/wav/{track3_name('16k', 1, 1)}.wav"


def _t3(tmp: Path) -> Path:
    make_track3(tmp / "t3", n_sys=2, n_utt=2, n_lis=3, n_eval=1)
    return tmp / "t3"


def _folder(tmp: Path, n: int = 3) -> Path:
    for i in range(n):
        write_wav(tmp / "unl" / f"spk{i % 2}" / f"clip{i}.wav", 48000, seconds=0.2, seed=i)
    return tmp / "unl"


# ---- text files: encodings, blank lines, header-only files -------------------------------------
def _label_csv_not_utf8(tmp: Path) -> Setup:
    inject_bytes(_t3(tmp) / "DATA" / "utt_24k.csv", 3)
    return Setup([M, "track3", "t3"], names=("utt_24k.csv", "line 3"))


def _eval_list_not_utf8(tmp: Path) -> Setup:
    inject_bytes(_t3(tmp) / "DATA" / "sets" / "eval_list.txt", 2, b"\xe9")
    return Setup([M, "track3", "t3"], names=("eval_list.txt", "line 2"))


def _sysmap_not_utf8(tmp: Path) -> Setup:
    root = _t3(tmp)
    (root / "sysMap.txt").write_bytes(b"natural|sys1\nnv\xe9|sys2\n")
    return Setup([M, "track3", "t3"], names=("sysMap.txt", "line 2"))


def _bvcc_set_not_utf8(tmp: Path) -> Setup:
    make_bvcc(tmp / "bvcc")
    inject_bytes(tmp / "bvcc" / "DATA" / "sets" / "DEVSET", 2, b"\x96")
    return Setup([M, "bvcc", "bvcc"], names=("DEVSET", "line 2"))


def _blank_lines_keep_line_numbers(tmp: Path) -> Setup:
    root = _t3(tmp)
    name = track3_name("16k", 1, 1)
    write_lines(root / "DATA" / "utt_16k.csv", ["uttID,lisID,rating", "", f"{name},L0,3", "", "",
                                                f"{name},L1,seven", f"{name},L2,4"])
    return Setup([M, "track3", "t3"], names=("utt_16k.csv", "line 6", "seven"))


def _quoted_newline_line_number(tmp: Path) -> Setup:
    root = _t3(tmp)
    name = track3_name("16k", 1, 1)
    # the bad record spans lines 3-4 (a quoted newline): it is reported where it starts
    (root / "DATA" / "utt_16k.csv").write_text(f'uttID,lisID,rating\n{name},L1,3\n{name},"L\n0",0\n')
    return Setup([M, "track3", "t3"], names=("utt_16k.csv", "line 3:"))


def _header_only_label_csv(tmp: Path) -> Setup:
    write_lines(_t3(tmp) / "DATA" / "utt_48k.csv", ["uttID,lisID,rating"])
    return Setup([M, "track3", "t3"], names=("utt_48k.csv",))


def _empty_bvcc_set(tmp: Path) -> Setup:
    make_bvcc(tmp / "bvcc")
    (tmp / "bvcc" / "DATA" / "sets" / "DEVSET").write_text("")
    return Setup([M, "bvcc", "bvcc"], names=("DEVSET",))


def _nan_rating(tmp: Path) -> Setup:
    root = _t3(tmp)
    lines = (root / "DATA" / "utt_24k.csv").read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",nan"
    write_lines(root / "DATA" / "utt_24k.csv", lines)
    return Setup([M, "track3", "t3"], names=("utt_24k.csv", "line 3"))


def _ragged_row(tmp: Path) -> Setup:
    root = _t3(tmp)
    with open(root / "val" / "utt_mix_val.csv", "a") as f:
        f.write("onlyone\n")
    n = len((root / "val" / "utt_mix_val.csv").read_text().splitlines())
    return Setup([M, "track3", "t3"], names=("utt_mix_val.csv", f"line {n}"))


def _duplicate_rating(tmp: Path) -> Setup:
    root = _t3(tmp)
    lines = (root / "DATA" / "utt_16k.csv").read_text().splitlines()
    write_lines(root / "DATA" / "utt_16k.csv", lines + [lines[1]])
    return Setup([M, "track3", "t3"], names=("utt_16k.csv", f"line {len(lines) + 1}"))


def _missing_wav(tmp: Path) -> Setup:
    (_t3(tmp) / WAV16).unlink()
    return Setup([M, "track3", "t3"], names=("utt_16k.csv", "line 2"))


def _dangling_symlink_wav(tmp: Path) -> Setup:
    root = _t3(tmp)
    (root / WAV16).unlink()
    (root / WAV16).symlink_to(tmp / "gone" / "clip.wav")
    return Setup([M, "track3", "t3"], names=("utt_16k.csv", "line 2", "symbolic link"))


# ---- audio: truncated, NaN, stereo ---------------------------------------------------------------
def _truncated_wav_full(tmp: Path) -> Setup:
    truncate_wav(_t3(tmp) / WAV16)
    return Setup([M, "track3", "t3", "--check-audio", "full"], names=(Path(WAV16).name, "truncated"))


def _truncated_wav_header(tmp: Path) -> Setup:
    truncate_wav(_t3(tmp) / WAV16, keep=0.3)
    return Setup([M, "track3", "t3"], names=(Path(WAV16).name, "truncated"))


def _nan_samples_full(tmp: Path) -> Setup:
    root = _t3(tmp)
    nan_wav(root / WAV16, 16000, 0.1)
    return Setup([M, "track3", "t3", "--check-audio", "full"], names=(Path(WAV16).name, "NaN"))


def _stereo_wav(tmp: Path) -> Setup:
    write_wav(_t3(tmp) / WAV16, 16000, channels=2)  # read, mixed to mono (issue 21: real recordings)

    def read(r) -> None:
        assert '"utterances"' in r.stdout, r.stdout[-2000:]

    return Setup([M, "track3", "t3", "--check-audio", "full"], check=read)


# ---- the unlabelled folder -----------------------------------------------------------------------
def _folder_dangling_symlink(tmp: Path) -> Setup:
    root = _folder(tmp)
    (root / "spk0" / "moved.wav").symlink_to(tmp / "elsewhere" / "moved.wav")
    return Setup([M, "folder", "unl"], names=("moved.wav", "symbolic link"))


def _folder_name_not_utf8(tmp: Path) -> Setup:
    root = _folder(tmp)
    wav_named(root / "spk1" / not_utf8("caf.wav"), 48000)

    def counted(r) -> None:
        assert json.loads(r.stdout)["files"] == 4, r.stdout

    return Setup([M, "folder", "unl", "--check-audio", "full"], check=counted)


def _folder_corrupt_not_utf8_name(tmp: Path) -> Setup:
    root = _folder(tmp)
    (root / "spk1" / not_utf8("broken.wav")).write_bytes(b"RIFF....WAVEfmt garbage")
    return Setup([M, "folder", "unl"], names=("broken",))


def _folder_nan_full(tmp: Path) -> Setup:
    root = _folder(tmp)
    nan_wav(root / "spk1" / "bad.wav", 48000, 0.2)
    return Setup([M, "folder", "unl", "--check-audio", "full"], names=("bad.wav", "NaN"))


def _folder_truncated(tmp: Path) -> Setup:
    root = _folder(tmp)
    truncate_wav(root / "spk0" / "clip0.wav")
    return Setup([M, "folder", "unl"], names=("clip0.wav", "truncated"))


def _folder_empty(tmp: Path) -> Setup:
    (tmp / "unl" / "a").mkdir(parents=True)
    return Setup([M, "folder", "unl"], names=("unl",))


# ---- --json and the arguments ---------------------------------------------------------------------
def _json_is_dir(tmp: Path) -> Setup:
    _t3(tmp)
    (tmp / "summary.json").mkdir()
    return Setup([M, "track3", "t3", "--json", "summary.json"], names=("summary.json",))


def _json_parent_is_file(tmp: Path) -> Setup:
    _t3(tmp)
    (tmp / "reports").write_text("x\n")
    return Setup([M, "track3", "t3", "--json", "reports/summary.json"], names=("reports",), unchanged=("reports",))


def _json_readonly(tmp: Path) -> Setup:
    _t3(tmp)
    undo = readonly(tmp / "ro")
    return Setup([M, "track3", "t3", "--json", "ro/summary.json"], names=("ro/summary.json",),
                 absent=("ro/summary.json",), cleanup=undo)


def _eval_root_for_bvcc(tmp: Path) -> Setup:
    make_bvcc(tmp / "bvcc")
    return Setup([M, "bvcc", "bvcc", "--eval-root", "x"], names=("--eval-root",))


def _root_missing(tmp: Path) -> Setup:
    return Setup([M, "track3", "nowhere"], names=("nowhere",))


def _track3_ok_with_json(tmp: Path) -> Setup:
    _t3(tmp)
    os.makedirs(tmp / "out")
    return Setup([M, "track3", "t3", "--json", "out/summary.json"], present=("out/summary.json",))


CASES = [
    Case("data/label-csv-not-utf8", _label_csv_not_utf8),
    Case("data/eval-list-not-utf8", _eval_list_not_utf8),
    Case("data/sysmap-not-utf8", _sysmap_not_utf8),
    Case("data/bvcc-set-not-utf8", _bvcc_set_not_utf8),
    Case("data/blank-lines-keep-line-numbers", _blank_lines_keep_line_numbers),
    Case("data/quoted-newline-line-number", _quoted_newline_line_number),
    Case("data/label-csv-header-only", _header_only_label_csv),
    Case("data/bvcc-set-empty", _empty_bvcc_set),
    Case("data/rating-nan", _nan_rating),
    Case("data/ragged-row", _ragged_row),
    Case("data/duplicate-rating", _duplicate_rating),
    Case("data/missing-wav", _missing_wav),
    Case("data/dangling-symlink-wav", _dangling_symlink_wav),
    Case("data/truncated-wav-full-check", _truncated_wav_full),
    Case("data/truncated-wav-header-check", _truncated_wav_header),
    Case("data/nan-samples-full-check", _nan_samples_full),
    Case("data/stereo-wav-read-as-mono", _stereo_wav, code=0, outcome="handled"),
    Case("data/folder-dangling-symlink", _folder_dangling_symlink),
    Case("data/folder-name-not-utf8", _folder_name_not_utf8, code=0, outcome="handled"),
    Case("data/folder-corrupt-file-name-not-utf8", _folder_corrupt_not_utf8_name),
    Case("data/folder-nan-samples-full-check", _folder_nan_full),
    Case("data/folder-truncated-wav", _folder_truncated),
    Case("data/folder-without-wavs", _folder_empty),
    Case("data/json-is-a-directory", _json_is_dir),
    Case("data/json-parent-is-a-file", _json_parent_is_file),
    Case("data/json-read-only", _json_readonly),
    Case("data/eval-root-for-bvcc", _eval_root_for_bvcc),
    Case("data/root-missing", _root_missing),
    Case("data/track3-with-json", _track3_ok_with_json, code=0, outcome="handled"),
]
