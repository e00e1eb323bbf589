"""``python -m sfi_mos.bench step``: what micro-batches and bf16 cost in a distillation step.

One step of the distillation stage's own code (``sfi_mos.train.distill.train_step``: frozen teacher
forward, SFI student forward and backward, then an RAdam step) on random audio, with a random-init
HuBERT of the chosen size and its SFI student, timed as:

* ``whole``: the batch in one piece (fp32);
* ``split``: the batch in ``--pieces`` micro-batches (fp32);
* ``bf16``: the batch in one piece under bf16 autocast.

Reports ratios to ``whole`` of the median step time (``*_time_ratio``) and of the step's peak
activation bytes (``*_activation_ratio``: the tensors autograd saves for backward, counted exactly,
``sfi_mos.train.memory``); on CUDA also of ``max_memory_allocated`` (``*_cuda_peak_ratio``).
"""
from __future__ import annotations

import argparse
import os

import torch

from sfi_mos.cli import float_in_range, int_in_range
from sfi_mos.ssl import SFIStudent
from sfi_mos.ssl import arch as archmod
from sfi_mos.ssl.checkpoints import tiny_arch
from sfi_mos.ssl.teacher import Teacher
from sfi_mos.train.configs import SFISpec
from sfi_mos.train.distill import train_step
from sfi_mos.train.execution import step_work
from sfi_mos.train.memory import SavedBytes

from . import options
from .model import _sync, _timed

DEFAULTS = dict(size="base", seconds=4.0, batch=4, pieces=4, rate=48000, repeats=3, device=None, threads=None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=("tiny", "base"), default=DEFAULTS["size"])
    parser.add_argument("--seconds", type=float_in_range(0.05, 600, "--seconds"), default=DEFAULTS["seconds"],
                        help="clip length")
    parser.add_argument("--batch", type=int_in_range(1, 256, "--batch"), default=DEFAULTS["batch"], help="clips per step")
    parser.add_argument("--pieces", type=int_in_range(2, 256, "--pieces"), default=DEFAULTS["pieces"],
                        help="micro-batches the split step uses (at most --batch)")
    parser.add_argument("--rate", type=int_in_range(8000, 192000, "--rate"), default=DEFAULTS["rate"],
                        help="the student's sampling rate")
    parser.add_argument("--repeats", type=int_in_range(1, 1000, "--repeats"), default=DEFAULTS["repeats"])
    parser.add_argument("--device", default=DEFAULTS["device"], help="default: cuda if available")
    parser.add_argument("--threads", type=int_in_range(1, 1024, "--threads"), default=DEFAULTS["threads"])


def _options(args) -> argparse.Namespace:
    return options(args, DEFAULTS, add_arguments, "step")


def run(args=None) -> dict:
    o = _options(args)
    if o.threads:
        torch.set_num_threads(o.threads)
    device = torch.device(o.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(0)
    arch = tiny_arch("hubert", o.size)
    teacher = Teacher(archmod.build(arch), arch, f"hubert_{o.size}_random").to(device).eval()
    student = SFIStudent.from_teacher(teacher, SFISpec(), init="random", seed=0).to(device).train()
    student.set_regularisation("none")
    student.set_sample_rate(o.rate)
    params = list(student.parameters())
    opt = torch.optim.RAdam(params, lr=1e-4, weight_decay=0.01, decoupled_weight_decay=True)
    gen = torch.Generator().manual_seed(0)
    ns, nt = int(o.seconds * o.rate), int(o.seconds * 16000)
    batch = {"s_wavs": torch.randn(o.batch, ns, generator=gen).to(device), "s_len": torch.full((o.batch,), ns, device=device),
             "t_wavs": torch.randn(o.batch, nt, generator=gen).to(device), "t_len": torch.full((o.batch,), nt, device=device)}
    pieces = min(o.pieces, o.batch)
    modes = {"whole": (step_work([o.batch], None), "fp32"),
             "split": (step_work([o.batch], -(-o.batch // pieces)), "fp32"),
             "bf16": (step_work([o.batch], None), "bf16")}

    def step(work, precision):
        opt.zero_grad(set_to_none=True)
        train_step(student, teacher, batch, work, params, precision)
        opt.step()

    times = _timed({m: (lambda w=w, p=p: step(w, p)) for m, (w, p) in modes.items()}, o.repeats, device)
    activations, cuda_peaks = {}, {}
    for m, (w, p) in modes.items():  # one counted step each, after the timing warm-up
        if device.type == "cuda":
            _sync(device)
            torch.cuda.reset_peak_memory_stats(device)
        with SavedBytes(torch) as saved:
            step(w, p)
        activations[m] = saved.peak
        if device.type == "cuda":
            _sync(device)
            cuda_peaks[m] = torch.cuda.max_memory_allocated(device)
    out = {
        "microbatch_time_ratio": times["split"] / times["whole"],
        "microbatch_activation_ratio": activations["split"] / activations["whole"],
        "bf16_time_ratio": times["bf16"] / times["whole"],
        "bf16_activation_ratio": activations["bf16"] / activations["whole"],
        "step_s": times, "activation_bytes": activations, "pieces": pieces,
    }
    if cuda_peaks:
        out["microbatch_cuda_peak_ratio"] = cuda_peaks["split"] / cuda_peaks["whole"]
        out["bf16_cuda_peak_ratio"] = cuda_peaks["bf16"] / cuda_peaks["whole"]
        out["cuda_peak_bytes"] = cuda_peaks
    out.update(device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               torch_threads=torch.get_num_threads(), load_avg_1m=os.getloadavg()[0], size=o.size,
               seconds=o.seconds, batch=o.batch, rate=o.rate, repeats=o.repeats, weights="random init (timing only)")
    return out
