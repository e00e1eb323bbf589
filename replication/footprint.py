"""What one training step needs, measured on the CPU: FLOPs and activation bytes at a few small loads,
fitted and extrapolated to the paper's batch and clip length, plus the static memory of the stage.

``python -m replication.footprint --grid paper --size base --write`` measures every footprint the paper
grid needs and writes ``replication/footprints/paper-base.json`` (committed: ``run_all --dry-run`` on a
login node then reads it instead of running Base models). Tiny models measure in seconds, on the fly.

One *spec* is what the step computes: stage, backbone kind, the student/backbone architecture (arch
dict), the frozen teacher's (distillation), the SFI layer settings, ratings per clip pass (the MOS head
runs once per rating) and the sampling rates with their weights. The cells of a grid map onto few
specs (``footprint_spec.spec_for``). For each spec and precision, on real tensors of the real model classes
(random init; the meta device fails: the encoders call ``.item()`` on lengths):

* FLOPs of one forward + backward (the distillation teacher's forward included), counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions, attention: the ops that count);
* activation bytes: the peak of the tensors autograd saves for backward (``measure.SavedBytes``), plus
  the teacher's hidden states, which the distillation step holds through the student's backward;
* static bytes: parameters, the gradients the step produces, and the optimiser state read after one
  real step of the stage's optimiser (RAdam; schedule-free RAdam for MOS stages).

Loads: 1 and 2 clips at three clip lengths of about a second (whole even frame counts, as
``costs.fit_crop`` cuts them); ``costs.activation_fit`` fits both counts as ``c + clips (d + a L + b
L^2)``. Memory is measured at the highest rate (the worst case), FLOPs at every rate and averaged with
the rates' weights. bf16 runs under ``torch.autocast("cpu", bfloat16)``: its memory is measured, its
FLOPs are the fp32 count (FLOPs do not depend on the dtype). LayerDrop is off (every layer runs) and
dropout on (its masks are saved): the worst-case step.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import schedulefree
import torch
from torch.utils.flop_counter import FlopCounterMode

from ablations import graph as graph_mod
from ablations import grid as grid_mod
from sfi_mos.atomic import write_json
from sfi_mos.errors import InputError
from sfi_mos.jsonio import read_json
from sfi_mos.mos.backbone import Backbone
from sfi_mos.mos.model import MOSModel
from sfi_mos.ssl import SFIStudent
from sfi_mos.ssl import arch as archmod
from sfi_mos.ssl.teacher import Teacher
from sfi_mos.train.distill import distill_loss

from . import costs, rehearse_report
from .footprint_spec import spec_for
from .measure import NoLayerDrop, SavedBytes

FORMAT = "sfi_mos.footprints/1"
COMMITTED = Path(__file__).resolve().parent / "footprints"
LENGTHS = (costs.fit_crop(0.6), costs.fit_crop(0.9), costs.fit_crop(1.2))
LOADS = ((1, LENGTHS[0]), (1, LENGTHS[1]), (1, LENGTHS[2]), (2, LENGTHS[2]), (2, LENGTHS[0]))
N_LISTENERS = 300  # listener embeddings of the MOS head (BVCC has ~300 listeners); a few MB at most
PRECISIONS = ("fp32", "bf16")


def key(spec: dict[str, Any], precision: str, with_torch: bool = True) -> str:
    body = {"spec": spec, "precision": precision, "torch": torch.__version__ if with_torch else None}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


# --- the models, built as the stages build them -------------------------------------------------------
def _models(spec: dict[str, Any]):
    """(trainable model, frozen teacher or None, optimiser factory) of the spec's stage; LayerDrop off
    (it is set with the regularisation: every layer runs, the same ops at every load)."""
    with NoLayerDrop():
        return _build(spec)


def _build(spec: dict[str, Any]):
    torch.manual_seed(0)
    if spec["stage"] == "distill":
        teacher = Teacher(archmod.build(spec["teacher_arch"]), spec["teacher_arch"], "teacher").eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        student = SFIStudent(spec["arch"], spec["sfi"]).set_regularisation("hf").train()
        return student, teacher, lambda ps: torch.optim.RAdam(ps, lr=1e-4, weight_decay=0.01,
                                                              decoupled_weight_decay=True)
    if spec["backbone"] == "sfi":
        net = SFIStudent(spec["arch"], spec["sfi"])
    else:
        net = Teacher(archmod.build(spec["arch"]), spec["arch"], "backbone")
    for p in net.parameters():
        p.requires_grad_(True)
    net.set_regularisation("hf")
    model = MOSModel(Backbone(net, spec["backbone"], "last"), N_LISTENERS).train()
    return model, None, lambda ps: schedulefree.RAdamScheduleFree(ps, lr=1e-4)


def _step(spec, model, teacher, clips: int, clip_s: float, rate: int) -> torch.Tensor:
    """The stage's forward pass and loss at one load (the caller runs backward)."""
    gen = torch.Generator().manual_seed(clips * 1000 + int(clip_s * 1000))
    if spec["stage"] == "distill":
        def batch(fs):
            n = int(round(clip_s * fs))
            return torch.randn(clips, n, generator=gen), torch.full((clips,), n, dtype=torch.long)

        (tw, tl), (sw, sl) = batch(16000), batch(rate)
        with torch.no_grad():
            t_h, t_n = teacher(tw, tl)
        model.set_sample_rate(rate)
        s_h, s_n = model(sw, sl)
        return distill_loss(s_h, s_n, t_h, t_n), t_h
    r = spec["ratings_per_pass"]
    wavs = [torch.randn(int(round(clip_s * rate)), generator=gen) for _ in range(clips)]
    utt = torch.arange(clips).repeat_interleave(r)
    lis = torch.arange(clips * r) % N_LISTENERS
    pred = model(wavs, rate, utt, lis, unmasked=True)  # the authors' pooling: padding is signal
    return ((pred.float() - 0.1) ** 2).sum(), []


