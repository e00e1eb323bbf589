"""The numbers behind every table: sfi_mos.metrics per prediction run, then aggregation over seeds.

Conventions (stated in every table's caption):
* a *replicate* is one predict run of a cell (fold ensemble of one seed);
* point value = mean over the cell's replicates;
* 95 % CI = Student-t over replicates when a cell has >= 2 (seed variance), otherwise the
  percentile bootstrap of sfi_mos.metrics (utterances resampled for utterance metrics, systems
  for system metrics) on the single replicate;
* paired difference vs the proposed cell: replicates matched by seed, sfi_mos.metrics.paired_bootstrap
  on the same draws for one pair; t over the per-seed differences for >= 2 pairs.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sstats

from sfi_mos import metrics as M

LEVELS = ("utt", "sys")
NAMES = ("MSE", "LCC", "SRCC", "KTAU")
KEYS = tuple(f"{lv}_{m}" for lv in LEVELS for m in NAMES)
LOWER_IS_BETTER = {k for k in KEYS if k.endswith("MSE")}


def truth_of(pred: pd.DataFrame) -> pd.DataFrame:
    """predictions.csv carries its own per-utterance truth (``mos``, ``system_id``, ``sample_rate``)."""
    return pred[["utt_id", "system_id", "sample_rate", "mos"]]


def _flat(block: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    """{"utt": {...}, "sys": {...}} (with optional "ci") -> {utt_MSE: (value, lo, hi)}."""
    out = {}
    for lv in LEVELS:
        d = block.get(lv, {})
        for m in NAMES:
            v = d.get(m, np.nan)
            lo = hi = np.nan
            ci = d.get("ci", {}).get(m) if isinstance(d.get("ci"), dict) else None
            if ci is None and isinstance(block.get("ci"), dict):
                ci = block["ci"].get(lv, {}).get(m)
            if isinstance(v, dict):  # {"value", "ci"} form
                ci = v.get("ci", ci)
                v = v.get("value", np.nan)
            if ci is not None:
                lo, hi = ci[0], ci[1]
            out[f"{lv}_{m}"] = (_f(v), _f(lo), _f(hi))
    return out


def _f(x: Any) -> float:
    return float("nan") if x is None else float(x)


def score(pred: pd.DataFrame, bootstrap: int, seed: int) -> dict[str, Any]:
    """8 metrics (+ per rate) of one prediction set, via sfi_mos.metrics.evaluate."""
    res = M.evaluate(pred[["utt_id", "pred"]], truth_of(pred), bootstrap=bootstrap, seed=seed)
    return {"all": _flat(res), "per_rate": {int(r): _flat(b) for r, b in res.get("per_rate", {}).items()}}


def paired(a: pd.DataFrame, b: pd.DataFrame, bootstrap: int, seed: int) -> dict[str, tuple[float, float, float]]:
    """a - b for every metric on the same bootstrap draws (sfi_mos.metrics.paired_bootstrap)."""
    res = M.paired_bootstrap(a[["utt_id", "pred"]], b[["utt_id", "pred"]], truth_of(a),
                             n=bootstrap, seed=seed, sources=("predictions a", "predictions b", "truth"))
    return _flat(res["diff"])


def t_interval(values: np.ndarray) -> tuple[float, float, float]:
    values = np.asarray(values, dtype=float)
    mean = float(np.mean(values))
    if len(values) < 2 or not np.all(np.isfinite(values)):
        return mean, float("nan"), float("nan")
    half = float(sstats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def aggregate(reps: list[dict[str, tuple[float, float, float]]]) -> dict[str, tuple[float, float, float]]:
    """Mean over replicates with the CI rule of the module docstring."""
    if len(reps) == 1:
        return dict(reps[0])
    return {k: t_interval(np.array([r[k][0] for r in reps])) for k in reps[0]}


def ci_rule(n_reps: int, bootstrap: int, unit: str = "seeds") -> str:
    if n_reps >= 2:
        return f"t over {n_reps} {unit}"
    return f"bootstrap B={bootstrap}" if bootstrap else "none (B=0)"


def paired_cells(g: pd.DataFrame, prop: pd.DataFrame, preds: dict[str, pd.DataFrame], bootstrap: int,
                 seed: int) -> dict[str, tuple[float, float, float]]:
    """Cell ``g`` minus cell ``prop`` (rows of the collected table): replicates matched by seed (in
    order when the seeds differ); one pair gets the bootstrap on the same draws, several a t over them."""
    if list(g.predict_id) == list(prop.predict_id):  # the proposed cell itself
        return {k: (0.0, 0.0, 0.0) for k in KEYS}
    by_seed = dict(zip(prop.seed, prop.predict_id))
    pairs = [(a, by_seed[s]) for s, a in zip(g.seed, g.predict_id) if s in by_seed]
    if not pairs:
        pairs = list(zip(g.predict_id, prop.predict_id))
    if len(pairs) == 1:  # one pair: the bootstrap on the same draws gives the CI
        a, b = pairs[0]
        if bootstrap:
            return paired(preds[a], preds[b], bootstrap, seed)
    diffs = []
    for a, b in pairs:
        sa, sb = score(preds[a], 0, seed)["all"], score(preds[b], 0, seed)["all"]
        diffs.append({k: (sa[k][0] - sb[k][0], np.nan, np.nan) for k in KEYS})
    return aggregate(diffs)
