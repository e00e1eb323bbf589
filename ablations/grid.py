"""The ablation study as code: factors, cells and the named grids ``paper``, ``default``, ``smoke``.

A *cell* is one combination of factors (backbone variant, teacher, distillation on/off, MOS
pre-training on/off, SFI stride policy, seed); folds live inside a cell (fine-tune per fold, one
ensemble prediction). A *grid* is a list of cells plus the hyper-parameter templates of each stage.
``ablations.graph`` turns a grid into the deduplicated stage graph.

Not every factor combination exists: the resampling baselines have no distillation and no stride
policy, and the "no distillation" control (``DistillConfig.steps == 0``: teacher-initialised SFI
student, untrained) is only run with pre-training, as in the paper's "encoder copy" row.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace

from sfi_mos.errors import InputError
from sfi_mos.train.configs import (DistillConfig, MOSTrainConfig, PredictConfig, ScoreConfig,
                                   SFISpec)

VARIANTS = ("sfi", "resample", "resample_sr")
TEACHERS = ("wav2vec2", "hubert", "wavlm")
POLICIES = ("truncate", "sinc", "phase")
STAGE_ORDER = ("distill", "pretrain", "finetune", "predict", "score")

# s3prl upstream names: registered (downloads, paper) and *_local (a checkpoint file we write)
PAPER_UPSTREAMS = {"wav2vec2": "wav2vec2", "hubert": "hubert", "wavlm": "wavlm_base_plus"}
LOCAL_UPSTREAMS = {"wav2vec2": "wav2vec2_local", "hubert": "hubert_local", "wavlm": "wavlm_local"}


@dataclass(frozen=True)
class Cell:
    variant: str = "sfi"
    teacher: str = "hubert"
    distill: bool = True  # sfi only; False = teacher-initialised student, no distillation steps
    pretrain: bool = True  # MOS pre-training on BVCC before fine-tuning
    policy: str | None = "phase"  # sfi only: SFI stride policy
    seed: int = 0  # fine-tuning seed (shared stages use the grid's base seed)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise InputError("cell", f"variant {self.variant!r} not in {VARIANTS}")
        if self.teacher not in TEACHERS:
            raise InputError("cell", f"teacher {self.teacher!r} not in {TEACHERS}")
        if self.variant == "sfi":
            if self.policy not in POLICIES:
                raise InputError("cell", f"stride policy {self.policy!r} not in {POLICIES}")
        elif self.distill or self.policy is not None:
            raise InputError("cell", f"{self.variant} has no distillation or stride policy "
                             f"(got distill={self.distill}, policy={self.policy!r})")

    @property
    def kind(self) -> str:
        """What a run of this cell exercises: ``sfi`` (distilled student), ``sfi-nokd`` (teacher-initialised
        student, no distillation), ``resample``, ``resample_sr``. Pre-training, policy and seed do not
        change the code a cell runs, only whether the pretrain stage exists."""
        if self.variant == "sfi":
            return "sfi" if self.distill else "sfi-nokd"
        return self.variant

    @property
    def name(self) -> str:
        parts = [self.variant, self.teacher]
        if self.variant == "sfi":
            parts += [self.policy, "kd" if self.distill else "nokd"]
        parts += ["pt" if self.pretrain else "nopt", f"s{self.seed}"]
        return "-".join(parts)


def sfi_cell(teacher: str, policy: str = "phase", distill: bool = True, pretrain: bool = True,
             seed: int = 0) -> Cell:
    return Cell("sfi", teacher, distill, pretrain, policy, seed)


def baseline_cell(variant: str, teacher: str, pretrain: bool = True, seed: int = 0) -> Cell:
    return Cell(variant, teacher, False, pretrain, None, seed)


@dataclass(frozen=True)
class Grid:
    """A named study: its cells and the stage templates they are filled into."""

    name: str
    cells: tuple[Cell, ...]
    folds: int
    synthetic: str | None  # synthetic corpus size ("tiny"/"demo"), None = real corpora required
    local_teachers: bool  # True: tiny random-init checkpoints written under results/<grid>/teachers
    distill: DistillConfig
    pretrain: MOSTrainConfig
    finetune: MOSTrainConfig
    predict: PredictConfig
    score: ScoreConfig
    base_seed: int = 0  # seed of the shared stages (data, teachers, distill, pretrain)
    # wall-clock limit per stage job in minutes (Slurm --time, local executor timeout)
    timeout_min: dict[str, int] = field(default_factory=lambda: {s: 60 for s in STAGE_ORDER})

    def select(self, only: str | None) -> "Grid":
        """Keep the cells whose name matches any comma-separated glob in ``only``."""
        if not only:
            return self
        pats = [p.strip() for p in only.split(",") if p.strip()]
        keep = tuple(c for c in self.cells if any(fnmatch.fnmatchcase(c.name, p) for p in pats))
        if not keep:
            raise InputError("--only", f"{only!r} matches no cell of grid {self.name!r}; cells: "
                             + ", ".join(c.name for c in self.cells))
        return replace(self, cells=keep)


# ---- the paper study -------------------------------------------------------------------------
def _paper_cells(seeds: tuple[int, ...] = (0,)) -> tuple[Cell, ...]:
    cells = []
    for seed in seeds:
        for t in TEACHERS:
            for policy in POLICIES:  # proposed model and the stride-policy study, with/without pretraining
                for pt in (True, False):
                    cells.append(sfi_cell(t, policy, True, pt, seed))
            cells.append(sfi_cell(t, "phase", distill=False, pretrain=True, seed=seed))  # w/o distillation
            for variant in ("resample", "resample_sr"):  # non-SFI baselines, with/without pretraining
                for pt in (True, False):
                    cells.append(baseline_cell(variant, t, pt, seed))
    return tuple(cells)


def paper() -> Grid:
    # hyper-parameters from the reference code (research notes, paper_and_challenge.md §1.4-1.6)
    return Grid(
        name="paper", cells=_paper_cells(), folds=7, synthetic=None, local_teachers=False,
        distill=DistillConfig(steps=200_000, rates=(8000, 16000, 24000, 48000), crop_seconds=20.0,
                              batch_size=8, lr=1e-4, weight_decay=0.01, fit_steps=300, ckpt_every=1000),
        pretrain=MOSTrainConfig(stage="pretrain", fold=None, max_epochs=50, batch_size=32, grad_accum=2,
                                lr=1e-4, clip=1.0, ckpt_every=500),
        finetune=MOSTrainConfig(stage="finetune", n_folds=7, max_epochs=50, batch_size=1, grad_accum=24,
                                lr=1e-4, clip=1.0, ckpt_every=500),
        predict=PredictConfig(splits=("dev", "eval"), batch_size=8),
        score=ScoreConfig(bootstrap=1000),
        timeout_min={"distill": 24 * 60, "pretrain": 12 * 60, "finetune": 8 * 60, "predict": 60, "score": 30},
    )


# ---- embedded grids (tiny models, synthetic corpus) -----------------------------------------
TINY_SFI = SFISpec(n_freq=64, naf_features=16, naf_hidden=(32, 32))


def _tiny(name: str, cells: tuple[Cell, ...], folds: int, size: str, distill_steps: int, epochs: int,
          bootstrap: int) -> Grid:
    return Grid(
        name=name, cells=cells, folds=folds, synthetic=size, local_teachers=True,
        distill=DistillConfig(sfi=TINY_SFI, steps=distill_steps, rates=(8000, 16000, 24000, 48000),
                              crop_seconds=1.0, batch_size=2, lr=1e-3, fit_steps=20, ckpt_every=5),
        pretrain=MOSTrainConfig(stage="pretrain", fold=None, max_epochs=epochs, batch_size=4, grad_accum=1,
                                lr=1e-3, max_seconds=1.0, ckpt_every=0),
        finetune=MOSTrainConfig(stage="finetune", n_folds=folds, max_epochs=epochs, batch_size=1,
                                grad_accum=2, lr=1e-3, max_seconds=1.0, ckpt_every=0),
        predict=PredictConfig(splits=("dev", "eval"), batch_size=4),
        score=ScoreConfig(bootstrap=bootstrap),
        timeout_min={s: 15 for s in STAGE_ORDER},
    )


def default() -> Grid:
    # the paper's ablation rows (distillation, MOS pre-training, SFI vs resampling baselines) plus the
    # reference code's stride policy, on one teacher: 38 runs, about 3 min on 2 idle cores (target <= 10).
    # The other teachers and the sinc policy are in ``paper`` (or add them here).
    cells = (
        sfi_cell("hubert", "phase"),  # proposed
        sfi_cell("hubert", "phase", pretrain=False),  # w/o MOS pre-training
        sfi_cell("hubert", "phase", distill=False),  # w/o distillation
        sfi_cell("hubert", "truncate"),  # stride policy of the reference code
        baseline_cell("resample", "hubert"),
        baseline_cell("resample_sr", "hubert"),
    )
    return _tiny("default", cells, folds=3, size="demo", distill_steps=40, epochs=3, bootstrap=100)


def smoke() -> Grid:
    cells = (sfi_cell("hubert", "phase"), baseline_cell("resample", "hubert", pretrain=False))
    return _tiny("smoke", cells, folds=2, size="tiny", distill_steps=2, epochs=1, bootstrap=0)


GRIDS = {"paper": paper, "default": default, "smoke": smoke}


def get(name: str) -> Grid:
    if name not in GRIDS:
        raise InputError("--grid", f"unknown grid {name!r}; known: {', '.join(GRIDS)}")
    return GRIDS[name]()
