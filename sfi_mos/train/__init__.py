"""Training stages. Each stage is ``run(cfg, run_dir)`` over one typed config (see ``configs``).

``STAGES`` maps a stage name to its config class and the dotted path of its ``run`` function; the
function is imported only when asked for, so the light modules (configs, grids) never pull in torch.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from .configs import DistillConfig, MOSTrainConfig, PredictConfig, ScoreConfig

STAGES: dict[str, tuple[type, str]] = {
    "distill": (DistillConfig, "sfi_mos.train.distill:run"),
    "pretrain": (MOSTrainConfig, "sfi_mos.train.mos_stage:run"),
    "finetune": (MOSTrainConfig, "sfi_mos.train.mos_stage:run"),
    "predict": (PredictConfig, "sfi_mos.train.predict_stage:run"),
    "score": (ScoreConfig, "sfi_mos.train.score_stage:run"),
}


def stage_runner(name: str) -> Callable[[Any, Any], Any]:
    """The ``run(cfg, run_dir)`` function of stage ``name``."""
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; known: {sorted(STAGES)}")
    module, _, attr = STAGES[name][1].partition(":")
    return getattr(importlib.import_module(module), attr)
