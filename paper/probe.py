"""The high-band probe tables: ``probe`` (twin differences per cell, the peers and the labels),
``frontend`` (SFI analog-filter energy share above 8 kHz along the pipeline) and ``peers`` (the offline
third-party predictors on the evaluated split). Read from the probe and peers runs of the grid
(``sfi_mos.train.probe_stage`` / ``peers_stage``), never from models.

Rows of ``probe``: one per cell (the mean over its replicates; the CI is the twin-group bootstrap of a
single replicate, Student-t over replicates otherwise), one per peer score (reference rows, or "not
installed"), and "labels (by construction)": the difference a perfect predictor would show.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


from . import render as R
from . import stats as S
from .collect import Collected, Run, _lookup, _read_json, read_predictions

KINDS = ("bandlimit", "hb_noise", "spectral_holes", "imaging")
RATES = (24000, 48000)
STAGES = ("init", "distilled", "pretrained", "finetuned")
LABEL_ROW = "labels (by construction)"


@dataclass
class ProbeTables:
    probe: pd.DataFrame | None = None
    frontend: pd.DataFrame | None = None
    peers: pd.DataFrame | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)


def _stat(block: dict[str, Any] | None, name: str) -> tuple[float, float, float]:
    if not block or name not in block:
        return (np.nan, np.nan, np.nan)
    lo, hi = block.get(f"{name}_ci", [np.nan, np.nan])
    return float(block[name]), float(np.nan if lo is None else lo), float(np.nan if hi is None else hi)


def _flat(summary: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    """One probe summary (sfi_mos.probe.metrics.summarise) -> {column: (value, lo, hi)}."""
    out = {"delta": _stat(summary["all"], "delta"), "pair_accuracy": _stat(summary["all"], "pair_accuracy"),
           "feature_distance": _stat(summary["all"], "feature_distance"),
           "label_delta": _stat(summary["all"], "label_delta"),
           "n_pairs": (float(summary["all"]["n_pairs"]), np.nan, np.nan)}
    for k in KINDS:
        b = summary.get("per_kind", {}).get(k)
        out[f"delta_{k}"], out[f"pair_accuracy_{k}"] = _stat(b, "delta"), _stat(b, "pair_accuracy")
        out[f"label_delta_{k}"] = _stat(b, "label_delta")
    for r in RATES:
        out[f"delta_{r // 1000}k"] = _stat(summary.get("per_rate", {}).get(str(r)), "delta")
        out[f"label_delta_{r // 1000}k"] = _stat(summary.get("per_rate", {}).get(str(r)), "label_delta")
    return out


def _labels(rep: dict[str, tuple[float, float, float]]) -> dict[str, tuple[float, float, float]]:
    """The labels' own differences, in the columns of a model row."""
    keys = ["delta"] + [f"delta_{k}" for k in KINDS] + [f"delta_{r // 1000}k" for r in RATES]
    return {"n_pairs": rep["n_pairs"], **{k: rep["label_" + k] for k in keys}}


def _row(label: str, role: str, status: str, reps: list[dict[str, tuple[float, float, float]]]) -> dict[str, Any]:
    row: dict[str, Any] = {"cell": label, "role": role, "status": status, "n_reps": len(reps)}
    for k in (reps[0] if reps else {}):
        v, lo, hi = reps[0][k] if len(reps) == 1 else S.t_interval(np.array([r[k][0] for r in reps]))
        row[k], row[f"{k}_ci_low"], row[f"{k}_ci_high"] = v, lo, hi
    return row


def _fold_ids(col: Collected, run: Run) -> frozenset[str] | None:
    fts = [_lookup(col.runs["finetune"], ref, run.path) for ref in run.config.get("runs", [])]
    if not fts or any(f is None for f in fts):
        return None
    return frozenset(f.run_id for f in fts)


def _probe_runs(col: Collected) -> dict[str, list[tuple[Run, dict]]]:
    """cell label -> finished probe runs of the cells in the table, with their metrics. A probe run
    belongs to the cell whose predict run averages the same fold models."""
    label_of = {_fold_ids(col, col.runs["predict"][pid]): cell for pid, cell in zip(col.table.predict_id, col.table.cell)}
    out: dict[str, list[tuple[Run, dict]]] = {}
    for run in sorted(col.runs["probe"].values(), key=lambda r: r.run_id):
        label = label_of.get(_fold_ids(col, run))
        if run.done is None or label is None:
            continue
        out.setdefault(label, []).append((run, _read_json(run.path / "metrics.json")))
    return out


def _peers_run(col: Collected) -> tuple[Run, dict] | None:
    """The peers run to show: on this grid's data, preferring one whose peers ran, then the newest."""
    fps = set(col.table.fingerprint)
    cand = [r for r in col.runs["peers"].values() if r.done is not None
            and r.config.get("data", {}).get("fingerprint", "") in fps]
    if not cand:
        return None
    scored = [(r, _read_json(r.path / "metrics.json")) for r in cand]
    scored.sort(key=lambda rm: (any(v.get("status") == "ok" for v in rm[1].values()),
                                str(rm[0].done.get("finished_utc", "")), rm[0].run_id))
    return scored[-1]


