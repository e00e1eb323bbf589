"""MOS training stage: BVCC pre-training and Track 3 fine-tuning through one implementation.

``run(cfg, run_dir)``. ``cfg.batching`` chooses how ratings become batches: ``rows`` (the authors',
the default) shuffles individual rating rows and runs the backbone once per row; ``grouped`` (the
suite's) packs whole utterances of one rate with all their ratings, so the backbone runs once per
clip and the head once per rating. Either way the loss is the mean over ratings and ``batch_size``
and ``grad_accum`` keep the paper's meaning in rating rows (a step covers ``batch_size * grad_accum``
rows; grouped batches pack utterances up to ``batch_size`` ratings). Schedule-free RAdam
(train/eval switching), gradient accumulation, clipping, best checkpoint by validation loss, optional
step cap (``max_steps``: the epoch is cut short, validated and the run ends), exact resume from
``ckpt/last.pt`` (written after an optimiser step only, with model, optimiser, RNG and the epoch/batch
position; batch order and crops are functions of (seed, epoch), so the rest of the run replays bit
for bit).
"""
from __future__ import annotations

import contextlib
from collections import Counter
import json
import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import schedulefree
import torch
from tqdm import tqdm

from .. import rundir
from ..atomic import torch_save, write_csv, write_json
from ..data import read_corpus
from ..errors import InputError
from ..metrics import evaluate, save_json, to_jsonable
from ..mos.backbone import build_backbone
from ..mos.checkpoint import BEST, init_from_pretrain, read_backbone_spec, save_model
from ..mos.data import (Utterance, epoch_batches, group_ratings, make_batch, rating_rows, step_groups,
                        uniform_epoch_steps)
from ..mos.head import to_mos
from ..mos.model import MOSModel
from ..sfi import one_design
from . import ddp
from .configs import MOSTrainConfig
from .execution import Execution, step_work
from .folds import assign_folds, save_folds
from .precision import autocast as at_precision

VAL_BATCH = 8
PRED_COLUMNS = ["utt_id", "path", "sample_rate", "system_id", "split", "pred", "mos"]


def device_for() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def split_items(cfg: MOSTrainConfig, ratings: pd.DataFrame, run_dir: Path | None):
    """(train utterances, validation utterances); k-fold over the training split when ``cfg.fold`` is set
    (the fold assignment is saved in ``run_dir`` unless it is None)."""
    train = ratings[ratings.split == "train"]
    if train.empty:
        raise InputError(cfg.data.root, "no ratings in the training split")
    if cfg.stage == "pretrain" or cfg.fold is None:
        val = ratings[ratings.split == "dev"]
        if val.empty:
            raise InputError(cfg.data.root, "no ratings in the dev split to validate on")
        return group_ratings(train), group_ratings(val)
    if not 0 <= cfg.fold < cfg.n_folds:
        raise InputError("fold", f"fold {cfg.fold} outside 0..{cfg.n_folds - 1}")
    folds = assign_folds(train[["utt_id", "sample_rate"]], cfg.n_folds, cfg.seed)
    if run_dir is not None:
        save_folds(folds, run_dir)
    val_ids = set(folds.utt_id[folds.fold == cfg.fold])
    is_val = train.utt_id.isin(val_ids)
    return group_ratings(train[~is_val]), group_ratings(train[is_val])


def planned_steps(cfg: MOSTrainConfig, ratings: pd.DataFrame) -> int:
    """Optimiser steps ``run`` takes on ``ratings`` (per-rating rows): the same split, batches and step
    groups as training, every epoch, up to ``max_steps`` (for cost estimates; reads no audio)."""
    units = batch_units(cfg, split_items(cfg, ratings, None)[0])
    per_item = {len(u.ratings) for u in units}
    counts = Counter(u.sample_rate for u in units)
    total = 0
    for epoch in range(cfg.max_epochs):
        if len(per_item) == 1:  # rating rows, or clips that all hold as many ratings: counts suffice
            total += uniform_epoch_steps(counts, next(iter(per_item)), cfg.batch_size,
                                         cfg.batch_size * cfg.grad_accum, cfg.seed, epoch)
        else:
            batches = epoch_batches(units, cfg.batch_size, cfg.seed, epoch, by_ratings=True)
            total += len(step_groups(units, batches, cfg.batch_size * cfg.grad_accum))
        if cfg.max_steps and total >= cfg.max_steps:
            return cfg.max_steps
    return total


