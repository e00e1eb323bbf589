"""Per-item progress of a long stage, so a run killed or requeued after its time limit resumes.

``ItemStore(run_dir, name)`` keeps one JSON file per finished item (a clip, a batch of clips, a
split) under ``run_dir/partial/<name>/``, each written atomically. ``store(key, compute)`` returns
the stored value when the item is already there, else computes it, saves it and returns it. A stage
computes its items in a fixed order and only combines them at the end, so a resumed run writes
exactly the files an uninterrupted one writes (JSON keeps float64 exactly). The run's ``done.json``
says how many items were reused; ``cleanup`` removes the partial files once it is written.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable

from .atomic import _json_default, write_text

PARTIAL = "partial"
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,80}$")

Memo = Callable[[str, Callable[[], Any]], Any]


def no_store(key: str, compute: Callable[[], Any]) -> Any:
    """The ``Memo`` of code run outside a stage: compute every item."""
    return compute()


class ItemStore:
    def __init__(self, run_dir: str | os.PathLike, name: str):
        self.dir = Path(run_dir) / PARTIAL / name
        self.reused = 0
        self.computed = 0

    def _path(self, key: str) -> Path:
        # item keys are utterance ids, which may hold '/' or other characters a file name cannot
        safe = key if _SAFE.match(key) else hashlib.sha1(key.encode()).hexdigest()[:20]
        return self.dir / f"{safe}.json"

    def __call__(self, key: str, compute: Callable[[], Any]) -> Any:
        path = self._path(key)
        try:
            rec = json.loads(path.read_text())
            if rec.get("key") == key:
                self.reused += 1
                return rec["value"]
        except (OSError, ValueError):  # not there yet (a torn file cannot exist: writes are atomic)
            pass
        text = json.dumps({"key": key, "value": compute()}, default=_json_default)
        write_text(path, text)
        self.computed += 1
        return json.loads(text)["value"]  # as a resumed run reads it: both write the same outputs

    def counts(self) -> dict[str, int]:
        return {"items_reused": self.reused, "items_computed": self.computed}


def cleanup(run_dir: str | os.PathLike) -> None:
    """Remove the partial results of a finished run (after done.json: a kill in between only leaves them)."""
    shutil.rmtree(Path(run_dir) / PARTIAL, ignore_errors=True)
