"""The deviations table as data: for every recipe factor, the authors' value and its source, the suite's
value, which cells it can change, and the cell its single-factor ablation starts from.

Sources are files of ``sarulab-speech/msr-utmos`` (commit ccf5e98) unless named otherwise; TN =
``TomohikoNakamura/sfi_convtasnet``, KI = ``Kanami-Imamura/Neural_Analog_Filter_speech_separation``.
Where the authors' value cannot be read from any released file, ``authors`` says so.
Pure data (no torch): ``paper/`` reads it to label the deviations table.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from .recipe import AUTHORS, SUITE, Recipe


@dataclass(frozen=True)
class Factor:
    name: str  # the Recipe field
    title: str
    authors: str  # the authors' choice, in words
    source: str  # where it is read (file and lines)
    suite: str  # the suite's choice, in words
    variants: tuple[str, ...]  # cell variants whose computation it changes
    host: tuple[str, str, bool, bool]  # (variant, teacher, distill, pretrain) of its ablation's authors cell
    # the value its ablation sets when the suite's equals the authors' (an unknown authors' value whose
    # other plausible reading is measured instead); None = the suite's value
    alternative: object = None

    @property
    def authors_value(self):
        return getattr(AUTHORS, self.name)

    @property
    def suite_value(self):
        return getattr(SUITE, self.name)

    def applies(self, variant: str, teacher: str, distill: bool, pretrain: bool) -> bool:
        """Whether this factor changes anything a cell of that structure computes."""
        if variant not in self.variants:
            return False
        if self.name == "nokd_init":
            return not distill
        if self.name == "student":
            return teacher != "hubert"  # the authors' student class is HuBERT's own
        if self.name == "wavlm_baseline":
            return teacher == "wavlm"
        if self.name in ("init_listeners", "pretrain_stop", "sr_pretrain"):
            return pretrain
        return True

    @property
    def ablated_value(self):
        """The value of this factor's single-factor ablation."""
        return self.alternative if self.alternative is not None else self.suite_value


SFI = ("sfi",)
ALL = ("sfi", "resample", "resample_sr")
BASELINES = ("resample", "resample_sr")
HOST = ("sfi", "hubert", True, True)

