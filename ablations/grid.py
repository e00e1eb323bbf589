"""The ablation study as code: cells and the named grids ``paper``, ``default``, ``smoke``.

A *cell* is one recipe (``ablations.recipe``: every choice where the suite departs from the authors)
plus its structural factors: front-end variant, teacher, distillation on/off, MOS pre-training on/off,
seed. Folds live inside a cell (fine-tune per fold, one ensemble prediction). Cells are named from
the recipe they start from and how they depart from it: ``authors-hubert-s0`` is the replication,
``suite-hubert-s0`` the suite's system, ``authors-hubert+batching=grouped-s0`` a single-factor
ablation. A *grid* is a list of cells plus the hyper-parameter templates of each stage;
``ablations.graph`` turns it into the deduplicated stage graph.
"""
from __future__ import annotations

import fnmatch
import typing
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from sfi_mos.config import Range, from_dict, identity_dict, validate
from sfi_mos.errors import InputError
from sfi_mos.specs import BackboneKind, TeacherFactor
from sfi_mos.train.configs import (DistillConfig, MOSTrainConfig, PeersConfig, PredictConfig, ProbeConfig,
                                   ScoreConfig, SFISpec)

from .factors import BY_NAME, FACTORS
from .recipe import AUTHORS, BASES, RENAMED, UNCAPPED_EPOCHS, Recipe

Teacher = TeacherFactor
Base = Literal["authors", "suite"]
VARIANTS = typing.get_args(BackboneKind)
TEACHERS = typing.get_args(Teacher)
STAGE_ORDER = ("import", "distill", "pretrain", "finetune", "predict", "score", "probe", "peers")

# s3prl upstream names: registered (downloads, paper) and *_local (a checkpoint file we write).
# "wavlm_base" is the authors' non-SFI WavLM baseline (their distillation teacher is WavLM Base+).
PAPER_UPSTREAMS = {"wav2vec2": "wav2vec2", "hubert": "hubert", "wavlm": "wavlm_base_plus",
                   "wavlm_base": "wavlm_base"}
LOCAL_UPSTREAMS = {"wav2vec2": "wav2vec2_local", "hubert": "hubert_local", "wavlm": "wavlm_local",
                   "wavlm_base": "wavlm_local"}


