"""Issue 21, class 3: memory bounded by the input, not the machine. Long files are predicted in chunks
(a 20-minute file under a 1.5 GiB budget), a file that still runs out of memory costs only its own row,
and arguments that size work have a stated maximum."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .cases_make_tables import ARGS as TABLE_ARGS, _results
from .cases_metrics import _pred, _truth
from .cases_predict import _clips, _model
from .harness import Case, Setup

P, ME, MT, B = "sfi_mos.predict", "sfi_mos.metrics", "paper.make_tables", "sfi_mos.bench"
LIMITED = ["tests.catalogue.limited", "1536"]


def _long(tmp: Path, minutes: float, name: str = "audio/long.wav", sr: int = 16000) -> str:
    """A long speech-like file (a tone with noise), written in blocks: int16, ~2 MB per minute."""
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    with sf.SoundFile(p, "w", sr, 1, subtype="PCM_16") as f:
        for _ in range(int(minutes * 6)):
            t = np.arange(sr * 10) / sr
            f.write((0.3 * np.sin(2 * np.pi * 180 * t) + 0.02 * rng.standard_normal(len(t))).astype(np.float32))
    return name


def _rows(n: int, ids=()):
    def check(r) -> None:
        df = pd.read_csv(r.tmp / "preds.csv")
        assert len(df) == n and df["pred"].between(1, 5).all(), df
        assert set(ids) <= set(df["utt_id"]), df
    return check


def _long_file_chunked(tmp: Path) -> Setup:
    clips = _clips(tmp)
    _long(tmp, 20)
    return Setup([*LIMITED, P, "--model", _model(tmp), "audio", "--out", "preds.csv", "--device", "cpu"],
                 check=_rows(len(clips) + 1, {"long"}), timeout=300)


def _whole_file_oom_costs_one_row(tmp: Path) -> Setup:
    clips = _clips(tmp)
    _long(tmp, 20)
    return Setup([*LIMITED, P, "--model", _model(tmp), "audio", "--out", "preds.csv", "--device", "cpu",
                  "--chunk-seconds", "0"], names=("long.wav", "out of memory"), present=("preds.csv", "preds.errors.csv"),
                 check=_rows(len(clips)), timeout=300)


def _metrics_bootstrap_huge(tmp: Path) -> Setup:
    (tmp / "pred.csv").write_text(_pred())
    (tmp / "truth.csv").write_text(_truth())
    return Setup([ME, "--pred", "pred.csv", "--truth", "truth.csv", "--bootstrap", "1000000000", "--json", "o.json"],
                 names=("--bootstrap", "100000"), absent=("o.json",))


def _metrics_compare_bootstrap_huge(tmp: Path) -> Setup:
    (tmp / "pred.csv").write_text(_pred())
    (tmp / "b.csv").write_text(_pred().replace("3.0", "3.5"))
    (tmp / "truth.csv").write_text(_truth())
    return Setup([ME, "--pred", "pred.csv", "--truth", "truth.csv", "--compare", "b.csv", "--bootstrap", "250000"],
                 names=("--bootstrap",))


def _tables_bootstrap_huge(tmp: Path) -> Setup:
    _results(tmp)
    argv = [a if a != "20" else "5000000" for a in TABLE_ARGS]
    return Setup([MT, "--results", "results", "--out", "tables", *argv], names=("bootstrap", "5000000"),
                 absent=("tables",))


def _predict_batch_size_huge(tmp: Path) -> Setup:
    return Setup([P, "--model", _model(tmp), *_clips(tmp), "--out", "preds.csv", "--batch-size", "100000000"],
                 names=("--batch-size",), absent=("preds.csv",))


def _bench_seconds_huge(tmp: Path) -> Setup:
    return Setup([B, "model", "--size", "tiny", "--seconds", "86400", "--json", "b.json"], names=("--seconds",),
                 absent=("b.json",))


def _predict_chunk_seconds_negative(tmp: Path) -> Setup:
    return Setup([P, "--model", _model(tmp), *_clips(tmp), "--out", "preds.csv", "--chunk-seconds", "-1"],
                 names=("--chunk-seconds",), absent=("preds.csv",))


CASES = [
    Case("memory/predict-20-min-file-chunked-in-1.5-gib", _long_file_chunked, code=0, outcome="handled"),
    Case("memory/predict-whole-file-out-of-memory-costs-one-row", _whole_file_oom_costs_one_row, code=1),
    Case("memory/metrics-bootstrap-1e9", _metrics_bootstrap_huge),
    Case("memory/metrics-compare-bootstrap-over-the-maximum", _metrics_compare_bootstrap_huge),
    Case("memory/make-tables-bootstrap-over-the-maximum", _tables_bootstrap_huge),
    Case("memory/predict-batch-size-over-the-maximum", _predict_batch_size_huge),
    Case("memory/bench-seconds-over-the-maximum", _bench_seconds_huge),
    Case("memory/predict-chunk-seconds-negative", _predict_chunk_seconds_negative),
]
