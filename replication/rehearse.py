"""``python -m replication.rehearse``: run one cell of each kind of a grid at real model size, briefly.

For one cell per kind (``Cell.kind``; ``--only`` picks among the cells), every stage of the cell runs
for ``--steps`` optimiser steps, from random-init (NOT pretrained) ``base``-size checkpoints in s3prl's
formats on the synthetic corpus (16/24/48 kHz, the real Track 3 / BVCC / folder layouts). The stage
configs are the grid's own; the only changes are listed per stage in the output with their reason:
step caps (``DistillConfig.steps`` and ``fit_steps``, ``MOSTrainConfig.max_steps``), a smaller
batch on the CPU, crops no longer than the synthetic clips, and one fine-tuning fold instead of all.

Each stage runs in a fresh process (``replication.measure``) that records step time, peak memory,
parameters, optimiser state and activation bytes (autograd's saved tensors: exact, unlike RSS); each
training stage runs three times more, at a second batch size and at 1/2 and 3/4 of the clip length, so
time and activation memory can be fitted and extrapolated to the paper's batch and clip lengths
(``costs.extrapolate``). Run directory sizes give the checkpoint disk per run. Together with the
grid's stage graph this gives the cost of the whole grid (``run_all --dry-run --costs FILE``).
Times are of the machine it runs on: CPU times on a CPU (``--gpu-speedup`` only adds a labelled
assumption), absolute times on a GPU, where the Slurm profile's ``--time``/``--mem`` are checked too.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ablations import graph as graph_mod
from ablations import grid as grid_mod
from sfi_mos.atomic import write_json
from sfi_mos.config import to_dict
from sfi_mos.errors import InputError
from sfi_mos.train.configs import DataSpec, TeacherSpec

from . import costs, gpu_costs, inputs as inputs_mod, rehearse_report as report

ROOT = Path(__file__).resolve().parents[1]
CORPUS_SIZE = "tiny"  # synthetic corpus: enough clips for every stage, short enough for a CPU
CPU_BATCH = {"distill": 2, "pretrain": 2}  # clips per forward pass on a CPU (paper: 8 and 4)
TRAINING = ("distill", "pretrain", "finetune")
# config paths that name inputs (corpora, teacher files, parent runs), not hyper-parameters
INPUT_FIELDS = ("data", "teacher", "student", "backbone.teacher", "backbone.student_run", "init_run", "predict_run",
                "student_run")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m replication.rehearse", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", default="paper", choices=sorted(grid_mod.GRIDS))
    ap.add_argument("--only", default=None, help="comma-separated cell globs to pick the rehearsed cells from")
    ap.add_argument("--steps", type=int, default=2, help="optimiser steps per training stage (default 2)")
    ap.add_argument("--json", default=None, help="write the result here (atomically)")
    ap.add_argument("--size", default="base", choices=("base", "tiny"), help="model size (default base)")
    ap.add_argument("--results", default="results", help="work dir root: <results>/rehearse-<grid>-<size>/")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: OMP_NUM_THREADS or all cores)")
    ap.add_argument("--no-fit", action="store_true", help="skip the fit runs (no memory extrapolation)")
    ap.add_argument("--in-process", action="store_true",
                    help="run the stages in this process (tests): memory figures then include this process")
    ap.add_argument("--profile", default="example", help="Slurm profile whose --time/--mem are checked")
    ap.add_argument("--gpu-speedup", type=float, default=None,
                    help="CPU only: also state GPU hours assuming this speed-up (an assumption, printed as one)")
    ap.add_argument("--gpu-mem", type=float, default=None, metavar="GiB",
                    help="also report, per training stage and kind, the micro-batch that fits this GPU memory "
                    "budget and the CPU footprint's step memory in fp32 and bf16 (replication.gpu_costs)")
    ap.add_argument("--keep", action="store_true", help="keep the rehearsal run directories (GBs at base size)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return _main(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> None:
    if args.steps < 1:
        raise InputError("--steps", f"must be >= 1, got {args.steps}")
    if args.threads is not None and args.threads < 1:
        raise InputError("--threads", f"must be >= 1, got {args.threads}")
    if args.gpu_mem is not None and not args.gpu_mem > 0:
        raise InputError("--gpu-mem", f"must be > 0 GiB, got {args.gpu_mem}")
    if args.gpu_speedup is not None and args.gpu_speedup <= 0:
        raise InputError("--gpu-speedup", f"must be > 0, got {args.gpu_speedup}")
    if args.json:
        parent = Path(args.json).expanduser().resolve().parent
        if not parent.is_dir():
            raise InputError("--json", f"directory {parent} does not exist")


def pick_cells(grid: grid_mod.Grid, only: str | None) -> list[grid_mod.Cell]:
    """The first cell of each kind, preferring one that runs every stage (pre-training on)."""
    by_kind: dict[str, grid_mod.Cell] = {}
    for c in grid.select(only).cells:
        cur = by_kind.get(c.kind)
        if cur is None or (c.pretrain and not cur.pretrain):
            by_kind[c.kind] = c
    return list(by_kind.values())


# --- inputs: synthetic corpus and random-init checkpoints -------------------------------------------------
def prepare(work: Path, size: str, seed: int, teachers: set[str]) -> tuple[graph_mod.Inputs, dict[str, Any]]:
    from sfi_mos.ssl import write_tiny_checkpoints  # lazy: torch; `python -m replication.rehearse --help` stays fast

    root, fp = inputs_mod.synthetic_corpus(work, CORPUS_SIZE, seed)
    specs = {c: DataSpec(inputs_mod.KINDS[c], f"{root}/{c}", fingerprint=fp) for c in inputs_mod.CORPORA}
    paths = write_tiny_checkpoints(work / "teachers", size, seed, kinds=tuple(sorted(teachers)))
    ts = {t: TeacherSpec(grid_mod.LOCAL_UPSTREAMS[t], f"teachers/{paths[t].name}") for t in teachers}
    return graph_mod.Inputs(specs["track3"], specs["bvcc"], specs["unlabelled"], ts), corpus_facts(work / root)


def corpus_facts(root: Path) -> dict[str, Any]:
    """Shortest clip and ratings per clip of each synthetic corpus (sets crops and the load of a step)."""
    import soundfile as sf  # lazy: soundfile (libsndfile) only once a corpus is measured

    from sfi_mos.data import read_corpus  # lazy: soundfile, as above

    out: dict[str, Any] = {}
    for name in ("track3", "bvcc", "unlabelled"):
        lengths = [sf.info(str(p)).duration for p in sorted((root / name).rglob("*.wav"))]
        out[name] = {"clips": len(lengths), "min_s": min(lengths), "mean_s": sum(lengths) / len(lengths)}
        if name != "unlabelled":
            utts = read_corpus(name, root / name, check_audio=False).utterances
            out[name]["ratings_per_clip"] = int(utts.n_ratings.min())
            out[name]["train_clips"] = int((utts.split == "train").sum())
            out[name]["predicted"] = int((utts.split.isin(("dev", "eval")) & utts.mos.notna()).sum())
    return out


# --- capped stage configs ---------------------------------------------------------------------------------
def capped(stage: str, cfg: Any, steps: int, cuda: bool, facts: dict[str, Any]) -> tuple[Any, list[str]]:
    """The rehearsal's version of one stage config; the reasons of its changes by field."""
    why: dict[str, str] = {}
    if stage == "distill":
        new = replace(cfg, steps=min(cfg.steps, steps), crop_seconds=costs.fit_crop(facts["unlabelled"]["min_s"]),
                      fit_steps=min(cfg.fit_steps, steps))
        why.update(steps="step cap (--steps)",
                   fit_steps="step cap (--steps): the SFI filter fit is an optimisation too (its step time is "
                   "measured and counted at the grid's fit_steps)",
                   crop_seconds="every synthetic unlabelled clip is at least this long: crops have one length")
        if not cuda:
            new = replace(new, batch_size=min(cfg.batch_size, CPU_BATCH["distill"]))
            why["batch_size"] = "smaller batch for the CPU"
        return new, why
    if stage in ("pretrain", "finetune"):
        corpus = "bvcc" if stage == "pretrain" else "track3"
        # max_epochs stays: on the small synthetic corpus an epoch can hold fewer than --steps steps
        new = replace(cfg, max_steps=steps, max_seconds=costs.fit_crop(facts[corpus]["min_s"]))
        why.update(max_steps="step cap (--steps)",
                   max_seconds="clips cropped to one length (the shortest synthetic clip): the load of a step is known")
        r = report.ratings_per_pass(cfg, facts[corpus]["ratings_per_clip"])
        if not cuda and stage in CPU_BATCH and cfg.batch_size > CPU_BATCH[stage] * r:
            new = _mos_batch(new, CPU_BATCH[stage] * r, cfg.batch_size * cfg.grad_accum)
            why["batch_size"] = f"smaller batch for the CPU ({CPU_BATCH[stage]} clips of {r} ratings)"
            why["grad_accum"] = "keeps the grid's ratings per optimiser step (batch_size x grad_accum)"
        return new, why
    return cfg, why


