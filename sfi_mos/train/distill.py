"""Distillation stage: a frozen 16 kHz teacher teaches an SFI student at many sampling rates.

Per step (paper §1.4): draw fs from ``cfg.rates``; take ``batch_size`` seeded crops of the unlabelled
folder; resample each to fs for the student and to 16 kHz for the teacher (torchaudio); loss = MSE
over all hidden states, truncated to the common frame count (valid frames only when clips are padded);
RAdam, lr 1e-4, decoupled weight decay 0.01, no clipping.

Exact resume: which files, crops and rate a step uses is a pure function of (seed, step); model,
optimiser, the torch/numpy/python RNG states (dropout, WavLM's layer-drop draw) and the log go into
``ckpt/last.pt`` every ``ckpt_every`` steps, so a killed run continues to the same final weights.

``steps == 0`` is the paper's "without distillation" control (``NO_DISTILL_STEPS``): the
teacher-initialised student is saved untrained. Outputs: ``config.json``/``env.json`` (rundir.start),
``log.csv`` (step, sample_rate, loss), ``sfi_init.pt`` (the initial SFI layer), ``student.pt``,
``metrics.json``, and ``done.json`` last.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torchaudio
from tqdm import tqdm

from .. import rundir
from ..atomic import torch_save, write_csv, write_json
from ..data import UnlabelledAudio
from ..errors import InputError
from ..jsonio import read_json
from ..sfi import one_design
from ..ssl import SFIStudent, load_teacher
from . import ddp
from .configs import DistillConfig, TeacherSpec
from .execution import Execution, step_work
from .precision import autocast

NO_DISTILL_STEPS = 0  # DistillConfig(steps=0): the "without distillation" control
TEACHER_RATE = 16000
AGREEMENT_RATES = (24000, 48000)
MAX_EVAL_CLIPS = 8
FINAL_LOSS_WINDOW = 10
SFI_INIT = "sfi_init.pt"  # the SFI layer right after initialisation (teacher fit or random)


# --- data: a pure function of (seed, step) --------------------------------------------------------
def batch_plan(seed: int, step: int, n_files: int, batch_size: int, rates: tuple[int, ...]) -> tuple[int, list[tuple[int, int]]]:
    """(fs, [(file index, crop epoch)]) of ``step``: files in a fresh seeded order every epoch."""
    fs = int(rates[np.random.default_rng([seed, step, 1]).integers(len(rates))])
    items = []
    for pos in range(step * batch_size, (step + 1) * batch_size):
        epoch, k = divmod(pos, n_files)
        order = np.random.default_rng([seed, epoch, 2]).permutation(n_files)
        items.append((int(order[k]), epoch))
    return fs, items


def _resample(wav: torch.Tensor, sr: int, fs: int) -> torch.Tensor:
    return wav if sr == fs else torchaudio.functional.resample(wav, sr, fs)


def _pad(wavs: list[torch.Tensor], device) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([w.shape[0] for w in wavs], dtype=torch.long)
    return torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True).to(device), lengths.to(device)


def make_batch(clips: list[tuple[np.ndarray, int]], fs: int, device) -> dict[str, torch.Tensor]:
    """Student input at ``fs`` and teacher input at 16 kHz (torchaudio, on ``device``).

    Clips of one source rate are resampled as one zero-padded batch: torchaudio pads each signal
    with zeros anyway, so the valid samples (ceil(L * fs / sr) of them) equal a per-clip resample.
    """
    src = [torch.from_numpy(np.asarray(x, dtype=np.float32)) for x, _ in clips]
    rates = [int(sr) for _, sr in clips]
    out = {}
    for key, rate in (("s", fs), ("t", TEACHER_RATE)):
        if len(set(rates)) == 1:
            wavs, lengths = _pad(src, device)
            wavs = _resample(wavs, rates[0], rate)
            lengths = -(-lengths * rate // rates[0])  # ceil(L * rate / sr)
        else:
            wavs, lengths = _pad([_resample(w.to(device), sr, rate) for w, sr in zip(src, rates)], device)
        out[f"{key}_wavs"], out[f"{key}_len"] = wavs, lengths
    return out


# --- loss and agreement ----------------------------------------------------------------------------
def _common(s_hidden, s_frames, t_hidden, t_frames):
    n = min(s_hidden[0].shape[1], t_hidden[0].shape[1])
    frames = torch.minimum(s_frames, t_frames).clamp(max=n)
    mask = (torch.arange(n, device=frames.device)[None, :] < frames[:, None]).to(s_hidden[0].dtype)
    return n, mask


def distill_sums(s_hidden, s_frames, t_hidden, t_frames) -> tuple[torch.Tensor, torch.Tensor]:
    """(squared error summed over layers and valid common frames, averaged over dimensions; the number
    of valid common frames): the parts a loss split over micro-batches and ranks is normalised from."""
    if len(s_hidden) != len(t_hidden):
        raise InputError("student/teacher", f"{len(s_hidden)} vs {len(t_hidden)} hidden states")
    n, mask = _common(s_hidden, s_frames, t_hidden, t_frames)
    total = sum((((s[:, :n] - t[:, :n]) ** 2).mean(-1) * mask).sum() for s, t in zip(s_hidden, t_hidden))
    return total, mask.sum()


def distill_loss(s_hidden, s_frames, t_hidden, t_frames) -> torch.Tensor:
    """MSE averaged over layers, valid common frames and dimensions (plain MSE when unpadded)."""
    total, frames = distill_sums(s_hidden, s_frames, t_hidden, t_frames)
    return total / (frames.clamp(min=1.0) * len(s_hidden))


def cosine_agreement(s_hidden, s_frames, t_hidden, t_frames) -> float:
    """Mean cosine similarity of student vs teacher frames over layers and valid common frames."""
    n, mask = _common(s_hidden, s_frames, t_hidden, t_frames)
    cos = sum((torch.nn.functional.cosine_similarity(s[:, :n], t[:, :n], dim=-1) * mask).sum()
              for s, t in zip(s_hidden, t_hidden))
    return float(cos / (mask.sum().clamp(min=1.0) * len(s_hidden)))


@torch.no_grad()
def evaluate(student, teacher, clips, rates, device) -> dict[str, dict[str, float]]:
    """Distillation loss and cosine agreement per student rate on ``clips`` (one clip at a time)."""
    was = student.training
    student.eval()
    out: dict[str, dict[str, float]] = {"loss": {}, "cosine": {}}
    for fs in rates:
        student.set_sample_rate(fs)
        losses, cosines = [], []
        for clip in clips:
            b = make_batch([clip], fs, device)
            t_h, t_n = teacher(b["t_wavs"], b["t_len"])
            s_h, s_n = student(b["s_wavs"], b["s_len"])
            losses.append(float(distill_loss(s_h, s_n, t_h, t_n)))
            cosines.append(cosine_agreement(s_h, s_n, t_h, t_n))
        out["loss"][str(fs)] = float(np.mean(losses))
        out["cosine"][str(fs)] = float(np.mean(cosines))
    student.train(was)
    return out


# --- RNG state as plain tensors/lists (checkpoints load with weights_only=True) ---------------------
def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(), "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos),
                                                      int(has_gauss), float(gauss)],
            "python": [version, list(py_state), py_gauss]}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = state["python"]
    random.setstate((version, tuple(py_state), py_gauss))


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


# --- the stage --------------------------------------------------------------------------------------
def _resolve(spec: TeacherSpec, run_dir: Path) -> TeacherSpec:
    if spec.path is None:
        return spec
    return TeacherSpec(spec.name, str(rundir.resolve_path(spec.path, run_dir)))


def student_base(cfg: DistillConfig, teacher, run_dir: Path):
    """The model the student is built from: the teacher (suite), or ``cfg.student`` (the authors' one
    HuBERT-class student for every teacher); the no-distillation control with ``nokd_init="full"`` is
    always the teacher's own model."""
    if cfg.student is None or (cfg.steps == NO_DISTILL_STEPS and cfg.nokd_init == "full"):
        return teacher
    spec = _resolve(cfg.student, run_dir)
    if spec == _resolve(cfg.teacher, run_dir):
        return teacher
    return load_teacher(spec)


