"""Where the launcher finds stage functions and the input-preparation functions, by dotted path.

Everything is imported lazily in the job process, so a stage module that is missing fails that
stage clearly (and not the dry run). ``SFI_MOS_REGISTRY=<module>`` overrides entries: the module
may define ``STAGES`` ({stage: "module:attr"}) and ``PREPARE`` ({"synthetic"|"teachers": "module:attr"});
the tests use it to run the launcher mechanics with small sleeping/checkpointing stages.
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Callable

from sfi_mos.train import STAGES as _STAGES

ENV = "SFI_MOS_REGISTRY"
PREPARE = {
    "synthetic": "sfi_mos.data.synth:generate",  # generate(out, size, seed) -> Path
    "fingerprint": "sfi_mos.data.synth:fingerprint",  # fingerprint(dir) -> str
    "teachers": "sfi_mos.ssl:write_tiny_checkpoints",  # (out_dir, size, seed) -> {name: path}
}


def _override() -> Any:
    mod = os.environ.get(ENV)
    return importlib.import_module(mod) if mod else None


def stage_path(stage: str) -> str:
    ov = _override()
    if ov is not None and stage in getattr(ov, "STAGES", {}):
        return ov.STAGES[stage]
    if stage not in _STAGES:
        raise KeyError(f"unknown stage {stage!r}; known: {sorted(_STAGES)}")
    return _STAGES[stage][1]


def prepare_path(name: str) -> str:
    ov = _override()
    if ov is not None and name in getattr(ov, "PREPARE", {}):
        return ov.PREPARE[name]
    return PREPARE[name]


def load(dotted: str) -> Callable[..., Any]:
    """Import ``module:attr``; a missing module names the stage implementation that is absent."""
    module, _, attr = dotted.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise RuntimeError(f"stage implementation {dotted!r} is not available: {e}") from e
    try:
        return getattr(mod, attr)
    except AttributeError as e:
        raise RuntimeError(f"{module} has no {attr!r} (wanted {dotted!r})") from e
