"""Write every table as Markdown, LaTeX (booktabs) and plain CSV, with the same environment block in
the Markdown and LaTeX files and in the CSV's ``<table>.meta.json`` sidecar.

The environment block is built only from the results (env.json / done.json / config.json of the
runs used), never from the machine rendering the tables, so the same results give byte-identical
files (values are rounded: 3 decimals in Markdown/LaTeX, 6 in CSV).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sfi_mos.atomic import write_text

from . import stats as S
from .collect import Collected
from .tables import Options, Tables, best_marks, split_label

PACKAGES = ("sfi-mos", "torch", "torchaudio", "espnet-s3prl", "numpy", "scipy", "scikit-learn", "pandas")
NICE = {k: f"{k.split('_')[0]} {k.split('_')[1]}" for k in S.KEYS}


def environment(col: Collected, opt: Options, tabs: Tables) -> dict[str, Any]:
    used = []
    for r in col.table.itertuples():
        p = col.runs["predict"][r.predict_id]
        used += [p, col.runs["score"][r.score_id]]
        used += [f for f in col.runs["finetune"].values() if f.path.name in {Path(x).name for x in p.config["runs"]}]
    shas = sorted({str(r.env.get("git_sha")) for r in used if r.env})
    pk: dict[str, set[str]] = {}
    for r in used:
        for name, v in (r.env.get("packages") or {}).items():
            pk.setdefault(name, set()).add(str(v))
    dates = sorted(str(r.done.get("finished_utc", "")) for r in used if r.done)
    return {
        "grid": col.grid,
        "split": split_label(opt.split),
        "git_sha": ", ".join(shas) or "unknown",
        "packages": ", ".join(f"{n}=={' | '.join(sorted(pk[n]))}" for n in PACKAGES if n in pk),
        "python": ", ".join(sorted({str(r.env.get("python")) for r in used if r.env.get("python")})),
        "date": dates[-1] if dates else "unknown",
        "data_fingerprint": ", ".join(sorted(set(col.table.fingerprint))) or "unknown",
        "bootstrap": f"B={opt.bootstrap}, seed={opt.seed}",
        "proposed": tabs.proposed,
        "predict_runs": " ".join(col.table.predict_id),
        "score_runs": " ".join(col.table.score_id),
    }


def _f(x: float, nd: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def _ci(lo: float, hi: float) -> str:
    return "" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{_f(lo)}, {_f(hi)}]"


def _cell_text(v, lo, hi, best: bool, tex: bool) -> str:
    val = _f(v)
    if best:
        val = f"\\textbf{{{val}}}" if tex else f"**{val}**"
    ci = _ci(lo, hi)
    if not ci:
        return val
    return f"{val} {{\\scriptsize {ci}}}" if tex else f"{val} {ci}"


def display(name: str, df: pd.DataFrame, tex: bool) -> pd.DataFrame:
    """The human table: metric cells "value [lo, hi]", best per column marked."""
    if name == "deviations":
        return _deviations_display(df)
    marks = best_marks(df) if name == "ablation" else {k: set() for k in S.KEYS}
    lead = {"ablation": ["cell", "role", "n_reps"], "per_rate": ["cell", "sample_rate", "n_sys"],
            "leaderboard": ["rank", "system", "label"]}[name]
    out = df[lead].astype(str).copy()
    if name == "per_rate":
        out["sample_rate"] = [f"{int(r) / 1000:g} kHz" + ("" if s else " (unseen)") for r, s in zip(df.sample_rate, df.seen)]
        out = out.rename(columns={"n_sys": "systems"})
    if name == "leaderboard":
        marks = best_marks(df[~df.system.isin(["this replication", "imported model"])].reindex(df.index))
    for k in S.KEYS:
        lo = df.get(f"{k}_lo", pd.Series(np.nan, index=df.index))
        hi = df.get(f"{k}_hi", pd.Series(np.nan, index=df.index))
        out[NICE[k]] = [_cell_text(v, a, b, i in marks[k], tex) for i, (v, a, b) in enumerate(zip(df[k], lo, hi))]
    if name == "ablation":
        out["Δ sys SRCC vs proposed"] = [
            ("(proposed)" if c == df.cell.iloc[0] else f"{_f(v, 3)} {_ci(a, b)}".strip())
            for c, v, a, b in zip(df.cell, df.d_sys_SRCC, df.d_sys_SRCC_lo, df.d_sys_SRCC_hi)]
        out["CI"] = df["ci"].astype(str)
    if name == "leaderboard":
        out["source"] = df["transcription"].astype(str) + np.where(df["inferred"].astype(str) != "", " (inferred)", "")
    return out


def _deviations_display(df: pd.DataFrame) -> pd.DataFrame:
    def delta(k):
        return [("not run" if st != "measured" else f"{_f(v)} {_ci(a, b)}".strip())
                for st, v, a, b in zip(df.status, df[f"d_{k}"], df[f"d_{k}_lo"], df[f"d_{k}_hi"])]

    return pd.DataFrame({"factor": df.title, "authors (source)": [f"{a} ({src})" for a, src in zip(df.authors, df.source)],
                         "suite": df.suite, "cells compared": [f"{c} vs {a}" if st == "measured" else "–" for c, a, st
                                                               in zip(df.changed_cell, df.authors_cell, df.status)],
                         "Δ sys SRCC": delta("sys_SRCC"), "Δ utt MSE": delta("utt_MSE")})


CAPTIONS = {
    "deviations": "Every choice of the suite that differs from the authors' code, with the authors' value and "
                  "its source; Δ = (cell with that one factor changed) − (the authors' cell), paired, 95 % CI; "
                  "'not run' = the results hold no such pair. Last row: the suite's system vs the replication.",
    "ablation": "Ablation over the grid cells: 8 metrics (mean over seeds, 95 % CI), best per column in bold; "
                "'role' marks the replication (every one of the authors' choices), the suite's system and the "
                "ablations of each; last column: paired difference in system-level SRCC vs the proposed cell "
                "(95 % CI).",
    "per_rate": "Per sampling rate: 8 metrics for each cell (system level over that rate's systems).",
    "leaderboard": "AudioMOS 2025 Track 3 evaluation leaderboard (third-party transcription, see "
                   "paper/data/README.md) with this replication's proposed cell inserted, ranked by sys SRCC.",
}


def _md_table(d: pd.DataFrame) -> str:
    esc = lambda s: str(s).replace("|", "\\|")
    lines = ["| " + " | ".join(map(esc, d.columns)) + " |", "|" + "---|" * len(d.columns)]
    lines += ["| " + " | ".join(map(esc, row)) + " |" for row in d.itertuples(index=False)]
    return "\n".join(lines)


def _tex_escape(s: str) -> str:
    if "\\textbf" in s or "\\scriptsize" in s:
        return s.replace("%", "\\%").replace("_", "\\_").replace("&", "\\&")
    for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#"),
                 ("Δ", "$\\Delta$"), ("–", "--")):
        s = s.replace(a, b)
    return s


def markdown(name: str, df: pd.DataFrame, env: dict[str, Any], notes: list[str]) -> str:
    parts = [f"# {name}", "", CAPTIONS[name], "", _md_table(display(name, df, tex=False)), ""]
    parts += [f"- {n}" for n in notes] + ([""] if notes else [])
    parts += ["## Environment", "", "```text", *[f"{k}: {v}" for k, v in env.items()], "```", ""]
    return "\n".join(parts)


def latex(name: str, df: pd.DataFrame, env: dict[str, Any], notes: list[str]) -> str:
    d = display(name, df, tex=True)
    head = [f"% {k}: {v}" for k, v in env.items()]
    lines = [*head, "% needs \\usepackage{booktabs,graphicx}", "\\begin{table*}[t]", "\\centering", "\\scriptsize",
             f"\\caption{{{_tex_escape(CAPTIONS[name])}}}", f"\\label{{tab:{name}}}",
             "\\resizebox{\\textwidth}{!}{%", "\\begin{tabular}{" + "l" * len(d.columns) + "}", "\\toprule",
             " & ".join(_tex_escape(c) for c in d.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join(_tex_escape(str(v)) for v in row) + " \\\\" for row in d.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}}"]
    lines += [f"\\par\\smallskip {_tex_escape(n)}" for n in notes]
    lines += ["\\end{table*}", ""]
    return "\n".join(lines)


def csv_text(df: pd.DataFrame) -> str:
    """Plain CSV: one header row, no comment lines, so ``pandas.read_csv(path)`` and R's
    ``read.csv(path)`` read it with their defaults. Provenance is in the ``.meta.json`` sidecar."""
    num = df.copy()
    for c in num.columns:
        if pd.api.types.is_float_dtype(num[c]):
            num[c] = num[c].round(6)
    return num.to_csv(index=False, float_format="%.6f", lineterminator="\n")


def meta_text(name: str, caption: str, env: dict[str, Any], notes: list[str], df: pd.DataFrame) -> str:
    """``<table>.meta.json``: what the CSV is and where its numbers come from."""
    meta = {"table": name, "caption": caption, "notes": list(notes), "columns": [str(c) for c in df.columns],
            "rows": int(len(df)), "environment": {k: str(v) for k, v in env.items()}}
    return json.dumps(meta, indent=1, ensure_ascii=False) + "\n"


def write_table(out: Path, name: str, df: pd.DataFrame, env: dict[str, Any], notes: list[str], caption: str,
                md: str, tex: str) -> list[Path]:
    """One table as Markdown, LaTeX, plain CSV and its provenance sidecar, each written atomically."""
    files = {f"{name}.md": md, f"{name}.tex": tex, f"{name}.csv": csv_text(df),
             f"{name}.meta.json": meta_text(name, caption, env, notes, df)}
    for fname, text in files.items():
        write_text(Path(out) / fname, text)
    return [Path(out) / f for f in files]


def write_all(tabs: Tables, env: dict[str, Any], out: Path) -> list[Path]:
    written = []
    frames = {"ablation": tabs.ablation, "per_rate": tabs.per_rate, "leaderboard": tabs.leaderboard,
              "deviations": tabs.deviations}
    for name, df in frames.items():
        if df is None:
            continue
        notes = [v for k, v in tabs.notes.items() if k == name]
        written += write_table(out, name, df, env, notes, CAPTIONS[name], markdown(name, df, env, notes),
                               latex(name, df, env, notes))
    return written
