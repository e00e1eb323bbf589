"""The rehearsal's result: loads of each measured run, extrapolation to the paper, costs, JSON and table.

``assemble`` turns the per-stage measurements of ``replication.rehearse`` into the JSON document
(``costs.FORMAT``): the records as measured, per (stage, kind) the figures at the paper's batch and clip
length (``costs``), the whole grid's steps, device-hours and disk, the Slurm profile checks and every
assumption used. ``markdown`` prints it.
"""
from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from ablations.graph import Inputs, cell_stages
from ablations.grid import PAPER_UPSTREAMS
from sfi_mos.train.configs import DataSpec, TeacherSpec

from . import costs, profiles
from sfi_mos.errors import InputError
from sfi_mos.jsonio import read_json

MIB = 2 ** 20


def paper_inputs():
    """The grid's inputs on the real corpora, by name only: roots are never readable, so step counts come
    from the documented corpus sizes (``costs.Corpora``) and teachers are the registered upstreams."""
    return Inputs(DataSpec("track3", "<track3>"), DataSpec("bvcc", "<bvcc>"), DataSpec("folder", "<unlabelled>"),
                  {t: TeacherSpec(u) for t, u in PAPER_UPSTREAMS.items()})


# --- loads: how much audio a step of a (capped or paper) config processes ---------------------------
def ratings_per_pass(cfg: Any, ratings_per_clip: int) -> int:
    """Ratings one backbone pass serves: every rating of a clip (grouped batching) or one (rating rows)."""
    return 1 if getattr(cfg, "batching", "grouped") == "rows" else ratings_per_clip


