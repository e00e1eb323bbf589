"""Figures (seaborn on the Agg backend, PNG + PDF with fixed metadata so reruns give the same files).

One colour means one thing in every figure (``cell_colors``): each cell keeps its own colour, in the
ablation table's order; grey is a 16 kHz reference predictor (the peers); black dotted lines are the
labels (a perfect predictor) and the reference levels; the proposed cell is marked with a star and
"(proposed)", not with a colour. Sampling rates are told apart by marker shape.

* ``scatter_utt``: true vs predicted MOS per utterance for the proposed cell, marker by rate;
* ``scatter_sys``: the same per system, each point labelled with its system id;
* ``forest``: system-level SRCC of every cell with its 95 % CI (the ablation at a glance);
* ``per_rate``: utterance-level SRCC per sampling rate and cell (bars, 95 % CI whiskers).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from sfi_mos.atomic import atomic_path  # noqa: E402

from .tables import Tables  # noqa: E402

# no dates, software versions or random ids inside the files
_META = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}


def _save(fig, out: Path, name: str) -> list[Path]:
    paths = []
    for ext in ("png", "pdf"):
        path = out / f"{name}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, metadata=_META[ext], bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def _rate_label(r) -> str:
    return f"{int(r) / 1000:g} kHz"


# tab10 without red (C3, easily read as "the proposed one") and grey (C7, the reference predictors)
CELL_PALETTE = ("C0", "C1", "C2", "C4", "C5", "C6", "C8", "C9")
REFERENCE = "0.55"  # grey: 16 kHz reference predictors (peers)
LABELS = "black"  # dotted: what a perfect predictor shows
RATE_MARKERS = ("o", "s", "^", "D", "v", "P")


def cell_colors(cells) -> dict[str, str]:
    """Each cell's colour, by its position in the ablation table (the same in every figure)."""
    return {c: CELL_PALETTE[i % len(CELL_PALETTE)] for i, c in enumerate(dict.fromkeys(cells))}


def _rate_markers(rates) -> dict[str, str]:
    return {r: RATE_MARKERS[i % len(RATE_MARKERS)] for i, r in enumerate(rates)}


def scatter_utt(tabs: Tables, out: Path) -> list[Path]:
    d = tabs.preds[tabs.proposed].copy()
    d["rate"] = d.sample_rate.map(_rate_label)
    order = [_rate_label(r) for r in sorted(d.sample_rate.unique())]
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    color = cell_colors(tabs.ablation.cell)[tabs.proposed]
    sns.scatterplot(data=d, x="mos", y="pred", style="rate", style_order=order, markers=_rate_markers(order),
                    color=color, s=18, alpha=0.7, ax=ax)
    _diag(ax, d.mos, d.pred)
    ax.set(xlabel="true MOS", ylabel="predicted MOS", title=f"Utterances ({tabs.split}): {tabs.proposed}")
    ax.title.set_fontsize(8)
    return _save(fig, out, "scatter_utt")


def scatter_sys(tabs: Tables, out: Path) -> list[Path]:
    return _save(sys_figure(tabs), out, "scatter_sys")


def sys_figure(tabs: Tables):
    d = tabs.preds[tabs.proposed]
    s = d.groupby("system_id", sort=True).agg(mos=("mos", "mean"), pred=("pred", "mean"),
                                             sample_rate=("sample_rate", "first")).reset_index()
    s["rate"] = s.sample_rate.map(_rate_label)
    order = [_rate_label(r) for r in sorted(s.sample_rate.unique())]
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    color = cell_colors(tabs.ablation.cell)[tabs.proposed]
    sns.scatterplot(data=s, x="mos", y="pred", style="rate", style_order=order, markers=_rate_markers(order),
                    color=color, s=36, ax=ax)
    _diag(ax, s.mos, s.pred, margin=0.35)  # room for the labels inside the axes
    ax.legend(fontsize=7, loc="upper left", title="rate", title_fontsize=7)
    ax.set(xlabel="true system MOS", ylabel="predicted system MOS", title=f"Systems ({tabs.split}): {tabs.proposed}")
    ax.title.set_fontsize(8)
    _labels(fig, ax, s)
    return fig


# label offsets (points) tried in turn until a label overlaps none placed before it
_OFFSETS = [(3, 3)] + [(3, sign * (3 + 7 * k)) for k in range(1, 16) for sign in (-1, 1)]