def _resolved(spec, run_dir: Path) -> tuple:
    def path(p):
        return str(rundir.resolve_path(p, run_dir).resolve()) if p else None

    # resample and resample_sr share the backbone (only the head differs): a resample pretrain can
    # start a resample_sr fine-tune, as in the paper's condition_sr configs
    kind = "resample" if spec.kind == "resample_sr" else spec.kind
    if kind == "sfi":  # only the fields the kind reads
        return kind, spec.features, path(spec.student_run)
    return kind, spec.features, spec.teacher.name, path(spec.teacher.path)


def build_model(cfg: MOSTrainConfig, run_dir: Path, n_listeners: int) -> tuple[MOSModel, dict]:
    if cfg.init_run:
        init_dir = rundir.resolve_path(cfg.init_run, run_dir)
        # this run is later rebuilt from its own config, so it must name the pretrain run's backbone
        if _resolved(read_backbone_spec(init_dir), init_dir) != _resolved(cfg.backbone, run_dir):
            raise InputError(f"{init_dir}/config.json", "the pretrain run's backbone differs from this run's "
                             f"backbone {cfg.backbone}")
        model = MOSModel(build_backbone(cfg.backbone, run_dir, cfg.input_norm), n_listeners)
        return model, init_from_pretrain(model, init_dir, cfg.init_listeners)
    return MOSModel(build_backbone(cfg.backbone, run_dir, cfg.input_norm), n_listeners), {}


def autocast(cfg: MOSTrainConfig, device: torch.device):
    return at_precision(cfg.precision, device)


def batch_units(cfg: MOSTrainConfig, items: list[Utterance]) -> list[Utterance]:
    """What a batch is made of: rating rows (authors) or whole utterances with all their ratings (suite)."""
    return rating_rows(items) if cfg.batching == "rows" else items


@torch.no_grad()
def unmasked_loss(model: MOSModel, items: list[Utterance], device, cfg) -> float:
    """Validation MSE in the training batch layout, unshuffled, padding treated as signal: what the
    authors' validation computes when a batch holds several clips (``pooling="all_frames"``)."""
    sq_err, n = 0.0, 0
    units = batch_units(cfg, items)
    for idx in epoch_batches(units, cfg.batch_size, 0, 0, shuffle=False, by_ratings=True):
        b = make_batch(units, idx, device)
        with autocast(cfg, device):
            pred = model(b["wavs"], b["sample_rate"], b["utt_index"], b["listener_ids"], unmasked=True)
        sq_err += float(((pred.float() - b["targets"]) ** 2).sum())
        n += len(b["targets"])
    return sq_err / max(n, 1)


@torch.no_grad()
def validate(model: MOSModel, items: list[Utterance], listeners: list[int], device,
             cfg) -> tuple[float, pd.DataFrame]:
    """(MSE over individual ratings, per-utterance predictions averaged over the training listeners).

    Predictions always come from each clip alone (the exact, batch-independent path that ``predict``
    uses). The loss does too unless padding is signal and a batch can hold several clips."""
    model.eval()
    sq_err, n, rows = 0.0, 0, []
    mean_lis = torch.tensor(listeners, dtype=torch.long, device=device)
    for idx in epoch_batches(items, VAL_BATCH, 0, 0, shuffle=False):
        b = make_batch(items, idx, device)
        with autocast(cfg, device):
            feats, flen = model.backbone(b["wavs"], b["sample_rate"], exact=True)
            per_rating = model.head(feats, flen, b["utt_index"], b["listener_ids"], b["sample_rate"])
            u = len(idx)
            uidx = torch.arange(u, device=device).repeat_interleave(len(listeners))
            avg = model.head(feats, flen, uidx, mean_lis.repeat(u), b["sample_rate"]).view(u, -1).mean(1)
        sq_err += float(((per_rating.float() - b["targets"]) ** 2).sum())
        n += len(b["targets"])
        for k, i in enumerate(idx):
            it = items[i]
            rows.append((it.utt_id, it.wav_path, it.sample_rate, it.system_id, it.split,
                         float(to_mos(avg[k].float())), it.mos))
    preds = pd.DataFrame(rows, columns=PRED_COLUMNS).sort_values("utt_id", kind="stable").reset_index(drop=True)
    if cfg.pooling == "all_frames" and cfg.batch_size > 1:
        return unmasked_loss(model, items, device, cfg), preds
    return sq_err / max(n, 1), preds


def score(preds: pd.DataFrame, bootstrap: int = 0, seed: int = 0) -> dict:
    truth = preds[["utt_id", "mos", "system_id", "sample_rate"]]
    return evaluate(preds[["utt_id", "pred"]], truth, bootstrap=bootstrap, seed=seed)


