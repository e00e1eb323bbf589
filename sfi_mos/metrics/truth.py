"""Loading and validating prediction / ground-truth tables, and joining them.

Accepted forms
--------------
* Predictions: columns ``utt_id`` (alias ``uttID``) and ``pred``; extra columns are ignored.
* Truth, per utterance: ``utt_id`` (alias ``uttID``) and ``mos``; optional ``system_id``,
  ``sample_rate`` and ``n_ratings`` (needed only for ``sys_truth="ratings"``).
* Truth, per rating (Track 3 ``uttID,lisID,rating``, or the tidy ``utt_id,rating,...`` frame of
  ``sfi_mos.data``): averaged per utterance; ``n_ratings`` is counted. If a frame has a ``rating``
  column it is treated as per rating, even when it also has ``mos``.

Utterance ids are compared as strings with a trailing ``.wav`` removed, so ``x.wav`` and ``x`` match.
Without ``system_id`` the system and rate come from the Track 3 file name:
``audiomos-track3-16k_sys3_utt07`` -> system ``16k_sys3``, rate 16000 (any prefix before
``-<rate>k_sys<N>``). Every problem raises :class:`sfi_mos.errors.InputError` naming the file/row.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd

from sfi_mos.data.audio import rate_from_tag  # the one "<n>k" -> Hz table
from sfi_mos.errors import InputError

_NAME_RE = re.compile(r"(?:^|[-/_])(\d+)k_(sys\d+)_utt[^/]*$")
_N_SHOWN = 5  # ids listed in a missing/extra error


def parse_track3_name(name: str) -> tuple[str, int] | None:
    """``audiomos-track3-16k_sys3_utt07[.wav]`` -> ``("16k_sys3", 16000)``; None if no match."""
    stem = _strip_wav(str(name))
    m = _NAME_RE.search(stem)
    if m is None:
        return None
    return f"{m.group(1)}k_{m.group(2)}", rate_from_tag(f"{m.group(1)}k")


def _strip_wav(s: str) -> str:
    return s[:-4] if s.lower().endswith(".wav") else s


def _where(source: str, pos: int, csv: bool) -> str:
    # CSV: physical line number (header is line 1); DataFrame: 0-based row position
    return f"{source}, line {pos + 2}" if csv else f"{source}, row {pos}"


def _read_csv(path: str | os.PathLike) -> pd.DataFrame:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "file not found")
    try:
        # all as text: numbers are parsed below so that bad cells can be reported by row
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(path, "empty file (no header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(path, f"not a readable CSV: {str(e).strip()}") from None


def _pick(df: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    return None


def _require(df: pd.DataFrame, source: str, names: tuple[str, ...]) -> str:
    col = _pick(df, names)
    if col is None:
        raise InputError(source, f"missing column {' or '.join(repr(n) for n in names)} "
                                 f"(columns: {', '.join(map(str, df.columns))})")
    return col


def _ids(df: pd.DataFrame, col: str, source: str, csv: bool) -> pd.Series:
    raw = df[col]
    ids = raw.astype(str).str.strip().map(_strip_wav)
    bad = raw.isna().to_numpy() | (ids == "").to_numpy() | ids.str.lower().isin(["nan", "none"]).to_numpy()
    if bad.any():
        raise InputError(_where(source, int(np.flatnonzero(bad)[0]), csv), f"empty {col!r}")
    return ids.reset_index(drop=True)


def _numbers(df: pd.DataFrame, col: str, source: str, csv: bool, what: str) -> np.ndarray:
    raw = df[col].reset_index(drop=True)
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(vals)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        n = int(bad.sum())
        more = f" ({n} such rows)" if n > 1 else ""
        raise InputError(_where(source, i, csv), f"{what} {raw.iloc[i]!r} is NaN, infinite or not a number{more}")
    return vals


def _first_duplicate(ids: pd.Series, source: str, csv: bool, what: str) -> None:
    dup = ids.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(_where(source, i, csv),
                         f"duplicate {what} {ids.iloc[i]!r} ({int(dup.sum())} duplicate rows in all)")


def normalize_pred(df: pd.DataFrame, source: str = "pred", csv: bool = False) -> pd.DataFrame:
    """Validate a prediction table -> DataFrame[utt_id, pred] (one row per utterance)."""
    if df is None or len(df.columns) == 0:
        raise InputError(source, "no columns")
    id_col = _require(df, source, ("utt_id", "uttID"))
    _require(df, source, ("pred",))
    if len(df) == 0:
        raise InputError(source, "no prediction rows")
    ids = _ids(df, id_col, source, csv)
    _first_duplicate(ids, source, csv, "utt_id")
    return pd.DataFrame({"utt_id": ids, "pred": _numbers(df, "pred", source, csv, "prediction")})


def normalize_truth(df: pd.DataFrame, source: str = "truth", csv: bool = False) -> pd.DataFrame:
    """Validate a truth table -> DataFrame[utt_id, system_id, sample_rate, mos, n_ratings].

    ``sample_rate`` is a nullable integer (all missing when no column and names carry no rate);
    ``n_ratings`` is a nullable integer (missing for per-utterance truth without that column).
    """
    if df is None or len(df.columns) == 0:
        raise InputError(source, "no columns")
    # an all-empty optional column (e.g. a normalised table without rates) counts as absent
    empty = [c for c in ("sample_rate", "n_ratings") if c in df.columns and len(df) and df[c].isna().all()]
    df = df.drop(columns=empty)
    id_col = _require(df, source, ("utt_id", "uttID"))
    if "rating" not in df.columns:
        _require(df, source, ("mos", "rating"))
    if len(df) == 0:
        raise InputError(source, "no rows")
    ids = _ids(df, id_col, source, csv)
    per_rating = "rating" in df.columns
    if per_rating:
        vals = _numbers(df, "rating", source, csv, "rating")
        lis = _pick(df, ("lisID", "listener", "listener_id"))
        if lis is not None:
            listeners = df[lis].astype(str).str.strip().reset_index(drop=True)
            dup = pd.DataFrame({"u": ids, "l": listeners}).duplicated(keep="first").to_numpy()
            if dup.any():
                i = int(np.flatnonzero(dup)[0])
                raise InputError(_where(source, i, csv), f"duplicate (utterance, listener) pair "
                                 f"'{ids.iloc[i]} / {listeners.iloc[i]}' ({int(dup.sum())} duplicate rows in all)")
    else:
        vals = _numbers(df, "mos", source, csv, "MOS")
        _first_duplicate(ids, source, csv, "utt_id")

    sys_ids = _system_ids(df, ids, source, csv)
    rates = _sample_rates(df, ids, source, csv)
    rows = pd.DataFrame({"utt_id": ids, "system_id": sys_ids, "sample_rate": rates, "v": vals})
    if per_rating:
        # one system / rate per utterance, else the table is inconsistent
        for col in ("system_id", "sample_rate"):
            nun = rows.groupby("utt_id", sort=False)[col].nunique(dropna=False)
            if (nun > 1).any():
                u = nun.index[nun > 1][0]
                raise InputError(source, f"utterance {u!r} has several {col} values")
        g = rows.groupby("utt_id", sort=False)
        out = g.agg(system_id=("system_id", "first"), sample_rate=("sample_rate", "first"),
                    mos=("v", "mean"), n_ratings=("v", "size")).reset_index()
    else:
        out = rows.rename(columns={"v": "mos"})
        if "n_ratings" in df.columns:
            out["n_ratings"] = _numbers(df, "n_ratings", source, csv, "n_ratings")
            if (out["n_ratings"] < 1).any() or (out["n_ratings"] % 1 != 0).any():
                i = int(np.flatnonzero((out["n_ratings"] < 1) | (out["n_ratings"] % 1 != 0))[0])
                raise InputError(_where(source, i, csv), "n_ratings must be a positive integer")
        else:
            out["n_ratings"] = np.nan
    out["n_ratings"] = out["n_ratings"].astype("Int64")
    out["sample_rate"] = out["sample_rate"].astype("Int64")
    return out[["utt_id", "system_id", "sample_rate", "mos", "n_ratings"]].reset_index(drop=True)


def _system_ids(df: pd.DataFrame, ids: pd.Series, source: str, csv: bool) -> pd.Series:
    col = _pick(df, ("system_id", "sysID"))
    if col is not None:
        return _ids(df, col, source, csv)
    out = []
    for i, u in enumerate(ids):
        parsed = parse_track3_name(u)
        if parsed is None:
            raise InputError(_where(source, i, csv),
                             f"no system_id column and utterance id {u!r} is not a Track 3 name "
                             "(<prefix>-<rate>k_sys<N>_utt<M>)")
        out.append(parsed[0])
    return pd.Series(out, dtype=str)


def _sample_rates(df: pd.DataFrame, ids: pd.Series, source: str, csv: bool) -> pd.Series:
    if "sample_rate" in df.columns:
        vals = _numbers(df, "sample_rate", source, csv, "sample_rate")
        bad = (vals <= 0) | (vals % 1 != 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(_where(source, i, csv), f"sample_rate {vals[i]!r} is not a positive integer")
        return pd.Series(vals.astype(np.int64))
    parsed = [parse_track3_name(u) for u in ids]
    if all(p is not None for p in parsed):
        return pd.Series([p[1] for p in parsed], dtype=np.int64)
    # all-or-nothing: a partial per-rate breakdown would silently drop utterances
    return pd.Series([pd.NA] * len(ids), dtype="Int64")


def load_pred(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a prediction CSV (``utt_id,pred``)."""
    return normalize_pred(_read_csv(path), source=os.fspath(path), csv=True)


