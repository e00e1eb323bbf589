"""Severity-parameterised degradations (data_sources.md §3.3), each ``fn(x, fs, s, rng) -> (y, cap_hz)``.

``s`` in [0, 1] is the severity; ``cap_hz`` is the bandwidth the chain leaves (None = unchanged),
which feeds the effective bandwidth of the label. HIGH-BAND-ONLY entries change nothing below
10 kHz: they are built with exact FFT masks, because a Butterworth edge at 10 kHz still leaks
-15 dB at 8 kHz and a 16 kHz model would then see them (measured rule of §3.3).
"""
from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from math import gcd
from typing import Callable

import numpy as np
import soundfile as sf
from scipy.fft import next_fast_len
from scipy.signal import butter, fftconvolve, istft, resample_poly, sosfiltfilt, stft

HB_EDGE_HZ = 10000.0  # every high-band-only artefact lives at or above this frequency


@dataclass(frozen=True)
class Degradation:
    name: str
    fn: Callable
    alpha: float  # MOS loss factor at s = 1 (f_deg = prod(1 - alpha * s), data_sources.md §5.2)
    hb_only: bool  # lives only >= HB_EDGE_HZ: invisible after resampling to 16 kHz
    min_fs: int = 0  # needs at least this rate (the band it works in must exist)
    needs: str | None = None  # external tool; the entry is used only when it is on PATH


def _lerp(s: float, a: float, b: float) -> float:
    return float(a + (b - a) * np.clip(s, 0.0, 1.0))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2))) + 1e-12


def band_mask(x: np.ndarray, fs: int, lo: float, ramp: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``x`` exactly at ``lo`` Hz (raised-cosine ramp above it): (below, above), summing to x."""
    n = next_fast_len(len(x), real=True)  # zero-padded: odd clip lengths make pocketfft slow
    spec = np.fft.rfft(x, n=n)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    w = np.clip((f - lo) / ramp, 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * w)
    above = np.fft.irfft(spec * w, n=n)[: len(x)]
    return x - above, above


# --- full-band ----------------------------------------------------------------------------
def noise(x, fs, s, rng):
    """White or pink noise at SNR 40 -> 0 dB."""
    n = rng.standard_normal(len(x))
    if rng.random() < 0.5:  # pink: 1/f power
        m = next_fast_len(len(n), real=True)
        f = np.fft.rfftfreq(m, 1.0 / fs)
        n = np.fft.irfft(np.fft.rfft(n, n=m) / np.sqrt(np.maximum(f, 50.0)), n=m)[: len(x)]
    snr = _lerp(s, 40.0, 0.0)
    return x + n * _rms(x) / _rms(n) * 10 ** (-snr / 20), None


def clipping(x, fs, s, rng):
    """Drive 3 -> 30 dB into +-1, then match the original level."""
    g = 10 ** (_lerp(s, 3.0, 30.0) / 20) / (np.max(np.abs(x)) + 1e-12)
    y = np.clip(x * g, -1.0, 1.0)
    return y * _rms(x) / _rms(y), None


def reverb(x, fs, s, rng):
    """Exponentially decaying noise RIR, RT60 0.15 -> 1.2 s, direct-to-reverberant ratio falling."""
    rt60 = _lerp(s, 0.15, 1.2)
    t = np.arange(int(rt60 * fs)) / fs
    rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    rir *= 10 ** (-_lerp(s, 6.0, -6.0) / 20) / np.sqrt(np.sum(rir ** 2))  # DRR +6 -> -6 dB
    rir[0] += 1.0
    y = fftconvolve(x, rir)[: len(x)]
    return y * _rms(x) / _rms(y), None


def quantise(x, fs, s, rng):
    """Requantise to 12 -> 4 bits (white quantisation noise)."""
    bits = int(round(_lerp(s, 12.0, 4.0)))
    peak = np.max(np.abs(x)) + 1e-12
    q = 2.0 ** (bits - 1)
    return np.round(x / peak * q) / q * peak, None


def lowpass(x, fs, s, rng):
    """Band limit: cutoff log-interpolated from just under this rate's Nyquist (max 20 kHz) down to 3.5 kHz."""
    top = min(20000.0, 0.9 * fs / 2)
    cut = float(np.exp(_lerp(s, np.log(top), np.log(3500.0))))
    sos = butter(10, cut, btype="low", fs=fs, output="sos")
    return sosfiltfilt(sos, x), cut  # zero phase: a cut above 8 kHz leaves the low band untouched


def packet_loss(x, fs, s, rng):
    """20 ms frames zeroed with probability 2 -> 25 %, 2 ms fades at the edges."""
    frame, fade = int(0.02 * fs), int(0.002 * fs)
    drop = rng.random(-(-len(x) // frame)) < _lerp(s, 0.02, 0.25)
    gain = np.repeat(~drop, frame)[: len(x)].astype(float)
    win = np.hanning(2 * fade + 1)
    gain = np.convolve(gain, win / win.sum(), mode="same")  # short fades, no clicks
    return x * gain, None


def codec(x, fs, s, rng):
    """Opus round trip through ffmpeg, 64 -> 6 kbps (only where ffmpeg is installed)."""
    kbps = int(round(np.exp(_lerp(s, np.log(64.0), np.log(6.0)))))
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), fs, format="WAV", subtype="PCM_16")
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "wav", "-i", "pipe:0", "-ar", "48000", "-c:a", "libopus",
                          "-b:a", f"{kbps}k", "-f", "ogg", "pipe:1"], input=buf.getvalue(), capture_output=True, check=True)
    dec = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-ar", str(fs), "-ac", "1", "-f", "wav", "pipe:1"],
                         input=enc.stdout, capture_output=True, check=True)
    y, _ = sf.read(io.BytesIO(dec.stdout), dtype="float64")
    y = y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))
    # Opus audio bandwidth by bitrate (libopus defaults): NB/WB/SWB/FB
    cap = 4000.0 if kbps < 9 else 8000.0 if kbps < 13 else 12000.0 if kbps < 16 else 20000.0
    return y, cap


