"""``python -m sfi_mos.predict``: bad run dirs, bad ``--out``/``--device``, and inputs where one bad
file (name, link, truncation, NaN) must cost only its own row.

The model is a fine-tune run of the shared real smoke grid; the clips come from its corpus."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from .builders import nan_wav, not_utf8, readonly, truncate_wav
from .harness import Case, Setup, shared

M = "sfi_mos.predict"


def _model(tmp: Path) -> str:
    grid = shared("smoke") / "results" / "smoke"
    run = sorted(p for p in (grid / "finetune").iterdir() if (p / "best.pt").is_file())[0]
    shutil.copytree(run, tmp / "run", ignore=shutil.ignore_patterns("ckpt"))
    return "run"


def _clips(tmp: Path, n: int = 3, folder: str = "audio") -> list[str]:
    wav = shared("smoke") / "results" / "smoke" / "data" / "synth-tiny-s0" / "track3" / "DATA" / "wav"
    picks = []
    for tag in ("16k", "24k", "48k"):
        picks += sorted(wav.glob(f"*-{tag}_*.wav"))[:1]
    (tmp / folder).mkdir(parents=True, exist_ok=True)
    out = []
    for src in picks[:n]:
        shutil.copy(src, tmp / folder / src.name)
        out.append(f"{folder}/{src.name}")
    return out


def _read(tmp: Path, name: str = "preds.csv") -> pd.DataFrame:
    return pd.read_csv(tmp / name)


def _rows(n: int):
    def check(r) -> None:
        df = _read(r.tmp)
        assert len(df) == n and df["pred"].between(1, 5).all(), df
    return check


def _one_bad_row(tmp: Path, bad: str, argv: list[str], n_good: int, names=()) -> Setup:
    return Setup([M, "--model", _model(tmp), *argv, "--out", "preds.csv"], names=names or (bad,),
                 present=("preds.csv", "preds.errors.csv"), check=_rows(n_good))


# ---- run dirs ------------------------------------------------------------------------------------
def _second_model_mistyped(tmp: Path) -> Setup:
    clips = _clips(tmp)
    return Setup([M, "--model", _model(tmp), "rnu", *clips, "--out", "preds.csv"], names=("rnu",),
                 absent=("preds.csv",))


def _model_unfinished(tmp: Path) -> Setup:
    _model(tmp)
    (tmp / "run" / "done.json").unlink()
    return Setup([M, "--model", "run", *_clips(tmp), "--out", "preds.csv"], names=("run", "done.json"),
                 absent=("preds.csv",))


def _model_best_pt_corrupt(tmp: Path) -> Setup:
    _model(tmp)
    b = tmp / "run" / "best.pt"
    b.write_bytes(b.read_bytes()[:1000])
    return Setup([M, "--model", "run", *_clips(tmp), "--out", "preds.csv"], names=("best.pt",),
                 absent=("preds.csv",))


def _model_not_a_run(tmp: Path) -> Setup:
    clips = _clips(tmp)
    return Setup([M, "--model", "audio", *clips, "--out", "preds.csv"], names=("audio",), absent=("preds.csv",))


# ---- --out and --device --------------------------------------------------------------------------
def _out_is_dir(tmp: Path) -> Setup:
    (tmp / "preds.csv").mkdir()
    return Setup([M, "--model", _model(tmp), *_clips(tmp), "--out", "preds.csv"], names=("preds.csv",))


def _out_parent_is_file(tmp: Path) -> Setup:
    (tmp / "outputs").write_text("x\n")
    return Setup([M, "--model", _model(tmp), *_clips(tmp), "--out", "outputs/preds.csv"], names=("outputs",),
                 unchanged=("outputs",))


def _out_readonly(tmp: Path) -> Setup:
    undo = readonly(tmp / "ro")
    return Setup([M, "--model", _model(tmp), *_clips(tmp), "--out", "ro/preds.csv"], names=("ro/preds.csv",),
                 absent=("ro/preds.csv",), cleanup=undo)


def _device_cuda_without_gpu(tmp: Path) -> Setup:
    import torch

    if torch.cuda.is_available():
        import pytest

        pytest.skip("a CUDA GPU is present: the no-GPU message cannot be provoked")
    return Setup([M, "--model", _model(tmp), *_clips(tmp), "--out", "preds.csv", "--device", "cuda"],
                 names=("--device", "cuda"), absent=("preds.csv",))


def _device_unknown(tmp: Path) -> Setup:
    return Setup([M, "--model", _model(tmp), *_clips(tmp), "--out", "preds.csv", "--device", "gpu0"],
                 names=("--device", "gpu0"), absent=("preds.csv",))


def _batch_size_zero(tmp: Path) -> Setup:
    return Setup([M, "--model", _model(tmp), *_clips(tmp), "--out", "preds.csv", "--batch-size", "0"],
                 names=("--batch-size",), absent=("preds.csv",))


# ---- inputs: one bad file costs one row ------------------------------------------------------------
def _name_not_utf8(tmp: Path) -> Setup:
    clips = _clips(tmp)
    (tmp / "audio" / Path(clips[0]).name).rename(tmp / "audio" / not_utf8("odd.wav"))
    return _one_bad_row(tmp, "odd", ["audio"], 2, names=("odd", "UTF-8"))


def _list_line_not_utf8(tmp: Path) -> Setup:
    clips = _clips(tmp)
    (tmp / "files.txt").write_bytes(("\n".join(clips) + "\n").encode() + b"missing-\xe9t\xe9.wav\n")
    return _one_bad_row(tmp, "missing-", ["files.txt"], 3)


def _dangling_symlink(tmp: Path) -> Setup:
    _clips(tmp)
    (tmp / "audio" / "moved.wav").symlink_to(tmp / "gone" / "moved.wav")
    return _one_bad_row(tmp, "moved.wav", ["audio"], 3, names=("moved.wav", "symbolic link"))


def _truncated_wav(tmp: Path) -> Setup:
    clips = _clips(tmp)
    truncate_wav(tmp / clips[1])
    return _one_bad_row(tmp, Path(clips[1]).name, ["audio"], 2, names=(Path(clips[1]).name, "truncated"))


def _nan_samples(tmp: Path) -> Setup:
    _clips(tmp)
    nan_wav(tmp / "audio" / "nan.wav", 16000, 0.5)
    return _one_bad_row(tmp, "nan.wav", ["audio"], 3, names=("nan.wav", "NaN"))


def _missing_file(tmp: Path) -> Setup:
    clips = _clips(tmp)
    return _one_bad_row(tmp, "nothere.wav", [*clips, "nothere.wav"], 3)


def _missing_list_file(tmp: Path) -> Setup:
    clips = _clips(tmp)
    return _one_bad_row(tmp, "nolist.txt", [*clips, "nolist.txt"], 3)


def _empty_folder(tmp: Path) -> Setup:
    clips = _clips(tmp)
    (tmp / "empty").mkdir()
    return _one_bad_row(tmp, "empty", [*clips, "empty"], 3)


def _same_stem_two_folders(tmp: Path) -> Setup:
    clips = _clips(tmp, 2)
    (tmp / "audio" / "a").mkdir()
    (tmp / "audio" / "b").mkdir()
    shutil.move(str(tmp / clips[0]), tmp / "audio" / "a" / "take.wav")
    shutil.move(str(tmp / clips[1]), tmp / "audio" / "b" / "take.wav")
    _clips(tmp, 1, "more")

    def unique(r) -> None:
        df = _read(r.tmp)
        assert df["utt_id"].is_unique, df
        assert set(df["utt_id"]) == {"a/take", "b/take", Path(sorted((tmp / "more").iterdir())[0]).stem}, df

    return Setup([M, "--model", _model(tmp), "audio", "more", "--out", "preds.csv"], check=unique)


def _track3_ids_unchanged(tmp: Path) -> Setup:
    clips = _clips(tmp)

    def stems(r) -> None:
        assert list(_read(r.tmp)["utt_id"]) == [Path(c).stem for c in sorted(clips)]

    return Setup([M, "--model", _model(tmp), "audio", "--out", "preds.csv"], check=stems, absent=("preds.errors.csv",))


def _same_file_twice(tmp: Path) -> Setup:
    clips = _clips(tmp)
    return Setup([M, "--model", _model(tmp), "audio", clips[0], "--out", "preds.csv"], check=_rows(3))


CASES = [
    Case("predict/second-model-mistyped", _second_model_mistyped),
    Case("predict/model-unfinished", _model_unfinished),
    Case("predict/model-best-pt-corrupt", _model_best_pt_corrupt),
    Case("predict/model-is-not-a-run", _model_not_a_run),
    Case("predict/out-is-a-directory", _out_is_dir),
    Case("predict/out-parent-is-a-file", _out_parent_is_file),
    Case("predict/out-read-only", _out_readonly),
    Case("predict/device-cuda-without-gpu", _device_cuda_without_gpu),
    Case("predict/device-unknown", _device_unknown),
    Case("predict/batch-size-zero", _batch_size_zero),
    Case("predict/file-name-not-utf8", _name_not_utf8, code=1),
    Case("predict/list-line-not-utf8", _list_line_not_utf8, code=1),
    Case("predict/dangling-symlink", _dangling_symlink, code=1),
    Case("predict/truncated-wav", _truncated_wav, code=1),
    Case("predict/nan-samples", _nan_samples, code=1),
    Case("predict/missing-file", _missing_file, code=1),
    Case("predict/missing-list-file", _missing_list_file, code=1),
    Case("predict/folder-without-audio", _empty_folder, code=1),
    Case("predict/same-stem-in-two-folders", _same_stem_two_folders, code=0, outcome="handled"),
    Case("predict/unique-stems-stay-ids", _track3_ids_unchanged, code=0, outcome="handled"),
    Case("predict/same-file-twice", _same_file_twice, code=0, outcome="handled"),
]
