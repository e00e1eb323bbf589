"""Clip audio: source render (built-in voice or TTS engine) -> rate -> method -> condition.

A Track 3 clip is the 48 kHz render of (tier, sentence) brought to its rate, so the same sentence
by the same method is the same "recording" at every rate, as in Track 3.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from . import degrade, labels, tts, twins
from .plan import Clip, rng_for
from .voice import TIERS, make_speaker, render

MASTER_FS = 48000
TARGET_RMS = 0.05  # -26 dBFS: leaves ~25 dB of headroom for peaks before PCM_16
TWIN_FLOOR_DB = 60.0  # white noise floor of probe twin sources, dB below the speech RMS (~1.6 LSB rms)


@dataclass(frozen=True)
class Rendered:
    audio: np.ndarray  # float64 in [-1, 1], the clip's rate (dropped once written)
    duration_s: float
    b_eff: float  # effective bandwidth computed from the chain (Hz)
    prior: float
    engine: str  # "builtin" or the TTS engine voice
    mos_single: float
    mos_mixed: float


def resample(x: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    if fs_in == fs_out:
        return x
    g = gcd(int(fs_in), int(fs_out))
    return resample_poly(x, fs_out // g, fs_in // g)


def _fit_length(x: np.ndarray, fs: int, seconds: float) -> np.ndarray:
    n = int(round(seconds * fs))
    if len(x) <= n:
        return x
    fade = int(0.02 * fs)
    y = x[:n].copy()
    y[-fade:] *= np.linspace(1.0, 0.0, fade)
    return y


def _normalise(x: np.ndarray) -> np.ndarray:
    return x * (TARGET_RMS / (float(np.sqrt(np.mean(x ** 2))) + 1e-12))


class Renderer:
    """Renders clips; ``engines`` (voices="auto") replaces the "tts" tier source by Debian TTS."""

    def __init__(self, seed: int, engines: list[tts.EngineVoice] | None = None):
        self.seed = int(seed)
        self.engines = list(engines or [])
        self.used_engines: set[str] = set()
        # clips are rendered grouped by source, so a small per-instance cache serves every rate/method
        self.source = functools.lru_cache(maxsize=8)(self._source)

    def _source(self, tier: str, text: str, speaker: int, seconds: float, fs: int) -> tuple[np.ndarray, float, float, str]:
        """(normalised audio at fs, source bandwidth, prior, engine name)."""
        if tier == "tts" and self.engines:
            ev = self.engines[speaker % len(self.engines)]
            x, native = tts.synthesize(ev, text)
            x = _fit_length(resample(x, native, fs), fs, seconds)
            self.used_engines.add(ev.name)
            return _normalise(x), min(ev.bandwidth_hz, native / 2), ev.prior, ev.name
        t = TIERS[tier]
        spk = make_speaker(rng_for(self.seed, "speaker", speaker))
        x = render(text, t, spk, fs, rng_for(self.seed, "render", tier, text, speaker), seconds)
        return _normalise(x), (t.bandwidth_hz or np.inf), t.prior, "builtin"

    def clip(self, c: Clip) -> Rendered:
        master = MASTER_FS if c.corpus != "bvcc" else c.fs  # BVCC is 16 kHz only: render there
        x, b_src, prior, engine = self.source(c.tier, c.text, c.speaker, c.seconds, master)
        x = resample(x, master, c.fs)
        rng = rng_for(self.seed, "clip", c.corpus, c.utt_id)
        b_eff = min(b_src, 0.95 * c.fs / 2)
        degs = list(c.conditions)
        if c.sr_severity is not None:  # "*SR" method: band above 8 kHz invented (filled to Nyquist)
            x = degrade.super_resolve(x, c.fs, c.sr_severity, rng)
            b_eff = 0.95 * c.fs / 2
            degs = [("fake_sr", c.sr_severity)] + degs
        for name, s in c.conditions:
            x, cap = degrade.apply(name, x, c.fs, s, rng)
            if cap is not None:
                b_eff = min(b_eff, cap)
        peak = float(np.max(np.abs(x)))
        if peak > 0.99:  # rare with -26 dBFS speech; scaling keeps the clip undistorted
            x = x * (0.99 / peak)
        single, mixed = labels.latent_mos(prior, degs, b_eff, c.fs)
        x = np.ascontiguousarray(x)
        return Rendered(x, len(x) / c.fs, float(b_eff), prior, engine, single, mixed)

    def twins(self, group: list[Clip]) -> dict[str, Rendered]:
        """A probe twin group (one clean clip, the rest degraded): rendered like a Track 3 clip of its
        tier, then each twin kind applied; one gain for the whole group so that the band below the
        edge stays the same in every twin."""
        clean = [c for c in group if not c.conditions]
        if len(clean) != 1 or len({(c.fs, c.tier, c.text, c.speaker, c.seconds) for c in group}) != 1:
            raise ValueError(f"twin group {group[0].twin}: needs one clean clip and one shared source")
        c0 = clean[0]
        x, b_src, prior, engine = self.source(c0.tier, c0.text, c0.speaker, c0.seconds, MASTER_FS)
        x = resample(x, MASTER_FS, c0.fs)
        x = x[: twins.fast_length(len(x))]  # a few ms shorter: fast exact-length FFTs
        # a shared noise floor, as any recording has: with digital silence in the pauses, the 16-bit
        # rounding of a processed twin turns exact zeros into +-1 LSB noise that the clean twin lacks,
        # and DNSMOS OVRL alone moves by ~0.1 MOS on that (measured), whatever the high band holds
        floor = rng_for(self.seed, "twin-floor", c0.twin).standard_normal(len(x))
        x = x + floor * TARGET_RMS * 10 ** (-TWIN_FLOOR_DB / 20)
        b_clean = min(b_src, 0.95 * c0.fs / 2)
        audio, caps = {}, {}
        for c in group:
            if c.conditions:
                (kind, s), = c.conditions
                audio[c.utt_id], caps[c.utt_id] = twins.apply(kind, x, c.fs, s, rng_for(self.seed, "twin", c.utt_id))
            else:
                audio[c.utt_id], caps[c.utt_id] = x, None
        peak = max(float(np.max(np.abs(y))) for y in audio.values())
        gain = 0.99 / peak if peak > 0.99 else 1.0
        out = {}
        for c in group:
            y = np.ascontiguousarray(audio[c.utt_id] * gain)
            kind, s = c.conditions[0] if c.conditions else (None, 0.0)
            single, mixed, b_eff = twins.twin_mos(prior, kind, s, b_clean, caps[c.utt_id], c.fs)
            out[c.utt_id] = Rendered(y, len(y) / c.fs, b_eff, prior, engine, single, mixed)
        return out