def _held_bytes(tensors) -> int:
    """Bytes of the teacher's hidden states (distinct storages): held from its forward to the step's end."""
    seen = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(seen.values())


def measure_point(spec, model, teacher, clips: int, clip_s: float, rate: int, precision: str,
                  count_flops: bool = True) -> dict[str, float]:
    """FLOPs and activation bytes of one forward + backward at one load."""
    model.zero_grad(set_to_none=True)
    cast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    flop = FlopCounterMode(display=False) if count_flops else None
    sb = SavedBytes(torch)
    with sb:
        if flop is not None:
            flop.__enter__()
        try:
            with cast:
                loss, held = _step(spec, model, teacher, clips, clip_s, rate)
            held_bytes = _held_bytes(held)
            loss.backward()
        finally:
            if flop is not None:
                flop.__exit__(None, None, None)
    return {"clips": clips, "clip_s": clip_s, "rate": rate, "saved": float(sb.peak + held_bytes),
            "flops": float(flop.get_total_flops()) if flop is not None else None}


def _fit(points, field: str) -> dict[str, Any]:
    fit = costs.activation_fit([{"clips": p["clips"], "clip_s": p["clip_s"], "saved": p[field]} for p in points])
    return {k: v for k, v in fit.items() if k != "predict"}


def measure(spec: dict[str, Any], precisions=PRECISIONS) -> dict[str, dict[str, Any]]:
    """The footprint of ``spec`` in each precision (see the module doc)."""
    t0 = time.perf_counter()
    model, teacher, make_opt = _models(spec)
    rates, weights = list(spec["rates"]), list(spec["rate_weights"])
    top = max(rates)
    fp32 = {r: [measure_point(spec, model, teacher, c, s, r, "fp32") for c, s in LOADS] for r in rates}
    # static memory: the optimiser's state after one real step (on the last load's gradients)
    opt = make_opt([p for p in model.parameters() if p.requires_grad])
    if hasattr(opt, "train"):
        opt.train()  # schedule-free: training mode before a step
    opt.step()
    state = sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values() if torch.is_tensor(t))
    params = list(model.parameters())
    static = {"param_bytes": sum(p.numel() * p.element_size() for p in params),
              # parameters the step never reaches (pre-training heads) get no gradient and no optimiser state
              "grad_bytes": sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None),
              "optimizer_bytes": int(state),
              "frozen_bytes": sum(p.numel() * p.element_size() for p in teacher.parameters()) if teacher else 0,
              "optimizer": type(opt).__name__, "trainable_params": sum(p.numel() for p in params if p.requires_grad)}
    flop_fits = {str(r): _fit(fp32[r], "flops") for r in rates}
    measure_s = time.perf_counter() - t0
    out = {}
    for precision in precisions:
        t1 = time.perf_counter()
        pts = fp32[top] if precision == "fp32" else [
            measure_point(spec, model, teacher, c, s, top, precision, count_flops=False) for c, s in LOADS]
        out[precision] = {
            "format": FORMAT, "key": key(spec, precision), "spec": spec, "precision": precision,
            "torch": torch.__version__, "static": static, "activation_fit": _fit(pts, "saved"),
            "activation_rate": top, "flop_fits": flop_fits, "rate_weights": dict(zip(map(str, rates), weights)),
            "points": pts if precision != "fp32" else [p for r in rates for p in fp32[r]],
            "measure_s": (measure_s if precision == "fp32" else 0.0) + time.perf_counter() - t1}
    return out


