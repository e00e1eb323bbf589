"""``python -m sfi_mos.bench metrics``: bootstrap speed of ``sfi_mos.metrics`` at Track 3 size.

A Track 3-sized eval set (400 utterances, 20 systems: 4 at 16 kHz, 8 each at 24/48 kHz, 10 ratings
each, synthetic numbers). Reports seconds (median of repeats) for: point metrics only, 1000-draw
bootstrap (overall + per rate, utterance and system level), and a 1000-draw paired comparison.
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import pandas as pd

from sfi_mos.metrics import evaluate, paired_bootstrap


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, preds = [], []
    for rate, n_sys in ((16, 4), (24, 8), (48, 8)):
        for s in range(n_sys):
            q = rng.uniform(1.5, 4.5)
            for u in range(20):
                uid = f"audiomos-track3-{rate}k_sys{s}_utt{u:02d}"
                rows += [(uid, f"lis{k}", int(np.clip(round(q + rng.normal(0, 1)), 1, 5))) for k in range(10)]
                preds.append((uid, q + rng.normal(0, 0.5)))
    return (pd.DataFrame(preds, columns=["utt_id", "pred"]),
            pd.DataFrame(rows, columns=["uttID", "lisID", "rating"]))


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(args=None) -> dict:
    pred, truth = _data()
    other = pred.assign(pred=pred["pred"] + 0.1)
    repeats = 3
    return {
        "n_utt": 400, "n_sys": 20, "draws": 1000,
        "point_s": _median_time(lambda: evaluate(pred, truth), repeats),
        "bootstrap_1000_s": _median_time(lambda: evaluate(pred, truth, bootstrap=1000), repeats),
        "paired_1000_s": _median_time(lambda: paired_bootstrap(pred, other, truth, n=1000), repeats),
    }


if __name__ == "__main__":
    print(run())
