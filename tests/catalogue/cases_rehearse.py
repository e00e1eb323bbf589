"""Bad input to ``python -m replication.rehearse`` and to ``run_all --costs``: one named error line, nothing written."""
from __future__ import annotations

from pathlib import Path

from .harness import Case, Setup


def _rehearse(*args: str, names: tuple[str, ...]):
    def setup(tmp: Path) -> Setup:
        return Setup(["replication.rehearse", "--results", "res", *args], names=names, absent=("res",))
    return setup


def _costs_file(text: str | None, dry_run: bool = True):
    def setup(tmp: Path) -> Setup:
        path = tmp / "rehearsal.json"
        if text is not None:
            path.write_text(text)
        argv = ["replication.run_all", "--grid", "smoke", "--results", "res", "--costs", "rehearsal.json"]
        return Setup(argv + (["--dry-run"] if dry_run else []),
                     names=("rehearsal.json",) if dry_run else ("--costs",), absent=("res",))
    return setup


CASES = [
    Case("rehearse/steps-zero", _rehearse("--steps", "0", names=("--steps",))),
    Case("rehearse/only-matches-no-cell", _rehearse("--only", "nothing-*", names=("--only", "nothing-*"))),
    Case("rehearse/json-dir-missing", _rehearse("--json", "missing/out.json", names=("--json", "missing"))),
    Case("rehearse/costs-not-a-rehearsal", _costs_file('{"format": "something else"}')),
    Case("rehearse/costs-not-json", _costs_file("not json")),
    Case("rehearse/costs-missing-file", _costs_file(None)),
    Case("rehearse/costs-without-dry-run", _costs_file('{"format": "x"}', dry_run=False)),
]
