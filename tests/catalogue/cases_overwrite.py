"""Issue 21, class 1: an output path is an input. Every command refuses, before any work, to write over
a file it reads (the same path, a symbolic link to it, a hard link to it) and to write inside a corpus
or folder it reads; the input keeps its bytes and nothing is written."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .builders import make_track3
from .cases_predict import _clips, _model
from .cases_run_all import _fake, _real_corpora
from .harness import ROOT, Case, Setup

P, MT, D, ME = "sfi_mos.predict", "paper.make_tables", "sfi_mos.data", "sfi_mos.metrics"
FIXTURE = ROOT / "tests" / "fixtures" / "paper_results"
TABLE_ARGS = ["--grid", "smoke", "--bootstrap", "20", "--no-figures"]


def _metrics_inputs(tmp: Path) -> None:
    from .cases_metrics import _pred, _truth

    (tmp / "pred.csv").write_text(_pred())
    (tmp / "truth.csv").write_text(_truth())


# ---- predict ------------------------------------------------------------------------------------
def _predict_out_is_input_wav(tmp: Path) -> Setup:
    clips = _clips(tmp)
    return Setup([P, "--model", _model(tmp), *clips, "--out", clips[0]], names=("--out", clips[0]),
                 unchanged=tuple(clips))


def _predict_out_is_list_file(tmp: Path) -> Setup:
    clips = _clips(tmp)
    (tmp / "files.txt").write_text("\n".join(clips) + "\n")
    return Setup([P, "--model", _model(tmp), "files.txt", "--out", "files.txt"], names=("--out", "files.txt"),
                 unchanged=("files.txt",))


def _predict_out_hard_link(tmp: Path) -> Setup:
    clips = _clips(tmp)
    os.link(tmp / clips[1], tmp / "preds.csv")  # the same file under another name
    return Setup([P, "--model", _model(tmp), *clips, "--out", "preds.csv"], names=("--out", "preds.csv"),
                 unchanged=(clips[1], "preds.csv"))


def _predict_out_symlink_to_list(tmp: Path) -> Setup:
    clips = _clips(tmp)
    (tmp / "files.txt").write_text("\n".join(clips) + "\n")
    (tmp / "preds.csv").symlink_to("files.txt")
    return Setup([P, "--model", _model(tmp), "files.txt", "--out", "preds.csv"], names=("--out", "preds.csv"),
                 unchanged=("files.txt",))


def _predict_out_inside_input_folder(tmp: Path) -> Setup:
    _clips(tmp)
    return Setup([P, "--model", _model(tmp), "audio", "--out", "audio/preds.csv"], names=("--out", "audio"),
                 absent=("audio/preds.csv", "audio/preds.errors.csv"))


def _predict_out_inside_model_run(tmp: Path) -> Setup:
    clips = _clips(tmp)
    return Setup([P, "--model", _model(tmp), *clips, "--out", "run/config.json"], names=("--out", "run"),
                 unchanged=("run/config.json",))


# ---- metrics ------------------------------------------------------------------------------------
def _metrics_json_hard_link_to_truth(tmp: Path) -> Setup:
    _metrics_inputs(tmp)
    os.link(tmp / "truth.csv", tmp / "out.json")
    return Setup([ME, "--pred", "pred.csv", "--truth", "truth.csv", "--json", "out.json"],
                 names=("--json", "out.json"), unchanged=("truth.csv",))


def _metrics_json_symlink_to_pred(tmp: Path) -> Setup:
    _metrics_inputs(tmp)
    (tmp / "out.json").symlink_to(tmp / "pred.csv")
    return Setup([ME, "--pred", "pred.csv", "--truth", "truth.csv", "--json", "out.json"],
                 names=("--json", "out.json"), unchanged=("pred.csv",))


# ---- the corpus validator ---------------------------------------------------------------------------
def _data_json_is_label_file(tmp: Path) -> Setup:
    make_track3(tmp / "t3", n_sys=2, n_utt=2, n_lis=3, n_eval=1)
    return Setup([D, "track3", "t3", "--json", "t3/DATA/utt_16k.csv"], names=("--json", "utt_16k.csv"),
                 unchanged=("t3/DATA/utt_16k.csv",))


def _data_json_inside_corpus(tmp: Path) -> Setup:
    make_track3(tmp / "t3", n_sys=2, n_utt=2, n_lis=3, n_eval=1)
    return Setup([D, "track3", "t3", "--json", "t3/summary.json"], names=("--json", "t3"),
                 absent=("t3/summary.json",))


def _data_json_symlinked_into_corpus(tmp: Path) -> Setup:
    make_track3(tmp / "t3", n_sys=2, n_utt=2, n_lis=3, n_eval=1)
    (tmp / "out").symlink_to(tmp / "t3" / "DATA")  # a folder outside that is the corpus
    return Setup([D, "track3", "t3", "--json", "out/summary.json"], names=("--json",),
                 absent=("t3/DATA/summary.json",))


# ---- make_tables and run_all ------------------------------------------------------------------------
def _tables_out_is_a_run_dir(tmp: Path) -> Setup:
    shutil.copytree(FIXTURE, tmp / "results")
    run = sorted((tmp / "results" / "smoke" / "predict").iterdir())[0].relative_to(tmp).as_posix()
    return Setup([MT, "--results", "results", "--out", run, *TABLE_ARGS], names=("--out",),
                 absent=(f"{run}/ablation.md", f"{run}/ablation.csv"))


def _tables_out_holds_reference(tmp: Path) -> Setup:
    shutil.copytree(FIXTURE, tmp / "results")
    (tmp / "tables").mkdir()
    shutil.copy(ROOT / "paper" / "data" / "paper_reported.csv", tmp / "tables" / "paper_reported.csv")
    return Setup([MT, "--results", "results", "--out", "tables", *TABLE_ARGS, "--check", "--reference",
                  "tables/paper_reported.csv"], names=("--out", "paper_reported.csv"),
                 unchanged=("tables/paper_reported.csv",), absent=("tables/ablation.md",))


def _run_all_results_inside_corpus(tmp: Path) -> Setup:
    data = _real_corpora(tmp)
    return _fake(["--results", "corpora/track3/results", "--data", data, "--dry-run"], names=("--results", "track3"),
                 absent=("corpora/track3/results",))


CASES = [
    Case("overwrite/predict-out-is-an-input-wav", _predict_out_is_input_wav),
    Case("overwrite/predict-out-is-the-list-file", _predict_out_is_list_file),
    Case("overwrite/predict-out-is-a-hard-link-to-an-input", _predict_out_hard_link),
    Case("overwrite/predict-out-is-a-symlink-to-the-list", _predict_out_symlink_to_list),
    Case("overwrite/predict-out-inside-the-input-folder", _predict_out_inside_input_folder),
    Case("overwrite/predict-out-inside-the-model-run", _predict_out_inside_model_run),
    Case("overwrite/metrics-json-hard-link-to-truth", _metrics_json_hard_link_to_truth),
    Case("overwrite/metrics-json-symlink-to-pred", _metrics_json_symlink_to_pred),
    Case("overwrite/data-json-is-a-label-file", _data_json_is_label_file),
    Case("overwrite/data-json-inside-the-corpus", _data_json_inside_corpus),
    Case("overwrite/data-json-through-a-link-into-the-corpus", _data_json_symlinked_into_corpus),
    Case("overwrite/make-tables-out-is-a-run-dir", _tables_out_is_a_run_dir),
    Case("overwrite/make-tables-out-holds-a-reference", _tables_out_holds_reference),
    Case("overwrite/run-all-results-inside-a-corpus", _run_all_results_inside_corpus),
]
