"""Resolve a grid's inputs: corpora (synthetic or given paths, fingerprinted) and teacher specs.

Paths inside configs are relative to the grid results dir (``results/<grid>/``) whenever the input
lives there (synthetic corpus, tiny teachers), so run ids do not depend on where results live.
Preparation is idempotent and safe under concurrency: it runs under a lock and builds into a
temporary directory that is renamed into place only when complete.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ablations.graph import Inputs
from ablations.grid import LOCAL_UPSTREAMS, PAPER_UPSTREAMS, Grid
from sfi_mos.atomic import write_json
from sfi_mos.errors import InputError
from sfi_mos.train.configs import DataSpec, TeacherSpec

from . import registry
from .lock import Lock

CORPORA = ("track3", "bvcc", "unlabelled")
KINDS = {"track3": "track3", "bvcc": "bvcc", "unlabelled": "folder"}
TEXT_SUFFIXES = {".csv", ".txt", ".json", ".list", ".scp", ".tsv"}


def parse_data(arg: str) -> dict[str, Path] | None:
    """``synthetic`` → None; ``track3=/p,bvcc=/p,unlabelled=/p`` → {name: path}."""
    if arg.strip() == "synthetic":
        return None
    out: dict[str, Path] = {}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        name, sep, path = part.partition("=")
        if not sep or name not in CORPORA:
            raise InputError("--data", f"expected 'synthetic' or NAME=PATH pairs with NAME in {CORPORA}, got {part!r}")
        p = Path(path).expanduser().resolve()
        if not p.is_dir():
            raise InputError(f"--data {name}", f"{p} is not a directory")
        out[name] = p
    return out


def fingerprint_dir(root: Path) -> str:
    """Cheap content hash: every file's relative path and size, plus the bytes of the tables."""
    h = hashlib.sha256()
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for f in sorted(files):
            p = Path(dirpath) / f
            rel = p.relative_to(root).as_posix()
            h.update(f"{rel}\0{p.stat().st_size}\n".encode())
            if p.suffix.lower() in TEXT_SUFFIXES:
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _build_once(target: Path, build) -> None:
    """Run ``build(out)`` on a fresh path and rename it to ``target``, unless that already exists."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with Lock(target.parent / f".{target.name}.lock"):
        if target.exists():  # built by a concurrent run_all while we waited
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            build(tmp / "out")
            os.chmod(tmp / "out", 0o755)  # mkdtemp-style 0700 would hide it from other users
            os.replace(tmp / "out", target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def synthetic_corpus(grid_dir: Path, size: str, seed: int) -> tuple[str, str]:
    """Generate (once) the synthetic corpus; returns (relative root, fingerprint)."""
    rel = f"data/synth-{size}-s{seed}"
    target = grid_dir / rel
    generate = registry.load(registry.prepare_path("synthetic"))
    _build_once(target, lambda out: generate(out, size=size, seed=seed))
    fp_file = target / "fingerprint.json"
    if not fp_file.exists():
        fp = registry.load(registry.prepare_path("fingerprint"))(target)
        write_json(fp_file, {"fingerprint": fp})
    return rel, json.loads(fp_file.read_text())["fingerprint"]


def tiny_teachers(grid_dir: Path, seed: int) -> dict[str, str]:
    """Write (once) the tiny random-init teacher checkpoints; returns factor name -> relative path."""
    target = grid_dir / "teachers"
    write = registry.load(registry.prepare_path("teachers"))

    def build(out: Path) -> None:
        out.mkdir()
        paths = write(out, "tiny", seed)
        rel = {name: Path(p).resolve().relative_to(out.resolve()).as_posix() for name, p in paths.items()}
        write_json(out / "teachers.json", rel)

    _build_once(target, build)
    rel = json.loads((target / "teachers.json").read_text())
    return {name: f"teachers/{p}" for name, p in rel.items()}


def resolve(grid: Grid, grid_dir: Path, data_arg: str) -> Inputs:
    paths = parse_data(data_arg)
    need = {"track3"}
    if any(c.variant == "sfi" for c in grid.cells):
        need.add("unlabelled")
    if any(c.pretrain for c in grid.cells):
        need.add("bvcc")
    if paths is None:
        if grid.synthetic is None:
            raise InputError("--data", f"grid {grid.name!r} needs real corpora: "
                             "--data track3=PATH,bvcc=PATH,unlabelled=PATH")
        root, fp = synthetic_corpus(grid_dir, grid.synthetic, grid.base_seed)
        specs = {c: DataSpec(KINDS[c], f"{root}/{c}", fingerprint=fp) for c in CORPORA}
        probe = DataSpec("probe", f"{root}/probe", fingerprint=fp)
    else:
        missing = sorted(need - set(paths))
        if missing:
            raise InputError("--data", f"grid {grid.name!r} also needs {', '.join(missing)}=PATH")
        specs = {c: DataSpec(KINDS[c], str(p), fingerprint=fingerprint_dir(p)) for c, p in paths.items()}
        for c in CORPORA:  # unused corpora still need a (never read) spec
            specs.setdefault(c, DataSpec(KINDS[c], "", fingerprint=""))
        probe = None  # real data: the probe makes its twins from track3's eval clips
    if grid.local_teachers:
        rel = tiny_teachers(grid_dir, grid.base_seed)
        teachers = {t: TeacherSpec(LOCAL_UPSTREAMS[t], rel[t]) for t in {c.teacher for c in grid.cells}}
    else:
        teachers = {t: TeacherSpec(PAPER_UPSTREAMS[t], None) for t in PAPER_UPSTREAMS}
    from sfi_mos.peers import versions  # package metadata only: nothing is imported

    return Inputs(specs["track3"], specs["bvcc"], specs["unlabelled"], teachers, probe, versions(grid.peers.peers))
