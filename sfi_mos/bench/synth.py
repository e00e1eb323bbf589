"""``python -m sfi_mos.bench synth``: wall time of the synthetic corpus generator per size.

Targets (issue 2 §3): ``tiny`` <= 10 s and ``demo`` <= 2 min on the 2-core project machine.
Each size is generated into a temporary folder (removed afterwards); reports seconds, clips,
seconds of audio and audio-seconds per wall-second, plus the CPU time of the process.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from sfi_mos.data.synth import generate


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", default="tiny,demo", help="comma-separated: tiny,demo,full")
    parser.add_argument("--seed", type=int, default=0)


def run(args=None) -> dict:
    sizes = [s for s in getattr(args, "sizes", "tiny,demo").split(",") if s]
    seed = getattr(args, "seed", 0)
    out = {}
    for size in sizes:
        tmp = Path(tempfile.mkdtemp(prefix=f"sfi_bench_synth_{size}_"))
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            root = generate(tmp / "corpus", size=size, seed=seed)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            meta = json.loads((root / "manifest.json").read_text())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        c = meta["counts"]
        out[size] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                     "clips": c["track3_clips"] + c["bvcc_clips"] + c["unlabelled_clips"],
                     "audio_s": meta["seconds_of_audio"], "audio_s_per_wall_s": round(meta["seconds_of_audio"] / wall, 1)}
    return out
