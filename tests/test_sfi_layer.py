"""SFIConv1d behaviour: cross-rate consistency, policies, gradients, caching, fit_to, from_spec."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sfi_mos.sfi import DEFAULT_POLICY, SFIConv1d
from sfi_mos.sfi.consistency import bandlimited_signal, cross_rate_similarity
from sfi_mos.train.configs import SFISpec



@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: threading only adds contention on a shared CPU
    yield
    torch.set_num_threads(threads)


def _smooth_layer(policy, n=16):
    torch.manual_seed(0)
    layer = SFIConv1d(out_channels=n, filter="mgf", stride_policy=policy).eval()
    with torch.no_grad():
        layer.analog.log_sigma_hz.fill_(math.log(2000.0))
        layer.analog.center_hz.copy_(torch.linspace(300.0, 5000.0, n))
    return layer


@pytest.fixture(scope="module")
def similarities():
    """1 - cosine vs the 48 kHz output, measured (16 smooth MGFs, tones < min(7 kHz, 0.45 fs),
    0.5 s): phase 8k 6.3e-3, 16k 5.9e-5, 22.05k 9.5e-9, 24k 2.0e-9, 44.1k 2.2e-9; sinc 4.9e-3,
    5.9e-5, 8.4e-9, 2.9e-9, 1.2e-9; reference/round: similarity ~0 at every rate with a
    fractional hop (their frames drift off the grid)."""
    out = {}
    for policy in ("phase", "sinc", "reference", "round"):
        layer = _smooth_layer(policy)
        out[policy] = cross_rate_similarity(layer, (8000, 16000, 22050, 24000, 44100),
                                            seconds=0.5)
    return out


@pytest.mark.parametrize("policy", ["phase", "sinc"])
def test_same_signal_at_every_rate_gives_same_frames(similarities, policy):
    sims = similarities[policy]
    assert sims[8000] > 0.98 and sims[16000] > 0.999, sims
    for fs in (22050, 24000, 44100):
        assert sims[fs] > 0.99999, (fs, sims)


def test_sinc_beats_reference_at_24k(similarities):
    assert similarities["sinc"][24000] > 0.999
    assert similarities["reference"][24000] < 0.5
    assert similarities["round"][24000] < 0.5
    assert similarities["phase"][24000] > similarities["reference"][24000]
    assert similarities["reference"][16000] > 0.999  # integer hop: same frames as phase


def test_naf_layer_is_consistent_across_rates():
    torch.manual_seed(1)
    layer = SFIConv1d(out_channels=16, naf_hidden=(32, 32)).eval()
    sims = cross_rate_similarity(layer, (24000, 44100), seconds=0.3)
    assert min(sims.values()) > 0.99, sims


@pytest.mark.parametrize("fs", [16000, 48000])
def test_integer_rates_are_a_plain_conv(fs):
    layer = _smooth_layer(DEFAULT_POLICY).set_sample_rate(fs)
    x = torch.randn(2, 1, fs // 20)
    with torch.no_grad():
        want = F.conv1d(x, layer.kernel(fs), stride=5 * fs // 16000)
        got = layer(x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("band,cutoff", [("input", 1.0), ("output", 1 / 7.5)])
def test_sinc_policy_equals_stride1_conv_then_windowed_sinc(band, cutoff):
    """The folded sinc kernels reproduce the EUSIPCO algorithm: stride-1 conv, then Hann-windowed
    sinc interpolation (half-length L, cutoff c of the input Nyquist) at the exact frame positions."""
    layer = _smooth_layer("sinc")
    layer.sinc_band = band
    layer.set_sample_rate(24000)
    L = layer.sinc_half_length
    x = torch.randn(1, 1, 2400)
    with torch.no_grad():
        got = layer(x)
        y = F.conv1d(x, layer.kernel(24000))[0]  # (C, N) stride-1 output
    n = torch.arange(y.shape[-1], dtype=torch.float64)
    frames = torch.arange(got.shape[-1])
    pos = frames.double() * 7.5
    inside = (pos >= L) & (pos + L < y.shape[-1])  # the naive version has no left/right context
    v = pos[inside, None] - n[None, :]
    g = cutoff * torch.sinc(cutoff * v) * torch.where(v.abs() < L, 0.5 * (1 + torch.cos(math.pi * v / L)), 0.0)
    want = (y.double() @ g.T).float()
    torch.testing.assert_close(got[0][:, inside], want, rtol=1e-3, atol=1e-4)


def test_sinc_output_band_attenuates_above_the_frame_rate_nyquist():
    """sinc_band="output" is an anti-aliased decimation: its folded kernels keep little energy above
    the output frame rate's Nyquist (1.6 kHz for 16 kHz-grid frames), unlike the default."""
    def high_energy_fraction(band):
        layer = SFIConv1d(out_channels=16, filter="mgf", stride_policy="sinc", sinc_band=band).eval()
        with torch.no_grad():
            layer.analog.log_sigma_hz.fill_(math.log(2000.0))
            layer.analog.center_hz.copy_(torch.linspace(300.0, 5000.0, 16))
            k = layer._kernels(layer.plan(24000))  # folded kernels (phases, C_out, C_in, taps)
        spec = torch.fft.rfft(k.double(), n=4096).abs() ** 2
        f = torch.fft.rfftfreq(4096, 1 / 24000)
        return float(spec[..., f > 1600 * 1.25].sum() / spec.sum())

    inp, out = high_energy_fraction("input"), high_energy_fraction("output")
    assert out < 0.05 < inp, (inp, out)
    with pytest.raises(ValueError, match="sinc_band"):
        SFIConv1d(out_channels=4, sinc_band="nyquist")


