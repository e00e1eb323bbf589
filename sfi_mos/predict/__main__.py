"""``python -m sfi_mos.predict --model RUN_DIR [RUN_DIR ...] INPUT ... --out preds.csv [--batch-size N]``
``python -m sfi_mos.predict --model results/default --cell authors-hubert INPUT ... --out preds.csv``

Writes ``utt_id,path,sample_rate,pred`` for every readable file. ``utt_id`` is the file name without
its suffix, or, where two inputs share a name, their path inside the input folder. Files (and
inputs) that cannot be read are listed with the reason in ``<out stem>.errors.csv`` and the exit
code is 1; the others are still predicted. Bad arguments (run dirs, ``--out``, ``--device``) stop
the run before anything is loaded, with exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from ..atomic import check_writable, write_csv
from ..errors import InputError
from ..rundir import DONE

RUN_MARKERS = ("best.pt", DONE, "config.json")


def errors_path(out: Path) -> Path:
    return out.with_name(out.stem + ".errors.csv")


def split_models(models: list[str], inputs: list[str]) -> tuple[list[str], list[str]]:
    """``--model A B x.wav d/`` reads greedily: the leading entries that are run dirs are the models.

    A run dir is a folder holding best.pt, done.json or config.json (unfinished ones are refused
    later, by name). An entry right after them that does not exist and is not named like audio or a
    list file is a mistyped run dir, not an input: an error, instead of a row of "file not found".
    """
    from .inputs import AUDIO_SUFFIXES, LIST_SUFFIXES

    k = 0
    while k < len(models) and any((Path(models[k]) / m).is_file() for m in RUN_MARKERS):
        k += 1
    if k == 0 and models:
        raise InputError(f"--model {models[0]}", "not a run dir (it holds no best.pt, done.json or config.json)")
    if k < len(models):
        nxt = Path(models[k])
        if not nxt.exists() and nxt.suffix.lower() not in AUDIO_SUFFIXES | LIST_SUFFIXES:
            raise InputError(f"--model {models[k]}", "no such run dir (and not an audio file, folder or list "
                                                     "file to predict)")
    return models[:k], models[k:] + list(inputs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sfi_mos.predict", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="+", action="extend", required=True, metavar="RUN_DIR",
                    help="finished MOS run dir(s) (holding best.pt and done.json); several are averaged (fold ensemble)")
    ap.add_argument("--cell", default=None, metavar="NAME",
                    help="with --model GRID_RESULTS_DIR (e.g. results/default): that cell's fold ensemble, "
                    "found from the grid's predict runs (name, e.g. authors-hubert or authors-hubert-s0)")
    ap.add_argument("inputs", nargs="*", metavar="INPUT", help="wav files, directories or list files")
    ap.add_argument("--out", required=True, type=Path, help="output CSV")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    args = ap.parse_args(argv)
    if args.batch_size < 1:
        ap.error(f"--batch-size must be >= 1, got {args.batch_size}")
    from .models import cell_runs, demo_reasons, is_grid_dir

    try:
        if args.cell:
            if not is_grid_dir(args.model[0]):
                raise InputError(f"--model {args.model[0]}", "with --cell, --model names a grid's results dir "
                                                             "(results/<grid>, holding predict/)")
            cell, runs = cell_runs(args.model[0], args.cell)
            models, inputs = [str(r) for r in runs], args.model[1:] + list(args.inputs)
            print(f"cell {cell}: fold ensemble of {len(models)} run(s)", file=sys.stderr)
        elif is_grid_dir(args.model[0]):
            raise InputError(f"--model {args.model[0]}", "is a grid's results dir: add --cell NAME to "
                                                         "predict with one cell's fold ensemble")
        else:
            models, inputs = split_models(args.model, args.inputs)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not models or not inputs:
        ap.error("need at least one run dir (with best.pt) after --model and at least one INPUT")

    from .inputs import collect, shown

    err_file = errors_path(args.out)
    try:  # everything that can be refused is refused before the models load and the audio is read
        check_writable(args.out, "file", "--out")
        check_writable(err_file, "file", "--out")
        from .predictor import Predictor, resolve_device  # torch: seconds

        device = resolve_device(args.device, "--device")
        found = collect(inputs)
        predictor = Predictor.from_runs(*models, device=device)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    demo = demo_reasons(models)
    if demo:
        print(f"warning: a pipeline demo, not a MOS predictor ({' and '.join(demo)}): its scores say "
              "nothing about speech quality", file=sys.stderr)
    df, errors = predictor.predict_files(found.paths, batch_size=args.batch_size, progress=True, ids=found.ids)
    errors = pd.concat([pd.DataFrame(found.problems, columns=["path", "error"]), errors], ignore_index=True)
    errors["path"] = errors["path"].map(shown)
    if found.repeated:
        print(f"note: {found.repeated} input(s) named a file already listed; each file is predicted once",
              file=sys.stderr)
    write_csv(args.out, df)
    if len(errors):
        write_csv(err_file, errors)
        for e in errors.itertuples():
            print(f"error: {e.path}: {e.error}", file=sys.stderr)
        print(f"{len(errors)} of {len(found.paths) + len(found.problems)} inputs failed; see {err_file}",
              file=sys.stderr)
        return 1
    err_file.unlink(missing_ok=True)  # a stale errors file from an earlier run would mislead
    print(f"wrote {len(df)} predictions to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
