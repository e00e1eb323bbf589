"""Issue 21, class 5: run files of the right syntax but the wrong shape (``[]``, a string, a number
where an object is expected) are named errors from the one JSON reader (``sfi_mos.jsonio``), never an
``AttributeError``."""
from __future__ import annotations

import json
from pathlib import Path

from .cases_make_tables import _results, _tables
from .cases_run_all import _fake
from .harness import Case, Setup, copy_shared


def _one(grid: Path, pattern: str) -> Path:
    return sorted(grid.glob(pattern))[0]


def _rel(tmp: Path, p: Path) -> str:
    return p.relative_to(tmp).as_posix()


def _tables_with(pattern: str, text: str | None = None, edit=None):
    def setup(tmp: Path) -> Setup:
        f = _one(_results(tmp), pattern)
        if edit is not None:
            obj = json.loads(f.read_text())
            edit(obj)
            text_ = json.dumps(obj)
        else:
            text_ = text
        f.write_text(text_)
        return _tables(names=(_rel(tmp / "results", f),))
    return setup


def _set(key, value):
    def edit(obj):
        obj[key] = value
    return edit


def _manifest(text: str):
    def setup(tmp: Path) -> Setup:
        copy_shared("fake_smoke", tmp / "results", "results")
        (tmp / "results" / "smoke" / "manifest.json").write_text(text)
        return _fake(["--results", "results", "--dry-run"], names=("manifest.json",),
                     unchanged=("results/smoke/manifest.json",))
    return setup


CASES = [
    Case("json/make-tables-config-is-a-list", _tables_with("finetune/*/config.json", "[]")),
    Case("json/make-tables-done-is-a-list", _tables_with("predict/*/done.json", "[]")),
    Case("json/make-tables-env-is-a-string", _tables_with("finetune/*/env.json", '"env"')),
    Case("json/make-tables-backbone-is-a-number", _tables_with("finetune/*/config.json", edit=_set("backbone", 3))),
    Case("json/make-tables-teacher-name-is-a-list", _tables_with(
        "distill/*/config.json", edit=lambda c: c["teacher"].__setitem__("name", ["hubert"]))),
    Case("json/make-tables-cell-is-a-string", _tables_with("predict/*/config.json", edit=_set("cell", "x"))),
    Case("json/make-tables-predict-runs-is-an-object", _tables_with("predict/*/config.json", edit=_set("runs", {}))),
    Case("json/make-tables-metrics-is-a-list", _tables_with("score/*/metrics.json", "[]")),
    Case("json/run-all-manifest-is-a-list", _manifest("[]")),
    Case("json/run-all-manifest-runs-is-a-string", _manifest('{"grid": "smoke", "runs": "all"}')),
]
