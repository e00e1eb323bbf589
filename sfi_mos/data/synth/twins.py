"""Blind-spot twins: pairs of clips that are identical below ``TWIN_EDGE_HZ`` and differ only above it.

A twin group is one clean source clip at a rate with a band above the edge (24 or 48 kHz) plus one
degraded copy per (kind, severity). Every degraded twin is ``low + new_high``: ``low`` is the clean
clip's exact FFT band below the edge (shared, sample for sample, before 16-bit quantisation) and only
the high band is changed, so a model that resamples to 16 kHz sees the same input for both twins up
to its resampler's leakage above the edge (measured by ``sfi_mos.probe.identity``).

Why 10 kHz and not 8.5 kHz: torchaudio's default resampler (the ``resample`` backbone, sinc with Hann
window, width 6, roll-off 0.99) passes a 48 -> 16 kHz tone at 8.5 kHz at -10.8 dB, 9 kHz at -16.8 dB,
9.5 kHz at -26 dB and 10 kHz at -45 dB (aliased into 6-7.5 kHz), so twins differing from 8.5 kHz up
would not be identical after resampling. ``HB_EDGE_HZ`` of the degradation catalogue uses the same
edge for the same reason.

Kinds (real-world high-band defects), ``fn(x, fs, s, rng) -> (y, cap_hz)``, severity s in (0, 1]:
* ``bandlimit``: fake full band, material of a lower rate upsampled: nothing above a cutoff that falls
  log-linearly from min(16 kHz, 0.9 fs/2) to the edge (s = 1: empty above 10 kHz);
* ``hb_noise``: white noise confined above the edge, SNR 30 -> 5 dB re the clip's RMS;
* ``spectral_holes``: codec-like holes, 20 ms x 1 kHz tiles of the high band zeroed with
  probability 0.15 -> 0.6 (scale-factor bands a low-rate perceptual codec drops);
* ``imaging``: the band below the edge mirrored above it (what zero-stuffing from a 2 x edge rate
  leaves without an interpolation filter), added at -30 -> -6 dB re the mirrored band.

Labels by construction (``twin_mos``; data_sources.md §5.2, mixed-rate context):
    MOS = 1 + 4 q f g(B),  q = (prior - 1) / 4,  f = 1 - alpha_kind * s,  B = min(B_clean, cap)
so the degraded twin is lower than its clean twin by 4 q g(B_clean) alpha s for the additive kinds
and by 4 q (g(B_clean) - g(cutoff(s))) for ``bandlimit`` (alpha 0: the loss is the bandwidth term).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import fft as sfft
from scipy.signal import istft, stft

from . import labels
from .degrade import _lerp, _rms

TWIN_EDGE_HZ = 10000.0  # twins are identical below this frequency
SEVERITIES = (0.3333, 0.6667, 1.0)  # rounded: written into file names and the manifest
MIN_TWIN_FS = 24000  # needs a band above the edge


@dataclass(frozen=True)
class TwinKind:
    name: str
    fn: Callable
    alpha: float  # MOS loss factor at s = 1 (0: the loss comes through the bandwidth term)


def band_split(x: np.ndarray, fs: int, lo: float, ramp: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    """(below, above) ``lo`` Hz with a raised-cosine ramp above it, summing to ``x``. The FFT has the
    clip's own length (not padded, unlike ``degrade.band_mask``): a padded transform cut back to the
    clip leaks about -60 dB below ``lo``; this one is exact up to float rounding (circularly)."""
    spec = sfft.rfft(x)
    f = sfft.rfftfreq(len(x), 1.0 / fs)
    w = 0.5 - 0.5 * np.cos(np.pi * np.clip((f - lo) / ramp, 0.0, 1.0))
    above = sfft.irfft(spec * w, n=len(x))
    return x - above, above


def fast_length(n: int) -> int:
    """The largest length <= n whose FFT is fast (5-smooth): twin sources are cut to it, because the
    exact-length split would otherwise fall back to Bluestein's algorithm (10x slower)."""
    m = int(n)
    while m > 1 and sfft.next_fast_len(m, real=True) != m:
        m -= 1
    return m


