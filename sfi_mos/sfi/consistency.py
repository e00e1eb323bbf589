"""Cross-rate consistency: the same band-limited signal at several rates through one SFI layer.

A sum of sinusoids below ``fmax_hz`` is sampled exactly at every rate (no resampler in the loop),
so any difference between the layer's outputs comes from the layer. Outputs are compared, frame by
frame on their common frames, with the output at a reference rate (48 kHz: the finest grid).
"""
from __future__ import annotations

import math

import torch


def bandlimited_signal(fs: float, seconds: float, fmax_hz: float, n_tones: int = 200,
                       seed: int = 0) -> torch.Tensor:
    """(1, 1, round(seconds*fs)) float32: random tones in [0, fmax_hz), same tones at every fs."""
    g = torch.Generator().manual_seed(seed)
    f = torch.rand(n_tones, generator=g, dtype=torch.float64) * fmax_hz
    phase = torch.rand(n_tones, generator=g, dtype=torch.float64) * 2 * math.pi
    amp = torch.randn(n_tones, generator=g, dtype=torch.float64) / math.sqrt(n_tones)
    t = torch.arange(int(round(seconds * float(fs))), dtype=torch.float64) / float(fs)
    x = (amp[:, None] * torch.cos(2 * math.pi * f[:, None] * t[None] + phase[:, None])).sum(0)
    return x.float()[None, None]


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two outputs over their common frames (all channels, flattened)."""
    n = min(a.shape[-1], b.shape[-1])
    a, b = a[..., :n].flatten().double(), b[..., :n].flatten().double()
    return float(a @ b / (a.norm() * b.norm()).clamp_min(1e-30))


@torch.no_grad()
def cross_rate_similarity(layer, rates, ref_rate: float = 48000, seconds: float = 1.0,
                          fmax_hz: float = 7000.0, seed: int = 0) -> dict[float, float]:
    """{rate: cosine(output at rate, output at ref_rate)}; the signal's band is
    min(fmax_hz, 0.45·rate) so each rate sees the same (alias-free) content as the reference."""
    was_training, fs0 = layer.training, layer.sample_rate
    layer.eval()
    out = {}
    for fs in rates:
        band = min(fmax_hz, 0.45 * float(fs))
        ref = layer.set_sample_rate(ref_rate)(bandlimited_signal(ref_rate, seconds, band, seed=seed))
        y = layer.set_sample_rate(fs)(bandlimited_signal(fs, seconds, band, seed=seed))
        out[fs] = cosine(y, ref)
    layer.set_sample_rate(fs0)
    layer.train(was_training)
    return out
