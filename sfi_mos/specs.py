"""The specs that the model and data layers take: corpora, teachers, the SFI layer, MOS backbones.

The lowest floor of the package: plain typed dataclasses, no torch. ``sfi_mos.{sfi,ssl,mos,data}``
read these; ``sfi_mos.train.configs`` builds the stage configs from them and ``ablations`` fills them
from the recipe. Every choice is a ``Literal`` checked at construction (``sfi_mos.config.validate``),
so a misspelt value is an ``InputError`` where it is written, not a different behaviour later.

Path fields (``DataSpec.root``, ``*_run``) may be relative: they are then resolved against the
results directory of the grid (``run_dir.parents[1]`` for ``results/<grid>/<stage>/<run-id>``),
so run ids do not depend on where ``results/`` lives. Absolute paths are used as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from .config import Range, validate
from .errors import InputError

DataKind = Literal["track3", "bvcc", "folder", "probe"]
# SFI layer choices; ``sfi_mos.sfi`` holds the same tuples (a test keeps them equal)
FilterFamily = Literal["naf", "mgf", "mgf_td", "gammatone"]
Design = Literal["freq_ls", "time"]
StridePolicy = Literal["phase", "sinc", "reference", "round"]
SincBand = Literal["input", "output"]
NafNorm = Literal["fixed", "query"]
NafLowpass = Literal["always", "eval"]
MgfConvention = Literal["suite", "reference"]
BackboneKind = Literal["sfi", "resample", "resample_sr"]
TeacherFactor = Literal["wav2vec2", "hubert", "wavlm"]  # the grid's teacher families
Features = Literal["last", "weighted"]
# training arithmetic (DistillConfig/MOSTrainConfig.precision): "fp32" = the authors' (msr-utmos
# configs/**/*.yaml trainer.precision: null) | "bf16" = autocast to bfloat16 on CUDA and CPU; the SFI
# filter design stays fp32 (sfi_mos.sfi.conv); bf16 keeps fp32's exponent range, so no grad scaler
Precision = Literal["fp32", "bf16"]

Positive = Annotated[int, Range(1)]
Hz = Annotated[float, Range(1.0, 192_000.0)]


@dataclass(frozen=True)
class DataSpec:
    # track3 | bvcc (labelled layouts, the folder holding DATA/) | folder (unlabelled audio for
    # distillation) | probe (a synthetic corpus's twin folder)
    kind: DataKind
    root: str  # corpus root
    fingerprint: str = ""  # content hash of the corpus; part of the run id

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class TeacherSpec:
    name: str = "hubert_local"  # s3prl upstream name: hubert|wav2vec2|wavlm_base_plus|*_local
    path: str | None = None  # checkpoint file for the *_local upstreams

    def __post_init__(self) -> None:
        validate(self)
        if not self.name:
            raise InputError("TeacherSpec.name", "empty upstream name")


@dataclass(frozen=True)
class SFISpec:
    """The SFI first conv (``sfi_mos.sfi.SFIConv1d.from_spec``). Defaults are the suite's; the
    authors' (A) or reference code's value is given beside each field. A = sarulab-speech/msr-utmos
    (its layer is remote code that is not published; ``create_checkpoint_transfer.ipynb`` lines
    175-185 print it: TN's ``FreqRespSampConv1d`` holding a KI-shaped FD-NAF), TN =
    TomohikoNakamura/sfi_convtasnet, KI = Kanami-Imamura/Neural_Analog_Filter_speech_separation."""

    # A: FD-NAF (ipynb:177 FrequencyDomainRFFImplicitFilter)
    filter: FilterFamily = "naf"
    design: Design = "freq_ls"  # A: freq_ls (ipynb:175 FreqRespSampConv1d)
    # ``sfi_mos.sfi.geometry``: phase | sinc (ours) | reference | round. A: unknown (set_sample_rate
    # is in the remote code); "reference" is TN/KI's geometry: floor K and hop (KI naf_fb.py:229-230,
    # TN model/tasnet.py:457-459), TN's lags and grid (TN sfi_conv/fir_design.py:166-179, 208),
    # padding 0 (ipynb:176)
    stride_policy: StridePolicy = "phase"
    n_freq: Positive = 640  # M, frequency points of the LS design; A: 640 (ipynb:176 n_samples=640)
    naf_features: Positive = 128  # random Fourier features; A: 128 (ipynb:179 Conv1d(256, 224))
    naf_hidden: tuple[Positive, ...] = (224, 224)  # A: (224, 224) (ipynb:179-185)
    # NAF input normalisation w / (2π·max_freq); ours: one grid serves 8-48 kHz. KI: "Nyquist
    # frequency of training data" (naf_fb.py:169; default 16000, naf_fb.py:160; recipe 16000 for
    # 32 kHz data, egs/vctk_2mix/SFIConvTasNet/local/model/fdnaf_width64_32kmin.yml:7 and :42).
    # A: unknown — by KI's rule 8000 (the layer's 16 kHz) or 24000 (48 kHz distillation data,
    # configs/distill/config_hubert.yaml:50-54)
    max_freq_hz: Hz = 24000.0
    sinc_band: SincBand = "input"  # sinc policy's interpolation cutoff: input Nyquist | output frame rate
    # NAF GroupNorm statistics: "fixed" (ours: a fixed 128-point grid, H a function of f) | "query"
    # (KI: the MLP with GroupNorm(1, .) runs on the queried grid, naf_fb.py:207, 284). A: unknown,
    # KI's shapes (ipynb:179-185) suggest "query"
    naf_norm: NafNorm = "fixed"
    # NAF response above max_freq: "always" zero (ours) | "eval": zero in eval mode only (KI
    # naf_fb.py:291-292). A: unknown, KI's suggests "eval"
    naf_lowpass: NafLowpass = "always"
    # MGF: "suite" (time design h(t)/fs on our lags; init width 1 kHz) | "reference" (TN
    # TDModulatedGaussianFilters, continuous_filters.py:146-161: centred time axis, gain 2π·h(t), keep
    # centres <= fs/2 below the training rate; init width 100 Hz, :118 and
    # configs/model/sfi_convtasnet_td_mgf.yaml:25). Needs stride_policy reference|round; A: no MGF
    mgf_convention: MgfConvention = "suite"

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class BackboneSpec:
    kind: BackboneKind = "sfi"
    student_run: str | None = None  # distill run dir (kind == "sfi")
    teacher: TeacherSpec = field(default_factory=TeacherSpec)  # upstream for resample kinds
    features: Features = "last"  # last | weighted (s3prl Featurizer)

    def __post_init__(self) -> None:
        validate(self)
