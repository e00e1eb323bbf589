"""Loading and validating prediction / ground-truth tables, and joining them.

Accepted forms (column names: :mod:`sfi_mos.metrics.reading`; options: :class:`Columns`)
----------------------------------------------------------------------------------------
* Predictions: an id column (``utt_id``; ``uttID``, ``sample_id``) and a score column (``pred``;
  ``answer``, ``score``, ``prediction``, ``predicted_mos``, ``MOS``, ``mos``); extra columns are
  ignored. A header-less 2-column file is ``id,score`` (VoiceMOS ``answer.txt``). SHEET's
  ``results.csv`` (``sample_id``, ``answer``) is read as it is.
* Truth, per utterance: an id and a MOS column (``mos``; ``MOS``, ``avg_score``, ``score``);
  optional ``system_id`` (``sysID``, ``system``), ``sample_rate``, ``n_ratings``. Header-less: ``id,MOS``.
* Truth, per rating: a ``rating`` column, or ``score`` next to a listener column (``lisID``,
  ``listener_id``, ``listener``): Track 3 ``uttID,lisID,rating``, the tidy frames of ``sfi_mos.data``,
  SHEET's per-rating CSVs. Averaged per utterance, exactly; ``n_ratings`` is counted.

The canonical name wins when present; otherwise exactly one alias must be present, or the choice
is ambiguous and must be made with an explicit column option. An optional column that is entirely
blank counts as absent. Ids are compared as strings with a trailing ``.wav`` removed. Without a
system column the system and rate come from the Track 3 name (``<prefix>-16k_sys3_utt07`` ->
``16k_sys3``, 16000 Hz), or, given the organisers' ``sysMap.txt``/``uttMap.txt``
(:func:`track3_names`), from de-obfuscated names too, which are mapped to the obfuscated ids on both
sides. Ratings and MOS must lie on the 1-5 scale. Every problem raises :class:`InputError` naming
the file and physical line (or the DataFrame row).
"""
from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from sfi_mos.data.audio import rate_from_tag  # the one "<n>k" -> Hz table
from sfi_mos.data.tables import RATING_MAX, RATING_MIN, read_map
from sfi_mos.data.track3 import Track3Names  # the one de-obfuscation mapping
from sfi_mos.errors import InputError
from sfi_mos.metrics.exact import floats, fractions_of, number_problem
from sfi_mos.metrics.reading import (ID_NAMES, LISTENER_NAMES, MOS_NAMES, N_RATINGS_NAMES, PRED_NAMES,
                                     RATE_NAMES, RATING_NAMES, SYSTEM_NAMES, Columns, Table, blank,
                                     frame_table, pick_column, read_csv_table)

_NAME_RE = re.compile(r"(?:^|[-/_])(\d+)k_(sys\d+)_utt[^/]*$")
_N_SHOWN = 5  # ids listed in a missing/extra/duplicate error
KNOWN = tuple(dict.fromkeys(ID_NAMES + PRED_NAMES + MOS_NAMES + RATING_NAMES + LISTENER_NAMES + SYSTEM_NAMES
                            + RATE_NAMES + N_RATINGS_NAMES + ("avg_score", "wav_path", "mos_exact")))


def parse_track3_name(name: str) -> tuple[str, int] | None:
    """``audiomos-track3-16k_sys3_utt07[.wav]`` -> ``("16k_sys3", 16000)``; None if no match."""
    stem = _strip_wav(str(name))
    m = _NAME_RE.search(stem)
    if m is None:
        return None
    return f"{m.group(1)}k_{m.group(2)}", rate_from_tag(f"{m.group(1)}k")


def track3_names(maps_dir: str | os.PathLike) -> Track3Names:
    """The organisers' ``sysMap.txt`` and ``uttMap.txt`` in ``maps_dir`` -> a name mapper."""
    d = Path(maps_dir)
    if not d.is_dir():
        raise InputError(d, "Track 3 map folder not found (it must hold sysMap.txt and uttMap.txt)")
    maps = []
    for name in ("sysMap.txt", "uttMap.txt"):
        p = d / name
        if not p.is_file():
            raise InputError(p, "file not found (de-obfuscated names need sysMap.txt and uttMap.txt)")
        try:
            maps.append(read_map(p))
        except UnicodeDecodeError:
            raise InputError(p, "not UTF-8 text") from None
    return Track3Names(*maps)


def _strip_wav(s: str) -> str:
    return s[:-4] if s.lower().endswith(".wav") else s


def _as_table(obj, source: str) -> Table:
    return obj if isinstance(obj, Table) else frame_table(obj, source)


