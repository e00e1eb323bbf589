"""Read a grid's results directory into one table of scored prediction runs with their cell factors.

Layout (written by ``python -m replication.run_all``): ``results/<grid>/<stage>/<run-id>/`` with
``config.json``, ``env.json`` and, once finished, ``done.json``. Cell factors (front end, distillation,
pre-training, teacher, stride policy) are read from the config chain predict -> finetune -> distill /
pretrain, never from directory names, so a renamed or hand-run directory is still labelled correctly.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ablations.grid import GRIDS, Cell as GridCell
from sfi_mos.config import from_dict, identity_dict
from sfi_mos.data.tables import at, read_text
from sfi_mos.errors import InputError
from sfi_mos.jsonio import read_json
from sfi_mos.rundir import DONE, read_layout, resolve_path
from sfi_mos.train.configs import DistillConfig, MOSTrainConfig

STAGE_DIRS = ("distill", "pretrain", "finetune", "predict", "score", "probe", "peers")
PRED_COLUMNS = ("utt_id", "sample_rate", "system_id", "split", "pred", "mos")


@dataclass
class Run:
    stage: str
    run_id: str
    path: Path
    config: dict[str, Any]
    env: dict[str, Any] = field(default_factory=dict)
    done: dict[str, Any] | None = None


@dataclass(frozen=True)
class CellColumns:
    """The table columns that place a predict run in the study. Grid runs take them from the cell
    description they recorded, read through ``ablations.grid.Cell`` (the type the grid built them
    from); hand-made runs from their typed stage configs. The names are the cell's and the recipe's."""

    variant: str  # sfi | resample | resample_sr (BackboneSpec.kind)
    distill: str  # yes | no | n/a (resampling front ends have no student)
    pretrain: str  # yes | no
    teacher: str  # hubert | wav2vec2 | wavlm | ...
    stride_policy: str  # SFISpec.stride_policy, n/a otherwise
    features: str  # last | weighted

    @property
    def label(self) -> str:
        if self.variant == "sfi":
            head = f"SFI/{self.stride_policy}" + ("" if self.distill == "yes" else " no-distill")
        else:
            head = {"resample": "resample", "resample_sr": "resample+SR-emb"}.get(self.variant, self.variant)
        tail = "" if self.pretrain == "yes" else " no-pretrain"
        feats = "" if self.features == "last" else f" {self.features}"
        return f"{head}{tail} [{self.teacher}{feats}]"


def rerun_hint(results: Path, grid: str) -> str:
    return f"run `python -m replication.run_all --grid {grid} --results {results}` to produce or finish them"


def find_grid(results: Path, grid: str | None) -> str:
    """The grid name: as given, else the only grid present, else ``default`` when present."""
    results = Path(results)
    if not results.is_dir():
        raise InputError(str(results), f"results directory does not exist; {rerun_hint(results, grid or 'default')}")
    if grid is not None:
        return grid
    grids = sorted(p.name for p in results.iterdir() if p.is_dir() and (p / "predict").is_dir())
    if len(grids) == 1:
        return grids[0]
    if "default" in grids:
        return "default"
    if not grids:
        raise InputError(str(results), "no grid with predict runs found (expected <grid>/predict/<run-id>/); "
                         + rerun_hint(results, "default"))
    raise InputError(str(results), f"several grids present {grids}; choose one with --grid")


# the parts of run records the tables read (sfi_mos.jsonio shapes; "?" = optional)
CONFIG_SHAPE = {"backbone?": {"kind?": str, "teacher?": {"name?": str}, "student_run?": (str, type(None)),
                              "features?": str},
                "teacher?": {"name?": str}, "sfi?": {"stride_policy?": str}, "init_run?": (str, type(None)),
                "predict_run?": str, "runs?": list, "peers?": list, "cell?": (dict, type(None)),
                "data?": {"fingerprint?": str, "kind?": str, "root?": str}}
DONE_SHAPE = {"finished_utc?": str}
ENV_SHAPE = {"packages?": (dict, type(None))}


def _read_json(path: Path, shape: dict | None = None) -> dict[str, Any]:
    return read_json(path, shape)


def scan(grid_dir: Path) -> dict[str, dict[str, Run]]:
    """All run dirs of a grid, by stage and run id (resolved paths as keys too)."""
    runs: dict[str, dict[str, Run]] = {s: {} for s in STAGE_DIRS}
    for stage in STAGE_DIRS:
        d = grid_dir / stage
        if not d.is_dir():
            continue
        for rd in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not (rd / "config.json").exists():
                continue  # a run dir whose job has not started writing yet
            env = _read_json(rd / "env.json", ENV_SHAPE) if (rd / "env.json").exists() else {}
            done = _read_json(rd / DONE, DONE_SHAPE) if (rd / DONE).exists() else None
            runs[stage][rd.name] = Run(stage, rd.name, rd.resolve(), _read_json(rd / "config.json", CONFIG_SHAPE),
                                       env, done)
    return runs


def _lookup(runs: dict[str, Run], ref: str, from_dir: Path) -> Run | None:
    p = resolve_path(ref, from_dir).resolve()
    for r in runs.values():
        if r.path == p:
            return r
    # run ids are content hashes, so a copied/moved results tree is still matched by the id alone
    return runs.get(p.name)


def _teacher_name(name: str) -> str:
    # s3prl upstream names -> the family the paper reports (hubert_local, hubert_base -> hubert)
    n = name.lower().removesuffix("_local")
    for fam in ("wavlm", "wav2vec2", "hubert"):
        if n.startswith(fam):
            return fam
    return n


def _typed(cls: type, run: Run):
    try:
        return from_dict(cls, run.config)
    except InputError as e:
        raise InputError(str(run.path / "config.json"), e.problem) from None


def columns_of(ft: Run, runs: dict[str, dict[str, Run]], missing: list[str]) -> CellColumns:
    """The columns of a fine-tune run's cell, from its typed config chain (hand-made predict runs)."""
    cfg = _typed(MOSTrainConfig, ft)
    pretrain = "yes" if cfg.init_run else "no"
    if cfg.init_run and _lookup(runs["pretrain"], cfg.init_run, ft.path) is None:
        missing.append(f"pretrain run {cfg.init_run} (referenced by {ft.path})")
    bb = cfg.backbone
    if bb.kind != "sfi":
        return CellColumns(bb.kind, "n/a", pretrain, _teacher_name(bb.teacher.name), "n/a", bb.features)
    dist = _lookup(runs["distill"], bb.student_run, ft.path) if bb.student_run else None
    if dist is None:
        missing.append(f"distill run {bb.student_run} (referenced by {ft.path})")
        return CellColumns(bb.kind, "?", pretrain, _teacher_name(bb.teacher.name), "?", bb.features)
    dc = _typed(DistillConfig, dist)
    return CellColumns(bb.kind, "no" if dc.steps == 0 else "yes", pretrain, _teacher_name(dc.teacher.name),
                       dc.sfi.stride_policy, bb.features)


