"""Built-in numpy source-filter voice: the speech source that needs nothing outside Python.

A glottal pulse train with a pitch contour excites a cascade of formant resonators whose targets
follow a letter-to-segment reading of the text; fricatives and bursts are band-passed noise. It is
not meant to sound human, only to give *audible, controllable* quality tiers (prosody, glottal
shape, formant smoothness, vocoder phase noise, bandwidth) so that labels built from them are
learnable, plus real energy up to ~16 kHz at 48 kHz (fricatives, aspiration, harmonics) so that
band limits above 8 kHz change the signal.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, istft, lfilter, sosfilt, stft


@dataclass(frozen=True)
class Speaker:
    f0: float  # mean fundamental frequency, Hz
    formant_scale: float  # vocal-tract length factor (female voices > 1)
    rate: float  # speaking-rate factor (> 1 is faster)
    breath: float  # aspiration noise level relative to voicing


@dataclass(frozen=True)
class Tier:
    """One generation "method": the knobs that make it sound better or worse."""

    name: str
    prior: float  # latent naturalness of a clean render, MOS scale (data_sources.md §5.2)
    prosody: float  # 0 = flat pitch and even durations (TTS-like) .. 1 = lively
    glottal: bool  # shaped glottal pulse; False = raw impulses (buzzy, WORLD-like)
    smooth: bool  # interpolated formant transitions; False = stepwise (concatenative)
    aspiration: float  # multiplies the speaker's breath noise
    bw_scale: float  # formant bandwidth factor (> 1 = smeared, coarse envelope)
    phase_noise: float  # STFT phase jitter above 1 kHz in radians (neural-vocoder artefact)
    bandwidth_hz: float | None  # acoustic-model band limit of the method; None = full band


TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        Tier("natural", 4.5, prosody=1.0, glottal=True, smooth=True, aspiration=1.0, bw_scale=1.0,
             phase_noise=0.0, bandwidth_hz=None),
        Tier("nv", 3.8, prosody=0.9, glottal=True, smooth=True, aspiration=0.7, bw_scale=1.2,
             phase_noise=0.9, bandwidth_hz=None),
        Tier("tts", 3.1, prosody=0.15, glottal=True, smooth=False, aspiration=0.4, bw_scale=1.4,
             phase_noise=0.3, bandwidth_hz=11025.0),
        Tier("world", 2.3, prosody=0.6, glottal=False, smooth=True, aspiration=0.0, bw_scale=2.2,
             phase_noise=0.0, bandwidth_hz=None),
    )
}


def make_speaker(rng: np.random.Generator) -> Speaker:
    female = bool(rng.random() < 0.5)
    return Speaker(
        f0=float(rng.uniform(180, 230) if female else rng.uniform(95, 135)),
        formant_scale=float(rng.uniform(1.08, 1.18) if female else rng.uniform(0.92, 1.02)),
        rate=float(rng.uniform(0.9, 1.12)),
        breath=float(rng.uniform(0.02, 0.06)),
    )


# --- text -> segments -----------------------------------------------------------------------
# (kind, F1, F2, F3) for sonorants; (kind, lo, hi, level) for noise. Male-voice formants, Hz.
_VOWELS = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (300, 2200, 2960),
           "o": (570, 840, 2410), "u": (330, 950, 2250), "y": (300, 2200, 2960)}
_SONORANTS = {"m": (280, 1100, 2300), "n": (280, 1500, 2500), "l": (360, 1300, 2700),
              "r": (420, 1300, 1600), "w": (300, 610, 2200)}
_FRICATIVES = {"s": (4000, 14000, 0.09), "f": (1200, 16000, 0.035), "h": (400, 6000, 0.04),
               "S": (2000, 7500, 0.08), "T": (1500, 16000, 0.025)}  # S = "sh", T = "th"
_VOICED_FRIC = {"z": "s", "v": "f", "Z": "S", "D": "T"}
_PLOSIVES = {"p": (500, 4000), "t": (3000, 12000), "k": (1500, 5000)}
_VOICED_PLOS = {"b": "p", "d": "t", "g": "k"}
HOP_S = 0.005  # formant update interval
_BASE_DUR = {"V": 0.095, "N": 0.06, "F": 0.09, "Z": 0.075, "P": 0.065, "_": 0.07, ".": 0.16}


def _letters(text: str) -> list[str]:
    """Very rough grapheme-to-segment pass: digraphs, soft c, final silent e, doubled letters."""
    t = text.lower()
    out: list[str] = []
    i = 0
    while i < len(t):
        c, nxt = t[i], t[i + 1] if i + 1 < len(t) else ""
        two = c + nxt
        if two in ("sh", "ch"):
            out += ["S"] if two == "sh" else ["t", "S"]
            i += 2
            continue
        if two == "th":
            out.append("D" if i == 0 or t[i - 1] == " " else "T")
            i += 2
            continue
        if two == "ng":
            out += ["n", "g"]
            i += 2
            continue
        if c == "e" and not nxt.isalpha() and i > 1 and t[i - 1].isalpha() and t[i - 2].isalpha():
            i += 1  # silent final e
            continue
        if c == "c":
            out.append("s" if nxt in ("e", "i", "y") else "k")
        elif c == "x":
            out += ["k", "s"]
        elif c == "q":
            out.append("k")
        elif c == "j":
            out += ["d", "Z"]
        elif c.isalpha():
            out.append(c)
        elif c in ".,;:!?":
            out.append(".")
        elif c == " ":
            out.append("_")
        i += 1
    dedup = [s for k, s in enumerate(out) if k == 0 or s != out[k - 1] or s in "_."]
    return dedup


def _kind(sym: str) -> str:
    if sym in _VOWELS:
        return "V"
    if sym in _SONORANTS:
        return "N"
    if sym in _FRICATIVES:
        return "F"
    if sym in _VOICED_FRIC:
        return "Z"
    if sym in _PLOSIVES or sym in _VOICED_PLOS:
        return "P"
    return sym if sym in "_." else "_"


def segments(text: str, tier: Tier, speaker: Speaker, rng: np.random.Generator,
             max_seconds: float) -> list[tuple[str, float]]:
    """(symbol, duration s) list of at most ``max_seconds``, cut at a word boundary when possible."""
    syms = _letters(text)
    durs = []
    for k, s in enumerate(syms):
        d = _BASE_DUR[_kind(s)] / speaker.rate
        if tier.prosody > 0.3:  # natural timing: variable lengths, phrase-final lengthening
            d *= float(rng.uniform(0.8, 1.25))
            if k + 1 < len(syms) and syms[k + 1] in "_." and _kind(s) == "V":
                d *= 1.3
        durs.append(d)
    out: list[tuple[str, float]] = [("_", 0.12)]
    total, last_cut = 0.12, 1
    for s, d in zip(syms, durs):
        if total + d > max_seconds - 0.1:
            break
        out.append((s, d))
        total += d
        if s in "_.":
            last_cut = len(out)
    else:
        last_cut = len(out)
    if sum(d for _, d in out[:last_cut]) >= 0.85 * (max_seconds - 0.2):
        out = out[:last_cut]  # end on a word boundary unless that loses too much length
    while out and out[-1][0] in "_.":
        out.pop()
    out.append((".", 0.1))
    return out


# --- rendering -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _band_sos(lo: float, hi: float, fs: int) -> np.ndarray:
    hi = min(hi, 0.45 * fs)
    return butter(2, [lo, hi], btype="band", fs=fs, output="sos")


@functools.lru_cache(maxsize=32)
def _lowpass_sos(cut: float, fs: int, order: int = 8) -> np.ndarray:
    return butter(order, cut, btype="low", fs=fs, output="sos")


def _glottal_pulse(f0: float, fs: int) -> np.ndarray:
    """Rosenberg glottal-flow pulse (open 40 %, closing 16 % of the mean period)."""
    t0 = fs / f0
    tp, tn = max(2, int(0.4 * t0)), max(2, int(0.16 * t0))
    rise = 0.5 * (1 - np.cos(np.pi * np.arange(tp) / tp))
    fall = np.cos(0.5 * np.pi * np.arange(tn) / tn)
    return np.concatenate([rise, fall])


def _resonator_sos(freqs: np.ndarray, bws: np.ndarray, fs: int) -> np.ndarray:
    """Klatt-style 2-pole resonators, unit DC gain, as second-order sections."""
    r = np.exp(-np.pi * bws / fs)
    theta = 2 * np.pi * freqs / fs
    a1, a2 = -2 * r * np.cos(theta), r * r
    sos = np.zeros((len(freqs), 6))
    sos[:, 0] = 1 + a1 + a2
    sos[:, 3], sos[:, 4], sos[:, 5] = 1.0, a1, a2
    return sos


def render(text: str, tier: Tier, speaker: Speaker, fs: int, rng: np.random.Generator,
           max_seconds: float) -> np.ndarray:
    """Speak ``text`` with ``tier``/``speaker`` at ``fs``; float64 mono, unnormalised."""
    segs = segments(text, tier, speaker, rng, max_seconds)
    bounds = np.round(np.cumsum([0.0] + [d for _, d in segs]) * fs).astype(int)
    n = int(bounds[-1])
    kinds = [_kind(s) for s, _ in segs]

    # amplitude targets per segment: voicing and noise
    av = np.zeros(n)
    for (s, _), k, a, b in zip(segs, kinds, bounds[:-1], bounds[1:]):
        av[a:b] = {"V": 1.0, "N": 0.55, "Z": 0.35}.get(k, 0.0)
        if k == "P" and s in _VOICED_PLOS:
            av[a:b] = 0.12  # voice bar during the closure
    ramp = max(1, int((0.012 if tier.smooth else 0.004) * fs))
    win = np.hanning(2 * ramp + 1)
    av = np.convolve(av, win / win.sum(), mode="same")

    # pitch contour: declination + accents + slow wander, all scaled by the tier's prosody
    t = np.arange(n) / fs
    dur = max(n / fs, 1e-3)
    contour = 1 + tier.prosody * (0.10 - 0.20 * t / dur)
    vowel_mid = [(a + b) / 2 / fs for k, a, b in zip(kinds, bounds[:-1], bounds[1:]) if k == "V"]
    if vowel_mid and tier.prosody > 0:
        for c in rng.choice(vowel_mid, size=min(3, len(vowel_mid)), replace=False):
            contour += tier.prosody * rng.uniform(0.06, 0.18) * np.exp(-0.5 * ((t - c) / 0.12) ** 2)
    f0 = speaker.f0 * contour

    # pulse train with jitter/shimmer
    exc = np.zeros(n)
    pos, jit = 0.0, 0.012 * tier.prosody
    while pos < n:
        i = int(pos)
        exc[i] = 1.0 + 0.08 * tier.prosody * rng.standard_normal()
        pos += fs / f0[i] * (1 + jit * rng.standard_normal())
    if tier.glottal:
        g = _glottal_pulse(speaker.f0, fs)
        exc = np.convolve(exc, g)[:n]
    else:
        exc = lfilter([1.0], [1, -0.9], exc)  # raw impulses, mildly tilted: buzzy
    exc *= av
    if tier.aspiration > 0:
        level = float(np.sqrt(np.mean(exc ** 2)))  # breath noise relative to the pulse train
        exc += speaker.breath * tier.aspiration * level * av * rng.standard_normal(n)

    voiced = _vocal_tract(exc, segs, kinds, bounds, tier, speaker, fs)
    out = lfilter([1.0, -0.95], [1.0], voiced)  # lip radiation
    loud = av > 0.5
    out *= 0.1 / max(float(np.sqrt(np.mean(out[loud] ** 2))) if loud.any() else 1.0, 1e-9)  # vowels at 0.1 RMS

    # frication and bursts: band-passed noise per segment
    noise = rng.standard_normal(n)
    for (s, _), k, a, b in zip(segs, kinds, bounds[:-1], bounds[1:]):
        if k in ("F", "Z"):
            lo, hi, lev = _FRICATIVES[_VOICED_FRIC.get(s, s)]
            env = np.hanning(b - a) ** 0.5
            out[a:b] += lev * (0.6 if k == "Z" else 1.0) * env * sosfilt(_band_sos(lo, hi, fs), noise[a:b])
        elif k == "P":
            lo, hi = _PLOSIVES[_VOICED_PLOS.get(s, s)]
            blen = min(b - a, int(0.02 * fs))
            env = np.exp(-np.arange(blen) / (0.004 * fs))
            out[b - blen:b] += 0.15 * env * sosfilt(_band_sos(lo, hi, fs), noise[b - blen:b])

    if tier.phase_noise > 0:
        out = _phase_jitter(out, fs, tier.phase_noise, rng)
    if tier.bandwidth_hz is not None and tier.bandwidth_hz < 0.45 * fs:
        out = sosfilt(_lowpass_sos(tier.bandwidth_hz, fs), out)
    return out


def _vocal_tract(exc, segs, kinds, bounds, tier: Tier, speaker: Speaker, fs: int) -> np.ndarray:
    """Cascade of 5 formant resonators, one fixed filter per 10 ms Hann frame, overlap-added.

    Switching the coefficients of a running recursive filter pumps energy into it (clicks 20-40x
    the RMS, worse at low rates); filtering each windowed frame from rest, with its ringing tail,
    and overlap-adding is a click-free time-varying filter at any rate."""
    n = len(exc)
    targets, times = [], []
    last = _VOWELS["e"]
    for (s, _), k, a, b in zip(segs, kinds, bounds[:-1], bounds[1:]):
        f = _VOWELS.get(s) or _SONORANTS.get(s) or last
        if k in ("V", "N"):
            last = f
        targets.append(f)
        times.append((a + b) / 2)
    targets = np.asarray(targets, float) * speaker.formant_scale
    hop = max(1, int(HOP_S * fs))
    starts = np.arange(-hop, n, hop)  # frames of 2*hop, 50 % overlap: periodic Hann sums to 1
    centres = starts + hop
    if not tier.smooth:
        # concatenative: hold each target over the middle of its segment, quick joins between
        times = np.ravel([(a + 0.3 * (b - a), b - 0.3 * (b - a)) for a, b in zip(bounds[:-1], bounds[1:])])
        targets = np.repeat(targets, 2, axis=0)
    f123 = np.stack([np.interp(centres, times, targets[:, j]) for j in range(3)], axis=1)
    f45 = np.array([3300.0, 3750.0]) * speaker.formant_scale
    bws = np.array([60.0, 90.0, 120.0, 150.0, 200.0]) * tier.bw_scale
    tail = int(np.ceil(4.0 / (np.pi * bws.min()) * fs))  # ~35 dB of ringing decay of the sharpest formant
    win = np.hanning(2 * hop + 1)[:-1]
    padded = np.concatenate([np.zeros(hop), exc, np.zeros(2 * hop)])
    y = np.zeros(len(padded) + tail)
    nyq_guard = 0.45 * fs
    for j, a in enumerate(starts):
        frame = padded[a + hop:a + 3 * hop] * win
        if not frame.any():
            continue
        freqs = np.minimum(np.concatenate([f123[j], f45]), nyq_guard)
        y[a + hop:a + 3 * hop + tail] += sosfilt(_resonator_sos(freqs, bws, fs), np.pad(frame, (0, tail)))
    return y[hop:hop + n]


def _phase_jitter(x: np.ndarray, fs: int, amount: float, rng: np.random.Generator) -> np.ndarray:
    nper = 2 ** int(round(math.log2(0.021 * fs)))
    f, _, z = stft(x, fs, nperseg=nper)
    mask = (f > 1000.0)[:, None]
    z = z * np.exp(1j * amount * mask * rng.standard_normal(z.shape))
    y = istft(z, fs, nperseg=nper)[1]
    return y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))
