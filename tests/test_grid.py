"""The grid as code and its stage graph: dedup, run ids, waves; no stage implementation needed."""
from __future__ import annotations

import dataclasses
import re

import pytest

from ablations import graph as G
from ablations import grid as grid_mod
from ablations.grid import Cell, baseline_cell, sfi_cell
from sfi_mos.config import canonical_json
from sfi_mos.errors import InputError

from grid_fixtures import inputs


def test_cells_reject_impossible_combinations():
    with pytest.raises(InputError, match="no distillation or stride policy"):
        Cell("resample", "hubert", distill=True, policy=None)
    with pytest.raises(InputError, match="stride policy"):
        Cell("sfi", "hubert", policy="round-ish")
    with pytest.raises(InputError, match="teacher"):
        baseline_cell("resample", "bert")


@pytest.mark.parametrize("name", sorted(grid_mod.GRIDS))
def test_grid_cells_unique_and_graph_topological(name):
    grid = grid_mod.get(name)
    names = [c.name for c in grid.cells]
    assert len(names) == len(set(names))
    graph = G.build(grid, inputs())
    seen: set[str] = set()
    for wave in graph.waves():
        for node in wave:
            assert set(node.parents) <= seen, f"{node.rel} scheduled before a parent"
        seen.update(n.rel for n in wave)
    assert seen == set(graph.nodes)
    assert set(graph.cell_scores) == set(names)


def test_shared_stages_are_deduplicated():
    grid = grid_mod.get("default")
    graph = G.build(grid, inputs())
    by = graph.by_stage()
    sfi = [c for c in grid.cells if c.variant == "sfi"]
    # one distillation per teacher x policy x distill on/off, one pretraining per backbone
    assert len(by["distill"]) == len({(c.teacher, c.policy, c.distill) for c in sfi})
    backbones = {(c.variant, c.teacher, c.policy, c.distill) for c in grid.cells if c.pretrain}
    assert len(by["pretrain"]) == len(backbones)
    assert len(by["finetune"]) == len(grid.cells) * grid.folds
    assert len(by["predict"]) == len(by["score"]) == len(grid.cells)
    # the pretrain-off cell shares the distillation of the proposed cell
    proposed, no_pt = sfi_cell("hubert", "phase"), sfi_cell("hubert", "phase", pretrain=False)
    d = [n for n in by["distill"] if proposed.name in n.cells]
    assert len(d) == 1 and no_pt.name in d[0].cells
    # the no-distillation control is its own (steps=0) distillation
    control = [n for n in by["distill"] if n.config.steps == 0]
    assert len(control) == 1 and control[0].cells == [sfi_cell("hubert", "phase", distill=False).name]


def _unique_configs(grid, ins) -> dict[str, int]:
    uniq: dict[str, set[str]] = {}
    naive = 0
    for cell in grid.cells:
        for stage, cfg, _ in G.cell_stages(grid, cell, ins):
            uniq.setdefault(stage, set()).add(canonical_json({"stage": stage, "config": cfg}))
            naive += 1
    counts = {s: len(v) for s, v in uniq.items()}
    assert sum(counts.values()) < naive  # sharing actually happens
    return counts


