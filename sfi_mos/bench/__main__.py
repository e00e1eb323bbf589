"""Dispatcher: ``python -m sfi_mos.bench NAME [--json OUT] [options of the NAME module]``."""
from __future__ import annotations

import importlib
import pkgutil
import sys

import sfi_mos.bench as pkg

from sfi_mos.atomic import check_writable, write_json
from sfi_mos.cli import Parser
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
        hint = " (options go after the benchmark name)" if name.startswith("-") else ""
        raise InputError("python -m sfi_mos.bench", f"unknown benchmark {name!r}{hint}; available: {', '.join(names)}")
    module = importlib.import_module(f"sfi_mos.bench.{name}")
    parser = Parser(prog=f"python -m sfi_mos.bench {name}")
    parser.add_argument("--json", default=None, help="write the results here (atomically)")
    if hasattr(module, "run"):
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
        args = parser.parse_args(rest)
        if args.json:
            check_writable(args.json, "file", "--json")  # before minutes of timing
        result = module.run(args)
    elif hasattr(module, "main"):  # a module with its own CLI: main(argv) -> dict
        args, rest = parser.parse_known_args(rest)
        if args.json:
            check_writable(args.json, "file", "--json")
        result = module.main(rest)
    else:
        raise InputError(f"sfi_mos.bench.{name}", "defines neither run(args) nor main(argv)")
    if not isinstance(result, dict):
        raise InputError(f"sfi_mos.bench.{name}", f"returned {type(result).__name__}, not a dict")
    print(format_table(result))
    if args.json:
        write_json(args.json, result)
    return result


def cli(argv: list[str] | None = None) -> int:
    """``main`` with bad input as one ``error:`` line (exit 2) and Ctrl-C as exit 130."""
    try:
        main(argv)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: results are written at the end; nothing was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(cli())
