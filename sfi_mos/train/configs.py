"""One config type per stage. The ablation grid builds these; run ids hash them.

The distillation and MOS fields default to the authors' choices (``sarulab-speech/msr-utmos``; each
field cites its source) wherever a plain value can state them. ``SFISpec`` keeps the layer library's
own defaults (``phase``, fixed NAF statistics) with the reference code's values documented beside
them. ``ablations.recipe`` is the one place that names the authors' and the suite's values of every
factor and turns them into cells.

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
    """The SFI first conv (``sfi_mos.sfi.SFIConv1d.from_spec``). Defaults are the suite's; the
    authors' (A) or reference code's value is given beside each field. A = sarulab-speech/msr-utmos
    (its layer is remote code that is not published; ``create_checkpoint_transfer.ipynb`` lines
    175-185 print it: TN's ``FreqRespSampConv1d`` holding a KI-shaped FD-NAF), TN =
    TomohikoNakamura/sfi_convtasnet, KI = Kanami-Imamura/Neural_Analog_Filter_speech_separation."""

    # naf | mgf | mgf_td | gammatone; A: FD-NAF (ipynb:177 FrequencyDomainRFFImplicitFilter)
    filter: str = "naf"
    design: str = "freq_ls"  # freq_ls | time; A: freq_ls (ipynb:175 FreqRespSampConv1d)
    # phase | sinc (ours) | reference | round (``sfi_mos.sfi.geometry``). A: unknown (set_sample_rate
    # is in the remote code); "reference" is TN/KI's geometry: floor K and hop (KI naf_fb.py:229-230,
    # TN model/tasnet.py:457-459), TN's lags and grid (TN sfi_conv/fir_design.py:166-179, 208),
    # padding 0 (ipynb:176)
    stride_policy: str = "phase"
    n_freq: int = 640  # M, frequency points of the LS design; A: 640 (ipynb:176 n_samples=640)
    naf_features: int = 128  # random Fourier features; A: 128 (ipynb:179 Conv1d(256, 224))
    naf_hidden: tuple[int, ...] = (224, 224)  # A: (224, 224) (ipynb:179-185)
    # NAF input normalisation w / (2π·max_freq); ours: one grid serves 8-48 kHz. KI: "Nyquist
    # frequency of training data" (naf_fb.py:169; default 16000, naf_fb.py:160; recipe 16000 for
    # 32 kHz data, egs/vctk_2mix/SFIConvTasNet/local/model/fdnaf_width64_32kmin.yml:7 and :42).
    # A: unknown — by KI's rule 8000 (the layer's 16 kHz) or 24000 (48 kHz distillation data,
    # configs/distill/config_hubert.yaml:50-54)
    max_freq_hz: float = 24000.0
    sinc_band: str = "input"  # sinc policy's interpolation cutoff: input Nyquist | output frame rate
    # NAF GroupNorm statistics: "fixed" (ours: a fixed 128-point grid, H a function of f) | "query"
    # (KI: the MLP with GroupNorm(1, .) runs on the queried grid, naf_fb.py:207, 284). A: unknown,
    # KI's shapes (ipynb:179-185) suggest "query"
    naf_norm: str = "fixed"
    # NAF response above max_freq: "always" zero (ours) | "eval": zero in eval mode only (KI
    # naf_fb.py:291-292). A: unknown, KI's suggests "eval"
    naf_lowpass: str = "always"
    # MGF: "suite" (time design h(t)/fs on our lags; init width 1 kHz) | "reference" (TN
    # TDModulatedGaussianFilters, continuous_filters.py:146-161: centred time axis, gain 2π·h(t), keep
    # centres <= fs/2 below the training rate; init width 100 Hz, :118 and
    # configs/model/sfi_convtasnet_td_mgf.yaml:25). Needs stride_policy reference|round; A: no MGF
    mgf_convention: str = "suite"


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
    # the upstream whose class and weights the student starts from; None = the teacher itself (suite).
    # Authors: one HuBERT-class student "Wataru/sfi_hubert" for every teacher
    # (configs/distill/config_{hubert,w2v2,wavlm}.yaml, student_model_path_or_name)
    student: TeacherSpec | None = None
    # steps == 0 only ("without distillation"): "encoder" = the student above with only the teacher's
    # transformer encoder copied in (authors: create_checkpoint_transfer.ipynb cell 5,
    # sfi_model.encoder.load_state_dict(model.encoder.state_dict())); "full" = the teacher's own model
    # with every weight copied and the SFI filters fitted to its first conv (suite)
    nokd_init: str = "encoder"
    # training-time regularisation of the student: "hf" = Hugging Face dropout, LayerDrop and
    # SpecAugment time masking (authors: distill_ssl.py l.43 student_model.train()) | "none" (suite)
    ssl_train: str = "hf"


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
    # authors: 50 in fine-tuning (configs/mos/finetune/*.yaml); pre-training sets max_epochs: null with
    # max_steps: -1, i.e. Lightning's default cap of 1000 epochs (configs/mos/pretrain/*.yaml)
    max_epochs: int = 50
    # batch_size and grad_accum count rating rows, as the authors' (batch 1 x 24 in fine-tuning;
    # pre-training SFI 32 x 2, non-SFI 64 x 1: configs/mos/{finetune,pretrain}/*.yaml)
    batch_size: int = 1
    grad_accum: int = 24
    # "rows": shuffled rating rows, one backbone pass per row (authors: mos_dataset.py l.102-118, one
    # row per rating, DataLoader shuffle) | "grouped": a batch packs whole utterances up to batch_size
    # ratings and the backbone runs once per clip (suite)
    batching: str = "rows"
    # "all_frames": zero-padded batch with no attention mask, mean over every frame (authors:
    # ssl_mos.py l.79-97) | "masked": padding-exact backbone and a mean over valid frames (suite)
    pooling: str = "all_frames"
    # backbone regularisation in training: "hf" (authors: ssl_mos.py l.34-36 AutoModel(...).train())
    # | "none" (suite); see sfi_mos.ssl.regularise
    ssl_train: str = "hf"
    # Track 3 listener ids: "shared" = the organisers' lisID used across the three single-rate tests
    # (authors: mos_dataset.py l.113-114 int(listener_id)) | "per_test" = qualified by test (suite)
    listener_ids: str = "shared"
    # fine-tuning from a pre-trained run: "index" = the whole pre-trained state, listener rows carried
    # over by index (authors: ssl_mos.py l.57-59 load_state_dict) | "mean" = every new listener starts
    # from the mean pre-trained listener embedding (suite)
    init_listeners: str = "index"
    # non-SFI backbones: "utterance" = the facebook/wav2vec2-base processor's zero-mean unit-variance
    # per (padded) row, eps 1e-7 (authors: ssl_mos.py l.79-84, processor_path in every config) |
    # "upstream" = whatever the s3prl upstream does itself (suite)
    input_norm: str = "utterance"
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
    # what the grid knows of the cell these fold models make (name, recipe, structural factors);
    # paper/ labels its tables with it. Empty for a hand-made predict run.
    cell: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreConfig:
    predict_run: str = ""  # predict run dir holding predictions.csv
    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    bootstrap: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class ProbeConfig:
    """The high-band probe of one cell (``sfi_mos.probe``): its fold ensemble on blind-spot twins."""

    runs: tuple[str, ...] = ()  # fine-tune run dirs (the fold models), as PredictConfig.runs
    # "probe": a synthetic corpus's probe folder (DIR/probe); "track3": twins made in memory from the
    # corpus's eval clips at >= 24 kHz (real data has no probe folder)
    data: DataSpec = field(default_factory=lambda: DataSpec("probe", "data/probe"))
    student_run: str | None = None  # distill run of an SFI cell: front-end diagnostics
    init_run: str | None = None  # pretrain run of the cell: front-end diagnostics
    batch_size: int = 4
    bootstrap: int = 1000  # draws of the twin-group bootstrap
    seed: int = 0


@dataclass(frozen=True)
class PeersConfig:
    """Offline third-party MOS predictors (``sfi_mos.peers``) on the eval split and the probe twins."""

    data: DataSpec = field(default_factory=lambda: DataSpec("track3", "data/track3"))
    probe: DataSpec = field(default_factory=lambda: DataSpec("probe", "data/probe"))
    peers: tuple[str, ...] = ("dnsmos", "distillmos")
    # installed version of each peer's package when the graph was built ("" = not installed), so
    # installing the `peers` extra later gives a new run id and the peers run again
    versions: tuple[str, ...] = ()
    splits: tuple[str, ...] = ("eval",)
    bootstrap: int = 1000
    seed: int = 0
