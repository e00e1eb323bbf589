"""Reading score tables (predictions, truth) with physical line numbers; picking their columns.

Files are read with the csv module, not pandas: pandas skips blank lines and so shifts line
numbers, and it hides where an undecodable byte sits. Every row keeps its physical line in the
file (``line``), so an error can say ``pred.csv, line 7``.

Columns are found by name (a canonical name, then known aliases) or given explicitly
(:class:`Columns`). A file is header-less when its first row names no known column and holds a
number (the VoiceMOS ``answer.txt`` form ``uttID,score``); its columns are then called ``1``,
``2``, ... and explicit column options refer to those numbers.
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sfi_mos.errors import InputError

HEADER_MODES = ("auto", "yes", "no")
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")

# canonical name first; then aliases written by the organisers and by peers
ID_NAMES = ("utt_id", "uttID", "sample_id")  # sample_id: SHEET results.csv
PRED_NAMES = ("pred", "answer", "score", "prediction", "predicted_mos", "MOS", "mos")  # answer: SHEET
MOS_NAMES = ("mos", "MOS", "avg_score", "score")  # avg_score: SHEET
RATING_NAMES = ("rating",)
LISTENER_NAMES = ("lisID", "listener_id", "listener")
SYSTEM_NAMES = ("system_id", "sysID", "system")
RATE_NAMES = ("sample_rate",)
N_RATINGS_NAMES = ("n_ratings",)


@dataclass(frozen=True)
class Columns:
    """Explicit column choices for one file; ``None`` = find by name.

    ``id``/``value``/``system`` are header names, or column numbers (``"1"``, ``"2"``, ...) for a
    header-less file. ``header``: ``"auto"`` (detect), ``"yes"`` or ``"no"``.
    """

    id: str | None = None
    value: str | None = None
    system: str | None = None
    header: str = "auto"

    def __post_init__(self):
        if self.header not in HEADER_MODES:
            raise InputError("header", f"{self.header!r} is not one of {', '.join(HEADER_MODES)}")


@dataclass
class Table:
    """Raw cells (strings for files, anything for DataFrames) and where each row came from."""

    df: pd.DataFrame
    source: str
    lines: np.ndarray | None = None  # physical 1-based file lines; None for a DataFrame
    header: bool = True

    def where(self, i: int) -> str:
        """Location of row position ``i``: ``file, line N`` or ``name, row i`` (0-based)."""
        if self.lines is not None:
            return f"{self.source}, line {int(self.lines[i])}"
        return f"{self.source}, row {i}"

    def lines_of(self, idx) -> list[str]:
        return [str(int(self.lines[i])) if self.lines is not None else str(int(i)) for i in idx]

    @property
    def unit(self) -> str:
        return "line" if self.lines is not None else "row"


def is_number_text(s: str) -> bool:
    return bool(_NUMBER_RE.match(s.strip()))


def _decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # a BOM from a Windows editor would corrupt the first name
    except UnicodeDecodeError as e:
        start = e.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data[:start].count(b"\n") + 1
        col = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise InputError(f"{path}, line {line}", f"not UTF-8 text (byte 0x{data[start]:02x} at "
                                                 f"column {col}); save the file as UTF-8 CSV") from None


def read_csv_table(path: str | os.PathLike, header: str = "auto", known: tuple[str, ...] = ()) -> Table:
    """Read a comma-separated file into a :class:`Table` of stripped strings.

    Blank lines are skipped but counted. ``known``: column names that mark a first row as a header
    in ``header="auto"`` mode. Errors (missing or unreadable file, bad bytes, malformed or ragged
    rows, no data rows) raise :class:`InputError` naming the file and line.
    """
    path = os.fspath(path)
    if header not in HEADER_MODES:
        raise InputError("header", f"{header!r} is not one of {', '.join(HEADER_MODES)}")
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not a CSV file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    text = _decode(path, data)
    if "\x00" in text:  # csv would keep it; it means a binary file or UTF-16 text
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(f"{path}, line {line}", "contains a NUL byte: a binary file or UTF-16 text, "
                                                 "not a UTF-8 CSV")
    rows: list[list[str]] = []
    lines: list[int] = []
    # strict: an unterminated quote (a file cut off inside a quoted field) is an error, not a long cell
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for fields in reader:
            if not fields or all(not x.strip() for x in fields):
                continue
            rows.append([x.strip() for x in fields])
            lines.append(reader.line_num)
    except csv.Error as e:
        raise InputError(f"{path}, line {reader.line_num}", f"malformed CSV ({e})") from None
    if not rows:
        raise InputError(path, "empty file (no header and no rows)")
    has_header = _has_header(rows[0], header, known)
    if has_header:
        names, body, body_lines = rows[0], rows[1:], lines[1:]
        if len(set(names)) != len(names) or any(n == "" for n in names):
            dup = sorted({n for n in names if names.count(n) > 1 or n == ""})
            raise InputError(f"{path}, line {lines[0]}", f"header has empty or repeated column names "
                                                         f"{dup} (header: {','.join(names)})")
    else:
        names = [str(i + 1) for i in range(len(rows[0]))]
        body, body_lines = rows, lines
    for fields, line in zip(body, body_lines):
        if len(fields) != len(names):
            what = f"the header ({','.join(names)})" if has_header else f"the first row ({len(names)} fields)"
            raise InputError(f"{path}, line {line}", f"{len(fields)} comma-separated fields, but {what} "
                                                     f"has {len(names)}; is the file truncated or ragged?")
    if not body:
        raise InputError(f"{path}, line {lines[0]}", "header only, no data rows")
    df = pd.DataFrame(body, columns=names, dtype=object)
    return Table(df, path, np.asarray(body_lines, dtype=np.int64), has_header)


def _has_header(first: list[str], mode: str, known: tuple[str, ...]) -> bool:
    if mode != "auto":
        return mode == "yes"
    if any(f in known for f in first):
        return True
    # a data row holds at least one number; a header (almost) never does
    return not any(is_number_text(f) for f in first if f)


def frame_table(df: pd.DataFrame, source: str) -> Table:
    if not isinstance(df, pd.DataFrame):
        raise InputError(source, f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df.columns) == 0:
        raise InputError(source, "no columns")
    return Table(df.reset_index(drop=True), source, None, True)


def blank(values: pd.Series) -> np.ndarray:
    """Cells that hold nothing: None/NaN or an empty / whitespace string."""
    cells = values.to_numpy(dtype=object)
    return values.isna().to_numpy() | np.array([isinstance(v, str) and not v.strip() for v in cells], dtype=bool)


def present(t: Table, name: str) -> bool:
    """Column exists and is not entirely blank (an all-blank optional column counts as absent)."""
    return name in t.df.columns and not blank(t.df[name]).all()


def pick_column(t: Table, role: str, names: tuple[str, ...], explicit: str | None = None,
                option: str | None = None, optional: bool = False, position: str | None = None) -> str | None:
    """The column for ``role``: ``explicit`` if given; else the canonical ``names[0]``; else the one
    alias present. Several aliases present is ambiguous (an error naming ``option``). An optional
    column that is entirely blank counts as absent (-> None). In a header-less file only a 2-column
    ``id,value`` layout is read by ``position`` ("1" or "2")."""
    cols = [str(c) for c in t.df.columns]
    if explicit is not None:
        if explicit not in cols:
            what = "column numbers" if not t.header else "columns"
            raise InputError(t.source, f"no column {explicit!r} for the {role} ({what}: {', '.join(cols)})")
        return explicit
    if not t.header:
        if position is not None and len(cols) == 2:
            return position
        if optional:
            return None
        hint = f"; give its column number with {option}" if option else ""
        raise InputError(t.source, f"no header and {len(cols)} columns: cannot tell which is the {role} "
                                   f"(only 2-column 'id,value' files are read by position){hint}")
    usable = (lambda n: present(t, n)) if optional else (lambda n: n in cols)
    if usable(names[0]):
        return names[0]
    found = [n for n in names[1:] if usable(n)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        hint = f" with {option}" if option else ""
        raise InputError(t.source, f"ambiguous {role} column: {', '.join(found)} all match; choose one{hint}")
    if optional:
        return None
    hint = f", or name it with {option}" if option else ""
    raise InputError(t.source, f"missing {role} column: none of {', '.join(names)} "
                               f"(columns: {', '.join(cols)}){hint}")
