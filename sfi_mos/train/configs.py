"""One config type per stage. The ablation grid builds these; run ids hash them.

Path fields (``DataSpec.root``, ``*_run``) may be relative: they are then resolved against the
results directory of the grid (``run_dir.parents[1]`` for ``results/<grid>/<stage>/<run-id>``),
so run ids do not depend on where ``results/`` lives. Absolute paths are used as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DataSpec:
    kind: str  # "track3" | "bvcc" | "folder" (unlabelled audio for distillation)
    root: str  # corpus root (the folder holding DATA/ for track3/bvcc)
    fingerprint: str = ""  # content hash of the corpus; part of the run id


@dataclass(frozen=True)
class TeacherSpec:
    name: str = "hubert_local"  # s3prl upstream name: hubert|wav2vec2|wavlm_base_plus|*_local
    path: str | None = None  # checkpoint file for the *_local upstreams


@dataclass(frozen=True)
class SFISpec:
    filter: str = "naf"  # naf | mgf | mgf_td | gammatone
    design: str = "freq_ls"  # freq_ls | time
    stride_policy: str = "phase"  # phase | sinc | truncate | round
    n_freq: int = 640  # M, frequency points of the LS design
    naf_features: int = 128  # random Fourier features
    naf_hidden: tuple[int, ...] = (224, 224)
    max_freq_hz: float = 24000.0  # NAF input normalisation: one grid serves 8-48 kHz
    sinc_band: str = "input"  # sinc policy's interpolation cutoff: input Nyquist | output frame rate


@dataclass(frozen=True)
class DistillConfig:
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    sfi: SFISpec = field(default_factory=SFISpec)
    data: DataSpec = field(default_factory=lambda: DataSpec("folder", "data/unlabelled"))
    init: str = "teacher"  # teacher | random
    steps: int = 1000  # 0 = the "no distillation" control: teacher-initialised student, untrained
    rates: tuple[int, ...] = (8000, 16000, 24000, 48000)
    crop_seconds: float = 20.0
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.01
    fit_steps: int = 300  # optimisation steps of SFIConv1d.fit_to for teacher init
    ckpt_every: int = 100
    seed: int = 0


@dataclass(frozen=True)
class BackboneSpec:
    kind: str = "sfi"  # sfi | resample | resample_sr
    student_run: str | None = None  # distill run dir (kind == "sfi")
    teacher: TeacherSpec = field(default_factory=TeacherSpec)  # upstream for resample kinds
    features: str = "last"  # last | weighted (s3prl Featurizer)


@dataclass(frozen=True)
class MOSTrainConfig:
    stage: str = "finetune"  # pretrain (BVCC layout) | finetune (Track 3 layout)
    backbone: BackboneSpec = field(default_factory=BackboneSpec)
    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    init_run: str | None = None  # pretrain run dir to start from; None = from the backbone
    n_folds: int = 7  # finetune: k-fold CV over the training utterances
    fold: int | None = 0  # which fold is validation; None = use the corpus's own dev split
    seed: int = 0
    max_epochs: int = 50
    # in rating rows, as in the paper: a batch packs whole utterances (all their ratings share one
    # backbone pass) up to batch_size ratings, at least one utterance; a step covers >= batch_size*grad_accum
    batch_size: int = 1
    grad_accum: int = 24
    lr: float = 1e-4
    clip: float = 1.0
    max_seconds: float | None = None  # random crop of training clips (None = whole clip)
    bf16: bool = False  # CUDA autocast only
    ckpt_every: int = 0  # steps between mid-epoch checkpoints (0 = end of epoch only)
    # stop after this many optimiser steps (the epoch is cut short, then validated as usual); 0 = no cap,
    # as in the authors' configs (max_epochs only). Used to rehearse a stage for a few steps.
    max_steps: int = 0


@dataclass(frozen=True)
class PredictConfig:
    runs: tuple[str, ...] = ()  # fine-tune run dirs (the fold models) to average
    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    splits: tuple[str, ...] = ("dev", "eval")  # which labelled splits to predict
    batch_size: int = 8


@dataclass(frozen=True)
class ScoreConfig:
    predict_run: str = ""  # predict run dir holding predictions.csv
    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    bootstrap: int = 1000
    seed: int = 0