def copy_encoder(student, teacher) -> None:
    """Copy the teacher's transformer encoder into the student (the authors' "encoder copy" control)."""
    try:
        student.model.encoder.load_state_dict(teacher.model.encoder.state_dict())
    except RuntimeError as err:
        raise InputError(f"teacher {teacher.name!r}", "its transformer encoder does not fit the student's "
                         f"({student.arch['kind']}): {str(err).splitlines()[0]}") from None
    student.info["encoder_from"] = teacher.name


def _datasets(cfg: DistillConfig, run_dir: Path):
    if cfg.data.kind != "folder":
        raise InputError("data.kind", f"distillation reads an unlabelled folder, got kind {cfg.data.kind!r}")
    root = rundir.resolve_path(cfg.data.root, run_dir)
    n_all = len(UnlabelledAudio(root, cfg.crop_seconds, cfg.seed, check_audio=False))
    if n_all < 2:
        raise InputError(root, f"{n_all} audio file(s): need at least 2 (one held out for agreement)")
    frac = max(0.1, 1.0 / n_all)  # paper: random 90/10 split; at least one held-out file
    train = UnlabelledAudio(root, cfg.crop_seconds, cfg.seed, split="train", valid_fraction=frac)
    valid = UnlabelledAudio(root, cfg.crop_seconds, cfg.seed, split="valid", valid_fraction=frac)
    return train, valid


