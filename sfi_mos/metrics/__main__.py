"""CLI: ``python -m sfi_mos.metrics --pred PRED.csv --truth TRUTH.csv [--bootstrap N] [--json OUT]``.

Prints the eight numbers overall and per sampling rate; ``--compare B.csv`` adds a paired
bootstrap comparison PRED - B. Bad input exits with status 2 and one line on stderr; the output
path is checked before any work starts.
"""
from __future__ import annotations

import os
import sys
import tempfile

from sfi_mos.cli import Parser, int_in_range, refuse_overwrite
from sfi_mos.errors import InputError
from sfi_mos.metrics.bootstrap import MAX_DRAWS
from sfi_mos.metrics.evaluate import evaluate_merged, paired_bootstrap, save_json
from sfi_mos.metrics.reading import HEADER_MODES, Columns
from sfi_mos.metrics.report import format_paired, format_result
from sfi_mos.metrics.truth import load_pred, load_truth, merge_pred_truth, track3_names


def _parser() -> Parser:
    p = Parser(prog="python -m sfi_mos.metrics", description=(
        "Score MOS predictions: {utt, sys} x {MSE, LCC, SRCC, KTAU}, overall and per sampling rate. "
        "Column names are found by name (see sfi_mos/metrics/README.md); the column options choose "
        "them where that is ambiguous. In a header-less file columns are numbered 1, 2, ..."))
    p.add_argument("--pred", required=True, help="prediction CSV: utt_id,pred (or uttID/sample_id and "
                                                 "answer/score/MOS; header-less id,score)")
    p.add_argument("--truth", required=True, help="truth CSV: utt_id,mos[,system_id,sample_rate] "
                                                  "or per rating uttID,lisID,rating")
    p.add_argument("--bootstrap", type=int_in_range(0, MAX_DRAWS, "--bootstrap", "its memory grows with it"),
                   default=0, metavar="N", help=f"bootstrap draws for 95%% CIs (0 = none; 1000 is usual; at most {MAX_DRAWS})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--sys-truth", choices=("utterance", "ratings"), default="utterance",
                   help="system truth: mean utterance MOS (organisers, default) or mean of all ratings")
    p.add_argument("--compare", metavar="PRED_B.csv",
                   help="second prediction CSV (read with the --pred-* options): paired bootstrap of "
                        "PRED - PRED_B on the same draws")
    p.add_argument("--json", metavar="OUT", help="also write the result as JSON (atomically)")
    g = p.add_argument_group("columns")
    g.add_argument("--pred-col", metavar="COL", help="prediction column (default: pred, else the one of "
                                                     "answer, score, prediction, predicted_mos, MOS, mos)")
    g.add_argument("--pred-id-col", metavar="COL", help="utterance id column of the predictions")
    g.add_argument("--pred-header", choices=HEADER_MODES, default="auto",
                   help="does the prediction file start with a header row (default: detect)")
    g.add_argument("--truth-col", metavar="COL", help="truth value column: MOS per utterance, or the "
                                                      "rating column of per-rating truth")
    g.add_argument("--truth-id-col", metavar="COL", help="utterance id column of the truth")
    g.add_argument("--truth-header", choices=HEADER_MODES, default="auto",
                   help="does the truth file start with a header row (default: detect)")
    g.add_argument("--system-col", metavar="COL", help="system column of the truth (default: system_id, "
                                                       "sysID or system; else from Track 3 names)")
    g.add_argument("--track3-maps", metavar="DIR", help="folder with the organisers' sysMap.txt and "
                                                        "uttMap.txt: map de-obfuscated Track 3 names")
    return p


def check_output(path: str, inputs: list[str]) -> None:
    """Fail now, not after the work, if ``path`` cannot take the result file (or is an input)."""
    refuse_overwrite({"--json": path}, inputs)
    if os.path.isdir(path):
        raise InputError(path, "output path is a directory; give a file name (e.g. metrics.json)")
    if os.path.exists(path):
        if not os.path.isfile(path):
            raise InputError(path, "output path exists and is not a regular file")
        if not os.access(path, os.W_OK):
            raise InputError(path, "output file is read-only")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):  # the writer creates missing folders from the nearest existing one
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise InputError(path, f"cannot create the output: {parent} is a file, not a folder")
    try:  # a real probe: permission bits do not tell for root or read-only mounts
        fd, probe = tempfile.mkstemp(prefix=".sfi_mos_probe.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputError(path, f"cannot write in {parent}: {e.strerror or e}") from None


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # the JSON is written atomically at the end: nothing half-written
        print("\ninterrupted: nothing written; rerun the same command", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    pred_cols = Columns(id=args.pred_id_col, value=args.pred_col, header=args.pred_header)
    truth_cols = Columns(id=args.truth_id_col, value=args.truth_col, system=args.system_col,
                         header=args.truth_header)
    inputs = [x for x in (args.pred, args.truth, args.compare) if x]
    try:
        if args.compare and os.path.exists(args.compare) and os.path.exists(args.pred) \
                and os.path.samefile(args.compare, args.pred):
            raise InputError(f"--compare {args.compare}", f"is the same file as --pred {args.pred}: a comparison "
                                                          "with itself says nothing; give the other system's predictions")
        if args.json:
            check_output(args.json, inputs + ([os.path.join(args.track3_maps, f) for f in ("sysMap.txt", "uttMap.txt")]
                                              if args.track3_maps else []))
        names = track3_names(args.track3_maps) if args.track3_maps else None
        truth = load_truth(args.truth, truth_cols, names)
        pred = load_pred(args.pred, pred_cols, names)
        if args.compare:
            n = args.bootstrap or 1000  # a paired comparison without draws says nothing
            res = paired_bootstrap(pred, load_pred(args.compare, pred_cols, names), truth, n=n, seed=args.seed,
                                   sys_truth=args.sys_truth, sources=(args.pred, args.compare, args.truth))
            text = format_paired(res, args.pred, args.compare)
        else:
            merged = merge_pred_truth(pred, truth, pred_source=args.pred, truth_source=args.truth)
            res = evaluate_merged(merged, bootstrap=args.bootstrap, seed=args.seed, sys_truth=args.sys_truth)
            text = format_result(res)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        try:
            save_json(args.json, res)  # atomic: OUT is either untouched or complete
        except OSError as e:
            print(f"error: {args.json}: cannot write JSON: {e.strerror or e}", file=sys.stderr)
            return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
