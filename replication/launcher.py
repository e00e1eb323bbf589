"""Turn the stage graph into submitit jobs: ``local``/``debug`` as parents finish, ``slurm`` at once.

local  submitit LocalExecutor (one subprocess per run). It has no job dependencies, so a run is
       submitted once its parents are done (at most --max-parallel at a time, topological order).
debug  submitit DebugExecutor: every run in this process, one after another (breakpoints work).
slurm  everything in one go: one job array per (stage, parent jobs) group — the folds×seeds of a
       cell share their parents, so they form one array — and ``afterok`` dependencies on the parent
       jobs; ``--kill-on-invalid-dep`` makes Slurm cancel the dependents of a failed job.

Every run is a ``StageJob`` (Checkpointable): preemption/timeout requeues it and the stage resumes
from its run directory. Runs that are done are never submitted; the per-run lock makes sure a run is
executed by one process even if two run_all submitted it.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any, Callable

import submitit

from ablations.graph import Graph, Node
from ablations.grid import Grid
from sfi_mos.config import to_dict

from . import gpu_costs, manifest, profiles
from .job import FAILED, StageJob
from .lock import Lock
from .state import run_states, slurm_states

Report = Callable[[dict[str, str]], None]


# local/debug runs have no time limit: a limit there only restarts work on a busy machine (the grid's
# limits are for Slurm, where the scheduler needs one). submitit's local executor needs a number.
LOCAL_TIMEOUT_MIN = 30 * 24 * 60


def stage_job(node: Node, grid_dir: Path, threads: int | None, limit_min: float | None = None,
              execution: dict | None = None) -> StageJob:
    return StageJob(node.stage, to_dict(node.config), str(grid_dir / node.rel), threads, limit_min, execution)


def plan_executions(graph: Graph, grid: Grid, grid_dir: Path, nodes: list[Node], profile: dict[str, Any] | None,
                    gpu_mem: float | None = None, gpu_name: str | None = None) -> dict[str, dict]:
    """``Execution`` dicts by run of the training ``nodes`` that have a GPU memory budget: ``gpu_mem``
    (``run_all --gpu-mem``) or the profile's ``gpu``/``gpu_mem`` for the stage. A run that cannot fit
    one clip in its budget raises InputError here, before anything is submitted."""
    def budget_of(stage: str):
        plan = profiles.gpu_plan(profile, stage, gpu_name) if profile else None
        if gpu_mem:
            return gpu_mem, plan["tasks"] if plan else 1
        return (plan["gpu_mem_gib"], plan["tasks"]) if plan else None

    return gpu_costs.executions(graph, grid, nodes, budget_of, grid_dir / "footprints")


def _entry(job: Any, node: Node, cluster: str) -> dict[str, Any]:
    return {"stage": node.stage, "job_id": str(job.job_id), "cluster": cluster, "cells": node.cells,
            "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr)}


def run_local(graph: Graph, grid: Grid, grid_dir: Path, cluster: str, max_parallel: int,
              threads: int | None, report: Report, executions: dict[str, dict] | None = None) -> dict[str, str]:
    """local/debug: run every run as soon as its parents are done (topological order breaks ties, at
    most ``max_parallel`` at a time), so one long run never holds back runs that do not need it;
    returns the final states. ``executions``: ``plan_executions``'s dicts by run."""
    logs = grid_dir / "logs" / "%j"
    states = run_states(graph, grid_dir, manifest.read(grid_dir))
    # "running" = locked by another run_all: submit anyway, the job waits for it and then returns
    todo = [n for n in graph.nodes.values() if states[n.rel] in ("missing", "failed", "blocked", "running")]
    # runs that need nothing first (the distillations everything waits on, the grid's peers run), then
    # topological order: a long root run then overlaps the rest instead of trailing it
    todo.sort(key=lambda n: bool(n.parents))
    active: dict[str, Any] = {}
    try:
        return _drive(graph, grid, grid_dir, cluster, max_parallel, threads, report, logs, states, todo, active,
                      executions or {})
    except BaseException:  # Ctrl-C, SIGTERM (run_all turns it into an exception): end the job processes too
        stop_local(list(active.values()))
        raise


