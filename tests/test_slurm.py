"""run_all --cluster slurm against the real single-node Slurm (tests/conftest.py starts it).

Stand-in stages (tests/grid_fake_stages.py) keep this fast; each fails if a parent is not done, so a
wrong dependency order on Slurm shows up as a failure.
"""
from __future__ import annotations

import json
import subprocess
import time

import pandas as pd
import pytest

from grid_fixtures import done, fake_stages, run_all  # noqa: F401

pytestmark = pytest.mark.slurm
SLURM = ["--grid", "smoke", "--cluster", "slurm", "--profile", "ci"]


def _runs(grid_dir):
    return json.loads((grid_dir / "manifest.json").read_text())["runs"]


@pytest.fixture(scope="module")
def resample_reference(tmp_path_factory):
    """The smoke grid's resampling cell run in-process on one thread: the uninterrupted reference that
    the preempted and the killed Slurm runs must reproduce (computed once for both)."""
    root = tmp_path_factory.mktemp("ref")
    ref = run_all("--grid", "smoke", "--only", "*resample*", "--cluster", "debug", "--threads", "1",
                  "--results", str(root))
    assert ref.returncode == 0, ref.stdout + ref.stderr
    return pd.read_csv(root / "smoke" / "summary.csv")


def _submit_resample_cell(tmp_path):
    """Submit the smoke grid's resampling cell to Slurm detached; returns the Slurm run_all args, its
    grid dir and one fine-tune run with its job id."""
    args = [*SLURM, "--only", "*resample*", "--results", str(tmp_path / "slurm")]
    r = run_all(*args, "--no-wait")
    assert r.returncode == 0, r.stdout + r.stderr
    grid_dir = tmp_path / "slurm" / "smoke"
    rel, job = next((rel, e["job_id"]) for rel, e in _runs(grid_dir).items() if rel.startswith("finetune/"))
    return args, grid_dir, rel, job


def _assert_same_metrics(grid_dir, want):
    got = pd.read_csv(grid_dir / "summary.csv")
    got, want = got[got["done"]].reset_index(drop=True), want[want["done"]].reset_index(drop=True)
    metrics = [c for c in want.columns if c.startswith(("dev.", "eval."))]
    assert len(got) == 1 and metrics
    pd.testing.assert_frame_equal(got[metrics], want[metrics])


