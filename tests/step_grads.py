"""One optimiser step's gradient of each training stage, as the stage computes it, for the micro-batch
and data-parallel tests: the first step of epoch 0 (MOS) or step 0 (distillation), regularisers off."""
from __future__ import annotations

from pathlib import Path

import torch

from sfi_mos.data import UnlabelledAudio, read_corpus
from sfi_mos.mos.data import epoch_batches, step_groups
from sfi_mos.ssl import SFIStudent, load_teacher
from sfi_mos.train import ddp, distill, mos_stage
from sfi_mos.train.execution import Execution, step_work


def mos_step(cfg, run_dir: Path, ex: Execution) -> tuple[float, dict[str, torch.Tensor]]:
    corpus = read_corpus(cfg.data.kind, Path(cfg.data.root))
    train_items, _ = mos_stage.split_items(cfg, corpus.ratings, None)
    torch.manual_seed(cfg.seed)
    model, _ = mos_stage.build_model(cfg, run_dir, int(max(corpus.listeners.values())) + 1)
    model.backbone.model.set_regularisation(cfg.ssl_train)
    model.train()
    units = mos_stage.batch_units(cfg, train_items)
    batches = epoch_batches(units, cfg.batch_size, cfg.seed, 0, by_ratings=True)
    g0, g1, ratings = step_groups(units, batches, cfg.batch_size * cfg.grad_accum)[0]
    params = list(model.parameters())
    loss = mos_stage.step_gradients(model, params, units, batches[g0:g1], ratings, cfg, ex, 0, {},
                                    torch.device("cpu"))
    return loss, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def distill_step(cfg, ex: Execution) -> tuple[float, dict[str, torch.Tensor]]:
    teacher = load_teacher(cfg.teacher)
    student = SFIStudent.from_teacher(teacher, cfg.sfi, cfg.init, cfg.fit_steps, cfg.seed)
    student.set_regularisation(cfg.ssl_train)
    student.train()
    teacher.eval()
    data = UnlabelledAudio(Path(cfg.data.root), cfg.crop_seconds, cfg.seed)
    fs, items = distill.batch_plan(cfg.seed, 0, len(data), cfg.batch_size, tuple(cfg.rates))
    batch = distill.make_batch([data.crop(i, e) for i, e in items], fs, torch.device("cpu"))
    student.set_sample_rate(fs)
    params = list(student.parameters())
    student.zero_grad(set_to_none=True)  # the SFI filter fit leaves its last gradients behind
    loss = distill.train_step(student, teacher, batch, step_work([len(items)], ex.micro_batch, ddp.world()), params,
                              cfg.precision)
    return loss, {n: p.grad.clone() for n, p in student.named_parameters() if p.grad is not None}


def max_rel_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """||a - b|| / ||a|| over the whole gradient (what clipping and the optimiser see); the same
    parameters must have gradients. Per parameter it would divide by gradients that are zero in exact
    arithmetic (an attention key bias, which softmax ignores) and so only noise."""
    assert a.keys() == b.keys()
    diff = torch.cat([(a[k] - b[k]).flatten() for k in a]).norm()
    return float(diff / torch.cat([a[k].flatten() for k in a]).norm())
