"""Analog -> digital filter conversion for one frame geometry (a ``Plan``).

* Frequency-domain least squares (TASLP 2022 / the paper's ``FreqRespSampConv1d``): M points
  f_m = m·fs/(2(M-1)), m = 0..M-1, on [0, fs/2]; taps at (possibly fractional) lags n_k; solve
  min_h sum_m |sum_k h_k e^{-j w_m n_k/fs} - H(w_m)|^2 with real and imaginary parts stacked:
  h = A^+ b, A = [cos(w n/fs); -sin(w n/fs)] (2M x K), b = [Re H; Im H]. A^+ depends only on the
  geometry (fs, lags, M): it is cached, built in float64, and carries no gradient; gradients reach
  the analog parameters through b. A sub-sample phase delta is just a shifted lag set, i.e. the
  design of H(w)·e^{jw delta/fs} on the integer lags. For the reference geometry the analog
  response is sampled on TN's float32 grid ``torch.linspace(0, π·fs, M)``
  (TomohikoNakamura/sfi_convtasnet ``sfi_conv/fir_design.py`` ``_FreqRespSampFIRs._compute_pinvW``),
  so responses that depend on the grid (the NAF with ``norm="query"``) see the same points.
* Time-domain sampling (impulse invariance), two conventions:
  ``suite``: h_k = h_c(n_k/fs + t0)/fs on the plan's lags (the 1/fs keeps the gain of the time and
  frequency designs equal at every rate); when fs is below the reference rate, filters whose centre
  is at or above the new Nyquist are zeroed.
  ``reference`` (TN ``sfi_conv/continuous_filters.py`` ``TDModulatedGaussianFilters.
  get_impulse_responses``, MGF only): t = arange(K)/fs - mean (half-integer lags for even K),
  kernel 2·sqrt(2π·σ²)·exp(-σ²t²/2)·cos(μt + φ) = 2π·h_c(t) (no 1/fs), taps reversed; below the
  training rate filters with centre > fs/2 are zeroed (centre <= fs/2 kept).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import scipy.linalg
import torch
from threadpoolctl import threadpool_limits

from .geometry import Plan


def freq_grid_hz(fs: float, n_freq: int) -> torch.Tensor:
    return torch.arange(n_freq, dtype=torch.float64) * (float(fs) / (2 * (n_freq - 1)))


def ls_matrix(fs: float, lags, n_freq: int) -> np.ndarray:
    """A (2M x K) for lags in samples (numpy, float64): the LS design's system matrix."""
    w = 2 * np.pi * freq_grid_hz(fs, n_freq).numpy()[:, None] / float(fs)  # rad/sample
    arg = w * np.asarray(lags, dtype=np.float64)[None, :]
    return np.concatenate([np.cos(arg), -np.sin(arg)])


@functools.lru_cache(maxsize=128)
def ls_pinv(plan: Plan, n_freq: int, device: str = "cpu") -> torch.Tensor:
    """Stacked pseudo-inverses (n_phases, K, 2M), zero rows for taps outside a phase's window."""
    if device != "cpu":
        return ls_pinv(plan, n_freq).to(device)
    out = np.zeros((plan.n_phases, plan.taps, 2 * n_freq))
    # tiny factorisations: a multi-threaded BLAS on a loaded machine is ~1000x slower here
    with threadpool_limits(limits=1):
        _fill_pinv(out, plan, n_freq)
    return torch.from_numpy(out).float()


def _fill_pinv(out: np.ndarray, plan: Plan, n_freq: int) -> None:
    for m, delta in enumerate(plan.deltas):
        active = np.asarray(plan.active(delta))
        lags = np.asarray(plan.lags(delta))[active]
        # A has full column rank (K distinct lags, K <= 2M): A^+ = R^-1 Q^T from a thin QR,
        # much cheaper than an SVD when there are many phases (22.05 kHz: 64)
        q, r = np.linalg.qr(ls_matrix(float(plan.fs), lags, n_freq))
        out[m, active] = scipy.linalg.solve_triangular(r, q.T)


def design_freq_ls(response: torch.Tensor, plan: Plan, n_freq: int) -> torch.Tensor:
    """complex (C, M) response on freq_grid_hz -> kernels (n_phases, C, K)."""
    b = torch.cat([response.real, response.imag], dim=1)  # (C, 2M)
    pinv = ls_pinv(plan, n_freq, str(b.device))
    return torch.einsum("pkm,cm->pck", pinv, b)


@functools.lru_cache(maxsize=64)
def _lag_times(plan: Plan) -> tuple[torch.Tensor, torch.Tensor]:
    lags = torch.tensor([plan.lags(d) for d in plan.deltas], dtype=torch.float64)
    mask = torch.tensor([plan.active(d) for d in plan.deltas])
    return (lags / float(plan.fs)).float(), mask


