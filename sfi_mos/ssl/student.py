"""SFI students: a teacher's own s3prl model class and config with the waveform conv made SFI.

``feature_extractor.conv_layers[0][0]`` (Conv1d 1->C, K=10, S=5 at 16 kHz) is replaced by
``sfi_mos.sfi.SFIConv1d`` with the same channels, K and stride at 16 kHz; everything after it
(GroupNorm, GELU, the other six convs, projection, transformer) is the teacher's. Audio goes in at its
own rate after ``set_sample_rate(fs)``; the padding mask comes from the SFI layer's own frame counts
(``output_lengths``) mapped through the remaining convs, never from 16 kHz geometry.

Initialisation: ``teacher`` copies every other weight and fits the SFI filters to the teacher's first
conv (``SFIConv1d.fit_to``; the relative fit error is reported); ``random`` keeps the fresh init of
the same class/config. ``feature_grad_mult`` is 1.0 so the SFI layer learns at full rate.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import torch_save
from ..config import from_dict, to_dict
from ..errors import InputError
from ..sfi import SFIConv1d
from ..specs import SFISpec
from . import arch as archmod
from . import regularise
from .encode import encode, frontend_lengths

FORMAT = "sfi_mos.ssl.SFIStudent/1"
INITS = ("teacher", "random")


class _BiasedSFI(nn.Module):
    """SFI conv plus the per-channel bias of a teacher conv with ``conv_bias=True`` (large models)."""

    def __init__(self, sfi: nn.Module, channels: int):
        super().__init__()
        self.sfi = sfi
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return self.sfi(x) + self.bias[None, :, None]


def _sfi_spec(spec: Any) -> SFISpec:
    return spec if isinstance(spec, SFISpec) else from_dict(SFISpec, dict(spec))


class SFIStudent(nn.Module):
    """``set_sample_rate(fs)`` then ``forward(wavs (B, T) at fs, lengths (B,)) -> ([hidden (B, F, H)], frames)``."""

    def __init__(self, arch: dict[str, Any], sfi: Any):
        super().__init__()
        self.arch = dict(arch)
        self.sfi_spec = to_dict(_sfi_spec(sfi))
        self.model = archmod.build(self.arch)
        first = self.model.feature_extractor.conv_layers[0][0]
        if not isinstance(first, nn.Conv1d) or first.in_channels != 1:
            raise InputError("teacher", f"first feature-extractor layer is {type(first).__name__}, not a waveform Conv1d")
        sfi_layer = SFIConv1d.from_spec(_sfi_spec(sfi), first.out_channels, first.kernel_size[0], first.stride[0])
        self.model.feature_extractor.conv_layers[0][0] = (
            sfi_layer if first.bias is None else _BiasedSFI(sfi_layer, first.out_channels))
        self.model.feature_grad_mult = 1.0  # > 0, or s3prl's forward would freeze the SFI layer
        self.model.encoder.layerdrop = 0.0  # a fixed number of hidden states
        self.normalize = archmod.normalizes_input(self.arch)
        self.num_layers = len(self.model.encoder.layers) + 1
        self.hidden_size = int(self.model.encoder.embedding_dim)
        self.info: dict[str, Any] = {}
        self.regularisation = None  # set by set_regularisation

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def from_teacher(cls, teacher: nn.Module, sfi: Any, init: str = "teacher", fit_steps: int = 300,
                     seed: int = 0) -> "SFIStudent":
        """Student of ``teacher`` (a ``Teacher``); ``info`` holds the fit error for ``init='teacher'``."""
        if init not in INITS:
            raise InputError("init", f"unknown init {init!r}; expected one of {INITS}")
        arch = getattr(teacher, "arch", None)
        if arch is None:
            raise InputError(f"teacher {getattr(teacher, 'name', '')!r}",
                             "has no waveform conv front-end (e.g. an fbank/mfcc upstream); an SFI student "
                             "needs a wav2vec2, HuBERT or WavLM teacher")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            student = cls(arch, sfi)
            params = list(teacher.parameters())
            if params:  # fit where the teacher lives (a GPU fits 512 filters much faster)
                student.to(params[0].device)
            student.info = {"init": init, "teacher": getattr(teacher, "name", "")}
            if init == "teacher":
                student._copy_from(teacher.model, fit_steps)
        return student

    def _copy_from(self, teacher_model: nn.Module, fit_steps: int) -> None:
        t_state = teacher_model.state_dict()
        first = "feature_extractor.conv_layers.0.0."
        own = {k: v for k, v in t_state.items() if not k.startswith(first)}
        missing, unexpected = self.model.load_state_dict(own, strict=False)
        stray = [k for k in missing if not k.startswith(first)]
        if stray or unexpected:
            raise InputError("teacher", f"student/teacher weights differ: missing {stray}, unexpected {unexpected}")
        conv = teacher_model.feature_extractor.conv_layers[0][0]
        if conv.bias is not None:
            with torch.no_grad():
                self.model.feature_extractor.conv_layers[0][0].bias.copy_(conv.bias)
        fit = self.sfi.fit_to(conv.weight.detach(), 16000, steps=fit_steps)
        self.info["fit_rel_error"] = float(fit["rel_error"])
        self.info["fit_steps"] = int(fit_steps)

    # --- the SFI layer ------------------------------------------------------------------------
    @property
    def sfi(self) -> nn.Module:
        layer = self.model.feature_extractor.conv_layers[0][0]
        return layer.sfi if isinstance(layer, _BiasedSFI) else layer

    @property
    def sample_rate(self) -> int | float:
        return self.sfi.sample_rate

    def set_sample_rate(self, fs: int | float) -> "SFIStudent":
        self.sfi.set_sample_rate(fs)
        return self

    def set_regularisation(self, mode: str) -> "SFIStudent":
        """Training-time regularisation ``mode`` ("hf" | "none", see ``regularise``). A HuBERT-class
        student takes the authors' SFI-HuBERT values, other classes their teacher family's."""
        family = "sfi_hubert" if self.arch["kind"] == "hubert" else self.arch["kind"]
        self.regularisation = regularise.for_model(mode, family)
        regularise.apply(self.model, self.regularisation)
        return self

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid output frames for clips of ``lengths`` samples at the current rate."""
        return frontend_lengths(self.model, torch.as_tensor(lengths), lambda _c, n: self.sfi.output_lengths(n))

    def forward(self, wavs: torch.Tensor, lengths: torch.Tensor | None = None):
        return encode(self.model, wavs, lengths, lambda _conv, n: self.sfi.output_lengths(n),
                      normalize=self.normalize, feature_grad_mult=self.model.feature_grad_mult,
                      where=f"student wavs at {self.sample_rate} Hz", reg=self.regularisation)

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Plain-dict file (``torch.load(weights_only=True)`` works), written atomically."""
        torch_save(path, {"format": FORMAT, "arch": archmod.plain(self.arch), "sfi": self.sfi_spec,
                          "sample_rate": self.sample_rate, "info": archmod.plain(self.info),
                          "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()}})

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "SFIStudent":
        try:
            blob = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:  # missing, truncated, not a torch file, or holding non-plain objects
            raise InputError(str(path), f"cannot read student file: {err}") from err
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise InputError(str(path), f"not an SFI student file (expected format {FORMAT!r})")
        with torch.random.fork_rng(devices=[]):
            student = cls(blob["arch"], blob["sfi"])
        student.load_state_dict(blob["state_dict"])
        student.info = dict(blob.get("info", {}))
        student.set_sample_rate(blob.get("sample_rate", 16000))
        return student.to(map_location)
