"""SFI layer: frame geometry, rate validation, and the analog -> digital designs."""
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sfi_mos.sfi import SFIConv1d, check_rate, make_plan
from sfi_mos.sfi import design as D
from sfi_mos.sfi.analog import AnalogFilterBank, ModulatedGaussian, MultiPhaseGammatone, NeuralAnalogFilter

RATES = (4000, 8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000, 192000)


def conv_frames(length, k, s):
    return max(0, (length - k) // s + 1)


@pytest.mark.parametrize("bad", [3999, 192001, 0, -16000, float("nan"), float("inf"), "abc", None])
def test_unsupported_rates_raise_naming_the_range(bad):
    with pytest.raises(ValueError, match=r"\[4000, 192000\]"):
        check_rate(bad)
    layer = SFIConv1d(out_channels=4)
    with pytest.raises(ValueError, match=r"\[4000, 192000\]"):
        layer.set_sample_rate(bad)
    assert layer.sample_rate == 16000  # a refused rate leaves the layer as it was


def test_rate_edges_accepted():
    layer = SFIConv1d(out_channels=4).eval()
    for fs in (4000, 192000, 22050.0, 11025.5):
        layer.set_sample_rate(fs)
        n = int(fs * 0.05)
        with torch.no_grad():
            y = layer(torch.randn(1, 1, n))
        want = math.floor((n * Fraction(16000) / Fraction(fs) - 10) / 5) + 1
        assert torch.isfinite(y).all() and y.shape[-1] == want


@pytest.mark.parametrize("policy", ["phase", "sinc"])
def test_frame_counts_equal_reference_count_at_every_rate(policy):
    layer = SFIConv1d(out_channels=4, stride_policy=policy)
    lengths = torch.arange(0, 3000, 7)
    for fs in RATES:
        got = layer.output_lengths(lengths, fs)
        f = Fraction(fs)
        want = [max(0, math.floor((int(n) * Fraction(16000) / f - 10) / 5) + 1) for n in lengths]
        assert got.tolist() == want, fs
        # an input that is exactly n16 samples at 16 kHz gives nn.Conv1d's count at 16 kHz
        n16 = torch.arange(10, 400, 13)
        exact = n16 * fs // 16000
        ok = (exact * 16000) == n16 * fs
        assert (layer.output_lengths(exact[ok], fs)
                == torch.tensor([conv_frames(int(n), 10, 5) for n in n16[ok]])).all()


@pytest.mark.parametrize("policy", ["phase", "sinc", "reference", "round"])
def test_forward_frames_match_output_lengths(policy):
    layer = SFIConv1d(out_channels=4, stride_policy=policy).eval()
    for fs in (8000, 11025, 22050, 24000, 44100, 48000):
        layer.set_sample_rate(fs)
        for n in (0, 3, 14, 15, 16, 101, 777):
            with torch.no_grad():
                y = layer(torch.randn(2, 1, n))
            assert y.shape == (2, 4, int(layer.output_lengths(torch.tensor([n]))[0])), (fs, n)


def test_kernel_and_stride_scale_with_rate():
    for fs, taps, hop in [(16000, 10, 5), (48000, 30, 15), (8000, 5, 5), (22050, 14, 441)]:
        plan = make_plan(fs, 16000, 10, 5, "phase")
        assert plan.taps == taps and plan.hop == hop
    p24 = make_plan(24000, 16000, 10, 5, "phase")
    assert (p24.taps, p24.hop, p24.offsets, p24.deltas) == (15, 15, (0, 8), (0, Fraction(-1, 2)))
    # the reference code's geometry: K = floor(K_eff), hop floor (reference) / round-half-up (round)
    for fs, taps, hop, hop_round in [(8000, 5, 2, 3), (16000, 10, 5, 5), (22050, 13, 6, 7),
                                     (24000, 15, 7, 8), (44100, 27, 13, 14), (48000, 30, 15, 15)]:
        ref, rnd = make_plan(fs, 16000, 10, 5, "reference"), make_plan(fs, 16000, 10, 5, "round")
        assert (ref.taps, ref.hop, rnd.taps, rnd.hop) == (taps, hop, taps, hop_round), fs
        assert ref.n_phases == rnd.n_phases == 1 and not ref.exact_grid
    assert make_plan(11025, 16000, 10, 5, "phase").periodic is False  # q = 128 > 64


@pytest.mark.parametrize("policy", ["reference", "round"])
def test_reference_geometry_is_a_plain_conv(policy):
    """reference/round: output_lengths is nn.Conv1d's formula with K(fs), hop(fs), padding 0, and
    the forward is F.conv1d with kernel(fs) at that hop."""
    layer = SFIConv1d(out_channels=4, stride_policy=policy).eval()
    lengths = torch.arange(0, 500)
    hops = {"reference": (2, 7, 13, 15), "round": (3, 8, 14, 15)}[policy]  # floor | round-half-up
    for (fs, k), hop in zip([(8000, 5), (24000, 15), (44100, 27), (48000, 30)], hops):
        want = torch.tensor([conv_frames(int(n), k, hop) for n in lengths])
        assert (layer.output_lengths(lengths, fs) == want).all(), fs
        x = torch.randn(2, 1, 777)
        with torch.no_grad():
            assert layer.kernel(fs).shape == (4, 1, k)
            torch.testing.assert_close(layer.set_sample_rate(fs)(x),
                                       F.conv1d(x, layer.kernel(fs), stride=hop), rtol=1e-5, atol=1e-6)


def test_reference_lags_are_tn_integer_lags():
    # weight k at lag K//2 - k (TN: odd K -P..P, even K -(P-1)..P, reversed); ours in seconds
    assert make_plan(8000, 16000, 10, 5, "reference").lags(0) == [2, 1, 0, -1, -2]
    assert make_plan(24000, 16000, 10, 5, "reference").lags(0) == list(range(7, -8, -1))
    assert make_plan(48000, 16000, 10, 5, "reference").lags(0) == list(range(15, -15, -1))
    assert make_plan(8000, 16000, 10, 5, "phase").lags(0) == [2.5, 1.5, 0.5, -0.5, -1.5]
    for fs in (16000, 48000):  # integer multiples of the reference rate: same kernel geometry
        a, b = make_plan(fs, 16000, 10, 5, "reference"), make_plan(fs, 16000, 10, 5, "phase")
        assert (a.taps, a.lags(0)) == (b.taps, b.lags(0))


@pytest.mark.parametrize("fs,policy", [(24000, "phase"), (22050, "phase"), (16000, "reference"),
                                       (44100, "reference")])
def test_ls_design_equals_numpy_lstsq(fs, policy):
    torch.manual_seed(0)
    plan = make_plan(fs, 16000, 10, 5, policy)
    M = 64
    resp = torch.complex(torch.randn(3, M), torch.randn(3, M))
    h = D.design_freq_ls(resp, plan, M).double().numpy()  # (P, C, K)
    b = np.concatenate([resp.real.numpy(), resp.imag.numpy()], axis=1).T.astype(np.float64)
    for m, delta in enumerate(plan.deltas):
        active = np.asarray(plan.active(delta))
        A = D.ls_matrix(fs, np.asarray(plan.lags(delta))[active], M)
        want = np.linalg.lstsq(A, b, rcond=None)[0].T  # (C, K_active)
        np.testing.assert_allclose(h[m][:, active], want, rtol=1e-4, atol=1e-5)
        assert np.all(h[m][:, ~active] == 0)


def _smooth_mgf_layer(n=24):
    layer = SFIConv1d(out_channels=n, filter="mgf").eval()
    with torch.no_grad():  # impulse responses well inside the 0.625 ms window
        layer.analog.log_sigma_hz.fill_(math.log(2000.0))
        layer.analog.center_hz.copy_(torch.linspace(300.0, 5000.0, n))
    return layer


def _fir_vs_analog_error(layer, fs, frac):
    w = layer.kernel(fs)[:, 0].detach().double()
    plan = layer.plan(fs).kernel_plan()
    f = torch.linspace(0, frac * fs / 2, 300, dtype=torch.float64)
    lags = torch.tensor(plan.lags(0), dtype=torch.float64)
    hd = (w[:, :, None] * torch.exp(-2j * math.pi * f[None, None] * lags[None, :, None] / fs)).sum(1)
    with torch.no_grad():
        ha = layer.analog_response(f.float())[:, 0].to(torch.complex128)
    return float(((hd - ha).abs().pow(2).sum() / ha.abs().pow(2).sum()).sqrt())


def test_designed_fir_tracks_analog_response_below_09_nyquist():
    # Measured (24 smooth MGFs, sigma 2 kHz, centres 0.3-5 kHz): relative response error below
    # 0.9 Nyquist ~0.04 at 16 kHz, <=0.01 at 22.05/24 kHz, ~0.0002 at 48 kHz; over the full band
    # up to Nyquist it is 2-3x larger (a fractional- or short-lag FIR cannot follow H at w = pi).
    layer = _smooth_mgf_layer()
    for fs, bound in [(16000, 0.06), (22050, 0.02), (24000, 0.02), (48000, 0.002)]:
        below = _fir_vs_analog_error(layer, fs, 0.9)
        assert below < bound, (fs, below)
        assert below <= _fir_vs_analog_error(layer, fs, 1.0) + 1e-9


def test_time_and_freq_designs_agree_for_smooth_filters():
    torch.manual_seed(0)
    freq = _smooth_mgf_layer()
    time_ = SFIConv1d(out_channels=24, filter="mgf", design="time").eval()
    time_.load_state_dict(freq.state_dict())
    for fs in (24000, 48000):
        with torch.no_grad():
            a, b = freq.kernel(fs), time_.kernel(fs)
        assert float((a - b).norm() / b.norm()) < 0.05, fs


def test_time_design_zeroes_filters_above_new_nyquist():
    layer = SFIConv1d(out_channels=32, filter="mgf_td").eval()
    centres = layer.analog.center_freqs_hz().detach()
    k = layer.kernel(8000)[:, 0]
    above = centres >= 4000
    assert above.any() and (~above).any()
    assert torch.all(k[above] == 0) and torch.all(k[~above].abs().sum(1) > 0)
    assert torch.all(layer.kernel(16000)[:, 0].abs().sum(1) > 0)  # no zeroing at the reference


def test_naf_response_is_a_function_of_frequency_only():
    torch.manual_seed(0)
    naf = NeuralAnalogFilter(6, n_features=16, hidden=(32, 32), max_freq_hz=24000.0)
    f = torch.tensor([100.0, 3000.0, 7000.0])
    alone = naf.freq_response(2 * math.pi * f)
    grid = torch.cat([torch.linspace(0, 24000, 500), f])
    within = naf.freq_response(2 * math.pi * grid)[:, -3:]
    torch.testing.assert_close(alone, within)
    assert torch.all(naf.freq_response(torch.tensor([2 * math.pi * 25000.0])) == 0)


@pytest.mark.parametrize("bank", [ModulatedGaussian(5), MultiPhaseGammatone(8)])
def test_closed_form_impulse_response_matches_inverse_fourier(bank):
    # the closed-form h(t) and H(w) of each family are one Fourier pair
    t = torch.linspace(-1e-3, 2e-3, 41)
    closed = bank.impulse_response(t).detach()
    base = AnalogFilterBank.impulse_response(bank, t, band_hz=60000.0).detach()
    assert float((closed - base).norm() / closed.norm()) < 0.02


@pytest.mark.parametrize("fs,policy", [(24000, "phase"), (8000, "phase"), (44100, "phase"),
                                       (11025, "phase"), (24000, "sinc"), (24000, "reference"),
                                       (44100, "round")])
def test_apply_plan_equals_naive_per_frame_sum(fs, policy):
    """Every application path (single GEMM, per-phase conv, gathered) computes
    y[c, j] = sum_{i,k} W[phase(j), c, i, k] x[i, first(j) - lead + k] with zero padding."""
    from sfi_mos.sfi.apply import apply_plan

    torch.manual_seed(0)
    plan = make_plan(fs, 16000, 10, 5, policy)
    lead = 3 if policy == "sinc" else 0
    k = plan.taps + 2 * lead
    w = torch.randn(plan.n_phases, 5, 2, k, dtype=torch.float64)
    x = torch.randn(2, 2, 700, dtype=torch.float64)
    frames = plan.frames(700)
    got = apply_plan(x, w, plan, frames, lead)
    xp = torch.nn.functional.pad(x, (lead + 1, k + 2 * plan.hop))
    j = torch.arange(frames)
    if not plan.exact_grid:
        phase, first = torch.zeros_like(j), j * plan.hop
    elif plan.periodic:
        phase, first = j % plan.n_phases, plan.start(j)
    else:
        phase, first = plan.phase_of(j)
    want = torch.stack([torch.einsum("cik,bik->bc", w[int(m)], xp[:, :, a + 1: a + 1 + k])
                        for m, a in zip(phase, first)], dim=-1)
    torch.testing.assert_close(got, want)
