"""Independent reference formulas and small tables for the metrics tests (no scipy, no sfi_mos code)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd


def ref_mse(x, y):
    return sum((a - b) ** 2 for a, b in zip(x, y)) / len(x)


def ref_pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def ref_ranks(x):
    """Average ranks (1-based) by counting: #smaller + (#equal + 1) / 2."""
    return [sum(b < a for b in x) + (sum(b == a for b in x) + 1) / 2 for a in x]


def ref_spearman(x, y):
    return ref_pearson(ref_ranks(x), ref_ranks(y))


def ref_kendall_b(x, y):
    """Brute-force tau-b over all pairs."""
    nc = nd = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tx += 1
        elif dy == 0:
            ty += 1
        elif dx * dy > 0:
            nc += 1
        else:
            nd += 1
    return (nc - nd) / math.sqrt((nc + nd + tx) * (nc + nd + ty))


def ref_four(x, y):
    x, y = list(map(float, x)), list(map(float, y))
    return {"MSE": ref_mse(x, y), "LCC": ref_pearson(x, y), "SRCC": ref_spearman(x, y),
            "KTAU": ref_kendall_b(x, y)}


def track3_set(seed: int = 0, n_utt: int = 8, layout=((16, 3), (24, 4), (48, 4)), ratings: int = 5):
    """Per-rating truth (Track 3 columns) and predictions for a small multi-rate set.

    Ratings per utterance vary (1..ratings) so that the two system-truth conventions differ.
    """
    rng = np.random.default_rng(seed)
    rows, preds = [], []
    for rate, n_sys in layout:
        for s in range(n_sys):
            q = rng.uniform(1.5, 4.5)
            for u in range(n_utt):
                uid = f"audiomos-track3-{rate}k_sys{s}_utt{u:02d}"
                k = int(rng.integers(1, ratings + 1))
                for li in range(k):
                    r = int(np.clip(round(q + rng.normal(0, 1)), 1, 5))
                    rows.append((uid, f"lis{li}", r))
                preds.append((uid, float(q + rng.normal(0, 0.6))))
    truth = pd.DataFrame(rows, columns=["uttID", "lisID", "rating"])
    pred = pd.DataFrame(preds, columns=["utt_id", "pred"])
    return pred, truth
