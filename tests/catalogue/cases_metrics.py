"""Catalogue cases for ``python -m sfi_mos.metrics``: damaged inputs, faults, and the organisers' formats.

Every input is built under ``tmp_path`` from one small Track 3-style set (4 systems x 2
utterances). "handled" cases check the JSON they write against ``sfi_mos.metrics.evaluate`` on the
canonical tables, so a format that is read wrongly cannot pass.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from .harness import Case, Setup

M = "sfi_mos.metrics"
P = "audiomos-track3"
UTTS = [f"{P}-{r}k_sys{s}_utt0{u}" for r, s in (("16", 1), ("16", 2), ("24", 1), ("24", 2)) for u in (1, 2)]
MOS = ["3.1", "3.3", "2.0", "2.2", "4.5", "4.1", "1.2", "1.6"]
PRED = ["3.0", "3.4", "2.4", "2.1", "4.0", "4.2", "1.9", "1.5"]
RATINGS = [(3, 4), (3, 3), (2, 2), (2, 3), (5, 4), (4, 4), (1, 1), (2, 1)]


def _w(tmp: Path, name: str, text: str | bytes) -> str:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return name


def _truth(header: str = "utt_id,mos", ids=UTTS, mos=MOS) -> str:
    return header + "\n" + "".join(f"{u},{m}\n" for u, m in zip(ids, mos))


def _pred(header: str | None = "utt_id,pred", ids=UTTS, pred=PRED) -> str:
    return (header + "\n" if header else "") + "".join(f"{u},{p}\n" for u, p in zip(ids, pred))


def _ratings(ids=UTTS) -> str:
    return "uttID,lisID,rating\n" + "".join(f"{u},L{k},{r}\n" for u, rs in zip(ids, RATINGS) for k, r in enumerate(rs))


BASE = ["--pred", "pred.csv", "--truth", "truth.csv"]


def _setup(pred, truth, files, prep, argv):
    """Write pred.csv / truth.csv (default: the good set) and ``files``; argv after the module name."""
    def build(tmp: Path) -> list[str]:
        if prep is not None:
            prep(tmp)
        _w(tmp, "pred.csv", _pred() if pred is None else pred)
        _w(tmp, "truth.csv", _truth() if truth is None else truth)
        for name, text in (files or {}).items():
            _w(tmp, name, text)
        extra = argv(tmp) if callable(argv) else list(argv)
        return [M, *(extra if extra[:1] == ["--pred"] else BASE + extra)]
    return build


def _error(name: str, *names: str, pred=None, truth=None, files=None, prep=None, argv=(), absent=(),
           unchanged=()) -> Case:
    build = _setup(pred, truth, files, prep, argv)
    return Case(f"metrics/{name}", lambda tmp: Setup(argv=build(tmp), names=names, absent=absent,
                                                     unchanged=unchanged))


def _expected_json(truth_mos: list[str] | None = None) -> dict:
    from sfi_mos.metrics import evaluate, to_jsonable
    truth = pd.DataFrame({"utt_id": UTTS, "mos": truth_mos or MOS})
    return to_jsonable(evaluate(pd.DataFrame({"utt_id": UTTS, "pred": PRED}), truth))


def _per_rating_expected() -> dict:
    return _expected_json([str(sum(r) / len(r)) for r in RATINGS])  # two ratings each: halves are exact


def _same_as(expected_fn):
    def check(r):
        got = json.loads((r.tmp / "out.json").read_text())
        want = expected_fn()
        for lvl in ("utt", "sys"):
            for m in ("MSE", "LCC", "SRCC", "KTAU"):
                assert got[lvl][m] == pytest.approx(want[lvl][m], abs=1e-12), (lvl, m)
        assert got["n_utt"] == 8 and got["n_sys"] == 4 and set(got["per_rate"]) == {"16000", "24000"}
    return check


def _handled(name: str, pred=None, truth=None, files=None, prep=None, argv=(), expected=_expected_json) -> Case:
    build = _setup(pred, truth, files, prep, argv)
    return Case(f"metrics/{name}", lambda tmp: Setup(argv=build(tmp) + ["--json", "out.json"], present=("out.json",),
                                                     check=_same_as(expected)), code=0, outcome="handled")


def _ro_target(tmp: Path) -> list[str]:
    ro = tmp / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    # root ignores permission bits; sysfs refuses new files even to root
    return ["--json", "/sys/sfi_mos_catalogue/out.json" if os.geteuid() == 0 else "ro/out.json"]


MAPS = {"maps/sysMap.txt": "originalSR|sys1\noriginal|sys2\n", "maps/uttMap.txt": "sentA|utt01\nsentB|utt02\n"}


def _deobf(u: str) -> str:
    return u.replace("_sys1_", "_originalSR_").replace("_sys2_", "_original_").replace(
        "_utt01", "_sentA").replace("_utt02", "_sentB")


def _rows(header: str, cells) -> str:
    return header + "\n" + "".join(",".join(map(str, c)) + "\n" for c in cells)


ENUM = list(enumerate(zip(UTTS, MOS)))
ERRORS = [
    _error("non-utf8-pred", "pred.csv", "line 3", "not UTF-8", pred=_pred().encode().replace(b"3.4", b"3\xff4")),
    _error("utf16-truth", "truth.csv", "UTF-8", truth=_truth().encode("utf-16")),
    _error("nul-byte", "pred.csv", "line 4", "NUL", pred=_pred().replace("2.4", "2\x004")),
    # blank lines at lines 2 and 4: the NaN on the 5th data row is physical line 7
    _error("blank-lines-keep-physical-line", "pred.csv", "line 7", "'nan'",
           pred="utt_id,pred\n\n" + _pred(None).replace("2.1", "nan").replace(f"{UTTS[1]},", f"\n{UTTS[1]},")),
    _error("nan-prediction", "pred.csv", "line 7", "NaN", pred=_pred().replace("4.2", "NaN")),
    _error("inf-truth", "truth.csv", "line 7", truth=_truth().replace("4.1", "inf")),
    _error("rating-out-of-range", "truth.csv", "line 3", "outside the rating scale 1-5",
           truth=_ratings().replace(",L1,4", ",L1,7", 1)),
    _error("mos-out-of-range", "truth.csv", "line 8", "outside the rating scale", truth=_truth().replace("1.2", "0.5")),
    _error("duplicate-pred-ids", "pred.csv", "line 10", "duplicate utt_id", UTTS[1], "lines 3, 10", UTTS[4],
           pred=_pred() + f"{UTTS[1]},3.0\n{UTTS[4]},1\n{UTTS[4]},2\n"),
    _error("duplicate-pred-ids-after-wav-strip", "pred.csv", "line 10", "lines 2, 10",
           pred=_pred() + f"{UTTS[0]}.wav,3\n"),
    _error("duplicate-truth-ids", "truth.csv", "line 10", "duplicate utt_id", truth=_truth() + f"{UTTS[2]},3\n"),
    _error("duplicate-listener-rating", "truth.csv", "line 18", "(utterance, listener) pair",
           truth=_ratings() + f"{UTTS[0]},L0,2\n"),
    _error("missing-pred-column", "pred.csv", "missing prediction column", "--pred-col", pred=_pred("utt_id,quality")),
    _error("missing-id-column", "truth.csv", "missing utterance id column", "--truth-id-col", truth=_truth("name,mos")),
    _error("ambiguous-pred-columns", "pred.csv", "ambiguous", "score, MOS", "--pred-col",
           pred=_rows("utt_id,score,MOS", zip(UTTS, PRED, PRED))),
    _error("ambiguous-truth-columns", "truth.csv", "ambiguous", "--truth-col",
           truth=_rows("utt_id,MOS,avg_score", zip(UTTS, MOS, MOS))),
    _error("unknown-explicit-column", "pred.csv", "no column 'MOS'", argv=["--pred-col", "MOS"]),
    _error("headerless-3-columns", "truth.csv", "no header and 3 columns", "--truth-id-col",
           truth="".join(f"{u},{m},x\n" for u, m in zip(UTTS, MOS))),
    _error("empty-pred-file", "pred.csv", "empty file", pred=""),
    _error("blank-only-truth", "truth.csv", "empty file", truth="\n  \n\n"),
    _error("header-only-truth", "truth.csv", "line 1", "header only", truth="uttID,lisID,rating\n"),
    _error("truncated-row", "pred.csv", "line 9", "truncated", pred=_pred()[:-5]),
    _error("truncated-in-quote", "pred.csv", "malformed CSV", pred=_pred() + f'"{UTTS[0]}'),
    _error("ragged-row", "truth.csv", "line 5", "fields", truth=_truth().replace("2.2\n", "2.2,extra\n")),
    _error("pred-path-is-dir", "preds", "directory", prep=lambda t: (t / "preds").mkdir(),
           argv=["--pred", "preds", "--truth", "truth.csv"]),
    _error("truth-missing", "nope.csv", "file not found", argv=["--pred", "pred.csv", "--truth", "nope.csv"]),
    _error("json-is-dir", "outdir", "is a directory", prep=lambda t: (t / "outdir").mkdir(), argv=["--json", "outdir"]),
    _error("json-read-only-dir", "cannot write in", argv=_ro_target, absent=("ro/out.json",)),
    _error("json-parent-is-file", "note.txt", "is a file, not a folder", files={"note.txt": "keep"},
           argv=["--json", "note.txt/out.json"], unchanged=("note.txt",)),
    _error("json-would-overwrite-input", "pred.csv", "input files", argv=["--json", "pred.csv"],
           unchanged=("pred.csv",)),
    _error("ids-not-in-truth", "pred.csv", "not in truth.csv", f"{P}-48k_sys9_utt01",
           pred=_pred() + f"{P}-48k_sys9_utt01,3\n"),
    _error("truth-without-prediction", "pred.csv", "2 of 8 truth utterances have no prediction", UTTS[7],
           pred=_pred(ids=UTTS[:6], pred=PRED[:6])),
    _error("deobfuscated-without-maps", "truth.csv", "line 2", "--track3-maps",
           truth=_truth(ids=[_deobf(u) for u in UTTS])),
    _error("deobfuscated-sentence-not-in-map", "truth.csv", "line 3", "uttMap.txt", files=MAPS,
           truth=_truth(ids=[_deobf(u) for u in UTTS]).replace("_sentB", "_sentZ", 1), argv=["--track3-maps", "maps"]),
    _error("maps-folder-missing", "maps", "not found", argv=["--track3-maps", "maps"]),
    _error("partly-blank-sample-rate", "truth.csv", "line 5", "sample_rate",
           truth=_rows("utt_id,mos,sample_rate", [(u, m, "" if i == 3 else 16000) for i, (u, m) in ENUM])),
    _error("partly-blank-system", "truth.csv", "line 4", "empty system id",
           truth=_rows("utt_id,mos,system_id", [(u, m, "" if i == 2 else "A") for i, (u, m) in ENUM])),
    _error("n-ratings-not-integer", "truth.csv", "line 3", "positive integer",
           truth=_rows("utt_id,mos,n_ratings", [(u, m, 2.5 if i == 1 else 2) for i, (u, m) in ENUM])),
    _error("nan-in-compare-file", "b.csv", "line 2", "'nan'", files={"b.csv": _pred().replace("3.0", "nan")},
           argv=["--compare", "b.csv", "--bootstrap", "20"]),
]

RESULTS_CSV = _rows("wav_path,system_id,sample_id,avg_score,answer",  # SHEET's results.csv
                    [(f"wav/{u}.wav", u.split("-")[-1][:8], u, m, p) for u, m, p in zip(UTTS, MOS, PRED)])

HANDLED = [
    _handled("canonical"),
    _handled("voicemos-answer-txt-headerless", pred=_pred(None)),
    _handled("headerless-truth-id-mos", truth="".join(f"{u},{m}\n" for u, m in zip(UTTS, MOS))),
    _handled("pred-column-MOS", pred=_pred("uttID,MOS")),
    _handled("pred-column-score", pred=_pred("utt_id,score")),
    _handled("pred-column-answer", pred=_pred("sample_id,answer")),
    _handled("truth-column-MOS", truth=_truth("uttID,MOS")),
    _handled("sheet-results-csv-as-pred-and-truth", files={"results.csv": RESULTS_CSV},
             argv=["--pred", "results.csv", "--truth", "results.csv"]),
    _handled("explicit-column-resolves-ambiguity", argv=["--pred-col", "score"],
             pred=_rows("utt_id,score,MOS", [(u, p, 0) for u, p in zip(UTTS, PRED)])),
    _handled("headerless-by-column-number", pred="".join(f"x,{u},{p}\n" for u, p in zip(UTTS, PRED)),
             argv=["--pred-id-col", "2", "--pred-col", "3"]),
    _handled("blank-optional-columns", truth=_rows("utt_id,mos,system_id,sample_rate,n_ratings",
                                                   [(u, m, "", "", "") for u, m in zip(UTTS, MOS)])),
    _handled("blank-lines-and-bom", pred=b"\xef\xbb\xbf" + ("\n" + _pred() + "\n\n").encode()),
    _handled("track3-per-rating", truth=_ratings(), expected=_per_rating_expected),
    _handled("track3-deobfuscated-with-maps", truth=_ratings(ids=[_deobf(u) for u in UTTS]), files=MAPS,
             argv=["--track3-maps", "maps"], expected=_per_rating_expected),
    _handled("wav-suffix-ids", pred=_pred(ids=[u + ".wav" for u in UTTS])),
]

CASES = ERRORS + HANDLED
