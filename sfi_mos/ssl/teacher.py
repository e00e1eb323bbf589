"""Frozen 16 kHz teachers loaded through s3prl (``S3PRLUpstream``), any upstream name.

* Registered names download from the hub on a cluster: ``hubert`` (HuBERT Base), ``wav2vec2``
  (wav2vec 2.0 Base), ``wavlm_base_plus`` (WavLM Base+), as in the paper.
* ``wav2vec2_local`` / ``hubert_local`` / ``wavlm_local`` (and ``*_custom``) take ``TeacherSpec.path``,
  e.g. the random-init files of ``checkpoints.write_tiny_checkpoints``.

For wav2vec2/HuBERT/WavLM the s3prl model is taken out of the expert and run by ``encode.encode``
(padding-exact, true conv frame counts). Other upstreams (e.g. ``fbank``) run through
``S3PRLUpstream.forward`` as s3prl defines it; they cannot be turned into SFI students.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import InputError
from . import arch as archmod
from . import regularise
from .encode import conv_out_lengths, encode, frontend_lengths

REGISTERED = {"hubert": "HuBERT Base", "wav2vec2": "wav2vec 2.0 Base", "wavlm_base_plus": "WavLM Base+"}
SAMPLE_RATE = 16000


def _first_conv_lengths(conv: nn.Module, lengths: torch.Tensor) -> torch.Tensor:
    return conv_out_lengths(lengths, conv.kernel_size[0], conv.stride[0])


class Teacher(nn.Module):
    """A 16 kHz SSL model: ``forward(wavs (B, T), lengths (B,)) -> ([hidden (B, F, H)], frames (B,))``.

    ``model`` is the s3prl model (wav2vec2/HuBERT/WavLM class) when ``arch`` is given, else an
    ``S3PRLUpstream``. ``load_teacher`` returns it frozen (eval mode, no gradients); a caller that
    fine-tunes it turns ``requires_grad`` back on.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, model: nn.Module, arch: dict | None = None, name: str = ""):
        super().__init__()
        self.model = model
        self.arch = arch
        self.name = name
        self.regularisation = None  # set by set_regularisation (training-time dropout/LayerDrop/masking)
        if arch is not None:
            model.encoder.layerdrop = 0.0  # a fixed number of hidden states, as s3prl's experts do
            # whether the conv front-end learns is decided by requires_grad alone
            model.feature_grad_mult = 1.0
            self.normalize = archmod.normalizes_input(arch)
            self.norm_eps = float(arch.get("norm_eps", 1e-5))  # s3prl's F.layer_norm eps
            self.num_layers = len(model.encoder.layers) + 1
            self.hidden_size = int(model.encoder.embedding_dim)
        else:
            self.normalize = bool(getattr(model, "normalize", False))
            self.norm_eps = 1e-5
            self.num_layers = int(model.num_layers)
            self.hidden_size = int(model.hidden_sizes[-1])

    @property
    def kind(self) -> str | None:
        return None if self.arch is None else self.arch["kind"]

    def set_regularisation(self, mode: str) -> "Teacher":
        """Training-time regularisation ``mode`` ("hf" | "none", see ``regularise``) of this model family."""
        if self.arch is None:  # another s3prl upstream: only "none" can be honoured (every dropout off)
            if mode != "none":
                raise InputError(f"teacher {self.name!r}", f"ssl_train={mode!r} needs a wav2vec2/HuBERT/WavLM model")
            for m in self.model.modules():
                if isinstance(m, nn.Dropout):
                    m.p = 0.0
            return self
        self.regularisation = regularise.for_model(mode, self.arch["kind"])
        regularise.apply(self.model, self.regularisation)
        return self

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid frames for 16 kHz clips of ``lengths`` samples."""
        lengths = torch.as_tensor(lengths)
        if self.arch is None:
            return torch.div(lengths - 1, 320, rounding_mode="floor") + 1  # S3PRLUpstream's own rule
        return frontend_lengths(self.model, lengths, _first_conv_lengths)

    def forward(self, wavs: torch.Tensor, lengths: torch.Tensor | None = None):
        if self.arch is None:
            if lengths is None:
                lengths = torch.full((wavs.shape[0],), wavs.shape[1], dtype=torch.long, device=wavs.device)
            hs, hs_len = self.model(wavs, lengths.to(wavs.device))
            return list(hs), hs_len[-1]
        return encode(self.model, wavs, lengths, _first_conv_lengths, normalize=self.normalize,
                      feature_grad_mult=self.model.feature_grad_mult, where=f"teacher {self.name}",
                      reg=self.regularisation, norm_eps=self.norm_eps)


def load_teacher(spec) -> Teacher:
    """Load ``spec`` (a ``TeacherSpec``) through s3prl; frozen, eval mode, on the CPU."""
    from s3prl.nn import S3PRLUpstream  # lazy: importing s3prl pulls in every upstream (seconds)

    name, path = spec.name, spec.path
    if name not in S3PRLUpstream.available_names():
        raise InputError("teacher.name", f"{name!r} is not an s3prl upstream name")
    needs_path = name.endswith(("_local", "_custom"))
    if needs_path and not path:
        raise InputError("teacher.path", f"upstream {name!r} needs a checkpoint path")
    if path is not None and not Path(path).is_file():
        raise InputError(str(path), f"teacher checkpoint for {name!r} not found")
    with archmod.recording_constructors() as calls:
        try:
            up = S3PRLUpstream(name, path_or_url=path) if path else S3PRLUpstream(name)
        except (KeyError, RuntimeError, ValueError) as err:  # wrong format / kind for this name
            raise InputError(str(path or name), f"s3prl could not load {name!r}: {err}") from err
    expert = up.upstream
    model = getattr(expert, "model", None)
    kind = archmod.kind_of(model) if model is not None else None
    if kind is None:
        teacher = Teacher(up, None, name)
    else:
        _, args, kwargs = next(c for c in calls if c[0] is model)
        arch = archmod.arch_from_call(kind, args, kwargs)
        arch["normalize"] = _expert_normalizes(expert)
        expert.remove_all_hooks()  # s3prl's hooks would collect every forward we run
        teacher = Teacher(model, arch, name)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def _expert_normalizes(expert: nn.Module) -> bool:
    for attr in ("wav_normalize",):
        if hasattr(expert, attr):
            return bool(getattr(expert, attr))
    for attr in ("task_cfg", "cfg"):
        cfg = getattr(expert, attr, None)
        if cfg is not None and hasattr(cfg, "normalize"):
            return bool(cfg.normalize)
    return False
