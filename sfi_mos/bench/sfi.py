"""``python -m sfi_mos.bench sfi``: speed, cross-rate consistency and fit error of SFIConv1d.

* ``sfi_eval_vs_conv`` {rate: ratio}: default policy, eval mode with the cached kernel, vs an
  ``nn.Conv1d`` with the same K(fs) and the ideal stride. nn.Conv1d has no fractional stride, so
  where S(fs) is fractional (24 kHz: 7.5) the baseline is the stride floor(S) conv's time per
  output frame times the SFI layer's frame count (i.e. the cost of an ideal stride-S conv).
  ``policy_eval_vs_conv`` {policy: {rate: ratio}} gives every policy the same way.
* ``sfi_train_vs_conv`` {rate: ratio}: train-mode forward + backward incl. the filter design vs
  a trainable nn.Conv1d; ``train_overhead_vs_feature_extractor``: the whole 7-layer HuBERT-base
  conv feature extractor (SFI first layer vs the original conv), forward + backward — a lower
  bound on a base-size SSL step, so the relative overhead there is an upper bound.
* ``consistency`` {policy: {rate: cosine}} against the 48 kHz output (``sfi.consistency``), and
  ``consistency_vs_16k`` against the 16 kHz output, where the fitted kernel is the teacher's.
  Both use the layer after ``fit_to`` (signal: tones below min(7 kHz, 0.45 fs), 1 s). Frames are
  compared by index, so for ``reference``/``round`` (integer hop, frames drift off the reference
  grid where the hop is fractional) the cosine there measures that misalignment.
* ``fit_error``: ``fit_to`` of the 512-filter NAF layer to a HuBERT-like first-conv kernel
  (random init as in fairseq/s3prl: kaiming normal), at 16 kHz.
"""
from __future__ import annotations

import math
import time

import torch
from torch import nn

from sfi_mos.bench import time_interleaved
from sfi_mos.sfi import DEFAULT_POLICY, POLICIES, SFIConv1d
from sfi_mos.sfi.consistency import cross_rate_similarity
from sfi_mos.cli import float_in_range, int_in_range

SPEED_RATES = (16000, 24000, 48000)
CONSISTENCY_RATES = (8000, 16000, 22050, 24000, 44100)