def _rng_state() -> dict:
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _save_last(path: Path, model, opt, state: dict) -> None:
    """Rank 0 writes; with several ranks every rank's RNG state goes in (a list in rank order), so each
    resumes its own dropout stream. Called by every rank (the states are gathered)."""
    rng = ddp.gather_state(_rng_state())
    if ddp.is_main():
        torch_save(path, {"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": rng, "state": state})


def _check(cfg: MOSTrainConfig) -> None:
    """What the config's types cannot say (its choices and ranges are checked when it is built)."""
    if cfg.max_seconds is not None and cfg.max_seconds <= 0.025:
        raise InputError("max_seconds", f"crop of {cfg.max_seconds} s is shorter than the receptive field")


def _chunk(batch: dict, a: int, b: int, device) -> dict:
    """Clips ``a:b`` of a batch with their ratings, on ``device``."""
    keep = (batch["utt_index"] >= a) & (batch["utt_index"] < b)
    return {"wavs": [w.to(device) for w in batch["wavs"][a:b]], "sample_rate": batch["sample_rate"],
            "utt_index": (batch["utt_index"][keep] - a).to(device),
            "listener_ids": batch["listener_ids"][keep].to(device), "targets": batch["targets"][keep].to(device)}


def step_gradients(model: MOSModel, params: list, units: list[Utterance], batches: list[list[int]],
                   step_ratings: int, cfg: MOSTrainConfig, ex: Execution, epoch: int, cache: dict | None,
                   device) -> float:
    """Forward and backward passes of one optimiser step (``batches``: its batches of ``units``), this
    rank's share of them in micro-batches of at most ``ex.micro_batch`` clips; leaves the step's
    gradient, summed over the ranks, in ``params`` and returns the step's loss. Every piece is padded as
    its whole batch and its loss is divided by the step's rating count, so the sum over pieces is the
    unsplit step's gradient."""
    mine = ddp.share(step_work([len(idx) for idx in batches], ex.micro_batch, ddp.world()))
    with one_design(model) if len(mine) > 1 else contextlib.nullcontext():
        sq_sum = _pieces(model, units, batches, mine, step_ratings, cfg, epoch, cache, device)
    return ddp.sum_gradients(params, [sq_sum])[0] / step_ratings


def _pieces(model, units, batches, mine, step_ratings, cfg, epoch, cache, device) -> float:
    """Forward and backward of each ``(batch, start, end)`` piece; the summed squared error."""
    cpu = torch.device("cpu")
    made: dict[int, tuple[dict, int]] = {}
    sq_sum = 0.0
    for i, a, b in mine:
        if i not in made:  # the whole batch, on the CPU (its audio is small): its pieces are cut from it
            whole = make_batch(units, batches[i], cpu, max_seconds=cfg.max_seconds, seed=cfg.seed, epoch=epoch,
                               audio_cache=cache)
            pad = max(model.backbone.prepared_length(w.shape[-1], whole["sample_rate"]) for w in whole["wavs"])
            made = {i: (whole, pad)}
        whole, pad_to = made[i]
        mb = _chunk(whole, a, b, device)
        with autocast(cfg, device):
            pred = model(mb["wavs"], mb["sample_rate"], mb["utt_index"], mb["listener_ids"],
                         unmasked=cfg.pooling == "all_frames", pad_to=pad_to)
        sq = (pred.float() - mb["targets"]) ** 2
        (sq.sum() / step_ratings).backward()
        sq_sum += float(sq.detach().sum())
    return sq_sum


