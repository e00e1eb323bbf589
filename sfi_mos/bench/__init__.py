"""Benchmarks: ``python -m sfi_mos.bench NAME [--json OUT] [module options]``.

Each ``sfi_mos/bench/<NAME>.py`` exposes ``run(args) -> dict`` (and optionally
``add_arguments(parser)`` for its own options); the dispatcher prints the dict as a table and
writes it as JSON atomically. Helpers shared by the modules live here.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable


def time_interleaved(fns: dict[str, Callable[[], object]], reps: int = 5,
                     warmup: int = 1) -> dict[str, dict[str, float]]:
    """Seconds per call of each function, measured round-robin so that load changes on a shared
    machine hit every candidate alike; returns min and median per name."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: {"min": min(v), "median": statistics.median(v)} for name, v in times.items()}


def flatten(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            rows.extend(flatten(v, key))
        else:
            rows.append((key, v))
    return rows


def format_table(d: dict) -> str:
    rows = flatten(d)
    width = max((len(k) for k, _ in rows), default=0)
    out = []
    for k, v in rows:
        if isinstance(v, float):
            v = f"{v:.4g}"
        out.append(f"{k:<{width}}  {v}")
    return "\n".join(out)


def options(args, defaults: dict, add_arguments: Callable, name: str) -> argparse.Namespace:
    """A bench module's options: parsed from an argv list (or None), or taken from the dispatcher's
    Namespace with ``defaults`` for what it lacks."""
    if args is None or isinstance(args, (list, tuple)):
        parser = argparse.ArgumentParser(prog=f"python -m sfi_mos.bench {name}")
        add_arguments(parser)
        return parser.parse_args(list(args or []))
    return argparse.Namespace(**{k: getattr(args, k, None) if getattr(args, k, None) is not None else v
                                 for k, v in defaults.items()})
