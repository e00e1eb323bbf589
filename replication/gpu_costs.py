"""A grid on named GPUs: the micro-batch that fits a memory budget, and GPU-hours per stage.

Memory of a training step on one GPU = static (parameters, gradients, optimiser state, a frozen
teacher) + the activations of one forward pass + ``MARGIN`` of the budget (allocator fragmentation,
cuDNN/cuBLAS workspaces, the CUDA context: an assumption). The activations of ``m`` clips of ``L``
seconds come from a fit ``c + m (d + a L + b L^2)``: the CPU footprint (``replication.footprint``) or,
preferred where it exists, a GPU rehearsal's (``rehearse --json`` on a GPU node: its measured peak
minus its measured activations is the static part).

Time: FLOPs per optimiser step at the paper's load (the footprint's fit, at the mean clip length)
over the GPU's dense peak of the stage's precision times ``MFU`` (an assumption); validation and
prediction passes count a third of a forward + backward. With a GPU rehearsal its measured step times
replace the FLOP estimate.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sfi_mos.config import to_dict
from sfi_mos.errors import InputError

from . import costs, profiles, rehearse_report as report
from .footprint_spec import spec_for

GIB = 2 ** 30
MARGIN = 0.10  # of the budget: allocator, workspaces, CUDA context (assumed)
MFU = 0.30  # achieved / peak dense FLOP/s of the precision's units (assumed; fp32: non-tensor-core peak)
FORWARD_SHARE = 1 / 3  # a forward pass ~ a third of forward + backward (assumed)
TRAINING = ("distill", "pretrain", "finetune")


def precision_of(cfg: Any) -> str:
    return getattr(cfg, "precision", "fp32")  # training stages have one; predict runs in fp32


# --- spec of a training node -------------------------------------------------------------------------
def size_of(grid) -> str:
    """Model size of a grid's runs: tiny random-init teachers for the embedded grids, Base for real ones."""
    return "tiny" if grid.local_teachers or grid.synthetic else "base"


# --- memory ------------------------------------------------------------------------------------------
def need_from_footprint(fp: dict[str, Any]) -> dict[str, Any]:
    from .footprint import static_bytes  # lazy: torch (footprint measures); run_all imports this module at start

    return {"static": float(static_bytes(fp)), "fit": fp["activation_fit"],
            "source": f"CPU footprint ({fp['precision']}, torch {fp['torch']})"}


def need_from_rehearsal(cost: dict[str, Any], device_name: str = "cuda") -> dict[str, Any] | None:
    """The memory need of a rehearsed (stage, kind) on a GPU: static = measured peak - its activations."""
    mf = cost.get("memory_fit")
    if not mf:
        return None
    return {"static": float(mf["measured_peak_bytes"] - mf["activation_bytes_measured"]), "fit": mf,
            "source": f"GPU rehearsal ({device_name})"}


def step_bytes(need: dict[str, Any], clips: float, clip_s: float) -> float:
    f = need["fit"]
    act = f["c_bytes"] + clips * (f["bytes_per_clip"] + f["bytes_per_clip_s"] * clip_s + f["bytes_per_clip_s2"] * clip_s ** 2)
    return need["static"] + act


