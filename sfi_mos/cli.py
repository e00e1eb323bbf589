"""Small pieces shared by the command-line entry points.

* :class:`Parser`: an ``ArgumentParser`` whose single-valued options refuse to be given twice (a
  second ``--data`` would silently win) and refuse an empty value (``--only ""``, as an unset shell
  variable gives), each with a named error.
* :func:`int_at_least` / :func:`int_in_range`: integer types with their bounds in the message;
  arguments that size work get a stated maximum.
* :func:`refuse_overwrite`: before any work, no output may be one of the files a command reads
  (compared by resolved path and by inode, so hard links and symbolic links count) and nothing may
  be written inside a corpus it reads. The same protection is armed in ``sfi_mos.atomic`` so that a
  write found only later is refused too.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Iterable

from . import atomic
from .errors import InputError


class StoreOnce(argparse.Action):
    """``store`` that names a repeated option and an empty value as errors."""

    def __call__(self, parser, namespace, values, option_string=None):
        name = option_string or self.dest
        for v in values if isinstance(values, list) else [values]:
            if isinstance(v, (str, os.PathLike)) and not os.fspath(v).strip():
                what = "an empty value" if option_string else "an empty argument"
                raise argparse.ArgumentError(self, f"{what} (an unset shell variable?); give a value")
        if option_string is not None:
            seen = namespace.__dict__.setdefault("_given_once", {})
            if self.dest in seen:
                raise argparse.ArgumentError(self, f"given twice ({seen[self.dest]!s} and {values!s}); "
                                                   f"give {name} once")
            seen[self.dest] = values
        setattr(namespace, self.dest, values)


class Parser(argparse.ArgumentParser):
    """ArgumentParser with :class:`StoreOnce` as the default action (groups share it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, StoreOnce)
        self.register("action", "store", StoreOnce)

    def parse_args(self, args=None, namespace=None):
        ns = super().parse_args(args, namespace)
        ns.__dict__.pop("_given_once", None)
        return ns

    def parse_known_args(self, args=None, namespace=None):
        ns, rest = super().parse_known_args(args, namespace)
        ns.__dict__.pop("_given_once", None)
        return ns, rest


def int_at_least(minimum: int, flag: str = "integer"):
    """An argparse ``type`` accepting integers >= ``minimum``; its message names the problem."""
    return int_in_range(minimum, None, flag)


def int_in_range(minimum: int, maximum: int | None, flag: str = "integer", why: str = ""):
    """An argparse ``type`` accepting ``minimum <= n <= maximum``; ``why`` says what the maximum protects."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {n}")
        if maximum is not None and n > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {n}" + (f" ({why})" if why else ""))
        return n
    parse.__name__ = flag  # argparse names the type in its message
    return parse


def float_in_range(minimum: float, maximum: float, flag: str = "number"):
    """An argparse ``type`` accepting finite floats in [minimum, maximum]."""
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not minimum <= x <= maximum:  # also NaN
            raise argparse.ArgumentTypeError(f"must be in [{minimum:g}, {maximum:g}], got {text}")
        return x
    parse.__name__ = flag
    return parse


def path_arg(text: str) -> Path:
    """An argparse ``type`` for a path: an empty one (an unset shell variable) is an error, not "."."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path (an unset shell variable?)")
    return Path(text)


path_arg.__name__ = "path"


def _identity(p: Path) -> tuple[str, tuple[int, int] | None]:
    try:
        st = os.stat(p)
        return os.path.realpath(p), (st.st_dev, st.st_ino)
    except OSError:
        return os.path.realpath(p), None


def _inside(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree.rstrip(os.sep) + os.sep)


def refuse_overwrite(outputs: dict[str, str | os.PathLike | None], inputs: Iterable[str | os.PathLike] = (),
                     corpora: Iterable[str | os.PathLike] = (), out_dirs: dict[str, str | os.PathLike | None] | None = None
                     ) -> None:
    """Refuse, before any work, outputs that are inputs or lie inside a corpus that is read.

    ``outputs``: {label (e.g. "--out"): file the command writes}; ``out_dirs``: {label: folder the
    command writes files in (it may not hold an input file)}; ``inputs``: files it reads;
    ``corpora``: folders it reads (no output may be written inside them). Paths are
    compared after resolving symbolic links and by (device, inode), so a hard link counts. Arms
    ``atomic.protect`` with the same sets for writes that are decided later.
    """
    ins = [Path(p) for p in inputs if p is not None and os.fspath(p) != ""]
    trees = [Path(p) for p in corpora if p is not None and os.fspath(p) != ""]
    in_ids = [(p, *_identity(p)) for p in ins]
    tree_real = [(t, os.path.realpath(t)) for t in trees]
    for label, out in outputs.items():
        if out is None:
            continue
        real, ino = _identity(Path(out))
        for p, preal, pino in in_ids:
            if real == preal or (ino is not None and ino == pino):
                how = "is" if real == preal else "is a hard link to"
                raise InputError(f"{label} {out}", f"{how} one of the input files ({p}), which would be "
                                                   "overwritten; write the output somewhere else")
        _check_trees(label, out, real, tree_real)
    for label, d in (out_dirs or {}).items():
        if d is None:
            continue
        dreal = os.path.realpath(d)
        _check_trees(label, d, dreal, tree_real)
        for p, preal, _ in in_ids:
            if os.path.dirname(preal) == dreal:  # the command writes files directly in the folder
                raise InputError(f"{label} {d}", f"holds the input {p}; write the output to another folder")
    atomic.protect([p for p, *_ in in_ids], trees)


def _check_trees(label: str, out, out_real: str, trees) -> None:
    for t, treal in trees:
        if _inside(out_real, treal):
            raise InputError(f"{label} {out}", f"is inside {t}, which this command reads; nothing is written "
                                               "inside an input corpus or folder: write the output somewhere else")