def add_arguments(parser) -> None:
    parser.add_argument("--filters", type=int_in_range(1, 4096, "--filters"), default=512)
    parser.add_argument("--batch", type=int_in_range(1, 256, "--batch"), default=4)
    parser.add_argument("--seconds", type=float_in_range(0.05, 600, "--seconds"), default=4.0)
    parser.add_argument("--reps", type=int_in_range(1, 1000, "--reps"), default=5)
    parser.add_argument("--fit-steps", type=int_in_range(0, 100000, "--fit-steps"), default=100)
    parser.add_argument("--threads", type=int_in_range(1, 1024, "--threads"), default=1,
                        help="torch threads (0: leave as is); 1 keeps ratios stable on a shared CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device):
    def call():
        fn()
        _sync(device)
    return call


def eval_ratios(args) -> tuple[dict, dict]:
    ratios: dict = {p: {} for p in POLICIES}
    times: dict = {}
    for fs in SPEED_RATES:
        x = torch.randn(args.batch, 1, int(args.seconds * fs), device=args.device)
        layers = {p: SFIConv1d(out_channels=args.filters, stride_policy=p).to(args.device).eval()
                  .set_sample_rate(fs) for p in POLICIES}
        plan = layers["phase"].plan()
        conv = nn.Conv1d(1, args.filters, plan.taps, stride=max(1, math.floor(plan.s_eff)),
                         bias=False).to(args.device).eval()
        with torch.no_grad():
            frames = {p: layer(x).shape[-1] for p, layer in layers.items()}  # also fills caches
            conv_frames = conv(x).shape[-1]
            fns = {p: _timed(lambda layer=layer: layer(x), args.device) for p, layer in layers.items()}
            fns["conv"] = _timed(lambda: conv(x), args.device)
            t = time_interleaved(fns, reps=args.reps)
        per_frame = t["conv"]["min"] / conv_frames
        for p in POLICIES:
            ratios[p][fs] = t[p]["min"] / (per_frame * frames[p])
        times[fs] = {k: round(v["min"] * 1e3, 2) for k, v in t.items()}
    return ratios, times


def train_ratios(args) -> dict:
    out = {}
    for fs in (16000, 24000):
        x = torch.randn(args.batch, 1, int(args.seconds * fs), device=args.device)
        layer = SFIConv1d(out_channels=args.filters).to(args.device).train().set_sample_rate(fs)
        plan = layer.plan()
        conv = nn.Conv1d(1, args.filters, plan.taps, stride=max(1, math.floor(plan.s_eff)),
                         bias=False).to(args.device)

        def step(m):
            y = m(x)
            y.pow(2).mean().backward()
            return y.shape[-1]

        frames, conv_frames = step(layer), step(conv)
        t = time_interleaved({"sfi": _timed(lambda: step(layer), args.device),
                              "conv": _timed(lambda: step(conv), args.device)}, reps=args.reps)
        out[fs] = t["sfi"]["min"] / (t["conv"]["min"] / conv_frames * frames)
    return out


def _feature_extractor(first: nn.Module) -> nn.Sequential:
    """HuBERT-base conv feature extractor with ``first`` as its first conv (GELU between)."""
    layers = [first, nn.GroupNorm(512, 512), nn.GELU()]
    for k, s in [(3, 2)] * 4 + [(2, 2)] * 2:
        layers += [nn.Conv1d(512, 512, k, s, bias=False), nn.GELU()]
    return nn.Sequential(*layers)


def feature_extractor_overhead(args) -> dict:
    x = torch.randn(1, 1, int(min(args.seconds, 2.0) * 16000), device=args.device)
    torch.manual_seed(args.seed)
    sfi = _feature_extractor(SFIConv1d(out_channels=512)).to(args.device).train()
    conv = _feature_extractor(nn.Conv1d(1, 512, 10, 5, bias=False)).to(args.device).train()

    def step(m):
        m(x).pow(2).mean().backward()

    t = time_interleaved({"sfi": _timed(lambda: step(sfi), args.device),
                          "conv": _timed(lambda: step(conv), args.device)},
                         reps=args.reps)
    return {"relative": t["sfi"]["min"] / t["conv"]["min"] - 1.0,
            "sfi_ms": t["sfi"]["min"] * 1e3, "conv_ms": t["conv"]["min"] * 1e3}


def run(args) -> dict:
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args) -> dict:
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    ratios, times = eval_ratios(args)
    train = train_ratios(args)
    fe = feature_extractor_overhead(args)

    torch.manual_seed(args.seed)
    layer = SFIConv1d(out_channels=args.filters).to(args.device)
    target = torch.empty(args.filters, 1, 10)
    nn.init.kaiming_normal_(target)  # fairseq/s3prl init of the first conv
    tf = time.perf_counter()
    fit = layer.fit_to(target.to(args.device), 16000, steps=args.fit_steps)
    fit["seconds"] = time.perf_counter() - tf

    consistency, vs_teacher = {}, {}
    for policy in POLICIES:  # the fitted (HuBERT-like) filters, one policy at a time
        layer.stride_policy = policy
        consistency[policy] = cross_rate_similarity(layer, CONSISTENCY_RATES, seconds=1.0)
        vs_teacher[policy] = cross_rate_similarity(
            layer, (8000, 22050, 24000, 44100, 48000), ref_rate=16000, seconds=1.0)
    layer.stride_policy = DEFAULT_POLICY
    return {
        "default_policy": DEFAULT_POLICY,
        "sfi_eval_vs_conv": ratios[DEFAULT_POLICY],
        "policy_eval_vs_conv": ratios,
        "eval_ms": times,
        "sfi_train_vs_conv": train,
        "train_overhead_vs_feature_extractor": fe,
        "consistency": consistency,
        "consistency_vs_16k": vs_teacher,
        "fit_error": fit,
        "setup": {"filters": args.filters, "batch": args.batch, "seconds": args.seconds,
                  "reps": args.reps, "device": str(args.device),
                  "threads": torch.get_num_threads(), "total_s": time.perf_counter() - t0},
    }
