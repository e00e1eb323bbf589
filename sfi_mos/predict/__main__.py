"""``python -m sfi_mos.predict --model RUN_DIR [RUN_DIR ...] INPUT ... --out preds.csv [--batch-size N]``
``python -m sfi_mos.predict --model results/default --cell authors-hubert INPUT ... --out preds.csv``

``--model authors:CKPT [--ssl HF_DIR] [--listeners 1-10]`` scores with the authors' released Lightning
checkpoint instead, as their demo.py does, in MOS units (docs/authors_models.md).

Writes ``utt_id,path,sample_rate,pred`` for every readable file. ``utt_id`` is the file name without
its suffix, or, where two inputs share a name, their path inside the input folder. Folders are
searched recursively for every format soundfile reads (symbolic links to folders followed once);
other files there are listed as skipped. Files (and inputs) that cannot be read are listed with the
reason in ``<out stem>.errors.csv`` and the exit code is 1; the others are still predicted. Stereo
and multichannel files are mixed to mono (``--channel N`` takes one channel); files longer than
``--chunk-seconds`` are predicted in chunks (docs/predict_inputs.md). Bad arguments (run dirs,
``--out``, ``--device``, an output that is an input) stop the run before anything is loaded, with
exit code 2. Ctrl-C writes nothing and exits 130.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ..atomic import check_writable, write_csv
from ..cli import Parser, float_in_range, int_in_range, path_arg, refuse_overwrite
from ..errors import InputError
from ..data.scan import AUDIO_SUFFIXES
from ..rundir import DONE
from .inputs import CHUNK_SECONDS, LIST_SUFFIXES, collect, shown
from .models import cell_runs, demo_reasons, is_grid_dir

MAX_BATCH = 1024  # clips scored at once: more only costs memory

RUN_MARKERS = ("best.pt", DONE, "config.json")
AUTHORS = "authors:"  # --model authors:CKPT: the authors' Lightning checkpoint (docs/authors_models.md)


def parse_listeners(text: str) -> list[int]:
    """``1-10`` or ``1,2,7`` (or both, comma-separated) -> listener ids."""
    out: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            a, sep, b = part.partition("-")
            out += list(range(int(a), int(b) + 1)) if sep else [int(a)]
    except ValueError:
        raise InputError("--listeners", f"{text!r} is not a list of ids such as 1-10 or 1,2,7") from None
    if not out:
        raise InputError("--listeners", "no listener id given")
    return out


def errors_path(out: Path) -> Path:
    return out.with_name(out.stem + ".errors.csv")


def split_models(models: list[str], inputs: list[str]) -> tuple[list[str], list[str]]:
    """``--model A B x.wav d/`` reads greedily: the leading entries that are run dirs are the models.

    A run dir is a folder holding best.pt, done.json or config.json (unfinished ones are refused
    later, by name). An entry right after them that does not exist and is not named like audio or a
    list file is a mistyped run dir, not an input: an error, instead of a row of "file not found".
    """

    k = 0
    while k < len(models) and (models[k].startswith(AUTHORS)
                               or any((Path(models[k]) / m).is_file() for m in RUN_MARKERS)):
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
    ap = Parser(prog="python -m sfi_mos.predict", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="+", action="extend", required=True, metavar="RUN_DIR",
                    help="finished MOS run dir(s) (holding best.pt and done.json); several are averaged (fold ensemble)")
    ap.add_argument("--cell", default=None, metavar="NAME",
                    help="with --model GRID_RESULTS_DIR (e.g. results/default): that cell's fold ensemble, "
                    "found from the grid's predict runs (name, e.g. authors-hubert or authors-hubert-s0)")
    ap.add_argument("inputs", nargs="*", metavar="INPUT", help="audio files, directories or list files")
    ap.add_argument("--out", required=True, type=path_arg, help="output CSV")
    ap.add_argument("--batch-size", type=int_in_range(1, MAX_BATCH, "--batch-size"), default=8,
                    help=f"clips scored at once (1-{MAX_BATCH}, default 8)")
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    ap.add_argument("--ssl", default=None, metavar="HF_DIR",
                    help="with --model authors:CKPT: the backbone's save_pretrained folder (its config.json)")
    ap.add_argument("--listeners", default=None, help="with --model authors:CKPT: listener ids to average "
                                                      "(default 1-10, as the authors' demo.py)")
    ap.add_argument("--channel", type=int_in_range(0, 1023, "--channel"), default=None,
                    help="take this channel (0 = first) of multichannel files (mono files are read as they are); "
                         "default: mix all channels to mono")
    ap.add_argument("--chunk-seconds", type=float_in_range(0, 3600, "--chunk-seconds"), default=CHUNK_SECONDS,
                    help=f"predict files longer than this in chunks of at most this length (default {CHUNK_SECONDS:g}; "
                         "0 = whole files, as the authors)")
    args = ap.parse_args(argv)
    if any(not x.strip() for x in [*args.model, *args.inputs]):  # "" would name the current folder
        ap.error("an empty --model or INPUT argument (an unset shell variable?); give a path")
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
    try:
        return _predict(args, models, inputs)
    except KeyboardInterrupt:  # nothing is written before the end: there is nothing half-done to clean
        print(f"\ninterrupted: nothing written to {args.out}; rerun the same command", file=sys.stderr)
        return 130


def _predict(args, models: list[str], inputs: list[str]) -> int:
    err_file = errors_path(args.out)
    try:  # everything that can be refused is refused before the models load and the audio is read
        found = collect(inputs)
        read = [str(p) for p in found.paths] + [str(Path(i)) for i in inputs if Path(i).is_file()]
        runs = [m for m in models if not m.startswith(AUTHORS)]
        ckpts = [m[len(AUTHORS):] for m in models if m.startswith(AUTHORS)]  # a file, and --ssl a folder read
        refuse_overwrite({"--out": args.out, "--out (its errors file)": err_file},
                         inputs=read + ckpts + [str(Path(m) / f) for m in runs for f in RUN_MARKERS],
                         corpora=[*found.folders, *runs, *([args.ssl] if args.ssl else [])])
        check_writable(args.out, "file", "--out")
        check_writable(err_file, "file", "--out")
        from .predictor import Predictor, resolve_device  # torch: seconds

        device = resolve_device(args.device, "--device")
        authors = [m[len(AUTHORS):] for m in models if m.startswith(AUTHORS)]
        if authors and len(models) > 1:
            raise InputError("--model", "an authors: checkpoint is scored on its own, not with other models")
        if authors:
            listeners = parse_listeners(args.listeners) if args.listeners is not None else None
            predictor = Predictor.from_authors(authors[0], args.ssl, listeners, device=device)
        elif args.ssl is not None or args.listeners is not None:
            raise InputError("--ssl/--listeners", "only apply to --model authors:CKPT")
        else:
            predictor = Predictor.from_runs(*models, device=device)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    demo = demo_reasons(models)
    if demo:
        print(f"warning: a pipeline demo, not a MOS predictor ({' and '.join(demo)}): its scores say "
              "nothing about speech quality", file=sys.stderr)
    df, errors = predictor.predict_files(found.paths, batch_size=args.batch_size, progress=True, ids=found.ids,
                                         channel=args.channel, chunk_seconds=args.chunk_seconds)
    failed = pd.concat([pd.DataFrame(found.problems, columns=["path", "error"]), errors], ignore_index=True)
    skipped = pd.DataFrame([(p, f"skipped: {why}") for p, why in found.skipped], columns=["path", "error"])
    failed["path"] = failed["path"].map(shown)
    skipped["path"] = skipped["path"].map(shown)
    if found.repeated:
        print(f"note: {found.repeated} input(s) named a file already listed; each file is predicted once",
              file=sys.stderr)
    write_csv(args.out, df)
    for e in skipped.itertuples():
        print(f"skipped: {e.path}: {e.error.removeprefix('skipped: ')}", file=sys.stderr)
    for e in failed.itertuples():
        print(f"error: {e.path}: {e.error}", file=sys.stderr)
    if len(failed) or len(skipped):
        write_csv(err_file, pd.concat([failed, skipped], ignore_index=True))
    else:
        err_file.unlink(missing_ok=True)  # a stale errors file from an earlier run would mislead
    print(f"found {len(found.paths) + len(found.problems) + len(found.skipped)} inputs: predicted {len(df)}, "
          f"failed {len(failed)}, skipped {len(skipped)} (not audio)" + (f"; see {err_file}" if len(failed) or
                                                                         len(skipped) else ""), file=sys.stderr)
    print(f"wrote {len(df)} predictions to {args.out}", file=sys.stderr)
    return 1 if len(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
