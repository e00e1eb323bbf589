"""Content fingerprints of corpus folders, so that run ids follow the data's bytes, not only its names.

A corpus edited in place (same names, same sizes) must give new run ids, or its old results would be
reused. Hashing every byte on every ``run_all`` would be slow for large corpora, so each file's
sha256 is cached, keyed by what changes whenever its bytes can have changed: (size, mtime, ctime,
inode, device). ctime is in the key because tools that restore mtime (``cp -p``, ``rsync -t``,
``touch -r``) cannot set it back. The fingerprint is a hash over (relative path, size, file hash)
of every file, so it does not depend on where the corpus lives or on the cache.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from sfi_mos.atomic import write_json
from sfi_mos.errors import InputError

CHUNK = 1 << 20


def _files(root: Path, skip: frozenset[str]) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative path, absolute path, stat) of every file under ``root``, in a fixed order."""
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            rel = os.path.relpath(p, root).replace(os.sep, "/")
            if rel in skip:
                continue
            try:
                st = os.stat(p)
            except FileNotFoundError:
                if os.path.islink(p):
                    raise InputError(p, f"broken symbolic link (points to {os.readlink(p)!r}); remove or "
                                        "fix it: every file of a corpus is fingerprinted") from None
                raise InputError(p, "disappeared while the corpus was being fingerprinted") from None
            except OSError as e:
                raise InputError(p, f"cannot read ({e.strerror or e})") from None
            yield rel, p, st


def _key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
    except OSError as e:
        raise InputError(path, f"cannot read ({e.strerror or e})") from None
    return h.hexdigest()


def _load(cache: Path | None) -> dict[str, list]:
    if cache is None:
        return {}
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # no or damaged cache: every file is hashed again


def content_fingerprint(root: str | os.PathLike, cache: str | os.PathLike | None = None,
                        skip: tuple[str, ...] = ()) -> str:
    """16 hex digits over every file's relative path, size and sha256 (``skip``: relative paths left out).

    ``cache``: a JSON file of per-file hashes keyed by absolute path (created or updated; a missing
    or damaged one only costs time).
    """
    root = Path(root)
    cache_path = Path(cache) if cache is not None else None
    old = _load(cache_path)
    new: dict[str, list] = {}
    h = hashlib.sha256()
    for rel, p, st in _files(root, frozenset(skip)):
        key = _key(st)
        hit = old.get(p)
        if hit is not None and hit[:-1] == key:
            digest = hit[-1]
        else:
            digest = _sha256(p)
            try:
                if _key(os.stat(p)) != key:
                    raise InputError(p, "changed while it was being fingerprinted; run again when the "
                                        "corpus is no longer being written")
            except FileNotFoundError:
                raise InputError(p, "disappeared while the corpus was being fingerprinted") from None
        new[p] = key + [digest]
        h.update(os.fsencode(rel) + b"\0" + str(st.st_size).encode() + b"\0" + digest.encode() + b"\n")
    if cache_path is not None and new != old:
        try:
            write_json(cache_path, new)
        except OSError:
            pass  # a cache we cannot write only costs time on the next run
    return h.hexdigest()[:16]


def tree_stats(root: str | os.PathLike, skip: tuple[str, ...] = ()) -> str:
    """Digest of every file's (relative path, size, mtime, ctime, inode): changes when any file may have."""
    h = hashlib.sha256()
    for rel, _, st in _files(Path(root), frozenset(skip)):
        h.update(os.fsencode(rel) + b"\0" + json.dumps(_key(st)).encode() + b"\n")
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """``python -m replication.fingerprint DIR``: the fingerprint and its cost, cold then warm."""
    ap = argparse.ArgumentParser(prog="python -m replication.fingerprint", description=main.__doc__)
    ap.add_argument("root")
    ap.add_argument("--repeat", type=int, default=3, help="warm runs (default 3)")
    args = ap.parse_args(argv)
    root = Path(args.root)
    n = sum(1 for _ in _files(root, frozenset()))
    size = sum(st.st_size for _, _, st in _files(root, frozenset()))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.json"
        t = time.perf_counter()
        fp = content_fingerprint(root, cache)
        cold = time.perf_counter() - t
        warm = []
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            assert content_fingerprint(root, cache) == fp
            warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        tree_stats(root)
        stats = time.perf_counter() - t
    print(f"{root}: {n} files, {size / 1e6:.1f} MB, fingerprint {fp}")
    print(f"cold (hash every byte, no cache): {cold:.3f} s  ({size / 1e6 / max(cold, 1e-9):.0f} MB/s)")
    print(f"warm (cache hit, stat only): median {sorted(warm)[len(warm) // 2]:.3f} s over {len(warm)} runs")
    print(f"tree_stats (the synthetic corpus' change check): {stats:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