def columns_of_cell(cell: GridCell, features: str) -> CellColumns:
    """The columns of a grid cell (the type ``ablations.grid`` built the runs from)."""
    sfi = cell.variant == "sfi"
    return CellColumns(cell.variant, ("yes" if cell.distill else "no") if sfi else "n/a",
                       "yes" if cell.pretrain else "no", cell.teacher,
                       cell.recipe.stride_policy if sfi else "n/a", features)


def read_csv_strict(path: Path, **kw) -> pd.DataFrame:
    """A results CSV through pandas, after the checks pandas skips: the bytes are UTF-8 and every row
    has as many fields as the header (a file cut off mid-row would otherwise read as NaN). The data
    rows' file line numbers are in ``df.attrs["lines"]``."""
    if not Path(path).is_file():
        raise InputError(str(path), "missing")
    text = read_text(path).read()  # names the line of bytes that are not UTF-8
    lines, width, end = [], None, 0
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for fields in reader:
            line, end = end + 1, reader.line_num
            if not fields:
                continue  # pandas skips blank lines too
            if width is None:
                width = len(fields)
            elif len(fields) != width:
                raise InputError(at(path, line), f"{len(fields)} fields where the header has {width} "
                                                 "(the file is cut off or was edited)")
            else:
                lines.append(line)
    except csv.Error as e:
        raise InputError(at(path, end + 1), f"malformed CSV ({e})") from None
    if width is None:
        raise InputError(str(path), "empty file (no header)")
    df = pd.read_csv(io.StringIO(text), **kw)
    df.attrs["lines"] = lines
    return df


