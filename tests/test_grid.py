"""The grid as code and its stage graph: dedup, run ids, waves; no stage implementation needed."""
from __future__ import annotations

import dataclasses
import re

import pytest

from ablations import graph as G
from ablations import grid as grid_mod
from ablations.factors import FACTORS
from ablations.grid import Cell, cell
from ablations.recipe import AUTHORS, SUITE
from sfi_mos.config import canonical_json
from sfi_mos.errors import InputError

from grid_fixtures import inputs


def test_cells_reject_impossible_combinations():
    with pytest.raises(InputError, match="no distillation"):
        Cell("resample", "hubert", distill=True)
    with pytest.raises(InputError, match="teacher"):
        cell("authors", "bert", "resample")
    with pytest.raises(InputError, match="do not change"):
        cell("authors", "hubert", "resample", stride_policy="phase")
    with pytest.raises(InputError, match="unknown factor"):
        cell("authors", "hubert", stride="phase")


def test_cell_names_say_recipe_and_deviations():
    assert cell("authors", "hubert").name == "authors-hubert-s0"
    assert cell("suite", "hubert").name == "suite-hubert-s0"
    assert cell("authors", "wav2vec2", distill=False).name == "authors-wav2vec2-nokd-s0"
    assert cell("authors", "hubert", "resample_sr", pretrain=False, seed=2).name == "authors-resample_sr-hubert-nopt-s2"
    abl = cell("authors", "hubert", batching="grouped", max_freq_hz=8000.0)
    assert abl.name == "authors-hubert+max_freq_hz=8000+batching=grouped-s0"  # recipe field order
    assert abl.kind == "authors" and abl.label == "authors-hubert+max_freq_hz=8000+batching=grouped"
    assert cell("suite", "wavlm", "resample").kind == "suite-resample"
    # the suite's recipe, named relative to the authors', lists every factor that differs and applies
    differs = {f.name for f in FACTORS if f.authors_value != f.suite_value}
    assert set(Cell(recipe=SUITE).deviations) == differs - {
        "input_norm", "sr_pretrain", "wavlm_baseline", "nokd_init", "student"}  # not for a distilled SFI-HuBERT
    assert "student" in Cell(teacher="wavlm", recipe=SUITE).deviations


def test_paper_grid_has_replication_suite_and_one_ablation_per_factor():
    grid = grid_mod.get("paper")
    names = [c.name for c in grid.cells]
    for t in grid_mod.TEACHERS:
        assert f"authors-{t}-s0" in names and f"authors-{t}-nopt-s0" in names
        for v in ("resample", "resample_sr"):
            assert f"authors-{v}-{t}-s0" in names and f"authors-{v}-{t}-nopt-s0" in names
    assert "authors-wav2vec2-nokd-s0" in names and "suite-hubert-s0" in names
    single = [c for c in grid.cells if c.base == "authors" and len(c.deviations) == 1]
    assert {next(iter(c.deviations)) for c in single} == {f.name for f in FACTORS}
    for f in FACTORS:  # each ablation starts from its host authors cell, which is in the grid too
        variant, teacher, distill, pretrain = f.host
        host = Cell(variant, teacher, distill, pretrain, AUTHORS)
        assert host.name in names, f.name


def test_every_factor_changes_only_its_own_stage_configs():
    """Single-factor ablation vs its host: the differing config fields are exactly the factor's."""
    grid = grid_mod.get("paper")
    fields_of = {  # config fields (dotted) each factor may touch, in any stage
        "stride_policy": {"sfi.stride_policy"}, "naf_norm": {"sfi.naf_norm"}, "naf_lowpass": {"sfi.naf_lowpass"},
        "max_freq_hz": {"sfi.max_freq_hz"}, "student": {"student"}, "nokd_init": {"nokd_init", "student"},
        "ssl_train": {"ssl_train"}, "batching": {"batching"}, "pooling": {"pooling"},
        "listener_ids": {"listener_ids"}, "init_listeners": {"init_listeners"}, "input_norm": {"input_norm"},
        "wavlm_baseline": {"backbone.teacher.name"}, "pretrain_stop": {"max_epochs"},
        "sr_pretrain": {"backbone.kind"}, "precision": {"precision"},
    }
    ins = inputs()

    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    def stages(c):
        by = {}
        for stage, cfg, _ in G.cell_stages(grid, c, ins):
            if stage in ("distill", "pretrain") or (stage == "finetune" and cfg.fold == 0):
                by[stage] = flat(dataclasses.asdict(cfg))
        return by

    for f in FACTORS:
        variant, teacher, distill, pretrain = f.host
        host = stages(Cell(variant, teacher, distill, pretrain, AUTHORS))
        abl = stages(cell("authors", teacher, variant, distill, pretrain, **{f.name: f.ablated_value}))
        assert host.keys() == abl.keys()
        changed = set()
        for stage in host:
            keys = host[stage].keys() | abl[stage].keys()
            diff = {k.split(".")[0] if k.startswith("student") else k for k in keys
                    if host[stage].get(k) != abl[stage].get(k)}
            # parents are referenced by run dir: a changed parent re-keys its children, nothing else
            changed |= {k for k in diff if k not in ("init_run", "backbone.student_run")}
        assert changed and changed <= fields_of[f.name], (f.name, changed)