def _mos_batch(cfg: Any, batch_size: int, ratings_per_step: int) -> Any:
    return replace(cfg, batch_size=batch_size, grad_accum=max(1, math.ceil(ratings_per_step / batch_size)))


def second_size(stage: str, cfg: Any, steps: int, facts: dict[str, Any]) -> Any | None:
    """The same config at a larger batch for the linear fit: twice the clips per distillation step; for
    MOS stages up to four times the clips per forward pass (short synthetic clips: a small difference would
    drown in the allocator's noise), one pass per step, and no more clips per step than lets an epoch of
    the synthetic corpus hold ``steps`` steps (an epoch end between two steps would add validation time)."""
    if stage == "distill":
        return None if cfg.steps == 0 else replace(cfg, batch_size=2 * cfg.batch_size)
    if stage in ("pretrain", "finetune"):
        corpus = facts["bvcc" if stage == "pretrain" else "track3"]
        train = corpus["train_clips"] * (1 if cfg.fold is None else (cfg.n_folds - 1) / cfg.n_folds)
        r = report.ratings_per_pass(cfg, corpus["ratings_per_clip"])
        clips = max(1, cfg.batch_size // r)
        other = min(4 * clips, max(clips + 1, int(train * corpus["ratings_per_clip"] / r // steps)))
        return replace(cfg, batch_size=other * r, grad_accum=1)
    return None


def length_size(stage: str, cfg: Any, fraction: float) -> Any | None:
    """The same config with clips ``fraction`` as long: with the batch pair, runs at two shorter lengths
    separate the activations that grow with clip length (convolutions, linear layers) from those that
    grow with its square (attention) and a per-clip constant."""
    if stage == "distill":
        return None if cfg.steps == 0 else replace(cfg, crop_seconds=costs.fit_crop(cfg.crop_seconds * fraction))
    if stage in ("pretrain", "finetune"):
        return replace(cfg, max_seconds=costs.fit_crop(cfg.max_seconds * fraction))
    return None


def changes(paper: Any, rehearsal: Any, why: dict[str, str], stage: str) -> list[dict[str, Any]]:
    """Every hyper-parameter that differs from the grid's config (inputs excluded), with its reason."""
    a, b = _flat(to_dict(paper)), _flat(to_dict(rehearsal))
    out = []
    for key in sorted(set(a) | set(b)):
        if key.startswith(INPUT_FIELDS) or key == "runs":
            continue
        if a.get(key) != b.get(key):
            out.append({"field": key, "grid": a.get(key), "rehearsal": b.get(key),
                        "why": why.get(key.split(".")[0], "")})
    if stage == "predict" and len(paper.runs) != len(rehearsal.runs):
        out.append({"field": "runs", "grid": f"{len(paper.runs)} fold models", "rehearsal":
                    f"{len(rehearsal.runs)} fold model", "why": "one fine-tuning fold rehearsed"})
    return out


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def cell_plan(grid: grid_mod.Grid, cell: grid_mod.Cell, ins: graph_mod.Inputs) -> list[tuple[str, Any, tuple]]:
    """The cell's stages with fine-tuning fold 0 only (``_rekey`` then gives the ensemble that one model)."""
    out, seen = [], set()
    for stage, cfg, parents in graph_mod.cell_stages(grid, cell, ins):
        if stage == "finetune" and stage in seen:
            continue
        seen.add(stage)
        out.append((stage, cfg, parents))
    return out


# --- running -------------------------------------------------------------------------------------------
def measured_run(stage: str, cfg: Any, run_dir: Path, threads: int | None, in_process: bool) -> dict[str, Any]:
    """Measurements of one fresh stage run (see ``replication.measure``)."""
    shutil.rmtree(run_dir, ignore_errors=True)  # a rehearsal always runs the stage again
    if in_process:
        from .measure import measure  # lazy: measure imports torch; only in-process runs need it here

        try:
            return measure(stage, to_dict(cfg), run_dir, threads)
        except Exception as e:  # noqa: BLE001 - recorded as the stage's result
            return {"error": f"{type(e).__name__}: {e}"}
    with tempfile.TemporaryDirectory(prefix="rehearse-") as tmp:
        spec, out = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        write_json(spec, {"stage": stage, "config": to_dict(cfg), "run_dir": str(run_dir), "threads": threads,
                          "out": str(out)})
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        p = subprocess.run([sys.executable, "-m", "replication.measure", str(spec)], env=env, cwd=ROOT,
                           capture_output=True, text=True)
        if out.exists():
            return json.loads(out.read_text())
        return {"error": f"measurement exited {p.returncode}: {(p.stderr or p.stdout).strip().splitlines()[-1:]}"}


def dir_bytes(path: Path) -> tuple[int, dict[str, int]]:
    files = {p.relative_to(path).as_posix(): p.stat().st_size for p in path.rglob("*") if p.is_file()}
    return sum(files.values()), {k: v for k, v in files.items() if v >= 2 ** 20}


def rehearse_cell(cell, plan, paper_cfgs: dict[str, Any], work: Path, args, cuda: bool,
                  facts) -> list[dict[str, Any]]:
    records, failed = [], None
    for stage, cfg, _parents in plan:
        paper_cfg = paper_cfgs[stage]
        main_cfg, why = capped(stage, cfg, args.steps, cuda, facts)
        # parents were keyed by their capped configs
        main_cfg = _rekey(main_cfg, records)
        rel = f"{stage}/{graph_mod.run_id(stage, main_cfg)}"
        rec: dict[str, Any] = {"stage": stage, "run": rel, "changes": changes(paper_cfg, main_cfg, why, stage)}
        if failed:
            rec["error"] = f"not run: {failed} failed"
            records.append(rec)
            continue
        print(f"[{cell.name}] {stage} ...", file=sys.stderr, flush=True)
        rec["measured"] = measured_run(stage, main_cfg, work / rel, args.threads, args.in_process)
        rec["load"] = report.load_of(stage, main_cfg, facts)
        if "error" in rec["measured"]:
            failed = stage
            rec["error"] = rec["measured"]["error"]
        else:
            drops = [x for x in rec["measured"].get("layerdrop_in_config", []) if x and rec["measured"].get("steps")]
            if drops:  # replication.measure.NoLayerDrop
                rec["changes"].append({"field": "LayerDrop", "grid": max(drops), "rehearsal": 0.0,
                                       "why": "every layer runs: the worst-case step memory, the same at every "
                                              "step (measured step time is then an upper bound)"})
            rec["run_bytes"], rec["big_files"] = dir_bytes(work / rel)
            rec["val_clips"] = report.val_clips(work / rel)
            rec["fit_runs"] = [] if args.no_fit else [
                fit_run(stage, main_cfg, alt, work, args, facts, why)
                for alt, why in ((second_size(stage, main_cfg, args.steps, facts), "batch"),
                                 (length_size(stage, main_cfg, 0.5), "clip length"),
                                 (length_size(stage, main_cfg, 0.75), "clip length")) if alt is not None]
        records.append(rec)
    return records


def fit_run(stage: str, main_cfg: Any, alt: Any, work: Path, args, facts, what: str) -> dict[str, Any]:
    """One more measured run of the stage at another load (``what``: batch or clip length), for the fits."""
    rel = f"{stage}/{graph_mod.run_id(stage, alt)}"
    print(f"    fit run: another {what}", file=sys.stderr, flush=True)
    why = {k: f"another {what} for the fit" for k in ("batch_size", "grad_accum", "crop_seconds", "max_seconds")}
    out = {"run": rel, "varies": what, "load": report.load_of(stage, alt, facts),
           "measured": measured_run(stage, alt, work / rel, args.threads, args.in_process),
           "changes_from_main": changes(main_cfg, alt, why, stage)}
    shutil.rmtree(work / rel, ignore_errors=True)
    return out


def _rekey(cfg: Any, records: list[dict[str, Any]]) -> Any:
    """Point the parent references of ``cfg`` at the rehearsed (capped) parent runs."""
    runs = {r["stage"]: r["run"] for r in records}
    if hasattr(cfg, "backbone") and cfg.backbone.student_run and "distill" in runs:
        cfg = replace(cfg, backbone=replace(cfg.backbone, student_run=runs["distill"]))
    if getattr(cfg, "student_run", None) and "distill" in runs:  # the probe's front-end diagnostics
        cfg = replace(cfg, student_run=runs["distill"])
    if getattr(cfg, "init_run", None) and "pretrain" in runs:
        cfg = replace(cfg, init_run=runs["pretrain"])
    if hasattr(cfg, "runs") and "finetune" in runs:
        cfg = replace(cfg, runs=(runs["finetune"],))
    if hasattr(cfg, "predict_run") and "predict" in runs:
        cfg = replace(cfg, predict_run=runs["predict"])
    return cfg


def _main(args: argparse.Namespace) -> int:
    _check(args)
    t0 = time.monotonic()
    grid = grid_mod.get(args.grid)
    cells = pick_cells(grid, args.only)
    import torch  # after the argument checks: a typo fails in a second

    threads = args.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count()
    args.threads = threads
    torch.set_num_threads(threads)
    cuda = torch.cuda.is_available()
    work = Path(args.results).resolve() / f"rehearse-{grid.name}-{args.size}"
    # the cells' teachers, the authors' HuBERT-class student, the authors' WavLM Base baseline
    need = {c.teacher for c in cells} | {"hubert"} | ({"wavlm_base"} if any(c.teacher == "wavlm" for c in cells) else set())
    ins, facts = prepare(work, args.size, grid.base_seed, need)
    paper_ins = report.paper_inputs()
    results = []
    for cell in cells:
        paper_cfgs: dict[str, Any] = {}
        for stage, cfg, _ in graph_mod.cell_stages(grid, cell, paper_ins):
            paper_cfgs.setdefault(stage, cfg)  # fine-tuning: fold 0, as rehearsed
        stages = rehearse_cell(cell, cell_plan(grid, cell, ins), paper_cfgs, work, args, cuda, facts)
        results.append({"kind": cell.kind, "cell": cell.name, "teacher": cell.teacher, "stages": stages})
        if not args.keep:
            for st in stages:
                shutil.rmtree(work / st["run"], ignore_errors=True)
    full = graph_mod.build(grid, paper_ins)
    out = report.assemble(args, grid, full, results, facts, cuda, time.monotonic() - t0)
    if args.gpu_mem:
        gpu_costs.rehearsal_budget(out, full, grid, args.gpu_mem, args.size, work / "footprints")
    out["host"] = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}
    if args.json:
        write_json(args.json, out)
    print(report.markdown(out, full, {c.name: c for c in grid.cells}, work, gpu_costs.rehearsal_lines(out)))
    return 0 if all("error" not in s for r in results for s in r["stages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
