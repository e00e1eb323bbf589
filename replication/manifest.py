"""``results/<grid>/manifest.json``: run dir → the job that was submitted for it.

Written read-merge-write under a lock and atomically, so two run_all processes never lose each
other's entries and a reader never sees a partial file. It is a record of submissions only; whether
a run finished is always read from its run directory.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sfi_mos.atomic import write_json
from sfi_mos.errors import InputError
from sfi_mos.jsonio import read_json

from .lock import Lock

NAME = "manifest.json"


def read(grid_dir: Path) -> dict[str, dict[str, Any]]:
    path = grid_dir / NAME
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        runs = read_json(path, {"runs": dict})["runs"]
    except InputError as e:  # edited by hand, or not ours
        raise InputError(str(path), f"not a readable run manifest ({e.problem}); it only records "
                         "submitted jobs: move it away and rerun (finished runs are read from their run dirs)") from None
    if not isinstance(runs, dict) or not all(isinstance(v, dict) for v in runs.values()):
        raise InputError(str(path), "not a run manifest: 'runs' must map run dirs to job records")
    return runs


def record(grid_dir: Path, grid: str, entries: dict[str, dict[str, Any]]) -> None:
    if not entries:
        return
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with Lock(grid_dir / ".manifest.lock"):
        runs = read(grid_dir)
        for rel, e in entries.items():
            runs[rel] = {**e, "submitted_utc": e.get("submitted_utc", now)}
        write_json(grid_dir / NAME, {"grid": grid, "runs": runs})
