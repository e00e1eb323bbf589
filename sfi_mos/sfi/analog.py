"""Latent analog filter banks: C continuous filters, each a function of frequency (and time).

Every family returns the continuous frequency response ``freq_response(omega) -> complex (C, N)``
for angular frequencies omega (rad/s), and the impulse response ``impulse_response(t) -> (C, *t)``
for times t (s). Conventions: H(w) = \\int h(t) e^{-jwt} dt, so a digital kernel with taps
h[n] = h(n/fs)/fs at lags n has sum_n h[n] e^{-jwn/fs} ~= H(w): the time- and frequency-domain
designs give the same gain at every rate (the 1/fs keeps layer outputs rate independent).

Families:
* ``NeuralAnalogFilter`` (FD-NAF, Imamura et al. 2024; the paper's): trainable random Fourier
  features of x = w/w_max -> 1x1-conv MLP with GroupNorm(1, .) + ReLU -> 2C outputs (Re, Im).
  Its impulse response is the inverse Fourier integral of H up to a band limit (numerical).
  Two settings, each with the reference code's (KI = Kanami-Imamura/Neural_Analog_Filter_speech_
  separation, ``asteroid/asteroid_filterbanks/naf_fb.py`` ``FDNAFFilterBank``) value beside ours:

  - ``norm``: ``"fixed"`` (ours) takes the GroupNorm statistics over a fixed grid of x in [0, 1],
    so H is a true function of frequency (the same w gives the same H on every rate's grid);
    ``"query"`` (KI ``get_frequency_responses``, lines 269-294: ``implicit_filter`` with its
    GroupNorm(1, .) layers runs on the queried grid) takes them over whatever frequencies are
    queried, so H at a given w depends on the grid.
  - ``lowpass``: ``"always"`` (ours) zeroes H above max_freq in train and eval mode (the MLP is
    only defined on x in [0, 1]); ``"eval"`` (KI lines 291-292: ``if not self.training``) zeroes
    it in eval mode only, so training at a rate whose Nyquist exceeds max_freq uses the MLP's
    extrapolation.
* ``ModulatedGaussian``: H(w) = e^{j phi} G(w - mu) + e^{-j phi} G(w + mu), G Gaussian of std
  sigma; closed-form h(t) = 2 g(t) cos(mu t + phi), g(t) = sigma/sqrt(2 pi) exp(-sigma^2 t^2/2).
  Same H as TN's ``ModulatedGaussianFilters`` (TomohikoNakamura/sfi_convtasnet,
  ``sfi_conv/continuous_filters.py``); TN's time-domain kernel is 2 pi h(t), see ``design``.
* ``MultiPhaseGammatone`` (order 2, causal): h(t) = A t e^{-a t} cos(Omega t + phi), t >= 0, with
  closed-form H; ERB-spaced centres, several phases per centre, peak gain normalised to 1.
"""
from __future__ import annotations

import abc
import math

import torch
from torch import nn
from torch.nn import functional as F

from sfi_mos.errors import InputError

FAMILIES = ("naf", "mgf", "mgf_td", "gammatone")
NAF_NORMS = ("fixed", "query")  # ours | KI's (GroupNorm statistics over the queried grid)
NAF_LOWPASS = ("always", "eval")  # ours | KI's (zero above max_freq in eval mode only)
MGF_CONVENTIONS = ("suite", "reference")  # ours | TN's time-domain MGF (see design.design_time)
# initial Gaussian width (std, Hz): ours spans a 10-tap 16 kHz kernel; TN's default init_sigma is
# 100·2π rad/s (TN sfi_conv/continuous_filters.py lines 52 and 118; configs/model/
# sfi_convtasnet_{fd,td}_mgf.yaml line 25: init_sigma 628.3185307179587)
MGF_INIT_WIDTH_HZ = {"suite": 1000.0, "reference": 100.0}


def hz_to_erb(f):
    return 9.265 * torch.log1p(f / (24.7 * 9.265))


def erb_to_hz(e):
    return (torch.exp(e / 9.265) - 1.0) * 24.7 * 9.265


def erb_space(n: int, low_hz: float, high_hz: float) -> torch.Tensor:
    lo, hi = hz_to_erb(torch.tensor(float(low_hz))), hz_to_erb(torch.tensor(float(high_hz)))
    return erb_to_hz(torch.linspace(float(lo), float(hi), n, dtype=torch.float64)).float()