@pytest.mark.parametrize("filt,design", [("naf", "freq_ls"), ("mgf", "freq_ls"), ("mgf_td", "time"),
                                         ("gammatone", "time"), ("naf", "time")])
@pytest.mark.parametrize("policy", ["phase", "sinc"])
def test_gradients_reach_every_analog_parameter(filt, design, policy):
    torch.manual_seed(0)
    layer = SFIConv1d(out_channels=8, filter=filt, design=design, stride_policy=policy,
                      naf_hidden=(16, 16), naf_features=8).train().set_sample_rate(24000)
    layer(torch.randn(2, 1, 600)).pow(2).mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_eval_cache_returns_identical_kernels_and_optimiser_step_invalidates():
    torch.manual_seed(0)
    layer = SFIConv1d(out_channels=8, naf_hidden=(16, 16)).set_sample_rate(24000)
    x = torch.randn(1, 1, 480)
    layer.eval()
    with torch.no_grad():
        k1, k2 = layer.kernel(24000), layer.kernel(24000)
        y1 = layer(x)
        w1 = layer._kernels(layer.plan())
        assert layer._kernels(layer.plan()) is w1  # served from the cache
    assert k1.data_ptr() == k2.data_ptr() and torch.equal(k1, k2)
    layer.train()
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(x).pow(2).mean().backward()
    opt.step()
    layer.eval()
    with torch.no_grad():
        k3 = layer.kernel(24000)
        y3 = layer(x)
        fresh = layer._design(layer.plan(24000).kernel_plan())[0]
    assert not torch.equal(k1, k3)
    torch.testing.assert_close(k3, fresh)
    assert not torch.equal(y1, y3)
    with torch.no_grad():  # load_state_dict copies in place: also invalidates
        state = {k: v + 1.0 for k, v in layer.state_dict().items()}
        layer.load_state_dict(state)
        assert not torch.equal(layer.kernel(24000), k3)


def test_training_mode_redesigns_every_call():
    layer = SFIConv1d(out_channels=4, naf_hidden=(8, 8)).train()
    a, b = layer.kernel(16000), layer.kernel(16000)
    assert a is not b and a.requires_grad


def test_fit_to_reproduces_smooth_and_hubert_like_kernels():
    torch.manual_seed(0)
    C = 16
    # smooth kernel: band-pass-ish, a few cosines under a Hann window
    n = torch.arange(10, dtype=torch.float32)
    smooth = torch.stack([torch.hann_window(10, periodic=False) * torch.cos(0.3 * (i + 1) * n)
                          for i in range(C)])[:, None]
    hubert_like = torch.empty(C, 1, 10)
    nn.init.kaiming_normal_(hubert_like)  # the s3prl/fairseq init of the first conv
    for target in (smooth, hubert_like):
        layer = SFIConv1d(out_channels=C, naf_hidden=(64, 64))
        res = layer.fit_to(target, 16000, steps=120, lr=3e-3)
        assert res["initial_rel_error"] > 0.5
        assert res["rel_error"] < 0.02, res
        with torch.no_grad():
            err = (layer.eval().kernel(16000) - target).norm() / target.norm()
        assert abs(float(err) - res["rel_error"]) < 1e-4
        assert res["steps"] == 120


def test_fit_to_rejects_wrong_shape():
    layer = SFIConv1d(out_channels=4)
    with pytest.raises(ValueError, match="K\\(fs\\)"):
        layer.fit_to(torch.randn(4, 1, 12), 16000, steps=1)
    with pytest.raises(ValueError, match="non-finite"):
        layer.fit_to(torch.full((4, 1, 10), float("nan")), 16000, steps=1)


def test_from_spec_and_bad_arguments():
    spec = SFISpec(filter="mgf", stride_policy="sinc", n_freq=128, naf_hidden=(8,))
    layer = SFIConv1d.from_spec(spec, out_channels=8, kernel_size=10, stride=5)
    assert (layer.filter_kind, layer.stride_policy, layer.n_freq) == ("mgf", "sinc", 128)
    assert layer.out_channels == 8 and layer.sample_rate == 16000
    for kwargs in (dict(stride_policy="nearest"), dict(filter="fir"), dict(design="iir"),
                   dict(bias=True), dict(kernel_size=0)):
        with pytest.raises(ValueError):
            SFIConv1d(out_channels=4, **kwargs)
    with pytest.raises(ValueError, match="expected"):
        SFIConv1d(out_channels=4)(torch.randn(1, 2, 100))


def test_signal_only_call_uses_state_and_is_deterministic():
    torch.manual_seed(3)
    a = SFIConv1d(out_channels=8, naf_hidden=(16, 16)).eval()
    torch.manual_seed(3)
    b = SFIConv1d(out_channels=8, naf_hidden=(16, 16)).eval()
    x = bandlimited_signal(24000, 0.1, 5000.0)
    seq = nn.Sequential(a, nn.GELU())  # the surrounding model passes the signal only
    a.set_sample_rate(24000)
    b.set_sample_rate(24000)
    with torch.no_grad():
        torch.testing.assert_close(seq(x), F.gelu(b(x)), rtol=0, atol=0)
    assert a.sample_rate == 24000 and a.set_sample_rate(22050.0).sample_rate == 22050


def test_many_phase_and_quantised_rates_stay_consistent():
    # 1 - cos measured: 11.025 kHz (q = 128 -> offsets quantised to 1/64 sample) 1.8e-3,
    # 12 kHz (q = 4) 1.1e-3 (both dominated by filters near the low Nyquist), 32/96/192 kHz ~4e-10
    layer = _smooth_layer("phase")
    sims = cross_rate_similarity(layer, (11025, 12000, 96000), seconds=0.3)
    assert sims[11025] > 0.995 and sims[12000] > 0.995 and sims[96000] > 0.99999, sims
