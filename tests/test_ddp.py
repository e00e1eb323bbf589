"""Data parallelism: a stage run as 2 gloo ranks equals the same stage in one process.

The ranks split each step's clips and sum their gradients in one all-reduce, so a step's gradient is
the one-process gradient up to float32 summation order; regularisers are off (each rank draws its own
dropout masks otherwise). Rank 0 alone writes. The Slurm tests (test_slurm_ddp.py) start the same code
as two tasks of one job.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from ddp_worker import spawn
from mos_fixtures import finetune_cfg, mos_world  # noqa: F401
from sfi_mos.ssl import write_tiny_checkpoints
from sfi_mos.train import distill, mos_stage
from sfi_mos.train.configs import DataSpec, DistillConfig, TeacherSpec
from sfi_mos.train.ddp import share
from sfi_mos.train.execution import Execution
from ssl_fixtures import unlabelled_folder
from step_grads import distill_step, max_rel_diff, mos_step

torch.set_num_threads(1)
TOL = 1e-6


def test_ddp_share_gives_every_piece_to_one_rank():
    items = list(range(7))
    parts = [share(items, 3, r) for r in range(3)]
    assert sorted(sum(parts, [])) == items and [len(p) for p in parts] == [3, 2, 2]


@pytest.fixture(scope="module")
def distill_setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp_distill")
    ckpts = write_tiny_checkpoints(tmp / "ckpt", "tiny", seed=0)
    return ckpts, unlabelled_folder(tmp)


def _distill_cfg(distill_setup, **kw):
    ckpts, audio = distill_setup
    base = dict(teacher=TeacherSpec("hubert_local", str(ckpts["hubert"])), data=DataSpec("folder", str(audio)),
                crop_seconds=0.8, batch_size=4, fit_steps=5, ssl_train="none", seed=3, ckpt_every=2)
    return DistillConfig(**{**base, **kw})


@pytest.mark.parametrize("batching,kind", [("rows", "resample"), ("grouped", "sfi")])
def test_ddp_gloo_mos_step_gradient_equals_one_process(mos_world, tmp_path, batching, kind):
    cfg = finetune_cfg(mos_world, kind, batching=batching, batch_size=20, grad_accum=2, ssl_train="none")
    loss, one = mos_step(cfg, tmp_path, Execution())
    loss2, two = spawn(tmp_path, "mos_step", cfg, tmp_path)
    assert abs(loss2 - loss) <= TOL * loss and max_rel_diff(one, two) <= TOL


def test_ddp_gloo_distill_step_gradient_equals_one_process(distill_setup, tmp_path):
    cfg = _distill_cfg(distill_setup)
    loss, one = distill_step(cfg, Execution())
    loss2, two = spawn(tmp_path, "distill_step", cfg, tmp_path, micro_batch=1)  # 2 ranks x 2 pieces
    assert abs(loss2 - loss) <= TOL * loss
    rest = [k for k in one if ".analog." not in k]  # SFI filters: see test_microbatch
    assert max_rel_diff({k: one[k] for k in rest}, {k: two[k] for k in rest}) <= TOL
    assert max_rel_diff(one, two) <= 10 * TOL


def test_ddp_gloo_finetune_run_equals_one_process(mos_world, tmp_path):
    cfg = finetune_cfg(mos_world, "sfi", batching="grouped", batch_size=20, grad_accum=1, ssl_train="none",
                       max_epochs=2, max_steps=3)
    mos_stage.run(cfg, tmp_path / "one")
    spawn(tmp_path, "mos_run", cfg, tmp_path / "two")
    one = pd.read_csv(tmp_path / "one" / "predictions.csv")
    two = pd.read_csv(tmp_path / "two" / "predictions.csv")
    pd.testing.assert_frame_equal(one.drop(columns="pred"), two.drop(columns="pred"))
    assert (one.pred - two.pred).abs().max() < 1e-4
    env = json.loads((tmp_path / "two" / "env.json").read_text())
    assert env["execution"]["world_size"] == 2
    m1 = json.loads((tmp_path / "one" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert m1["steps"] == m2["steps"] == 3


def test_ddp_gloo_distill_run_equals_one_process(distill_setup, tmp_path):
    cfg = _distill_cfg(distill_setup, steps=4)
    distill.run(cfg, tmp_path / "one")
    spawn(tmp_path, "distill_run", cfg, tmp_path / "two")
    a = pd.read_csv(tmp_path / "one" / "log.csv")
    b = pd.read_csv(tmp_path / "two" / "log.csv")
    assert list(a.sample_rate) == list(b.sample_rate)
    assert (a.loss - b.loss).abs().max() <= 1e-4 * a.loss.abs().max()
    s1 = torch.load(tmp_path / "one" / "student.pt", weights_only=False)
    s2 = torch.load(tmp_path / "two" / "student.pt", weights_only=False)
    w1, w2 = s1["state_dict"], s2["state_dict"]
    assert max(float((w1[k].float() - w2[k].float()).abs().max()) for k in w1) < 1e-4