class AnalogFilterBank(nn.Module, abc.ABC):
    """Base class: C analog filters. ``causal`` families have support t >= 0."""

    causal = False

    def __init__(self, n_filters: int):
        super().__init__()
        self.n_filters = int(n_filters)

    @abc.abstractmethod
    def freq_response(self, omega: torch.Tensor) -> torch.Tensor:  # (N,) rad/s -> complex (C, N)
        """Continuous frequency response H_c(omega) of every filter."""

    def center_freqs_hz(self) -> torch.Tensor | None:
        """Per-filter centre frequency (for anti-aliasing in time-domain design), if defined."""
        return None

    def impulse_response(self, t: torch.Tensor, band_hz: float) -> torch.Tensor:
        """h(t) for t (any shape) -> (C, *t.shape), via the inverse Fourier integral of H over
        [0, band_hz] (trapezoid rule on a grid fine enough for |t| up to a few ms)."""
        n = 2048
        omega = torch.linspace(0.0, 2 * math.pi * band_hz, n, device=t.device)
        h = self.freq_response(omega)  # (C, N)
        w = torch.full((n,), float(omega[1] - omega[0]), device=t.device)
        w[0] = w[-1] = w[0] / 2
        phase = omega[:, None] * t.reshape(1, -1)  # (N, T)
        # h(t) = (1/pi) * integral_0^band Re{H(w) e^{jwt}} dw for a real filter
        re = (h.real * w) @ torch.cos(phase) - (h.imag * w) @ torch.sin(phase)
        return (re / math.pi).reshape(self.n_filters, *t.shape)


class NeuralAnalogFilter(AnalogFilterBank):
    """Frequency-domain neural analog filter (paper: 128 RFF, MLP [224, 224], 2C outputs)."""

    def __init__(self, n_filters: int, n_features: int = 128, hidden=(224, 224),
                 max_freq_hz: float = 24000.0, rff_std: float = 2 * math.pi * 10.0,
                 n_norm_points: int = 128, norm: str = "fixed", lowpass: str = "always"):
        super().__init__(n_filters)
        if norm not in NAF_NORMS:
            raise InputError("NeuralAnalogFilter", f"norm {norm!r} is not one of {NAF_NORMS}")
        if lowpass not in NAF_LOWPASS:
            raise InputError("NeuralAnalogFilter", f"lowpass {lowpass!r} is not one of {NAF_LOWPASS}")
        self.norm, self.lowpass = norm, lowpass
        self.max_freq_hz = float(max_freq_hz)
        self.rff = nn.Parameter(torch.randn(n_features) * rff_std)
        widths = [2 * n_features, *hidden, 2 * n_filters]
        self.layers = nn.ModuleList(nn.Conv1d(a, b, 1) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.GroupNorm(1, w) for w in hidden)
        for layer in self.layers:
            nn.init.zeros_(layer.bias)
        # fixed normalisation grid: midpoints of n equal cells of x in [0, 1]
        self.register_buffer("norm_x", (torch.arange(n_norm_points) + 0.5) / n_norm_points,
                             persistent=False)

    def freq_response(self, omega: torch.Tensor) -> torch.Tensor:
        # the float32 scalar division is KI's omega / max_ang_freq, so x <= 1 flags the same points
        x = omega / (2 * math.pi * self.max_freq_hz)
        if self.norm == "fixed":
            n_ref = self.norm_x.numel()
            xs = torch.cat([self.norm_x.to(x), x])
        else:  # "query": the queried points are the statistics' grid
            n_ref, xs = 0, x
        arg = self.rff[:, None] * xs[None, :]
        h = torch.cat([torch.cos(arg), torch.sin(arg)])  # (2F, n_ref + N)
        for layer, norm in zip(self.layers[:-1], self.norms):
            h = layer.weight[:, :, 0] @ h + layer.bias[:, None]
            ref = h[:, :n_ref] if n_ref else h
            mean, var = ref.mean(), ref.var(unbiased=False)
            h = (h - mean) * torch.rsqrt(var + norm.eps)
            h = F.relu(h * norm.weight[:, None] + norm.bias[:, None])
        last = self.layers[-1]  # the reference points only served the normalisation statistics
        h = last.weight[:, :, 0] @ h[:, n_ref:] + last.bias[:, None]
        resp = torch.complex(h[: self.n_filters], h[self.n_filters:])
        if self.lowpass == "eval" and self.training:
            return resp
        return torch.where((x <= 1.0)[None, :], resp, torch.zeros_like(resp))

    def impulse_response(self, t: torch.Tensor, band_hz: float) -> torch.Tensor:
        return super().impulse_response(t, min(band_hz, self.max_freq_hz))

    def extra_repr(self) -> str:
        return f"max_freq_hz={self.max_freq_hz:g}, norm={self.norm}, lowpass={self.lowpass}"