def _check(cfg: DistillConfig) -> None:
    """What the config's types cannot say (its choices and ranges are checked when it is built)."""
    if any(int(r) < 4000 for r in cfg.rates):
        raise InputError("rates", f"sampling rates must be >= 4000 Hz, got {list(cfg.rates)}")


def train_step(student, teacher, batch: dict, work: list[tuple[int, int, int]], params,
               precision: str = "fp32") -> float:
    """Forward and backward passes of one step, this rank's share of ``work`` (clip ranges of the
    batch); leaves the step's gradient in ``params``, normalised over the whole step on every rank;
    returns the step's loss. One piece in one process is the plain loss, bit for bit as ever.
    ``precision``: bf16 autocasts teacher and student (the loss is taken in float32)."""
    mine = ddp.share(work)
    device = batch["s_wavs"].device
    if len(work) == 1 and ddp.world() == 1:
        with autocast(precision, device):
            with torch.no_grad():
                t_h, t_n = teacher(batch["t_wavs"], batch["t_len"])
            s_h, s_n = student(batch["s_wavs"], batch["s_len"])
        loss = distill_loss(*_float(s_h, s_n, t_h, t_n))
        loss.backward()
        return loss.detach().item()
    total, frames, layers = 0.0, 0.0, student.num_layers
    with one_design(student):  # the SFI kernels designed once for the step, as unsplit
        for _, a, b in mine:  # rows of the padded batch: every piece keeps the batch's padding
            with autocast(precision, device):
                with torch.no_grad():
                    t_h, t_n = teacher(batch["t_wavs"][a:b], batch["t_len"][a:b])
                s_h, s_n = student(batch["s_wavs"][a:b], batch["s_len"][a:b])
            part, n = distill_sums(*_float(s_h, s_n, t_h, t_n))
            part.backward()  # unnormalised: the step's frame count is known once every piece has run
            total, frames = total + part.detach().item(), frames + n.item()
    total, frames = ddp.sum_gradients(params, [total, frames])
    denom = max(frames, 1.0) * layers
    for p in params:
        if p.grad is not None:
            p.grad.div_(denom)
    return total / denom


def _float(s_h, s_n, t_h, t_n):
    """Hidden states in float32 (bf16 autocast leaves them bf16): the loss sums thousands of frames."""
    return [h.float() for h in s_h], s_n, [h.float() for h in t_h], t_n


