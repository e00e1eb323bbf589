"""Every choice is typed and checked where it is written; the layers import downwards only."""
from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest

from ablations.factors import BY_NAME
from ablations.grid import Cell, cell
from ablations.recipe import AUTHORS, Recipe
from sfi_mos import sfi
from sfi_mos import specs
from sfi_mos.errors import InputError
from sfi_mos.train import configs as C

REPO = Path(__file__).resolve().parents[1]
CLASSES = (specs.DataSpec, specs.TeacherSpec, specs.SFISpec, specs.BackboneSpec, C.DistillConfig,
           C.MOSTrainConfig, C.PredictConfig, C.ScoreConfig, C.ProbeConfig, C.PeersConfig, Recipe, Cell)
REQUIRED = {specs.DataSpec: {"kind": "track3", "root": "x"}, Cell: {"distill": False}}


def _choices(cls):
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls, include_extras=True)[f.name]
        if typing.get_origin(tp) is typing.Literal:
            yield f.name, typing.get_args(tp)


def _make(cls, **kw):
    return cls(**{**REQUIRED.get(cls, {}), **kw})


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_literal_choice_refuses_a_misspelling_naming_field_value_and_choices(cls):
    fields = list(_choices(cls))
    assert fields or cls in (specs.TeacherSpec, C.PredictConfig, C.ScoreConfig, C.ProbeConfig, C.PeersConfig)
    for name, allowed in fields:
        for value in allowed:
            _make(cls, **{name: value})  # every allowed value constructs
        with pytest.raises(InputError) as e:
            _make(cls, **{name: str(allowed[0]).upper() + "x"})
        msg = str(e.value)
        assert f"{cls.__name__}.{name}" in msg and all(repr(a) in msg for a in allowed), msg


def test_every_recipe_factor_is_a_checked_choice_or_range():
    hints = typing.get_type_hints(Recipe, include_extras=True)
    assert set(BY_NAME) == set(hints)
    for name, tp in hints.items():
        assert typing.get_origin(tp) in (typing.Literal, typing.Annotated), name
        with pytest.raises(InputError, match=f"Recipe.{name}"):
            Recipe(**{name: "no such value" if typing.get_origin(tp) is typing.Literal else -1.0})


@pytest.mark.parametrize("kw,match", [
    ({"batching": "grouepd"}, "Recipe.batching: 'grouepd' is not one of 'rows', 'grouped'"),
    ({"max_freq_hz": -8000.0}, "Recipe.max_freq_hz: -8000.0 is outside"),
    ({"max_freq_hz": float("nan")}, "not a finite number"),
    ({"pretrain": "no"}, "Cell.pretrain: 'no' is not a boolean"),
    ({"distill": 1}, "Cell.distill: 1 is not a boolean"),
    ({"seed": "0"}, "Cell.seed: '0' is not an integer"),
    ({"seed": -1}, "Cell.seed: -1 is outside"),
    ({"teacher": "HuBERT"}, "Cell.teacher: 'HuBERT' is not one of"),
])
def test_new_user_mistakes_are_named_errors(kw, match):
    teacher = kw.pop("teacher", "hubert")
    with pytest.raises(InputError, match=match.replace("(", r"\(").replace(".", r"\.")):
        cell("authors", teacher, **kw)


def test_unknown_recipe_and_factor_names():
    with pytest.raises(InputError, match="unknown recipe 'Authors'; recipes: authors, suite"):
        cell("Authors", "hubert")
    with pytest.raises(InputError, match="unknown factor"):
        cell("authors", "hubert", sfi_geometry="phase")  # the old name (CHANGELOG.md)


def test_ints_given_for_floats_are_one_config():
    assert cell("authors", "hubert", max_freq_hz=8000) == cell("authors", "hubert", max_freq_hz=8000.0)
    assert C.MOSTrainConfig(lr=1) == C.MOSTrainConfig(lr=1.0)


@pytest.mark.parametrize("cls,kw", [
    (C.MOSTrainConfig, {"lr": 0.0}), (C.MOSTrainConfig, {"batch_size": 0}), (C.MOSTrainConfig, {"fold": 7}),
    (C.MOSTrainConfig, {"max_seconds": -1.0}), (C.DistillConfig, {"steps": -1}), (C.DistillConfig, {"rates": ()}),
    (C.DistillConfig, {"rates": (16000, 0)}), (specs.SFISpec, {"naf_hidden": (224, 0)}),
    (C.ScoreConfig, {"bootstrap": -5}), (C.PredictConfig, {"splits": ("test", "evl")}),
    (specs.TeacherSpec, {"name": ""}),
])
def test_numbers_and_sequences_are_range_checked(cls, kw):
    with pytest.raises(InputError, match=cls.__name__):
        _make(cls, **kw)


def test_layer_choices_match_the_layer():
    assert typing.get_args(specs.StridePolicy) == sfi.POLICIES
    assert typing.get_args(specs.FilterFamily) == sfi.FAMILIES
    assert set(typing.get_args(specs.NafNorm)) == set(sfi.analog.NAF_NORMS)
    assert set(typing.get_args(specs.NafLowpass)) == set(sfi.analog.NAF_LOWPASS)
    assert set(typing.get_args(specs.MgfConvention)) == set(sfi.analog.MGF_CONVENTIONS)
    assert typing.get_args(specs.Design) == sfi.DESIGNS
    assert AUTHORS.stride_policy in sfi.POLICIES


# ---- the layers -------------------------------------------------------------------------------
LOWER = ("sfi", "ssl", "mos", "data", "metrics")


def _imports(path: Path, package: str) -> list[tuple[str, int]]:
    """Absolute module names a file imports (relative imports resolved), with their line."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
            out += [(f"{mod}.{a.name}", node.lineno) for a in node.names]
    return out


def _package(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] != "__init__" else parts[:-1]) if parts[-1] != "__init__" \
        else ".".join(parts[:-1])


def test_no_upward_imports():
    bad = []
    for sub in LOWER:
        for path in (REPO / "sfi_mos" / sub).rglob("*.py"):
            for mod, line in _imports(path, _package(path)):
                if mod.startswith("sfi_mos.train"):
                    bad.append(f"{path.relative_to(REPO)}:{line} imports {mod}")
    for path in (REPO / "sfi_mos").rglob("*.py"):
        for mod, line in _imports(path, _package(path)):
            if mod.split(".")[0] in ("ablations", "replication", "paper"):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {mod}")
    for path in (REPO / "paper").rglob("*.py"):
        for mod, line in _imports(path, _package(path)):
            if mod.split(".")[0] == "torch" or mod.startswith(("sfi_mos.mos", "sfi_mos.ssl", "sfi_mos.sfi")):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {mod} (paper/ reads results only)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("top", ["paper", "ablations", "replication", "sfi_mos"])
def test_no_import_cycles(top):
    graph: dict[str, set[str]] = {}
    files = {p: _package(p) for p in (REPO / top).rglob("*.py")}
    names = {(pkg + "." + p.stem) if p.stem != "__init__" else pkg for p, pkg in files.items()}
    for p, pkg in files.items():
        me = (pkg + "." + p.stem) if p.stem != "__init__" else pkg
        graph[me] = {m for m, _ in _imports(p, pkg) if m in names and m != me and not me.startswith(m + ".")}
    seen: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        seen[n] = 1
        for m in sorted(graph.get(n, ())):
            if seen.get(m) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
            if m not in seen:
                visit(m, stack + [m])
        seen[n] = 2

    for n in sorted(graph):
        if n not in seen:
            visit(n, [n])
