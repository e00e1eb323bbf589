"""The run ids of the named grids on fixed inputs, kept in ``tests/golden/run_ids_<grid>.json``.

A suite change that moves an id orphans finished runs of every study that upgrades. ``test_run_ids``
fails when an id moves; if the move is intended, regenerate the files on purpose and say why in
CHANGELOG.md:

    .venv/bin/python tests/golden_ids.py --write
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from ablations import graph as G  # noqa: E402
from ablations import grid as grid_mod  # noqa: E402
from sfi_mos.specs import DataSpec, TeacherSpec  # noqa: E402

GOLDEN = HERE / "golden"
GRIDS = ("smoke", "default", "paper")


def fixed_inputs(local: bool) -> G.Inputs:
    """Corpora and teachers as the grids resolve them, with fixed fingerprints and peer versions."""
    ups = grid_mod.LOCAL_UPSTREAMS if local else grid_mod.PAPER_UPSTREAMS
    root = "data/synth-s0" if local else "/data"
    teachers = {t: TeacherSpec(u, f"teachers/{t}.pt" if local else None) for t, u in ups.items()}
    return G.Inputs(DataSpec("track3", f"{root}/track3", fingerprint="fp-track3"),
                    DataSpec("bvcc", f"{root}/bvcc", fingerprint="fp-bvcc"),
                    DataSpec("folder", f"{root}/unlabelled", fingerprint="fp-unl"), teachers,
                    DataSpec("probe", f"{root}/probe", fingerprint="fp-probe") if local else None,
                    ("dnsmos=0.0.1.1", "distillmos=0.9.1"))


def graph(name: str) -> G.Graph:
    g = grid_mod.get(name)
    return G.build(g, fixed_inputs(g.local_teachers))


def ids(name: str) -> dict[str, list[str]]:
    """run dir (stage/id) -> the cells that use it."""
    return {rel: sorted(n.cells) for rel, n in graph(name).nodes.items()}


def path(name: str) -> Path:
    return GOLDEN / f"run_ids_{name}.json"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    GOLDEN.mkdir(exist_ok=True)
    for name in GRIDS:
        path(name).write_text(json.dumps(ids(name), indent=1, sort_keys=True) + "\n")
        print(f"wrote {path(name)}")
