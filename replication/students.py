"""``run_all --students hubert=DIR,wav2vec2=DIR,wavlm=DIR``: start SFI cells from released students.

Each DIR is a local Hugging Face ``save_pretrained`` folder of an SFI student (the authors'
``Wataru/sfi_*_distill_ears``). Every distilled SFI cell of that teacher gets an ``import/<id>``
node (``sfi_mos.train.import_stage``) in place of its distillation node; the id hashes the folder's
content, so other weights are other runs. No-distillation controls keep their 0-step node.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ablations.graph import Graph, Inputs
from ablations.grid import TEACHERS, Grid
from sfi_mos.errors import InputError
from sfi_mos.train.configs import ImportConfig


def parse(arg: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        name, sep, path = part.partition("=")
        if not sep or name not in TEACHERS or name in out:
            raise InputError("--students", f"expected TEACHER=DIR pairs with TEACHER one of {TEACHERS} (each once), "
                                           f"got {part!r}")
        out[name] = Path(path).expanduser().resolve()
    if not out:
        raise InputError("--students", "no TEACHER=DIR pair given")
    return out


def attach(ins: Inputs, grid: Grid, arg: str | None) -> Inputs:
    """``ins`` with the released students of ``arg`` (checked: an SFI save_pretrained folder each)."""
    if not arg:
        return ins
    from sfi_mos.ssl import hf_format  # lazy: torch only when --students is given (run_all starts light)

    students = {}
    for teacher, path in parse(arg).items():
        hf_format.read_config(path)  # a folder with config.json, or a named error
        model = hf_format.read_dir(path)
        if not model.sfi:
            raise InputError(str(path), f"--students {teacher}=: not an SFI student (its first conv is a plain Conv1d)")
        students[teacher] = ImportConfig(teacher=teacher, path=str(path), sha256=tuple(sorted(model.sha256.items())),
                                         sfi=grid.distill.sfi)
    return replace(ins, students=students)


def replaced(plain: Graph, graph: Graph) -> str:
    """Dry-run lines: the distillation runs the released students replace, and cells left out."""
    gone = [n for rel, n in plain.nodes.items() if n.stage == "distill" and rel not in graph.nodes]
    imports = [n for n in graph.nodes.values() if n.stage == "import"]
    out = [f"released students: {len(imports)} import run(s) replace {len(gone)} distillation run(s):"]
    out += [f"  {n.rel} (cells {', '.join(n.cells)}) -> not run" for n in gone]
    out += [f"  {n.rel} <- {n.config.path} (cells {', '.join(n.cells)})" for n in imports]
    kept = [n for n in graph.nodes.values() if n.stage == "distill"]
    out += [f"  kept {n.rel}: {n.config.steps} steps (cells {', '.join(n.cells)})" for n in kept]
    out += [f"  cell {c} left out: {why}" for c, why in graph.skipped.items()]
    return "\n".join(out)
