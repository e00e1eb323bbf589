"""Golden parity: ``stride_policy="reference"`` (+ the reference analog settings) equals the reference
code's kernels and outputs (tests/fixtures/golden/README.md: TN sfi_convtasnet, KI Neural_Analog_Filter),
and the suite's defaults are not the reference ones."""
import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from sfi_mos.sfi import SFIConv1d
from sfi_mos.train.configs import SFISpec

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "sfi_reference.npz"
RATES = (8000, 16000, 24000, 44100, 48000)
TOL = 1e-5  # relative, per filter


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as d:
        return {k: d[k] for k in d.files}


def assert_parity(got, want, tol=TOL):
    """Per output channel: ||got - want|| <= tol·||want||; channels the reference zeroes are zero.
    Channels below 1e-6 of the largest (e.g. a 22 kHz MGF designed at 16 kHz: float noise around
    1e-17) are held to tol relative to that floor."""
    got = np.asarray(got.detach() if torch.is_tensor(got) else got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    chan = 1 if want.ndim == 3 and want.shape[0] == 1 else 0  # kernels (C, 1, K) | outputs (1, C, T)
    g, w = (np.moveaxis(a, chan, 0).reshape(want.shape[chan], -1) for a in (got, want))
    norm, err = np.linalg.norm(w, axis=1), np.linalg.norm(g - w, axis=1)
    assert np.all(err[norm == 0] == 0), err[norm == 0]
    scale = np.maximum(norm, 1e-6 * norm.max())
    assert np.all(err <= tol * scale), (err / scale).max()


def max_rel(got, want) -> float:
    want = np.asarray(want, dtype=np.float64)
    return float(np.linalg.norm(np.asarray(got.detach(), np.float64) - want) / np.linalg.norm(want))


def mgf_layer(golden, filt, **kwargs):
    """12 MGFs with TN's parameters: centre = mus/(2π) in float32 (as TN's own anti-aliasing test
    computes it), σ_Hz = exp(ln σ²/2)/(2π), same phases."""
    layer = SFIConv1d(1, 12, filter=filt, **kwargs)
    with torch.no_grad():
        layer.analog.center_hz.copy_(torch.from_numpy(golden["mgf/mus"]) / (2.0 * np.pi))
        ls2 = torch.from_numpy(golden["mgf/ln_sigma2s"]).double()
        layer.analog.log_sigma_hz.copy_((ls2 / 2 - math.log(2 * math.pi)).float())
        layer.analog.phase.copy_(torch.from_numpy(golden["mgf/phase"]))
    return layer.eval()


def naf_layer(golden, **kwargs):
    """The 8-filter FD-NAF with KI's state dict (implicit_filter.{0,3,6} convs, .{1,4} GroupNorms)."""
    opts = dict(naf_features=16, naf_hidden=(32, 32), max_freq_hz=float(golden["naf/max_freq"]))
    layer = SFIConv1d(1, 8, **{**opts, **kwargs})
    s = {k[len("naf/state/"):]: torch.from_numpy(v) for k, v in golden.items() if k.startswith("naf/state/")}
    with torch.no_grad():
        layer.analog.rff.copy_(s["RFF_param"])
        for mine, ki in zip(layer.analog.layers, (0, 3, 6)):
            mine.weight.copy_(s[f"implicit_filter.{ki}.weight"])
            mine.bias.copy_(s[f"implicit_filter.{ki}.bias"])
        for mine, ki in zip(layer.analog.norms, (1, 4)):
            mine.weight.copy_(s[f"implicit_filter.{ki}.weight"])
            mine.bias.copy_(s[f"implicit_filter.{ki}.bias"])
    return layer


REFERENCE_NAF = dict(stride_policy="reference", naf_norm="query", naf_lowpass="eval")


@pytest.mark.parametrize("fs", RATES)
def test_reference_geometry_is_tn(golden, fs):
    k, s = golden[f"geometry/{fs}"].tolist()
    plan = SFIConv1d(1, 4, stride_policy="reference").plan(fs)
    assert (plan.taps, plan.hop, plan.n_phases) == (k, s, 1)


@pytest.mark.parametrize("fs", RATES)
def test_mgf_frequency_domain_equals_tn(golden, fs):
    layer = mgf_layer(golden, "mgf", stride_policy="reference")
    x = torch.from_numpy(golden[f"input/{fs}"])
    with torch.no_grad():
        assert_parity(layer.kernel(fs), golden[f"mgf_fd/kernel/{fs}"])
        assert_parity(layer.set_sample_rate(fs)(x), golden[f"mgf_fd/forward/{fs}"])  # K, hop, padding 0


@pytest.mark.parametrize("fs", RATES)
def test_mgf_time_domain_equals_tn(golden, fs):
    layer = mgf_layer(golden, "mgf_td", stride_policy="reference", mgf_convention="reference")
    x = torch.from_numpy(golden[f"input/{fs}"])
    with torch.no_grad():
        k = layer.kernel(fs)
        assert_parity(k, golden[f"mgf_td/kernel/{fs}"])
        assert_parity(layer.set_sample_rate(fs)(x), golden[f"mgf_td/forward/{fs}"])
    if fs == 8000:  # TN keeps the filter centred exactly at the new Nyquist (4 kHz) and zeroes above
        centres = layer.analog.center_hz.detach()
        assert float(centres[5]) == 4000.0 and k[5].abs().sum() > 0
        assert torch.all(k[centres > 4000] == 0)


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("fs", RATES)
def test_naf_equals_ki_in_eval_and_train_mode(golden, fs, mode):
    layer = naf_layer(golden, **REFERENCE_NAF)
    getattr(layer, mode)()
    with torch.set_grad_enabled(mode == "train"):
        assert_parity(layer.kernel(fs), golden[f"naf/{mode}/kernel/{fs}"])


def test_golden_modes_differ_where_the_grid_passes_max_freq(golden):
    # the eval-only low-pass matters above 2·max_freq = 16 kHz; the fixture exercises it
    for fs in RATES:
        diff = max_rel(torch.from_numpy(golden[f"naf/train/kernel/{fs}"]), golden[f"naf/eval/kernel/{fs}"])
        assert (diff > 1e-2) == (fs > 16000), (fs, diff)


def test_suite_settings_are_not_the_reference(golden):
    """Each reference setting matters: switching any one back to the suite's value breaks parity
    at 24 kHz (where K, lags, grid statistics and the low-pass all differ)."""
    fs = 24000
    with torch.no_grad():
        assert max_rel(mgf_layer(golden, "mgf", stride_policy="phase").kernel(fs)[..., :15],
                       golden[f"mgf_fd/kernel/{fs}"]) > 1e-2  # lags fixed in seconds (7.5 .. -6.5)
        suite_td = mgf_layer(golden, "mgf_td", stride_policy="reference")  # suite time axis and gain
        assert max_rel(suite_td.kernel(fs), golden[f"mgf_td/kernel/{fs}"]) > 1e-2
    for change in (dict(naf_norm="fixed"), dict(naf_lowpass="always")):
        layer = naf_layer(golden, **{**REFERENCE_NAF, **change}).train()
        assert max_rel(layer.kernel(fs), golden[f"naf/train/kernel/{fs}"]) > 1e-3, change


def test_suite_defaults_are_unchanged():
    spec = SFISpec()
    assert {f.name: getattr(spec, f.name) for f in fields(SFISpec)} == dict(
        filter="naf", design="freq_ls", stride_policy="phase", n_freq=640, naf_features=128,
        naf_hidden=(224, 224), max_freq_hz=24000.0, sinc_band="input", naf_norm="fixed",
        naf_lowpass="always", mgf_convention="suite")
    layer = SFIConv1d.from_spec(SFISpec(naf_hidden=(8,), naf_features=4), 4, 10, 5)
    assert (layer.stride_policy, layer.analog.norm, layer.analog.lowpass, layer.mgf_convention) == \
        ("phase", "fixed", "always", "suite")
    # the suite's NAF zeroes above max_freq in training too; the MGF init width is ours (1 kHz)
    f = torch.tensor([1000.0, 30000.0])
    assert torch.all(layer.train().analog_response(f)[..., 1] == 0)
    mgf = SFIConv1d(1, 4, filter="mgf_td")
    assert torch.allclose(mgf.analog.log_sigma_hz.exp(), torch.tensor(1000.0))
    tn = SFIConv1d(1, 4, filter="mgf_td", stride_policy="reference", mgf_convention="reference")
    assert torch.allclose(tn.analog.log_sigma_hz.exp(), torch.tensor(100.0))  # TN init_sigma 100·2π


def test_reference_settings_pass_through_from_spec():
    spec = SFISpec(stride_policy="reference", naf_norm="query", naf_lowpass="eval", max_freq_hz=8000.0,
                   naf_hidden=(8,), naf_features=4)
    layer = SFIConv1d.from_spec(spec, 4, 10, 5)
    assert (layer.stride_policy, layer.analog.norm, layer.analog.lowpass, layer.analog.max_freq_hz) == \
        ("reference", "query", "eval", 8000.0)
    assert "norm=query" in repr(layer)
    spec = SFISpec(filter="mgf_td", design="time", stride_policy="round", mgf_convention="reference")
    assert SFIConv1d.from_spec(spec, 4, 10, 5).mgf_convention == "reference"


@pytest.mark.parametrize("kwargs,match", [
    (dict(naf_norm="batch"), "naf_norm"),
    (dict(naf_lowpass="never"), "naf_lowpass"),
    (dict(mgf_convention="tn"), "mgf_convention"),
    (dict(filter="mgf_td", mgf_convention="reference"), "stride_policy"),  # TN's MGF needs TN's geometry
    (dict(stride_policy="reference", mgf_convention="reference"), "filter"),  # MGF only
    (dict(stride_policy="truncate"), "stride_policy"),  # replaced by "reference"
])
def test_bad_reference_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SFIConv1d(1, 4, **kwargs)


def test_fit_to_with_query_statistics_penalises_the_design_grid_stopband():
    """A grid-dependent NAF (naf_norm="query") is fitted and its stopband measured on the design grid
    of the rate whose Nyquist is max_freq (there is no grid-free H to evaluate)."""
    torch.manual_seed(0)
    layer = SFIConv1d(1, 6, naf_features=8, naf_hidden=(16, 16), stride_policy="reference",
                      naf_norm="query", naf_lowpass="eval")
    target = torch.randn(6, 1, 10)
    res = layer.fit_to(target, 16000, steps=30, lr=1e-2)
    assert res["rel_error"] < res["initial_rel_error"] and math.isfinite(res["stopband_rel_energy"])
    assert res["stopband_rel_energy"] > 0  # max_freq 24 kHz > 8 kHz: the stopband exists and is used
