"""Runs every case of ``tests/catalogue/cases_*.py`` (see ``harness``)."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from .harness import Case, run_case

HERE = Path(__file__).resolve().parent


def _cases() -> list[Case]:
    out: list[Case] = []
    for f in sorted(HERE.glob("cases_*.py")):
        mod = importlib.import_module(f"{__package__}.{f.stem}")
        out += list(mod.CASES)
    ids = [c.id for c in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"duplicate catalogue case ids: {dup}")
    return out


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, tmp_path):
    run_case(case, tmp_path)
