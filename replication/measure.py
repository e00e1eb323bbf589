"""One stage run, measured: ``python -m replication.measure SPEC.json`` (a rehearsal child process).

SPEC is ``{"stage", "config" (a ``to_dict`` stage config), "run_dir", "threads", "out"}``. The stage runs
as a launcher job runs it (``replication.job.StageJob``); nothing in the stage code is touched, and the
one change, LayerDrop off (``NoLayerDrop``), is recorded.
What is recorded (``out``, JSON, written atomically):

* ``wall_s``; ``setup_s`` (measurement start -> the training optimiser is built) and the end time of every
  optimiser step, from torch's global optimiser step hooks;
* memory: the process's peak RSS (``ru_maxrss``) and, per optimiser step, the peak RSS since the
  previous step ended (freed heap memory is returned first with glibc's ``malloc_trim``, then Linux
  resets the high-water mark through ``/proc/self/clear_refs``); on CUDA
  also ``torch.cuda.max_memory_allocated``, reset the same way;
* activation memory: per optimiser step, the peak bytes of the tensors autograd holds for backward
  (``SavedBytes``). Unlike RSS it does not depend on the allocator, the machine's load or what ran
  before: the same shapes give the same bytes, so it is what the extrapolation to the paper's batch and
  clip length fits (RSS grows by the same amount but carries allocator noise that a 100x extrapolation
  multiplies);
* parameters handed to the optimiser, how many of them train, the optimiser state's bytes.

The *training* optimiser is the last one built: helpers that optimise something first (the SFI filter
fit) build theirs earlier. ``measure(stage, config, run_dir)`` does the same inside the calling process
(the tiny rehearsal in tests); its RSS figures then include whatever the caller holds.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.optimizer import register_optimizer_step_post_hook

from sfi_mos.atomic import write_json
from sfi_mos.ssl import regularise
from sfi_mos.train.memory import SavedBytes

from .job import StageJob

_HWM_RESET = Path("/proc/self/clear_refs")


def _hwm_bytes() -> int | None:
    """Peak resident set size since the last reset (VmHWM), in bytes; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _trim() -> None:
    """Give freed heap memory back to the OS (glibc), so a window's peak RSS starts from memory in use."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_hwm() -> bool:
    _trim()
    try:
        _HWM_RESET.write_text("5")  # "5": reset the peak RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


class Meter:
    """Global optimiser hooks: per optimiser, its build time and every step's end time and peaks."""

    def __init__(self) -> None:
        self.torch = torch
        self.t0 = time.perf_counter()
        self.cuda = torch.cuda.is_available()
        self.resettable = True
        self.opts: list[dict[str, Any]] = []
        self._by_id: dict[int, dict[str, Any]] = {}
        self._handles: list[Any] = []
        self._orig_init = None
        self.saved = SavedBytes(torch)

    def _reset(self) -> None:
        self.resettable = _reset_hwm() and self.resettable
        self.saved.take_peak()
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def _peaks(self) -> dict[str, int | None]:
        out = {"rss": _hwm_bytes(), "saved": self.saved.take_peak()}
        if self.cuda:
            self.torch.cuda.synchronize()
            out["cuda"] = int(self.torch.cuda.max_memory_allocated())
        return out

    def install(self) -> "Meter":
        orig = Optimizer.__init__
        meter = self

        def init(opt, *args, **kwargs):
            orig(opt, *args, **kwargs)
            rec = {"built_s": time.perf_counter() - meter.t0, "class": type(opt).__name__, "steps_s": [],
                   "peaks": [], "opt": opt}
            meter.opts.append(rec)
            meter._by_id[id(opt)] = rec
            meter._reset()  # the first step's window starts here

        def post(opt, _args, _kwargs):
            rec = self._by_id.get(id(opt))
            if rec is None:
                return
            if self.cuda:
                self.torch.cuda.synchronize()
            rec["steps_s"].append(time.perf_counter() - self.t0)
            rec["peaks"].append(self._peaks())
            self._reset()

        self._orig_init = orig
        Optimizer.__init__ = init
        self._handles.append(register_optimizer_step_post_hook(post))
        self.saved.__enter__()
        return self

    def remove(self) -> None:
        if self._orig_init is not None:
            Optimizer.__init__ = self._orig_init
            self.saved.__exit__(None, None, None)
            self._orig_init = None
        for h in self._handles:
            h.remove()

    def summary(self, wall_s: float) -> dict[str, Any]:
        out: dict[str, Any] = {"wall_s": wall_s, "hwm_resettable": self.resettable,
                               "load_avg_1m": os.getloadavg()[0],
                               "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                               "device": "cuda" if self.cuda else "cpu", "torch_threads": self.torch.get_num_threads()}
        if self.cuda:
            out["device_name"] = self.torch.cuda.get_device_name(0)
        if not self.opts:
            return {**out, "steps": 0, "setup_s": None}
        out["other_optimizers"] = [_helper(r) for r in self.opts[:-1]]  # e.g. the SFI filter fit
        rec = self.opts[-1]  # the training optimiser: built last
        opt = rec["opt"]
        params = [p for g in opt.param_groups for p in g["params"]]
        state = sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values()
                    if self.torch.is_tensor(t))
        ends = rec["steps_s"]
        out.update(optimizer=rec["class"], steps=len(ends), setup_s=rec["built_s"],
                   step_end_s=ends, step_peaks=rec["peaks"],
                   params=sum(p.numel() for p in params),
                   trainable_params=sum(p.numel() for p in params if p.requires_grad),
                   optimizer_state_bytes=int(state),
                   tail_s=(wall_s - ends[-1]) if ends else None)
        return out


def _helper(rec: dict[str, Any]) -> dict[str, Any]:
    """Steps and time per step of an optimiser that ran before the training one."""
    ends = [rec["built_s"]] + rec["steps_s"]
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    return {"class": rec["class"], "steps": len(gaps),
            "step_s": sorted(gaps)[len(gaps) // 2] if gaps else None, "total_s": ends[-1] - ends[0]}


class NoLayerDrop:
    """LayerDrop off for the measured run: every layer runs in every step, so the step's activations are
    the run's worst case and the same shapes give the same bytes (with Hugging Face's LayerDrop a step
    skips a random set of layers). Dropout and time masking stay: their saved masks do not change size."""

    def __enter__(self) -> "NoLayerDrop":
        self._mod, self._orig = regularise, regularise.for_model
        self.grid_values: set[float] = set()

        def for_model(mode: str, family: str):
            reg = self._orig(mode, family)
            self.grid_values.add(reg.layerdrop)
            return replace(reg, layerdrop=0.0)

        regularise.for_model = for_model
        return self

    def __exit__(self, *exc: Any) -> None:
        self._mod.for_model = self._orig


def measure(stage: str, config: dict, run_dir: str | os.PathLike, threads: int | None = None) -> dict[str, Any]:
    """Run one stage as a job would (LayerDrop off, see ``NoLayerDrop``), with the meter installed."""
    meter = Meter().install()
    t0 = meter.t0
    try:
        with NoLayerDrop() as nld:
            StageJob(stage, config, str(run_dir), threads)()
    finally:
        meter.remove()
    return {**meter.summary(time.perf_counter() - t0), "layerdrop_in_config": sorted(nld.grid_values)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m replication.measure SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    try:
        result = measure(spec["stage"], spec["config"], spec["run_dir"], spec.get("threads"))
    except Exception as e:  # the stage's own failure record is in run_dir/failed.json
        write_json(spec["out"], {"error": f"{type(e).__name__}: {e}"})
        print(f"error: {spec['stage']} {spec['run_dir']}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    write_json(spec["out"], result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
