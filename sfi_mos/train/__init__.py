"""Training stages. Each stage is ``run(cfg, run_dir)`` over one typed config (see ``configs``).

``STAGES`` maps a stage name to its config class and the dotted path of its ``run`` function
(``replication.registry.load`` imports it in the job), so the light modules (configs, grids) never
pull in torch.
"""
from __future__ import annotations

from .configs import (DistillConfig, ImportConfig, MOSTrainConfig, PeersConfig, PredictConfig, ProbeConfig,
                      ScoreConfig)

STAGES: dict[str, tuple[type, str]] = {
    "distill": (DistillConfig, "sfi_mos.train.distill:run"),
    "import": (ImportConfig, "sfi_mos.train.import_stage:run"),  # released students (run_all --students)
    "pretrain": (MOSTrainConfig, "sfi_mos.train.mos_stage:run"),
    "finetune": (MOSTrainConfig, "sfi_mos.train.mos_stage:run"),
    "predict": (PredictConfig, "sfi_mos.train.predict_stage:run"),
    "score": (ScoreConfig, "sfi_mos.train.score_stage:run"),
    "probe": (ProbeConfig, "sfi_mos.train.probe_stage:run"),
    "peers": (PeersConfig, "sfi_mos.train.peers_stage:run"),
}

