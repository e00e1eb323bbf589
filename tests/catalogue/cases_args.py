"""Issue 21, class 7: command-line arguments. A repeated option, an empty value (an unset shell
variable), an unknown name and conflicting options are each a named error in every CLI, before any work."""
from __future__ import annotations

from pathlib import Path

from .builders import make_track3
from .cases_make_tables import ARGS as TABLE_ARGS, _results
from .cases_metrics import _pred, _truth
from .cases_predict import _clips, _model
from .cases_run_all import _fake, _real_corpora
from .harness import Case, Setup

P, ME, MT, D, B = "sfi_mos.predict", "sfi_mos.metrics", "paper.make_tables", "sfi_mos.data", "sfi_mos.bench"


def _metrics_files(tmp: Path) -> None:
    (tmp / "pred.csv").write_text(_pred())
    (tmp / "truth.csv").write_text(_truth())
    (tmp / "other.csv").write_text(_truth())


def _run_all_data_key_twice(tmp: Path) -> Setup:
    data = _real_corpora(tmp)
    return _fake(["--results", "results", "--data", data + f",track3={tmp / 'corpora' / 'bvcc'}", "--dry-run"],
                 names=("--data", "track3", "twice"), absent=("results/smoke/data",))


def _run_all_data_flag_twice(tmp: Path) -> Setup:
    data = _real_corpora(tmp)
    return _fake(["--results", "results", "--data", data, "--data", "synthetic", "--dry-run"],
                 names=("--data", "twice"), absent=("results",))


def _run_all_only_empty(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--only", "", "--dry-run"], names=("--only", "empty"), absent=("results",))


def _run_all_only_empty_pattern(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--only", "authors-hubert*,,", "--dry-run"], names=("--only", "empty"),
                 absent=("results/smoke/data",))


def _run_all_snapshot_local(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--snapshot", "--cluster", "local"], names=("--snapshot", "slurm"),
                 absent=("results",))


def _bench_unknown(tmp: Path) -> Setup:
    return Setup([B, "sfii", "--json", "b.json"], names=("sfii", "available"), absent=("b.json",))


def _bench_option_first(tmp: Path) -> Setup:
    return Setup([B, "--json", "b.json", "sfi"], names=("--json", "after the benchmark name"), absent=("b.json",))


def _predict_out_twice(tmp: Path) -> Setup:
    return Setup([P, "--model", _model(tmp), *_clips(tmp), "--out", "a.csv", "--out", "b.csv"],
                 names=("--out", "twice"), absent=("a.csv", "b.csv"))


def _predict_out_empty(tmp: Path) -> Setup:
    return Setup([P, "--model", _model(tmp), *_clips(tmp), "--out", ""], names=("--out", "empty"))


def _predict_input_empty(tmp: Path) -> Setup:
    return Setup([P, "--model", _model(tmp), *_clips(tmp), "", "--out", "preds.csv"], names=("empty",),
                 absent=("preds.csv",))


def _metrics_truth_twice(tmp: Path) -> Setup:
    _metrics_files(tmp)
    return Setup([ME, "--pred", "pred.csv", "--truth", "truth.csv", "--truth", "other.csv", "--json", "o.json"],
                 names=("--truth", "twice"), absent=("o.json",))


def _metrics_compare_is_pred(tmp: Path) -> Setup:
    _metrics_files(tmp)
    return Setup([ME, "--pred", "pred.csv", "--truth", "truth.csv", "--compare", "./pred.csv", "--json", "o.json"],
                 names=("--compare", "pred.csv"), absent=("o.json",))


def _metrics_json_empty(tmp: Path) -> Setup:
    _metrics_files(tmp)
    return Setup([ME, "--pred", "pred.csv", "--truth", "truth.csv", "--json", ""], names=("--json", "empty"))


def _tables_reference_without_check(tmp: Path) -> Setup:
    _results(tmp)
    return Setup([MT, "--results", "results", "--out", "tables", *TABLE_ARGS, "--reference", "ref.csv"],
                 names=("--reference", "--check"), absent=("tables",))


def _tables_grid_twice(tmp: Path) -> Setup:
    _results(tmp)
    return Setup([MT, "--results", "results", "--out", "tables", *TABLE_ARGS, "--grid", "default"],
                 names=("--grid", "twice"), absent=("tables",))


def _data_json_twice(tmp: Path) -> Setup:
    make_track3(tmp / "t3", n_sys=2, n_utt=2, n_lis=3, n_eval=1)
    return Setup([D, "track3", "t3", "--json", "a.json", "--json", "b.json"], names=("--json", "twice"),
                 absent=("a.json", "b.json"))


def _data_root_empty(tmp: Path) -> Setup:
    return Setup([D, "track3", ""], names=("empty",))


CASES = [
    Case("args/run-all-data-key-twice", _run_all_data_key_twice),
    Case("args/run-all-data-flag-twice", _run_all_data_flag_twice),
    Case("args/run-all-only-empty", _run_all_only_empty),
    Case("args/run-all-only-with-an-empty-pattern", _run_all_only_empty_pattern),
    Case("args/run-all-snapshot-without-slurm", _run_all_snapshot_local),
    Case("args/bench-unknown-name", _bench_unknown),
    Case("args/bench-option-before-the-name", _bench_option_first),
    Case("args/predict-out-twice", _predict_out_twice),
    Case("args/predict-out-empty", _predict_out_empty),
    Case("args/predict-input-empty", _predict_input_empty),
    Case("args/metrics-truth-twice", _metrics_truth_twice),
    Case("args/metrics-compare-is-pred", _metrics_compare_is_pred),
    Case("args/metrics-json-empty", _metrics_json_empty),
    Case("args/make-tables-reference-without-check", _tables_reference_without_check),
    Case("args/make-tables-grid-twice", _tables_grid_twice),
    Case("args/data-json-twice", _data_json_twice),
    Case("args/data-root-empty", _data_root_empty),
]