def test_a_factor_that_changes_nothing_is_rejected():
    nothing = dataclasses.replace(grid_mod.get("smoke"), cells=(
        cell("authors", "hubert", "resample"),
        Cell("resample", "hubert", False, True, dataclasses.replace(AUTHORS, naf_norm="fixed"), 0, "authors")))
    with pytest.raises(InputError, match="trains exactly the runs of cell"):
        G.build(nothing, inputs())


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
    assert len(by["finetune"]) == len(grid.cells) * grid.folds
    assert len(by["predict"]) == len(by["score"]) == len(by["probe"]) == len(grid.cells)
    assert len(by["peers"]) == 1 and by["peers"][0].parents == ()
    # each cell's probe reads its own fold models (and, for SFI, its distill run for the diagnostics)
    for n in by["probe"]:
        assert set(n.parents) == set(n.config.runs) and len(n.config.runs) == grid.folds
        assert (n.config.student_run is not None) == ("resample" not in n.cells[0])
    authors, grouped = cell("authors", "hubert"), cell("authors", "hubert", batching="grouped")
    phase = cell("authors", "hubert", stride_policy="phase")
    # batching is a MOS-stage factor: the grouped cell shares the authors' distillation, not their pretraining
    d = [n for n in by["distill"] if authors.name in n.cells]
    assert len(d) == 1 and grouped.name in d[0].cells and phase.name not in d[0].cells
    p = [n for n in by["pretrain"] if authors.name in n.cells]
    assert len(p) == 1 and grouped.name not in p[0].cells
    assert len(by["distill"]) == 4  # authors (+ grouped), phase geometry, suite, bf16 (precision trains it too)
    # the predict config records its cell for paper/
    pred = [n for n in by["predict"] if n.cells == [authors.name]][0]
    assert pred.config.cell["name"] == authors.name and pred.config.cell["deviations"] == {}


def test_sr_conditioned_baseline_fine_tunes_from_the_plain_pretraining():
    grid = dataclasses.replace(grid_mod.get("smoke"), cells=(
        cell("authors", "hubert", "resample"), cell("authors", "hubert", "resample_sr"),
        cell("authors", "hubert", "resample_sr", sr_pretrain="conditioned")))
    by = G.build(grid, inputs()).by_stage()
    assert len(by["pretrain"]) == 2
    plain = [n for n in by["pretrain"] if n.config.backbone.kind == "resample"][0]
    assert set(plain.cells) == {"authors-resample-hubert-s0", "authors-resample_sr-hubert-s0"}


def test_authors_wavlm_baseline_is_wavlm_base_and_students_are_hubert_class():
    grid = dataclasses.replace(grid_mod.get("smoke"), cells=(
        cell("authors", "wavlm", "resample"), cell("authors", "wavlm"), cell("suite", "wavlm")))
    by = G.build(grid, inputs()).by_stage()
    fts = {n.cells[0]: n.config for n in by["finetune"] if n.config.fold == 0}
    assert fts["authors-resample-wavlm-s0"].backbone.teacher.name == "wavlm_base"
    d = {n.cells[0]: n.config for n in by["distill"]}
    assert d["authors-wavlm-s0"].teacher.name == "wavlm_base_plus"
    assert d["authors-wavlm-s0"].student.name == "hubert"
    assert d["suite-wavlm-s0"].student is None


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
    # plus the grid's one peers run (third-party predictors; not part of any cell)
    assert printed["peers"] == (1, 1)
    assert printed["all"][0] == sum(expected.values()) + 1
    assert sum(expected.values()) == 407  # 370 training/scoring runs + a probe per cell (37)
    assert not (tmp_path / "res" / "paper" / "manifest.json").exists()  # a dry run submits nothing
    # the cells are listed with what they are: the replication and one ablation per factor
    assert re.search(r"^  authors-hubert-s0\s+replication \(the authors' recipe\)$", out, re.M)
    assert re.search(r"^  suite-hubert-s0\s+suite recipe$", out, re.M)
    for f in FACTORS:
        assert re.search(rf"^  \S+\+{f.name}=\S+-s0\s+authors \+ {f.name}=", out, re.M), f.name


def test_paper_needs_real_data(tmp_path, capsys):
    from replication import run_all

    assert run_all.main(["--grid", "paper", "--results", str(tmp_path)]) == 2
    assert "needs real corpora" in capsys.readouterr().err
    # a dry run prices it before the corpora are at hand, on their documented sizes, and says so
    assert run_all.main(["--grid", "paper", "--results", str(tmp_path), "--dry-run"]) == 0
    assert "no --data: the grid is priced on the documented corpus sizes" in capsys.readouterr().err


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
    from sfi_mos.config import config_hash, identity_dict

    graph = G.build(grid_mod.get("smoke"), inputs())
    for rel, node in graph.nodes.items():
        assert node.run_id == config_hash({"stage": node.stage, "config": identity_dict(node.config)})
        assert rel == f"{node.stage}/{node.run_id}"
        for p in node.parents:  # parents are referenced by relative run dir inside the config
            assert p in canonical_json(node.config)


def test_only_selects_cells_by_glob():
    grid = grid_mod.get("default")
    assert {c.variant for c in grid.select("*resample*").cells} == {"resample"}
    assert len(grid.select("authors-hubert-s0,suite-*").cells) == 2
    assert len(grid.select("authors-hubert*").cells) == 4  # the replication and its three ablations
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
    bad.write_text("[defaults]\nngpus = 1\n")  # gpu is a key now (a GPU name): a misspelt one
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
    # kind = base + variant / no-distillation control; single-factor ablations share their host's kind
    assert cell("authors", "hubert", pretrain=False).kind == "authors"
    assert cell("authors", "wavlm", distill=False).kind == "authors-nokd"
    assert cell("suite", "wav2vec2", "resample_sr").kind == "suite-resample_sr"
    assert cell("authors", "hubert", batching="grouped").kind == "authors"
    assert {c.kind for c in grid_mod.get("paper").cells} == {
        "authors", "authors-nokd", "authors-resample", "authors-resample_sr", "suite"}