"""``python -m sfi_mos.bench predict``: prediction real-time factor and the listener-grouping speed-up.

* ``rtf`` {size: {rate: seconds of compute per second of audio}} for the SFI-student MOS model
  (tiny test size, and the Base architecture with random init) on 4 s clips at 16 and 48 kHz, batch 4,
  through ``Predictor`` (10 listeners averaged, exact padding); min of round-robin repeats.
  ``rtf_resample``: the same for the resampling baseline (16 kHz model, torchaudio resampling).
* ``listener_grouping_speedup``: one training step (forward, backward, optimiser step) over one 4 s
  16 kHz clip's 10 ratings: the authors' one row per rating at batch 1 with accumulation vs ours (one
  backbone pass per clip); ``..._vs_batched_rows``: against the 10 rows in one batch. Ratios of
  median times. Random-init weights: the timings say nothing about accuracy.
"""
from __future__ import annotations

import os

import numpy as np
import schedulefree
import torch
from sfi_mos.cli import int_in_range

from ..mos.backbone import Backbone
from ..mos.model import MOSModel
from ..predict.predictor import Predictor
from ..ssl import arch as archmod
from ..ssl.checkpoints import tiny_arch
from ..ssl.student import SFIStudent
from ..ssl.teacher import Teacher
from ..train.configs import SFISpec
from . import time_interleaved

CLIP_SECONDS = 4.0
RATES = (16000, 48000)
N_RATINGS = 10  # Track 3: 10 ratings per clip


def _model(size: str, kind: str, n_listeners: int = 12):
    torch.manual_seed(0)
    arch = tiny_arch("hubert", size)
    if kind == "sfi":
        net = SFIStudent(arch, SFISpec())
    else:
        net = Teacher(archmod.build(arch), arch, f"hubert_{size}_random")
    return MOSModel(Backbone(net, kind), n_listeners).eval()


def rtf(size: str, repeats: int, warmup: int, batch: int = 4) -> dict[str, dict[str, float]]:
    """{kind: {rate: rtf}} for the SFI and resampling MOS models, timed round-robin (min of repeats)."""
    preds = {kind: Predictor([(_model(size, kind), list(range(1, 11)))], device="cpu")
             for kind in ("sfi", "resample")}
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, float]] = {"sfi": {}, "resample": {}}
    for sr in RATES:
        waves = [0.1 * rng.standard_normal(int(CLIP_SECONDS * sr)).astype(np.float32) for _ in range(batch)]
        t = time_interleaved({k: (lambda p=p: p.predict_waves(waves, [sr] * batch, batch_size=batch))
                              for k, p in preds.items()}, reps=repeats, warmup=warmup)
        for k in preds:
            out[k][str(sr)] = t[k]["min"] / (batch * CLIP_SECONDS)
    return out


def grouping(size: str, repeats: int, warmup: int) -> dict[str, float]:
    """Seconds per optimiser step over one clip's 10 ratings, three ways (same ratings, same loss)."""
    model = _model(size, "sfi").train()
    opt = schedulefree.RAdamScheduleFree(model.parameters(), lr=1e-4)
    opt.train()
    wav = 0.1 * torch.randn(int(CLIP_SECONDS * 16000), generator=torch.Generator().manual_seed(0))
    lis = torch.arange(1, N_RATINGS + 1)
    y = torch.linspace(-0.5, 0.5, N_RATINGS)

    def step(mode: str):
        if mode == "grouped":  # ours: backbone once, head once per rating
            pred = model([wav], 16000, torch.zeros(N_RATINGS, dtype=torch.long), lis)
            torch.mean((pred - y) ** 2).backward()
        elif mode == "rows_batched":  # one row per rating, the 10 rows in one batch
            pred = model([wav] * N_RATINGS, 16000, torch.arange(N_RATINGS), lis)
            torch.mean((pred - y) ** 2).backward()
        else:  # one row per rating at batch 1 with accumulation: the authors' fine-tuning setting
            for k in range(N_RATINGS):
                pred = model([wav], 16000, torch.zeros(1, dtype=torch.long), lis[k:k + 1])
                (torch.mean((pred - y[k:k + 1]) ** 2) / N_RATINGS).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    fns = {m: (lambda m=m: step(m)) for m in ("grouped", "rows_batched", "rows_batch1")}
    t = {k: v["min"] for k, v in time_interleaved(fns, reps=repeats, warmup=warmup).items()}
    return {"grouped_s": t["grouped"], "rows_batched_s": t["rows_batched"], "rows_batch1_s": t["rows_batch1"],
            "speedup_vs_batch1": t["rows_batch1"] / t["grouped"],
            "speedup_vs_batched": t["rows_batched"] / t["grouped"]}


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"], choices=["tiny", "base"],
                        help="model sizes to time (base: the Base architecture, random init)")
    parser.add_argument("--repeats", type=int_in_range(1, 1000, "--repeats"), default=3, help="timed repeats per case (min reported)")


def run(args) -> dict:
    sizes = tuple(getattr(args, "sizes", ("tiny", "base")))
    repeats = int(getattr(args, "repeats", 3))
    load_before = os.getloadavg()[0]
    torch.manual_seed(0)
    # a Base step takes tens of seconds here: one untimed warm-up would double the cost for little gain
    reps = {s: (repeats, 1) if s == "tiny" else (1, 0) for s in sizes}
    per_size = {s: rtf(s, *reps[s]) for s in sizes}
    result = {"clip_seconds": CLIP_SECONDS, "torch_threads": torch.get_num_threads(),
              "note": "random-init weights; CPU; rtf = compute seconds per audio second (min of repeats)",
              "rtf": {s: per_size[s]["sfi"] for s in sizes},
              "rtf_resample": {s: per_size[s]["resample"] for s in sizes}}
    g = {s: grouping(s, *reps[s]) for s in sizes}
    result["listener_grouping"] = g
    # headline: the largest size measured, against the authors' batch-1 rows (paper Track 3 setting)
    result["listener_grouping_speedup"] = g[sizes[-1]]["speedup_vs_batch1"]
    result["listener_grouping_speedup_vs_batched_rows"] = g[sizes[-1]]["speedup_vs_batched"]
    # shared machines: a high load average means the timings above are inflated and noisy
    result["load_avg_1m"] = {"before": load_before, "after": os.getloadavg()[0], "cpus": os.cpu_count()}
    return result
