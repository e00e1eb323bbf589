"""Slurm profiles: ``slurm/<name>.toml`` → submitit executor parameters per stage.

A profile has a ``[defaults]`` table and optional ``[stages.<stage>]`` tables overriding it:
partition, account, qos, cpus, gpus, mem, time (minutes; default: the grid's per-stage limit),
signal_delay_s, array_parallelism, constraint, setup (shell lines run before the job) and
``extra`` (any other sbatch flag, e.g. ``{exclude = "node[1-3]"}``).

GPU planning: ``gpu`` (a name of ``replication.gpus``; default none), ``gpu_mem`` (GiB a task may use;
default the GPU's memory) and ``tasks`` (data-parallel processes per run, one per GPU: the
``torch.distributed`` ranks; default ``gpus`` when gpus > 1, else 1). ``tasks`` becomes submitit's
``tasks_per_node``: Slurm starts the ranks. ``gpu``/``gpu_mem`` choose the micro-batch of training
stages (``replication.gpu_costs``) and price the grid in GPU-hours (``run_all --dry-run``).
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sfi_mos.errors import InputError

from . import gpus

SLURM_DIR = Path(__file__).resolve().parents[1] / "slurm"
KEYS = {"partition", "account", "qos", "cpus", "gpus", "mem", "time", "signal_delay_s",
        "array_parallelism", "constraint", "setup", "extra", "gpu", "gpu_mem", "tasks"}
# value checks: (test, what a valid value is)
_INT = (lambda v: type(v) is int and v >= 0, "an integer >= 0")
CHECKS = {"gpus": _INT, "cpus": _INT, "time": (lambda v: type(v) is int and v >= 1, "minutes, an integer >= 1"),
          "tasks": (lambda v: type(v) is int and v >= 1, "an integer >= 1"),
          "gpu_mem": (lambda v: type(v) in (int, float) and v > 0, "GiB, a number > 0"),
          "gpu": (lambda v: isinstance(v, str) and v in gpus.GPUS, f"a GPU name, one of {', '.join(gpus.GPUS)}")}


def load(name: str | None) -> dict[str, Any]:
    if not name:
        return {"defaults": {}, "stages": {}}
    path = Path(name) if name.endswith(".toml") else SLURM_DIR / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in SLURM_DIR.glob("*.toml"))
        raise InputError("--profile", f"no profile {path} (known: {', '.join(known)})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(str(path), f"not valid TOML: {e}") from None
    prof = {"defaults": data.pop("defaults", {}), "stages": data.pop("stages", {})}
    if data:
        raise InputError(str(path), f"unknown top-level keys {sorted(data)} (use [defaults], [stages.<name>])")
    for where, table in [("defaults", prof["defaults"])] + [(f"stages.{k}", v) for k, v in prof["stages"].items()]:
        bad = set(table) - KEYS
        if bad:
            raise InputError(f"{path} [{where}]", f"unknown keys {sorted(bad)}; allowed: {sorted(KEYS)}")
        for k, v in table.items():
            if k in CHECKS and not CHECKS[k][0](v):
                raise InputError(f"{path} [{where}] {k}", f"got {v!r}: expected {CHECKS[k][1]}")
    return prof


def tasks(p: dict[str, Any]) -> int:
    """Data-parallel processes per run of a stage's merged parameters ``p``."""
    return int(p.get("tasks") or (p.get("gpus") if (p.get("gpus") or 0) > 1 else 1))


def gpu_plan(profile: dict[str, Any], stage: str, gpu_name: str | None = None) -> dict[str, Any] | None:
    """``{"gpu", "gpu_mem_gib", "tasks"}`` of a stage that runs on GPUs (``gpus`` >= 1) of a named kind
    (``gpu_name`` overrides the profile's ``gpu``: ``run_all --gpu``); else None."""
    p = {**profile["defaults"], **profile["stages"].get(stage, {})}
    name = gpu_name or p.get("gpu")
    if not name or not p.get("gpus"):
        return None
    gpu = gpus.get(name, "--gpu" if gpu_name else "profile gpu")
    return {"gpu": gpu, "gpu_mem_gib": float(p.get("gpu_mem") or gpu.mem_gib), "tasks": tasks(p)}


def stage_params(profile: dict[str, Any], stage: str, timeout_min: int) -> dict[str, Any]:
    """submitit ``update_parameters`` kwargs for one stage on Slurm."""
    p = {**profile["defaults"], **profile["stages"].get(stage, {})}
    out: dict[str, Any] = {"timeout_min": int(p.get("time", timeout_min)), "name": f"sfi-mos-{stage}",
                           "slurm_signal_delay_s": int(p.get("signal_delay_s", 120)),
                           "slurm_array_parallelism": int(p.get("array_parallelism", 256))}
    if p.get("cpus"):
        out["cpus_per_task"] = int(p["cpus"])
    if p.get("gpus"):
        out["gpus_per_node"] = int(p["gpus"])
    out["tasks_per_node"] = tasks(p)  # one rank per GPU; Slurm starts them (srun), submitit sets them up
    for key in ("partition", "account", "qos", "mem", "constraint", "setup"):
        if p.get(key):
            out[f"slurm_{key}"] = p[key]
    out["slurm_additional_parameters"] = dict(p.get("extra", {}))
    return out