def _labels(fig, ax, s) -> None:
    """Greedy, deterministic label placement: nearby systems get staggered labels, not a pile."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    # the markers themselves are obstacles too (about 3 px radius at 150 dpi, plus a margin)
    xy = ax.transData.transform(np.c_[s.mos.to_numpy(float), s.pred.to_numpy(float)])
    placed = [Bbox.from_extents(x - 5, y - 5, x + 5, y + 5) for x, y in xy]
    legend = ax.get_legend()
    if legend is not None:  # the legend is an obstacle too
        placed.append(legend.get_window_extent(renderer))
    inside = ax.get_window_extent(renderer)  # labels stay inside the axes: off the tick labels
    offsets = [(sx * dx, dy) for dx, dy in _OFFSETS for sx in (1, -1)]
    for r in s.sort_values(["mos", "pred", "system_id"]).itertuples():
        for k, (dx, dy) in enumerate(offsets):
            t = ax.annotate(r.system_id, (r.mos, r.pred), xytext=(dx, dy), textcoords="offset points", fontsize=6,
                            ha="left" if dx > 0 else "right",
                            arrowprops=None if k < 2 else {"arrowstyle": "-", "lw": 0.4, "color": "0.6"})
            t.update_positions(renderer)
            box = Text.get_window_extent(t, renderer)  # the label only, not its leader line
            within = (box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0 and box.y1 <= inside.y1)
            if within and not any(box.overlaps(b) for b in placed) or k == len(offsets) - 1:
                placed.append(box)
                break
            t.remove()


def _diag(ax, x, y, margin: float = 0.1) -> None:
    lo = float(min(np.min(x), np.min(y))) - margin
    hi = float(max(np.max(x), np.max(y))) + margin
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--", zorder=0)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)


def forest(tabs: Tables, out: Path) -> list[Path]:
    a = tabs.ablation
    y = np.arange(len(a))[::-1]
    fig, ax = plt.subplots(figsize=(5.5, 0.45 * len(a) + 1.0))
    lo = (a.sys_SRCC - a.sys_SRCC_lo).clip(lower=0).fillna(0)
    hi = (a.sys_SRCC_hi - a.sys_SRCC).clip(lower=0).fillna(0)
    colors = cell_colors(a.cell)
    prop = (a.cell == tabs.proposed).to_numpy()
    ax.errorbar(a.sys_SRCC, y, xerr=[lo, hi], fmt="none", ecolor="0.4", capsize=3, lw=1)
    ax.scatter(a.sys_SRCC[~prop], y[~prop], c=[colors[c] for c in a.cell[~prop]], zorder=3, s=30)
    ax.scatter(a.sys_SRCC[prop], y[prop], c=[colors[c] for c in a.cell[prop]], marker="*", zorder=3, s=120,
               edgecolors=LABELS, linewidths=0.5)
    ax.axvline(float(a.sys_SRCC[prop].iloc[0]) if prop.any() else float(a.sys_SRCC.iloc[0]), color=LABELS,
               lw=0.8, ls=":")
    ax.set_yticks(y, [f"{c} (proposed)" if p else c for c, p in zip(a.cell, prop)], fontsize=7)
    for t, p in zip(ax.get_yticklabels(), prop):
        t.set_fontweight("bold" if p else "normal")
    ax.set(xlabel="system-level SRCC (95 % CI)", title=f"Ablation ({tabs.split}); ★ and dotted line = proposed")
    ax.title.set_fontsize(8)
    return _save(fig, out, "forest_sys_srcc")


def per_rate(tabs: Tables, out: Path) -> list[Path]:
    d = tabs.per_rate.copy()
    d["rate"] = d.sample_rate.map(_rate_label) + np.where(d.seen, "", " (unseen)")
    if "n_sys" in d:  # how many systems the rate's CIs rest on (few: see the note)
        d["rate"] = d["rate"] + d.groupby("sample_rate").n_sys.transform("min").map(lambda n: f"\n{n} systems")
    rates = list(dict.fromkeys(d.sort_values("sample_rate").rate))
    cells = list(dict.fromkeys(d.cell))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(rates) * max(1, len(cells)) ** 0.5 + 2), 3.6))
    width = 0.8 / max(1, len(cells))
    colors = cell_colors(tabs.ablation.cell)
    for i, c in enumerate(cells):
        sub = d[d.cell == c].set_index("rate").reindex(rates)
        x = np.arange(len(rates)) - 0.4 + width * (i + 0.5)
        err = np.vstack([(sub.utt_SRCC - sub.utt_SRCC_lo).clip(lower=0).fillna(0),
                         (sub.utt_SRCC_hi - sub.utt_SRCC).clip(lower=0).fillna(0)])
        ax.bar(x, sub.utt_SRCC.fillna(0), width, yerr=err, color=colors.get(c, "C0"),
               label=f"{c} (proposed)" if c == tabs.proposed else c, capsize=2, error_kw={"lw": 0.8})
    ax.set_xticks(np.arange(len(rates)), rates)
    ax.set(ylabel="utterance-level SRCC (95 % CI)", title=f"Per sampling rate ({tabs.split})")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if tabs.notes.get("per_rate"):
        fig.text(0.01, -0.02, textwrap.fill("Note: " + tabs.notes["per_rate"], 110), fontsize=6, va="top")
    return _save(fig, out, "per_rate_srcc")


def write_all(tabs: Tables, out: Path) -> list[Path]:
    out = Path(out)
    with plt.rc_context({"svg.hashsalt": "sfi-mos", "font.size": 8}), sns.axes_style("whitegrid"):
        return [p for f in (scatter_utt, scatter_sys, forest, per_rate) for p in f(tabs, out)]

