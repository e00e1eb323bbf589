"""Turn CLI inputs (wav files, directories, list files) into an ordered list of audio paths."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
LIST_SUFFIXES = {".txt", ".lst", ".list", ".scp"}


def _from_list(path: Path) -> list[Path]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line)
        # relative entries are relative to the list file, so lists can travel with their audio
        out.append(p if p.is_absolute() else path.parent / p)
    return out


def collect(inputs: list[str]) -> list[Path]:
    """Paths in input order; directories are searched recursively (sorted) for audio files.

    A named file that does not exist is still returned: the caller reports it per file."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_SUFFIXES and q.is_file())
            if not found:
                raise InputError(str(p), "directory holds no audio files")
            paths += found
        elif p.suffix.lower() in LIST_SUFFIXES:
            if not p.is_file():
                raise InputError(str(p), "list file not found")
            paths += _from_list(p)
        else:
            paths.append(p)
    return paths
