"""``evaluate`` (the eight numbers, per rate, optional bootstrap CIs) and ``paired_bootstrap``.

Result form (all floats are plain Python floats; NaN where undefined)::

    {"utt": {"MSE", "LCC", "SRCC", "KTAU", ["ci": {metric: [lo, hi]}]},
     "sys": {... same ...},
     "per_rate": {"16000": {"utt": ..., "sys": ..., "n_utt": int, "n_sys": int}, ...},
     "n_utt": int, "n_sys": int, "sys_truth": "utterance" | "ratings",
     "bootstrap": {"n": B, "seed": s, "level": 0.95, "method": "percentile", "resample": ...}}

Bootstrap: utterance metrics resample utterances, system metrics resample systems (their
per-system means stay fixed), independently within each scope (all, and each rate). ``per_rate``
is empty when the truth carries no sampling rate. Use :func:`save_json` to write a result:
NaN becomes ``null`` so that the file is strict JSON.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from sfi_mos.atomic import write_json
from sfi_mos.metrics.bootstrap import LEVEL, draw_counts, metric_cis, two_sided_p, weighted_metrics
from sfi_mos.metrics.core import METRICS, SYS_TRUTH, four_metrics, level_data
from sfi_mos.errors import InputError
from sfi_mos.metrics.truth import merge_pred_truth

_LEVEL_CODE = {"utt": 0, "sys": 1}  # part of the random stream id


def _scopes(merged: pd.DataFrame):
    """(per_rate key or None, stream id, rows): everything first, then each sampling rate."""
    yield None, 0, merged
    rates = merged["sample_rate"]
    if len(rates) and rates.notna().all():
        for sr in sorted(int(r) for r in rates.unique()):
            yield str(sr), sr, merged[rates == sr]


def _check(bootstrap: int, seed: int, sys_truth: str, level: float) -> None:
    if sys_truth not in SYS_TRUTH:
        raise InputError("sys_truth", f"{sys_truth!r} is not one of {', '.join(SYS_TRUTH)}")
    if int(bootstrap) != bootstrap or bootstrap < 0:
        raise InputError("bootstrap", f"number of draws must be an integer >= 0, got {bootstrap!r}")
    if int(seed) != seed or seed < 0:
        raise InputError("seed", f"must be an integer >= 0, got {seed!r}")
    if not 0 < level < 1:
        raise InputError("level", f"must be in (0, 1), got {level!r}")


def _boot_info(n: int, seed: int, level: float) -> dict:
    return {"n": int(n), "seed": int(seed), "level": level, "method": "percentile",
            "resample": "utterances for utt metrics, systems for sys metrics, within each scope"}


def evaluate_merged(merged: pd.DataFrame, bootstrap: int = 0, seed: int = 0,
                    sys_truth: str = "utterance", level: float = LEVEL, _draws: dict | None = None) -> dict:
    """:func:`evaluate` on the output of :func:`merge_pred_truth` (lets callers reuse one merge).

    ``_draws`` (internal): filled with the per-draw metrics {(scope key, level): {metric: (B,)}}.
    """
    _check(bootstrap, seed, sys_truth, level)
    out: dict = {"per_rate": {}}
    for key, stream, m in _scopes(merged):
        data = level_data(m, sys_truth)
        res = {"utt": four_metrics(*data["utt"]), "sys": four_metrics(*data["sys"]),
               "n_utt": int(len(m)), "n_sys": int(len(data["sys"][0]))}
        if bootstrap:
            for lvl, (t, p, tk, pk) in data.items():
                W = draw_counts(len(t), int(bootstrap), int(seed), (stream, _LEVEL_CODE[lvl]))
                draws = weighted_metrics(W, t, p, tk, pk)
                res[lvl]["ci"] = metric_cis(draws, level)
                if _draws is not None:
                    _draws[(key, lvl)] = draws
        if key is None:
            out.update(res)
        else:
            out["per_rate"][key] = res
    out["sys_truth"] = sys_truth
    out["bootstrap"] = _boot_info(bootstrap, seed, level)
    return out


def evaluate(pred_df: pd.DataFrame, truth_df: pd.DataFrame, bootstrap: int = 0, seed: int = 0,
             sys_truth: str = "utterance", level: float = LEVEL) -> dict:
    """Score predictions against truth: the eight numbers overall and per sampling rate.

    ``pred_df``: ``utt_id, pred``; ``truth_df``: per utterance (``utt_id, mos``) or per rating
    (``uttID, lisID, rating``), see :mod:`sfi_mos.metrics.truth`. ``bootstrap`` > 0 adds 95 %
    percentile CIs (``"ci"``) from that many draws with ``seed``. ``sys_truth`` picks the system
    truth convention (see :mod:`sfi_mos.metrics.core`).
    """
    _check(bootstrap, seed, sys_truth, level)
    return evaluate_merged(merge_pred_truth(pred_df, truth_df), bootstrap, seed, sys_truth, level)


def paired_bootstrap(pred_a: pd.DataFrame, pred_b: pd.DataFrame, truth: pd.DataFrame, n: int = 1000,
                     seed: int = 0, sys_truth: str = "utterance", level: float = LEVEL,
                     sources: tuple[str, str, str] = ("pred_a", "pred_b", "truth")) -> dict:
    """Compare two prediction sets for the same truth on the *same* bootstrap draws.

    Returns ``{"a": result, "b": result, "diff": {...}, "n_utt", "n_sys", "sys_truth", "bootstrap"}``
    where ``a``/``b`` are :func:`evaluate` results with CIs (identical to ``evaluate(..., bootstrap=n,
    seed=seed)``), and ``diff`` has, per level (and per rate under ``per_rate``), the point
    difference a - b of each metric, ``"ci"`` (percentile CI of the per-draw differences) and
    ``"p"`` (two-sided bootstrap p-value for "no difference"; coarse, >= 2/n). ``sources`` name
    the three inputs in error messages.
    """
    _check(n, seed, sys_truth, level)
    if n < 1:
        raise InputError("bootstrap", "paired comparison needs at least 1 draw")
    ma = merge_pred_truth(pred_a, truth, pred_source=sources[0], truth_source=sources[2])
    mb = merge_pred_truth(pred_b, truth, pred_source=sources[1], truth_source=sources[2])
    draws_a: dict = {}
    draws_b: dict = {}
    # same seed and streams -> both sets are scored on identical draws
    res_a = evaluate_merged(ma, n, seed, sys_truth, level, _draws=draws_a)
    res_b = evaluate_merged(mb, n, seed, sys_truth, level, _draws=draws_b)
    diff: dict = {"per_rate": {}}
    for key in [None, *res_a["per_rate"]]:
        pa = res_a if key is None else res_a["per_rate"][key]
        pb = res_b if key is None else res_b["per_rate"][key]
        scope = {}
        for lvl in ("utt", "sys"):
            d = {m: draws_a[(key, lvl)][m] - draws_b[(key, lvl)][m] for m in METRICS}
            scope[lvl] = {m: pa[lvl][m] - pb[lvl][m] for m in METRICS}
            scope[lvl]["ci"] = metric_cis(d, level)
            scope[lvl]["p"] = {m: two_sided_p(d[m]) for m in METRICS}
        if key is None:
            diff.update(scope)
        else:
            diff["per_rate"][key] = scope
    return {"a": res_a, "b": res_b, "diff": diff, "n_utt": res_a["n_utt"], "n_sys": res_a["n_sys"],
            "sys_truth": sys_truth, "bootstrap": _boot_info(n, seed, level)}


def to_jsonable(obj):
    """Plain JSON types; NaN/inf -> None (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def save_json(path: str | os.PathLike, result: dict) -> None:
    """Write a result atomically as strict JSON (never a partial file)."""
    write_json(path, to_jsonable(result))
