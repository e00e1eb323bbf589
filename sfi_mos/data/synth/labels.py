"""Ground truth by construction (data_sources.md §5.2) and simulated listening tests.

    q        = (prior - 1) / 4
    f_deg    = prod_k (1 - alpha_k * s_k)
    g(B)     = interp(log2 B, log2 [3400, 7600, 11400, 16000, 20000], [0.62, 0.88, 0.98, 0.995, 1.0])
    MOS_mixed  = 1 + 4 q f_deg g(B_eff)                               (mixed-rate test: dev/eval)
    MOS_single = 1 + 4 q f_deg min(1, g(B_eff) / g(0.95 fs / 2))        (single-rate test: training CSVs)

The single-rate context does not punish a rate for its own Nyquist (16 kHz clips heard only among
16 kHz clips), the mixed one does: about -0.4 MOS for a good 16 kHz system, ~0 at 48 kHz, the
context shift reported for Track 3. Both are monotone in every severity and in bandwidth.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .degrade import CATALOGUE

_G_B = np.log2([3400.0, 7600.0, 11400.0, 16000.0, 20000.0])
_G_V = np.array([0.62, 0.88, 0.98, 0.995, 1.0])

N_LISTENERS = 10  # per Track 3 listening test
BIAS_SD, NOISE_SD = 0.3, 0.6


def bandwidth_quality(b_hz: float) -> float:
    return float(np.interp(np.log2(max(b_hz, 1.0)), _G_B, _G_V))


def degradation_factor(degradations: Iterable[tuple[str, float]]) -> float:
    f = 1.0
    for name, s in degradations:
        f *= 1.0 - CATALOGUE[name].alpha * float(np.clip(s, 0.0, 1.0))
    return f


def latent_mos(prior: float, degradations: Iterable[tuple[str, float]], b_eff: float, fs: int) -> tuple[float, float]:
    """(MOS_single, MOS_mixed) for a clip of a method with ``prior`` shown at ``fs``."""
    q = (prior - 1.0) / 4.0
    f = degradation_factor(degradations)
    g = bandwidth_quality(b_eff)
    mixed = 1.0 + 4.0 * q * f * g
    single = 1.0 + 4.0 * q * f * min(1.0, g / bandwidth_quality(0.95 * fs / 2))
    return single, mixed


def listener_biases(rng: np.random.Generator, n: int = N_LISTENERS) -> np.ndarray:
    return rng.normal(0.0, BIAS_SD, n)


def ratings(mos: float, biases: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer 1..5 ratings of one clip by listeners with the given biases."""
    r = np.rint(mos + biases + rng.normal(0.0, NOISE_SD, len(biases)))
    return np.clip(r, 1, 5).astype(int)


def listening_test(mos: dict[str, float], listeners: list[str], rng_of) -> list[tuple[str, str, int]]:
    """Every listener rates every clip (Track 3: 10 ratings per clip per test).

    ``rng_of(key)`` gives the generator for a key, so each listener's bias and each clip's noise
    have their own stream. Returns sorted (utt, listener, rating) rows."""
    biases = np.array([listener_biases(rng_of(("bias", name)), 1)[0] for name in listeners])
    rows = []
    for utt in sorted(mos):
        r = ratings(mos[utt], biases, rng_of(("rate", utt)))
        rows += [(utt, name, int(v)) for name, v in zip(listeners, r)]
    return rows