def build(col: Collected, order: list[str], opt) -> ProbeTables:
    out = ProbeTables(notes={"probe": [], "frontend": [], "peers": []})
    runs = _probe_runs(col)
    missing = [c for c in order if c not in runs]
    if missing:
        out.notes["probe"].append(f"no finished probe run for {', '.join(missing)}")
    rows, front = [], []
    label_reps = []
    for cell in [c for c in order if c in runs]:
        reps = [_flat(m["probe"]) for _, m in runs[cell]]
        fr = [m.get("frontend") for _, m in runs[cell] if m.get("frontend")]
        # what the model hears the twins through: the point of the probe
        rows.append(_row(cell, "model", "SFI front end" if fr else "resamples to 16 kHz", reps))
        label_reps = label_reps or [reps[0]]
        if fr:
            st = {s: float(np.mean([f["stages"][s]["mean"] for f in fr if s in f["stages"]]))
                  if any(s in f["stages"] for f in fr) else np.nan for s in STAGES}
            front.append({"cell": cell, **{f"share_{s}": v for s, v in st.items()},
                          "finetuned_per_fold": ";".join(f"{v:.4f}" for f in fr for v in f["finetuned_per_fold"]),
                          "missing": "; ".join(sorted({m for f in fr for m in f.get("missing", {}).values()}))})
    peers = _peers_run(col)
    peer_rows = []
    if peers is None:
        out.notes["probe"].append("no peers run in this grid (third-party reference predictors not run)")
    else:
        run, metrics = peers
        for name in [n for n in run.config.get("peers", []) if n in metrics] or sorted(metrics):
            res = metrics[name]
            if res.get("status") != "ok":
                rows.append({"cell": name, "role": "reference", "status": "not installed", "n_reps": 0})
                peer_rows.append({"peer": name, "status": "not installed", "reason": res.get("reason", "")})
                continue
            for score, sc in res["scores"].items():
                rows.append(_row(score, "reference", f"reference ({res.get('version', '')})", [_flat(sc["probe"])]))
            peer_rows += _peer_scores(run, res, opt)
        if any(r.get("status", "").startswith("twins only") for r in peer_rows):
            splits = run.config.get("splits", [])
            out.notes["peers"].append(
                f"the peers run scored the probe twins only (its splits: {', '.join(splits) or 'none'}; "
                f"this table needs {opt.split!r}): the embedded grids leave the eval split out, where a "
                "16 kHz predictor's metrics on synthetic voices mean nothing; the paper grid scores it")
    if label_reps and np.isfinite(label_reps[0]["label_delta"][0]):
        rows.append(_row(LABEL_ROW, "labels", "what a perfect predictor shows", [_labels(label_reps[0])]))
    if rows:
        df = pd.DataFrame(rows)
        # the labels have their own row; pair counts have no CI
        out.probe = df.drop(columns=[c for c in df.columns if c.startswith("label_delta") or c.startswith("n_pairs_")])
        ident = [m.get("identity", {}).get("all", {}).get("max_db") for c in runs for _, m in runs[c]]
        ident = [v for v in ident if v is not None]
        if ident:
            out.notes["probe"].append(f"twins after torchaudio resampling to 16 kHz differ by at most "
                                      f"{max(ident):.1f} dB (re the clean twin; residual per pair in pairs.csv)")
    out.frontend = pd.DataFrame(front) if front else None
    if out.frontend is None:
        out.notes["frontend"].append("no SFI cell with front-end diagnostics")
    out.peers = pd.DataFrame(peer_rows) if peer_rows else None
    return out


def _peer_scores(run: Run, res: dict, opt) -> list[dict[str, Any]]:
    """8 metrics of each peer score on the evaluated split, recomputed from predictions.csv."""
    pred = read_predictions_peers(run.path / "predictions.csv")
    out = []
    for score in res["scores"]:
        p = pred[(pred.peer == score) & (pred.split == opt.split) & pred.mos.notna()]
        if p.empty:  # the table's note says why (build)
            out.append({"peer": score, "status": f"twins only: no {opt.split} predictions"})
            continue
        vals = S.score(p.reset_index(drop=True), opt.bootstrap, opt.seed)["all"]
        row = {"peer": score, "status": f"reference ({res.get('version', '')})"}
        for k, (v, lo, hi) in vals.items():
            row[k], row[f"{k}_lo"], row[f"{k}_hi"] = v, lo, hi
        out.append(row)
    return out


def read_predictions_peers(path: Path) -> pd.DataFrame:
    """A peers run's predictions.csv: one row per (peer score, utterance)."""
    return read_predictions(path, keys=("peer",))