def micro_batch(need: dict[str, Any], budget_bytes: float, clips_per_pass: int, clip_s_max: float,
                stage: str = "stage") -> int:
    """The largest m <= clips_per_pass with static + activations(m, clip_s_max) + MARGIN x budget <=
    budget; InputError when one clip does not fit. ``need``: ``need_from_footprint`` /
    ``need_from_rehearsal`` (a footprint dict is converted)."""
    if "activation_fit" in need:
        need = need_from_footprint(need)
    room = budget_bytes * (1 - MARGIN)
    one = step_bytes(need, 1, clip_s_max)
    if one > room:
        raise InputError(stage, f"one clip of {clip_s_max:g} s needs {one / GIB:,.1f} GiB "
                         f"(+{MARGIN:.0%} margin) > the {budget_bytes / GIB:,.1f} GiB budget "
                         f"({need['source']}): use a larger GPU or shorter clips")
    per_clip = step_bytes(need, 2, clip_s_max) - one
    m = clips_per_pass if per_clip <= 0 else int(1 + (room - one) // per_clip)
    m = max(1, min(clips_per_pass, m))
    while m > 1 and step_bytes(need, m, clip_s_max) > room:  # rounding: never over the budget
        m -= 1
    return m


# --- one node ----------------------------------------------------------------------------------------
class Planner:
    """Footprints and needs of a grid's training nodes, at the grid's model size."""

    def __init__(self, graph, grid, cache_dir: str | Path | None = None, rehearsal: dict | None = None):
        from .footprint import Store  # lazy: torch; only once a GPU plan is asked for

        self.graph, self.grid, self.size = graph, grid, size_of(grid)
        self.store = Store(cache_dir)
        self.rehearsal = rehearsal if rehearsal and rehearsal.get("device") == "cuda" else None

    def footprint(self, node) -> dict[str, Any] | None:
        spec = spec_for(node, self.graph, self.grid, self.size)
        return None if spec is None else self.store.get(spec, precision_of(node.config))

    def need(self, node, kind: str | None = None) -> dict[str, Any] | None:
        if self.rehearsal is not None and kind is not None:
            cost, _ = costs.cost_for(self.rehearsal["costs"], node.stage, kind)
            need = need_from_rehearsal(cost, self.rehearsal.get("device_name", "cuda")) if cost else None
            if need is not None:
                return need
        fp = self.footprint(node)
        return None if fp is None else need_from_footprint(fp)

    def execution(self, node, budget_gib: float, tasks: int = 1, kind: str | None = None) -> dict[str, Any] | None:
        """``Execution`` fields of a training node under a per-task budget (None: not a training node)."""
        if node.stage not in TRAINING:
            return None
        need = self.need(node, kind)
        if need is None:
            return None
        load = report.paper_load(node.stage, node.config)
        per_rank = math.ceil(load["clips"] / tasks)
        m = micro_batch(need, budget_gib * GIB, per_rank, load["clip_s_max"], f"{node.stage} {node.rel}")
        return {"micro_batch": None if m >= per_rank else m, "gpu_mem_gib": float(budget_gib)}


def executions(graph, grid, nodes, budget_of, cache_dir=None) -> dict[str, dict[str, Any]]:
    """Execution dicts by run (rel) of the training ``nodes`` whose stage has a budget
    (``budget_of(stage) -> (GiB, tasks) | None``); the first run that cannot fit one clip raises."""
    planner, out = None, {}
    for node in nodes:
        plan = budget_of(node.stage) if node.stage in TRAINING else None
        if plan is None:
            continue
        planner = planner or Planner(graph, grid, cache_dir)
        ex = planner.execution(node, *plan)
        if ex is not None:
            out[node.rel] = ex
    return out


# --- the dry run's GPU table -------------------------------------------------------------------------
def _row(stage, runs, flops, prec, hours, mb, wall, limit) -> str:
    return f"{stage:<10}{runs:>5}  {flops:>17}  {prec:>9}  {hours:>10}  {mb:>20}  {wall:>8}  {limit:>6}"


def _num(x: float) -> str:
    return f"{x:,.1f}" if x >= 10 else f"{x:.3g}"


def _node_row(planner, node, kind: str, plan: dict, corpora, cache, budget_gib: float) -> dict[str, Any]:
    """GPU seconds, FLOPs per step, micro-batch and fit of one run (training or predict)."""
    from .footprint import flops  # lazy: torch, as above

    gpu, tasks = plan["gpu"], plan["tasks"]
    run = costs.node_plan(node.stage, node.config, corpora, cache)
    prec = precision_of(node.config) if node.stage in TRAINING else "fp32"
    peak = gpu.peak_tflops(prec)
    out: dict[str, Any] = {"precision": prec, "flops_step": None, "gpu_s": None, "mb": None, "misfit": None,
                           "measured": False}
    cost = None
    if planner.rehearsal is not None:
        cost, _ = costs.cost_for(planner.rehearsal["costs"], node.stage, kind)
    if node.stage == "predict":
        fps = [planner.footprint(planner.graph.nodes[p]) for p in node.parents[:1] if p in planner.graph.nodes]
        if fps and fps[0] is not None and peak:
            per = FORWARD_SHARE * flops(fps[0], 1, report.paper_load("predict", node.config)["clip_s_mean"])
            out["gpu_s"] = run["steps"] * per / (peak * 1e12 * MFU)
    elif node.stage in TRAINING and run["steps"] == 0:  # the no-distillation control trains nothing
        out["gpu_s"] = 0.0
    elif node.stage in TRAINING:
        fp = planner.footprint(node)
        load = report.paper_load(node.stage, node.config)
        if fp is not None:
            passes = load["clips_per_step"] / load["clips"]
            out["flops_step"] = passes * flops(fp, load["clips"], load["clip_s_mean"])
            val = run["epochs"] * run["val_clips"] * FORWARD_SHARE * flops(fp, 1, load["clip_s_mean"])
            if peak:
                out["gpu_s"] = (run["steps"] * out["flops_step"] + val) / (peak * 1e12 * MFU)
        try:
            ex = planner.execution(node, budget_gib, tasks, kind)
            per_rank = math.ceil(load["clips"] / tasks)
            out["mb"] = (per_rank if ex is None or ex["micro_batch"] is None else ex["micro_batch"], per_rank)
        except InputError as e:
            out["misfit"] = str(e)
    if cost is not None and cost.get("step_s") is not None:
        out["gpu_s"], out["measured"] = costs.run_seconds(run, cost), True
    if out["gpu_s"] is not None:
        out["wall_min"] = out["gpu_s"] / tasks / 60
    return out


def dry_run_lines(graph, grid, cells: dict[str, Any], grid_dir: Path, profile: dict[str, Any] | None,
                  gpu_name: str | None = None, gpu_mem: float | None = None,
                  rehearsal: dict[str, Any] | None = None) -> str:
    """The GPU table of ``run_all --dry-run``: per stage runs, FLOPs per step, GPU-hours, micro-batch,
    time per run against the profile's ``time``, and the runs that do not fit the GPU."""
    profile = profile or {"defaults": {}, "stages": {}}
    stages = [s for s in ("distill", "pretrain", "finetune", "predict") if any(n.stage == s for n in graph.nodes.values())]
    plans = {s: profiles.gpu_plan(profile, s, gpu_name) for s in stages}
    if not any(plans.values()):
        from . import gpus  # the table of names, for the hint

        return ("GPU plan: no GPU named: add gpu = \"<name>\" (and gpus >= 1) to the profile's [defaults], or "
                f"pass --gpu NAME; known: {', '.join(gpus.GPUS)}")
    planner = Planner(graph, grid, Path(grid_dir) / "footprints", rehearsal)
    corpora, cache = costs.Corpora(grid_dir), costs._PLANS.setdefault(str(grid_dir), {})
    head = [f"GPU plan of grid {graph.grid} ({planner.size}-size models):"]
    rows, misfits, warns, cards = [], [], [], set()
    for stage in stages:
        plan = plans[stage]
        if plan is None:
            rows.append(f"{stage:<10}{'':>6}  not on a GPU in this profile (gpus = 0 or no gpu)")
            continue
        budget = gpu_mem or plan["gpu_mem_gib"]
        cards.add(f"{plan['gpu'].name} ({plan['gpu'].mem_gib:g} GiB reported; budget {budget:g} GiB per task, "
                  f"{plan['tasks']} task(s) per run)")
        recs = []
        for node in (n for n in graph.nodes.values() if n.stage == stage):
            kind = cells[node.cells[0]].kind if node.cells else "grid"
            recs.append((node, _node_row(planner, node, kind, plan, corpora, cache, budget)))
        gpu_s = [r["gpu_s"] for _, r in recs]
        fl = sorted({r["flops_step"] / 1e12 for _, r in recs if r["flops_step"]})
        mbs = [r["mb"] for _, r in recs if r["mb"]]
        split = [m for m in mbs if m[0] < m[1]]
        mb = "-" if not mbs else (f"{min(m[0] for m in split)} of {max(m[1] for m in split)}" if split
                                   else f"whole ({max(m[1] for m in mbs)})")
        bad = [(n, r) for n, r in recs if r["misfit"]]
        if bad:
            mb = f"{len(bad)} run(s) do not fit"
            misfits += [f"  {stage}: {len(bad)} run(s) do not fit {plan['gpu'].name}: {bad[0][1]['misfit']}"]
        walls = [r.get("wall_min") for _, r in recs if r.get("wall_min") is not None]
        limit = profiles.stage_params(profile, stage, grid.timeout_min[stage])["timeout_min"]
        total = "-" if any(s is None for s in gpu_s) else _num(sum(gpu_s) / 3600)
        wall = f"{max(walls):,.0f}" if walls else "-"
        prec = "/".join(sorted({r["precision"] for _, r in recs}))
        flops_txt = "-" if not fl else (_num(fl[0]) if _num(fl[0]) == _num(fl[-1]) else f"{_num(fl[0])}-{_num(fl[-1])}")
        measured = " (rehearsal)" if any(r["measured"] for _, r in recs) else ""
        rows.append(_row(stage, len(recs), flops_txt, prec, total + measured, mb, wall, limit))
        if walls and max(walls) > limit and stage != "predict":
            n = math.ceil(max(walls) / limit) - 1
            warns.append(f"  WARNING {stage}: a run needs ~{max(walls):,.0f} min > --time {limit} min: {n} requeue(s) "
                         "from its checkpoint" + (" -- more than submitit's 3: raise time or tasks" if n > 3 else ""))
    head.append("  GPU: " + "; ".join(sorted(cards)))
    head.append(_row("stage", "runs", "TFLOP/step", "prec", "GPU-h", "micro-batch", "min/run", "--time"))
    source = ("GPU-h: FLOPs counted by torch's FlopCounterMode on the CPU (forward + backward at the paper's batch, "
              f"mean clip length) / ({MFU:.0%} MFU x the GPU's dense peak of the precision: fp32 = non-tensor-core, "
              "bf16 = tensor core); validation and prediction passes count 1/3; setup and I/O not counted; "
              "min/run = GPU time / tasks (ideal data parallelism)")
    if planner.rehearsal is not None:
        source += f"; '(rehearsal)': step times measured by a GPU rehearsal ({planner.rehearsal.get('device_name')})"
    memory = (f"micro-batch: clips per forward pass that fit the budget (static + activations at the longest clip + "
              f"{MARGIN:.0%} margin); activation fit from "
              + ("the GPU rehearsal where it has the stage and kind, else " if planner.rehearsal else "")
              + f"CPU footprints ({'replication/footprints/paper-base.json' if planner.size == 'base' else 'measured on the fly'})")
    return "\n".join(head + rows + [f"  {source}", f"  {memory}"] + misfits + warns)


# --- the rehearsal report's GPU budget (rehearse --gpu-mem) --------------------------------------------
def rehearsal_budget(out: dict[str, Any], graph, grid, budget_gib: float, size: str, cache_dir: Path) -> None:
    """Add ``gpu`` to each rehearsed training (stage, kind) of ``out["costs"]``: the micro-batch that fits
    ``budget_gib`` from the rehearsal's activation fit (static part: measured on a GPU, else the CPU
    footprint's), and the footprint's step memory at the paper's load in fp32 and bf16."""
    from .footprint import Store, activations, static_bytes  # lazy: torch; rehearse runs it after measuring

    store = Store(cache_dir)
    for r in out["cells"]:
        for rec in r["stages"]:
            stage, kind = rec["stage"], r["kind"]
            cost = out["costs"].get(stage, {}).get(kind)
            node = next((n for n in graph.nodes.values() if n.stage == stage and r["cell"] in n.cells), None)
            if stage not in TRAINING or cost is None or node is None or "gpu" in cost:
                continue
            spec = spec_for(node, graph, grid, size)
            if spec is None:
                continue
            load = rec["paper_load"]
            fps = {p: store.get(spec, p) for p in ("fp32", "bf16")}
            est = {p: static_bytes(fp) + activations(fp, load["clips"], load["clip_s_max"]) for p, fp in fps.items()}
            gpu: dict[str, Any] = {"budget_gib": budget_gib, "footprint_step_gib": {p: v / GIB for p, v in est.items()},
                                   "clips_per_pass": load["clips"]}
            need = need_from_rehearsal(cost, out.get("device_name", "cuda")) if out["device"] == "cuda" else None
            if need is None and cost.get("memory_fit"):
                need = {"static": float(static_bytes(fps["fp32"])), "fit": cost["memory_fit"],
                        "source": "rehearsal activation fit + CPU footprint static memory"}
            if need is None:
                need, gpu["note"] = need_from_footprint(fps["fp32"]), "no rehearsal activation fit: CPU footprint"
            gpu["source"] = need["source"]
            try:
                gpu["micro_batch"] = micro_batch(need, budget_gib * GIB, load["clips"], load["clip_s_max"], stage)
            except InputError as e:
                gpu["micro_batch"], gpu["error"] = None, str(e)
            cost["gpu"] = gpu


def rehearsal_lines(out: dict[str, Any]) -> list[str]:
    """The markdown table of ``rehearsal_budget``'s figures (empty without them)."""
    rows = [(s, k, c["gpu"]) for s, per in out["costs"].items() for k, c in per.items() if "gpu" in c]
    if not rows:
        return []
    lines = ["", f"### GPU memory budget {rows[0][2]['budget_gib']:g} GiB per task", "",
             "| stage | kind | micro-batch (clips per pass) | of | step GiB fp32 (footprint) | step GiB bf16 (footprint) | from |",
             "|---|---|---|---|---|---|---|"]
    for stage, kind, g in rows:
        mb = g["micro_batch"] if g["micro_batch"] is not None else f"does not fit: {g['error']}"
        fs = g["footprint_step_gib"]
        lines.append(f"| {stage} | {kind} | {mb} | {g['clips_per_pass']} | {fs['fp32']:,.1f} | {fs['bf16']:,.1f} | {g['source']} |")
    return lines
