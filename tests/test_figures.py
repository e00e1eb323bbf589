"""Figures a reader can trust at a glance: one colour per cell in every figure (never red or the
reference grey), system labels that neither collide nor leave the axes, coinciding lines named."""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.text import Text

from paper import figures, probe_figures
from paper.collect import collect
from paper.probe import STAGES
from paper.tables import Options, build

from paper_fixtures import FIXTURE_DIR, FIXTURE_GRID


def test_cell_colours_are_stable_and_reserved_colours_unused():
    cells = [f"cell{i}" for i in range(10)]
    c = figures.cell_colors(cells)
    assert c == figures.cell_colors(cells) and c["cell0"] != c["cell1"]
    assert not {"C3", "C7", figures.REFERENCE} & set(c.values())  # red and grey mean other things
    assert figures.cell_colors(cells[:3]) == {k: c[k] for k in cells[:3]}  # a cell keeps its colour


def test_system_labels_stay_inside_the_axes_and_apart():
    tabs = build(collect(str(FIXTURE_DIR), FIXTURE_GRID), Options(bootstrap=0))
    fig = figures.sys_figure(tabs)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]  # the label, not its leader line
    assert len(boxes) == tabs.preds[tabs.proposed].system_id.nunique()
    assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1 for b in boxes)
    assert not [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
    plt.close(fig)


def test_coinciding_frontend_lines_are_named():
    rows = [("a", 0.58), ("b", 0.60), ("c", 0.58), ("d", 0.58 + 5e-5)]
    f = pd.DataFrame([{"cell": c, **{f"share_{s}": v for s in STAGES}} for c, v in rows])
    assert probe_figures.identical_groups(f) == [["a", "c", "d"]]
