"""Run ids survive upgrades: golden ids of the named grids, neutral added fields, labels."""
from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest

from ablations import graph as G
from ablations import recipe as recipe_mod
from ablations.grid import Cell, cell
from sfi_mos import rundir
from sfi_mos.config import added, config_hash, identity_dict, to_dict
from sfi_mos.errors import InputError
from sfi_mos.train.configs import DistillConfig, MOSTrainConfig, PredictConfig

import golden_ids

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", golden_ids.GRIDS)
def test_golden_run_ids_unchanged(name):
    want = json.loads(golden_ids.path(name).read_text())
    have = golden_ids.ids(name)
    moved = sorted(set(want) - set(have))
    new = sorted(set(have) - set(want))
    assert not moved and not new, (
        f"grid {name}: {len(moved)} run id(s) moved (e.g. {moved[:3]}), {len(new)} new (e.g. {new[:3]}). "
        "If intended, run `python tests/golden_ids.py --write` and add a CHANGELOG.md line")
    assert have == want  # and every run still serves the same cells


def _with_new_field(cls: type, name: str, default, since: str = "test") -> type:
    """A copy of config class ``cls`` with one more field, declared the stable way."""
    hints = typing.get_type_hints(cls, include_extras=True)
    extra = [(name, type(default), added(default, since=since))]
    return dataclasses.make_dataclass(cls.__name__, [(f.name, hints[f.name], f) for f in dataclasses.fields(cls)] + extra,
                                      frozen=True, namespace={"__post_init__": cls.__post_init__,
                                                              "RETIRED": getattr(cls, "RETIRED", {})})


@pytest.mark.parametrize("stage,cls", [("distill", DistillConfig), ("pretrain", MOSTrainConfig),
                                       ("finetune", MOSTrainConfig), ("predict", PredictConfig)])
def test_added_field_at_its_neutral_default_keeps_every_golden_id(stage, cls):
    grown = _with_new_field(cls, "future", "off")
    nodes = [n for n in golden_ids.graph("paper").nodes.values() if n.stage == stage]
    assert nodes
    for node in nodes:
        copy = grown(**{f.name: getattr(node.config, f.name) for f in dataclasses.fields(cls)})
        assert G.run_id(stage, copy) == node.run_id
        assert to_dict(copy)["future"] == "off"  # config.json still records it
        changed = dataclasses.replace(copy, future="on")
        assert G.run_id(stage, changed) != node.run_id  # a real change is a new run


def test_added_recipe_factor_keeps_cell_descriptions_and_ids():
    grown = _with_new_field(recipe_mod.Recipe, "future", "off")
    old = cell("authors", "hubert")
    assert identity_dict(grown(**old.recipe.asdict())) == old.describe()["recipe"]  # what describe() records
    assert identity_dict(grown(**old.recipe.asdict(), future="on")) != old.describe()["recipe"]


def test_cell_description_is_a_label_not_part_of_the_predict_id():
    a = PredictConfig(runs=("finetune/x",), cell=cell("authors", "hubert").describe())
    b = dataclasses.replace(a, cell={"name": "renamed"})
    assert config_hash(a) == config_hash(b) == config_hash(dataclasses.replace(a, cell={}))
    assert to_dict(a)["cell"]["name"] == "authors-hubert-s0"


def test_layout_1_cell_descriptions_read_through_renamed_factors():
    desc = cell("authors", "hubert", stride_policy="phase").describe()
    desc["recipe"] = {("sfi_geometry" if k == "stride_policy" else k): v for k, v in desc["recipe"].items()}
    back = Cell.from_description(desc, "config.json")
    assert back == cell("authors", "hubert", stride_policy="phase")
    with pytest.raises(InputError, match="config.json.*batching.*'grouepd'"):
        Cell.from_description({**desc, "recipe": {**desc["recipe"], "batching": "grouepd"}}, "config.json")
    with pytest.raises(InputError, match="config.json"):
        Cell.from_description([], "config.json")


def test_results_layout_version(tmp_path):
    assert rundir.read_layout(tmp_path) == 1  # before layout.json existed
    rundir.write_layout(tmp_path)
    assert rundir.read_layout(tmp_path) == rundir.LAYOUT
    (tmp_path / rundir.LAYOUT_FILE).write_text(json.dumps({"layout": rundir.LAYOUT + 1}))
    with pytest.raises(InputError, match="newer sfi-mos.*upgrade"):
        rundir.read_layout(tmp_path)
    (tmp_path / rundir.LAYOUT_FILE).write_text("[]")
    with pytest.raises(InputError, match="layout.json"):
        rundir.read_layout(tmp_path)


def test_committed_layout_1_fixture_is_read(tmp_path):
    from paper.collect import collect
    from paper_fixtures import FIXTURE_DIR

    assert rundir.read_layout(FIXTURE_DIR / "smoke") == 1
    col = collect(FIXTURE_DIR, "smoke")
    assert set(col.table["name"]) == {"authors-hubert-s0", "authors-resample-hubert-nopt-s0"}
    assert set(col.table["variant"]) == {"sfi", "resample"}


def test_orphan_shows_closest_run_and_fields(tmp_path):
    from replication import monitor

    graph = golden_ids.graph("smoke")
    node = next(n for n in graph.nodes.values() if n.stage == "finetune")
    old = to_dict(dataclasses.replace(node.config, lr=0.5))
    d = tmp_path / "smoke" / "finetune" / "0123456789ab"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(old))
    text = monitor.orphans(graph, tmp_path / "smoke")
    assert "finetune/0123456789ab" in text
    assert f"closest: {node.rel} (1 field(s) differ: lr: 0.5 -> {node.config.lr})" in text


def test_changelog_names_the_layout_and_id_changes():
    text = (REPO / "CHANGELOG.md").read_text()
    assert f"layout {rundir.LAYOUT}" in text and "run ids" in text


def test_import_runs_are_keyed_by_content_not_by_where_the_folder_lies():
    from sfi_mos.train.configs import ImportConfig

    a = ImportConfig(teacher="hubert", sha256=(("config.json", "aa"), ("model.safetensors", "bb")), path="/old")
    assert G.run_id("import", a) == G.run_id("import", dataclasses.replace(a, path="/moved/elsewhere"))
    assert G.run_id("import", a) != G.run_id("import", dataclasses.replace(a, sha256=(("model.safetensors", "cc"),)))
    with pytest.raises(InputError, match="ImportConfig.teacher"):
        ImportConfig(teacher="HuBERT", sha256=(("x", "y"),))
