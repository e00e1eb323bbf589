"""Issue 21, class 4: pathological numbers (``1e400``, ``1e999999999``, ``1e-999999999``, ``-inf``) in
prediction, truth, rating, reference and run files are parsed in bounded time and named with file, row
and column."""
from __future__ import annotations

from pathlib import Path

from .builders import make_track3
from .cases_make_tables import _pred as _run_preds, _results, _set_field, _tables
from .cases_metrics import UTTS, _pred, _ratings, _truth
from .harness import Case, Setup

ME, D = "sfi_mos.metrics", "sfi_mos.data"
FAST = 30.0  # seconds: a huge exponent must not keep a reader busy


def _metrics(tmp: Path, pred: str, truth: str, extra=(), names=()) -> Setup:
    (tmp / "pred.csv").write_text(pred)
    (tmp / "truth.csv").write_text(truth)
    return Setup([ME, "--pred", "pred.csv", "--truth", "truth.csv", *extra, "--json", "o.json"], names=names,
                 absent=("o.json",), timeout=FAST)


def _pred_1e400(tmp: Path) -> Setup:
    return _metrics(tmp, _pred().replace("3.4", "1e400"), _truth(), names=("pred.csv", "line 3", "pred"))


def _truth_huge_exponent(tmp: Path) -> Setup:
    return _metrics(tmp, _pred(), _truth().replace("2.0", "1e999999999"), names=("truth.csv", "line 4", "mos"))


def _pred_tiny_exponent(tmp: Path) -> Setup:
    return _metrics(tmp, _pred().replace("2.4", "1e-999999999"), _truth(), names=("pred.csv", "line 4", "pred"))


def _pred_negative_infinity(tmp: Path) -> Setup:
    return _metrics(tmp, _pred().replace("4.2", "-inf"), _truth(), names=("pred.csv", "line 7", "pred"))


def _compare_huge_exponent(tmp: Path) -> Setup:
    (tmp / "b.csv").write_text(_pred().replace("1.9", "-1e999999999"))
    return _metrics(tmp, _pred(), _truth(), extra=["--compare", "b.csv", "--bootstrap", "20"],
                    names=("b.csv", "line 8", "pred"))


def _rating_huge_exponent(tmp: Path) -> Setup:
    text = _ratings().replace(f"{UTTS[1]},L0,3", f"{UTTS[1]},L0,3e999999999")
    return _metrics(tmp, _pred(), text, names=("truth.csv", "line 4", "rating"))


def _run_predictions_1e400(tmp: Path) -> Setup:
    p = _run_preds(_results(tmp))
    header = p.read_text().splitlines()[0].split(",")
    _set_field(p, 6, header.index("pred"), "1e400")
    return _tables(names=("predictions.csv", "line 6", "pred"), timeout=FAST * 4)


def _reference_huge_exponent(tmp: Path) -> Setup:
    _results(tmp)
    (tmp / "ref.csv").write_text("cell,utt_MSE,sys_SRCC\nSFI/phase [hubert],1e999999999,0.8\n")
    return _tables(["--check", "--reference", "ref.csv"], names=("ref.csv", "line 2", "utt_MSE"),
                   absent=("tables/check.txt",))


def _corpus_rating_huge_exponent(tmp: Path) -> Setup:
    make_track3(tmp / "t3", n_sys=2, n_utt=2, n_lis=3, n_eval=1)
    f = tmp / "t3" / "DATA" / "utt_16k.csv"
    lines = f.read_text().splitlines()
    cells = lines[1].split(",")
    cells[-1] = "4e999999999"
    lines[1] = ",".join(cells)
    f.write_text("\n".join(lines) + "\n")
    return Setup([D, "track3", "t3"], names=("utt_16k.csv", "line 2"), timeout=FAST)


CASES = [
    Case("numbers/metrics-pred-1e400", _pred_1e400),
    Case("numbers/metrics-truth-1e999999999", _truth_huge_exponent),
    Case("numbers/metrics-pred-1e-999999999", _pred_tiny_exponent),
    Case("numbers/metrics-pred-minus-inf", _pred_negative_infinity),
    Case("numbers/metrics-compare-minus-1e999999999", _compare_huge_exponent),
    Case("numbers/metrics-rating-3e999999999", _rating_huge_exponent),
    Case("numbers/make-tables-predictions-1e400", _run_predictions_1e400),
    Case("numbers/make-tables-reference-1e999999999", _reference_huge_exponent),
    Case("numbers/data-corpus-rating-4e999999999", _corpus_rating_huge_exponent),
]