def test_paper_dry_run_counts_equal_unique_stage_configs(tmp_path, capsys):
    from replication import inputs as inputs_mod
    from replication import run_all

    from grid_fixtures import real_data_dirs

    data = real_data_dirs(tmp_path)
    assert run_all.main(["--grid", "paper", "--data", data, "--results", str(tmp_path / "res"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    printed = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"^(\w+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+(\d+)$",
                                                                 out, re.M)}
    grid = grid_mod.get("paper")
    expected = _unique_configs(grid, inputs_mod.resolve(grid, tmp_path / "res" / "paper", data))
    assert {s: printed[s][0] for s in expected} == expected
    assert {s: printed[s][1] for s in expected} == expected  # nothing done yet: all would be submitted
    assert printed["all"][0] == sum(expected.values()) == 327
    assert not (tmp_path / "res" / "paper" / "manifest.json").exists()  # a dry run submits nothing


def test_paper_needs_real_data(tmp_path, capsys):
    from replication import run_all

    assert run_all.main(["--grid", "paper", "--results", str(tmp_path), "--dry-run"]) == 2
    assert "needs real corpora" in capsys.readouterr().err


def test_run_ids_stable_and_rekeyed_by_changed_defaults():
    grid = grid_mod.get("smoke")
    a, b = G.build(grid, inputs()), G.build(grid, inputs())
    assert list(a.nodes) == list(b.nodes)  # deterministic ids and order
    # a changed distillation default re-keys distill and everything downstream of it, nothing else
    changed = dataclasses.replace(grid, distill=dataclasses.replace(grid.distill, lr=grid.distill.lr * 2))
    c = G.build(changed, inputs())
    moved = set(a.nodes) - set(c.nodes)
    sfi_cell_name = grid.cells[0].name
    assert moved == {rel for rel, n in a.nodes.items() if sfi_cell_name in n.cells}
    assert {rel for rel, n in a.nodes.items() if n.cells == [grid.cells[1].name]} <= set(c.nodes)
    # a different corpus fingerprint re-keys every run
    assert not set(a.nodes) & set(G.build(grid, inputs("other")).nodes)


def test_run_id_is_hash_of_stage_and_config():
    from sfi_mos.config import config_hash, to_dict

    graph = G.build(grid_mod.get("smoke"), inputs())
    for rel, node in graph.nodes.items():
        assert node.run_id == config_hash({"stage": node.stage, "config": to_dict(node.config)})
        assert rel == f"{node.stage}/{node.run_id}"
        for p in node.parents:  # parents are referenced by relative run dir inside the config
            assert p in canonical_json(node.config)


def test_only_selects_cells_by_glob():
    grid = grid_mod.get("default")
    assert {c.variant for c in grid.select("resample*").cells} == {"resample", "resample_sr"}
    assert len(grid.select("sfi-hubert-phase-kd-pt-s0,sfi-*-truncate-*").cells) == 2
    with pytest.raises(InputError, match="matches no cell"):
        grid.select("nothing-*")


def test_profiles(tmp_path):
    from replication import profiles

    ex = profiles.load("example")
    p = profiles.stage_params(ex, "distill", 15)
    assert p["timeout_min"] == 1440 and p["gpus_per_node"] == 1 and p["slurm_partition"] == "gpu"
    s = profiles.stage_params(ex, "score", 15)
    assert "gpus_per_node" not in s and s["timeout_min"] == 30 and s["cpus_per_task"] == 2
    assert profiles.stage_params(profiles.load("ci"), "finetune", 15)["timeout_min"] == 15
    bad = tmp_path / "bad.toml"
    bad.write_text("[defaults]\ngpu = 1\n")
    with pytest.raises(InputError, match="unknown keys"):
        profiles.load(str(bad))
    with pytest.raises(InputError, match="no profile"):
        profiles.load("nope")


def test_data_argument_errors(tmp_path):
    from replication.inputs import parse_data

    assert parse_data("synthetic") is None
    with pytest.raises(InputError, match="NAME=PATH"):
        parse_data("track4=/x")
    with pytest.raises(InputError, match="not a directory"):
        parse_data(f"track3={tmp_path / 'missing'}")


def test_cell_kinds():
    assert sfi_cell("hubert", "sinc", pretrain=False).kind == "sfi"
    assert sfi_cell("wavlm", distill=False).kind == "sfi-nokd"
    assert baseline_cell("resample_sr", "wav2vec2").kind == "resample_sr"
    assert {c.kind for c in grid_mod.get("paper").cells} == {"sfi", "sfi-nokd", "resample", "resample_sr"}
