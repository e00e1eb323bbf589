"""The tables as numeric DataFrames: ablation, per sampling rate, leaderboard (the high-band probe:
``paper.probe``).

Everything is computed from per-utterance predictions (``predict/<id>/predictions.csv``) with
sfi_mos.metrics, restricted to one labelled split (default ``eval``); see ``paper.stats`` for the
aggregation and CI rules.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sfi_mos.errors import InputError

from . import deviations, imported
from . import stats as S
from .collect import Collected, is_replication

DATA_DIR = Path(__file__).resolve().parent / "data"
TRACK3_RATES = (16000, 24000, 48000)
FACTORS = ("variant", "distill", "pretrain", "teacher", "stride_policy", "features", "base", "kind", "deviations")
LEADERBOARD_NOTE = (
    "The replicated row is cell {cell}. Which configuration the authors submitted is not recorded: the paper "
    "describes SFI students, but msr-utmos demo.py (l.37) reads model.sr2id, which exists only with "
    "condition_sr=True (ssl_mos.py l.61-63), i.e. a resampling + SR-embedding model (cells "
    "authors-resample_sr-*); compare those with --proposed.")

# Track 3's dev split is the training clips, rated again by other listeners in the mixed-rate test:
# it measures agreement with another listening context, not generalisation to unseen clips
# below this many systems a rate's system-level correlations get a note (4 points: SRCC in steps of 0.2)
SMALL_N_SYS = 8
NOT_HELD_OUT = {"dev": "not held out: the training clips, rated again by other listeners"}


def split_label(split: str) -> str:
    return f"{split} ({NOT_HELD_OUT[split]})" if split in NOT_HELD_OUT else split


@dataclass
class Options:
    split: str = "eval"
    bootstrap: int = 1000
    seed: int = 0
    proposed: str | None = None  # cell label; default: the replication cell (choose_proposed)
    manifest: str | None = None
    imported: list = field(default_factory=list)  # (label, labelled predictions, source): paper.imported


@dataclass
class Tables:
    ablation: pd.DataFrame
    per_rate: pd.DataFrame
    leaderboard: pd.DataFrame
    proposed: str
    split: str
    preds: dict[str, pd.DataFrame] = field(default_factory=dict)  # cell -> replicate-mean predictions
    notes: dict[str, str] = field(default_factory=dict)
    deviations: pd.DataFrame | None = None  # one row per recipe factor (paper.deviations)


def choose_proposed(table: pd.DataFrame, wanted: str | None) -> str:
    cells = list(dict.fromkeys(table["cell"]))
    if wanted is not None:
        if wanted not in cells:
            raise InputError("--proposed", f"{wanted!r} is not a cell of this grid; cells: {cells}")
        return wanted
    # the paper's model: SFI student, distilled, MOS-pre-trained; prefer the default stride policy
    # and a HuBERT teacher (the architecture the paper describes), else the first such cell
    cand = table[(table.variant == "sfi") & (table.distill == "yes") & (table.pretrain == "yes")]
    if cand.empty:
        return cells[0]
    # the replication itself (the authors' recipe, no deviation) when the grid recorded its cells
    repl = cand[is_replication(cand)]
    if not repl.empty:
        cand = repl
    rank = cand.assign(_r=(cand.stride_policy != "phase").astype(int) * 2 + (cand.teacher != "hubert").astype(int))
    return rank.sort_values(["_r", "cell"])["cell"].iloc[0]


def role(row) -> str:
    """What a cell is to the study: the replication, the suite's system, or an ablation of them."""
    if not row["base"]:
        return ""
    if row["deviations"] == "{}":
        return "replication" if row["base"] == "authors" else f"{row['base']} system"
    devs = json.loads(row["deviations"])
    return f"{row['base']} + " + ", ".join(f"{k}={v}" for k, v in devs.items())


def _split(pred: pd.DataFrame, split: str, where: str) -> pd.DataFrame:
    have = sorted(set(pred["split"].astype(str)))
    sub = pred[(pred["split"] == split) & pred["mos"].notna()]
    if sub.empty:
        raise InputError(where, f"no labelled predictions for split {split!r} (splits present: {have})")
    return sub.reset_index(drop=True)