def run(cfg: DistillConfig, run_dir, execution: Execution | None = None) -> dict:
    """Run (or resume) the distillation stage in ``run_dir``; returns the metrics. ``execution``:
    micro-batches (``sfi_mos.train.execution``); in a ``torch.distributed`` process group each step's
    clips are split over the ranks (``ddp``) and rank 0 writes."""
    _check(cfg)
    ex = execution or Execution()
    main = ddp.is_main()
    run_dir = Path(run_dir)
    if rundir.is_done(run_dir) and (run_dir / "metrics.json").exists():
        return read_json(run_dir / "metrics.json")
    if main:
        rundir.start(run_dir, cfg, ex.record(ddp.world()))
    ddp.barrier()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    teacher = load_teacher(_resolve(cfg.teacher, run_dir)).to(device)
    base = student_base(cfg, teacher, run_dir).to(device)
    train_set, valid_set = _datasets(cfg, run_dir)
    eval_clips = [valid_set.crop(i) for i in range(min(len(valid_set), MAX_EVAL_CLIPS))]
    eval_rates = sorted(set(int(r) for r in cfg.rates) | set(AGREEMENT_RATES))

    ckpt_path = run_dir / "ckpt" / "last.pt"
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True) if ckpt_path.exists() else None
    if ckpt is None:
        student = SFIStudent.from_teacher(base, cfg.sfi, cfg.init, cfg.fit_steps, cfg.seed).to(device)
        if cfg.steps == NO_DISTILL_STEPS and base is not teacher:
            copy_encoder(student, teacher)
        # the initial SFI layer alone (its analog filters, ~1 MB for the paper model): the front-end
        # diagnostics (sfi_mos.probe.frontend) compare it with the layer after each training stage
        if main:
            torch_save(run_dir / SFI_INIT, student.sfi.export())
        before = evaluate(student, teacher, eval_clips, eval_rates, device) if main else {}
        step, log = 0, []
    else:
        student = SFIStudent(base.arch, cfg.sfi).to(device)
        student.load_state_dict(ckpt["student"])
        student.info = dict(ckpt["info"])
        before, step, log = ckpt["before"], int(ckpt["step"]), list(ckpt["log"])

    ddp.broadcast_module(student)
    params = list(student.parameters())
    opt = torch.optim.RAdam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, decoupled_weight_decay=True)
    if ckpt is None:
        _seed_all(cfg.seed)
        ddp.seed_rank(cfg.seed)
    else:
        opt.load_state_dict(ckpt["optimizer"])
        _set_rng_state(ddp.own_state(ckpt["rng"]))

    def save_ckpt(at: int) -> None:
        rng = ddp.gather_state(_rng_state())  # every rank: a collective
        if main:
            torch_save(ckpt_path, {"step": at, "student": student.state_dict(), "optimizer": opt.state_dict(),
                                   "rng": rng, "log": log, "before": before,
                                   "info": student.info})
            write_csv(run_dir / "log.csv", _log_frame(log))

    student.set_regularisation(cfg.ssl_train)
    student.train()
    teacher.eval()
    bar = tqdm(total=cfg.steps, initial=step, desc=f"distill {run_dir.name}", dynamic_ncols=True, disable=not main)
    while step < cfg.steps:
        fs, items = batch_plan(cfg.seed, step, len(train_set), cfg.batch_size, tuple(cfg.rates))
        # the whole step's audio (MBs) on the device; micro-batches and ranks take rows of it
        batch = make_batch([train_set.crop(i, epoch) for i, epoch in items], fs, device)
        student.set_sample_rate(fs)
        opt.zero_grad(set_to_none=True)
        value = train_step(student, teacher, batch, step_work([len(items)], ex.micro_batch, ddp.world()), params,
                           cfg.precision)
        opt.step()
        log.append({"step": step, "sample_rate": fs, "loss": value})
        step += 1
        bar.update(1)
        bar.set_postfix(fs=fs, loss=f"{value:.4f}")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save_ckpt(step)
    bar.close()

    if not main:  # rank 0 evaluates and writes; the others wait so the job ends with them
        ddp.barrier()
        return {}
    after = evaluate(student, teacher, eval_clips, eval_rates, device) if cfg.steps > 0 else before
    student.set_sample_rate(TEACHER_RATE)
    student.cpu().save(run_dir / "student.pt")
    metrics = _metrics(cfg, student.info, log, before, after, len(train_set), len(eval_clips))
    write_json(run_dir / "metrics.json", metrics)
    if cfg.steps == 0:
        write_csv(run_dir / "log.csv", _log_frame(log))
    rundir.finish(run_dir, {"steps": cfg.steps})
    ddp.barrier()
    return metrics


def _log_frame(log: list[dict]):
    return pd.DataFrame(log, columns=["step", "sample_rate", "loss"])


def _metrics(cfg, info, log, before, after, n_train, n_eval) -> dict[str, Any]:
    last: dict[str, list[float]] = {}
    for row in log:
        last.setdefault(str(row["sample_rate"]), []).append(row["loss"])
    last = {k: v[-FINAL_LOSS_WINDOW:] for k, v in last.items()}  # the last few steps at each rate
    return {
        "control": "no_distillation" if cfg.steps == NO_DISTILL_STEPS else "distilled",
        "init": cfg.init, "steps": cfg.steps,
        "fit_rel_error": info.get("fit_rel_error"),
        "final_train_loss_per_rate": {k: float(np.mean(v)) for k, v in sorted(last.items())},
        "heldout_loss_before": before["loss"], "heldout_loss_after": after["loss"],
        "agreement_before": before["cosine"], "agreement_after": after["cosine"],
        "agreement_rates": [str(r) for r in AGREEMENT_RATES],
        "n_train_files": n_train, "n_eval_clips": n_eval,
    }
