"""Figures of the high-band probe (same conventions as ``paper.figures``: Agg, PNG + PDF, fixed metadata).

* ``probe_delta``: twin difference delta with its 95 % CI per cell and peer, one panel per degradation
  kind plus all pairs; the dotted line is the labels' difference (a perfect predictor);
* ``frontend_energy``: share of the SFI analog filters' response energy above 8 kHz along the pipeline.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from .figures import _save  # noqa: E402
from .probe import KINDS, LABEL_ROW, STAGES, ProbeTables  # noqa: E402


def probe_delta(pt: ProbeTables, out: Path) -> list[Path]:
    d = pt.probe[pt.probe.role != "labels"]
    d = d[np.isfinite(d.get("delta", np.nan))]
    if d.empty:
        return []
    label = pt.probe[pt.probe.cell == LABEL_ROW]
    panels = [("all pairs", "delta")] + [(k, f"delta_{k}") for k in KINDS]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels) + 1.5, 0.42 * len(d) + 1.4),
                             sharey=True, sharex=True)
    y = np.arange(len(d))[::-1]
    colors = ["C0" if r == "model" else "C7" for r in d.role]
    for ax, (title, col) in zip(axes, panels):
        v = d[col].to_numpy(float)
        lo = np.clip(v - d[f"{col}_ci_low"].to_numpy(float), 0, None)
        hi = np.clip(d[f"{col}_ci_high"].to_numpy(float) - v, 0, None)
        ax.errorbar(v, y, xerr=[np.nan_to_num(lo), np.nan_to_num(hi)], fmt="none", ecolor="0.4", capsize=2, lw=1)
        ax.scatter(v, y, c=colors, s=22, zorder=3)
        ax.axvline(0.0, color="0.3", lw=0.8)
        if not label.empty and np.isfinite(float(label[col].iloc[0])):
            ax.axvline(float(label[col].iloc[0]), color="C3", lw=0.8, ls=":")
        ax.set_title(title, fontsize=8)
    axes[len(panels) // 2].set_xlabel("Δ = pred(clean) − pred(degraded), MOS (95 % CI)")
    axes[0].set_yticks(y, d.cell, fontsize=7)
    fig.text(0.5, 1.0, "High-band probe: grey = 16 kHz reference predictors, red dotted = the labels' difference",
             ha="center", va="bottom", fontsize=8)
    return _save(fig, out, "probe_delta")


def frontend_energy(pt: ProbeTables, out: Path) -> list[Path]:
    f = pt.frontend
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    x = np.arange(len(STAGES))
    for i, r in enumerate(f.itertuples()):
        v = np.array([getattr(r, f"share_{s}") for s in STAGES], float)
        ax.plot(x, v, marker="o", color=sns.color_palette("tab10")[i % 10], label=r.cell)
    ax.axhline(2 / 3, color="0.6", lw=0.8, ls="--")
    ax.set_xticks(x, STAGES)
    ax.set_ylim(0, 1)
    ax.set(ylabel="energy share above 8 kHz", title="SFI analog filters along the pipeline (dashed: flat filter)")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=6)
    return _save(fig, out, "frontend_energy")


def write_all(pt: ProbeTables, out: Path) -> list[Path]:
    out = Path(out)
    written: list[Path] = []
    with plt.rc_context({"svg.hashsalt": "sfi-mos", "font.size": 8}), sns.axes_style("whitegrid"):
        if pt.probe is not None and "delta" in pt.probe.columns:
            written += probe_delta(pt, out)
        if pt.frontend is not None:
            written += frontend_energy(pt, out)
    return written
