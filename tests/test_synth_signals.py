"""Synthetic corpus signal properties: high-band-only degradations, label monotonicity, voice tiers,
TTS-engine wrapper, extra (unseen) rates through the readers."""
from __future__ import annotations

import json
import shutil
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch
import torchaudio

from sfi_mos.data.synth import degrade, generate, labels, tts
from sfi_mos.data.synth.plan import rng_for
from sfi_mos.data.synth.render import TARGET_RMS, Renderer
from sfi_mos.data.synth.texts import HARVARD
from sfi_mos.data.synth.voice import TIERS, make_speaker, render


def _speech(fs: int, tier: str = "natural", seconds: float = 1.5) -> np.ndarray:
    x = render(HARVARD[4], TIERS[tier], make_speaker(rng_for(0, "spk")), fs, rng_for(0, "r"), seconds)
    return x * TARGET_RMS / np.sqrt(np.mean(x ** 2))


def _to16k(x: np.ndarray, fs: int) -> np.ndarray:
    # what the "resample" baseline does before a 16 kHz model
    return torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(x)), fs, 16000).numpy()


def _band_energy(x: np.ndarray, fs: int, lo: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    return float(spec[np.fft.rfftfreq(len(x), 1 / fs) >= lo].sum())


HB = sorted(n for n, d in degrade.CATALOGUE.items() if d.hb_only)


# only the rates each degradation is defined at (imaging/aliasing need >= 40 kHz)
@pytest.mark.parametrize("name,fs", [(n, fs) for n in HB for fs in (24000, 48000)
                                     if fs >= degrade.CATALOGUE[n].min_fs])
def test_high_band_only_is_invisible_at_16k(name, fs):
    x = _speech(fs)
    y, _ = degrade.apply(name, x, fs, 1.0, np.random.default_rng(1))
    assert len(y) == len(x)
    x16, y16 = _to16k(x, fs), _to16k(y, fs)
    low_change_db = 10 * np.log10(np.sum((y16 - x16) ** 2) / np.sum(x16 ** 2))
    assert low_change_db < -45, f"{name}@{fs}: 0-8 kHz changed by {low_change_db:.1f} dB"
    hb_change_db = 10 * np.log10(_band_energy(y - x, fs, 10000) / _band_energy(x, fs, 10000))
    assert hb_change_db > -20, f"{name}@{fs}: > 10 kHz barely changed ({hb_change_db:.1f} dB)"


def test_full_band_degradations_are_visible_at_16k():
    x = _speech(48000)
    for name in degrade.available(48000, hb_only=False, allow_tools=False):
        y, _ = degrade.apply(name, x, 48000, 1.0, np.random.default_rng(1))
        x16, y16 = _to16k(x, 48000), _to16k(y, 48000)
        assert 10 * np.log10(np.sum((y16 - x16) ** 2) / np.sum(x16 ** 2)) > -20, name


def test_super_resolution_keeps_the_wideband_part():
    x = _speech(48000)
    y = degrade.super_resolve(x, 48000, 0.8, np.random.default_rng(0))
    lo = lambda v: _to16k(v, 48000)  # noqa: E731
    # the fake band starts at 8 kHz like AudioSR; below ~7 kHz the 16 kHz views agree
    d = degrade.band_mask(lo(y) - lo(x), 16000, 7000)[0]
    assert 10 * np.log10(np.sum(d ** 2) / np.sum(lo(x) ** 2)) < -30
    assert _band_energy(y, 48000, 10000) > 0.01 * _band_energy(x, 48000, 10000)


@pytest.mark.parametrize("name", sorted(degrade.CATALOGUE))
def test_latent_mos_monotone_in_severity(name):
    fs = 48000
    sev = np.linspace(0, 1, 11)
    caps = {"lowpass": lambda s: float(np.exp(np.log(20000) + s * (np.log(3500) - np.log(20000))))}
    singles, mixeds = [], []
    for s in sev:
        b = min(0.95 * fs / 2, caps.get(name, lambda s: np.inf)(s))
        single, mixed = labels.latent_mos(4.5, [(name, s)], b, fs)
        singles.append(single)
        mixeds.append(mixed)
    assert np.all(np.diff(singles) <= 1e-12) and np.all(np.diff(mixeds) <= 1e-12)
    assert mixeds[-1] < mixeds[0] or name == "lowpass" and singles[-1] < singles[0]


def test_latent_mos_bandwidth_and_context():
    bws = [3000, 3400, 5000, 7600, 9000, 11400, 16000, 20000, 24000]
    mixed = [labels.latent_mos(4.5, [], b, 48000)[1] for b in bws]
    assert np.all(np.diff(mixed) >= 0) and mixed[-1] > mixed[0]
    s16, m16 = labels.latent_mos(4.5, [], 7600, 16000)
    s48, m48 = labels.latent_mos(4.5, [], 22800, 48000)
    assert s16 == pytest.approx(4.5) and s48 == pytest.approx(4.5)  # single-rate: no Nyquist penalty
    assert 0.3 < s16 - m16 < 0.5 and m48 == pytest.approx(4.5)  # mixed-rate: 16 kHz loses ~0.4
    assert labels.latent_mos(4.5, [("noise", 1.0)], 7600, 16000)[0] < s16


def test_ratings_simulation():
    rng = np.random.default_rng(0)
    biases = labels.listener_biases(rng)
    r = np.stack([labels.ratings(m, biases, rng) for m in np.linspace(1, 5, 400)])
    assert r.dtype.kind == "i" and r.min() >= 1 and r.max() <= 5 and r.shape == (400, 10)
    assert np.corrcoef(np.linspace(1, 5, 400), r.mean(axis=1))[0, 1] > 0.95


def test_voice_tiers_are_audibly_different():
    nat, tts_tier = _speech(48000, "natural"), _speech(48000, "tts")
    # the natural tier has real energy above 12 kHz; the tts tier is band-limited at 11 kHz
    hb_nat = _band_energy(nat, 48000, 12000) / _band_energy(nat, 48000, 0)
    hb_tts = _band_energy(tts_tier, 48000, 12000) / _band_energy(tts_tier, 48000, 0)
    assert hb_nat > 1e-3 and hb_tts < 0.1 * hb_nat
    a = _speech(16000, "natural")
    b = _speech(16000, "natural")
    np.testing.assert_array_equal(a, b)  # seeded: same speaker/sentence/seed, same samples


def test_engine_wrapper_and_auto_source(tmp_path, monkeypatch):
    """A stand-in engine on PATH goes through the real subprocess wrapper and is recorded."""
    exe = tmp_path / "fake-tts"
    exe.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, numpy as np, soundfile as sf
        text = sys.stdin.read()
        out = sys.argv[sys.argv.index("-o") + 1]
        t = np.arange(int(0.05 * len(text) * 16000)) / 16000
        sf.write(out, 0.1 * np.sin(2 * np.pi * 180 * t), 16000, subtype="PCM_16")
    """))
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    voice = tts.EngineVoice("fake_v", ("fake-tts", "-o", "{out}"), "fake-tts", 7000.0, 2.8)
    x, fs = tts.synthesize(voice, "hello there")
    assert fs == 16000 and len(x) == int(0.05 * 11 * 16000)
    from sfi_mos.data.synth.plan import Clip

    c = Clip("track3", "u", "track3/DATA/wav/u.wav", "48k_sys1", "tts", "tts", 0, HARVARD[0], 0, 48000, 1.0,
             "train", ())
    r = Renderer(0, [voice]).clip(c)
    assert r.engine == "fake_v" and r.prior == 2.8 and r.b_eff == 7000.0
    assert len(r.audio) <= 48000
    broken = tts.EngineVoice("broken", ("false",), "false", 7000.0, 2.8)
    with pytest.raises(RuntimeError, match="broken"):
        tts.synthesize(broken, "x")


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg not installed (codec is used only with voices=auto)")
def test_codec_round_trip():
    x = _speech(48000)
    y, cap = degrade.apply("codec", x, 48000, 0.9, np.random.default_rng(0))
    assert len(y) == len(x) and cap is not None and cap <= 8000


def test_unseen_rates_load_through_reader(tmp_path):
    from sfi_mos.data import read_track3

    root = generate(tmp_path / "extra", size="tiny", seed=2, rates=(8000, 22050, 44100))
    wav = root / "track3" / "DATA" / "wav"
    assert {p.name.split("-")[2].split("_")[0] for p in wav.glob("*.wav")} == {"8k", "22k", "44k"}
    for tag in ("8k", "22k", "44k"):
        assert (root / "track3" / "DATA" / f"utt_{tag}.csv").exists()
    c = read_track3(root / "track3")
    u = c.utterances
    assert set(u["sample_rate"]) == {8000, 22050, 44100}
    assert u.groupby("sample_rate")["system_id"].nunique().to_dict() == {8000: 4, 22050: 8, 44100: 8}
    man = pd.read_csv(root / "manifest.csv")
    hb = man[(man["corpus"] == "track3") & man["hb_only"]]
    assert len(hb) and (hb["sample_rate"] > 16000).all()


@pytest.mark.skipif(not tts.available(), reason="no Debian TTS engine installed (espeak-ng/flite/festival)")
def test_auto_voices_use_installed_engines(tmp_path):
    a = generate(tmp_path / "a", size="tiny", seed=0, voices="auto")
    meta = json.loads((a / "manifest.json").read_text())
    assert meta["voices"] == "auto" and len(meta["voices_used"]) > 1
    man = pd.read_csv(a / "manifest.csv")
    engines = set(man.loc[man["method"].isin(["tts", "ttsSR"]), "source_engine"])
    assert engines <= {v.name for v in tts.available()} and engines
    assert set(man.loc[man["method"] == "natural", "source_engine"]) == {"builtin"}
    b = generate(tmp_path / "b", size="tiny", seed=0, voices="auto")
    assert json.loads((b / "manifest.json").read_text())["content_hash"] == meta["content_hash"]


def test_corpus_high_band_clips_match_their_clean_version_at_16k():
    """End to end (render, rate, condition, peak guard): every high-band-only clip of the tiny plan,
    seen at 16 kHz, is its clean counterpart."""
    import dataclasses

    from sfi_mos.data.synth import plan

    clips = [c for c in plan.track3_clips(0, plan.SIZES["tiny"], (24000, 48000), tools=False)
             if c.conditions and degrade.CATALOGUE[c.conditions[0][0]].hb_only]
    assert {c.fs for c in clips} == {24000, 48000} and len(clips) >= 4
    r = Renderer(0)
    for c in clips:
        y = r.clip(c).audio
        x = r.clip(dataclasses.replace(c, conditions=())).audio
        x16, y16 = _to16k(x, c.fs), _to16k(y, c.fs)
        assert 10 * np.log10(np.sum((y16 - x16) ** 2) / np.sum(x16 ** 2)) < -40, c.utt_id
