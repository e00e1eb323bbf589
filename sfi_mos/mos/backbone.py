"""Backbones for the MOS model, built from a ``BackboneSpec``.

* ``sfi``: an SFI student (``sfi_mos.ssl.SFIStudent``) from a distill run's ``student.pt``; audio goes in
  at its native rate and the SFI layer is set to that rate per batch.
* ``resample`` / ``resample_sr``: any s3prl upstream (``sfi_mos.ssl.load_teacher``), made trainable; each
  clip is resampled to 16 kHz with torchaudio on its own (so padding cannot leak into the filter).
  ``resample_sr`` differs only in the head (sampling-rate embedding).

Features: the last hidden layer (paper) or s3prl's ``Featurizer`` (softmax-weighted sum of all layers).
"""
from __future__ import annotations

import types
from pathlib import Path

import torch
import torchaudio
from torch import nn

from ..errors import InputError
from ..rundir import resolve_path
from ..ssl import SFIStudent, Teacher, load_teacher
from ..ssl import arch as archmod

KINDS = ("sfi", "resample", "resample_sr")
FEATURES = ("last", "weighted")
MODEL_RATE = 16000


class Backbone(nn.Module):
    """``forward(wavs: list of 1-D tensors, sample_rate) -> (feats (B, F, H), frame_lengths (B,))``."""

    def __init__(self, model: nn.Module, kind: str, features: str = "last"):
        super().__init__()
        if kind not in KINDS:
            raise InputError("backbone.kind", f"unknown kind {kind!r}; expected one of {KINDS}")
        if features not in FEATURES:
            raise InputError("backbone.features", f"unknown features {features!r}; expected one of {FEATURES}")
        self.model = model
        self.kind = kind
        self.features = features
        self.hidden_size = int(model.hidden_size)
        self.featurizer = None
        if features == "weighted":
            from s3prl.nn import Featurizer  # lazy: importing s3prl pulls in every upstream (seconds)

            # Featurizer only reads these three attributes of the upstream at construction
            n = int(model.num_layers)
            shape = types.SimpleNamespace(hidden_sizes=[self.hidden_size] * n, downsample_rates=[320] * n,
                                          num_layers=n)
            self.featurizer = Featurizer(shape)
        self._padding_safe: bool | None = None

    @property
    def native_rate(self) -> bool:
        return self.kind == "sfi"

    def prepared_length(self, n: int, sample_rate: int) -> int:
        """Samples the model sees for a clip of ``n`` samples (torchaudio's resampled length)."""
        if self.native_rate or sample_rate == MODEL_RATE:
            return n
        return -(-n * MODEL_RATE // int(sample_rate))

    def _prepare(self, wavs: list[torch.Tensor], sample_rate: int,
                 pad_to: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.native_rate:
            self.model.set_sample_rate(int(sample_rate))
        elif sample_rate != MODEL_RATE:
            wavs = [torchaudio.functional.resample(w, int(sample_rate), MODEL_RATE) for w in wavs]
        lengths = torch.tensor([w.shape[-1] for w in wavs], dtype=torch.long, device=wavs[0].device)
        padded = torch.nn.utils.rnn.pad_sequence(list(wavs), batch_first=True)
        if pad_to is not None and pad_to > padded.shape[1]:  # a micro-batch padded as its whole batch
            padded = nn.functional.pad(padded, (0, pad_to - padded.shape[1]))
        return padded, lengths

    def _forward_batch(self, wavs: list[torch.Tensor], sample_rate: int, unmasked: bool = False,
                       pad_to: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        padded, lengths = self._prepare(wavs, sample_rate, pad_to)
        # unmasked: the zero padding is part of every clip, as in a Hugging Face model given a padded
        # batch without an attention mask; every frame counts as valid
        hidden, frame_lengths = self.model(padded, None if unmasked else lengths)
        if self.featurizer is None:
            feats = hidden[-1]
        else:
            feats, frame_lengths = self.featurizer(list(hidden), [frame_lengths] * len(hidden))
        return feats, frame_lengths.to(feats.device)

    def forward(self, wavs: list[torch.Tensor], sample_rate: int, exact: bool = False, unmasked: bool = False,
                pad_to: int | None = None):
        """``exact``: if the backbone lets padding change valid frames (e.g. the group-norm front-end of
        base wav2vec 2.0/HuBERT normalises over time), run each clip alone so batch size never matters.
        ``unmasked``: pad the batch and treat the padding as signal (the authors' pooling; see
        ``MOSTrainConfig.pooling``); frame lengths are then the padded length for every clip.
        ``pad_to``: pad to at least this many (prepared) samples, so a micro-batch sees the padding of
        the batch it was cut from."""
        if unmasked:
            return self._forward_batch(wavs, sample_rate, unmasked=True, pad_to=pad_to)
        if len(wavs) > 1 and exact and not self.padding_safe(sample_rate):
            outs = [self._forward_batch([w], sample_rate) for w in wavs]
            n = max(o[0].shape[1] for o in outs)
            feats = torch.cat([nn.functional.pad(f, (0, 0, 0, n - f.shape[1])) for f, _ in outs])
            return feats, torch.cat([fl for _, fl in outs])
        return self._forward_batch(wavs, sample_rate, pad_to=pad_to)

    @torch.no_grad()
    def padding_safe(self, sample_rate: int = MODEL_RATE) -> bool:
        """Measured once: do a clip's valid frames stay the same when it is zero-padded in a batch?"""
        if self._padding_safe is None:
            was_training = self.training
            self.eval()
            device = next(self.parameters()).device
            gen = torch.Generator().manual_seed(0)
            short = torch.randn(int(0.4 * sample_rate), generator=gen).to(device)
            long = torch.randn(int(0.7 * sample_rate), generator=gen).to(device)
            alone, n_alone = self._forward_batch([short], sample_rate)
            both, n_both = self._forward_batch([short, long], sample_rate)
            k = int(n_alone[0])
            self._padding_safe = bool(int(n_both[0]) == k and torch.allclose(
                alone[0, :k], both[0, :k], atol=1e-5, rtol=1e-4))
            self.train(was_training)
        return self._padding_safe


INPUT_NORMS = ("utterance", "upstream")
PROCESSOR_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm: (x - mean) / sqrt(var + 1e-7)


def set_input_norm(model: nn.Module, input_norm: str) -> None:
    """``utterance``: zero-mean unit-variance per clip (per padded row when padding is unmasked), as the
    facebook/wav2vec2-base processor (do_normalize) the authors put before every non-SFI model;
    ``upstream``: keep what the s3prl upstream does itself. Recorded in ``model.arch`` so a rebuilt
    model (``from_architecture``) normalises the same way."""
    if input_norm not in INPUT_NORMS:
        raise InputError("input_norm", f"unknown input_norm {input_norm!r}; expected one of {INPUT_NORMS}")
    if input_norm == "upstream":
        return
    if getattr(model, "arch", None) is None:
        raise InputError("input_norm", "utterance normalisation needs a wav2vec2/HuBERT/WavLM upstream")
    model.normalize, model.norm_eps = True, PROCESSOR_EPS
    model.arch = {**model.arch, "normalize": True, "norm_eps": PROCESSOR_EPS}


def build_backbone(spec, run_dir: str | Path | None = None, input_norm: str = "upstream") -> Backbone:
    """Backbone for ``spec`` (a ``BackboneSpec``); relative paths resolve against ``run_dir``'s grid dir.
    ``input_norm`` applies to the resampling kinds (the SFI student always gets the raw waveform)."""
    if spec.kind == "sfi":
        if not spec.student_run:
            raise InputError("backbone.student_run", "the sfi backbone needs a distill run dir")
        student_run = resolve_path(spec.student_run, run_dir) if run_dir is not None else Path(spec.student_run)
        path = Path(student_run) / "student.pt"
        if not path.exists():
            raise InputError(str(path), "no student.pt in the distill run dir")
        model = SFIStudent.load(path)
    elif spec.kind in ("resample", "resample_sr"):
        teacher = spec.teacher
        if teacher.path and run_dir is not None:
            teacher = type(teacher)(name=teacher.name, path=str(resolve_path(teacher.path, run_dir)))
        model = load_teacher(teacher)
        set_input_norm(model, input_norm)
    else:
        raise InputError("backbone.kind", f"unknown kind {spec.kind!r}; expected one of {KINDS}")
    # teachers come frozen for distillation; for MOS fine-tuning the whole backbone trains
    for p in model.parameters():
        p.requires_grad_(True)
    return Backbone(model, spec.kind, spec.features)


def architecture(backbone: Backbone) -> dict | None:
    """What rebuilds ``backbone`` without its source files (weights come from the MOS checkpoint);
    None for s3prl upstreams outside the wav2vec2/HuBERT/WavLM family."""
    net = backbone.model
    if getattr(net, "arch", None) is None:
        return None
    out = {"kind": backbone.kind, "features": backbone.features, "arch": archmod.plain(net.arch),
           "name": getattr(net, "name", "")}
    if backbone.kind == "sfi":
        out["sfi"] = dict(net.sfi_spec)
    return out


def from_architecture(desc: dict) -> Backbone:
    """A randomly initialised backbone of the architecture ``architecture`` described."""
    with torch.random.fork_rng(devices=[]):  # rebuilding must not move the caller's RNG
        if desc["kind"] == "sfi":
            net = SFIStudent(desc["arch"], desc["sfi"])
        else:
            net = Teacher(archmod.build(desc["arch"]), desc["arch"], desc.get("name", ""))
    return Backbone(net, desc["kind"], desc["features"])
