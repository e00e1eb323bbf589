"""run_all on this machine (local and debug executors) with small stand-in stages: end to end,
reruns, a failing stage, a run killed with -9, and two concurrent run_all on one results dir."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from replication import run_all
from replication.lock import holder

from grid_fixtures import ROOT, done, fake_stages, run_all as run_all_proc  # noqa: F401


def test_local_smoke_end_to_end_and_rerun_skips(tmp_path, fake_stages, capsys):
    res = str(tmp_path)
    assert run_all.main(["--grid", "smoke", "--results", res, "--no-progress"]) == 0
    grid_dir = tmp_path / "smoke"
    finished = done(grid_dir)
    assert len(finished) == 12 and all(d["starts"] == 1 for d in finished.values())
    summ = pd.read_csv(grid_dir / "summary.csv")
    assert len(summ) == 2 and summ["done"].all() and summ["utt.MSE"].notna().all()
    runs = json.loads((grid_dir / "manifest.json").read_text())["runs"]
    assert set(runs) == set(finished)
    assert all(os.path.exists(e["stdout"]) for e in runs.values())
    # a rerun submits nothing and leaves every run as it was
    assert run_all.main(["--grid", "smoke", "--results", res, "--no-progress"]) == 0
    assert json.loads((grid_dir / "manifest.json").read_text())["runs"] == runs
    assert done(grid_dir) == finished
    capsys.readouterr()
    assert run_all.main(["--grid", "smoke", "--results", res, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would submit" not in out
    assert len(re.findall(r" done +cells=", out)) == 12


def test_debug_cluster_runs_in_process(tmp_path, fake_stages):
    assert run_all.main(["--grid", "smoke", "--cluster", "debug", "--results", str(tmp_path),
                         "--only", "*resample*", "--no-progress"]) == 0
    finished = done(tmp_path / "smoke")
    assert len(finished) == 5 and {d["pid"] for d in finished.values()} == {os.getpid()}


def test_failing_stage_reported_dependents_skipped_rerun_fixes_only_it(tmp_path, fake_stages, capsys):
    res, grid_dir = str(tmp_path), tmp_path / "smoke"
    grid_dir.mkdir()
    (grid_dir / "FAIL").write_text("pretrain\n")
    assert run_all.main(["--grid", "smoke", "--results", res, "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "1 failed run(s)" in out and "injected failure in pretrain" in out and "_log.err" in out
    assert "5 run(s) not run because a parent failed" in out  # 2 finetunes, predict, score, probe of that cell
    first = done(grid_dir)
    assert len(first) == 6  # distill + the whole resample cell
    (grid_dir / "FAIL").unlink()
    assert run_all.main(["--grid", "smoke", "--results", res, "--no-progress"]) == 0
    second = done(grid_dir)
    assert len(second) == 12
    assert all(second[rel] == d for rel, d in first.items())  # finished runs untouched
    assert not list(grid_dir.glob("*/*/failed.json"))


def _wait_for(cond, timeout=60.0):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def test_killed_stage_resumes_on_rerun(tmp_path, fake_stages, monkeypatch):
    monkeypatch.setenv("SFI_FAKE_STEPS", "40")
    monkeypatch.setenv("SFI_FAKE_SLEEP", "0.1")
    args = ["--grid", "smoke", "--only", "*resample*", "--results", str(tmp_path), "--max-parallel", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "replication.run_all", "--no-progress", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def victim():  # a fine-tune run that has checkpointed a few steps
        for ck in (tmp_path / "smoke" / "finetune").glob("*/ckpt/state.json"):
            try:
                if json.loads(ck.read_text())["step"] >= 5:
                    return ck.parents[1]
            except (OSError, ValueError):
                pass
        return None

    run_dir = _wait_for(victim, timeout=120)
    pid = holder(run_dir / ".lock")["pid"]
    os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    assert "not finished (interrupted" in out and run_dir.name in out
    assert "failed run(s)" not in out  # its dependents were not started on a missing parent
    assert not (run_dir / "done.json").exists()
    monkeypatch.setenv("SFI_FAKE_STEPS", "8")  # the rest of the rerun stays short
    r = run_all_proc(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    d = json.loads((run_dir / "done.json").read_text())
    assert d["starts"] == 2 and d["resumed_from"] >= 5  # resumed from its checkpoint, not from scratch


def test_two_concurrent_run_all_no_duplicates_no_corruption(tmp_path, fake_stages, monkeypatch):
    monkeypatch.setenv("SFI_FAKE_SLEEP", "0.2")
    args = ["--grid", "smoke", "--results", str(tmp_path)]
    procs = [subprocess.Popen([sys.executable, "-m", "replication.run_all", "--no-progress", *args], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    grid_dir = tmp_path / "smoke"
    finished = done(grid_dir)
    assert len(finished) == 12
    assert all(d["starts"] == 1 for d in finished.values())  # every run executed exactly once
    json.loads((grid_dir / "manifest.json").read_text())  # valid JSON
    assert len(pd.read_csv(grid_dir / "summary.csv")) == 2
    assert not list(grid_dir.rglob(".*.tmp"))  # no half-written file left behind


def test_slurm_submission_error_is_reported(tmp_path, fake_stages, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sbatch", "squeue", "sacct"):  # a cluster whose controller is down
        (bin_dir / tool).write_text("#!/bin/sh\necho 'error: Unable to contact slurm controller' >&2\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    rc = run_all.main(["--grid", "smoke", "--cluster", "slurm", "--results", str(tmp_path / "r"), "--no-progress"])
    assert rc == 1
    assert "Slurm submission failed" in capsys.readouterr().err


def test_content_fingerprint_follows_bytes_and_caches(tmp_path, monkeypatch):
    from replication import fingerprint as F

    root = tmp_path / "corpus"
    (root / "wav").mkdir(parents=True)
    (root / "wav" / "a.wav").write_bytes(b"RIFF" + bytes(100))
    (root / "labels.csv").write_text("uttID,lisID,rating\na,L0,3\n")
    cache = tmp_path / "cache.json"
    reads = []
    real = F._sha256
    monkeypatch.setattr(F, "_sha256", lambda p: reads.append(p) or real(p))
    fp = F.content_fingerprint(root, cache)
    assert len(reads) == 2 and F.content_fingerprint(root, cache) == fp and len(reads) == 2  # warm: no reads
    # the same bytes elsewhere (no cache) give the same fingerprint: it does not depend on location
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(root, copy)
    assert F.content_fingerprint(copy) == fp
    # edited in place, same size, mtime restored: ctime still moves, the file is read again
    wav = root / "wav" / "a.wav"
    st = wav.stat()
    with open(wav, "r+b") as f:
        f.seek(50)
        f.write(b"\x01")
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns))
    reads.clear()
    assert F.content_fingerprint(root, cache) != fp and len(reads) == 1
