"""CLI: ``python -m sfi_mos.metrics --pred PRED.csv --truth TRUTH.csv [--bootstrap N] [--json OUT]``.

Prints the eight numbers overall and per sampling rate; ``--compare B.csv`` adds a paired
bootstrap comparison PRED - B. Bad input exits with status 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import sys

from sfi_mos.errors import InputError
from sfi_mos.metrics.evaluate import evaluate_merged, paired_bootstrap, save_json
from sfi_mos.metrics.report import format_paired, format_result
from sfi_mos.metrics.truth import load_pred, load_truth, merge_pred_truth


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sfi_mos.metrics", description=(
        "Score MOS predictions: {utt, sys} x {MSE, LCC, SRCC, KTAU}, overall and per sampling rate."))
    p.add_argument("--pred", required=True, help="prediction CSV with columns utt_id,pred")
    p.add_argument("--truth", required=True, help="truth CSV: utt_id,mos[,system_id,sample_rate] "
                                                  "or per rating uttID,lisID,rating")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="bootstrap draws for 95%% CIs (0 = none; 1000 is usual)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--sys-truth", choices=("utterance", "ratings"), default="utterance",
                   help="system truth: mean utterance MOS (organisers, default) or mean of all ratings")
    p.add_argument("--compare", metavar="PRED_B.csv",
                   help="second prediction CSV: paired bootstrap of PRED - PRED_B on the same draws")
    p.add_argument("--json", metavar="OUT", help="also write the result as JSON (atomically)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        truth = load_truth(args.truth)
        pred = load_pred(args.pred)
        if args.compare:
            n = args.bootstrap or 1000  # a paired comparison without draws says nothing
            res = paired_bootstrap(pred, load_pred(args.compare), truth, n=n, seed=args.seed,
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
