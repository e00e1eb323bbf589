"""Micro-batches: a step split into pieces of a few clips gives the unsplit step's gradient.

Each piece is padded as its whole batch and its loss is normalised over the whole step (ratings in the
MOS stages, valid frames x layers in distillation), so the summed gradients equal the unsplit ones up
to float32 summation order. Regularisers are off here: with them on (dropout, LayerDrop, time masks)
every forward pass draws its own masks, so a split step draws other masks than the unsplit one.
"""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from mos_fixtures import finetune_cfg, mos_world  # noqa: F401
from sfi_mos.errors import InputError
from sfi_mos.ssl import write_tiny_checkpoints
from sfi_mos.train import mos_stage
from sfi_mos.train.configs import DataSpec, DistillConfig, MOSTrainConfig, TeacherSpec
from sfi_mos.train.execution import Execution, chunks, step_work
from ssl_fixtures import unlabelled_folder
from step_grads import distill_step, max_rel_diff, mos_step

torch.set_num_threads(1)
TOL = 1e-6


def test_microbatch_work_split_covers_every_clip_once():
    assert chunks(5, 2) == [(0, 2), (2, 4), (4, 5)] and chunks(5, None) == [(0, 5)]
    assert step_work([32, 32], None) == [(0, 0, 32), (1, 0, 32)]
    assert step_work([32, 32], 12) == [(0, 0, 12), (0, 12, 24), (0, 24, 32), (1, 0, 12), (1, 12, 24), (1, 24, 32)]
    assert step_work([8], None, n_ranks=2) == [(0, 0, 4), (0, 4, 8)]  # every rank gets work
    assert step_work([1] * 24, None, n_ranks=4) == [(i, 0, 1) for i in range(24)]
    with pytest.raises(InputError, match="micro_batch"):
        Execution(micro_batch=0)


def _mos(world, stage, batching, kind, pooling="all_frames", **kw):
    if stage == "pretrain":
        base = dict(stage="pretrain", fold=None, data=DataSpec("bvcc", str(world.bvcc)), batch_size=16, grad_accum=2)
    else:
        base = dict(batch_size=20, grad_accum=2)
    base.update(batching=batching, pooling=pooling, ssl_train="none", **kw)
    return finetune_cfg(world, kind, **base)


@pytest.mark.parametrize("stage,batching,kind,pooling", [
    ("pretrain", "rows", "sfi", "all_frames"),
    ("pretrain", "grouped", "resample", "all_frames"),
    ("finetune", "rows", "resample", "all_frames"),
    ("finetune", "grouped", "sfi", "all_frames"),
    ("finetune", "grouped", "resample", "masked"),
])
def test_microbatch_mos_step_gradient_equals_the_unsplit_step(mos_world, tmp_path, stage, batching, kind, pooling):
    cfg = _mos(mos_world, stage, batching, kind, pooling)
    loss, whole = mos_step(cfg, tmp_path, Execution())
    for m in (2, 5):  # 16 and 7 pieces of the 32-row pre-training step
        loss_m, split = mos_step(cfg, tmp_path, Execution(micro_batch=m))
        assert abs(loss_m - loss) <= TOL * loss
        assert max_rel_diff(whole, split) <= TOL, (m, max_rel_diff(whole, split))


@pytest.fixture(scope="module")
def distill_setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mb_distill")
    ckpts = write_tiny_checkpoints(tmp / "ckpt", "tiny", seed=0)
    return ckpts, unlabelled_folder(tmp)


def test_microbatch_distill_step_gradient_equals_the_unsplit_step(distill_setup):
    ckpts, audio = distill_setup
    cfg = DistillConfig(teacher=TeacherSpec("hubert_local", str(ckpts["hubert"])), data=DataSpec("folder", str(audio)),
                        crop_seconds=0.8, batch_size=4, fit_steps=5, ssl_train="none", seed=3)
    loss, whole = distill_step(cfg, Execution())
    sfi = [k for k in whole if ".analog." in k]
    assert sfi
    for m in (1, 3):
        loss_m, split = distill_step(cfg, Execution(micro_batch=m))
        assert abs(loss_m - loss) <= TOL * loss
        rest = [k for k in whole if k not in sfi]
        assert max_rel_diff(*({k: g[k] for k in rest} for g in (whole, split))) <= TOL
        # the SFI filters' gradient reaches them through the least-squares filter design, whose backward
        # amplifies the float32 rounding of the summed kernel gradient (measured: 2e-6 with 4 pieces)
        assert max_rel_diff(*({k: g[k] for k in sfi} for g in (whole, split))) <= 10 * TOL


def test_microbatch_run_records_its_execution_and_matches_the_unsplit_run(mos_world, tmp_path):
    cfg = _mos(mos_world, "finetune", "grouped", "sfi", max_epochs=1, max_steps=2)
    ref = mos_stage.run(cfg, tmp_path / "whole")
    got = mos_stage.run(cfg, tmp_path / "split", Execution(micro_batch=1, gpu_mem_gib=24.0))
    env = json.loads((tmp_path / "split" / "env.json").read_text())
    assert env["execution"] == {"micro_batch": 1, "gpu_mem_gib": 24.0, "world_size": 1}
    assert (tmp_path / "whole" / "config.json").read_text() == (tmp_path / "split" / "config.json").read_text()
    assert got["best_val_loss"] == pytest.approx(ref["best_val_loss"], rel=1e-5)


def test_microbatch_distill_in_bf16_splits_like_fp32(distill_setup):
    """bf16 autocast (teacher and student; the loss in float32) on the CPU: the split step's loss equals
    the unsplit one's to bf16 rounding, and both are near the fp32 loss."""
    ckpts, audio = distill_setup
    cfg = DistillConfig(teacher=TeacherSpec("hubert_local", str(ckpts["hubert"])), data=DataSpec("folder", str(audio)),
                        crop_seconds=0.8, batch_size=4, fit_steps=5, ssl_train="none", seed=3, precision="bf16")
    loss, whole = distill_step(cfg, Execution())
    loss_m, split = distill_step(cfg, Execution(micro_batch=2))
    fp32, _ = distill_step(replace(cfg, precision="fp32"), Execution())
    assert all(torch.isfinite(g).all() for g in whole.values())
    assert abs(loss_m - loss) <= 1e-3 * loss and abs(loss - fp32) <= 0.05 * fp32
    assert max_rel_diff(whole, split) <= 0.05
