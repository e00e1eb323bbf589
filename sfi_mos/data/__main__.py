"""Check a corpus and print what the readers see: ``python -m sfi_mos.data KIND ROOT``.

For cluster users placing the real data: every problem is reported as ``file line N: what is wrong``
(exit code 2); otherwise a per-split, per-rate summary is printed (and written with ``--json``).
"""
from __future__ import annotations

import json
import sys
from collections import Counter

from sfi_mos import atomic
from sfi_mos.cli import Parser, refuse_overwrite
from sfi_mos.data import READERS, UnlabelledAudio, read_corpus
from sfi_mos.errors import InputError


def summarise(corpus) -> dict:
    u = corpus.utterances
    out = {"kind": corpus.kind, "root": str(corpus.root), "n_ratings": len(corpus.ratings),
           "n_listeners": len(corpus.listeners), "splits": {}}
    for split in corpus.splits:
        s = u[u["split"] == split]
        out["splits"][split] = {
            "utterances": len(s), "labelled": int(s["mos"].notna().sum()),
            "systems": int(s["system_id"].nunique()),
            "ratings": int(s["n_ratings"].sum()),
            "mean_mos": None if s["mos"].isna().all() else round(float(s["mos"].mean()), 4),
            "per_rate": {str(k): int(v) for k, v in s.groupby("sample_rate").size().items()}}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="python -m sfi_mos.data", description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=[*READERS, "folder"])
    ap.add_argument("root")
    ap.add_argument("--eval-root", help="track3: folder holding the eval phase's DATA/")
    ap.add_argument("--check-audio", choices=["none", "header", "full"], default="header",
                    help="header: soundfile.info of every wav (default); full: decode every wav")
    ap.add_argument("--json", help="also write the summary as JSON here")
    args = ap.parse_args(argv)
    check = {"none": False, "header": True, "full": "full"}[args.check_audio]
    if args.eval_root and args.kind != "track3":
        ap.error("--eval-root is for track3 only")
    try:
        return _check(args, check)
    except KeyboardInterrupt:  # the summary is written atomically at the end: nothing half-written
        print("\ninterrupted: nothing written; rerun the same command", file=sys.stderr)
        return 130


def _check(args, check) -> int:
    try:
        if args.json:  # before reading: a corpus check can take minutes; never inside the corpus
            refuse_overwrite({"--json": args.json}, corpora=[args.root, args.eval_root])
            atomic.check_writable(args.json, "file", "--json")
        if args.kind == "folder":
            ds = UnlabelledAudio(args.root)  # headers are always read: rates are part of the summary
            if check == "full":
                for i in range(len(ds)):
                    ds.crop(i)
            rates = Counter(str(ds.info(i).sample_rate) for i in range(len(ds)))
            summary = {"kind": "folder", "root": str(ds.root), "files": len(ds), "skipped": len(ds.skipped),
                       "hours": round(sum(ds.info(i).seconds for i in range(len(ds))) / 3600, 4),
                       "per_rate": dict(sorted(rates.items()))}
            for path, why in ds.skipped:
                print(f"skipped: {path}: {why}", file=sys.stderr)
            print(f"found {len(ds) + len(ds.skipped)} files: read {len(ds)} audio, skipped {len(ds.skipped)}",
                  file=sys.stderr)
        else:
            kw = {"check_audio": check}
            if args.eval_root:
                kw["eval_root"] = args.eval_root
            summary = summarise(read_corpus(args.kind, args.root, **kw))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    if args.json:
        try:
            atomic.write_json(args.json, summary)
        except OSError as e:  # e.g. the disk filled up meanwhile; the old file (if any) is kept
            print(f"error: --json {args.json}: cannot write ({e.strerror or e})", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
