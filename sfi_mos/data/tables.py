"""Strict reading of the small text tables that corpora ship (CSV label files, lists, maps).

Rows keep their 1-based file line number so every error can say "file line N: what is wrong".
Parsing uses the csv module (not pandas) because pandas drops blank lines and so shifts numbers.
"""
from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sfi_mos.errors import InputError

RATING_MIN, RATING_MAX = 1.0, 5.0


def at(path, line: int | None = None) -> str:
    """Error location: ``path`` or ``path line N``."""
    return f"{path} line {line}" if line is not None else str(path)


def read_text(path, newline: str | None = "") -> io.StringIO:
    """The file's text; bytes that are not UTF-8 are an error naming the line they are on.

    A UTF-8 BOM (label files edited on Windows) is dropped: it would corrupt the first name.
    ``newline`` as for ``open`` ("" keeps line ends for the csv module, None translates them).
    """
    if not os.path.isfile(path):
        raise InputError(path, "file not found")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(path, f"cannot read ({e.strerror or e})") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(at(path, line), f"not UTF-8 text (byte 0x{data[e.start]:02x} at column "
                                         f"{e.start - start + 1}); save the file as UTF-8") from None
    return io.StringIO(text, newline=newline)


def read_rows(path: str | os.PathLike, columns: Sequence[str], header: bool = True) -> pd.DataFrame:
    """Read a comma-separated table into string columns ``columns`` plus an int ``line`` column.

    With ``header=True`` the first non-blank line names the columns; each of ``columns`` must be
    present (extra columns are ignored). Without a header each row must have exactly
    ``len(columns)`` fields in that order. Blank lines are skipped; ragged rows are errors.
    """
    rows: list[list[str]] = []
    lines: list[int] = []
    with read_text(path) as f:
        reader = csv.reader(f)
        names: list[str] | None = None if header else list(columns)
        pick: list[int] = list(range(len(columns)))
        end = 0  # line the previous record ended on: a record (quoted newlines) starts after it
        try:
            for fields in reader:
                line, end = end + 1, reader.line_num
                if not fields or all(not x.strip() for x in fields):
                    continue
                fields = [x.strip() for x in fields]
                if names is None:
                    names = fields
                    missing = [c for c in columns if c not in names]
                    if missing:
                        raise InputError(at(path, line),
                                         f"missing required column(s) {', '.join(missing)}; header "
                                         f"is {','.join(names)!r}, expected {','.join(columns)!r}")
                    pick = [names.index(c) for c in columns]
                    continue
                if len(fields) != len(names):
                    raise InputError(at(path, line),
                                     f"expected {len(names)} comma-separated fields "
                                     f"({','.join(names)}), found {len(fields)}")
                rows.append([fields[i] for i in pick])
                lines.append(line)
        except csv.Error as e:
            raise InputError(at(path, end + 1), f"malformed CSV ({e})") from None
    if header and names is None:
        raise InputError(path, f"empty file; expected a header {','.join(columns)!r}")
    df = pd.DataFrame(rows, columns=list(columns), dtype=object)
    df["line"] = np.asarray(lines, dtype=np.int64)
    return df


def read_list(path: str | os.PathLike) -> pd.DataFrame:
    """One item per non-blank line -> DataFrame[item, line]."""
    items, lines = [], []
    with read_text(path, newline=None) as f:
        for n, raw in enumerate(f, start=1):
            s = raw.strip()
            if s:
                items.append(s)
                lines.append(n)
    return pd.DataFrame({"item": pd.Series(items, dtype=object), "line": np.asarray(lines, np.int64)})


def read_map(path: str | os.PathLike) -> dict[str, str]:
    """``name|id`` lines -> {name: id}; malformed or repeated names are errors."""
    out: dict[str, str] = {}
    first: dict[str, int] = {}
    for item, line in read_list(path).itertuples(index=False):
        parts = item.split("|")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise InputError(at(path, line), f"expected 'name|id', found {item!r}")
        name, ident = parts[0].strip(), parts[1].strip()
        if name in out:
            raise InputError(at(path, line), f"name {name!r} already mapped on line {first[name]}")
        out[name], first[name] = ident, line
    return out


def parse_numbers(values: pd.Series, lines: pd.Series, path, what: str = "rating",
                  lo: float | None = RATING_MIN, hi: float | None = RATING_MAX) -> np.ndarray:
    """Strings -> float64; the first non-numeric, NaN/inf or out-of-range value is an error."""
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(out)
    if lo is not None:
        bad |= out < lo
    if hi is not None:
        bad |= out > hi
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw, val = values.iloc[i], out[i]
        if math.isnan(val) or math.isinf(val):
            problem = f"{what} {raw!r} is not a finite number"
        else:
            problem = f"{what} {raw!r} is outside the range {lo:g}-{hi:g}"
        raise InputError(at(path, int(lines.iloc[i])), problem)
    return out


def check_unique(df: pd.DataFrame, keys: Sequence[str], path, what: str) -> None:
    """Error naming both lines for the first repeated combination of ``keys``."""
    dup = df.duplicated(list(keys), keep=False)
    if not dup.any():
        return
    d = df[dup]
    first = d.iloc[0]
    same = d[(d[list(keys)] == first[list(keys)]).all(axis=1)]
    vals = ", ".join(f"{k}={first[k]!r}" for k in keys)
    raise InputError(at(path, int(same["line"].iloc[1])),
                     f"duplicate {what} ({vals}); first seen on line {int(same['line'].iloc[0])}")
