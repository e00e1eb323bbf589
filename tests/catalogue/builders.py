"""Small damaged inputs for the catalogue cases: wavs cut after the header, NaN samples, names that
are not UTF-8, read-only folders, bytes that are not UTF-8 inside text files."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from .harness import TESTS

if str(TESTS) not in sys.path:  # data_fixtures lives next to the tests (pytest puts it on the path)
    sys.path.insert(0, str(TESTS))

from data_fixtures import make_bvcc, make_track3, track3_name, write_lines, write_wav  # noqa: E402

__all__ = ["make_bvcc", "make_track3", "track3_name", "write_lines", "write_wav", "not_utf8", "truncate_wav",
           "nan_wav", "readonly", "wav_named", "inject_bytes", "same_size_edit"]


def not_utf8(name: str) -> str:
    """``name`` with a byte that is not UTF-8 before its suffix, as Python spells such a file name."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    return os.fsdecode(stem.encode() + b"\xff" + (b"." + ext.encode() if dot else b""))


def wav_named(path: Path, sr: int, seconds: float = 0.2) -> Path:
    """A clip at ``path`` even when its name is not UTF-8 (soundfile only takes UTF-8 names)."""
    tmp = write_wav(path.parent / ".tmp-clip.wav", sr, seconds=seconds)
    os.rename(tmp, path)
    return path


def truncate_wav(path: Path, keep: float = 0.5) -> Path:
    """Cut a WAV file after its header plus ``keep`` of its data; the header still declares it all."""
    data = path.read_bytes()
    path.write_bytes(data[:44 + int((len(data) - 44) * keep)])
    return path


def nan_wav(path: Path, sr: int = 16000, seconds: float = 0.5) -> Path:
    x = np.full(int(sr * seconds), 0.1, dtype=np.float32)
    x[len(x) // 2] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, sr, subtype="FLOAT")
    return path


def inject_bytes(path: Path, line: int, raw: bytes = b"\xff\xfe") -> Path:
    """Put ``raw`` (not UTF-8) at the start of 1-based ``line`` of a text file."""
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = raw + lines[line - 1]
    path.write_bytes(b"\n".join(lines))
    return path


def same_size_edit(path: Path) -> Path:
    """Change a file's bytes in place, keeping its size and its modification time."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    with open(path, "r+b") as f:  # same inode, same size
        f.write(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return path


def readonly(folder: Path) -> Callable[[], None]:
    """Make ``folder`` read-only, also for root (chattr +i); returns the undo. Skips if impossible."""
    import pytest

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return lambda: folder.chmod(0o755)
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        folder.chmod(0o755)
        pytest.skip("running as root and chattr +i is not available: no read-only folder possible")

    def undo() -> None:
        subprocess.run([chattr, "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)

    return undo
