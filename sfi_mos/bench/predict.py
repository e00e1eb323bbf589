"""``python -m sfi_mos.bench predict``: prediction real-time factor and the listener-grouping speed-up.

* ``rtf`` {size: {rate: seconds of compute per second of audio}} for the SFI-student MOS model
  (tiny test size, and the Base architecture with random init) on 4 s clips at 16 and 48 kHz, batch 4,
  through ``Predictor`` (training listeners averaged, exact padding); median of repeats.
  ``rtf_resample``: the same for the resampling baseline (16 kHz model, torchaudio resampling).
* ``listener_grouping_speedup``: one training step (forward, backward, optimiser step) on one 4 s
  16 kHz clip with 10 ratings, one backbone pass per rating (the authors' rows) vs one per clip
  (ours); ratio of median times. Random-init weights: the timings say nothing about accuracy.
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch

CLIP_SECONDS = 4.0
RATES = (16000, 48000)
N_RATINGS = 10  # Track 3: 10 ratings per clip


def _model(size: str, kind: str, n_listeners: int = 12):
    from ..mos.backbone import Backbone
    from ..mos.model import MOSModel
    from ..ssl import arch as archmod
    from ..ssl.checkpoints import tiny_arch
    from ..ssl.student import SFIStudent
    from ..ssl.teacher import Teacher
    from ..train.configs import SFISpec

    torch.manual_seed(0)
    arch = tiny_arch("hubert", size)
    if kind == "sfi":
        net = SFIStudent(arch, SFISpec())
    else:
        net = Teacher(archmod.build(arch), arch, f"hubert_{size}_random")
    return MOSModel(Backbone(net, kind), n_listeners).eval()


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, SFI kernel design for this rate)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rtf(size: str, kind: str, repeats: int, batch: int = 4) -> dict[str, float]:
    from ..predict.predictor import Predictor

    pred = Predictor([(_model(size, kind), list(range(1, 11)))], device="cpu")
    rng = np.random.default_rng(0)
    out = {}
    for sr in RATES:
        waves = [0.1 * rng.standard_normal(int(CLIP_SECONDS * sr)).astype(np.float32) for _ in range(batch)]
        t = _median_time(lambda: pred.predict_waves(waves, [sr] * batch, batch_size=batch), repeats)
        out[str(sr)] = t / (batch * CLIP_SECONDS)
    return out


def grouping(size: str, repeats: int) -> dict[str, float]:
    import schedulefree

    model = _model(size, "sfi").train()
    opt = schedulefree.RAdamScheduleFree(model.parameters(), lr=1e-4)
    opt.train()
    wav = 0.1 * torch.randn(int(CLIP_SECONDS * 16000), generator=torch.Generator().manual_seed(0))
    lis = torch.arange(1, N_RATINGS + 1)
    y = torch.linspace(-0.5, 0.5, N_RATINGS)

    def step(grouped: bool):
        if grouped:
            pred = model([wav], 16000, torch.zeros(N_RATINGS, dtype=torch.long), lis)
        else:  # one row per rating: the clip goes through the backbone once per listener
            pred = model([wav] * N_RATINGS, 16000, torch.arange(N_RATINGS), lis)
        torch.mean((pred - y) ** 2).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t_grouped = _median_time(lambda: step(True), repeats)
    t_rows = _median_time(lambda: step(False), repeats)
    return {"grouped_s": t_grouped, "per_rating_s": t_rows, "speedup": t_rows / t_grouped}


def run(args) -> dict:
    import os

    quick = bool(getattr(args, "quick", False))
    load_before = os.getloadavg()[0]
    torch.manual_seed(0)
    sizes = ("tiny",) if quick else ("tiny", "base")
    result = {"clip_seconds": CLIP_SECONDS, "torch_threads": torch.get_num_threads(),
              "note": "random-init weights; CPU; rtf = compute seconds per audio second",
              "rtf": {s: rtf(s, "sfi", repeats=3 if s == "tiny" else 1) for s in sizes},
              "rtf_resample": {s: rtf(s, "resample", repeats=3 if s == "tiny" else 1) for s in sizes}}
    g = {s: grouping(s, repeats=3 if s == "tiny" else 1) for s in sizes}
    result["listener_grouping"] = g
    # headline: the largest size measured (the backbone dominates there, as in real training)
    result["listener_grouping_speedup"] = g[sizes[-1]]["speedup"]
    # shared machines: a high load average means the timings above are inflated and noisy
    result["load_avg_1m"] = {"before": load_before, "after": os.getloadavg()[0], "cpus": os.cpu_count()}
    return result