class ModulatedGaussian(AnalogFilterBank):
    """Modulated Gaussian filters, ERB-spaced initial centres (freq- or time-domain design)."""

    def __init__(self, n_filters: int, low_hz: float = 50.0, high_hz: float = 8000.0,
                 bandwidth_hz: float = 1000.0, seed_phase: bool = True):
        super().__init__(n_filters)
        self.center_hz = nn.Parameter(erb_space(n_filters, low_hz, high_hz))
        # sigma in Hz (log-parametrised); default ~ a Gaussian spanning a 10-tap 16 kHz kernel
        self.log_sigma_hz = nn.Parameter(torch.full((n_filters,), math.log(bandwidth_hz)))
        phase = torch.rand(n_filters) * math.pi if seed_phase else torch.zeros(n_filters)
        self.phase = nn.Parameter(phase)

    def _sigma(self):
        return 2 * math.pi * self.log_sigma_hz.exp().clamp_min(1.0)

    def center_freqs_hz(self):
        return self.center_hz

    def freq_response(self, omega):
        mu, sigma = 2 * math.pi * self.center_hz[:, None], self._sigma()[:, None]
        w = omega[None, :]
        g_pos = torch.exp(-((w - mu) ** 2) / (2 * sigma**2))
        g_neg = torch.exp(-((w + mu) ** 2) / (2 * sigma**2))
        phi = self.phase[:, None]
        return torch.complex(torch.cos(phi) * (g_pos + g_neg), torch.sin(phi) * (g_pos - g_neg))

    def impulse_response(self, t, band_hz=None):
        shape = (self.n_filters,) + (1,) * t.dim()
        mu = 2 * math.pi * self.center_hz.reshape(shape)
        sigma = self._sigma().reshape(shape)
        env = sigma / math.sqrt(2 * math.pi) * torch.exp(-(sigma**2) * t**2 / 2)
        return 2 * env * torch.cos(mu * t + self.phase.reshape(shape))


class MultiPhaseGammatone(AnalogFilterBank):
    """Order-2 gammatone filters (Ditter & Gerkmann 2020): ERB-spaced centres x n_phases phases."""

    causal = True

    def __init__(self, n_filters: int, low_hz: float = 50.0, high_hz: float = 8000.0,
                 n_phases: int = 4):
        super().__init__(n_filters)
        n_centres = math.ceil(n_filters / n_phases)
        centres = erb_space(n_centres, low_hz, high_hz).repeat_interleave(n_phases)[:n_filters]
        phases = (torch.arange(n_filters) % n_phases).float() * (2 * math.pi / n_phases)
        self.center_hz = nn.Parameter(centres)
        self.phase = nn.Parameter(phases)

    def center_freqs_hz(self):
        return self.center_hz

    def _decay(self):
        fc = self.center_hz.clamp_min(10.0)
        erb = 24.7 + fc / 9.265
        b = erb / (math.pi / 2)  # order 2: a_n = pi (2n-2)! 2^-(2n-2) / ((n-1)!)^2 = pi/2
        return 2 * math.pi * fc, 2 * math.pi * b

    def freq_response(self, omega):
        Om, a = (v[:, None] for v in self._decay())
        gain = 2 * a**2  # peak |H| ~ 1
        w = omega[None, :].to(torch.complex64)
        e = torch.exp(1j * self.phase[:, None].to(torch.complex64))
        return gain / 2 * (e / (a + 1j * (w - Om)) ** 2 + e.conj() / (a + 1j * (w + Om)) ** 2)

    def impulse_response(self, t, band_hz=None):
        shape = (self.n_filters,) + (1,) * t.dim()
        Om, a = (v.reshape(shape) for v in self._decay())
        tc = t.clamp_min(0.0)
        h = 2 * a**2 * tc * torch.exp(-a * tc) * torch.cos(Om * tc + self.phase.reshape(shape))
        return torch.where(t >= 0, h, torch.zeros_like(h))


def make_filter_bank(kind: str, n_filters: int, *, n_features: int = 128, hidden=(224, 224),
                     max_freq_hz: float = 24000.0, high_hz: float = 8000.0, naf_norm: str = "fixed",
                     naf_lowpass: str = "always", mgf_convention: str = "suite") -> AnalogFilterBank:
    if kind == "naf":
        return NeuralAnalogFilter(n_filters, n_features, tuple(hidden), max_freq_hz,
                                  norm=naf_norm, lowpass=naf_lowpass)
    if kind in ("mgf", "mgf_td"):
        if mgf_convention not in MGF_CONVENTIONS:
            raise InputError("mgf_convention", f"{mgf_convention!r} is not one of {MGF_CONVENTIONS}")
        return ModulatedGaussian(n_filters, high_hz=high_hz,
                                 bandwidth_hz=MGF_INIT_WIDTH_HZ[mgf_convention])
    if kind == "gammatone":
        return MultiPhaseGammatone(n_filters, high_hz=high_hz)
    raise InputError("filter", f"{kind!r} is not one of {FAMILIES}")
