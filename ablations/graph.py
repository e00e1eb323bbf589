"""Cells → a deduplicated stage graph: distill → pretrain → finetune (per fold) → predict → score,
plus the high-band probe of every cell (after its fine-tune runs) and one ``peers`` run per grid.

Every node is one stage config; its run id is ``config_hash({"stage": name, "config": cfg})``.
Parents are referenced inside the child's config by their relative run directory
(``distill/<id>``, ``pretrain/<id>``, ``finetune/<id>``), so a changed parent re-keys all of its
children, and two cells that need the same stage config share one node (one run).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sfi_mos.config import config_hash
from sfi_mos.errors import InputError
from sfi_mos.train.configs import BackboneSpec, DataSpec, TeacherSpec
from sfi_mos.train.configs import ImportConfig

from . import recipe as recipe_mod
from .grid import STAGE_ORDER, Cell, Grid


@dataclass(frozen=True)
class Inputs:
    """Resolved inputs of a grid: corpora (with fingerprints) and teacher specs per factor name."""

    track3: DataSpec
    bvcc: DataSpec
    unlabelled: DataSpec
    teachers: dict[str, TeacherSpec]
    probe: DataSpec | None = None  # twin folder of a synthetic corpus; None: twins from track3's eval clips
    peer_versions: tuple[str, ...] = ()  # installed peer packages (sfi_mos.peers.versions)
    # released SFI students per teacher factor (run_all --students): an import node replaces the
    # distillation of every distilled SFI cell of that teacher
    students: dict[str, ImportConfig] = field(default_factory=dict)


@dataclass
class Node:
    stage: str
    config: Any
    run_id: str
    parents: tuple[str, ...]  # relative run dirs ("distill/<id>", ...)
    cells: list[str] = field(default_factory=list)

    @property
    def rel(self) -> str:
        return f"{self.stage}/{self.run_id}"


def run_id(stage: str, cfg: Any) -> str:
    return config_hash({"stage": stage, "config": cfg})


def cell_stages(grid: Grid, cell: Cell, inputs: Inputs) -> list[tuple[str, Any, tuple[str, ...]]]:
    """The (stage, config, parent dirs) this one cell needs, in dependency order, not deduplicated."""
    out: list[tuple[str, Any, tuple[str, ...]]] = []
    r = cell.recipe

    def add(stage: str, cfg: Any, parents: tuple[str, ...]) -> str:
        out.append((stage, cfg, parents))
        return f"{stage}/{run_id(stage, cfg)}"

    teacher = inputs.teachers[cell.teacher]
    features = grid.finetune.backbone.features
    released = inputs.students.get(cell.teacher) if cell.variant == "sfi" and cell.distill else None
    desc = cell.describe()
    if released is not None:
        student = add("import", replace(released, sfi=recipe_mod.sfi_spec(released.sfi, r)), ())
        backbone = BackboneSpec(kind="sfi", student_run=student, teacher=teacher, features=features)
        base = (student,)
        sha = dict(released.sha256).get("model.safetensors", "")[:12]
        desc["released_student"] = f"{released.path} (sha256 {sha})"  # paper/ lists it with the deviations
    elif cell.variant == "sfi":
        dcfg = recipe_mod.distill_config(grid.distill, r, teacher, inputs.teachers["hubert"], cell.distill)
        student = add("distill", replace(dcfg, data=inputs.unlabelled, seed=grid.base_seed), ())
        backbone = BackboneSpec(kind="sfi", student_run=student, teacher=teacher, features=features)
        base = (student,)
    else:
        if cell.teacher == "wavlm" and r.wavlm_baseline == "wavlm_base":
            teacher = inputs.teachers["wavlm_base"]
        backbone = BackboneSpec(kind=cell.variant, student_run=None, teacher=teacher, features=features)
        base = ()
    init, ft_parents = None, base
    if cell.pretrain:
        # the authors fine-tune their SR-conditioned baselines from the plain pre-training run
        pre_kind = "resample" if cell.variant == "resample_sr" and r.sr_pretrain == "plain" else backbone.kind
        ptemplate = grid.pretrain
        if cell.variant != "sfi" and grid.pretrain_baseline_batch:
            bs, ga = grid.pretrain_baseline_batch
            ptemplate = replace(ptemplate, batch_size=bs, grad_accum=ga)
        pcfg = recipe_mod.mos_config(ptemplate, r, cell.variant, grid.uncapped_epochs, has_init=False)
        pcfg = replace(pcfg, stage="pretrain", backbone=replace(backbone, kind=pre_kind), data=inputs.bvcc,
                       init_run=None, fold=None, seed=grid.base_seed)
        init = add("pretrain", pcfg, base)
        ft_parents = (init,)
    folds = []
    fbase = recipe_mod.mos_config(grid.finetune, r, cell.variant, grid.uncapped_epochs, has_init=cell.pretrain)
    for fold in range(grid.folds):
        fcfg = replace(fbase, stage="finetune", backbone=backbone, data=inputs.track3, init_run=init,
                       n_folds=grid.folds, fold=fold, seed=cell.seed)
        folds.append(add("finetune", fcfg, ft_parents))
    pred = add("predict", replace(grid.predict, runs=tuple(folds), data=inputs.track3, cell=desc),
               tuple(folds))
    add("probe", replace(grid.probe, runs=tuple(folds), data=inputs.probe or inputs.track3, init_run=init,
                         student_run=base[0] if base else None, seed=grid.base_seed), tuple(folds))
    add("score", replace(grid.score, predict_run=pred, data=inputs.track3, seed=grid.base_seed), (pred,))
    return out


@dataclass
class Graph:
    grid: str
    nodes: dict[str, Node]  # rel dir -> node, in topological order
    cell_scores: dict[str, str]  # cell name -> its score node
    skipped: dict[str, str] = field(default_factory=dict)  # cell -> why (released students made it a duplicate)

    def by_stage(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {s: [] for s in STAGE_ORDER}
        for n in self.nodes.values():
            out[n.stage].append(n)
        return out

    def waves(self) -> list[list[Node]]:
        """Topological waves: every node's parents are in an earlier wave."""
        depth: dict[str, int] = {}
        for rel, n in self.nodes.items():  # insertion order is topological
            depth[rel] = 1 + max((depth[p] for p in n.parents), default=-1)
        out: list[list[Node]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for rel, d in depth.items():
            out[d].append(self.nodes[rel])
        return out

    def descendants(self, rel: str) -> set[str]:
        out: set[str] = set()
        for r, n in self.nodes.items():  # topological order: parents seen before children
            if rel in n.parents or out.intersection(n.parents):
                out.add(r)
        return out


def build(grid: Grid, inputs: Inputs) -> Graph:
    """The deduplicated graph. Two cells whose fine-tuned models would be the same runs are an error:
    the second would only relabel the first (a factor that changes nothing for that cell)."""
    nodes: dict[str, Node] = {}
    scores: dict[str, str] = {}
    skipped: dict[str, str] = {}
    trained: dict[tuple[str, ...], str] = {}
    for cell in grid.cells:
        stages = cell_stages(grid, cell, inputs)
        folds = tuple(f"finetune/{run_id(s, c)}" for s, c, _ in stages if s == "finetune")
        if folds in trained and inputs.students:  # a distillation-only factor: moot with released weights
            skipped[cell.name] = f"with released students it trains exactly the runs of {trained[folds]}"
            continue
        if folds in trained:
            raise InputError(f"grid {grid.name!r}", f"cell {cell.name} trains exactly the runs of cell "
                             f"{trained[folds]}: it differs only in a factor that does not apply to it")
        trained[folds] = cell.name
        for stage, cfg, parents in stages:
            node = Node(stage, cfg, run_id(stage, cfg), parents)
            node = nodes.setdefault(node.rel, node)
            if cell.name not in node.cells:
                node.cells.append(cell.name)
            if stage == "score":
                scores[cell.name] = node.rel
    if grid.peers.peers and grid.cells:  # reference predictors: once per grid, no parents
        cfg = replace(grid.peers, data=inputs.track3, probe=inputs.probe or inputs.track3,
                      versions=tuple(inputs.peer_versions), seed=grid.base_seed)
        node = Node("peers", cfg, run_id("peers", cfg), ())  # belongs to no cell
        nodes.setdefault(node.rel, node)
    return Graph(grid.name, nodes, scores, skipped)
