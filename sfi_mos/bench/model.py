"""``python -m sfi_mos.bench model``: cost of the SFI student against its non-SFI alternatives.

Random-init HuBERT of the chosen size (``base`` = the paper's Base architecture) as teacher, and its
SFI student (paper's FD-NAF, M = 640). Reports (median seconds over repeats, after a warm-up):

* ``student48_vs_resample_teacher``: student forward on 48 kHz audio / (torchaudio resample 48->16 kHz
  + teacher forward), eval mode, no grad (target <= 1.0: the SFI path must not cost more than the
  resampling baseline it replaces);
* ``train_step_sfi_vs_plain``: one distillation-style train step (forward, all-layer MSE to a fixed
  target, backward, RAdam step) of the SFI student / of the same model with its plain conv, both on
  16 kHz input (target <= 1.10 at base size); ``train_step_sfi_s_by_rate`` gives the SFI step at the
  other rates for reference;
* ``peak_mem_mb``: peak CUDA memory allocated (``peak_mem_kind`` = cuda_max_allocated) or, on CPU,
  the process's peak resident set size (cpu_maxrss).
"""
from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import sys
import time

import torch
import torchaudio

from sfi_mos.cli import float_in_range, int_in_range
from sfi_mos.ssl import SFIStudent
from sfi_mos.ssl import arch as archmod
from sfi_mos.ssl.checkpoints import tiny_arch
from sfi_mos.ssl.teacher import Teacher
from sfi_mos.train.configs import SFISpec

from . import options

DEFAULTS = dict(size="base", seconds=4.0, batch=2, repeats=3, device=None, threads=None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this bench (the ``python -m sfi_mos.bench`` dispatcher calls this)."""
    parser.add_argument("--size", choices=("tiny", "base"), default=DEFAULTS["size"])
    parser.add_argument("--seconds", type=float_in_range(0.05, 600, "--seconds"), default=DEFAULTS["seconds"], help="clip length")
    parser.add_argument("--batch", type=int_in_range(1, 256, "--batch"), default=DEFAULTS["batch"])
    parser.add_argument("--repeats", type=int_in_range(1, 1000, "--repeats"), default=DEFAULTS["repeats"])
    parser.add_argument("--device", default=DEFAULTS["device"], help="default: cuda if available")
    parser.add_argument("--threads", type=int_in_range(1, 1024, "--threads"), default=DEFAULTS["threads"], help="torch CPU threads")


def _options(args) -> argparse.Namespace:
    return options(args, DEFAULTS, add_arguments, "model")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fns: dict, repeats: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each function; calls are interleaved (a, b, a, b, ...) after one warm-up
    each (allocations, eval-mode kernel cache), so a changing machine load hits all of them alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            t = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _train_step(model, opt, wavs, lengths, targets):
    hidden, _ = model(wavs, lengths)
    n = min(h.shape[1] for h in hidden + targets)
    loss = sum(((h[:, :n] - t[:, :n]) ** 2).mean() for h, t in zip(hidden, targets)) / len(hidden)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def run(args=None) -> dict:
    o = _options(args)
    if o.threads:
        torch.set_num_threads(o.threads)
    device = torch.device(o.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    arch = tiny_arch("hubert", o.size)
    teacher = Teacher(archmod.build(arch), arch, f"hubert_{o.size}_random").to(device).eval()
    student = SFIStudent.from_teacher(teacher, SFISpec(), init="random", seed=0).to(device)
    gen = torch.Generator().manual_seed(0)
    n48, n16 = int(o.seconds * 48000), int(o.seconds * 16000)
    w48 = torch.randn(o.batch, n48, generator=gen).to(device)
    w16 = torch.randn(o.batch, n16, generator=gen).to(device)
    len48 = torch.full((o.batch,), n48, device=device)
    len16 = torch.full((o.batch,), n16, device=device)

    # inference: native 48 kHz SFI student vs resample + 16 kHz teacher
    student.eval().set_sample_rate(48000)
    with torch.no_grad():
        inf = _timed({"student48": lambda: student(w48, len48),
                      "resample_teacher": lambda: teacher(torchaudio.functional.resample(w48, 48000, 16000), len16)},
                     o.repeats, device)

    # training: SFI student vs the same model with its plain conv (a trainable copy of the teacher)
    with torch.no_grad():
        targets, _ = teacher(w16, len16)
    plain = copy.deepcopy(teacher).train()
    for p in plain.parameters():
        p.requires_grad_(True)
    student.train()
    opt_s = torch.optim.RAdam(student.parameters(), lr=1e-4, weight_decay=0.01, decoupled_weight_decay=True)
    opt_p = torch.optim.RAdam(plain.parameters(), lr=1e-4, weight_decay=0.01, decoupled_weight_decay=True)
    student.set_sample_rate(16000)
    train = _timed({"sfi": lambda: _train_step(student, opt_s, w16, len16, targets),
                    "plain": lambda: _train_step(plain, opt_p, w16, len16, targets)}, o.repeats, device)
    by_rate = {}
    for fs in (8000, 24000, 48000):
        n = int(o.seconds * fs)
        w = torch.randn(o.batch, n, generator=gen).to(device)
        lengths = torch.full((o.batch,), n, device=device)
        student.set_sample_rate(fs)
        by_rate[str(fs)] = _timed({"sfi": lambda: _train_step(student, opt_s, w, lengths, targets)},
                                  max(1, o.repeats // 2), device)["sfi"]

    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(device) / 2 ** 20, "cuda_max_allocated"
    else:  # ru_maxrss is KiB on Linux
        peak, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cpu_maxrss"
    return {
        "student48_vs_resample_teacher": inf["student48"] / inf["resample_teacher"],
        "train_step_sfi_vs_plain": train["sfi"] / train["plain"],
        "peak_mem_mb": round(peak, 1), "peak_mem_kind": kind,
        "student48_s": inf["student48"], "resample_teacher_s": inf["resample_teacher"],
        "train_step_sfi_s": train["sfi"], "train_step_plain_s": train["plain"],
        "train_step_sfi_s_by_rate": by_rate,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(), "load_avg_1m": os.getloadavg()[0], "size": o.size, "seconds": o.seconds, "batch": o.batch,
        "repeats": o.repeats, "weights": "random init (timing only)",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(sys.argv[1:]), indent=2))