def _row(rec: dict[str, tuple[float, float, float]], prefix: str = "") -> dict[str, float]:
    out = {}
    for k, (v, lo, hi) in rec.items():
        out[f"{prefix}{k}"], out[f"{prefix}{k}_lo"], out[f"{prefix}{k}_hi"] = v, lo, hi
    return out


def build(col: Collected, opt: Options) -> Tables:
    t = col.table
    proposed = choose_proposed(t, opt.proposed)
    preds: dict[str, pd.DataFrame] = {}  # predict_id -> split predictions
    scores: dict[str, dict[str, Any]] = {}
    for r in t.itertuples():
        p = _split(col.predictions(r.predict_id), opt.split, f"predict/{r.predict_id}/predictions.csv")
        preds[r.predict_id] = p
        scores[r.predict_id] = S.score(p, opt.bootstrap, opt.seed)
        _agrees(scores[r.predict_id]["all"], col.metrics(r.score_id), opt.split, f"score/{r.score_id}/metrics.json")
    prop_reps = t[t.cell == proposed]
    abl_rows, rate_rows, cell_preds = [], [], {}
    for cell, g in t.groupby("cell", sort=False):
        reps = [scores[i] for i in g.predict_id]
        first = g.iloc[0]
        base = {"cell": cell, "role": role(first), **{f: first[f] for f in FACTORS}, "n_reps": len(g),
                "seeds": ";".join(g.seed), "ci": S.ci_rule(len(g), opt.bootstrap, "seeds" if g.seed.nunique() == len(g) else "runs"),
                "predict_ids": ";".join(g.predict_id)}
        row = {**base, **_row(S.aggregate([s["all"] for s in reps]))}
        row.update(_row(S.paired_cells(g, prop_reps, preds, opt.bootstrap, opt.seed), prefix="d_"))
        abl_rows.append(row)
        rates = sorted(set().union(*[s["per_rate"].keys() for s in reps]))
        stacked = pd.concat([preds[i] for i in g.predict_id])
        for rate in rates:
            rr = [s["per_rate"][rate] for s in reps if rate in s["per_rate"]]
            at = stacked[stacked.sample_rate == rate]
            rate_rows.append({"cell": cell, "sample_rate": rate, "seen": rate in TRACK3_RATES,
                              "n_reps": len(rr), "n_sys": int(at.system_id.nunique()),
                              "n_utt": int(at.utt_id.nunique()), **_row(S.aggregate(rr))})
        cell_preds[cell] = (stacked.groupby("utt_id", sort=True)
                            .agg(pred=("pred", "mean"), mos=("mos", "first"), system_id=("system_id", "first"),
                                 sample_rate=("sample_rate", "first")).reset_index())
    ablation = _order(pd.DataFrame(abl_rows), proposed)
    per_rate = pd.DataFrame(rate_rows)
    per_rate["_o"] = per_rate["cell"].map({c: i for i, c in enumerate(ablation["cell"])})
    per_rate = per_rate.sort_values(["_o", "sample_rate"]).drop(columns="_o").reset_index(drop=True)
    notes = {"leaderboard": LEADERBOARD_NOTE.format(cell=proposed)}
    few = per_rate[per_rate.n_sys < SMALL_N_SYS].drop_duplicates("sample_rate")
    if not few.empty:
        rates = "; ".join(f"{int(r.sample_rate) // 1000} kHz: {r.n_sys} systems" for r in few.itertuples())
        notes["per_rate"] = rates + (
            f" — system-level correlations over fewer than {SMALL_N_SYS} systems take few distinct values and "
            "their bootstrap CIs span most of [-1, 1]: read the utterance level for these rates")
    leader = leaderboard(ablation[ablation.cell == proposed].iloc[0], col, opt)
    devs = deviations.build(t, preds, opt)
    return Tables(ablation, per_rate, leader, proposed, opt.split, cell_preds, notes, devs)


