"""One config type per stage. The ablation grid builds these; run ids hash them.

The distillation and MOS fields default to the authors' choices (``sarulab-speech/msr-utmos``; each
field cites its source) wherever a plain value can state them. ``SFISpec`` keeps the layer library's
own defaults (``phase``, fixed NAF statistics) with the reference code's values documented beside
them. ``ablations.recipe`` is the one place that names the authors' and the suite's values of every
factor and turns them into cells. The specs the lower layers read (``DataSpec``, ``TeacherSpec``,
``SFISpec``, ``BackboneSpec``) live in ``sfi_mos.specs``; they are re-exported here.

Every field is typed (``Literal`` choices, ``Range`` bounds) and checked at construction. A field
added after run ids were published is declared with ``sfi_mos.config.added``, one taken out is listed in
its class's ``RETIRED`` (``sfi_mos.config.Retired``; see CHANGELOG.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal

from ..config import Range, Retired, added, label, validate
from ..errors import InputError
from ..specs import BackboneSpec, DataSpec, Positive, Precision, SFISpec, TeacherFactor, TeacherSpec

__all__ = ["BackboneSpec", "DataSpec", "SFISpec", "TeacherSpec", "DistillConfig", "ImportConfig", "MOSTrainConfig",
           "PredictConfig", "ScoreConfig", "ProbeConfig", "PeersConfig"]

Count = Annotated[int, Range(0)]
Rate = Annotated[float, Range(0.0, open_lo=True)]
Seconds = Annotated[float, Range(0.0, open_lo=True)]
SSLTrain = Literal["hf", "none"]
Split = Literal["train", "dev", "eval", "test"]


@dataclass(frozen=True)
class DistillConfig:
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    sfi: SFISpec = field(default_factory=SFISpec)
    data: DataSpec = field(default_factory=lambda: DataSpec("folder", "data/unlabelled"))
    init: Literal["teacher", "random"] = "teacher"
    steps: Count = 1000  # 0 = the "no distillation" control: teacher-initialised student, untrained
    rates: tuple[Annotated[int, Range(1000, 192_000)], ...] = (8000, 16000, 24000, 48000)
    crop_seconds: Seconds = 20.0
    batch_size: Positive = 8
    lr: Rate = 1e-4
    weight_decay: Annotated[float, Range(0.0)] = 0.01
    fit_steps: Count = 300  # optimisation steps of SFIConv1d.fit_to for teacher init
    ckpt_every: Count = 100
    seed: Count = 0
    # the upstream whose class and weights the student starts from; None = the teacher itself (suite).
    # Authors: one HuBERT-class student "Wataru/sfi_hubert" for every teacher
    # (configs/distill/config_{hubert,w2v2,wavlm}.yaml, student_model_path_or_name)
    student: TeacherSpec | None = None
    # steps == 0 only ("without distillation"): "encoder" = the student above with only the teacher's
    # transformer encoder copied in (authors: create_checkpoint_transfer.ipynb cell 5,
    # sfi_model.encoder.load_state_dict(model.encoder.state_dict())); "full" = the teacher's own model
    # with every weight copied and the SFI filters fitted to its first conv (suite)
    nokd_init: Literal["encoder", "full"] = "encoder"
    # training-time regularisation of the student: "hf" = Hugging Face dropout, LayerDrop and
    # SpecAugment time masking (authors: distill_ssl.py l.43 student_model.train()) | "none" (suite)
    ssl_train: SSLTrain = "hf"
    precision: Precision = added("fp32", since="0.3.0")  # sfi_mos.specs.Precision

    def __post_init__(self) -> None:
        validate(self)
        if not self.rates:
            raise InputError("DistillConfig.rates", "no sampling rates")


@dataclass(frozen=True)
class ImportConfig:
    """A released SFI student (HF ``save_pretrained`` folder) in place of a distillation run
    (``sfi_mos.train.import_stage``; ``run_all --students``)."""

    teacher: TeacherFactor = "hubert"  # the teacher factor whose SFI cells this student serves
    # (file name, sha256) of config.json and model.safetensors: the run id is keyed by the content
    sha256: tuple[tuple[str, str], ...] = ()
    sfi: SFISpec = field(default_factory=SFISpec)  # the cell's layer settings (NAF sizes come from the file)
    path: str = label(str)  # where the folder is now (absolute): a moved folder keeps its run id

    def __post_init__(self) -> None:
        validate(self)
        if not self.sha256:
            raise InputError("ImportConfig.sha256", "no file hashes: the run id would not follow the content")


@dataclass(frozen=True)
class MOSTrainConfig:
    # bf16 (CUDA autocast only) until 0.3.0, hashed as false in every published MOS run id: precision
    # replaced it (sfi_mos.config.Retired)
    RETIRED: ClassVar[dict[str, Retired]] = {
        "bf16": Retired(False, since="0.3.0", replaced_by="precision", equivalents=((True, "bf16"),))}

    stage: Literal["pretrain", "finetune"] = "finetune"  # BVCC layout | Track 3 layout
    backbone: BackboneSpec = field(default_factory=BackboneSpec)
    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    init_run: str | None = None  # pretrain run dir to start from; None = from the backbone
    n_folds: Annotated[int, Range(2)] = 7  # finetune: k-fold CV over the training utterances
    fold: Count | None = 0  # which fold is validation; None = use the corpus's own dev split
    seed: Count = 0
    # authors: 50 in fine-tuning (configs/mos/finetune/*.yaml); pre-training sets max_epochs: null with
    # max_steps: -1, i.e. Lightning's default cap of 1000 epochs (configs/mos/pretrain/*.yaml)
    max_epochs: Positive = 50
    # batch_size and grad_accum count rating rows, as the authors' (batch 1 x 24 in fine-tuning;
    # pre-training SFI 32 x 2, non-SFI 64 x 1: configs/mos/{finetune,pretrain}/*.yaml)
    batch_size: Positive = 1
    grad_accum: Positive = 24
    # "rows": shuffled rating rows, one backbone pass per row (authors: mos_dataset.py l.102-118, one
    # row per rating, DataLoader shuffle) | "grouped": a batch packs whole utterances up to batch_size
    # ratings and the backbone runs once per clip (suite)
    batching: Literal["rows", "grouped"] = "rows"
    # "all_frames": zero-padded batch with no attention mask, mean over every frame (authors:
    # ssl_mos.py l.79-97) | "masked": padding-exact backbone and a mean over valid frames (suite)
    pooling: Literal["all_frames", "masked"] = "all_frames"
    # backbone regularisation in training: "hf" (authors: ssl_mos.py l.34-36 AutoModel(...).train())
    # | "none" (suite); see sfi_mos.ssl.regularise
    ssl_train: SSLTrain = "hf"
    # Track 3 listener ids: "shared" = the organisers' lisID used across the three single-rate tests
    # (authors: mos_dataset.py l.113-114 int(listener_id)) | "per_test" = qualified by test (suite)
    listener_ids: Literal["shared", "per_test"] = "shared"
    # fine-tuning from a pre-trained run: "index" = the whole pre-trained state, listener rows carried
    # over by index (authors: ssl_mos.py l.57-59 load_state_dict) | "mean" = every new listener starts
    # from the mean pre-trained listener embedding (suite)
    init_listeners: Literal["index", "mean"] = "index"
    # non-SFI backbones: "utterance" = the facebook/wav2vec2-base processor's zero-mean unit-variance
    # per (padded) row, eps 1e-7 (authors: ssl_mos.py l.79-84, processor_path in every config) |
    # "upstream" = whatever the s3prl upstream does itself (suite)
    input_norm: Literal["utterance", "upstream"] = "utterance"
    lr: Rate = 1e-4
    clip: Rate = 1.0
    max_seconds: Seconds | None = None  # random crop of training clips (None = whole clip)
    precision: Precision = added("fp32", since="0.3.0")  # sfi_mos.specs.Precision
    ckpt_every: Count = 0  # steps between mid-epoch checkpoints (0 = end of epoch only)
    # stop after this many optimiser steps (the epoch is cut short, then validated as usual); 0 = no cap,
    # as in the authors' configs (max_epochs only). Used to rehearse a stage for a few steps.
    max_steps: Count = 0

    def __post_init__(self) -> None:
        validate(self)
        if self.fold is not None and self.fold >= self.n_folds:
            raise InputError("MOSTrainConfig.fold", f"{self.fold} is not below n_folds {self.n_folds}")


@dataclass(frozen=True)
class PredictConfig:
    runs: tuple[str, ...] = ()  # fine-tune run dirs (the fold models) to average
    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    splits: tuple[Split, ...] = ("dev", "eval")  # which labelled splits to predict
    batch_size: Positive = 8
    # what the grid knows of the cell these fold models make (``ablations.grid.Cell.describe``);
    # paper/ labels its tables with it. Empty for a hand-made predict run. A label: not in the run id
    # (the fold runs are), so renaming a factor re-keys no prediction.
    cell: dict = label(dict)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class ScoreConfig:
    predict_run: str = ""  # predict run dir holding predictions.csv
    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    bootstrap: Count = 1000
    seed: Count = 0

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class ProbeConfig:
    """The high-band probe of one cell (``sfi_mos.probe``): its fold ensemble on blind-spot twins."""

    runs: tuple[str, ...] = ()  # fine-tune run dirs (the fold models), as PredictConfig.runs
    # "probe": a synthetic corpus's probe folder (DIR/probe); "track3": twins made in memory from the
    # corpus's eval clips at >= 24 kHz (real data has no probe folder)
    data: DataSpec = field(default_factory=lambda: DataSpec("probe", "data/probe"))
    student_run: str | None = None  # distill run of an SFI cell: front-end diagnostics
    init_run: str | None = None  # pretrain run of the cell: front-end diagnostics
    batch_size: Positive = 4
    bootstrap: Count = 1000  # draws of the twin-group bootstrap
    seed: Count = 0

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class PeersConfig:
    """Offline third-party MOS predictors (``sfi_mos.peers``) on the eval split and the probe twins."""

    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    probe: DataSpec = field(default_factory=lambda: DataSpec("probe", "data/probe"))
    peers: tuple[str, ...] = ("dnsmos", "distillmos")
    # installed version of each peer's package when the graph was built ("" = not installed), so
    # installing the `peers` extra later gives a new run id and the peers run again
    versions: tuple[str, ...] = ()
    splits: tuple[Split, ...] = ("eval",)
    bootstrap: Count = 1000
    seed: Count = 0

    def __post_init__(self) -> None:
        validate(self)