# --- high-band-only (>= 10 kHz) -------------------------------------------------------------
def hb_noise(x, fs, s, rng):
    """White noise confined to >= 10 kHz, SNR 40 -> 5 dB re the full-signal RMS."""
    _, n = band_mask(rng.standard_normal(len(x)), fs, HB_EDGE_HZ)
    snr = _lerp(s, 40.0, 5.0)
    return x + n * _rms(x) / _rms(n) * 10 ** (-snr / 20), None


def hb_tone(x, fs, s, rng):
    """A steady whine between 10.5 kHz and min(19 kHz, 0.45 fs) at -50 -> -20 dB re speech RMS."""
    f0 = rng.uniform(10500.0, min(19000.0, 0.45 * fs))
    tone = np.sin(2 * np.pi * f0 * np.arange(len(x)) / fs + rng.uniform(0, 2 * np.pi))
    _, tone = band_mask(tone, fs, HB_EDGE_HZ)
    return x + tone * _rms(x) / _rms(tone) * 10 ** (_lerp(s, -50.0, -20.0) / 20), None


def imaging(x, fs, s, rng):
    """Halve the rate, zero-stuff back without an interpolation filter: the band above fs/4 is
    replaced by a mirror image of the band below (needs fs/4 >= 10 kHz)."""
    edge = fs / 4
    low = resample_poly(x, 1, 2)
    up = np.zeros(len(low) * 2)
    up[::2] = 2.0 * low
    base, _ = band_mask(x, fs, edge)
    _, image = band_mask(up[: len(x)], fs, edge)
    return base + _lerp(s, 0.1, 1.0) * image, None


