"""The deviations table: one row per recipe factor (``ablations.factors``), the authors' value with its
source, the suite's, and what the change measured on these results.

A factor is *measured* when the results hold an authors cell with no deviation and the same cell with
only that factor changed (same front end, teacher, distillation, pre-training, features); the row then
gives the paired difference (changed minus authors) in system SRCC and utterance MSE with 95 % CIs
(``stats.paired_cells``: the same bootstrap draws for one seed, t over seeds otherwise). The last row
compares the suite's cell, every factor changed at once, with its authors cell.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ablations.factors import FACTORS

from . import stats as S
from .collect import is_replication

STRUCTURE = ("variant", "teacher", "distill", "pretrain", "features")
COLUMNS = ["factor", "title", "authors", "source", "suite", "ablated", "authors_cell", "changed_cell", "status",
           "d_sys_SRCC", "d_sys_SRCC_lo", "d_sys_SRCC_hi", "d_utt_MSE", "d_utt_MSE_lo", "d_utt_MSE_hi"]


def _fmt(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _pair(t: pd.DataFrame, changed: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(authors replicates, changed replicates) of the first structure where both exist."""
    base = t[is_replication(t)]
    for label in dict.fromkeys(t.loc[changed, "cell"]):
        g = t[t.cell == label]
        first = g.iloc[0]
        a = base[np.logical_and.reduce([base[k] == first[k] for k in STRUCTURE])]
        if not a.empty:
            return a, g
    return None


def build(t: pd.DataFrame, preds: dict[str, pd.DataFrame], opt) -> pd.DataFrame:
    devs = t["deviations"].map(lambda s: json.loads(s) if s else None)
    rows = []
    for f in FACTORS:
        only_f = devs.map(lambda d, name=f.name: d is not None and set(d) == {name}) & (t["base"] == "authors")
        rows.append(_row(f.name, f.title, f.authors, f.source, f.suite, _fmt(f.ablated_value),
                         _pair(t, only_f), preds, opt))
    suite = t["base"].eq("suite") & devs.map(lambda d: d == {})
    rows.append(_row("(all)", "every factor at once: the suite's system", "the replication", "all rows above",
                     "the suite's cell", "suite", _pair(t, suite), preds, opt))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(name, title, authors, source, suite, ablated, pair, preds, opt) -> dict:
    row = {"factor": name, "title": title, "authors": authors, "source": source, "suite": suite,
           "ablated": ablated, "authors_cell": "", "changed_cell": "", "status": "not run"}
    row.update({c: np.nan for c in COLUMNS if c.startswith("d_")})
    if pair is None:
        return row
    a, g = pair
    d = S.paired_cells(g, a, preds, opt.bootstrap, opt.seed)
    row.update(authors_cell=a.cell.iloc[0], changed_cell=g.cell.iloc[0], status="measured")
    for k in ("sys_SRCC", "utt_MSE"):
        row[f"d_{k}"], row[f"d_{k}_lo"], row[f"d_{k}_hi"] = d[k]
    return row
