"""``results/<grid>/summary.csv``: one row per cell, derived from run dirs (config.json, metrics.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ablations.graph import Graph
from ablations.grid import Grid
from sfi_mos.atomic import write_csv
from sfi_mos.errors import InputError
from sfi_mos.jsonio import read_json
from sfi_mos.rundir import is_done

from . import attempts


FIXED = ("cell", "kind", "variant", "teacher", "distill", "pretrain", "deviations", "seed", "folds",
         "predict_run", "score_run", "done", "restarts", "last_retry", "restart_notes", "data_fingerprint",
         "git_sha")


def flatten(d: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested metrics dict as dotted columns (utt.MSE, per_rate.16000.sys.SRCC, ...)."""
    out: dict[str, float] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        out[prefix[:-1]] = d
    return out


def _shas(grid_dir: Path, graph: Graph, cell: str) -> set[str]:
    out = set()
    for rel, node in graph.nodes.items():
        if cell in node.cells:
            try:
                out.add(str(read_json(grid_dir / rel / "env.json").get("git_sha"))[:12])
            except InputError:
                pass
    return out


def _restarts(grid_dir: Path, graph: Graph, cell: str) -> dict[str, Any]:
    """Restarts of the runs this cell needed (shared ones included: distill, pretrain) and of the runs
    of the whole grid (peers), whether one of them finished on its last allowed retry, and what
    happened, per run."""
    n, last, notes = 0, False, []
    for rel, node in graph.nodes.items():
        if cell in node.cells or not node.cells:
            s = attempts.story(attempts.read(grid_dir / rel))
            n += s.restarts
            last |= s.last_retry
            text = attempts.describe(s)
            notes += [f"{node.stage} {rel.split('/')[-1]}: {text}"] if text else []
    return {"restarts": n, "last_retry": last, "restart_notes": "; ".join(notes)}


def rows(grid: Grid, graph: Graph, grid_dir: Path) -> pd.DataFrame:
    recs = []
    for cell in grid.cells:
        score = graph.cell_scores.get(cell.name)
        if score is None:
            continue
        score_dir = grid_dir / score
        pred = graph.nodes[score].parents[0]
        rec: dict[str, Any] = {"cell": cell.name, "kind": cell.kind, "variant": cell.variant,
                               "teacher": cell.teacher, "distill": cell.distill, "pretrain": cell.pretrain,
                               "deviations": ";".join(f"{k}={v}" for k, v in cell.deviations.items()),
                               "seed": cell.seed, "folds": grid.folds, "predict_run": pred, "score_run": score,
                               "done": is_done(score_dir), **_restarts(grid_dir, graph, cell.name)}
        if rec["done"]:
            cfg = read_json(score_dir / "config.json", {"data?": {"fingerprint?": str}})
            rec["data_fingerprint"] = cfg.get("data", {}).get("fingerprint", "")
            # run ids hash configs, not code: list the commits that produced this cell's runs
            rec["git_sha"] = ",".join(sorted(_shas(grid_dir, graph, cell.name)))
            rec.update(flatten(read_json(score_dir / "metrics.json")))
        recs.append(rec)
    df = pd.DataFrame(recs)
    fixed = [c for c in df.columns if c in FIXED]
    # headline numbers (split.utt.MSE, split.sys.SRCC, ...) first, then the breakdowns
    metrics = sorted((c for c in df.columns if c not in fixed), key=lambda c: (c.count("."), c))
    return df[fixed + metrics]


def write(grid: Grid, graph: Graph, grid_dir: Path) -> Path:
    path = grid_dir / "summary.csv"
    write_csv(path, rows(grid, graph, grid_dir))
    return path
