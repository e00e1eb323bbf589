"""What happened to a run's jobs: each start and how it ended, in ``run_dir/attempts.json``.

``StageJob`` appends a record when it starts a run and closes it when the run ends: ``done``,
``failed`` (the stage raised), ``timeout`` (submitit's signal came after the time limit's guaranteed
share: it requeues the job) or ``preempted`` (the signal came earlier). A record still open when the
next one starts was ``lost``: the process was killed (OOM, SIGKILL, Ctrl-C, a node failure).

submitit requeues a Checkpointable job after at most ``MAX_TIMEOUTS`` time limits; a run that needed
all of them finished on its last allowed retry, which the progress line, the final report and
``summary.csv`` say (one more slow start and it would have failed).
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from sfi_mos.atomic import write_json

FILE = "attempts.json"
# submitit's max_num_timeout (LocalExecutor and SlurmExecutor default): requeues after a time limit
MAX_TIMEOUTS = 3


def read(run_dir: str | os.PathLike) -> list[dict]:
    try:
        recs = json.loads((Path(run_dir) / FILE).read_text())
        return recs if isinstance(recs, list) else []
    except (OSError, ValueError):
        return []


def begin(run_dir: str | os.PathLike, limit_min: float | None, job_id: str | None) -> None:
    recs = read(run_dir)
    recs.append({"start": time.time(), "host": socket.gethostname(), "pid": os.getpid(), "job_id": job_id,
                 "limit_min": limit_min, "end": None})
    write_json(Path(run_dir) / FILE, recs)


def end(run_dir: str | os.PathLike, how: str) -> None:
    recs = read(run_dir)
    if recs and recs[-1].get("end") is None:
        recs[-1].update(end=how, seconds=round(time.time() - recs[-1]["start"], 1))
        write_json(Path(run_dir) / FILE, recs)


def timed_out(elapsed_s: float, limit_min: float | None) -> bool:
    """submitit's own rule (``SignalHandler.has_timed_out``): a signal after min(80 %, limit - 10 min)
    of the limit is the time limit, an earlier one a preemption."""
    if not limit_min:
        return False
    limit = limit_min * 60
    return elapsed_s >= min(0.8 * limit, limit - 600)


@dataclass(frozen=True)
class Story:
    attempts: int = 0
    timeouts: int = 0
    preempted: int = 0
    failed: int = 0
    lost: int = 0
    limit_min: float | None = None
    done: bool = False

    @property
    def restarts(self) -> int:
        """Starts after the first: requeues, retries after a failure or a kill."""
        return max(0, self.attempts - 1)

    @property
    def last_retry(self) -> bool:
        return self.done and self.timeouts >= MAX_TIMEOUTS


def story(recs: list[dict]) -> Story:
    ends = [r.get("end") for r in recs]
    # an open record followed by another start: that process died without a word
    lost = sum(e is None for e in ends[:-1])
    return Story(attempts=len(recs), timeouts=ends.count("timeout"), preempted=ends.count("preempted"),
                 failed=ends.count("failed"), lost=lost, limit_min=recs[-1].get("limit_min") if recs else None,
                 done=bool(ends) and ends[-1] == "done")


def describe(s: Story) -> str:
    """'requeued 2x after its 15-min limit, finished on its last allowed retry'; "" when uneventful."""
    parts = []
    if s.timeouts:
        limit = f"its {s.limit_min:g}-min limit" if s.limit_min else "its time limit"
        parts.append(f"requeued {s.timeouts}x after {limit}")
    if s.preempted:
        parts.append(f"preempted {s.preempted}x")
    if s.lost:
        parts.append(f"killed {s.lost}x (no record of why: out of memory, a signal, Ctrl-C)")
    if s.failed:
        parts.append(f"failed {s.failed}x before this run")
    if parts and s.done:
        parts.append(f"finished on attempt {s.attempts}")
    if s.last_retry:
        parts.append(f"its LAST allowed retry (one more time limit and it fails: submitit requeues "
                     f"{MAX_TIMEOUTS}x); raise the stage's limit")
    return ", ".join(parts)
