"""What ``--model`` names: MOS run dirs, or a grid's results dir with ``--cell``; what kind of run a
wrong one is; and whether the models are a pipeline demo rather than a MOS predictor.

A grid's predict runs record the cell they serve (``config.json`` ``cell``: name, label, recipe) and
its fold runs, so ``--model results/default --cell authors-hubert`` finds that cell's fold ensemble.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..rundir import resolve_path, run_kind

MOS_STAGES = ("pretrain", "finetune")
WANTED = ("--model wants finished pretrain/finetune run dir(s) (several: a fold ensemble), or a grid's "
          "results dir with --cell NAME")


def _read(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text())
        return obj if isinstance(obj, dict) else {}
    except (OSError, ValueError):
        return {}


def _config(d: Path) -> dict | None:
    return _read(d / "config.json") or None


WHAT = {"distill": "a distill run (an SFI student distilled from a teacher: no MOS head)",
        "predict": "a predict run (the predictions of one cell's fold models on its corpus)",
        "score": "a score run (metrics of a predict run)",
        "probe": "a probe run (a cell's fold models on the high-band twins)",
        "peers": "a peers run (DNSMOS and DistillMOS scores)",
        "import": "an import run (a released SFI student: no MOS head)"}


def check_mos_run(d: str | Path) -> None:
    """Refuse a run dir that is not a MOS run, naming what it is and what is wanted."""
    d = Path(d)
    cfg = _config(d)
    if cfg is None:
        return  # the loader says what is missing (best.pt, config.json)
    stage = run_kind(d) or "unknown"
    if stage in MOS_STAGES:
        return
    what = WHAT.get(stage, "not a MOS run")
    hint = ""
    cell = cfg.get("cell") or {}
    if stage in ("predict", "probe") and cell.get("label"):
        hint = f"; for its fold ensemble: --model {d.parent.parent} --cell {cell['label']}"
    raise InputError(f"--model {d}", f"is {what}. {WANTED}{hint}")


def is_grid_dir(d: str | Path) -> bool:
    d = Path(d)
    return d.is_dir() and (d / "predict").is_dir() and not (d / "config.json").exists()


def cells(grid_dir: Path) -> dict[str, tuple[dict, list[Path]]]:
    """Cell name -> (cell description, fold run dirs), from the grid's predict runs."""
    out: dict[str, tuple[dict, list[Path]]] = {}
    for rd in sorted((grid_dir / "predict").iterdir()):
        cfg = _config(rd) if rd.is_dir() else None
        cell = (cfg or {}).get("cell") or {}
        if cell.get("name"):
            out[str(cell["name"])] = (cell, [resolve_path(r, rd) for r in cfg.get("runs", [])])
    return out


def cell_runs(grid_dir: str | Path, name: str) -> tuple[str, list[Path]]:
    """(cell name, fold run dirs) of the cell called ``name`` (its name, or its label: the name
    without the seed, when one seed has it)."""
    grid_dir = Path(grid_dir)
    found = cells(grid_dir)
    if not found:
        raise InputError(f"--model {grid_dir}", "holds no predict runs that name their cell (run "
                                                "python -m replication.run_all first)")
    hits = [n for n, (c, _) in found.items() if name in (n, c.get("label"))]
    if len(hits) != 1:
        known = ", ".join(sorted({c.get("label") or n for n, (c, _) in found.items()}))
        problem = f"several cells match (seeds: {', '.join(hits)}); name one" if hits else \
            f"no cell {name!r}; cells with a predict run: {known}"
        raise InputError(f"--cell {name}", problem)
    return hits[0], found[hits[0]][1]


def demo_reasons(run_dirs: list[str | Path]) -> list[str]:
    """Why these models are a pipeline demo, not a MOS predictor: trained on the synthetic corpus,
    or built on random-init teachers (``sfi_mos.ssl.write_tiny_checkpoints``). Empty when neither."""
    reasons: set[str] = set()
    for d in map(Path, run_dirs):
        todo = [d]
        while todo:  # the MOS run, then what it starts from (pretrain run, distill run)
            rd = todo.pop()
            cfg = _config(rd) or {}
            root = (cfg.get("data") or {}).get("root")
            if root and "generator_version" in _read(resolve_path(root, rd).parent / "manifest.json"):
                reasons.add("trained on the synthetic corpus")
            backbone = cfg.get("backbone") or {}
            teacher = backbone.get("teacher") or cfg.get("teacher") or {}
            if "_random_seed" in str(teacher.get("path") or ""):
                reasons.add("random-init teachers")
            todo += [resolve_path(r, rd) for r in (cfg.get("init_run"), backbone.get("student_run")) if r]
    return sorted(reasons)

