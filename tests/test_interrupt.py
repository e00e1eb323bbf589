"""SIGTERM to ``run_all`` in the middle of a real training stage (local cluster): the job processes
end with it, nothing is half-written, the command to rerun is printed, and the rerun resumes the cut
run to the same weights, predictions and scores as an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--grid", "smoke", "--only", "authors-resample-hubert-nopt-s0", "--cluster", "local", "--no-progress",
        "--max-parallel", "1", "--threads", "1"]


def _run_all(results: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "replication.run_all", *ARGS, "--results", str(results)],
                            cwd=results.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kw)


def _started(grid: Path) -> list[Path]:
    """Fine-tune runs that have started (config.json written) and are not done."""
    return [c.parent for c in grid.glob("finetune/*/config.json") if not (c.parent / "done.json").exists()]


def _session(sid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(d))
    return out


def test_sigterm_midway_then_rerun_equals_uninterrupted(tmp_path):
    ref, cut = tmp_path / "ref" / "results", tmp_path / "cut" / "results"
    ref.parent.mkdir()
    cut.parent.mkdir()
    straight = _run_all(ref)
    victim = _run_all(cut)
    deadline = time.monotonic() + 300
    # SIGTERM once one fold's fine-tune run is finished and the next one trains: the rerun must keep
    # the finished run and redo the cut one. (The smoke grid's single epoch checkpoints only at its
    # end; resuming a cut run from its mid-run checkpoint is test_mos_train.py's
    # test_resume_after_kill_equals_uninterrupted.)
    finished = lambda: [d.parent for d in (cut / "smoke").glob("finetune/*/done.json")]  # noqa: E731
    while victim.poll() is None and not (finished() and _started(cut / "smoke")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # into the next run's training loop
    kept = {d: (d / "done.json").read_bytes() for d in finished()}
    assert victim.poll() is None, "the run ended before it could be interrupted"
    os.kill(victim.pid, signal.SIGTERM)  # the launcher alone, as `kill` does
    out, err = victim.communicate(timeout=120)
    assert victim.returncode == 143, err[-3000:]
    assert "Traceback" not in out + err and "rerun" in err and "python -m replication.run_all" in err, err[-3000:]
    assert not _session(victim.pid), "job processes outlived the launcher"
    grid = cut / "smoke"
    assert not list(grid.rglob("*.tmp")), "half-written files"
    assert _started(grid), "no fine-tune run was cut midway"
    assert kept, "no fine-tune run had finished before the cut"

    s_out, s_err = straight.communicate(timeout=600)
    assert straight.returncode == 0, s_err[-3000:]
    again = _run_all(cut)
    a_out, a_err = again.communicate(timeout=600)
    assert again.returncode == 0, a_err[-3000:]

    assert {d: (d / "done.json").read_bytes() for d in kept} == kept  # finished runs were kept, not redone
    ref_grid = ref / "smoke"
    for run in (ref_grid / "finetune").iterdir():
        a = torch.load(run / "best.pt", weights_only=False)["model"]
        b = torch.load(grid / "finetune" / run.name / "best.pt", weights_only=False)["model"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), run.name
    for run in (ref_grid / "predict").iterdir():
        pd.testing.assert_frame_equal(pd.read_csv(run / "predictions.csv").drop(columns="path"),
                                      pd.read_csv(grid / "predict" / run.name / "predictions.csv").drop(columns="path"))
    for run in (ref_grid / "score").iterdir():
        assert json.loads((run / "metrics.json").read_text()) == \
            json.loads((grid / "score" / run.name / "metrics.json").read_text())