def _fmt(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


@dataclass(frozen=True)
class Cell:
    variant: BackboneKind = "sfi"  # BackboneSpec.kind of the cell's MOS models
    teacher: Teacher = "hubert"
    distill: bool = True  # sfi only; False = the "without distillation" control (DistillConfig.steps 0)
    pretrain: bool = True  # MOS pre-training on BVCC before fine-tuning
    recipe: Recipe = AUTHORS
    seed: typing.Annotated[int, Range(0)] = 0  # fine-tuning seed (shared stages use the grid's base seed)
    base: Base = "authors"  # the recipe the name is relative to

    def __post_init__(self) -> None:
        validate(self)
        if self.variant != "sfi" and self.distill:
            raise InputError("cell", f"{self.variant} has no distillation (got distill=True)")

    def applies(self, factor: str) -> bool:
        return BY_NAME[factor].applies(self.variant, self.teacher, self.distill, self.pretrain)

    @property
    def deviations(self) -> dict[str, object]:
        """Factors that differ from the base recipe and change what this cell computes."""
        return {k: v for k, v in self.recipe.diff(BASES[self.base]).items() if self.applies(k)}

    @property
    def kind(self) -> str:
        """What the cell computes, structurally: its base, plus the variant or the no-distillation
        control (single-factor ablations share their host's kind)."""
        if self.variant != "sfi":
            return f"{self.base}-{self.variant}"
        return self.base if self.distill else f"{self.base}-nokd"

    @property
    def name(self) -> str:
        parts = [self.base] + ([] if self.variant == "sfi" else [self.variant]) + [self.teacher]
        if self.variant == "sfi" and not self.distill:
            parts.append("nokd")
        if not self.pretrain:
            parts.append("nopt")
        dev = "".join(f"+{k}={_fmt(v)}" for k, v in self.deviations.items())
        return "-".join(parts) + dev + f"-s{self.seed}"

    @property
    def label(self) -> str:
        """The name without the seed (cells that differ only in seed are replicates)."""
        return self.name.rsplit("-s", 1)[0]

    def describe(self) -> dict:
        """What a predict run records about its cell (``PredictConfig.cell``); paper/ reads it back
        with ``from_description``. It is a label (``PredictConfig.cell`` is not part of the run id);
        the recipe is in its identity form, so it reads the same before and after a factor is added."""
        return {"name": self.name, "label": self.label, "base": self.base, "kind": self.kind,
                "variant": self.variant, "teacher": self.teacher, "distill": self.distill,
                "pretrain": self.pretrain, "seed": self.seed, "recipe": identity_dict(self.recipe),
                "deviations": identity_dict(self.deviations)}

    @classmethod
    def from_description(cls, desc: Any, where: str) -> "Cell":
        """The cell a predict run recorded (``describe``), checked like a new one. Factor names of
        earlier suite versions are read through ``recipe.RENAMED``; ``where`` names the file."""
        if not isinstance(desc, dict) or not isinstance(desc.get("recipe"), dict):
            raise InputError(where, f"cell description is not an object with a recipe: {desc!r:.200}")
        structural = {f.name for f in fields(cls)} - {"recipe"}
        kwargs = {k: desc[k] for k in structural if k in desc}
        recipe = {RENAMED.get(k, k): v for k, v in desc["recipe"].items()}
        try:
            return cls(**kwargs, recipe=from_dict(Recipe, recipe))
        except InputError as e:
            raise InputError(where, f"cell description: {e}") from None


def cell(base: str = "authors", teacher: str = "hubert", variant: str = "sfi", distill: bool | None = None,
         pretrain: bool = True, seed: int = 0, **deviations) -> Cell:
    """A cell of recipe ``base`` with ``deviations`` (recipe fields) applied."""
    if base not in BASES:
        raise InputError("cell", f"unknown recipe {base!r}; recipes: {', '.join(BASES)}")
    unknown = sorted(set(deviations) - set(BY_NAME))
    if unknown:
        raise InputError("cell", f"unknown factor(s) {unknown}; factors: {sorted(BY_NAME)}")
    if distill is None:
        distill = variant == "sfi"
    out = Cell(variant, teacher, distill, pretrain, replace(BASES[base], **deviations), seed, base)
    idle = sorted(k for k in deviations if not out.applies(k))
    if idle:
        raise InputError("cell", f"factor(s) {idle} do not change {out.name}")
    return out


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
    # epochs an "uncapped" pre-training (the authors' stop: best val loss, no cap) may run: Lightning's
    # default 1000 in the paper grid; the embedded grids cap both recipes to their budget
    uncapped_epochs: int = UNCAPPED_EPOCHS
    # (batch_size, grad_accum) of the non-SFI backbones' pre-training where it differs from ``pretrain``'s
    # (the authors: SFI 32 x 2, non-SFI 64 x 1, configs/mos/pretrain/pretrain_{sfi_,}*.yaml)
    pretrain_baseline_batch: tuple[int, int] | None = None
    # wall-clock limit per stage job in minutes on Slurm (--time; a profile's `time` overrides it). Local
    # runs have none (replication.launcher): every long stage resumes after a requeue, but a limit
    # on a busy laptop would only cost restarts
    timeout_min: dict[str, int] = field(default_factory=lambda: {s: 60 for s in STAGE_ORDER})
    probe: ProbeConfig = field(default_factory=ProbeConfig)  # high-band probe per cell (sfi_mos.probe)
    peers: PeersConfig = field(default_factory=PeersConfig)  # third-party predictors, once per grid

    def __post_init__(self) -> None:
        validate(self)
        if self.folds < 2:
            raise InputError("Grid.folds", f"{self.folds}: k-fold cross-validation needs k >= 2")
        unknown = sorted(set(self.timeout_min) - set(STAGE_ORDER))
        if unknown or any(type(v) is not int or v < 1 for v in self.timeout_min.values()):
            raise InputError("Grid.timeout_min", f"{self.timeout_min}: minutes >= 1 per stage of {STAGE_ORDER}")

    def select(self, only: str | None) -> "Grid":
        """Keep the cells whose name matches any comma-separated glob in ``only``."""
        if only is None:
            return self
        pats = [p.strip() for p in only.split(",")]
        if not all(pats):  # "" or "a,,b": an unset shell variable must not select the whole grid
            raise InputError("--only", f"{only!r} holds an empty pattern; give cell names or globs "
                                       "(all cells: leave --only out)")
        keep = tuple(c for c in self.cells if any(fnmatch.fnmatchcase(c.name, p) for p in pats))
        if not keep:
            raise InputError("--only", f"{only!r} matches no cell of grid {self.name!r}; cells: "
                             + ", ".join(c.name for c in self.cells))
        return replace(self, cells=keep)


# ---- the paper study -------------------------------------------------------------------------
def factor_ablations(seed: int = 0) -> tuple[Cell, ...]:
    """One cell per factor: its host authors cell with that factor set to the suite's value (or, where
    the two agree, the other reading of an unknown authors' value), plus the suite's other stride
    policy (sinc)."""
    out = []
    for f in FACTORS:
        variant, teacher, distill, pretrain = f.host
        out.append(cell("authors", teacher, variant, distill, pretrain, seed, **{f.name: f.ablated_value}))
    out.append(cell("authors", "hubert", seed=seed, stride_policy="sinc"))
    return tuple(out)


def _paper_cells(seeds: tuple[int, ...] = (0,)) -> tuple[Cell, ...]:
    cells: list[Cell] = []
    for seed in seeds:
        for t in TEACHERS:  # the authors' experiment matrix (msr-utmos configs/mos/**)
            for pt in (True, False):
                cells.append(cell("authors", t, pretrain=pt, seed=seed))
                for variant in ("resample", "resample_sr"):
                    cells.append(cell("authors", t, variant, pretrain=pt, seed=seed))
        # "encoder copy" control: only for wav2vec 2.0 (pretrain_sfi_w2v2_encoder_copy.yaml)
        cells.append(cell("authors", "wav2vec2", distill=False, seed=seed))
        cells.append(cell("suite", "hubert", seed=seed))
        cells += factor_ablations(seed)
    return tuple(dict.fromkeys(cells))  # a host cell of one factor may equal another's cell


def paper() -> Grid:
    # budgets from the authors' configs (research notes, paper_and_challenge.md 1.4-1.6); the recipe's
    # choices (batching, epochs of uncapped pre-training, ...) come from ablations.recipe
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
        uncapped_epochs=UNCAPPED_EPOCHS, pretrain_baseline_batch=(64, 1),
        timeout_min={"distill": 24 * 60, "pretrain": 12 * 60, "finetune": 8 * 60, "predict": 60, "score": 30,
                     "probe": 60, "peers": 60},
    )