def run(cfg: MOSTrainConfig, run_dir, execution: Execution | None = None) -> dict:
    """Train (or resume) in ``run_dir``. ``execution``: micro-batches (``sfi_mos.train.execution``); in
    a ``torch.distributed`` process group the step's clips are split over the ranks (``ddp``)."""
    _check(cfg)
    ex = execution or Execution()
    main = ddp.is_main()
    run_dir = rundir.start(run_dir, cfg, ex.record(ddp.world())) if main else Path(run_dir)
    ddp.barrier()
    device = device_for()
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)

    reader_args = {"qualify_listeners": cfg.listener_ids == "per_test"} if cfg.data.kind == "track3" else {}
    corpus = read_corpus(cfg.data.kind, rundir.resolve_path(cfg.data.root, run_dir), **reader_args)
    train_items, val_items = split_items(cfg, corpus.ratings, run_dir if main else None)
    n_listeners = int(max(corpus.listeners.values())) + 1
    if main:
        write_json(run_dir / "listeners.json", {str(k): int(v) for k, v in sorted(corpus.listeners.items())})
    train_listeners = sorted({lid for u in train_items for lid in u.listener_ids})

    model, init_info = build_model(cfg, run_dir, n_listeners)
    model.backbone.model.set_regularisation(cfg.ssl_train)
    model.to(device)
    ddp.broadcast_module(model)
    units = batch_units(cfg, train_items)
    params = list(model.parameters())
    opt = schedulefree.RAdamScheduleFree(params, lr=cfg.lr)
    state = {"epoch": 0, "batch": 0, "step": 0, "best_loss": math.inf, "best_epoch": -1, "history": [],
             "best_preds": None}
    last = run_dir / "ckpt" / "last.pt"
    if last.exists():
        blob = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["optimizer"])
        _set_rng_state(ddp.own_state(blob["rng"]))
        state = blob["state"]
        state.setdefault("resumes", []).append({k: state[k] for k in ("epoch", "batch", "step")})
    else:
        ddp.seed_rank(cfg.seed)
    cache: dict = {}

    capped = lambda: cfg.max_steps > 0 and state["step"] >= cfg.max_steps  # noqa: E731
    for epoch in range(state["epoch"], cfg.max_epochs):
        if capped():  # a resumed run that had already reached the cap
            break
        model.train()
        opt.train()
        batches = epoch_batches(units, cfg.batch_size, cfg.seed, epoch, by_ratings=True)
        # the loss of a step is the mean over all its ratings, however they are split into batches,
        # micro-batches and ranks
        groups = [g for g in step_groups(units, batches, cfg.batch_size * cfg.grad_accum) if g[0] >= state["batch"]]
        bar = tqdm(groups, desc=f"{cfg.stage} epoch {epoch}", leave=False, disable=not main)
        for g0, g1, step_ratings in bar:
            loss = step_gradients(model, params, units, batches[g0:g1], step_ratings, cfg, ex, epoch, cache, device)
            bar.set_postfix(loss=f"{loss:.4f}")
            torch.nn.utils.clip_grad_norm_(params, cfg.clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            state["step"] += 1
            if cfg.ckpt_every and state["step"] % cfg.ckpt_every == 0 and g1 < len(batches):
                state["batch"] = g1
                _save_last(last, model, opt, state)
            if capped():
                break
        opt.eval()  # schedule-free: evaluate (and keep) the averaged weights
        if main:
            val_loss, preds = validate(model, val_items, train_listeners, device, cfg)
            m = score(preds)
            state["history"].append({"epoch": epoch, "step": state["step"], "val_loss": val_loss,
                                     "val_sys_srcc": m["sys"]["SRCC"], "val_utt_lcc": m["utt"]["LCC"]})
            tqdm.write(f"{cfg.stage} epoch {epoch}: val_loss {val_loss:.4f} sys-SRCC {m['sys']['SRCC']:.3f}")
            if val_loss < state["best_loss"]:
                state.update(best_loss=val_loss, best_epoch=epoch, best_preds=preds.to_dict("list"))
                save_model(run_dir / BEST, model, train_listeners=train_listeners, epoch=epoch,
                           val_loss=val_loss, stage=cfg.stage)
        state.update(epoch=epoch + 1, batch=0)
        _save_last(last, model, opt, state)

    if not main:  # rank 0 writes the results; the others wait so the job ends with them
        ddp.barrier()
        return {}
    if state["best_preds"] is None:
        raise InputError("max_epochs", "no epoch was trained, so there is no best checkpoint")
    preds = pd.DataFrame(state["best_preds"])[PRED_COLUMNS]
    write_csv(run_dir / "predictions.csv", preds)
    metrics = {"stage": cfg.stage, "fold": cfg.fold, "best_epoch": state["best_epoch"],
               "best_val_loss": state["best_loss"], "steps": state["step"], "n_train_utts": len(train_items),
               "n_val_utts": len(val_items), "n_train_ratings": sum(len(u.ratings) for u in train_items),
               "val": score(preds), "history": state["history"], "resumed_from": state.get("resumes", []),
               **init_info}

    save_json(run_dir / "metrics.json", metrics)  # NaN (e.g. SRCC of a constant) becomes null
    rundir.finish(run_dir, to_jsonable({"best_epoch": state["best_epoch"], "best_val_loss": state["best_loss"],
                                        "val_sys_srcc": metrics["val"]["sys"]["SRCC"]}))
    ddp.barrier()
    return metrics
