"""``python -m sfi_mos.predict --model RUN_DIR [RUN_DIR ...] INPUT ... --out preds.csv [--batch-size N]``

Writes ``utt_id,path,sample_rate,pred`` for every readable file. Files that cannot be read are listed
with the reason in ``<out stem>.errors.csv`` and the exit code is 1; the others are still predicted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..atomic import write_csv
from ..errors import InputError


def errors_path(out: Path) -> Path:
    return out.with_name(out.stem + ".errors.csv")


def split_models(models: list[str], inputs: list[str]) -> tuple[list[str], list[str]]:
    """``--model A B x.wav d/`` reads greedily; the run dirs are the leading entries holding best.pt."""
    k = 0
    while k < len(models) and (Path(models[k]) / "best.pt").is_file():
        k += 1
    return models[:k], models[k:] + list(inputs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sfi_mos.predict", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="+", action="extend", required=True, metavar="RUN_DIR",
                    help="finished MOS run dir(s) (holding best.pt); several are averaged (fold ensemble)")
    ap.add_argument("inputs", nargs="*", metavar="INPUT", help="wav files, directories or list files")
    ap.add_argument("--out", required=True, type=Path, help="output CSV")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    args = ap.parse_args(argv)
    args.model, args.inputs = split_models(args.model, args.inputs)
    if not args.model or not args.inputs:
        ap.error("need at least one run dir (with best.pt) after --model and at least one INPUT")
    if args.batch_size < 1:
        ap.error(f"--batch-size must be >= 1, got {args.batch_size}")

    from .inputs import collect
    from .predictor import Predictor

    try:
        paths = collect(args.inputs)
        predictor = Predictor.from_runs(*args.model, device=args.device)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    df, errors = predictor.predict_files(paths, batch_size=args.batch_size, progress=True)
    write_csv(args.out, df)
    err_file = errors_path(args.out)
    if len(errors):
        write_csv(err_file, errors)
        for e in errors.itertuples():
            print(f"error: {e.path}: {e.error}", file=sys.stderr)
        print(f"{len(errors)} of {len(paths)} files failed; see {err_file}", file=sys.stderr)
        return 1
    err_file.unlink(missing_ok=True)  # a stale errors file from an earlier run would mislead
    print(f"wrote {len(df)} predictions to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
