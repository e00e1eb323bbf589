"""Folder scans that never skip in silence: every audio format soundfile reads, symbolic links to
folders followed (each real folder once, so a link loop ends), and every other file listed with the
reason it was not taken.

The readable suffixes come from ``soundfile.available_formats()`` (libsndfile's container formats)
plus the usual other names of those containers (``.aif``, ``.opus``, ``.oga``, ``.snd``, ...).
Common audio formats libsndfile cannot decode (``.m4a``, ``.aac``, ``.wma``, ...) are *unreadable
audio*: callers report them as errors, not as skipped files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

# other suffixes of the containers soundfile reads (libsndfile 1.2: Opus and Vorbis in Ogg, MPEG 1/2 layer I-III)
_ALIASES = {"aiff": (".aif", ".aifc"), "ogg": (".oga", ".opus"), "au": (".snd",), "mp3": (".mp2", ".mpga"),
            "wavex": (".wav",), "nist": (".sph",), "mat5": (".mat",), "svx": (".8svx", ".iff")}
AUDIO_SUFFIXES = frozenset({f".{f.lower()}" for f in sf.available_formats()}
                           | {a for f in sf.available_formats() for a in _ALIASES.get(f.lower(), ())})
# audio that exists in the wild but libsndfile does not decode: an error, with what to do
UNREADABLE_AUDIO = frozenset({".m4a", ".aac", ".wma", ".alac", ".ape", ".webm", ".mka", ".amr", ".ac3", ".mp4",
                              ".3gp", ".wv", ".dsf"}) - AUDIO_SUFFIXES


def is_audio_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


@dataclass
class Scan:
    files: list[tuple[Path, str]] = field(default_factory=list)  # (path, path inside the folder), sorted
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # audio soundfile cannot decode: errors
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, why it was not taken)


def unreadable_reason(path: Path) -> str:
    return (f"{path.suffix} audio cannot be decoded by soundfile (libsndfile); convert it to WAV or FLAC "
            "(e.g. ffmpeg -i in.m4a out.wav)")


def scan_audio(folder: str | os.PathLike) -> Scan:
    """Audio files under ``folder``, recursively, symbolic links to folders followed once per real
    folder (loop protection). Broken links with an audio suffix are kept (their reader reports them)."""
    root = Path(folder)
    out = Scan()
    seen: dict[tuple[int, int], str] = {}
    def unlisted(e: OSError) -> None:  # a folder that cannot be listed is said, not skipped in silence
        out.skipped.append((Path(e.filename or root), f"cannot list the folder ({e.strerror or e})"))

    for dirpath, dirnames, files in os.walk(root, followlinks=True, onerror=unlisted):
        d = Path(dirpath)
        st = os.stat(d)
        key = (st.st_dev, st.st_ino)
        rel_dir = d.relative_to(root).as_posix()
        if key in seen:  # a link back to a folder already read (a loop, or a second link)
            dirnames[:] = []
            out.skipped.append((d, f"symbolic link to a folder already scanned ({seen[key] or '.'}); read once"))
            continue
        seen[key] = rel_dir if rel_dir != "." else ""
        dirnames.sort()
        for name in sorted(files):
            p = d / name
            suffix = p.suffix.lower()
            if suffix in AUDIO_SUFFIXES:
                if p.is_file() or (p.is_symlink() and not p.exists()):
                    out.files.append((p, p.relative_to(root).as_posix()))
                else:
                    out.skipped.append((p, "not a regular file"))
            elif suffix in UNREADABLE_AUDIO:
                out.unreadable.append((p, unreadable_reason(p)))
            else:
                out.skipped.append((p, f"not an audio format soundfile reads ({suffix or 'no suffix'})"))
    out.files.sort(key=lambda t: t[1])
    return out
