"""``results/<grid>/manifest.json``: run dir → the job that was submitted for it.

Written read-merge-write under a lock and atomically, so two run_all processes never lose each
other's entries and a reader never sees a partial file. It is a record of submissions only; whether
a run finished is always read from its run directory.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sfi_mos.atomic import write_json

from .lock import Lock

NAME = "manifest.json"


def read(grid_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        return json.loads((grid_dir / NAME).read_text())["runs"]
    except FileNotFoundError:
        return {}


def record(grid_dir: Path, grid: str, entries: dict[str, dict[str, Any]]) -> None:
    if not entries:
        return
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with Lock(grid_dir / ".manifest.lock"):
        runs = read(grid_dir)
        for rel, e in entries.items():
            runs[rel] = {**e, "submitted_utc": e.get("submitted_utc", now)}
        write_json(grid_dir / NAME, {"grid": grid, "runs": runs})