def _drive(graph, grid, grid_dir, cluster, max_parallel, threads, report, logs, states, todo, active, executions):
    while True:
        for node in list(todo):
            if len(active) >= max_parallel:
                break
            # a run whose parent did not finish (interrupted, failed) waits for the next rerun
            if not all(states[p] == "done" for p in node.parents):
                continue
            todo.remove(node)
            (grid_dir / node.rel / FAILED).unlink(missing_ok=True)  # old record; the job writes a new one
            ex = submitit.AutoExecutor(folder=logs, cluster=cluster)
            ex.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN, name=f"sfi-mos-{node.stage}")
            if cluster == "local":
                # the submitit controller starts with Ctrl-C ignored: a terminal's SIGINT reaches only the
                # stage process (StageJob restores it there) and this launcher, which ends the jobs itself
                old = signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    job = ex.submit(stage_job(node, grid_dir, threads, None, executions.get(node.rel)))
                finally:
                    signal.signal(signal.SIGINT, old)
            else:
                job = ex.submit(stage_job(node, grid_dir, threads, None, executions.get(node.rel)))
            manifest.record(grid_dir, graph.grid, {node.rel: _entry(job, node, cluster)})
            if cluster == "debug":
                # runs it now, in-process; a failure is recorded in failed.json by StageJob. Never ask
                # a DebugJob done()/result(): on a failed job they run it again and open pdb.post_mortem
                job.exception()
                break  # re-read the states: its children may be ready now
            active[node.rel] = job
        for rel, job in list(active.items()):
            if job.done():
                del active[rel]
        states = run_states(graph, grid_dir, manifest.read(grid_dir))
        report(states)
        ready = any(all(states[p] == "done" for p in n.parents) for n in todo)
        if not active and not ready:  # the rest waits on runs that failed or did not finish
            return states
        if active and not ready or len(active) >= max_parallel:
            time.sleep(0.5)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for d in entries:
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def stop_local(jobs: list[Any], grace_s: float = 20.0) -> int:
    """End local jobs: SIGINT to each job's stage process (it stops between two atomic writes and
    resumes from its checkpoint on the next run; its submitit controller then ends), SIGKILL to what
    is left after ``grace_s``.
    Returns how many jobs were running."""
    procs = [j._process for j in jobs if getattr(j, "_process", None) is not None and j._process.poll() is None]
    stages = [pid for p in procs for pid in _descendants(p.pid)]
    pids = stages + [p.pid for p in procs]
    for pid in stages:  # the controllers (which ignore SIGINT) end once their stage process has
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for p in procs:
            p.poll()  # reap the controllers (our children)
        if not any(_alive(pid) for pid in pids):
            break
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    for p in procs:
        try:
            p.wait(timeout=5)
        except Exception:  # noqa: BLE001 - best effort: it was sent SIGKILL
            pass
    return len(procs)


def submit_slurm(graph: Graph, grid: Grid, grid_dir: Path, profile: dict[str, Any],
                 max_parallel: int | None, threads: int | None, setup: list[str] = (),
                 executions: dict[str, dict] | None = None) -> tuple[int, int]:
    """Submit every run that is not done/queued/running; returns (jobs submitted, arrays submitted).
    ``executions``: ``plan_executions``'s dicts by run."""
    logs = grid_dir / "logs" / "%j"
    with Lock(grid_dir / ".submit.lock"):  # two run_all never submit the same run twice
        runs = manifest.read(grid_dir)
        sched = slurm_states({e["job_id"] for e in runs.values() if e.get("cluster") == "slurm"})
        states = run_states(graph, grid_dir, runs, sched)
        job_of = {rel: runs[rel]["job_id"] for rel, st in states.items() if st in ("queued", "running")
                  and rel in runs}
        n_jobs = n_arrays = 0
        for wave in graph.waves():
            groups: dict[tuple[str, tuple[str, ...]], list[Node]] = {}
            for node in wave:
                if states[node.rel] not in ("missing", "failed", "blocked"):
                    continue
                deps, ok = [], True
                for p in node.parents:
                    if states[p] == "done":
                        continue
                    if p not in job_of:  # parent not submitted, or held by a non-Slurm process
                        ok = False
                        break
                    deps.append(job_of[p])
                if ok:
                    groups.setdefault((node.stage, tuple(sorted(set(deps)))), []).append(node)
            for (stage, deps), nodes in groups.items():
                params = profiles.stage_params(profile, stage, grid.timeout_min[stage])
                if setup:  # e.g. the code snapshot
                    params["slurm_setup"] = list(params.get("slurm_setup", [])) + list(setup)
                if max_parallel:
                    params["slurm_array_parallelism"] = min(params["slurm_array_parallelism"], max_parallel)
                extra = params.pop("slurm_additional_parameters")
                extra["kill_on_invalid_dep"] = "yes"
                if deps:
                    extra["dependency"] = "afterok:" + ":".join(deps)
                for n in nodes:  # an old failure record would read as "failed" until the job starts
                    (grid_dir / n.rel / FAILED).unlink(missing_ok=True)
                ex = submitit.AutoExecutor(folder=logs, cluster="slurm")
                ex.update_parameters(**params, slurm_additional_parameters=extra)
                with ex.batch():
                    jobs = [ex.submit(stage_job(n, grid_dir, threads, params["timeout_min"],
                                                (executions or {}).get(n.rel))) for n in nodes]
                entries = {}
                for node, job in zip(nodes, jobs):
                    job_of[node.rel] = str(job.job_id)
                    entries[node.rel] = _entry(job, node, "slurm")
                manifest.record(grid_dir, graph.grid, entries)
                n_jobs += len(jobs)
                n_arrays += len(jobs) > 1
    return n_jobs, n_arrays


def follow_slurm(graph: Graph, grid_dir: Path, report: Report, poll_s: float = 2.0) -> dict[str, str]:
    """Poll run dirs + the scheduler until nothing is queued or running; returns the final states."""
    while True:
        runs = manifest.read(grid_dir)
        sched = slurm_states({e["job_id"] for e in runs.values() if e.get("cluster") == "slurm"})
        states = run_states(graph, grid_dir, runs, sched)
        report(states)
        if not any(st in ("queued", "running") for st in states.values()):
            return states
        time.sleep(poll_s)
