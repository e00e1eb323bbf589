"""Exact (rational) values behind MOS and predictions, and rank keys that keep exact ties.

Floating-point means break ties: two systems whose ratings sum to the same total get means that
differ in the last bit, in a direction set by summation order. Rank metrics (SRCC, KTAU) then
see an order that the data do not have. So every value is also kept as a ``Fraction``:

* a number read from text is the decimal exactly as written (``"3.7"`` -> 37/10);
* a float is the shortest decimal that round-trips to it (``repr``), i.e. what pandas writes to a
  CSV, so a DataFrame and its CSV give the same rational;
* an utterance MOS from ratings is their exact sum over their count.

Means of Fractions are exact; :func:`rank_key` turns them into dense integer ranks (equal values,
equal rank) that the rank metrics use instead of the rounded floats.
"""
from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np

from sfi_mos.metrics.reading import is_number_text


# |decimal exponent| beyond any float64: such a value is out of range, and its exact Fraction
# (10**999999999) would keep the reader busy for minutes
MAX_EXPONENT = 400


def number_problem(text: str) -> str | None:
    """Why a number's text cannot be a score (None when it can): not a number, NaN/infinite, or out of
    the float range. Bounded time for any input (no exact value is built)."""
    s = str(text).strip()
    if not is_number_text(s):
        return "is NaN, infinite or not a number"
    exp = s.lower().partition("e")[2].lstrip("+-")
    if len(exp) > 4 or (exp and int(exp) > MAX_EXPONENT) or not math.isfinite(float(s)):
        return f"is out of range (beyond +-1.8e308, or an exponent beyond +-{MAX_EXPONENT})"
    return None


def to_fraction(v) -> Fraction | None:
    """Exact value of a cell, or None if it is blank, not a number, NaN or infinite."""
    if isinstance(v, Fraction):
        return v
    if isinstance(v, (bool, np.bool_)) or v is None:
        return None
    if isinstance(v, (int, np.integer)):
        return Fraction(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return Fraction(repr(f)) if math.isfinite(f) else None
    if isinstance(v, Decimal):
        return Fraction(v) if v.is_finite() else None
    if isinstance(v, str):
        s = v.strip()
        return Fraction(s) if is_number_text(s) and number_problem(s) is None else None
    return None


def fractions_of(values) -> list[Fraction | None]:
    """:func:`to_fraction` of every cell; repeated cells (ratings take few values) are parsed once."""
    memo: dict = {}
    out = []
    for v in (values.to_numpy(dtype=object) if hasattr(values, "to_numpy") else values):
        try:
            key = (type(v), v)
            f = memo[key] if key in memo else memo.setdefault(key, to_fraction(v))
        except TypeError:  # unhashable cell
            f = to_fraction(v)
        out.append(f)
    return out


def floats(fracs) -> np.ndarray:
    """Correctly rounded floats (equal Fractions give equal floats)."""
    return np.array([float(f) for f in fracs], dtype=float)


def rank_key(fracs) -> np.ndarray:
    """Dense ranks 0..k-1 of exact values: order and ties exactly as in the rationals."""
    fracs = list(fracs)
    fl = floats(fracs)
    # rounding is monotone: different floats are different rationals in the same order, so the
    # (slow) exact comparison is needed only between equal floats
    order = sorted(range(len(fracs)), key=lambda i: (fl[i], fracs[i]))
    out = np.empty(len(fracs), dtype=float)
    rank = -1
    for j, i in enumerate(order):
        if j == 0 or fl[i] != fl[order[j - 1]] or fracs[i] != fracs[order[j - 1]]:
            rank += 1
        out[i] = rank
    return out


def exact_mean(fracs) -> Fraction:
    fracs = list(fracs)
    return sum(fracs, Fraction(0)) / len(fracs)