def _split(x: np.ndarray, fs: int) -> tuple[np.ndarray, np.ndarray]:
    return band_split(x, fs, TWIN_EDGE_HZ)


def cutoff_hz(fs: int, s: float) -> float:
    top = min(16000.0, 0.9 * fs / 2)
    return float(np.exp(_lerp(s, np.log(top), np.log(TWIN_EDGE_HZ))))


def bandlimit(x, fs, s, rng):
    c = cutoff_hz(fs, s)
    return band_split(x, fs, c)[0], c  # exact FFT cut: nothing below c (>= the edge) changes


def hb_noise(x, fs, s, rng):
    _, n = _split(rng.standard_normal(len(x)), fs)
    snr = _lerp(s, 30.0, 5.0)
    return x + n * _rms(x) / _rms(n) * 10 ** (-snr / 20), None


def spectral_holes(x, fs, s, rng):
    low, high = _split(x, fs)
    nper = 2 ** int(round(np.log2(0.02 * fs)))
    f, _, z = stft(high, fs, nperseg=nper)
    band = np.floor((f - TWIN_EDGE_HZ) / 1000.0).astype(int)  # 1 kHz tiles above the edge
    n_bands = max(1, int(band.max()) + 1)
    keep = rng.random((n_bands, z.shape[1])) >= _lerp(s, 0.15, 0.6)
    mask = np.where(band[:, None] >= 0, keep[np.clip(band, 0, None)], True)
    y = istft(z * mask, fs, nperseg=nper)[1]
    y = y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))
    _, y = _split(y, fs)  # STFT leakage must not reach below the edge
    return low + y, None


def imaging(x, fs, s, rng):
    low, high = _split(x, fs)
    n = len(x)
    spec = sfft.rfft(low)
    f = sfft.rfftfreq(n, 1.0 / fs)
    k_edge = TWIN_EDGE_HZ * n / fs
    src = np.rint(2 * k_edge - np.arange(len(f))).astype(int)
    ok = (f >= TWIN_EDGE_HZ) & (src >= 0)
    mirror = np.zeros_like(spec)
    mirror[ok] = np.conj(spec[src[ok]])  # image of f' below the edge at 2 edge - f'
    _, image = _split(sfft.irfft(mirror, n=n), fs)
    return x + image * _rms(high) / _rms(image) * 10 ** (_lerp(s, -30.0, -6.0) / 20), None


KINDS: dict[str, TwinKind] = {k.name: k for k in (
    TwinKind("bandlimit", bandlimit, 0.0),
    TwinKind("hb_noise", hb_noise, 0.35),
    TwinKind("spectral_holes", spectral_holes, 0.3),
    TwinKind("imaging", imaging, 0.3),
)}


def apply(kind: str, x: np.ndarray, fs: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, float | None]:
    if fs < MIN_TWIN_FS:
        raise ValueError(f"twins need fs >= {MIN_TWIN_FS} Hz (a band above {TWIN_EDGE_HZ:g} Hz), got {fs}")
    return KINDS[kind].fn(np.asarray(x, float), fs, float(s), rng)


def twin_mos(prior: float, kind: str | None, s: float, b_clean: float, cap: float | None,
             fs: int) -> tuple[float, float, float]:
    """(MOS_single, MOS_mixed, B_eff) of a twin (``kind=None``: the clean one); the module docstring
    gives the formula, the same as ``labels.latent_mos`` with the twin kind's alpha."""
    q = (prior - 1.0) / 4.0
    f = 1.0 if kind is None else 1.0 - KINDS[kind].alpha * float(np.clip(s, 0.0, 1.0))
    b = b_clean if cap is None else min(b_clean, cap)
    g = labels.bandwidth_quality(b)
    single = 1.0 + 4.0 * q * f * min(1.0, g / labels.bandwidth_quality(0.95 * fs / 2))
    return single, 1.0 + 4.0 * q * f * g, float(b)
