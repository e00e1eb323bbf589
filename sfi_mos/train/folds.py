"""k-fold cross-validation over training utterances (paper: 7 folds).

Folds are made over *utterances* (so every rating of a clip lands in the same fold: grouped) and
stratified over sampling rate, with sklearn's StratifiedKFold seeded by the run seed. The assignment is
saved as ``folds.csv`` in the run dir so it can be audited and reused.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ..atomic import write_csv
from ..errors import InputError


def assign_folds(utterances: pd.DataFrame, n_folds: int, seed: int) -> pd.DataFrame:
    """``utterances`` with columns utt_id, sample_rate -> DataFrame[utt_id, sample_rate, fold]."""
    df = utterances[["utt_id", "sample_rate"]].drop_duplicates("utt_id").sort_values("utt_id", kind="stable")
    df = df.reset_index(drop=True)
    if n_folds < 2:
        raise InputError("n_folds", f"need at least 2 folds, got {n_folds}")
    if len(df) < n_folds:
        raise InputError("n_folds", f"{n_folds} folds but only {len(df)} training utterances")
    counts = df.sample_rate.value_counts()
    # a rate with fewer clips than folds cannot be stratified; pool such rates into one stratum
    strata = df.sample_rate.where(df.sample_rate.map(counts) >= n_folds, -1).to_numpy()
    if (strata == -1).sum() and (strata == -1).sum() < n_folds:
        strata = np.where(strata == -1, counts.idxmax(), strata)
    fold = np.empty(len(df), dtype=int)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, val_idx) in enumerate(skf.split(np.zeros(len(df)), strata)):
        fold[val_idx] = k
    return df.assign(fold=fold)


def save_folds(folds: pd.DataFrame, run_dir: str | Path) -> Path:
    path = Path(run_dir) / "folds.csv"
    write_csv(path, folds)
    return path