def _agrees(mine: dict[str, tuple[float, float, float]], metrics: dict[str, Any], split: str, where: str) -> None:
    """The score stage's metrics.json must give the same point values as predictions.csv here."""
    if split not in metrics:
        raise InputError(where, f"no entry for split {split!r} (have {sorted(metrics)})")
    for k, (v, _, _) in mine.items():
        lv, m = k.split("_")
        theirs = metrics[split].get(lv, {}).get(m)
        theirs = float("nan") if theirs is None else float(theirs)
        if not (np.isclose(v, theirs, rtol=0, atol=1e-9) or (np.isnan(v) and np.isnan(theirs))):
            raise InputError(where, f"{k} = {theirs!r} but predictions.csv gives {v!r}: the results are "
                                    "inconsistent (rerun the score stage)")


def _order(df: pd.DataFrame, proposed: str) -> pd.DataFrame:
    """Proposed first, then SFI, resample, resample+SR; pre-trained before not; by label."""
    fe = {"sfi": 0, "resample": 1, "resample_sr": 2}
    key = pd.DataFrame({"p": (df.cell != proposed).astype(int), "f": df.variant.map(fe).fillna(9),
                        "c": df.cell})
    return df.loc[key.sort_values(["p", "f", "c"]).index].reset_index(drop=True)


def best_marks(df: pd.DataFrame) -> dict[str, set[int]]:
    """Row positions holding the best value of each metric column (ties all marked)."""
    out = {}
    for k in S.KEYS:
        v = df[k].to_numpy(float)
        if not np.isfinite(v).any():
            out[k] = set()
            continue
        best = np.nanmin(v) if k in S.LOWER_IS_BETTER else np.nanmax(v)
        out[k] = set(np.flatnonzero(np.isclose(v, best, rtol=0, atol=1e-12)).tolist())
    return out


def load_leaderboard(path: Path = DATA_DIR / "leaderboard_track3.csv") -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    lacking = [k for k in ("system", *S.KEYS, "source", "transcription") if k not in df.columns]
    if lacking:
        raise InputError(str(path), f"missing columns {lacking}")
    for k in S.KEYS:
        df[k] = pd.to_numeric(df[k].replace("", np.nan), errors="raise")
    return df


def is_synthetic(col: Collected, manifest: str | None = None) -> bool:
    """Synthetic corpus = a generator manifest sits next to it (or was given with --manifest)."""
    return col.manifest(manifest) is not None


def leaderboard(prop: pd.Series | None, col: Collected | None, opt: Options) -> pd.DataFrame:
    """Published Track 3 eval rows plus this replication's proposed cell and any imported model's
    predictions (``paper.imported``), ranked by sys SRCC. Without results (``col`` None) only the
    imported rows are added."""
    lb = load_leaderboard()
    extra = imported.rows(opt.imported, opt.split, opt.bootstrap, opt.seed)
    if extra:
        lb = pd.concat([lb, pd.DataFrame(extra)], ignore_index=True)
    if col is None:
        return _ranked(lb)
    synthetic = is_synthetic(col, opt.manifest)
    data = "synthetic corpus (not comparable)" if synthetic else f"Track 3 {split_label(opt.split)}"
    mine = {"system": "this replication", "label": prop["cell"], **{k: prop[k] for k in S.KEYS},
            **{f"{k}_{e}": prop[f"{k}_{e}"] for k in S.KEYS for e in ("lo", "hi")},
            "source": f"results/{col.grid} ({data})", "transcription": "computed", "inferred": "", "note": ""}
    if synthetic or opt.split != "eval":  # numbers on another corpus or split: listed, not ranked
        df = lb.sort_values(["sys_SRCC", "system"], ascending=[False, True], kind="mergesort")
        df.insert(0, "rank", [str(i) for i in range(1, len(df) + 1)])
        why = "a synthetic corpus" if synthetic else f"split {split_label(opt.split)}; the leaderboard is eval"
        mine.update(rank="–", transcription=f"computed on {why}, not comparable")
        return pd.concat([df, pd.DataFrame([mine])], ignore_index=True)
    return _ranked(pd.concat([lb, pd.DataFrame([mine])], ignore_index=True))


def _ranked(df: pd.DataFrame) -> pd.DataFrame:
    df = df.sort_values(["sys_SRCC", "system"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    df.insert(0, "rank", [str(i) for i in range(1, len(df) + 1)])
    return df
