"""The bad-input catalogue: one ``Case`` per damaged input or fault, run as a real CLI subprocess.

Every case asserts what a careful new user is promised (DEVELOPERS.md, "bad input gets a clear
error and loses nothing"):

* the exit code (``code``; 2 for bad input unless the entry point documents otherwise);
* no Python traceback anywhere in stdout/stderr;
* for a failing case, exactly one line starting ``error:`` that names the file (and row, when the
  problem is in a row): every string in ``names`` must appear in that line;
* no partial or corrupt output: every path in ``absent`` does not exist afterwards, and every
  path in ``unchanged`` has the bytes it had before the run;
* where other work was possible, it still happened: every path in ``present`` exists afterwards.

A case's ``setup(tmp_path)`` builds its inputs and returns the argv (after ``python -m``) plus
any paths (relative to ``tmp_path``) to check. Entry points own their case lists in
``tests/catalogue/cases_<entry>.py``; ``tests/catalogue/test_catalogue.py`` runs them all.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
OUTCOMES = ("error", "handled")  # error: one-line named error; handled: the run did what it promised


@dataclass
class Setup:
    argv: list[str]  # after "python -m"
    names: tuple[str, ...] = ()  # strings the one error line must contain (file, row, ...)
    absent: tuple[str, ...] = ()  # paths (relative to tmp_path) that must not exist afterwards
    present: tuple[str, ...] = ()  # paths that must exist afterwards (work that was still possible)
    unchanged: tuple[str, ...] = ()  # paths whose bytes must not change
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    timeout: float = 120.0
    check: Callable[["Result"], None] | None = None  # extra assertions


@dataclass
class Case:
    id: str  # "<entry>/<short-name>", unique
    setup: Callable[[Path], Setup]
    code: int = 2
    outcome: str = "error"  # see OUTCOMES

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"{self.id}: outcome {self.outcome!r} not in {OUTCOMES}")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    tmp: Path

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in (self.stdout + "\n" + self.stderr).splitlines() if ln.startswith("error:")]


def _snapshot(tmp: Path, rels) -> dict[str, bytes | None]:
    out = {}
    for r in rels:
        p = tmp / r
        out[r] = p.read_bytes() if p.is_file() else None
    return out


def run_case(case: Case, tmp: Path) -> Result:
    s = case.setup(tmp)
    before = _snapshot(tmp, s.unchanged)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **s.env}
    p = subprocess.run([sys.executable, "-m", *s.argv], cwd=tmp, env=env, capture_output=True, text=True,
                       input=s.stdin, timeout=s.timeout)
    r = Result(p.returncode, p.stdout, p.stderr, tmp)
    both = r.stdout + r.stderr
    assert "Traceback (most recent call last)" not in both, f"{case.id}: traceback\n{both[-3000:]}"
    assert r.code == case.code, f"{case.id}: exit {r.code}, expected {case.code}\n{both[-3000:]}"
    if case.outcome == "error":
        lines = r.error_lines
        assert len(lines) == 1, f"{case.id}: expected exactly one 'error:' line, got {lines}\n{both[-3000:]}"
        for name in s.names:
            assert name in lines[0], f"{case.id}: error line does not name {name!r}: {lines[0]}"
    for rel in s.absent:
        assert not (tmp / rel).exists(), f"{case.id}: partial output left at {rel}"
    for rel in s.present:
        assert (tmp / rel).exists(), f"{case.id}: expected {rel} (work that was possible) to exist"
    after = _snapshot(tmp, s.unchanged)
    for rel in s.unchanged:
        assert before[rel] == after[rel], f"{case.id}: {rel} was changed"
    if s.check is not None:
        s.check(r)
    return r
