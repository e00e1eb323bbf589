"""Dispatcher: ``python -m sfi_mos.bench NAME [--json OUT] [options of the NAME module]``."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import sfi_mos.bench as pkg

from sfi_mos.atomic import write_json
from sfi_mos.errors import InputError

from . import format_table


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m sfi_mos.bench NAME [--json OUT] [options]\nNAME: {', '.join(names)}")
        return {}
    name, rest = argv[0], argv[1:]
    if name not in names:
        raise InputError("python -m sfi_mos.bench", f"unknown benchmark {name!r}; available: {names}")
    module = importlib.import_module(f"sfi_mos.bench.{name}")
    parser = argparse.ArgumentParser(prog=f"python -m sfi_mos.bench {name}")
    parser.add_argument("--json", default=None, help="write the results here (atomically)")
    if hasattr(module, "run"):
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
        args = parser.parse_args(rest)
        result = module.run(args)
    elif hasattr(module, "main"):  # a module with its own CLI: main(argv) -> dict
        args, rest = parser.parse_known_args(rest)
        result = module.main(rest)
    else:
        raise InputError(f"sfi_mos.bench.{name}", "defines neither run(args) nor main(argv)")
    if not isinstance(result, dict):
        raise InputError(f"sfi_mos.bench.{name}", f"returned {type(result).__name__}, not a dict")
    print(format_table(result))
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
