"""Atomic file writes: a reader sees the old file or the whole new one, never a partial file.

Everything under a run directory (configs, metrics, predictions, checkpoints) goes through here.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: os.umask can only be read by setting it


# what this process reads and must never write (armed by the CLIs through ``sfi_mos.cli.refuse_overwrite``)
_PROTECTED: dict[str, set] = {"real": set(), "inode": set(), "trees": set()}


def protect(files, trees=()) -> None:
    """Refuse, from now on in this process, atomic writes over ``files`` (by resolved path and inode,
    so hard links count) and inside the folders ``trees``."""
    for f in files:
        _PROTECTED["real"].add(os.path.realpath(f))
        try:
            st = os.stat(f)
            _PROTECTED["inode"].add((st.st_dev, st.st_ino))
        except OSError:
            pass
    _PROTECTED["trees"].update(os.path.realpath(t) for t in trees)


def _refuse_protected(path: Path) -> None:
    if not any(_PROTECTED.values()):
        return
    real = os.path.realpath(path)
    try:
        st = os.stat(path)
        ino = (st.st_dev, st.st_ino)
    except OSError:
        ino = None
    if real in _PROTECTED["real"] or ino in _PROTECTED["inode"]:
        raise InputError(str(path), "is an input of this command; it is not overwritten")
    for t in _PROTECTED["trees"]:
        if real == t or real.startswith(t.rstrip(os.sep) + os.sep):
            raise InputError(str(path), f"is inside {t}, which this command reads; nothing is written there")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync and rename it over ``path``."""
    path = Path(path)
    _refuse_protected(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike, kind: str = "file", what: str | None = None) -> Path:
    """Fail early, before any work, if an output ``path`` ("file" or "dir") could not be written.

    The path must not be the other kind (a directory where a file goes, or the reverse) and its
    nearest existing ancestor must be a directory we can create files in (probed with a temporary
    file, which also catches read-only and immutable mounts for root). Nothing is left behind.
    ``what`` (e.g. "--out") prefixes the location in the error.
    """
    path = Path(path)
    where = f"{what} {path}" if what else str(path)
    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
    if str(path) == "":
        raise InputError(what or "output", "empty path")
    if path.is_dir() and kind == "file":
        raise InputError(where, "is a directory; expected a file path to write")
    if path.exists() and not path.is_dir() and kind == "dir":
        raise InputError(where, "exists and is not a directory")
    probe = path if kind == "dir" and path.is_dir() else path.parent
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(where, f"cannot be created: {probe} is not a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".write-probe.", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise InputError(where, f"cannot write in {probe} ({e.strerror or e})") from None
    return path


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_csv(path: str | os.PathLike, df, **kwargs) -> None:
    """Write a pandas DataFrame as CSV atomically (index off unless asked)."""
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, **kwargs)


def torch_save(path: str | os.PathLike, obj: Any) -> None:
    import torch  # lazy: torch is heavy; atomic is imported by the light modules (rundir, ablations, paper)

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _json_default(o: Any) -> Any:
    # numpy scalars/arrays and Paths show up in metrics and configs
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