def read_predictions(path: Path, n_expected: int | None = None, keys: tuple[str, ...] = ()) -> pd.DataFrame:
    """predictions.csv of a predict run, checked row by row (``n_expected``: rows done.json recorded).
    ``keys``: further columns that tell rows apart (e.g. ``peer`` in a peers run's file)."""
    df = read_csv_strict(path, dtype={"utt_id": str, "system_id": str, "split": str, "path": str})
    lacking = [c for c in PRED_COLUMNS if c not in df.columns]
    if lacking:
        raise InputError(str(path), f"missing columns {lacking}; have {list(df.columns)}")
    lines = np.asarray(df.attrs["lines"])
    for col, blank_ok in (("pred", False), ("mos", True), ("sample_rate", False)):
        v = pd.to_numeric(df[col], errors="coerce")
        bad = ~np.isfinite(v.to_numpy(dtype=float)) & ~(blank_ok & df[col].isna().to_numpy())
        if col == "sample_rate":
            bad |= np.isfinite(v.to_numpy(dtype=float)) & (v.fillna(0) % 1 != 0).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(at(path, int(lines[i])), f"{col} {df[col].iloc[i]!r} is not a finite number")
        df[col] = v.astype(np.int64) if col == "sample_rate" else v.astype(float)
    for col in ("utt_id", "split"):
        empty = df[col].isna().to_numpy()
        if empty.any():
            raise InputError(at(path, int(lines[int(np.flatnonzero(empty)[0])])), f"empty {col}")
    lacking = [c for c in keys if c not in df.columns]
    if lacking:
        raise InputError(str(path), f"missing columns {lacking}; have {list(df.columns)}")
    dup = df.duplicated([*keys, "utt_id", "split"]).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        of = "".join(f" of {k} {df[k].iloc[i]!r}" for k in keys)
        raise InputError(at(path, int(lines[i])), f"utterance {df['utt_id'].iloc[i]!r} ({df['split'].iloc[i]}){of} "
                                                  "appears twice")
    if n_expected is not None and len(df) != n_expected:
        raise InputError(str(path), f"{len(df)} rows, but the predict run recorded {n_expected} in {DONE} "
                                    "(the file is cut off or was edited)")
    return df


def is_replication(table: pd.DataFrame) -> pd.Series:
    """Rows of cells that run every one of the authors' choices (``ablations.recipe.AUTHORS``)."""
    return (table["base"] == "authors") & (table["deviations"] == "{}")


def grid_cell_of(p: Run) -> GridCell | None:
    """The cell a grid predict run recorded (``PredictConfig.cell``), read through the grid's ``Cell``
    type; None for a hand-made predict run."""
    desc = p.config.get("cell")
    if not desc:
        return None
    return GridCell.from_description(desc, f"{p.path / 'config.json'} (cell)")


def _missing_cells(grid: str, rows: list[dict[str, Any]]) -> list[str]:
    if grid not in GRIDS:
        return []
    found = {r["name"] for r in rows}
    return [c.name for c in GRIDS[grid]().cells if c.name not in found]


