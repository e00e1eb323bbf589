"""Turn CLI inputs (wav files, directories, list files) into audio paths with unique utterance ids.

An input that yields nothing (a missing list file, a folder without audio) and a path that cannot
be written to the UTF-8 output are *problems*: they cost their own row in the errors file, never
the run. A file named twice is predicted once.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..data.scan import scan_audio

# Files longer than this are predicted in equal chunks of at most this length, read one at a time, so
# memory is bounded by the chunk, not the file; the chunks' frame scores are pooled into one mean as
# the whole file's would be (only attention context across chunk borders is lost). A documented
# deviation: the authors predict whole files (0 = whole files, as they do). See docs/predict_inputs.md.
CHUNK_SECONDS = 60.0
LIST_SUFFIXES = {".txt", ".lst", ".list", ".scp"}


@dataclass
class Collected:
    paths: list[Path] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # path inside its input folder, else as given
    problems: list[tuple[str, str]] = field(default_factory=list)  # (input, what is wrong)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file in an input folder, why not read)
    folders: list[Path] = field(default_factory=list)  # input folders (nothing is written inside them)
    repeated: int = 0  # files named more than once (predicted once)

    @property
    def ids(self) -> list[str]:
        return unique_ids(self.paths, self.labels)


def shown(path: str | os.PathLike) -> str:
    """A path as text that is always valid UTF-8 (bytes that are not UTF-8 as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _utf8(path: str | os.PathLike) -> bool:
    try:
        os.fspath(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _from_list(path: Path, out: Collected) -> list[tuple[Path, str]]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        out.problems.append((str(path), f"list file unreadable ({e.strerror or e})"))
        return []
    found = []
    for line in raw.removeprefix(b"\xef\xbb\xbf").splitlines():
        # entries are file names: bytes that are not UTF-8 may name a real file, so keep them as the OS does
        text = os.fsdecode(line).strip()
        if not text or text.startswith("#"):
            continue
        p = Path(text)
        # relative entries are relative to the list file, so lists can travel with their audio
        found.append((p if p.is_absolute() else path.parent / p, text))
    return found


def _audio_in(folder: Path, out: Collected) -> list[tuple[Path, str]]:
    """Audio files under ``folder`` (sorted; see ``sfi_mos.data.scan``), broken symbolic links
    included: they are reported. Audio soundfile cannot decode is a problem; other files are skipped."""
    found = scan_audio(folder)
    out.problems += [(str(p), why) for p, why in found.unreadable]
    out.skipped += [(str(p), why) for p, why in found.skipped]
    return found.files


def collect(inputs: list[str]) -> Collected:
    """Paths in input order; directories are searched recursively (sorted) for audio files.

    A named file that does not exist is still returned: the predictor reports it per file."""
    out = Collected()
    seen: set[str] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.folders.append(p)
            found = _audio_in(p, out)
            if not found:
                out.problems.append((str(p), "directory holds no audio files"))
        elif p.suffix.lower() in LIST_SUFFIXES:
            if not p.is_file():
                out.problems.append((str(p), "list file not found"))
                continue
            found = _from_list(p, out)
            if not found:
                out.problems.append((str(p), "list file names no audio files"))
        else:
            found = [(p, item)]
        for q, label in found:
            if not _utf8(q):
                out.problems.append((str(q), "file name is not valid UTF-8, so it cannot be written to the "
                                             "output CSV; rename the file"))
                continue
            key = os.path.realpath(q) if q.exists() else os.path.abspath(q)
            if key in seen:
                out.repeated += 1
                continue
            seen.add(key)
            out.paths.append(q)
            out.labels.append(label)
    return out


def unique_ids(paths: list[Path], labels: list[str] | None = None) -> list[str]:
    """Utterance ids: the file stem (as Track 3 and BVCC name utterances) where it is unique;
    files whose stems clash are named by ``labels`` (their path inside the input folder, or as
    given) without the suffix, and by their full path if those clash too."""
    labels = labels if labels is not None else [str(p) for p in paths]
    stems = [Path(p).stem for p in paths]
    ids = list(stems)
    n = Counter(stems)
    for i, s in enumerate(stems):
        if n[s] > 1:
            ids[i] = str(Path(labels[i]).with_suffix("")) if Path(labels[i]).suffix else labels[i]
    n = Counter(ids)
    for i, u in enumerate(ids):
        if n[u] > 1:
            ids[i] = str(Path(paths[i]).with_suffix(""))
    return ids