def test_slurm_smoke_arrays_dependencies_failure_and_rerun(slurm_cluster, tmp_path, fake_stages):
    grid_dir = tmp_path / "smoke"
    grid_dir.mkdir()
    (grid_dir / "FAIL").write_text("pretrain\n")
    # detached submission: returns once the jobs are queued
    t = time.monotonic()
    r = run_all(*SLURM, "--results", str(tmp_path), "--no-wait")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "submitted 12 Slurm job(s) (2 array(s))" in r.stderr
    assert time.monotonic() - t < 60
    runs = _runs(grid_dir)
    ft = {e["job_id"] for rel, e in runs.items() if rel.startswith("finetune/")}
    assert len(ft) == 4 and len({j.split("_")[0] for j in ft}) == 2  # folds of a cell = one array
    # following again submits nothing new; the failure is reported and its dependents never run
    r = run_all(*SLURM, "--results", str(tmp_path))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "submitted 0 Slurm job(s)" in r.stderr
    assert "injected failure in pretrain" in r.stdout and "_log.err" in r.stdout
    assert "5 run(s) not run because a parent failed" in r.stdout
    assert _runs(grid_dir) == runs
    first = done(grid_dir)
    assert len(first) == 6
    # Slurm cancelled the dependents (afterok can never be satisfied)
    blocked = [runs[rel]["job_id"] for rel in runs if rel.startswith("predict/") and rel not in first]
    # slurmctld evaluates dependencies on its own scheduling pass, so the cancellation lands a few
    # seconds after the parent fails (CI once saw it still PENDING|Dependency): poll, bounded
    deadline = time.monotonic() + 60
    while True:
        sq = subprocess.run(["squeue", "-h", "--states=all", "-o", "%i|%T|%r", "-j", blocked[0]],
                            capture_output=True, text=True).stdout
        if "CANCELLED" in sq or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "CANCELLED" in sq and "Dependency" in sq, sq
    # fix the cause and rerun: only the failed run and its dependents are submitted
    (grid_dir / "FAIL").unlink()
    r = run_all(*SLURM, "--results", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "submitted 6 Slurm job(s) (1 array(s))" in r.stderr
    second = done(grid_dir)
    assert len(second) == 12 and all(second[k] == v for k, v in first.items())
    summ = pd.read_csv(grid_dir / "summary.csv")
    assert summ["done"].all() and len(summ) == 2
    assert all(str(v["slurm_job_id"]) != "None" for v in
               (json.loads((grid_dir / rel / "env.json").read_text()) for rel in second if
                (grid_dir / rel / "env.json").exists()))


def test_slurm_usr2_preemption_requeues_and_resumes(slurm_cluster, tmp_path, fake_stages, monkeypatch):
    monkeypatch.setenv("SFI_FAKE_STEPS", "1")  # the metrics do not depend on the number of steps
    ref = run_all("--grid", "smoke", "--only", "*resample*", "--results", str(tmp_path / "ref"),
                  "--cluster", "debug")
    assert ref.returncode == 0, ref.stdout + ref.stderr
    monkeypatch.setenv("SFI_FAKE_STEPS", "30")
    monkeypatch.setenv("SFI_FAKE_SLEEP", "0.2")
    args = [*SLURM, "--only", "*resample*", "--results", str(tmp_path / "slurm")]
    r = run_all(*args, "--no-wait")
    assert r.returncode == 0, r.stdout + r.stderr
    grid_dir = tmp_path / "slurm" / "smoke"
    runs = _runs(grid_dir)
    rel, job = next((rel, e["job_id"]) for rel, e in runs.items() if rel.startswith("finetune/"))
    ckpt = grid_dir / rel / "ckpt" / "state.json"
    deadline = time.monotonic() + 120
    while not (ckpt.exists() and json.loads(ckpt.read_text())["step"] >= 5):
        assert time.monotonic() < deadline, "the fine-tune job never got going"
        time.sleep(0.2)
    # what a preempting scheduler sends (submitit's own job._interrupt() does the same)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    r = run_all(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    d = json.loads((grid_dir / rel / "done.json").read_text())
    assert d["starts"] == 2 and d["resumed_from"] >= 5  # requeued and resumed from its checkpoint
    log = open(runs[rel]["stdout"]).read() + open(runs[rel]["stderr"]).read()  # submitit's own log
    assert "Caught signal SIGUSR2" in log and "Requeued job" in log
    got = pd.read_csv(grid_dir / "summary.csv").set_index("cell")["utt.MSE"].dropna()
    want = pd.read_csv(tmp_path / "ref" / "smoke" / "summary.csv").set_index("cell")["utt.MSE"].dropna()
    assert len(got) == 1 and got.equals(want)  # same metrics as an uninterrupted run


def test_slurm_real_smoke_grid_end_to_end(slurm_cluster, tmp_path):
    """The real stages (tiny s3prl models, synthetic corpus) through Slurm: data → distill → pretrain →
    fine-tune folds (arrays) → predict → score and probe, results collected from the run dirs."""
    r = run_all(*SLURM, "--results", str(tmp_path), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    grid_dir = tmp_path / "smoke"
    assert len(done(grid_dir)) == 12
    runs = _runs(grid_dir)
    assert sum("_" in e["job_id"] for e in runs.values()) == 4  # the fine-tune folds ran as arrays
    summ = pd.read_csv(grid_dir / "summary.csv")
    assert summ["done"].all() and len(summ) == 2
    metric_cols = [c for c in summ.columns if c.endswith(("utt.MSE", "sys.SRCC"))]
    assert metric_cols and summ[metric_cols].notna().all().all()
    for rel in runs:
        if rel.startswith("predict/"):
            pred = pd.read_csv(grid_dir / rel / "predictions.csv")
            assert len(pred) and pred.filter(like="pred").stack().between(1, 5).all()


def test_slurm_two_concurrent_submissions_submit_each_run_once(slurm_cluster, tmp_path, fake_stages):
    import re
    import subprocess as sp
    import sys

    from grid_fixtures import ROOT

    cmd = [sys.executable, "-m", "replication.run_all", "--no-progress", *SLURM, "--results", str(tmp_path),
           "--no-wait", "--snapshot"]
    procs = [sp.Popen(cmd, cwd=ROOT, stdout=sp.PIPE, stderr=sp.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    submitted = sorted(int(re.search(r"submitted (\d+) Slurm job", o).group(1)) for o in outs)
    assert submitted == [0, 12]  # the second one waited for the submission lock, then found all queued
    r = run_all(*SLURM, "--results", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    finished = done(tmp_path / "smoke")
    assert len(finished) == 12 and all(d["starts"] == 1 for d in finished.values())
    code = tmp_path / "smoke" / "code"  # the jobs ran the snapshot of the committed code, not the work tree
    assert all(d["code"].startswith(str(code)) for d in finished.values())


def test_slurm_real_stage_preempted_gives_same_metrics(slurm_cluster, tmp_path, resample_reference):
    """A real fine-tune job preempted (USR2) while it runs is requeued by submitit and the cell ends
    with exactly the metrics and predictions of an uninterrupted run (in-process, one thread)."""
    from replication.lock import is_held

    args, grid_dir, rel, job = _submit_resample_cell(tmp_path)
    deadline = time.monotonic() + 180
    # the lock is taken inside StageJob.__call__, after submitit installed its USR2 handler and before
    # the stage's (seconds long) torch/s3prl imports and training
    while not is_held(grid_dir / rel / ".lock"):
        assert time.monotonic() < deadline, "the fine-tune job never started"
        time.sleep(0.05)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    r = run_all(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    e = _runs(grid_dir)[rel]
    log = open(e["stdout"]).read() + open(e["stderr"]).read()
    assert "Caught signal SIGUSR2" in log and f"Requeued job {job}" in log
    assert log.count("Starting with JobEnvironment") == 2
    _assert_same_metrics(grid_dir, resample_reference)


def test_slurm_real_stage_killed_fails_visibly_and_rerun_gives_same_metrics(slurm_cluster, tmp_path,
                                                                          resample_reference):
    """kill -9 of a running real fine-tune job's process: Slurm records the job as failed, run_all
    reports it (and the dependents Slurm cancelled), and a rerun resubmits only those runs and ends
    with exactly the metrics of an uninterrupted run."""
    import os
    import signal

    from replication.lock import holder, is_held

    args, grid_dir, rel, job = _submit_resample_cell(tmp_path)
    lock = grid_dir / rel / ".lock"
    deadline = time.monotonic() + 180
    while not (is_held(lock) and holder(lock).get("pid")):  # the job's own process, inside StageJob
        assert time.monotonic() < deadline, "the fine-tune job never started"
        time.sleep(0.05)
    info = holder(lock)
    assert info["slurm_job_id"] and not (grid_dir / rel / "done.json").exists()
    os.kill(int(info["pid"]), signal.SIGKILL)
    deadline = time.monotonic() + 120
    while True:  # the scheduler's own record: the job failed (it is not requeued: no USR2 came)
        sq = subprocess.run(["squeue", "-h", "--states=all", "--array", "-o", "%i|%T", "-j", job.split("_")[0]],
                            capture_output=True, text=True).stdout
        if f"{job}|FAILED" in sq:
            break
        assert time.monotonic() < deadline and "COMPLETED" not in sq.split(job)[-1][:12], sq
        time.sleep(0.5)
    r = run_all(*args, "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    table = r.stdout.split("stage ", 1)[1].split("\nall ", 1)[0]  # the status table, not the cost table
    rows = {ln.split()[0]: ln.split()[1:] for ln in table.splitlines()[1:] if ln.split()}
    # total done running queued failed blocked submit
    assert rows["finetune"][4] == "1", r.stdout
    assert all(rows[s][5] == "1" for s in ("predict", "score", "probe")), r.stdout
    assert not (grid_dir / rel / "done.json").exists()
    r = run_all(*args)  # the rerun: says what failed, resubmits only that and its dependents
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resubmitting 1 failed run(s)" in r.stderr and f"{rel}: job {job} ended without done.json" in r.stderr
    # the killed fold and its dependents (predict, score, probe); nothing else
    assert "submitted 4 Slurm job(s)" in r.stderr, r.stderr
    _assert_same_metrics(grid_dir, resample_reference)
