"""The eight challenge numbers: {utterance, system} x {MSE, LCC, SRCC, KTAU}.

Formulas are those of the organisers' scorer (``unilight/sheet`` ``utils/calculate_metrics.py``,
same in ``sheet/evaluation/metrics.py``): MSE = mean squared error, LCC = ``numpy.corrcoef``
(Pearson), SRCC = ``scipy.stats.spearmanr`` (average ranks for ties), KTAU =
``scipy.stats.kendalltau`` with scipy's default tau-b (tie-corrected) variant.

System level (two conventions, chosen by ``sys_truth``):

* ``"utterance"`` (default, as SHEET): a system's truth is the mean of the per-utterance MOS of
  its evaluated utterances; its prediction is the mean of its utterances' predictions.
* ``"ratings"`` (UTMOS22 style): a system's truth is the mean of *all individual ratings* of its
  evaluated utterances, i.e. the per-utterance MOS weighted by ``n_ratings``. The prediction is
  still the plain mean of its utterances' predictions. Needs per-rating truth (or ``n_ratings``).

Where we depart from SHEET: every mean is computed exactly, on rationals (:mod:`.exact`), and the
rank metrics (SRCC, KTAU) rank those exact values. SHEET averages floats (``np.mean`` in file
order), so two systems with exactly the same MOS get means that differ in the last bit and are
ranked apart; here they stay tied. The two agree to ~1e-15 everywhere else (MSE and LCC always;
SRCC/KTAU whenever no two exact means tie); the README gives the measured rate of disagreement.
Being exact, the two conventions give identical system truth when every utterance has the same
number of ratings. Undefined values (a correlation over < 2 points or a constant vector) are NaN.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from sfi_mos.errors import InputError
from sfi_mos.metrics.exact import exact_mean, floats, fractions_of, rank_key

METRICS = ("MSE", "LCC", "SRCC", "KTAU")
SYS_TRUTH = ("utterance", "ratings")


def four_metrics(truth, pred, truth_key=None, pred_key=None) -> dict[str, float]:
    """MSE, LCC, SRCC, KTAU of two equal-length 1-D arrays, as the organisers' scorer.

    ``truth_key`` / ``pred_key`` (optional): arrays with the exact order and ties of the values
    (e.g. :func:`sfi_mos.metrics.exact.rank_key`); SRCC and KTAU use them instead of the floats.
    """
    t = np.asarray(truth, dtype=float)
    p = np.asarray(pred, dtype=float)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"truth/pred shapes differ or are not 1-D: {t.shape} vs {p.shape}")
    tk = t if truth_key is None else np.asarray(truth_key, dtype=float)
    pk = p if pred_key is None else np.asarray(pred_key, dtype=float)
    if tk.shape != t.shape or pk.shape != p.shape:
        raise ValueError("rank keys must have the shape of the values")
    if len(t) == 0:
        return {m: float("nan") for m in METRICS}
    mse = float(np.mean((t - p) ** 2))
    if len(t) < 2:
        return {"MSE": mse, "LCC": float("nan"), "SRCC": float("nan"), "KTAU": float("nan")}
    import scipy.stats  # here: importing it is most of the CLI's start-up, which a bad input never needs

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # constant inputs give NaN (with a warning we do not want on every bootstrap call)
        warnings.simplefilter("ignore")
        lcc = float(np.corrcoef(t, p)[0][1])
        srcc = float(scipy.stats.spearmanr(tk, pk)[0])
        ktau = float(scipy.stats.kendalltau(tk, pk)[0])
    return {"MSE": mse, "LCC": lcc, "SRCC": srcc, "KTAU": ktau}


def _exact(merged: pd.DataFrame, col: str) -> list:
    ex = f"{col}_exact"
    if ex in merged.columns:
        return list(merged[ex])
    return fractions_of(merged[col])  # a hand-made merged table: its floats as written


def system_table(merged: pd.DataFrame, sys_truth: str = "utterance") -> pd.DataFrame:
    """Per-system truth/prediction -> DataFrame[system_id, mos, pred, n_utt, mos_exact, pred_exact].

    ``merged`` is the output of :func:`sfi_mos.metrics.truth.merge_pred_truth`; rows sorted by
    system. ``mos_exact``/``pred_exact`` are the exact means (Fractions); ``mos``/``pred`` are them
    correctly rounded to float.
    """
    if sys_truth not in SYS_TRUTH:
        raise InputError("sys_truth", f"{sys_truth!r} is not one of {', '.join(SYS_TRUTH)}")
    if sys_truth == "ratings" and merged["n_ratings"].isna().any():
        raise InputError("truth", "sys_truth='ratings' needs per-rating truth "
                                  "(uttID,lisID,rating) or an n_ratings column")
    t_ex, p_ex = _exact(merged, "mos"), _exact(merged, "pred")
    groups: dict = {}
    for i, s in enumerate(merged["system_id"]):
        groups.setdefault(s, []).append(i)
    systems = sorted(groups)
    n = merged["n_ratings"].to_numpy() if sys_truth == "ratings" else None
    mos, pred = [], []
    for s in systems:
        idx = groups[s]
        if n is None:
            mos.append(exact_mean(t_ex[i] for i in idx))
        else:  # mean of all ratings = sum(MOS_u * n_u) / sum(n_u)
            mos.append(sum((t_ex[i] * int(n[i]) for i in idx), 0) / sum(int(n[i]) for i in idx))
        pred.append(exact_mean(p_ex[i] for i in idx))
    return pd.DataFrame({"system_id": pd.Series(systems, dtype=object), "mos": floats(mos), "pred": floats(pred),
                         "n_utt": [len(groups[s]) for s in systems],
                         "mos_exact": pd.Series(mos, dtype=object), "pred_exact": pd.Series(pred, dtype=object)})


def level_data(merged: pd.DataFrame, sys_truth: str = "utterance") -> dict[str, tuple[np.ndarray, ...]]:
    """{"utt"|"sys": (truth, pred, truth_key, pred_key)}: float values and exact rank keys."""
    sys = system_table(merged, sys_truth)
    out = {}
    for lvl, tab in (("utt", merged), ("sys", sys)):
        out[lvl] = (tab["mos"].to_numpy(float), tab["pred"].to_numpy(float),
                    rank_key(_exact(tab, "mos")), rank_key(_exact(tab, "pred")))
    return out


def utt_sys_metrics(merged: pd.DataFrame, sys_truth: str = "utterance") -> dict:
    """Point estimates ``{"utt": {...}, "sys": {...}, "n_utt": int, "n_sys": int}`` of a merged table."""
    data = level_data(merged, sys_truth)
    return {
        "utt": four_metrics(*data["utt"]),
        "sys": four_metrics(*data["sys"]),
        "n_utt": int(len(merged)),
        "n_sys": int(len(data["sys"][0])),
    }
