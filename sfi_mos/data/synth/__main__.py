"""CLI: python -m sfi_mos.data.synth --out DIR --size tiny|demo|full --seed N [--rates ...] [--voices ...]"""
from __future__ import annotations

import argparse
import sys
import time

from sfi_mos.atomic import check_writable
from sfi_mos.errors import InputError

from . import generate
from .corpus import DEFAULT_RATES, VOICES
from .plan import SIZES
from sfi_mos.jsonio import read_json


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sfi_mos.data.synth", description=__doc__)
    ap.add_argument("--out", required=True, help="corpus folder to create")
    ap.add_argument("--size", choices=sorted(SIZES), default="demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)),
                    help="comma-separated Hz; also 8000, 22050, 44100 for unseen-rate tests")
    ap.add_argument("--voices", choices=VOICES, default="builtin",
                    help="builtin: numpy voice only, byte-identical everywhere (default); "
                         "auto: also Debian TTS engines/ffmpeg when installed")
    ap.add_argument("--force", action="store_true", help="replace an existing corpus made with other parameters")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(errors="backslashreplace")  # a folder name that is not UTF-8 is still printable
    t0 = time.perf_counter()
    try:
        rates = [int(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        print(f"error: --rates: not a comma-separated list of integers: {args.rates!r}", file=sys.stderr)
        return 2
    try:
        check_writable(args.out, "dir", "--out")
        out = generate(args.out, size=args.size, seed=args.seed, rates=rates, voices=args.voices, force=args.force)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk filled up: nothing was left at --out (built in a temp folder)
        print(f"error: --out {args.out}: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}", file=sys.stderr)
        return 1
    manifest = read_json(out / "manifest.json")
    print(f"corpus: {out}")
    print(f"size={manifest['size']} seed={manifest['seed']} rates={manifest['rates']} voices={manifest['voices_used']}")
    print("counts: " + ", ".join(f"{k}={v}" for k, v in manifest["counts"].items()))
    print(f"audio: {manifest['seconds_of_audio']:.1f} s   content_hash: {manifest['content_hash']}")
    print(f"took {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
