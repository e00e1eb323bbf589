"""Resolve a grid's inputs: corpora (synthetic or given paths, fingerprinted) and teacher specs.

Paths inside configs are relative to the grid results dir (``results/<grid>/``) whenever the input
lives there (synthetic corpus, tiny teachers), so run ids do not depend on where results live.
Preparation is idempotent and safe under concurrency: it runs under a lock and builds into a
temporary directory that is renamed into place only when complete.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ablations.graph import Inputs
from ablations.grid import LOCAL_UPSTREAMS, PAPER_UPSTREAMS, Grid
from sfi_mos.atomic import write_json
from sfi_mos.errors import InputError
from sfi_mos.train.configs import DataSpec, TeacherSpec

from . import fingerprint, registry
from .lock import Lock
from sfi_mos.jsonio import read_json

CORPORA = ("track3", "bvcc", "unlabelled")
KINDS = {"track3": "track3", "bvcc": "bvcc", "unlabelled": "folder"}


def parse_data(arg: str) -> dict[str, Path] | None:
    """``synthetic`` → None; ``track3=/p,bvcc=/p,unlabelled=/p`` → {name: path}."""
    if arg.strip() == "synthetic":
        return None
    out: dict[str, Path] = {}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        name, sep, path = part.partition("=")
        if not sep or name not in CORPORA:
            raise InputError("--data", f"expected 'synthetic' or NAME=PATH pairs with NAME in {CORPORA}, got {part!r}")
        if name in out:
            raise InputError(f"--data {name}", f"given twice ({out[name]} and {path}); give each corpus once")
        if not path.strip():
            raise InputError(f"--data {name}", "empty path (an unset shell variable?)")
        p = Path(path).expanduser().resolve()
        if not p.is_dir():
            raise InputError(f"--data {name}", f"{p} is not a directory")
        out[name] = p
    if not out:
        raise InputError("--data", f"no corpus given in {arg!r}; expected 'synthetic' or NAME=PATH pairs")
    return out


def fingerprint_dir(root: Path, grid_dir: Path | None = None) -> str:
    """Content hash of a corpus folder (every file's path, size and bytes; see ``fingerprint``).

    Per-file hashes are cached under ``<grid_dir>/data/.fingerprints/``, so only new or changed
    files are read again."""
    cache = None
    if grid_dir is not None:
        key = hashlib.sha256(os.fsencode(Path(root).resolve())).hexdigest()[:16]
        cache = grid_dir / "data" / ".fingerprints" / f"{key}.json"
    return fingerprint.content_fingerprint(root, cache)


def _build_once(target: Path, build) -> None:
    """Run ``build(out)`` on a fresh path and rename it to ``target``, unless that already exists."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with Lock(target.parent / f".{target.name}.lock"):
        if target.exists():  # built by a concurrent run_all while we waited
            return
        for old in target.parent.glob(f".{target.name}.*"):  # a build killed with -9 (we hold the lock)
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
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
    return rel, _synthetic_fingerprint(target)


def _synthetic_fingerprint(target: Path) -> str:
    """The generator's recorded content hash while the files are as generated, else the files' own.

    ``fingerprint.json`` keeps the answer with a digest of every file's (size, mtime, ctime,
    inode); while that digest holds nothing is read, otherwise the files are hashed again, so a
    corpus edited in place gets new run ids instead of its old results."""
    fp_file = target / "fingerprint.json"
    stats = fingerprint.tree_stats(target, skip=(fp_file.name,))
    try:
        rec = read_json(fp_file, {"fingerprint": str})
        if rec.get("stats") == stats:
            return rec["fingerprint"]
    except InputError:
        pass  # no or damaged record: the files are hashed again
    try:
        fp = registry.load(registry.prepare_path("fingerprint"))(target, verify=True)
    except InputError as e:  # edited since it was generated: the run ids follow the bytes as they are
        fp = fingerprint.content_fingerprint(target, skip=(fp_file.name,))
        print(f"note: {e}; runs on it get the new fingerprint {fp}", file=sys.stderr)
    write_json(fp_file, {"fingerprint": fp, "stats": stats})
    return fp


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
    rel = read_json(target / "teachers.json")
    if set(LOCAL_UPSTREAMS) - set(rel):  # written by an older version: add the missing checkpoints
        with Lock(target.parent / f".{target.name}.lock"):
            paths = write(target, "tiny", seed)  # writes only missing files, each atomically
            rel = {name: Path(p).resolve().relative_to(target.resolve()).as_posix() for name, p in paths.items()}
            write_json(target / "teachers.json", rel)
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
        specs = {c: DataSpec(KINDS[c], str(p), fingerprint=fingerprint_dir(p, grid_dir)) for c, p in paths.items()}
        for c in CORPORA:  # unused corpora still need a (never read) spec
            specs.setdefault(c, DataSpec(KINDS[c], "", fingerprint=""))
        probe = None  # real data: the probe makes its twins from track3's eval clips
    if grid.local_teachers:
        rel = tiny_teachers(grid_dir, grid.base_seed)
        teachers = {t: TeacherSpec(LOCAL_UPSTREAMS[t], rel[t]) for t in LOCAL_UPSTREAMS}
    else:
        teachers = {t: TeacherSpec(PAPER_UPSTREAMS[t], None) for t in PAPER_UPSTREAMS}
    from sfi_mos.peers import versions  # package metadata only: nothing is imported

    return Inputs(specs["track3"], specs["bvcc"], specs["unlabelled"], teachers, probe, versions(grid.peers.peers))