def _summary_runs(grid_dir: Path) -> dict[str, str]:
    """cell -> "predict/<id>, score/<id>" from run_all's summary.csv (only to name missing runs)."""
    try:
        df = pd.read_csv(grid_dir / "summary.csv", usecols=["cell", "predict_run", "score_run"], dtype=str)
    except (FileNotFoundError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return {}
    return {c: f"{p}, {s}" for c, p, s in zip(df.cell, df.predict_run, df.score_run)}


def collect(results: str | Path, grid: str | None = None, require_grid_cells: bool = True) -> "Collected":
    """Every finished, scored prediction run of the grid with its cell, seeds and folds.

    Strict (default): raises InputError naming every missing or unfinished run and every cell of
    the named grid without a scored prediction (and the command that makes them) instead of
    building tables from a partial grid. ``require_grid_cells=False`` (``--allow-partial``) keeps
    the complete chains and lists the rest in ``Collected.skipped``.
    """
    results = Path(results)
    grid = find_grid(results, grid)
    grid_dir = results / grid
    if not grid_dir.is_dir():
        raise InputError(str(grid_dir), f"no such grid directory; {rerun_hint(results, grid)}")
    read_layout(grid_dir)  # refuses a newer layout; layout 1 is read (cells through recipe.RENAMED)
    runs = scan(grid_dir)
    if not any(runs.values()):
        raise InputError(str(grid_dir), f"empty: no run directories under it; {rerun_hint(results, grid)}")
    missing: list[str] = []  # problems outside any usable chain
    unfinished = lambda r: None if r.done is not None else f"{r.stage}/{r.run_id} unfinished (no {DONE})"
    for stage in STAGE_DIRS:
        missing += [m for r in runs[stage].values() if (m := unfinished(r))]
    scored: dict[str, Run] = {}
    for s in runs["score"].values():
        p = _lookup(runs["predict"], s.config.get("predict_run", ""), s.path)
        if p is None:
            missing.append(f"predict run {s.config.get('predict_run')} (referenced by score/{s.run_id})")
        elif s.done is not None:
            scored[p.run_id] = s
    rows = []
    for p in runs["predict"].values():
        problems: list[str] = []
        if p.run_id not in scored:
            problems.append(f"finished score run for predict/{p.run_id}")
        fts = []
        for ref in p.config.get("runs", []):
            ft = _lookup(runs["finetune"], ref, p.path)
            if ft is None:
                problems.append(f"finetune run {ref} (referenced by predict/{p.run_id})")
            else:
                fts.append(ft)
        if not p.config.get("runs"):
            raise InputError(str(p.path / "config.json"), "predict run lists no fine-tune runs")
        cells = {}
        for ft in fts:
            cells[columns_of(ft, runs, problems).label] = columns_of(ft, runs, [])
        problems += [m for r in [p, *fts] if (m := unfinished(r))]
        if problems:
            missing += problems
            continue
        if len(cells) != 1:
            raise InputError(str(p.path / "config.json"), f"fine-tune runs of different cells averaged: {sorted(cells)}")
        cols = next(iter(cells.values()))
        grid_cell = grid_cell_of(p)
        if grid_cell is not None:
            cols = columns_of_cell(grid_cell, cols.features)
        devs = identity_dict(grid_cell.deviations) if grid_cell else {}
        if grid_cell and p.config["cell"].get("released_student"):  # run_all --students: not distilled here
            devs["released_student"] = str(p.config["cell"]["released_student"])
        described = {"name": grid_cell.name, "label": grid_cell.label, "base": grid_cell.base,
                     "kind": grid_cell.kind, "deviations": json.dumps(devs, sort_keys=True),
                     "recipe": json.dumps(identity_dict(grid_cell.recipe), sort_keys=True)} if grid_cell else \
            {k: "" for k in ("name", "label", "base", "kind", "deviations", "recipe")}
        seeds = sorted({int(ft.config.get("seed", 0)) for ft in fts})
        folds = sorted({ft.config.get("fold") for ft in fts}, key=lambda f: -1 if f is None else f)
        rows.append({"cell": described["label"] or cols.label, **vars(cols),
                     **{k: described[k] for k in ("name", "base", "kind", "deviations", "recipe")},
                     "seed": ",".join(map(str, seeds)),
                     "folds": ",".join("dev" if f is None else str(f) for f in folds),
                     "n_folds": int(fts[0].config.get("n_folds", 0)), "predict_id": p.run_id,
                     "score_id": scored[p.run_id].run_id, "fingerprint": p.config.get("data", {}).get("fingerprint", ""),
                     "data_kind": p.config.get("data", {}).get("kind", ""),
                     "data_root": str(resolve_path(p.config.get("data", {}).get("root", ""), p.path))})
    if rows:
        planned = _summary_runs(grid_dir)
        missing += [f"cell {c} of grid {grid!r}: no scored predict run"
                    + (f" ({planned[c]} not finished)" if c in planned else "")
                    for c in _missing_cells(grid, rows)]
    missing = sorted(set(missing))
    if missing and (require_grid_cells or not rows):
        raise InputError(str(grid_dir), "partial results; missing or unfinished runs:\n  - "
                         + "\n  - ".join(missing) + f"\n{rerun_hint(results, grid)}"
                         + ("" if not rows else "\n(or pass --allow-partial to tabulate the complete cells only)"))
    if not rows:
        raise InputError(str(grid_dir), f"no scored prediction runs; {rerun_hint(results, grid)}")
    table = pd.DataFrame(rows).sort_values(["cell", "seed", "folds", "predict_id"]).reset_index(drop=True)
    table, dropped = _one_per_computation(table, runs)
    missing += dropped
    fps = table.groupby("fingerprint")["predict_id"].apply(list)
    if len(fps) > 1:  # e.g. the runs of a corpus since edited in place: never averaged with the new ones
        raise InputError(str(grid_dir), "predict runs on different data (fingerprints "
                         + "; ".join(f"{fp or '?'}: predict/{', predict/'.join(ids)}" for fp, ids in fps.items())
                         + "); move the stale ones away (`run_all --dry-run` lists runs no longer in the grid "
                           "as orphaned)")
    return Collected(results, grid, grid_dir, runs, table, missing)


def _one_per_computation(table: pd.DataFrame, runs: dict[str, dict[str, Run]]) -> tuple[pd.DataFrame, list[str]]:
    """One row per prediction computed: predict runs over the same fine-tune runs, data and splits
    (e.g. one keyed by an older suite version and its re-keyed twin) are one replicate, not two. The
    newest finished is kept; the others are named."""
    def key(pid: str) -> str:
        c = runs["predict"][pid].config
        return json.dumps([sorted(Path(r).name for r in c.get("runs", [])), c.get("data"), c.get("splits")],
                          sort_keys=True)

    finished = {pid: str((runs["predict"][pid].done or {}).get("finished_utc", "")) for pid in table.predict_id}
    keys = table.predict_id.map(key)
    keep = table.assign(_k=keys, _t=table.predict_id.map(finished)).sort_values("_t", kind="mergesort") \
        .drop_duplicates("_k", keep="last").index
    dropped = [f"predict/{pid}: the same prediction as a newer run (not counted twice)"
               for pid in table.predict_id[~table.index.isin(keep)]]
    return table.loc[sorted(keep)].reset_index(drop=True), dropped


@dataclass
class Collected:
    results: Path
    grid: str
    grid_dir: Path
    runs: dict[str, dict[str, Run]]
    table: pd.DataFrame  # one row per scored predict run
    skipped: list[str] = field(default_factory=list)  # what --allow-partial left out

    def predictions(self, predict_id: str) -> pd.DataFrame:
        run = self.runs["predict"][predict_id]
        n = (run.done or {}).get("n_utts")
        return read_predictions(run.path / "predictions.csv", int(n) if isinstance(n, int) else None)

    def metrics(self, score_id: str) -> dict[str, Any]:
        return _read_json(self.runs["score"][score_id].path / "metrics.json")

    def manifest(self, path: str | Path | None = None) -> pd.DataFrame | None:
        """The synthetic corpus's per-clip manifest (``<corpus>/manifest.csv``), if the data is synthetic."""
        if path is not None:
            if not Path(path).exists():
                raise InputError(str(path), "manifest file does not exist")
            return read_csv_strict(Path(path))
        for root in sorted(set(self.table["data_root"])):
            for cand in (Path(root) / "manifest.csv", Path(root).parent / "manifest.csv"):
                if cand.exists():
                    return read_csv_strict(cand)
        return None
