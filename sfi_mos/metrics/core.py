"""The eight challenge numbers: {utterance, system} x {MSE, LCC, SRCC, KTAU}.

Formulas follow the organisers' scorer (``unilight/sheet`` ``utils/calculate_metrics.py``, same
in ``sheet/evaluation/metrics.py``): MSE = mean squared error, LCC = ``numpy.corrcoef`` (Pearson),
SRCC = ``scipy.stats.spearmanr`` (average ranks for ties), KTAU = ``scipy.stats.kendalltau``
with scipy's default tau-b (tie-corrected) variant.

System level (two conventions, chosen by ``sys_truth``):

* ``"utterance"`` (default, the organisers' scorer): a system's truth is the plain mean of the
  per-utterance MOS of its evaluated utterances; its prediction is the mean of its predicted
  utterances. The four metrics are then computed over the per-system pairs.
* ``"ratings"`` (UTMOS22 style): a system's truth is the mean of *all individual ratings* of its
  evaluated utterances, i.e. the per-utterance MOS weighted by ``n_ratings``. The prediction is
  still the plain mean of its utterances' predictions. Needs per-rating truth (or ``n_ratings``).
  With equal ratings per utterance both conventions agree.

Undefined values (a correlation over < 2 points or a constant vector) are NaN.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.stats

from sfi_mos.errors import InputError

METRICS = ("MSE", "LCC", "SRCC", "KTAU")
SYS_TRUTH = ("utterance", "ratings")


def four_metrics(truth, pred) -> dict[str, float]:
    """MSE, LCC, SRCC, KTAU of two equal-length 1-D arrays, as the organisers' scorer."""
    t = np.asarray(truth, dtype=float)
    p = np.asarray(pred, dtype=float)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"truth/pred shapes differ or are not 1-D: {t.shape} vs {p.shape}")
    if len(t) == 0:
        return {m: float("nan") for m in METRICS}
    mse = float(np.mean((t - p) ** 2))
    if len(t) < 2:
        return {"MSE": mse, "LCC": float("nan"), "SRCC": float("nan"), "KTAU": float("nan")}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # constant inputs give NaN (with a warning we do not want on every bootstrap call)
        warnings.simplefilter("ignore")
        lcc = float(np.corrcoef(t, p)[0][1])
        srcc = float(scipy.stats.spearmanr(t, p)[0])
        ktau = float(scipy.stats.kendalltau(t, p)[0])
    return {"MSE": mse, "LCC": lcc, "SRCC": srcc, "KTAU": ktau}


def system_table(merged: pd.DataFrame, sys_truth: str = "utterance") -> pd.DataFrame:
    """Per-system truth/prediction -> DataFrame[system_id, mos, pred, n_utt] (sorted by system).

    ``merged`` is the output of :func:`sfi_mos.metrics.truth.merge_pred_truth`.
    """
    if sys_truth not in SYS_TRUTH:
        raise InputError("sys_truth", f"{sys_truth!r} is not one of {', '.join(SYS_TRUTH)}")
    g = merged.groupby("system_id", sort=True)
    out = pd.DataFrame({"pred": g["pred"].mean(), "n_utt": g.size()})
    if sys_truth == "utterance":
        out["mos"] = g["mos"].mean()
    else:
        n = merged["n_ratings"]
        if n.isna().any():
            raise InputError("truth", "sys_truth='ratings' needs per-rating truth "
                                      "(uttID,lisID,rating) or an n_ratings column")
        w = n.astype(float)
        # mean of all ratings = sum(MOS_u * n_u) / sum(n_u) over the system's utterances
        sums = (merged["mos"] * w).groupby(merged["system_id"], sort=True).sum()
        out["mos"] = sums / w.groupby(merged["system_id"], sort=True).sum()
    return out.reset_index()[["system_id", "mos", "pred", "n_utt"]]


def utt_sys_metrics(merged: pd.DataFrame, sys_truth: str = "utterance") -> dict:
    """Point estimates ``{"utt": {...}, "sys": {...}, "n_utt": int, "n_sys": int}`` of a merged table."""
    sys = system_table(merged, sys_truth)
    return {
        "utt": four_metrics(merged["mos"].to_numpy(float), merged["pred"].to_numpy(float)),
        "sys": four_metrics(sys["mos"].to_numpy(float), sys["pred"].to_numpy(float)),
        "n_utt": int(len(merged)),
        "n_sys": int(len(sys)),
    }
