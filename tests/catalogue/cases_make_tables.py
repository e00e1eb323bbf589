"""``python -m paper.make_tables``: damaged results (predictions cut off, NaN, other encodings, broken
records), unusable ``--out`` folders and damaged reference / manifest files.

Inputs are copies of the committed real smoke-grid fixture (``tests/fixtures/paper_results``)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .builders import inject_bytes, readonly
from .harness import TESTS, Case, Setup

M = "paper.make_tables"
FIXTURE = TESTS / "fixtures" / "paper_results"
ARGS = ["--grid", "smoke", "--bootstrap", "20", "--seed", "0", "--no-figures"]
OUT = "tables"


def _results(tmp: Path) -> Path:
    shutil.copytree(FIXTURE, tmp / "results")
    return tmp / "results" / "smoke"


def _pred(grid: Path) -> Path:
    return sorted(grid.glob("predict/*/predictions.csv"))[0]


def _tables(argv: list[str] = (), **kw) -> Setup:
    kw.setdefault("absent", (f"{OUT}/ablation.md",))
    return Setup([M, "--results", "results", "--out", OUT, *ARGS, *argv], **kw)


# ---- predictions.csv ------------------------------------------------------------------------------
def _pred_cut_mid_row(tmp: Path) -> Setup:
    p = _pred(_results(tmp))
    data = p.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 40  # inside a row, half-way down
    p.write_bytes(data[:cut])
    line = data[:cut].count(b"\n") + 1
    return _tables(names=("predictions.csv", f"line {line}"))


def _pred_cut_at_row_end(tmp: Path) -> Setup:
    p = _pred(_results(tmp))
    lines = p.read_bytes().split(b"\n")
    p.write_bytes(b"\n".join(lines[:60]) + b"\n")  # whole rows only: looks complete, is not
    return _tables(names=("predictions.csv",))


def _pred_empty(tmp: Path) -> Setup:
    _pred(_results(tmp)).write_bytes(b"")
    return _tables(names=("predictions.csv",))


def _pred_not_utf8(tmp: Path) -> Setup:
    inject_bytes(_pred(_results(tmp)), 7)
    return _tables(names=("predictions.csv", "line 7"))


def _set_field(p: Path, line: int, col: int, value: str) -> None:
    """Overwrite one CSV field; `line` is 1-based as in the file, the header being line 1."""
    lines = p.read_text().splitlines()
    f = lines[line - 1].split(",")
    f[col] = value
    lines[line - 1] = ",".join(f)
    p.write_text("\n".join(lines) + "\n")


def _pred_nan(tmp: Path) -> Setup:
    _set_field(_pred(_results(tmp)), 5, 5, "nan")
    return _tables(names=("predictions.csv", "line 5"))


def _pred_not_a_number(tmp: Path) -> Setup:
    _set_field(_pred(_results(tmp)), 10, 6, "four")
    return _tables(names=("predictions.csv", "line 10"))


def _pred_missing_column(tmp: Path) -> Setup:
    p = _pred(_results(tmp))
    lines = [",".join(ln.split(",")[:6]) for ln in p.read_text().splitlines()]
    p.write_text("\n".join(lines) + "\n")
    return _tables(names=("predictions.csv", "mos"))


def _pred_duplicate_utt(tmp: Path) -> Setup:
    p = _pred(_results(tmp))
    lines = p.read_text().splitlines()
    p.write_text("\n".join(lines + [lines[3]]) + "\n")
    return _tables(names=("predictions.csv", f"line {len(lines) + 1}"))


# ---- run records --------------------------------------------------------------------------------
def _config_corrupt(tmp: Path) -> Setup:
    grid = _results(tmp)
    c = sorted(grid.glob("finetune/*/config.json"))[0]
    c.write_text(c.read_text()[:50])
    return _tables(names=(c.relative_to(tmp / "results").as_posix(),))


def _config_not_utf8(tmp: Path) -> Setup:
    grid = _results(tmp)
    c = sorted(grid.glob("score/*/config.json"))[0]
    c.write_bytes(c.read_bytes().replace(b'"', b'"\xa0', 1))
    return _tables(names=(c.relative_to(tmp / "results").as_posix(),))


def _predict_unfinished(tmp: Path) -> Setup:
    grid = _results(tmp)
    d = sorted(grid.glob("predict/*/done.json"))[0]
    d.unlink()
    return _tables(names=("smoke",))


def _stale_runs_other_data(tmp: Path) -> Setup:
    """A finished predict + score pair left from before the corpus was edited (other fingerprint)."""
    grid = _results(tmp)
    score = sorted(grid.glob("score/*"))[0]
    cfg = json.loads((score / "config.json").read_text())
    pred = grid / cfg["predict_run"]
    stale_p, stale_s = grid / "predict" / "5ta1e0000000", grid / "score" / "5ta1e0000001"
    shutil.copytree(pred, stale_p)
    shutil.copytree(score, stale_s)
    for f, key in ((stale_p / "config.json", None), (stale_s / "config.json", "predict_run")):
        c = json.loads(f.read_text())
        c["data"]["fingerprint"] = "0ld" + c["data"]["fingerprint"][3:]
        if key:
            c[key] = "predict/5ta1e0000000"
        f.write_text(json.dumps(c))
    return _tables(names=("different data", "5ta1e0000000"))


def _results_missing(tmp: Path) -> Setup:
    return _tables(names=("results",))


# ---- --out -------------------------------------------------------------------------------------
def _out_is_file(tmp: Path) -> Setup:
    _results(tmp)
    (tmp / OUT).write_text("keep me\n")
    return _tables(names=(OUT,), unchanged=(OUT,), absent=())


def _out_parent_is_file(tmp: Path) -> Setup:
    _results(tmp)
    (tmp / "paper").write_text("keep me\n")
    return Setup([M, "--results", "results", "--out", "paper/tables", *ARGS], names=("paper",), unchanged=("paper",))


def _out_readonly(tmp: Path) -> Setup:
    _results(tmp)
    undo = readonly(tmp / "ro")
    return Setup([M, "--results", "results", "--out", "ro/tables", *ARGS], names=("ro/tables",),
                 absent=("ro/tables",), cleanup=undo)


# ---- --check references and --manifest -------------------------------------------------------------
def _reference(tmp: Path, body: str) -> None:
    (tmp / "ref.csv").write_text(body)


def _reference_blank_lines(tmp: Path) -> Setup:
    _results(tmp)
    _reference(tmp, "# a comment\ncell,utt_MSE,sys_SRCC\n\nSFI/phase [hubert],0.5,0.8\n\n\nresample [hubert],0.4,high\n")
    return _tables(["--check", "--reference", "ref.csv"], names=("ref.csv", "line 7"), absent=(f"{OUT}/check.txt",))


def _reference_not_utf8(tmp: Path) -> Setup:
    _results(tmp)
    (tmp / "ref.csv").write_bytes(b"cell,utt_MSE\nSFI/phase [hub\xe9rt],0.5\n")
    return _tables(["--check", "--reference", "ref.csv"], names=("ref.csv", "line 2"), absent=(f"{OUT}/check.txt",))


def _reference_missing(tmp: Path) -> Setup:
    _results(tmp)
    return _tables(["--check", "--reference", "nope.csv"], names=("nope.csv",), absent=(f"{OUT}/check.txt",))


def _manifest_not_utf8(tmp: Path) -> Setup:
    grid = _results(tmp)
    m = grid / "data" / "synth-tiny-s0" / "manifest.csv"
    inject_bytes(m, 3)
    return _tables(["--manifest", str(m)], names=("manifest.csv", "line 3"))


def _manifest_cut(tmp: Path) -> Setup:
    grid = _results(tmp)
    m = grid / "data" / "synth-tiny-s0" / "manifest.csv"
    data = m.read_bytes()
    m.write_bytes(data[:data.index(b"\n", len(data) // 3) + 25])
    return _tables(["--manifest", str(m)], names=("manifest.csv",))


def _bootstrap_negative(tmp: Path) -> Setup:
    _results(tmp)
    return Setup([M, "--results", "results", "--out", OUT, "--grid", "smoke", "--bootstrap", "-5", "--no-figures"],
                 names=("bootstrap", "-5"), absent=(OUT,))


def _ok(tmp: Path) -> Setup:
    _results(tmp)
    return _tables(absent=(), present=(f"{OUT}/ablation.md", f"{OUT}/ablation.csv"))


CASES = [
    Case("make_tables/predictions-cut-mid-row", _pred_cut_mid_row),
    Case("make_tables/predictions-cut-at-row-end", _pred_cut_at_row_end),
    Case("make_tables/predictions-empty", _pred_empty),
    Case("make_tables/predictions-not-utf8", _pred_not_utf8),
    Case("make_tables/predictions-nan", _pred_nan),
    Case("make_tables/predictions-not-a-number", _pred_not_a_number),
    Case("make_tables/predictions-missing-column", _pred_missing_column),
    Case("make_tables/predictions-duplicate-utterance", _pred_duplicate_utt),
    Case("make_tables/config-corrupt", _config_corrupt),
    Case("make_tables/config-not-utf8", _config_not_utf8),
    Case("make_tables/predict-run-unfinished", _predict_unfinished),
    Case("make_tables/stale-runs-on-other-data", _stale_runs_other_data),
    Case("make_tables/results-missing", _results_missing),
    Case("make_tables/out-is-a-file", _out_is_file),
    Case("make_tables/out-parent-is-a-file", _out_parent_is_file),
    Case("make_tables/out-read-only", _out_readonly),
    Case("make_tables/reference-blank-lines", _reference_blank_lines),
    Case("make_tables/reference-not-utf8", _reference_not_utf8),
    Case("make_tables/reference-missing", _reference_missing),
    Case("make_tables/manifest-not-utf8", _manifest_not_utf8),
    Case("make_tables/manifest-cut", _manifest_cut),
    Case("make_tables/bootstrap-negative", _bootstrap_negative),
    Case("make_tables/fixture-builds", _ok, code=0, outcome="handled"),
]
