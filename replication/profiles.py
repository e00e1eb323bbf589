"""Slurm profiles: ``slurm/<name>.toml`` → submitit executor parameters per stage.

A profile has a ``[defaults]`` table and optional ``[stages.<stage>]`` tables overriding it:
partition, account, qos, cpus, gpus, mem, time (minutes; default: the grid's per-stage limit),
signal_delay_s, array_parallelism, constraint, setup (shell lines run before the job) and
``extra`` (any other sbatch flag, e.g. ``{exclude = "node[1-3]"}``).
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sfi_mos.errors import InputError

SLURM_DIR = Path(__file__).resolve().parents[1] / "slurm"
KEYS = {"partition", "account", "qos", "cpus", "gpus", "mem", "time", "signal_delay_s",
        "array_parallelism", "constraint", "setup", "extra"}


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
    return prof


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
    for key in ("partition", "account", "qos", "mem", "constraint", "setup"):
        if p.get(key):
            out[f"slurm_{key}"] = p[key]
    out["slurm_additional_parameters"] = dict(p.get("extra", {}))
    return out
