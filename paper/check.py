"""``--check``: replicated numbers vs reference files, under stated tolerances.

Reference files are CSVs with one row per compared item and the metric columns ``utt_MSE`` …
``sys_KTAU`` (empty = unknown, reported as missing, never a failure), optional CI columns
``<metric>_lo``/``<metric>_hi``, and key columns that pick the replicated row:

* ``cell`` (an exact cell label), or the factor columns ``variant, distill, pretrain, teacher,
  stride_policy`` (an empty factor matches any value) -> the ablation table;
  plus ``sample_rate`` -> the per-rate table;
* ``system`` (the leaderboard file) -> only the row named in ``PAPER_SYSTEM`` is compared, with the
  proposed cell, and only on real Track 3 data (a synthetic corpus is not comparable);
* an optional ``split`` column must equal the evaluated split, else the row is skipped.

Lines starting with ``#`` at the top (the environment block of this package's own CSVs) are
skipped, so a previous run's ``ablation.csv`` is itself a valid reference.

Tolerance (CI-width aware). A value passes when
``|replicated - reference| <= max(ABS_TOL[metric], ci_scale * sqrt(h_rep**2 + h_ref**2))``, where
``h`` is the half-width of a 95 % CI (0 when unknown). For two independent estimates this is the
half-width of the 95 % CI of their difference, i.e. "the reference lies within what sampling noise
allows". ``ABS_TOL`` covers the 3-decimal rounding of published tables and numerical noise
(MSE 0.005, correlations 0.002). ``--ci-scale 0`` makes the check purely absolute.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sfi_mos.data.tables import read_text
from sfi_mos.errors import InputError

from . import stats as S
from .tables import DATA_DIR, Tables

ABS_TOL = {k: (0.005 if k.endswith("MSE") else 0.002) for k in S.KEYS}
PAPER_SYSTEM = "T19"  # the leaderboard row believed to be MSR-UTMOS (inferred; see paper/data/README.md)
FACTOR_KEYS = ("variant", "distill", "pretrain", "teacher", "stride_policy")
LEGACY_KEYS = {"frontend": "variant"}  # the column's name before results layout 2 (CHANGELOG.md)
DEFAULT_REFERENCES = (DATA_DIR / "paper_reported.csv", DATA_DIR / "leaderboard_track3.csv")


@dataclass
class Outcome:
    rows: pd.DataFrame  # one row per compared value
    missing: list[str]  # reference items without numbers or without a replicated counterpart
    skipped: list[str]

    @property
    def failed(self) -> bool:
        return bool((self.rows["status"] == "OUTSIDE").any()) if len(self.rows) else False


def read_reference(path: str | Path) -> pd.DataFrame:
    """A reference CSV (``#`` lines at the top skipped), every number checked; the file line of
    each data row is in ``df.attrs["lines"]`` (blank lines do not shift them)."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "reference file does not exist")
    lines = read_text(path, newline=None).readlines()  # names the line of bytes that are not UTF-8
    skipped = 0
    while lines and lines[0].startswith("#"):
        lines.pop(0)
        skipped += 1
    if not lines:
        raise InputError(str(path), "empty reference file")
    body = "".join(lines)
    rows, width, end = [], None, skipped
    reader = csv.reader(io.StringIO(body, newline=""))
    try:
        for fields in reader:
            line, end = end + 1, skipped + reader.line_num
            if not fields:
                continue
            if width is None:
                width = len(fields)
            elif len(fields) != width:
                raise InputError(f"{path.name}, line {line}", f"{len(fields)} fields where the header has {width}")
            else:
                rows.append(line)
    except csv.Error as e:
        raise InputError(f"{path.name}, line {end + 1}", f"malformed CSV ({e})") from None
    df = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    df = df.rename(columns={k: v for k, v in LEGACY_KEYS.items() if v not in df.columns})
    if not any(k in df.columns for k in S.KEYS):
        raise InputError(str(path), f"no metric columns (expected some of {list(S.KEYS)})")
    if not ({"cell", "system"} & set(df.columns) or set(FACTOR_KEYS) & set(df.columns)):
        raise InputError(str(path), "no key column: need 'cell', 'system' or factor columns "
                                    f"{list(FACTOR_KEYS)}")
    df.attrs["lines"] = rows
    numeric = [c for c in df.columns if c in S.KEYS or (c.endswith(("_lo", "_hi")) and c[:-3] in S.KEYS)]
    for i, line in enumerate(rows):  # every number now: a bad one is found before the tables are built
        for c in numeric:
            _num(df[c].iloc[i], f"{path.name}, line {line}, column {c}")
    return df


def _num(s: str, where: str) -> float:
    s = str(s).strip()
    if s == "" or s.lower() in ("nan", "na", "none", "–"):
        return float("nan")
    try:
        x = float(s)
    except ValueError:
        raise InputError(where, f"{s!r} is not a number") from None
    if not math.isfinite(x):  # 1e400, inf: a reference must be a number to compare with
        raise InputError(where, f"{s!r} is not a finite number")
    return x


def _half(lo: float, hi: float) -> float:
    return (hi - lo) / 2 if np.isfinite(lo) and np.isfinite(hi) else 0.0


def _targets(ref: pd.Series, tabs: Tables, synthetic: bool) -> tuple[pd.DataFrame | None, str]:
    """The replicated rows a reference row refers to (None = skip, with the reason)."""
    if "system" in ref.index and str(ref["system"]).strip():
        if ref["system"] != PAPER_SYSTEM:
            return None, ""
        if synthetic:
            return None, f"{PAPER_SYSTEM}: synthetic corpus, not comparable with the leaderboard"
        if tabs.split != "eval":
            return None, f"{PAPER_SYSTEM}: leaderboard is on eval, tables are on {tabs.split}"
        return tabs.ablation[tabs.ablation.cell == tabs.proposed], f"{PAPER_SYSTEM} vs proposed"
    table = tabs.ablation
    if "sample_rate" in ref.index and str(ref["sample_rate"]).strip():
        table = tabs.per_rate
    m = pd.Series(True, index=table.index)
    if "cell" in ref.index and str(ref["cell"]).strip():
        m &= table.cell == ref["cell"]
    else:
        by = table.cell.map(dict(zip(tabs.ablation.cell, tabs.ablation.index)))
        for f in FACTOR_KEYS:
            if f in ref.index and str(ref[f]).strip():
                m &= tabs.ablation.loc[by, f].to_numpy() == ref[f]
    if table is tabs.per_rate:
        m &= table.sample_rate.astype(int) == int(float(ref["sample_rate"]))
    return table[m], ""


def compare(tabs: Tables, references: list[str | Path], synthetic: bool, ci_scale: float = 1.0) -> Outcome:
    rows, missing, skipped = [], [], []
    for path in references:
        df = read_reference(path)
        for i, ref in df.iterrows():
            where = f"{Path(path).name}, line {df.attrs['lines'][i]}"
            name = ref.get("cell") or ref.get("row") or ref.get("system") or where
            if "split" in ref.index and str(ref["split"]).strip() and ref["split"] != tabs.split:
                skipped.append(f"{where} ({name}): split {ref['split']} != {tabs.split}")
                continue
            keys = [k for k in S.KEYS if k in ref.index and np.isfinite(_num(ref[k], where))]
            if not keys:
                note = str(ref.get("note", "")).strip()
                missing.append(f"{Path(path).name}: no reference numbers" + (f" ({note})" if note else "")
                               + f"\0{name}")
                continue
            target, why = _targets(ref, tabs, synthetic)
            if target is None:
                if why:
                    skipped.append(f"{where}: {why}")
                continue
            if target.empty:
                missing.append(f"{where} ({name}): no matching replicated row")
                continue
            for _, rep in target.iterrows():
                label = rep["cell"] + (f" @{int(rep['sample_rate'])}" if "sample_rate" in rep.index else "")
                for k in keys:
                    v_ref = _num(ref[k], where)
                    h_ref = _half(_num(ref.get(f"{k}_lo", ""), where), _num(ref.get(f"{k}_hi", ""), where))
                    v, h = float(rep[k]), _half(float(rep[f"{k}_lo"]), float(rep[f"{k}_hi"]))
                    allowed = max(ABS_TOL[k], ci_scale * float(np.hypot(h, h_ref)))
                    delta = v - v_ref
                    status = "ok" if np.isfinite(delta) and abs(delta) <= allowed + 1e-12 else "OUTSIDE"
                    rows.append({"reference": where, "row": label, "metric": k, "replicated": v,
                                 "reference_value": v_ref, "delta": delta, "allowed": allowed, "status": status})
    return Outcome(pd.DataFrame(rows, columns=["reference", "row", "metric", "replicated", "reference_value",
                                               "delta", "allowed", "status"]), missing, skipped)


def report(out: Outcome, full: bool = True) -> str:
    """Readable diff: every compared value (``full``) or only those outside tolerance, then a summary."""
    lines = []
    r = out.rows if full else out.rows[out.rows["status"] == "OUTSIDE"]
    if len(r):
        shown = r.assign(**{c: r[c].map(lambda x: f"{x:+.4f}" if c == "delta" else f"{x:.4f}")
                            for c in ("replicated", "reference_value", "delta", "allowed")})
        lines.append(shown.to_string(index=False))
    # reference rows without numbers share one note per file: list the rows once under it
    groups: dict[str, list[str]] = {}
    for m in out.missing:
        head, _, name = m.partition("\0")
        groups.setdefault(head, []).append(name)
    if groups:
        lines.append(f"missing ({len(out.missing)}):")
        lines += [f"  - {h}: {', '.join(n for n in names if n)}" for h, names in groups.items()]
    if out.skipped:
        lines.append(f"skipped ({len(out.skipped)}):")
        lines += [f"  - {m}" for m in out.skipped]
    r = out.rows
    n_bad = int((r["status"] == "OUTSIDE").sum()) if len(r) else 0
    if len(r) == 0:
        lines.append("check: NOTHING COMPARED (no reference numbers apply to these results)")
    else:
        lines.append(f"check: {len(r) - n_bad} of {len(r)} values within tolerance, {n_bad} outside"
                     + (" -> FAIL" if n_bad else " -> ok"))
    return "\n".join(lines)