def _few(ids) -> str:
    ids = sorted(ids)
    shown = ", ".join(ids[:_N_SHOWN])
    return shown + (f", ... (+{len(ids) - _N_SHOWN} more)" if len(ids) > _N_SHOWN else "")


def _ids(t: Table, col: str, what: str) -> pd.Series:
    raw = t.df[col]
    bad = blank(raw)
    if bad.any():
        raise InputError(t.where(int(np.flatnonzero(bad)[0])), f"empty {what} (column {col!r})")
    memo: dict = {}  # per-rating tables repeat every id
    return pd.Series([memo[v] if v in memo else memo.setdefault(v, _strip_wav(str(v).strip()))
                      for v in raw.to_numpy(dtype=object)], dtype=object)


def _canonical(t: Table, ids: pd.Series, names: Track3Names | None):
    """Map ids through the Track 3 names -> (ids, systems, rates); systems/rates None without names."""
    if names is None:
        return ids, None, None
    parsed = [names.utterance(u, t.where(i)) for i, u in enumerate(ids)]
    return (pd.Series([p[0] for p in parsed], dtype=object), pd.Series([p[1] for p in parsed], dtype=object),
            pd.Series([p[2] for p in parsed], dtype=np.int64))


def _values(t: Table, col: str, what: str, scale: bool) -> tuple[list, np.ndarray]:
    """Exact values (Fractions) and floats of a numeric column; the first bad cell is an error."""
    raw = t.df[col].reset_index(drop=True)
    fr = fractions_of(raw)
    bad = np.array([f is None for f in fr], dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        more = f" ({int(bad.sum())} such {t.unit}s)" if bad.sum() > 1 else ""
        cell = raw.iloc[i]
        why = number_problem(cell) if isinstance(cell, str) else None
        problem = "is blank" if blank(raw.iloc[i:i + 1])[0] else (
            why if why and why.startswith("is out of range") else "is NaN, infinite or not a number")
        raise InputError(t.where(i), f"{what} {cell!r} {problem} (column {col!r}){more}")
    vals = floats(fr)
    if scale:
        out = (vals < RATING_MIN) | (vals > RATING_MAX)
        edge = np.flatnonzero((vals == RATING_MIN) | (vals == RATING_MAX))
        out[edge] = [not RATING_MIN <= fr[i] <= RATING_MAX for i in edge]  # "5.0000000000000001" rounds to 5
        if out.any():
            i = int(np.flatnonzero(out)[0])
            more = f" ({int(out.sum())} such {t.unit}s)" if out.sum() > 1 else ""
            raise InputError(t.where(i), f"{what} {raw.iloc[i]!r} is outside the rating scale "
                                         f"{RATING_MIN:g}-{RATING_MAX:g}{more}")
    return fr, vals


def _unique(t: Table, keys: pd.Series, what: str, show=str) -> None:
    """Repeated keys are an error naming the first repeat, its lines and the other repeated keys."""
    dup = keys.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    groups: dict = {}
    for i in np.flatnonzero(dup):
        groups.setdefault(keys.iloc[i], []).append(int(i))
    firsts = sorted(groups.values(), key=lambda idx: idx[1])  # in the order the repeats appear
    idx = firsts[0]
    msg = f"duplicate {what} {show(keys.iloc[idx[0]])!r} ({t.unit}s {', '.join(t.lines_of(idx))})"
    if len(firsts) > 1:
        others = [f"{show(keys.iloc[g[0]])!r} ({t.unit}s {', '.join(t.lines_of(g))})" for g in firsts[1:_N_SHOWN]]
        rest = f", ... (+{len(firsts) - _N_SHOWN} more)" if len(firsts) > _N_SHOWN else ""
        msg += f"; {len(firsts)} repeated in all, also {', '.join(others)}{rest}"
    raise InputError(t.where(idx[1]), msg)


def _reuse_exact(t: Table, col: str, fr: list, vals: np.ndarray) -> list:
    """A normalised table carries its exact values (``<col>_exact``); keep those that still match."""
    ex = f"{col}_exact"
    if ex not in t.df.columns:
        return fr
    return [e if hasattr(e, "denominator") and float(e) == v else f
            for e, f, v in zip(t.df[ex], fr, vals)]


def normalize_pred(df, source: str = "pred", columns: Columns | None = None,
                   names: Track3Names | None = None) -> pd.DataFrame:
    """Validate a prediction table -> DataFrame[utt_id, pred, pred_exact] (one row per utterance).

    ``df``: a DataFrame or a :class:`Table` from :func:`read_csv_table`. ``pred`` may be any finite
    number (a model can leave the 1-5 scale); ``pred_exact`` is its exact value (Fraction).
    """
    c = columns or Columns()
    t = _as_table(df, source)
    id_col = pick_column(t, "utterance id", ID_NAMES, c.id, "--pred-id-col", position="1")
    val_col = pick_column(t, "prediction", PRED_NAMES, c.value, "--pred-col", position="2")
    if len(t.df) == 0:
        raise InputError(source, "no prediction rows")
    ids, _, _ = _canonical(t, _ids(t, id_col, "utterance id"), names)
    _unique(t, ids, "utt_id")
    fr, vals = _values(t, val_col, "prediction", scale=False)
    fr = _reuse_exact(t, "pred", fr, vals) if val_col == "pred" else fr
    return pd.DataFrame({"utt_id": ids, "pred": vals, "pred_exact": pd.Series(fr, dtype=object)})


def _truth_value(t: Table, c: Columns, listener: str | None) -> tuple[str, bool]:
    """(value column, per rating?)"""
    cols = list(t.df.columns)
    if c.value is not None:
        col = pick_column(t, "truth value", (), c.value, "--truth-col")
        return col, col in RATING_NAMES or listener is not None
    if t.header and "rating" in cols:
        return "rating", True
    if listener is not None and "score" in cols:
        return "score", True  # SHEET's per-rating CSVs
    return pick_column(t, "MOS", MOS_NAMES, None, "--truth-col", position="2"), False


def normalize_truth(df, source: str = "truth", columns: Columns | None = None,
                    names: Track3Names | None = None) -> pd.DataFrame:
    """Validate a truth table -> DataFrame[utt_id, system_id, sample_rate, mos, n_ratings, mos_exact].

    ``sample_rate`` is a nullable integer (all missing when there is no column and the names carry
    no rate); ``n_ratings`` is a nullable integer (missing for per-utterance truth without that
    column); ``mos_exact`` is the exact utterance MOS (Fraction; for per-rating truth the exact sum
    of its ratings over their count).
    """
    c = columns or Columns()
    t = _as_table(df, source)
    id_col = pick_column(t, "utterance id", ID_NAMES, c.id, "--truth-id-col", position="1")
    listener = pick_column(t, "listener", LISTENER_NAMES, optional=True) if t.header else None
    val_col, per_rating = _truth_value(t, c, listener)
    if len(t.df) == 0:
        raise InputError(source, "no rows")
    ids, map_sys, map_rate = _canonical(t, _ids(t, id_col, "utterance id"), names)
    fr, vals = _values(t, val_col, "rating" if per_rating else "MOS", scale=True)
    if per_rating:
        if listener is not None:
            lis = _ids(t, listener, "listener id")
            _unique(t, pd.Series(list(zip(ids, lis))), "(utterance, listener) pair", show=lambda k: " / ".join(k))
    else:
        _unique(t, ids, "utt_id")
        fr = _reuse_exact(t, "mos", fr, vals) if val_col == "mos" else fr
    sys_ids = _system_ids(t, c, ids, map_sys)
    rates = _sample_rates(t, ids, map_rate)
    rows = pd.DataFrame({"utt_id": ids, "system_id": sys_ids, "sample_rate": rates,
                         "v": pd.Series(fr, dtype=object), "pos": np.arange(len(ids))})
    if per_rating:
        out = _average_ratings(t, rows)
    else:
        out = rows.rename(columns={"v": "mos_exact"}).drop(columns="pos")
        n_col = pick_column(t, "n_ratings", N_RATINGS_NAMES, optional=True)
        out["n_ratings"] = _positive_ints(t, n_col, "n_ratings") if n_col else pd.NA
    out["mos"] = floats(out["mos_exact"])
    out["n_ratings"] = out["n_ratings"].astype("Int64")
    out["sample_rate"] = out["sample_rate"].astype("Int64")
    return out[["utt_id", "system_id", "sample_rate", "mos", "n_ratings", "mos_exact"]].reset_index(drop=True)


def _average_ratings(t: Table, rows: pd.DataFrame) -> pd.DataFrame:
    # one system / rate per utterance, else the table is inconsistent
    for col in ("system_id", "sample_rate"):
        nun = rows.groupby("utt_id", sort=False)[col].nunique(dropna=False)
        if (nun > 1).any():
            u = nun.index[nun > 1][0]
            pos = rows.loc[rows["utt_id"] == u].drop_duplicates(col)["pos"].tolist()[:2]
            raise InputError(t.where(pos[1]), f"utterance {u!r} has several {col} values "
                                              f"({t.unit}s {', '.join(t.lines_of(pos))})")
    first = rows.drop_duplicates("utt_id")
    sums, counts = _exact_sums(rows["utt_id"], list(rows["v"]))
    return pd.DataFrame({"utt_id": first["utt_id"].to_numpy(), "system_id": first["system_id"].to_numpy(),
                         "sample_rate": first["sample_rate"].to_numpy(),
                         "mos_exact": pd.Series([sums[u] / counts[u] for u in first["utt_id"]], dtype=object),
                         "n_ratings": [counts[u] for u in first["utt_id"]]})


def _exact_sums(keys: pd.Series, fr: list) -> tuple[dict, dict]:
    """Exact per-key sums and counts of Fractions."""
    den = 1
    for d in {f.denominator for f in fr}:
        den = den * d // math.gcd(den, d)
    scaled = [f.numerator * (den // f.denominator) for f in fr]
    if den < 2 ** 20 and max(map(abs, scaled)) < 2 ** 40:  # common denominator: exact int64 sums
        g = pd.Series(np.asarray(scaled, dtype=np.int64)).groupby(keys.to_numpy(), sort=False)
        tot, cnt = g.sum(), g.size()
        return ({k: Fraction(int(v), den) for k, v in tot.items()}, {k: int(v) for k, v in cnt.items()})
    sums: dict = {}
    counts: dict = {}
    for k, f in zip(keys, fr):
        sums[k] = sums.get(k, 0) + f
        counts[k] = counts.get(k, 0) + 1
    return sums, counts


def _positive_ints(t: Table, col: str, what: str) -> np.ndarray:
    fr, vals = _values(t, col, what, scale=False)
    bad = np.array([f <= 0 or f.denominator != 1 for f in fr])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(t.where(i), f"{what} {t.df[col].iloc[i]!r} is not a positive integer")
    return vals.astype(np.int64)


def _system_ids(t: Table, c: Columns, ids: pd.Series, map_sys) -> pd.Series:
    col = pick_column(t, "system", SYSTEM_NAMES, c.system, "--system-col", optional=True) if (
        t.header or c.system) else None
    if col is not None:
        return _ids(t, col, "system id")
    if map_sys is not None:
        return map_sys
    out = []
    memo: dict = {}  # per-rating truth repeats every id
    for i, u in enumerate(ids):
        parsed = memo[u] if u in memo else memo.setdefault(u, parse_track3_name(u))
        if parsed is None:
            raise InputError(t.where(i), f"no system_id column and utterance id {u!r} is not a Track 3 name "
                             "(<prefix>-<rate>k_sys<N>_utt<M>; de-obfuscated names need --track3-maps)")
        out.append(parsed[0])
    return pd.Series(out, dtype=object)


def _sample_rates(t: Table, ids: pd.Series, map_rate) -> pd.Series:
    col = pick_column(t, "sample_rate", RATE_NAMES, optional=True) if t.header else None
    if col is not None:
        return pd.Series(_positive_ints(t, col, "sample_rate"))
    if map_rate is not None:
        return map_rate
    memo = {u: parse_track3_name(u) for u in set(ids)}
    parsed = [memo[u] for u in ids]
    if all(p is not None for p in parsed):
        return pd.Series([p[1] for p in parsed], dtype=np.int64)
    # all-or-nothing: a partial per-rate breakdown would silently drop utterances
    return pd.Series([pd.NA] * len(ids), dtype="Int64")


def load_pred(path: str | os.PathLike, columns: Columns | None = None,
              names: Track3Names | None = None) -> pd.DataFrame:
    """Read and validate a prediction CSV (see the module docstring for the accepted forms)."""
    c = columns or Columns()
    return normalize_pred(read_csv_table(path, c.header, KNOWN), os.fspath(path), c, names)


def load_truth(path: str | os.PathLike, columns: Columns | None = None,
               names: Track3Names | None = None) -> pd.DataFrame:
    """Read and validate a truth CSV, per utterance or per rating."""
    c = columns or Columns()
    return normalize_truth(read_csv_table(path, c.header, KNOWN), os.fspath(path), c, names)


def merge_pred_truth(pred_df: pd.DataFrame, truth_df: pd.DataFrame,
                     pred_source: str = "pred", truth_source: str = "truth") -> pd.DataFrame:
    """Join predictions to truth -> DataFrame[utt_id, system_id, sample_rate, mos, pred, n_ratings,
    mos_exact, pred_exact].

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
    return merged[["utt_id", "system_id", "sample_rate", "mos", "pred", "n_ratings", "mos_exact", "pred_exact"]]