def load_truth(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a truth CSV (per utterance or per rating)."""
    return normalize_truth(_read_csv(path), source=os.fspath(path), csv=True)


def _few(ids) -> str:
    ids = sorted(ids)
    shown = ", ".join(ids[:_N_SHOWN])
    return shown + (f", ... (+{len(ids) - _N_SHOWN} more)" if len(ids) > _N_SHOWN else "")


def merge_pred_truth(pred_df: pd.DataFrame, truth_df: pd.DataFrame,
                     pred_source: str = "pred", truth_source: str = "truth") -> pd.DataFrame:
    """Join predictions to truth -> DataFrame[utt_id, system_id, sample_rate, mos, pred, n_ratings].

    Both inputs may be raw (any accepted form) or already normalised. Every truth utterance must
    have exactly one prediction and every prediction a truth utterance; otherwise InputError.
    Row order follows the truth table.
    """
    # always (re)validated: cheap, and a hand-made frame may hold NaN or duplicates
    pred = normalize_pred(pred_df, pred_source)
    truth = normalize_truth(truth_df, truth_source)
    p_ids, t_ids = set(pred["utt_id"]), set(truth["utt_id"])
    missing = t_ids - p_ids
    if missing:
        raise InputError(pred_source, f"{len(missing)} of {len(t_ids)} truth utterances have no "
                                      f"prediction: {_few(missing)}")
    extra = p_ids - t_ids
    if extra:
        raise InputError(pred_source, f"{len(extra)} predictions are for utterances not in "
                                      f"{truth_source}: {_few(extra)}")
    merged = truth.merge(pred, on="utt_id", how="left", validate="one_to_one")
    return merged[["utt_id", "system_id", "sample_rate", "mos", "pred", "n_ratings"]]
