"""The state of every run, read from its run directory (and the scheduler for queued jobs).

done     done.json exists (the only source of truth for "finished")
running  a live process holds the run's lock
queued   its last submitted Slurm job is pending/running in the scheduler
failed   failed.json exists (the stage raised), or its job ended in a failed state without done.json
blocked  an ancestor failed, so it cannot run
missing  never run, or interrupted (killed) — a rerun resubmits it and the stage resumes from ckpt/
"""
from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from ablations.graph import Graph
from ablations.grid import STAGE_ORDER
from sfi_mos.rundir import is_done

from .job import FAILED
from .lock import LOCK, is_held
from sfi_mos.errors import InputError
from sfi_mos.jsonio import read_json

ALIVE = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
         "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD"}
# PREEMPTED is left out: a Checkpointable job is requeued right after it
DEAD = {"FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
STATES = ("done", "running", "queued", "failed", "blocked", "missing")


def slurm_states(job_ids: set[str]) -> dict[str, str]:
    """State of each listed Slurm job still known to squeue (array tasks as ``<job>_<task>``)."""
    if not job_ids:
        return {}
    try:
        out = subprocess.run(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T",
                              "--user", os.environ.get("USER") or str(os.getuid())],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    states: dict[str, str] = {}
    for line in out.stdout.splitlines():
        jid, _, st = line.strip().partition("|")
        if jid in job_ids:
            states[jid] = st
    gone = sorted(job_ids - set(states))
    if gone:  # finished jobs leave squeue after MinJobAge; accounting still knows them
        try:
            acct = subprocess.run(["sacct", "--noheader", "--parsable2", "-o", "JobID,State",
                                   "-j", ",".join(gone)], capture_output=True, text=True, timeout=60)
            for line in acct.stdout.splitlines():
                jid, _, st = line.strip().partition("|")
                if jid in job_ids and st:
                    states.setdefault(jid, st.split("|")[0].split()[0])
        except (OSError, subprocess.TimeoutExpired):
            pass
    return states


def run_states(graph: Graph, grid_dir: Path, manifest: dict[str, dict[str, Any]],
               scheduler: dict[str, str] | None = None) -> dict[str, str]:
    scheduler = scheduler or {}
    out: dict[str, str] = {}
    for rel, node in graph.nodes.items():  # topological order
        d = grid_dir / rel
        job = manifest.get(rel, {}).get("job_id")
        sched = scheduler.get(str(job), "") if job else ""
        if is_done(d):
            st = "done"
        elif is_held(d / LOCK):
            st = "running"
        elif (d / FAILED).exists():
            st = "failed"
        elif any(out[p] in ("failed", "blocked") for p in node.parents):
            st = "blocked"  # (Slurm cancels it: --kill-on-invalid-dep)
        elif sched in DEAD:
            st = "failed"
        elif sched in ALIVE:
            st = "queued"
        else:
            st = "missing"
        out[rel] = st
    return out


def counts(graph: Graph, states: dict[str, str]) -> dict[str, Counter]:
    out: dict[str, Counter] = {s: Counter() for s in STAGE_ORDER}
    for rel, st in states.items():
        out[graph.nodes[rel].stage][st] += 1
    return {s: c for s, c in out.items() if c}


def failure(grid_dir: Path, rel: str, manifest: dict[str, dict[str, Any]]) -> str:
    """One line per failed run: the error and where its logs are."""
    entry = manifest.get(rel, {})
    try:
        rec = read_json(grid_dir / rel / FAILED)
    except InputError:
        rec = {"error": f"job {entry.get('job_id')} ended without done.json"}
    logs = rec.get("stderr") or entry.get("stderr")
    out = rec.get("stdout") or entry.get("stdout")
    return f"{rel}: {rec.get('error')}\n    logs: {out}\n          {logs}"