FACTORS: tuple[Factor, ...] = (
    Factor("stride_policy", "SFI stride geometry",
           "K(fs)=int(K_ref fs/16k), hop int(S_ref fs/16k), integer lags (reference code)",
           "TN sfi_conv/fir_design.py _FreqRespSampFIRs._compute_pinvW; model/tasnet.py "
           "_compute_equivalent_frame_size_and_shift; the authors' layer prints TN's extra_repr "
           "(create_checkpoint_transfer.ipynb cell 6)",
           "phase: exact fractional hop on the 16 kHz frame grid (sub-sample kernel phases)", SFI, HOST),
    Factor("naf_norm", "FD-NAF normalisation statistics",
           "GroupNorm statistics over the queried frequency grid", "KI asteroid_filterbanks/naf_fb.py",
           "statistics over a fixed 128-point grid (H is a function of frequency alone)", SFI, HOST),
    Factor("naf_lowpass", "FD-NAF response above max_freq",
           "zeroed in eval mode only", "KI asteroid_filterbanks/naf_fb.py",
           "zeroed in training and eval", SFI, HOST),
    Factor("max_freq_hz", "FD-NAF max_freq (Hz)",
           "not released (remote code). KI's rule, the Nyquist frequency of the training data, gives "
           "24 kHz for the 48 kHz distillation data (used here) or 8 kHz for the layer's 16 kHz "
           "reference rate (ablated)",
           "KI asteroid_filterbanks/naf_fb.py l.160, 169; configs/distill/config_*.yaml sample_rates",
           "24 kHz (one normalisation serves 8-48 kHz)", SFI, HOST, alternative=8000.0),
    Factor("student", "SFI student class",
           "one HuBERT-class student (Wataru/sfi_hubert) for every teacher; its initial weights are not "
           "released (here: the HuBERT upstream, SFI layer fitted to its first conv)",
           "configs/distill/config_{hubert,w2v2,wavlm}.yaml student_model_path_or_name",
           "the teacher's own class and weights", SFI, ("sfi", "wavlm", True, True)),
    Factor("nokd_init", "'without distillation' control",
           "SFI-HuBERT with only the teacher's transformer encoder copied in",
           "create_checkpoint_transfer.ipynb cells 1-5 (Wataru/sfi_w2v2_encoder_copy)",
           "the teacher's whole model copied, SFI filters fitted to its first conv", SFI,
           ("sfi", "wav2vec2", False, True)),
    Factor("ssl_train", "SSL training-mode regularisation",
           "Hugging Face train(): dropout, LayerDrop 0.1, SpecAugment time masks (p 0.05, length 10)",
           "src/sfi_utmos/model/ssl_mos.py l.34-36; model/distill_ssl.py l.43; dropouts printed in "
           "create_checkpoint_transfer.ipynb cells 3 and 6 (others: transformers config defaults)",
           "none: no dropout, LayerDrop or masking", ALL, HOST),
    Factor("batching", "rating batching",
           "shuffled rating rows, one backbone pass per row",
           "src/sfi_utmos/data/dataset/mos_dataset.py l.102-118; configs/mos/*/*.yaml batch_size, "
           "accumulate_grad_batches",
           "utterance-grouped batches, one backbone pass per clip", ALL, HOST),
    Factor("pooling", "padding and pooling",
           "zero-padded batch without attention mask, mean over all frames",
           "src/sfi_utmos/model/ssl_mos.py l.79-97, 118-120",
           "padding-exact backbone, mean over valid frames", ALL, HOST),
    Factor("listener_ids", "Track 3 listener ids",
           "the organisers' lisID, shared across the three listening tests",
           "src/sfi_utmos/data/dataset/mos_dataset.py l.113-114", "qualified by listening test", ALL, HOST),
    Factor("init_listeners", "fine-tune listener init",
           "whole pre-trained state; listener rows carried over by index",
           "src/sfi_utmos/model/ssl_mos.py l.51-59", "new listeners start from the mean pre-trained listener",
           ALL, HOST),
    Factor("input_norm", "non-SFI input normalisation",
           "wav2vec2-base processor: zero mean, unit variance per padded row (eps 1e-7)",
           "src/sfi_utmos/model/ssl_mos.py l.37-42, 79-84; processor_path in configs/mos/**",
           "whatever the s3prl upstream does", BASELINES, ("resample", "hubert", False, True)),
    Factor("wavlm_baseline", "non-SFI WavLM baseline",
           "microsoft/wavlm-base (distillation teacher: wavlm-base-plus)",
           "configs/mos/*/*wavlm.yaml ssl_model_path", "WavLM Base+ (the distillation teacher)", BASELINES,
           ("resample", "wavlm", False, True)),
    Factor("pretrain_stop", "pre-training stop",
           "best val/loss, no epoch cap (Lightning default 1000 epochs; the runs ended at their job wall "
           "time, best epochs 3-38)",
           "configs/mos/pretrain/*.yaml max_epochs: null, max_steps: -1; job_scripts/mos/pretrain/*.sh",
           "best val/loss within the grid's epoch cap (50 in the paper grid)", ALL, HOST),
    Factor("sr_pretrain", "SR-conditioned baseline pre-training",
           "the plain BVCC pre-training run, fine-tuned with a fresh SR embedding",
           "configs/mos/finetune_condition_sr/finetune_*.yaml pretrained_model_path; ssl_mos.py l.57-63",
           "its own SR-conditioned pre-training", ("resample_sr",), ("resample_sr", "hubert", False, True)),
    Factor("precision", "training precision",
           "fp32 (Lightning's 32-bit default)", "msr-utmos configs/**/*.yaml trainer.precision: null",
           "fp32, as the authors': the suite has no GPU measurement that would justify changing its own "
           "system (ablated: bf16 autocast, SFI filter design kept in fp32)", ALL, HOST, alternative="bf16"),
)

BY_NAME = {f.name: f for f in FACTORS}
assert set(BY_NAME) == {f.name for f in fields(Recipe)}, "every recipe field needs a factor row"