# ---- embedded grids (tiny models, synthetic corpus) -----------------------------------------
TINY_SFI = SFISpec(n_freq=64, naf_features=16, naf_hidden=(32, 32))


def _tiny(name: str, cells: tuple[Cell, ...], folds: int, size: str, distill_steps: int, epochs: int,
          bootstrap: int) -> Grid:
    return Grid(
        name=name, cells=cells, folds=folds, synthetic=size, local_teachers=True,
        distill=DistillConfig(sfi=TINY_SFI, steps=distill_steps, rates=(8000, 16000, 24000, 48000),
                              crop_seconds=1.0, batch_size=2, lr=1e-3, fit_steps=20, ckpt_every=5),
        # ratings per optimiser step = ratings per clip (8 in BVCC, 10 in Track 3), so rating-row and
        # utterance-grouped batching take the same number of steps, as they nearly do at the paper's
        # sizes (64 and 24 ratings); smaller steps would give rows many more updates than grouped
        pretrain=MOSTrainConfig(stage="pretrain", fold=None, max_epochs=epochs, batch_size=8, grad_accum=1,
                                lr=1e-3, max_seconds=1.0, ckpt_every=0),
        finetune=MOSTrainConfig(stage="finetune", n_folds=folds, max_epochs=epochs, batch_size=1,
                                grad_accum=10, lr=1e-3, max_seconds=1.0, ckpt_every=0),
        predict=PredictConfig(splits=("dev", "eval"), batch_size=4),
        score=ScoreConfig(bootstrap=bootstrap),
        uncapped_epochs=epochs,  # pre-training stops at the budget whatever the recipe says
        timeout_min={s: 15 for s in STAGE_ORDER},
        probe=ProbeConfig(bootstrap=bootstrap), peers=PeersConfig(bootstrap=bootstrap),
    )


def default() -> Grid:
    # the replication, the suite's system, the two factors the issue names first (rating batching and
    # the SFI stride geometry), the authors' resampling baseline, and bf16 vs fp32 training (measured
    # here on CPU): see README for the measured time. Every other factor and teacher is in ``paper``.
    cells = (
        cell("authors", "hubert"),
        cell("suite", "hubert"),
        cell("authors", "hubert", batching="grouped"),
        cell("authors", "hubert", stride_policy="phase"),
        cell("authors", "hubert", "resample"),
        cell("authors", "hubert", precision="bf16"),
    )
    # 2 epochs: the authors' rating-row batching runs the backbone once per rating (10 per clip). The
    # peers score the probe twins only: their eval-split metrics on the synthetic voices mean nothing,
    # and DNSMOS alone costs seconds of CPU per clip (the paper grid scores eval too)
    grid = _tiny("default", cells, folds=3, size="demo", distill_steps=40, epochs=2, bootstrap=100)
    return replace(grid, peers=replace(grid.peers, splits=()))


def smoke() -> Grid:
    cells = (cell("authors", "hubert"), cell("authors", "hubert", "resample", pretrain=False))
    # no peers run: the tests that run this grid stay seconds long (the default grid has them)
    return replace(_tiny("smoke", cells, folds=2, size="tiny", distill_steps=2, epochs=1, bootstrap=0),
                   peers=PeersConfig(peers=()))


GRIDS = {"paper": paper, "default": default, "smoke": smoke}


def get(name: str) -> Grid:
    if name not in GRIDS:
        raise InputError("--grid", f"unknown grid {name!r}; known: {', '.join(GRIDS)}")
    return GRIDS[name]()