# --- rendering ---------------------------------------------------------------------------------
CAPTIONS = {
    "probe": "High-band probe: twin pairs identical below 10 kHz, degraded only above it (24 and 48 kHz). "
             "Delta = pred(clean) - pred(degraded), mean over pairs (95 % CI: bootstrap over twin groups; "
             "t over replicates for several seeds); pair accuracy = share of pairs with delta > 0 (a blind model's "
             "deltas are ~1e-5 noise, so ~0.5 by chance); feature "
             "distance = 1 - cos of the backbone's pooled features of the two twins. A model that resamples "
             "to 16 kHz shows ~0 by construction; reference rows: offline 16 kHz predictors.",
    "frontend": "SFI front end: share of the analog filters' response energy above 8 kHz (0-24 kHz, mean over "
                "filters) at the teacher-fitted initialisation, after distillation, MOS pre-training and "
                "fine-tuning (mean over folds). 0 = nothing above 8 kHz; a flat filter has 2/3.",
    "peers": "Offline third-party predictors (16 kHz; audio resampled with torchaudio) on the evaluated split: "
             "8 metrics with 95 % bootstrap CIs. Reference rows, not part of the ablation.",
}


def _f(x, nd=3) -> str:
    return R._f(float(x), nd) if x is not None and x == x else "–"


def _vci(r: pd.Series, k: str, lo: str = "_ci_low", hi: str = "_ci_high") -> str:
    if k not in r.index or not np.isfinite(r[k]):
        return "–"
    return f"{_f(r[k])} {R._ci(r.get(k + lo, np.nan), r.get(k + hi, np.nan))}".strip()


def display(name: str, df: pd.DataFrame) -> pd.DataFrame:
    if name == "probe":
        out = pd.DataFrame({"cell": df.cell, "status": df.status.fillna("")})
        out["n pairs"] = [("–" if not np.isfinite(v) else f"{int(v)}") for v in df.get("n_pairs", np.nan)]
        out["Δ"] = [_vci(r, "delta") for _, r in df.iterrows()]
        out["pair acc."] = [_vci(r, "pair_accuracy") for _, r in df.iterrows()]
        out["feat. dist."] = [("–" if not np.isfinite(r.get("feature_distance", np.nan)) else
                               f"{r['feature_distance']:.2e}") for _, r in df.iterrows()]
        for k in KINDS:
            out[f"Δ {k}"] = [_vci(r, f"delta_{k}") for _, r in df.iterrows()]
        for rate in RATES:
            out[f"Δ {rate // 1000} kHz"] = [_vci(r, f"delta_{rate // 1000}k") for _, r in df.iterrows()]
        return out
    if name == "frontend":
        out = pd.DataFrame({"cell": df.cell})
        for s in STAGES:
            out[s] = [_f(v) for v in df[f"share_{s}"]]
        return out
    out = pd.DataFrame({"peer": df.peer, "status": df.status})
    for k in S.KEYS:
        col = [(_vci(r, k, "_lo", "_hi") if k in r.index else "–") for _, r in df.iterrows()]
        if any(v != "–" for v in col):  # columns of dashes only say nothing; the status and notes say why
            out[R.NICE[k]] = col
    return out


def _markdown(name: str, df: pd.DataFrame, env: dict, notes: list[str]) -> str:
    parts = [f"# {name}", "", CAPTIONS[name], "", R._md_table(display(name, df)), ""]
    parts += [f"- {n}" for n in notes] + ([""] if notes else [])
    parts += ["## Environment", "", "```text", *[f"{k}: {v}" for k, v in env.items()], "```", ""]
    return "\n".join(parts)


def _latex(name: str, df: pd.DataFrame, env: dict, notes: list[str]) -> str:
    d = display(name, df)
    lines = [*[f"% {k}: {v}" for k, v in env.items()], "% needs \\usepackage{booktabs,graphicx}",
             "\\begin{table*}[t]", "\\centering", "\\scriptsize", f"\\caption{{{R._tex_escape(CAPTIONS[name])}}}",
             f"\\label{{tab:{name}}}", "\\resizebox{\\textwidth}{!}{%", "\\begin{tabular}{" + "l" * len(d.columns) + "}",
             "\\toprule", " & ".join(R._tex_escape(c) for c in d.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join(R._tex_escape(str(v)) for v in row) + " \\\\" for row in d.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}}", *[f"\\par\\smallskip {R._tex_escape(n)}" for n in notes],
              "\\end{table*}", ""]
    return "\n".join(lines)


def write_all(pt: ProbeTables, env: dict, out: Path) -> list[Path]:
    written = []
    for name in ("probe", "frontend", "peers"):
        df = getattr(pt, name)
        if df is None:
            continue
        notes = pt.notes.get(name, [])
        written += R.write_table(Path(out), name, df, env, notes, CAPTIONS[name], _markdown(name, df, env, notes),
                                 _latex(name, df, env, notes))
    return written
