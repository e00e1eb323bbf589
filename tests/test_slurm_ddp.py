"""A 2-task Slurm job on the real single-node cluster (tests/conftest.py starts it) runs a training stage
as 2 gloo ranks, set up by submitit's TorchDistributedEnvironment inside ``StageJob``: it equals the
one-process run, and killed and requeued by Slurm it resumes from its checkpoint."""
from __future__ import annotations

import json
import subprocess
import time
from dataclasses import replace

import pandas as pd
import pytest
import submitit
import torch

from mos_fixtures import finetune_cfg, mos_world  # noqa: F401
from replication.attempts import read as read_attempts
from replication.job import StageJob
from sfi_mos.config import to_dict
from sfi_mos.train import mos_stage

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def ddp_cfg(mos_world):
    return finetune_cfg(mos_world, "sfi", batching="grouped", batch_size=20, grad_accum=1, ssl_train="none",
                        max_epochs=2, max_steps=6, ckpt_every=1)


def _reference(cfg, out):
    torch.set_num_threads(1)
    mos_stage.run(cfg, out)
    return pd.read_csv(out / "predictions.csv")


@pytest.fixture(scope="module")
def reference(ddp_cfg, tmp_path_factory):
    return _reference(ddp_cfg, tmp_path_factory.mktemp("ddp_ref") / "run")


def _submit(tmp_path, cfg, run_dir):
    ex = submitit.AutoExecutor(folder=tmp_path / "logs" / "%j", cluster="slurm")
    ex.update_parameters(timeout_min=20, slurm_partition="debug", tasks_per_node=2, cpus_per_task=1,
                         slurm_signal_delay_s=30, name="sfi-mos-ddp-test")
    return ex.submit(StageJob("finetune", to_dict(cfg), str(run_dir), threads=1))


def _same(run_dir, reference):
    got = pd.read_csv(run_dir / "predictions.csv")
    pd.testing.assert_frame_equal(got.drop(columns="pred"), reference.drop(columns="pred"))
    assert (got.pred - reference.pred).abs().max() < 1e-4


def test_ddp_slurm_two_tasks_equal_one_process(slurm_cluster, tmp_path, ddp_cfg, reference):
    run_dir = tmp_path / "finetune" / "two"
    job = _submit(tmp_path, ddp_cfg, run_dir)
    results = job.results()  # one per task; rank 0 ran the stage's writes
    assert [r["executed"] for r in results] == [True, True]
    env = json.loads((run_dir / "env.json").read_text())
    assert env["execution"]["world_size"] == 2 and env["slurm_job_id"] == str(job.job_id)
    assert [a["end"] for a in read_attempts(run_dir)] == ["done"]  # one record: rank 0's
    _same(run_dir, reference)


def test_ddp_slurm_killed_and_requeued_job_resumes(slurm_cluster, tmp_path, ddp_cfg):
    # long enough (about 130 steps, 12 validations) to be killed while it trains on an idle machine
    cfg = replace(ddp_cfg, max_epochs=12, max_steps=0)
    reference = _reference(cfg, tmp_path / "reference")
    run_dir = tmp_path / "finetune" / "requeued"
    job = _submit(tmp_path, cfg, run_dir)
    last = run_dir / "ckpt" / "last.pt"
    deadline = time.monotonic() + 240
    while not last.exists():  # a mid-run checkpoint: the job is training on both ranks
        assert time.monotonic() < deadline and not job.done(), "the 2-task job never checkpointed"
        time.sleep(0.05)
    assert not (run_dir / "done.json").exists()
    # Slurm kills both tasks and puts the job back in the queue (what a node failure or an admin does)
    subprocess.run(["scontrol", "requeue", str(job.job_id)], check=True)
    results = job.results()
    assert results[0]["executed"]
    # the killed attempt (never closed: "lost") and the resumed one
    assert [a["end"] for a in read_attempts(run_dir)] == [None, "done"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["resumed_from"] and metrics["resumed_from"][0]["step"] >= 1
    _same(run_dir, reference)