def design_omega(plan: Plan, n_freq: int, device) -> torch.Tensor:
    """float32 angular frequencies (rad/s) at which the analog response is sampled for ``plan``."""
    if plan.exact_grid:
        return (2 * math.pi * freq_grid_hz(float(plan.fs), n_freq)).float().to(device)
    # TN fir_design.py _compute_pinvW: torch.linspace(0, nyquist_rate*2.0*numpy.pi, M).float()
    return torch.linspace(0, float(plan.fs) / 2 * 2.0 * math.pi, n_freq, dtype=torch.float32,
                          device=device)


def design_time(bank, plan: Plan, t0: float = 0.0, convention: str = "suite") -> torch.Tensor:
    """Sample h_c at the taps' times -> kernels (n_phases, C, K)."""
    if convention == "reference":
        return _design_time_reference(bank, plan)
    times, mask = _lag_times(plan)
    dev = next(bank.parameters()).device
    fs = float(plan.fs)
    h = bank.impulse_response(times.to(dev) + t0, band_hz=fs / 2) / fs  # (C, P, K)
    h = h.transpose(0, 1) * mask.to(dev)[:, None, :]
    centres = bank.center_freqs_hz()
    if centres is not None and fs < plan.fs_ref:
        h = h * (centres < fs / 2).to(h.dtype)[None, :, None]
    return h


def _design_time_reference(bank, plan: Plan) -> torch.Tensor:
    """TN's time-domain MGF kernel on the reference geometry -> (1, C, K)."""
    if plan.exact_grid:
        raise ValueError(f"TN's time-domain MGF is defined on the reference geometry, not {plan.policy!r}")
    dev = next(bank.parameters()).device
    fs, K = float(plan.fs), plan.taps
    t = torch.arange(0.0, K, 1, dtype=torch.float32, device=dev) / fs
    t = (t - t.mean()).flip(0)  # weight k at ((K-1)/2 - k)/fs: TN's reversed taps
    h = bank.impulse_response(t) * (2 * math.pi)  # TN's gain 2·sqrt(2π·σ²) = 2π x ours
    if fs < plan.fs_ref:
        h = h * (bank.center_freqs_hz() <= fs / 2).to(h.dtype)[:, None]
    return h[None]


def sinc_cutoff(plan: Plan, band: str) -> float:
    """Cutoff of the interpolating sinc as a fraction of the input Nyquist.

    ``input``: 1 (reconstructs the stride-1 output, which is what a 16 kHz model samples, aliasing
    included); ``output``: the output frame rate's Nyquist, 1/S_eff (anti-aliased decimation).
    """
    if band == "input":
        return 1.0
    if band == "output":
        return min(1.0, 1.0 / float(plan.s_eff))
    raise ValueError(f"sinc band must be 'input' or 'output', got {band!r}")


def sinc_phases(kernel: torch.Tensor, plan: Plan, half_length: int, cutoff: float = 1.0) -> torch.Tensor:
    """EUSIPCO 2023 sinc policy folded into the kernels.

    The stride-1 output y[n] = sum_k w[k] x[n+k] is read at the fractional position a + delta by
    Hann-windowed sinc interpolation, y~ = sum_l y[a+l] g(delta - l), l in [-L, L-1], with
    g(v) = c sinc(c v) hann(v / L) for a cutoff c (fraction of the input Nyquist). Because that
    is linear, frame j equals sum_u x[a_j - L + u] (g_delta * w)[u]: one kernel of K + 2L - 1 taps
    per phase, applied like the ``phase`` kernels (same result, without the stride-1 pass).
    kernel (C, K) -> (n_phases, C, K + 2L - 1).
    """
    L = int(half_length)
    c = float(cutoff)
    ls = torch.arange(-L, L, dtype=torch.float64)
    taps = []
    for delta in plan.deltas:
        v = float(delta) - ls
        g = c * torch.sinc(c * v) * torch.where(v.abs() < L, 0.5 * (1 + torch.cos(math.pi * v / L)), 0.0)
        taps.append(g)
    g = torch.stack(taps).to(kernel)  # (P, 2L): weight of y[a + l]
    C, K = kernel.shape
    # full convolution of each kernel with each phase's interpolator: out[p,c,u] = sum_l g[p,l] w[c,u-l]
    out = torch.nn.functional.conv1d(
        torch.nn.functional.pad(kernel[:, None, :], (2 * L - 1, 2 * L - 1)),  # (C, 1, K + 4L - 2)
        g.flip(-1)[:, None, :],  # (P, 1, 2L): cross-correlation with flipped g = convolution
    )  # (C, P, K + 2L - 1)
    return out.transpose(0, 1)