def aliasing(x, fs, s, rng):
    """Decimate by 2 without an anti-alias filter, upsample properly: the 10 kHz..fs/4 band gets the
    folded copy of fs/4..fs/2, the band above fs/4 is lost (needs fs/4 >= 10 kHz)."""
    folded = resample_poly(x[::2], 2, 1)[: len(x)]
    folded = np.pad(folded, (0, len(x) - len(folded)))
    low, high = band_mask(x, fs, HB_EDGE_HZ)
    _, fold_hi = band_mask(folded, fs, HB_EDGE_HZ)
    return low + (1 - s) * high + s * fold_hi, fs / 4


def fake_sr(x, fs, s, rng, lo: float = HB_EDGE_HZ):
    """AudioSR-like fake band (data_sources.md Appendix A): the content above ``lo`` is replaced by
    the STFT magnitudes of [lo/2, lo) with random phase, -6 dB/oct, level -30 -> -5 dB."""
    keep, _ = band_mask(x, fs, lo)
    nper = 2 ** int(round(np.log2(0.021 * fs)))
    f, _, z = stft(keep, fs, nperseg=nper)
    mag = np.abs(z)
    src = np.where((f >= lo / 2) & (f < lo))[0]
    tgt = np.where(f >= lo)[0]
    level = _lerp(s, -30.0, -5.0)
    fake = np.zeros_like(z)
    gains = 10 ** ((level - 6.0 * np.log2(f[tgt] / lo)) / 20)
    fake[tgt] = mag[src[np.arange(len(tgt)) % len(src)]] * gains[:, None]
    fake[tgt] *= np.exp(1j * rng.uniform(0, 2 * np.pi, fake[tgt].shape))
    y = istft(fake, fs, nperseg=nper)[1]
    y = y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))
    _, y = band_mask(y, fs, lo)  # STFT leakage must not reach below lo
    return keep + y, None


CATALOGUE: dict[str, Degradation] = {
    d.name: d
    for d in (
        Degradation("noise", noise, 0.6, False),
        Degradation("clipping", clipping, 0.5, False),
        Degradation("reverb", reverb, 0.5, False),
        Degradation("quantise", quantise, 0.4, False),
        Degradation("lowpass", lowpass, 0.0, False),  # the loss comes through the bandwidth term
        Degradation("packet_loss", packet_loss, 0.6, False),
        Degradation("codec", codec, 0.45, False, needs="ffmpeg"),
        Degradation("hb_noise", hb_noise, 0.35, True, min_fs=24000),
        Degradation("hb_tone", hb_tone, 0.3, True, min_fs=24000),
        Degradation("imaging", imaging, 0.3, True, min_fs=40000),
        Degradation("aliasing", aliasing, 0.3, True, min_fs=40000),
        Degradation("fake_sr", fake_sr, 0.3, True, min_fs=24000),
    )
}


def available(fs: int, hb_only: bool, allow_tools: bool) -> list[str]:
    """Names usable at ``fs`` (sorted). Tool-backed ones only with ``allow_tools`` and the tool present,
    so the default corpus never depends on what is installed."""
    out = []
    for d in CATALOGUE.values():
        if d.hb_only != hb_only or fs < d.min_fs:
            continue
        if d.needs and not (allow_tools and shutil.which(d.needs)):
            continue
        out.append(d.name)
    return sorted(out)


def apply(name: str, x: np.ndarray, fs: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, float | None]:
    return CATALOGUE[name].fn(np.asarray(x, float), fs, float(s), rng)


def super_resolve(x: np.ndarray, fs: int, s: float, rng: np.random.Generator) -> np.ndarray:
    """The "*SR" methods of Track 3: squeeze through 16 kHz, then invent the band above 8 kHz."""
    g = gcd(int(fs), 16000)
    narrow = resample_poly(resample_poly(x, 16000 // g, fs // g), fs // g, 16000 // g)[: len(x)]
    narrow = np.pad(narrow, (0, len(x) - len(narrow)))
    return fake_sr(narrow, fs, s, rng, lo=8000.0)[0]
