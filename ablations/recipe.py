"""The recipe: every choice on which the suite departs from the authors, as one typed value per factor.

``AUTHORS`` is what ``sarulab-speech/msr-utmos`` ran (``ablations.factors`` cites the file for each
value); ``SUITE`` is this project's improved system. A cell is a recipe plus its structural factors
(variant, teacher, distillation, pre-training, seed); ``materialise_*`` turn a recipe into the stage
configs, so a factor changes exactly the config fields it names and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from sfi_mos.train.configs import DistillConfig, MOSTrainConfig, SFISpec, TeacherSpec


@dataclass(frozen=True)
class Recipe:
    # SFI layer (distillation stage)
    sfi_geometry: str = "reference"  # SFISpec.stride_policy: reference | phase | sinc | round
    naf_norm: str = "query"  # SFISpec.naf_norm: query | fixed
    naf_lowpass: str = "eval"  # SFISpec.naf_lowpass: eval | always
    naf_max_freq_hz: float = 24000.0  # SFISpec.max_freq_hz (the authors' is not released; see factors)
    student: str = "hubert"  # DistillConfig.student: hubert (one HuBERT-class student) | teacher
    nokd_init: str = "encoder"  # DistillConfig.nokd_init (no-distillation control): encoder | full
    ssl_train: str = "hf"  # DistillConfig/MOSTrainConfig.ssl_train: hf | none
    # MOS stages
    batching: str = "rows"  # MOSTrainConfig.batching: rows | grouped
    pooling: str = "all_frames"  # MOSTrainConfig.pooling: all_frames | masked
    listener_ids: str = "shared"  # MOSTrainConfig.listener_ids: shared | per_test
    init_listeners: str = "index"  # MOSTrainConfig.init_listeners: index | mean
    input_norm: str = "utterance"  # MOSTrainConfig.input_norm (non-SFI): utterance | upstream
    wavlm_baseline: str = "wavlm_base"  # upstream of the non-SFI WavLM baseline: wavlm_base | wavlm_base_plus
    pretrain_stop: str = "uncapped"  # uncapped (best val loss within Lightning's 1000 epochs) | capped
    sr_pretrain: str = "plain"  # resample_sr cells: plain (shared) | conditioned (own SR-embedding) pretraining

    def diff(self, other: "Recipe") -> dict[str, object]:
        """Fields whose value differs from ``other`` (name -> this recipe's value)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(other, f.name)}

    def asdict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


AUTHORS = Recipe()
SUITE = Recipe(sfi_geometry="phase", naf_norm="fixed", naf_lowpass="always", naf_max_freq_hz=24000.0,
               student="teacher", nokd_init="full", ssl_train="none", batching="grouped", pooling="masked",
               listener_ids="per_test", init_listeners="mean", input_norm="upstream",
               wavlm_baseline="wavlm_base_plus", pretrain_stop="capped", sr_pretrain="conditioned")
BASES = {"authors": AUTHORS, "suite": SUITE}
UNCAPPED_EPOCHS = 1000  # Lightning's max_epochs when a config gives max_epochs: null and max_steps: -1


def sfi_spec(base: SFISpec, recipe: Recipe) -> SFISpec:
    return replace(base, stride_policy=recipe.sfi_geometry, naf_norm=recipe.naf_norm,
                   naf_lowpass=recipe.naf_lowpass, max_freq_hz=float(recipe.naf_max_freq_hz))


def distill_config(base: DistillConfig, recipe: Recipe, teacher: TeacherSpec, student: TeacherSpec,
                   distill: bool) -> DistillConfig:
    """``student``: the HuBERT upstream the authors' one student class comes from."""
    steps = base.steps if distill else 0
    own = recipe.student == "teacher" or student == teacher or (not distill and recipe.nokd_init == "full")
    return replace(base, teacher=teacher, sfi=sfi_spec(base.sfi, recipe), steps=steps,
                   student=None if own else student, ssl_train=recipe.ssl_train,
                   nokd_init=recipe.nokd_init if not distill else base.nokd_init)


def mos_config(base: MOSTrainConfig, recipe: Recipe, variant: str, uncapped_epochs: int,
               has_init: bool) -> MOSTrainConfig:
    """A pretrain/finetune template with the recipe's MOS choices. Fields a stage never reads keep the
    template's value, so a factor cannot re-key runs it does not change: listener ids exist only in
    Track 3 (fine-tuning), the listener init only with a pre-trained start, input normalisation only
    for non-SFI backbones, the epoch cap only in pre-training. ``uncapped_epochs`` is what an uncapped
    pre-training may run (``UNCAPPED_EPOCHS`` in the paper grid; embedded grids cap it to their budget)."""
    finetune = base.stage == "finetune"
    cfg = replace(base, batching=recipe.batching, pooling=recipe.pooling, ssl_train=recipe.ssl_train,
                  listener_ids=recipe.listener_ids if finetune else base.listener_ids,
                  init_listeners=recipe.init_listeners if has_init else base.init_listeners,
                  input_norm=recipe.input_norm if variant != "sfi" else base.input_norm)
    if not finetune and recipe.pretrain_stop == "uncapped":
        cfg = replace(cfg, max_epochs=uncapped_epochs)
    return cfg
