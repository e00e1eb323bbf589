"""Figures of the high-band probe (same conventions as ``paper.figures``: Agg, PNG + PDF, fixed metadata).

* ``probe_delta``: twin difference delta with its 95 % CI per cell and peer, one panel per degradation
  kind plus all pairs; the dotted line is the labels' difference (a perfect predictor);
* ``frontend_energy``: share of the SFI analog filters' response energy above 8 kHz along the pipeline;
  each cell its own line style and marker, and a note names the cells whose lines coincide.
Colours as in ``paper.figures.cell_colors``: each cell its own, grey = 16 kHz reference predictors.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from .figures import LABELS, REFERENCE, _save, cell_colors  # noqa: E402
from .probe import KINDS, LABEL_ROW, STAGES, ProbeTables  # noqa: E402


def probe_delta(pt: ProbeTables, out: Path, colors: dict[str, str]) -> list[Path]:
    d = pt.probe[pt.probe.role != "labels"]
    d = d[np.isfinite(d.get("delta", np.nan))]
    if d.empty:
        return []
    label = pt.probe[pt.probe.cell == LABEL_ROW]
    panels = [("all pairs", "delta")] + [(k, f"delta_{k}") for k in KINDS]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels) + 1.5, 0.42 * len(d) + 1.4),
                             sharey=True, sharex=True)
    y = np.arange(len(d))[::-1]
    point = [colors.get(c, "C0") if r == "model" else REFERENCE for c, r in zip(d.cell, d.role)]
    for ax, (title, col) in zip(axes, panels):
        v = d[col].to_numpy(float)
        lo = np.clip(v - d[f"{col}_ci_low"].to_numpy(float), 0, None)
        hi = np.clip(d[f"{col}_ci_high"].to_numpy(float) - v, 0, None)
        ax.errorbar(v, y, xerr=[np.nan_to_num(lo), np.nan_to_num(hi)], fmt="none", ecolor="0.4", capsize=2, lw=1)
        ax.scatter(v, y, c=point, s=22, zorder=3)
        ax.axvline(0.0, color="0.3", lw=0.8)
        if not label.empty and np.isfinite(float(label[col].iloc[0])):
            ax.axvline(float(label[col].iloc[0]), color=LABELS, lw=0.9, ls=":")
        ax.set_title(title, fontsize=8)
    axes[len(panels) // 2].set_xlabel("Δ = pred(clean) − pred(degraded), MOS (95 % CI)")
    axes[0].set_yticks(y, d.cell, fontsize=7)
    fig.text(0.5, 1.0, "High-band probe: grey = 16 kHz reference predictors, black dotted = the labels' difference",
             ha="center", va="bottom", fontsize=8)
    return _save(fig, out, "probe_delta")


LINES = (("-", "o", 9), ("--", "s", 7), (":", "^", 6), ("-.", "D", 4), ((0, (1, 3)), "v", 3))


def identical_groups(f) -> list[list[str]]:
    """Cells whose shares coincide at every stage (to 1e-4: indistinguishable on the plot)."""
    vals = {r.cell: np.array([getattr(r, f"share_{s}") for s in STAGES], float) for r in f.itertuples()}
    groups: list[list[str]] = []
    for c, v in vals.items():
        for g in groups:
            if np.allclose(vals[g[0]], v, atol=1e-4, equal_nan=True):
                g.append(c)
                break
        else:
            groups.append([c])
    return [g for g in groups if len(g) > 1]


def frontend_energy(pt: ProbeTables, out: Path, colors: dict[str, str]) -> list[Path]:
    f = pt.frontend
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    x = np.arange(len(STAGES))
    for i, r in enumerate(f.itertuples()):
        v = np.array([getattr(r, f"share_{s}") for s in STAGES], float)
        ls, marker, size = LINES[i % len(LINES)]  # larger markers first: coinciding lines stay visible
        ax.plot(x, v, ls=ls, marker=marker, ms=size, mfc="none" if i % 2 else None, lw=1.4,
                color=colors.get(r.cell, "C0"), label=r.cell)
    ax.axhline(2 / 3, color=LABELS, lw=0.8, ls=":")
    ax.set_xticks(x, STAGES)
    ax.set_ylim(0, 1)
    ax.set(ylabel="energy share above 8 kHz", title="SFI analog filters along the pipeline (dotted: flat filter)")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=6)
    same = identical_groups(f)
    if same:
        text = "; ".join(" = ".join(g) for g in same)
        fig.text(0.01, -0.02, textwrap.fill(f"Identical at every stage (lines on top of each other): {text}", 100),
                 fontsize=6, va="top")
    return _save(fig, out, "frontend_energy")


def write_all(pt: ProbeTables, out: Path, colors: dict[str, str] | None = None) -> list[Path]:
    """``colors``: the cells' colours of the other figures (``paper.figures.cell_colors``)."""
    out = Path(out)
    if colors is None:
        colors = cell_colors(pt.probe.cell[pt.probe.role == "model"] if pt.probe is not None else [])
    written: list[Path] = []
    with plt.rc_context({"svg.hashsalt": "sfi-mos", "font.size": 8}), sns.axes_style("whitegrid"):
        if pt.probe is not None and "delta" in pt.probe.columns:
            written += probe_delta(pt, out, colors)
        if pt.frontend is not None:
            written += frontend_energy(pt, out, colors)
    return written
