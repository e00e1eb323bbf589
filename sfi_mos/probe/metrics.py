"""Probe metrics from per-pair predictions: mean twin difference, pair accuracy, feature distance.

    delta          = mean over pairs of pred(clean) - pred(degraded)         (MOS units)
    pair_accuracy  = share of pairs with delta > 0 (ties count as misses)
    feature_distance = mean over pairs of 1 - cos(pooled clean features, pooled degraded features)

95 % CIs are percentile bootstraps over *twin groups*: the pairs of one clean clip share it, so
groups (not pairs) are drawn with replacement, with ``sfi_mos.metrics.bootstrap.draw_counts`` (one
seeded stream per subset, the same draws for every statistic of a subset). Every statistic is a
group-weighted mean, so B draws are one matrix product.
"""
from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pandas as pd

from ..metrics.bootstrap import draw_counts, percentile_ci

STATS = {"delta": "delta", "pair_accuracy": "correct", "feature_distance": "feature_distance",
         "label_delta": "label_delta"}


def with_deltas(pairs: pd.DataFrame) -> pd.DataFrame:
    """``pred_clean``/``pred_degraded`` -> ``delta`` and ``correct`` columns."""
    out = pairs.copy()
    out["delta"] = out["pred_clean"].astype(float) - out["pred_degraded"].astype(float)
    out["correct"] = (out["delta"] > 0).astype(float)
    return out


def _stream(key: str) -> tuple[int]:
    return (zlib.crc32(key.encode()),)


def summary(pairs: pd.DataFrame, bootstrap: int = 1000, seed: int = 0, key: str = "all") -> dict[str, Any]:
    """Point values and group-bootstrap CIs of every statistic present in ``pairs``."""
    codes, groups = pd.factorize(pairs["twin_id"].astype(str), sort=True)
    out: dict[str, Any] = {"n_pairs": int(len(pairs)), "n_groups": int(len(groups))}
    W = draw_counts(len(groups), bootstrap, seed, _stream(key)) if bootstrap and len(groups) else None
    for name, col in STATS.items():
        if col not in pairs.columns:
            continue
        v = pairs[col].to_numpy(float)
        ok = np.isfinite(v)
        if not ok.any():
            continue
        out[name] = float(np.mean(v[ok]))
        if W is None:
            out[f"{name}_ci"] = [float("nan"), float("nan")]
            continue
        w = W[:, codes[ok]]  # (B, n): draws of each pair's group
        with np.errstate(invalid="ignore", divide="ignore"):
            draws = (w @ v[ok]) / w.sum(1)
        out[f"{name}_ci"] = percentile_ci(draws)
    return out


def summarise(pairs: pd.DataFrame, bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Overall, per kind, per rate, per (kind, rate) and per (kind, severity) summaries."""
    res: dict[str, Any] = {"all": summary(pairs, bootstrap, seed, "all")}
    for name, cols in (("per_kind", ["kind"]), ("per_rate", ["sample_rate"]),
                       ("per_kind_rate", ["kind", "sample_rate"]), ("per_kind_severity", ["kind", "severity"])):
        res[name] = {}
        for k, g in pairs.groupby(cols, sort=True):
            k = k if isinstance(k, tuple) else (k,)
            label = "@".join(f"{x:g}" if isinstance(x, float) else str(x) for x in k)
            res[name][label] = summary(g, bootstrap, seed, f"{name}:{label}")
    return res
