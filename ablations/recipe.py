"""The recipe: every choice on which the suite departs from the authors, as one typed value per factor.

``AUTHORS`` is what ``sarulab-speech/msr-utmos`` ran (``ablations.factors`` cites the file for each
value); ``SUITE`` is this project's improved system. A cell is a recipe plus its structural factors
(variant, teacher, distillation, pre-training, seed); ``materialise_*`` turn a recipe into the stage
configs, so a factor changes exactly the config fields it names and nothing else.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, fields, replace
from typing import Literal

from sfi_mos.config import added, validate
from sfi_mos.specs import Hz, NafLowpass, NafNorm, Precision, StridePolicy, TeacherSpec
from sfi_mos.train.configs import DistillConfig, MOSTrainConfig, SFISpec


def _field_type(cls: type, name: str):
    return typing.get_type_hints(cls, include_extras=True)[name]


@dataclass(frozen=True)
class Recipe:
    """Each factor is named as the config field it sets (``SFISpec.stride_policy`` <- ``stride_policy``)
    and typed with that field's choices, so the name and the allowed values are one source from
    ``ablations/`` to the tables."""

    # SFI layer (distillation stage)
    stride_policy: StridePolicy = "reference"  # SFISpec.stride_policy
    naf_norm: NafNorm = "query"  # SFISpec.naf_norm
    naf_lowpass: NafLowpass = "eval"  # SFISpec.naf_lowpass
    max_freq_hz: Hz = 24000.0  # SFISpec.max_freq_hz (the authors' is not released; see factors)
    # DistillConfig.student: hubert (one HuBERT-class student) | teacher (the teacher's own class)
    student: Literal["hubert", "teacher"] = "hubert"
    nokd_init: _field_type(DistillConfig, "nokd_init") = "encoder"  # the no-distillation control
    ssl_train: _field_type(DistillConfig, "ssl_train") = "hf"  # DistillConfig/MOSTrainConfig.ssl_train
    # MOS stages
    batching: _field_type(MOSTrainConfig, "batching") = "rows"
    pooling: _field_type(MOSTrainConfig, "pooling") = "all_frames"
    listener_ids: _field_type(MOSTrainConfig, "listener_ids") = "shared"
    init_listeners: _field_type(MOSTrainConfig, "init_listeners") = "index"
    input_norm: _field_type(MOSTrainConfig, "input_norm") = "utterance"  # non-SFI backbones only
    # upstream of the non-SFI WavLM baseline
    wavlm_baseline: Literal["wavlm_base", "wavlm_base_plus"] = "wavlm_base"
    # uncapped (best val loss within Lightning's 1000 epochs) | capped (the grid's epoch cap)
    pretrain_stop: Literal["uncapped", "capped"] = "uncapped"
    # resample_sr cells: plain (the shared pre-training) | conditioned (own SR-embedding pre-training)
    sr_pretrain: Literal["plain", "conditioned"] = "plain"
    # DistillConfig/MOSTrainConfig.precision; added after cell descriptions were published (at fp32 they
    # read as before)
    precision: Precision = added("fp32", since="0.3.0")

    def __post_init__(self) -> None:
        validate(self)

    def diff(self, other: "Recipe") -> dict[str, object]:
        """Fields whose value differs from ``other`` (name -> this recipe's value)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(other, f.name)}

    def asdict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# factor names of earlier suite versions (results layout 1) -> today's; ``Cell.from_description`` reads
# the cell descriptions those runs recorded through them (CHANGELOG.md)
RENAMED = {"sfi_geometry": "stride_policy", "naf_max_freq_hz": "max_freq_hz"}


AUTHORS = Recipe()
SUITE = Recipe(stride_policy="phase", naf_norm="fixed", naf_lowpass="always", max_freq_hz=24000.0,
               student="teacher", nokd_init="full", ssl_train="none", batching="grouped", pooling="masked",
               listener_ids="per_test", init_listeners="mean", input_norm="upstream",
               wavlm_baseline="wavlm_base_plus", pretrain_stop="capped", sr_pretrain="conditioned")
BASES = {"authors": AUTHORS, "suite": SUITE}
UNCAPPED_EPOCHS = 1000  # Lightning's max_epochs when a config gives max_epochs: null and max_steps: -1


def sfi_spec(base: SFISpec, recipe: Recipe) -> SFISpec:
    return replace(base, stride_policy=recipe.stride_policy, naf_norm=recipe.naf_norm,
                   naf_lowpass=recipe.naf_lowpass, max_freq_hz=recipe.max_freq_hz)


def distill_config(base: DistillConfig, recipe: Recipe, teacher: TeacherSpec, student: TeacherSpec,
                   distill: bool) -> DistillConfig:
    """``student``: the HuBERT upstream the authors' one student class comes from. ``precision`` only
    where there is a training loop for it to change (not in the 0-step no-distillation control)."""
    steps = base.steps if distill else 0
    own = recipe.student == "teacher" or student == teacher or (not distill and recipe.nokd_init == "full")
    return replace(base, teacher=teacher, sfi=sfi_spec(base.sfi, recipe), steps=steps,
                   student=None if own else student, ssl_train=recipe.ssl_train,
                   nokd_init=recipe.nokd_init if not distill else base.nokd_init,
                   precision=recipe.precision if distill else base.precision)


def mos_config(base: MOSTrainConfig, recipe: Recipe, variant: str, uncapped_epochs: int,
               has_init: bool) -> MOSTrainConfig:
    """A pretrain/finetune template with the recipe's MOS choices. Fields a stage never reads keep the
    template's value, so a factor cannot re-key runs it does not change: listener ids exist only in
    Track 3 (fine-tuning), the listener init only with a pre-trained start, input normalisation only
    for non-SFI backbones, the epoch cap only in pre-training. ``uncapped_epochs`` is what an uncapped
    pre-training may run (``UNCAPPED_EPOCHS`` in the paper grid; embedded grids cap it to their budget)."""
    finetune = base.stage == "finetune"
    cfg = replace(base, batching=recipe.batching, pooling=recipe.pooling, ssl_train=recipe.ssl_train,
                  precision=recipe.precision,
                  listener_ids=recipe.listener_ids if finetune else base.listener_ids,
                  init_listeners=recipe.init_listeners if has_init else base.init_listeners,
                  input_norm=recipe.input_norm if variant != "sfi" else base.input_norm)
    if not finetune and recipe.pretrain_stop == "uncapped":
        cfg = replace(cfg, max_epochs=uncapped_epochs)
    return cfg
