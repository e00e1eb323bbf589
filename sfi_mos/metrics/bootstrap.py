"""Vectorised bootstrap of the four metrics.

A bootstrap draw of n items with replacement is represented by its count vector w (how often each
item was drawn). Every metric of the resample is a weighted statistic of the *original* items, so
B draws are evaluated at once with matrix products instead of B calls into scipy:

* MSE, Pearson: weighted moments.
* Spearman: in the resample, item i's average rank is
  ``#{drawn values < x_i} + (#{drawn values == x_i} + 1) / 2`` = ``(W @ M.T)_i + 1/2`` with
  ``M_ij = [x_j < x_i] + [x_j == x_i] / 2``; SRCC is the weighted Pearson of those ranks.
* Kendall tau-b: ``sum_ij w_i w_j s_x(ij) s_y(ij) / sqrt(sum w_i w_j |s_x(ij)| * sum w_i w_j |s_y(ij)|)``
  with ``s_x(ij) = sign(x_i - x_j)``: copies of one item form pairs tied in both, which tau-b
  excludes from numerator and both denominators, exactly as scipy does on the expanded resample.

Each draw therefore equals :func:`sfi_mos.metrics.core.four_metrics` on the explicit resample
(tested). Draws come from ``numpy.random.default_rng([seed, *stream])`` so that every
(scope, level) has its own reproducible stream and two prediction sets scored with the same seed
see the same draws (paired comparison).
"""
from __future__ import annotations

import numpy as np

from sfi_mos.errors import InputError
from sfi_mos.metrics.core import METRICS

LEVEL = 0.95
_BLOCK_ELEMS = 2_000_000  # n x block pairwise matrix entries held at once (~16 MB)
# the most draws the CLIs accept (1000 is usual; CI ends move by < 0.1 % past 10000), and the memory
# one count matrix may take: draws x items x 32 bytes (indices, offsets, counts, floats)
MAX_DRAWS = 100_000
MAX_BYTES = 4 * 2 ** 30


def draw_counts(n: int, n_draws: int, seed: int, stream: tuple[int, ...] = ()) -> np.ndarray:
    """Count matrix W (n_draws, n): W[b, i] = times item i is drawn in bootstrap draw b."""
    if n_draws < 0:
        raise InputError("bootstrap", f"number of draws must be >= 0, got {n_draws}")
    if seed < 0:
        raise InputError("seed", f"must be >= 0, got {seed}")
    need = 32 * n_draws * n
    if need > MAX_BYTES:
        raise InputError("--bootstrap", f"{n_draws} draws of {n} items need {need / 2 ** 30:.1f} GiB, more than "
                                        f"the {MAX_BYTES / 2 ** 30:.0f} GiB allowed; use fewer draws")
    rng = np.random.default_rng([int(seed), *map(int, stream)])
    idx = rng.integers(0, n, size=(n_draws, n))
    flat = (idx + np.arange(n_draws)[:, None] * n).ravel()
    return np.bincount(flat, minlength=n_draws * n).reshape(n_draws, n).astype(float)


def _blocks(n: int):
    step = max(1, _BLOCK_ELEMS // max(n, 1))
    for s in range(0, n, step):
        yield slice(s, min(n, s + step))


def _wpearson(W: np.ndarray, N: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Weighted Pearson per draw; X, Y are (n,) or (B, n)."""
    mx = (W * X).sum(1) / N
    my = (W * Y).sum(1) / N
    dx = X - mx[:, None]
    dy = Y - my[:, None]
    cov = (W * dx * dy).sum(1)
    return cov / np.sqrt((W * dx * dx).sum(1) * (W * dy * dy).sum(1))


def _wranks(W: np.ndarray, x: np.ndarray) -> np.ndarray:
    R = np.empty_like(W)
    for blk in _blocks(len(x)):
        xb = x[blk, None]
        M = (x[None, :] < xb) + 0.5 * (x[None, :] == xb)
        R[:, blk] = W @ M.T
    return R + 0.5


def _wtau(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    num = np.zeros(len(W))
    ux = np.zeros(len(W))
    uy = np.zeros(len(W))
    for blk in _blocks(len(x)):
        sx = np.sign(x[blk, None] - x[None, :])
        sy = np.sign(y[blk, None] - y[None, :])
        Wb = W[:, blk]
        num += (Wb * (W @ (sx * sy).T)).sum(1)
        ux += (Wb * (W @ np.abs(sx).T)).sum(1)
        uy += (Wb * (W @ np.abs(sy).T)).sum(1)
    return num / np.sqrt(ux * uy)


def weighted_metrics(W: np.ndarray, truth, pred, truth_key=None, pred_key=None) -> dict[str, np.ndarray]:
    """The four metrics for every draw (row of the count matrix W) -> {metric: (B,) array}.

    ``truth_key``/``pred_key``: exact order and ties for SRCC and KTAU, as in
    :func:`sfi_mos.metrics.core.four_metrics` (default: the values themselves).
    """
    x = np.asarray(truth, dtype=float)
    y = np.asarray(pred, dtype=float)
    xk = x if truth_key is None else np.asarray(truth_key, dtype=float)
    yk = y if pred_key is None else np.asarray(pred_key, dtype=float)
    N = W.sum(1)
    with np.errstate(all="ignore"):  # degenerate draws (one distinct item) give NaN
        return {
            "MSE": (W @ (x - y) ** 2) / N,
            "LCC": _wpearson(W, N, x, y),
            "SRCC": _wpearson(W, N, _wranks(W, xk), _wranks(W, yk)),
            "KTAU": _wtau(W, xk, yk),
        }


def percentile_ci(draws: np.ndarray, level: float = LEVEL) -> list[float]:
    """Percentile interval over the finite draws ([nan, nan] if there are none)."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return [float("nan"), float("nan")]
    a = (1 - level) / 2 * 100
    lo, hi = np.percentile(d, [a, 100 - a])
    return [float(lo), float(hi)]


def metric_cis(draws: dict[str, np.ndarray], level: float = LEVEL) -> dict[str, list[float]]:
    return {m: percentile_ci(draws[m], level) for m in METRICS}


def two_sided_p(diff: np.ndarray) -> float:
    """Bootstrap two-sided p for "difference is 0": 2 * min(P(d <= 0), P(d >= 0)), capped at 1."""
    d = np.asarray(diff, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return float("nan")
    return float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))