def _mos_clips(cfg: Any, ratings_per_clip: int) -> tuple[int, int]:
    """(clip passes per forward batch, clip passes per optimiser step): whole clips packed up to
    batch_size ratings (at least one), batches accumulated until a step holds batch_size * grad_accum
    ratings; with rating-row batching every row is its own clip pass."""
    ratings_per_clip = ratings_per_pass(cfg, ratings_per_clip)
    per_batch = max(1, cfg.batch_size // ratings_per_clip)
    batches = math.ceil(cfg.batch_size * cfg.grad_accum / (per_batch * ratings_per_clip))
    return per_batch, per_batch * batches


def load_of(stage: str, cfg: Any, facts: dict[str, Any]) -> dict[str, float]:
    """The load of a rehearsed run on the synthetic corpus (crops are no longer than its clips)."""
    if stage == "distill":
        return {"clips": cfg.batch_size, "clip_s": cfg.crop_seconds, "clips_per_step": cfg.batch_size}
    if stage in ("pretrain", "finetune"):
        corpus = facts["bvcc" if stage == "pretrain" else "track3"]
        clips, per_step = _mos_clips(cfg, corpus["ratings_per_clip"])
        return {"clips": clips, "clip_s": cfg.max_seconds or corpus["mean_s"], "clips_per_step": per_step,
                "val_clip_s": corpus["mean_s"]}
    if stage == "predict":
        return {"passes": len(cfg.runs) * facts["track3"]["predicted"], "clip_s": facts["track3"]["mean_s"]}
    return {}


def paper_load(stage: str, cfg: Any) -> dict[str, float]:
    """The load of the grid's own config on the real corpora (``costs.CORPUS_SIZES``)."""
    if stage == "distill":
        return {"clips": cfg.batch_size, "clip_s_max": cfg.crop_seconds,
                "clip_s_mean": min(cfg.crop_seconds, costs.UNLABELLED_MEAN_S), "clips_per_step": cfg.batch_size,
                "fit_steps": cfg.fit_steps}
    if stage in ("pretrain", "finetune"):
        size = costs.CORPUS_SIZES["bvcc" if stage == "pretrain" else "track3"]
        clips, per_step = _mos_clips(cfg, size.ratings_per_clip)
        cap = cfg.max_seconds or math.inf
        return {"clips": clips, "clip_s_max": min(size.max_s, cap), "clip_s_mean": min(size.mean_s, cap),
                "clips_per_step": per_step}
    if stage == "predict":
        return {"clip_s_mean": costs.CORPUS_SIZES["track3"].mean_s}
    return {}


def val_clips(run_dir: Path) -> int | None:
    p = Path(run_dir) / "metrics.json"
    try:
        return int(read_json(p, {"n_val_utts": (int, float)})["n_val_utts"])
    except InputError:
        return None


# --- one measurement -> the numbers the extrapolation needs -----------------------------------------------
def step_time(m: dict[str, Any]) -> float | None:
    """Median time between optimiser steps; with one step, the first step (warm-up included)."""
    ends = m.get("step_end_s") or []
    if len(ends) >= 2:
        return statistics.median(b - a for a, b in zip(ends, ends[1:]))
    if ends and m.get("setup_s") is not None:
        return ends[0] - m["setup_s"]
    return None


def step_peak(m: dict[str, Any]) -> int | None:
    """Largest peak memory of an optimiser step (CUDA allocated on a GPU, else RSS)."""
    key = "cuda" if m.get("device") == "cuda" else "rss"
    peaks = [p.get(key) for p in m.get("step_peaks") or [] if p.get(key) is not None]
    return max(peaks) if peaks else None


def step_saved(m: dict[str, Any]) -> int | None:
    """Largest activation bytes (autograd's saved tensors) of the run's optimiser steps: steps can
    differ by the rate a batch was drawn at, or by what a stage's first step leaves out."""
    vals = [p["saved"] for p in m.get("step_peaks") or [] if p.get("saved") is not None]
    return max(vals) if vals else None


def _point(rec: dict[str, Any]) -> dict[str, float] | None:
    m = rec["measured"]
    if "error" in m:
        return None
    t, pk = step_time(m), step_peak(m)
    if t is None:
        return None
    return {**rec["load"], "step_s": t, "peak": pk if pk is not None else m["peak_rss_bytes"],
            "saved": step_saved(m)}


def fit_extra_s(m: dict[str, Any], paper: dict[str, float]) -> float:
    """Time of the SFI filter fit steps the rehearsal skipped (grid fit_steps - rehearsed, measured rate)."""
    extra = 0.0
    for h in m.get("other_optimizers") or []:
        if h["steps"] and h["step_s"] is not None and paper.get("fit_steps", 0) > h["steps"]:
            extra += (paper["fit_steps"] - h["steps"]) * h["step_s"]
    return extra


def stage_cost(stage: str, rec: dict[str, Any], paper: dict[str, float]) -> dict[str, Any] | None:
    """Per-run figures at the paper's load for one rehearsed (stage, kind)."""
    m = rec.get("measured", {})
    if "error" in m or "error" in rec:
        return None
    out: dict[str, Any] = {"run_bytes": rec["run_bytes"], "peak_rss_bytes_measured": m["peak_rss_bytes"],
                           "memory_kind": "cuda_max_allocated" if m["device"] == "cuda" else "cpu_rss"}
    if stage in ("distill", "pretrain", "finetune") and m.get("steps"):
        a = _point(rec)
        others = [p for p in (_point(f) for f in rec.get("fit_runs", [])) if p is not None]
        ex = costs.extrapolate(a, others, paper)
        out.update(step_s=ex["step_s"], step_peak_bytes=ex["peak"], time_fit=ex["time_fit"],
                   memory_fit=ex["memory_fit"], fixed_s=m["setup_s"])
        if stage == "distill":  # + held-out evaluation and the student file, + the full filter fit
            out["fixed_s"] += (m["tail_s"] or 0.0) + fit_extra_s(m, paper)
        elif rec.get("val_clips"):  # validation, best checkpoint and metrics, per epoch
            out["val_clip_s"] = m["tail_s"] / rec["val_clips"] * paper["clip_s_mean"] / rec["load"]["val_clip_s"]
        peaks = [m["peak_rss_bytes"]] + ([ex["peak"]] if ex["peak"] is not None and m["device"] == "cpu" else [])
        out["peak_rss_bytes_paper"] = max(peaks)
    elif stage == "predict":
        out.update(step_s=m["wall_s"] / rec["load"]["passes"] * paper["clip_s_mean"] / rec["load"]["clip_s"],
                   fixed_s=0.0)
    else:  # the no-distillation control (no steps) and scoring: one piece of work per run
        out.update(step_s=0.0 if stage == "distill" else m["wall_s"],
                   fixed_s=m["wall_s"] + fit_extra_s(m, paper) if stage == "distill" else 0.0)
    return out


ASSUMPTIONS = [
    "weights are random (NOT pretrained): costs only, no quality",
    "step time scales linearly with the audio seconds a step processes (fitted from the two batch sizes, "
    "else proportional); the rates drawn by the measured steps are those of the stage's own seed",
    "step memory at the paper's load = the main run's measured step peak + the growth of its activations "
    "(autograd's saved tensors, counted exactly, LayerDrop off: every layer runs), fitted as "
    "c + clips x (d + a L + b L^2) from two batch sizes and three clip lengths (L^2: attention scores); memory that is not saved for backward (one layer's "
    "temporaries, the frozen teacher's forward) is taken at the measured size, so it is a lower bound there",
    "a run = fixed time (setup; distillation also its held-out evaluation) + steps x step time "
    "(+ for MOS stages, per epoch, validation clips x the measured validation/checkpoint time per clip)",
    "predict: seconds per clip x model forward pass include process start and model loading (an upper bound)",
    "disk per run = the rehearsed run directory (checkpoints do not depend on the number of steps); "
    "teachers of one kind share the figures of the rehearsed teacher (their sizes differ by < 1 %)",
    f"distillation crops: {costs.UNLABELLED_MEAN_S:.0f} s mean EARS file length, so crops are full length",
]


def assemble(args, grid, full_graph, results, facts, cuda: bool, wall_s: float) -> dict[str, Any]:
    import torch  # lazy: rehearse (a CLI) imports this module; torch only for the device name

    cells = {c.name: c for c in grid.cells}
    out: dict[str, Any] = {
        "format": costs.FORMAT, "grid": grid.name, "size": args.size, "steps": args.steps,
        "weights": "random init, NOT pretrained (s3prl formats; base = the real Base architectures)",
        "device": "cuda" if cuda else "cpu",
        "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_threads": args.threads, "times_are": "CUDA wall-clock" if cuda else "CPU wall-clock",
        "assumed_gpu_speedup": None if cuda else args.gpu_speedup, "in_process": args.in_process,
        "synthetic_corpus": {"size": "tiny", **facts}, "wall_s": wall_s, "cells": results,
        "corpus_sizes": {k: {**vars(v), "train": {str(r): n for r, n in v.train.items()},
                             "dev": {str(r): n for r, n in v.dev.items()},
                             "eval": {str(r): n for r, n in v.eval.items()}}
                         for k, v in costs.CORPUS_SIZES.items()},
        "assumptions": ASSUMPTIONS, "costs": {},
    }
    paper_cfgs = {}

    for r in results:
        for stage, cfg, _ in cell_stages(grid, cells[r["cell"]], paper_inputs()):
            paper_cfgs.setdefault((r["kind"], stage), cfg)
        for rec in r["stages"]:
            paper = paper_load(rec["stage"], paper_cfgs[(r["kind"], rec["stage"])])
            rec["paper_load"] = paper
            cost = stage_cost(rec["stage"], rec, paper)
            if cost is not None:
                out["costs"].setdefault(rec["stage"], {}).setdefault(r["kind"], cost)
    rows, documented = costs.grid_costs(full_graph, cells, Path("."), out)
    out["grid_totals"] = {s: {"runs": v["runs"], "steps_per_run": sorted(set(v["steps"])),
                              "total_steps": sum(v["steps"]), "device_hours": None if v["seconds"] is None
                              else v["seconds"] / 3600, "max_run_hours": v["max_run_s"] / 3600,
                              "disk_bytes": v["bytes"]} for s, v in rows.items()}
    out["profile_checks"] = profile_checks(args.profile, grid, out, cuda)
    return out


def profile_checks(name: str | None, grid, out: dict[str, Any], cuda: bool) -> list[str]:
    """Warnings where the profile's --time or --mem is smaller than a run needs (same device kind only)."""
    if not name:
        return []
    prof = profiles.load(name)
    lines, speedup = [], out.get("assumed_gpu_speedup")
    for stage, tot in out["grid_totals"].items():
        if not tot["runs"] or stage not in out["costs"]:
            continue
        p = {**prof["defaults"], **prof["stages"].get(stage, {})}
        on_gpu = bool(p.get("gpus"))
        limit_h = profiles.stage_params(prof, stage, grid.timeout_min[stage])["timeout_min"] / 60
        need_h = tot["max_run_hours"]
        how, assumed = "measured", False
        if on_gpu != cuda:
            if on_gpu and speedup:
                need_h, how, assumed = need_h / speedup, f"ASSUMED {speedup}x GPU speed-up", True
            else:
                lines.append(f"{stage}: not checked: the profile runs it on {'a GPU' if on_gpu else 'CPUs'}, "
                             f"the rehearsal ran on {'a GPU' if cuda else 'the CPU'}")
                continue
        resumable = stage in ("distill", "pretrain", "finetune")
        if need_h > limit_h:
            n = math.ceil(need_h / limit_h) - 1
            msg = (f"WARNING {stage}: longest run needs {need_h:,.1f} h ({how}) > --time {limit_h:,.1f} h: "
                   + (f"{n} requeue(s) from its checkpoint" + (" -- more than submitit's 3: it will fail; "
                      "raise time" if n > 3 else "") if resumable else "it is not resumable: raise time"))
            lines.append(msg)
        else:
            lines.append(f"{stage}: --time {limit_h:,.1f} h covers the longest run ({need_h:,.2f} h, {how})")
        mem = costs.mem_bytes(p.get("mem"))
        if assumed:  # CPU RSS holds what a GPU job keeps on the GPU: not comparable with --mem
            continue
        peaks = [c.get("peak_rss_bytes_paper") or c["peak_rss_bytes_measured"] for c in out["costs"][stage].values()]
        if mem and peaks:
            need = max(peaks)
            verdict = "WARNING" if need > mem else "ok"
            lines.append(f"{verdict} {stage}: host memory need {need / 2 ** 30:,.1f} GiB vs --mem {p['mem']}")
    return lines


# --- printing ---------------------------------------------------------------------------------------------
def _g(n: float | None, unit: float = 2 ** 30, fmt: str = "{:,.2f}") -> str:
    return "-" if n is None else fmt.format(n / unit)


def markdown(out: dict[str, Any], full_graph, cells: dict[str, Any], work: Path, gpu_lines: list[str] = ()) -> str:
    dev = out["device"]
    t_unit = "CPU s" if dev == "cpu" else "GPU s"
    lines = [f"## Rehearsal of grid `{out['grid']}` at `{out['size']}` size, {out['steps']} step(s) per stage",
             f"{out['weights']}; device {out['device_name']}, {out['torch_threads']} threads; "
             f"times are {out['times_are']} (load = 1-min load average of the machine when the stage ended; "
             f"with few steps, one interval each, times on a shared machine are noisy); synthetic corpus `tiny`; "
             f"work dir {work}", "",
             f"| kind | cell | stage | steps | step ({t_unit}) | wall ({t_unit}) | load | peak RSS GiB | step peak GiB "
             "| activations GiB | params M | trainable M | optim state MiB | run dir MiB | changes from the grid config |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in out["cells"]:
        for rec in r["stages"]:
            m = rec.get("measured", {})
            chg = "; ".join(f"{c['field']} {c['grid']}->{c['rehearsal']}" for c in rec["changes"]) or "none"
            if "error" in rec:
                lines.append(f"| {r['kind']} | {r['cell']} | {rec['stage']} | FAILED: {rec['error']} "
                             "| | | | | | | | | | | " + chg + " |")
                continue
            st = step_time(m)
            lines.append(
                f"| {r['kind']} | {r['cell']} | {rec['stage']} | {m.get('steps', 0)} | {_g(st, 1, '{:.2f}')} "
                f"| {m['wall_s']:.1f} | {m.get('load_avg_1m', 0):.1f} | {_g(m['peak_rss_bytes'])} | {_g(step_peak(m))} | {_g(step_saved(m), 2 ** 30, '{:,.3f}')} | {_g(m.get('params'), 1e6, '{:.1f}')} "
                f"| {_g(m.get('trainable_params'), 1e6, '{:.1f}')} | {_g(m.get('optimizer_state_bytes'), MIB, '{:,.0f}')} "
                f"| {_g(rec['run_bytes'], MIB, '{:,.0f}')} | {chg} |")
    lines += ["", "### At the paper's batch and clip length (extrapolated)", "",
              f"| stage | kind | step ({t_unit}) | step peak GiB | activations GiB | fixed ({t_unit}) | disk per run "
              "| memory fit |",
              "|---|---|---|---|---|---|---|---|"]
    for stage, per in out["costs"].items():
        for kind, c in per.items():
            mf = c.get("memory_fit")
            fit = ("measured" if "time_fit" not in c else "none (one size)" if not mf else
                   f"{mf['points']} loads, terms {mf['terms']}" + (f"; WARNING {mf['warning']}" if mf.get("warning") else ""))
            act = mf["activation_bytes_paper"] if mf else None
            lines.append(f"| {stage} | {kind} | {c['step_s']:,.2f} | {_g(c.get('step_peak_bytes'))} | {_g(act)} "
                         f"| {c.get('fixed_s') or 0:,.1f} | {costs.human_bytes(c['run_bytes'])} | {fit} |")
    lines += list(gpu_lines)  # rehearse --gpu-mem (gpu_costs.rehearsal_lines)
    lines += ["", "### The whole grid", "```", costs.dry_run_lines(full_graph, cells, Path("."), out), "```"]
    if out["profile_checks"]:
        lines += ["", "### Slurm profile checks", ""] + [f"- {x}" for x in out["profile_checks"]]
    lines += ["", "Assumptions: " + "; ".join(out["assumptions"]) + "."]
    return "\n".join(lines)
