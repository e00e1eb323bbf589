"""Issue 21, class 6: interrupts. Ctrl-C (SIGINT to the process group, as a terminal sends it) and
SIGTERM (to the launcher alone, as ``kill`` sends it) stop ``run_all`` cleanly under ``--cluster
debug`` and ``local``: no traceback, no job process left running, no half-written file, and the command
to rerun printed; the rerun finishes what was cut off. ``predict`` interrupted writes nothing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .cases_memory import _long
from .cases_predict import _clips, _model
from .harness import ROOT, Case, Interrupt, Setup, fake_stage_env

M = "replication.run_all"
SLOW = {"SFI_FAKE_STEPS": "400", "SFI_FAKE_SLEEP": "0.05"}  # a stage of ~20 s: interrupted midway


def _started(tmp: Path) -> bool:
    """A stage has written a checkpoint after its first step: it is midway."""
    for f in (tmp / "results" / "smoke").glob("*/*/ckpt/state.json"):
        try:
            if json.loads(f.read_text()).get("step", 0) >= 2:
                return True
        except (OSError, ValueError):
            pass
    return False


def _clean(r) -> None:
    grid = r.tmp / "results" / "smoke"
    half = [p for p in grid.rglob("*.tmp")]
    assert not half, f"half-written files left: {half}"
    assert "rerun" in r.stderr and "python -m replication.run_all" in r.stderr, r.stderr[-2000:]
    cut = [p.parent.parent for p in grid.glob("*/*/ckpt/state.json") if not (p.parent.parent / "done.json").exists()]
    assert cut, "no run was cut off midway: the case did not interrupt anything"


def _interrupted(cluster: str, sig: int, group: bool):
    def setup(tmp: Path) -> Setup:
        return Setup([M, "--grid", "smoke", "--no-progress", "--results", "results", "--cluster", cluster],
                     env={**fake_stage_env(), **SLOW}, interrupt=Interrupt(sig, _started, group=group),
                     check=_clean, timeout=120)
    return setup


def _rerun_finishes(tmp: Path) -> Setup:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **fake_stage_env(), **SLOW}
    p = subprocess.Popen([sys.executable, "-m", M, "--grid", "smoke", "--no-progress", "--results", "results",
                          "--cluster", "local"], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _started(tmp):
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGTERM)
    p.wait(timeout=60)

    def resumed(r) -> None:
        done = [json.loads(f.read_text()) for f in (tmp / "results" / "smoke").glob("*/*/done.json")]
        assert len(done) == 12, len(done)
        assert any(d.get("starts") == 2 and d.get("resumed_from", 0) > 0 for d in done), done

    return Setup([M, "--grid", "smoke", "--no-progress", "--results", "results", "--cluster", "local"],
                 env={**fake_stage_env(), "SFI_FAKE_STEPS": "400", "SFI_FAKE_SLEEP": "0.0"}, check=resumed, timeout=180)


def _predict_ctrl_c(tmp: Path) -> Setup:
    clips = _clips(tmp)
    _long(tmp, 30)
    t0 = time.monotonic()
    # 3600 chunks of 0.5 s: about 17 s on an idle 2-core machine, so the Ctrl-C at 6 s lands mid-way
    # (with 2 s chunks an idle machine finished before it)
    return Setup(["sfi_mos.predict", "--model", _model(tmp), *clips, "audio/long.wav", "--out", "preds.csv",
                  "--chunk-seconds", "0.5"], absent=("preds.csv", "preds.errors.csv"), timeout=120,
                 interrupt=Interrupt(signal.SIGINT, lambda _t: time.monotonic() - t0 > 6),
                 check=lambda r: _said(r.stderr, "interrupted"))


def _said(text: str, what: str) -> None:
    assert what in text, text[-2000:]


CASES = [
    Case("interrupt/run-all-debug-ctrl-c", _interrupted("debug", signal.SIGINT, True), code=130, outcome="handled"),
    Case("interrupt/run-all-debug-sigterm", _interrupted("debug", signal.SIGTERM, False), code=143, outcome="handled"),
    Case("interrupt/run-all-local-ctrl-c", _interrupted("local", signal.SIGINT, True), code=130, outcome="handled"),
    Case("interrupt/run-all-local-sigterm-ends-its-jobs", _interrupted("local", signal.SIGTERM, False), code=143,
         outcome="handled"),
    Case("interrupt/run-all-rerun-resumes-the-cut-run", _rerun_finishes, code=0, outcome="handled"),
    Case("interrupt/predict-ctrl-c-writes-nothing", _predict_ctrl_c, code=130, outcome="handled"),
]
