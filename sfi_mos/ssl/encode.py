"""Padding-exact forward pass through an s3prl wav2vec2/HuBERT/WavLM model, shared by teacher and student.

Why not ``model.extract_features``: (1) it builds the frame padding mask from the 16 kHz conv geometry,
which is wrong for an SFI front-end at another rate; (2) the base models' first block has a GroupNorm
over *time*, so zero padding changes every valid frame and results depend on batch composition.
Here each block's valid-frame count is tracked explicitly, the GroupNorm statistics use valid frames
only, and the encoder gets a mask built from those counts. On an unpadded batch the result equals
s3prl's own forward (checked in tests). Hidden states are the ones s3prl's experts expose: the input
of every transformer layer plus the encoder output (``encoder_layers + 1`` tensors).
"""
from __future__ import annotations

import contextlib
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .regularise import time_mask


def conv_out_lengths(lengths: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Valid output frames of an unpadded conv: floor((L - K) / S) + 1, at least 0."""
    return torch.clamp(torch.div(lengths - kernel, stride, rounding_mode="floor") + 1, min=0)


def valid_mask(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """(B, size) bool, True on valid positions."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def masked_group_norm(gn: nn.GroupNorm, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """GroupNorm of (B, C, T) whose statistics use only the first ``lengths[b]`` frames (float32)."""
    b, c, t = x.shape
    g = gn.num_groups
    m = valid_mask(lengths, t).to(torch.float32).view(b, 1, 1, t)
    xg = x.float().view(b, g, c // g, t)
    n = (m.sum(dim=3, keepdim=True) * (c // g)).clamp(min=1.0)
    mean = (xg * m).sum(dim=(2, 3), keepdim=True) / n
    var = (((xg - mean) * m) ** 2).sum(dim=(2, 3), keepdim=True) / n
    y = ((xg - mean) / torch.sqrt(var + gn.eps)).view(b, c, t)
    if gn.affine:
        y = y * gn.weight.float()[None, :, None] + gn.bias.float()[None, :, None]
    return (y * m.view(b, 1, t)).to(x.dtype)


def normalize_waveforms(wavs: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-clip zero mean / unit variance over valid samples (what s3prl's ``F.layer_norm(wav)`` does)."""
    m = valid_mask(lengths, wavs.shape[1]).to(wavs.dtype)
    n = lengths.to(wavs.dtype).clamp(min=1.0)[:, None]
    mean = (wavs * m).sum(1, keepdim=True) / n
    var = (((wavs - mean) * m) ** 2).sum(1, keepdim=True) / n
    return (wavs - mean) / torch.sqrt(var + eps) * m


@contextlib.contextmanager
def _frozen_numpy_rng(active: bool):
    """Restore numpy's global RNG afterwards: s3prl's WavLM encoder draws a LayerDrop number per layer
    even in eval mode, which would make an evaluation move the training RNG (and break exact resume)."""
    if not active:
        yield
        return
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


class _GradMultiply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.new(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def frontend_lengths(model: nn.Module, lengths: torch.Tensor,
                     first_lengths: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Valid output frames of the whole conv stack for inputs of ``lengths`` samples."""
    blocks = model.feature_extractor.conv_layers
    n = first_lengths(blocks[0][0], lengths)
    for block in list(blocks)[1:]:
        n = conv_out_lengths(n, block[0].kernel_size[0], block[0].stride[0])
    return n


def run_frontend(model: nn.Module, wavs: torch.Tensor, lengths: torch.Tensor,
                 first_lengths: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Waveform conv stack -> (features (B, C, F), frames (B,)). ``first_lengths(conv, lengths)`` gives
    the valid frames of the first (waveform-facing) conv; the later convs use the conv formula."""
    x = wavs.unsqueeze(1)
    cur = lengths
    for i, block in enumerate(model.feature_extractor.conv_layers):
        conv = block[0]
        x = conv(x)
        if i == 0:
            cur = first_lengths(conv, cur)
        else:
            cur = conv_out_lengths(cur, conv.kernel_size[0], conv.stride[0])
        cur = torch.minimum(cur, torch.full_like(cur, x.shape[-1]))
        for mod in list(block)[1:]:
            x = masked_group_norm(mod, x, cur) if isinstance(mod, nn.GroupNorm) else mod(x)
    return x, cur


def encode(model: nn.Module, wavs: torch.Tensor, lengths: torch.Tensor | None,
           first_lengths: Callable[[nn.Module, torch.Tensor], torch.Tensor], normalize: bool = False,
           feature_grad_mult: float = 1.0, where: str = "wavs",
           reg=None, norm_eps: float = 1e-5) -> tuple[list[torch.Tensor], torch.Tensor]:
    """All hidden states [(B, F, H)] * (layers + 1) and valid frames (B,) for padded ``wavs`` (B, T).

    ``reg`` (a ``regularise.Regularisation``): in training mode, SpecAugment time masking of the
    projected features and LayerDrop (dropouts are set on the modules by ``regularise.apply``). A layer
    that LayerDrop skips passes its input on, so its hidden state is the next layer's input, as in HF.
    """
    if wavs.dim() != 2:
        raise InputError(where, f"expected a (batch, samples) tensor, got shape {tuple(wavs.shape)}")
    if lengths is None:
        lengths = torch.full((wavs.shape[0],), wavs.shape[1], dtype=torch.long, device=wavs.device)
    lengths = lengths.to(device=wavs.device, dtype=torch.long)
    if lengths.shape != (wavs.shape[0],) or bool((lengths > wavs.shape[1]).any()):
        raise InputError(where, f"lengths {lengths.tolist()} do not fit a batch of shape {tuple(wavs.shape)}")
    wavs = wavs * valid_mask(lengths, wavs.shape[1]).to(wavs.dtype)  # whatever the caller padded with
    if normalize:
        wavs = normalize_waveforms(wavs, lengths, norm_eps)

    expected = frontend_lengths(model, lengths, first_lengths)
    if bool((expected < 1).any()):
        bad = int(torch.nonzero(expected < 1)[0, 0])
        raise InputError(f"{where}[{bad}]", f"clip of {int(lengths[bad])} samples is too short for one frame")

    if feature_grad_mult > 0:
        feats, frames = run_frontend(model, wavs, lengths, first_lengths)
        if feature_grad_mult != 1.0:
            feats = _GradMultiply.apply(feats, feature_grad_mult)
    else:
        with torch.no_grad():
            feats, frames = run_frontend(model, wavs, lengths, first_lengths)
    n = int(frames.max())
    x = feats[:, :, :n].transpose(1, 2)
    x = model.layer_norm(x)
    if model.post_extract_proj is not None:
        x = model.post_extract_proj(x)
    x = model.dropout_input(x)
    if reg is not None and model.training:
        masked = time_mask(frames, n, reg)
        if masked is not None:
            x = torch.where(masked[:, :, None], model.mask_emb.to(x.dtype), x)
    padding_mask = ~valid_mask(frames, n)

    layers = model.encoder.layers
    hidden: list[torch.Tensor] = []
    # LayerDrop as HF applies it (each layer skipped with probability p in training, torch RNG): a
    # skipped layer passes its input on. s3prl's own LayerDrop stays off: it would drop hidden states
    # and it draws from numpy's RNG even in eval mode.
    p = reg.layerdrop if reg is not None and model.training else 0.0
    skip = (torch.rand(len(layers)) < p).tolist() if p > 0 else [False] * len(layers)

    def keep(i):
        def hook(_m, inp, out):
            hidden.append(inp[0].transpose(0, 1))
            if skip[i]:
                return (inp[0], *out[1:])
        return hook

    hooks = [layer.register_forward_hook(keep(i)) for i, layer in enumerate(layers)]
    try:
        with _frozen_numpy_rng(not model.training):
            out, _ = model.encoder(x, padding_mask=padding_mask)
    finally:
        for h in hooks:
            h.remove()
    hidden.append(out)
    # wav2vec2's encoder pads the sequence to a multiple of required_seq_len_multiple inside
    return [h[:, :n] for h in hidden], frames
