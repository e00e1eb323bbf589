"""Say what happened: a job requeued after its time limit is recorded in attempts.json, described
("requeued 1x after its 0.2-min limit") in the final report and in summary.csv; a run that needed
its last allowed retry is flagged."""
from __future__ import annotations

import json
import time

import submitit

from replication import attempts
from replication.job import StageJob
from sfi_mos.config import to_dict
from sfi_mos.rundir import is_done
from sfi_mos.train.configs import MOSTrainConfig

from grid_fixtures import fake_stages  # noqa: F401  (fixture)


def _recs(*ends, limit=15):
    return [{"start": time.time(), "end": e, "limit_min": limit} for e in ends]


def test_story_and_description():
    s = attempts.story(_recs("timeout", "timeout", "done"))
    assert (s.attempts, s.timeouts, s.restarts, s.done, s.last_retry) == (3, 2, 2, True, False)
    assert attempts.describe(s) == "requeued 2x after its 15-min limit, finished on attempt 3"
    last = attempts.story(_recs(*["timeout"] * attempts.MAX_TIMEOUTS, "done"))
    assert last.last_retry and "LAST allowed retry" in attempts.describe(last)
    lost = attempts.story(_recs(None, "failed", None))  # killed, then failed, now running
    assert (lost.lost, lost.failed, lost.done) == (1, 1, False)
    assert attempts.describe(lost) == "killed 1x (no record of why: out of memory, a signal, Ctrl-C), failed 1x before this run"
    assert attempts.describe(attempts.story(_recs("done"))) == ""
    assert attempts.timed_out(13 * 60, 15) and not attempts.timed_out(4 * 60, 15)  # submitit's rule


def test_local_timeout_requeues_resumes_and_is_recorded(tmp_path, fake_stages, monkeypatch):  # noqa: F811
    """A real submitit local job past its limit: USR2, checkpoint, requeue, resume; attempts.json says so."""
    monkeypatch.setenv("SFI_FAKE_STEPS", "60")
    monkeypatch.setenv("SFI_FAKE_SLEEP", "0.1")  # 6 s of work against a 6 s limit signalled at 3 s
    run_dir = tmp_path / "g" / "finetune" / "r"
    ex = submitit.LocalExecutor(folder=tmp_path / "logs")
    ex.update_parameters(timeout_min=0.1, signal_delay_s=3)
    job = ex.submit(StageJob("finetune", to_dict(MOSTrainConfig()), str(run_dir), 1, limit_min=0.1))
    job.result()
    assert is_done(run_dir)
    done = json.loads((run_dir / "done.json").read_text())
    assert done["starts"] >= 2 and done["resumed_from"] > 0  # resumed, not restarted from zero
    s = attempts.story(attempts.read(run_dir))
    assert s.done and s.timeouts == done["starts"] - 1 and s.attempts == done["starts"]
    assert attempts.describe(s).startswith(f"requeued {s.timeouts}x after its 0.1-min limit")


def test_report_and_summary_say_what_happened(tmp_path, fake_stages, capsys):  # noqa: F811
    import pandas as pd

    from replication import run_all

    res = ["--grid", "smoke", "--results", str(tmp_path), "--no-progress", "--cluster", "debug"]
    assert run_all.main(res) == 0
    grid_dir = tmp_path / "smoke"
    summ = pd.read_csv(grid_dir / "summary.csv")
    assert (summ["restarts"] == 0).all() and not summ["last_retry"].any() and summ["restart_notes"].isna().all()
    rels = [f"{p.parent.parent.name}/{p.parent.name}" for p in grid_dir.glob("*/*/attempts.json")]
    assert len(rels) == 12 and all(attempts.story(attempts.read(grid_dir / r)).attempts == 1 for r in rels)
    # a history as the issue saw it: the shared distillation timed out on every allowed requeue
    distill = next(r for r in rels if r.startswith("distill/"))
    (grid_dir / distill / attempts.FILE).write_text(json.dumps(_recs(*["timeout"] * attempts.MAX_TIMEOUTS, "done")))
    capsys.readouterr()
    assert run_all.main(res) == 0
    out = capsys.readouterr().out
    assert f"{distill} (distill): requeued {attempts.MAX_TIMEOUTS}x after its 15-min limit" in out
    assert "LAST allowed retry" in out
    summ = pd.read_csv(grid_dir / "summary.csv")
    hit = summ[summ["last_retry"]]  # the SFI cell; the resampling cell needs no distillation
    assert list(hit["variant"]) == ["sfi"] and list(summ[~summ["last_retry"]]["restarts"]) == [0]
    assert list(hit["restarts"]) == [attempts.MAX_TIMEOUTS] and hit["restart_notes"].iloc[0].startswith("distill ")