# --- predictions from a footprint ---------------------------------------------------------------------
def _poly(fit: dict[str, Any], clips: float, clip_s: float) -> float:
    return fit["c_bytes"] + clips * (fit["bytes_per_clip"] + fit["bytes_per_clip_s"] * clip_s
                                     + fit["bytes_per_clip_s2"] * clip_s ** 2)


def activations(fp: dict[str, Any], clips: float, clip_s: float) -> float:
    """Activation bytes of a forward pass of ``clips`` clips of ``clip_s`` seconds (highest rate)."""
    return _poly(fp["activation_fit"], clips, clip_s)


def flops(fp: dict[str, Any], clips: float, clip_s: float) -> float:
    """FLOPs of forward + backward, averaged over the spec's rates with their weights."""
    w = fp["rate_weights"]
    return sum(w[r] * _poly(fit, clips, clip_s) for r, fit in fp["flop_fits"].items()) / sum(w.values())


def static_bytes(fp: dict[str, Any]) -> int:
    s = fp["static"]
    return s["param_bytes"] + s["grad_bytes"] + s["optimizer_bytes"] + s["frozen_bytes"]


# --- the cache ----------------------------------------------------------------------------------------
class Store:
    """Footprints by key: the committed files (``footprints/*.json``), then ``cache_dir``, else measured
    (and written to ``cache_dir``). A committed footprint measured with another torch version stands in
    for a missing one (its ``torch`` field says so) rather than running Base models on a login node."""

    def __init__(self, cache_dir: str | Path | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.entries: dict[str, dict[str, Any]] = {}
        self.loose: dict[str, dict[str, Any]] = {}
        for path in sorted(COMMITTED.glob("*.json")):
            for fp in read_json(path, what="footprint file").get("entries", {}).values():
                self.entries[fp["key"]] = fp
                self.loose.setdefault(key(fp["spec"], fp["precision"], with_torch=False), fp)

    def get(self, spec: dict[str, Any], precision: str, measure_missing: bool = True) -> dict[str, Any] | None:
        k = key(spec, precision)
        if k in self.entries:
            return self.entries[k]
        path = self.cache_dir / f"{k}.json" if self.cache_dir else None
        if path is not None and path.is_file():
            self.entries[k] = read_json(path, what="footprint cache")
            return self.entries[k]
        other = self.loose.get(key(spec, precision, with_torch=False))
        if other is not None:
            return other
        if not measure_missing:
            return None
        for p, fp in measure(spec).items():
            self.entries[fp["key"]] = fp
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_json(path.parent / f"{fp['key']}.json", fp)
        return self.entries[k]


# --- the command ---------------------------------------------------------------------------------------
def grid_specs(grid_name: str, size: str) -> list[dict[str, Any]]:
    """The distinct specs the grid's training runs need (at ``size``)."""
    grid = grid_mod.get(grid_name)
    graph = graph_mod.build(grid, rehearse_report.paper_inputs())
    specs = {}
    for node in graph.nodes.values():
        spec = spec_for(node, graph, grid, size)
        if spec is not None:
            specs[json.dumps(spec, sort_keys=True)] = spec
    return list(specs.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m replication.footprint", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", default="paper")
    ap.add_argument("--size", default="base", choices=("tiny", "base"))
    ap.add_argument("--write", action="store_true", help=f"write {COMMITTED}/<grid>-<size>.json")
    ap.add_argument("--out", default=None, help="write here instead")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        specs = grid_specs(args.grid, args.size)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    entries: dict[str, Any] = {}
    for i, spec in enumerate(specs):
        t = time.perf_counter()
        for fp in measure(spec).values():
            entries[fp["key"]] = fp
        print(f"[{i + 1}/{len(specs)}] {spec['stage']} {spec['backbone']} {spec['arch']['kind']}: "
              f"{time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    doc = {"format": FORMAT, "grid": args.grid, "size": args.size, "torch": torch.__version__,
           "generated_s": time.perf_counter() - t0, "entries": entries}
    out = args.out or (COMMITTED / f"{args.grid}-{args.size}.json" if args.write else None)
    if out:
        write_json(out, doc)
    print(f"{len(specs)} specs, {len(entries)} footprints in {doc['generated_s']:.0f} s" + (f" -> {out}" if out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
