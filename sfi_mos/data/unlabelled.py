"""Unlabelled speech folder for distillation (EARS in the paper: 48 kHz, nested folders).

Files are listed recursively and sorted by relative path, so the same folder always gives the same
order. Crops are drawn from ``numpy.random.default_rng([seed, file, epoch])``: the same
(seed, file, epoch) always gives the same crop, independent of worker count or visiting order.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sfi_mos.data.audio import MIN_SECONDS, AudioInfo, audio_info, min_samples_for, read_audio
from sfi_mos.data.scan import scan_audio
from sfi_mos.errors import InputError


def _audio_files(root: Path, exts: tuple[str, ...] | None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(audio files under ``root``, skipped files with the reason): every format soundfile reads
    (``exts`` restricts them), symbolic links to folders followed once. A broken symbolic link or
    audio soundfile cannot decode is an error, never skipped."""
    found = scan_audio(root)
    if found.unreadable:
        p, why = found.unreadable[0]
        raise InputError(p, why)
    out, skipped = [], list(found.skipped)
    for p, _ in found.files:
        if exts is not None and p.suffix.lower() not in exts:
            skipped.append((p, f"{p.suffix} not among the extensions asked for ({'/'.join(exts)})"))
        elif p.is_symlink() and not p.exists():
            raise InputError(p, f"broken symbolic link (points to {os.readlink(p)!r}, which does not exist)")
        else:
            out.append(p)
    return out, skipped


class UnlabelledAudio:
    """Recursive audio folder (every format soundfile reads; ``extensions`` restricts them) with
    seeded random crops; usable as a torch map-style dataset. Non-audio files are listed in ``skipped``.

    ``split``: None (all files) or "train"/"valid", a seeded ``valid_fraction`` hold-out.
    ``min_seconds``: files shorter than this are input errors (never silently skipped).
    ``check_audio``: check every header up front (mono, readable, long enough); with False the
    header is read on first use.
    """

    def __init__(self, root: str | os.PathLike, crop_seconds: float | None = 20.0, seed: int = 0,
                 min_seconds: float = MIN_SECONDS, split: str | None = None,
                 valid_fraction: float = 0.1, check_audio: bool = True,
                 extensions: tuple[str, ...] | None = None):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise InputError(self.root, "unlabelled audio folder not found")
        if crop_seconds is not None and not crop_seconds > 0:
            raise InputError("crop_seconds", f"must be > 0 or None, got {crop_seconds!r}")
        if seed < 0:
            raise InputError("seed", f"must be >= 0, got {seed}")
        if split not in (None, "train", "valid"):
            raise InputError("split", f"must be None, 'train' or 'valid', got {split!r}")
        if not 0.0 <= valid_fraction < 1.0:
            raise InputError("valid_fraction", f"must be in [0, 1), got {valid_fraction!r}")
        self.crop_seconds, self.seed, self.min_seconds = crop_seconds, int(seed), float(min_seconds)
        exts = None if extensions is None else tuple(e.lower() for e in extensions)
        every, self.skipped = _audio_files(self.root, exts)
        every.sort(key=lambda p: p.relative_to(self.root).as_posix())
        if not every:
            what = "audio" if exts is None else "/".join(exts)
            raise InputError(self.root, f"no {what} files found (searched recursively; "
                                        f"{len(self.skipped)} other file(s) skipped)")
        # global position in the full listing seeds the crop, so train/valid views agree on a file
        ids = np.arange(len(every))
        if split is not None:
            n_valid = int(round(len(every) * valid_fraction))
            perm = np.random.default_rng(self.seed).permutation(len(every))
            ids = np.sort(perm[:n_valid] if split == "valid" else perm[n_valid:])
            if len(ids) == 0:
                raise InputError(self.root, f"{len(every)} file(s) give an empty {split!r} split "
                                            f"with valid_fraction={valid_fraction}")
        self.files: list[Path] = [every[i] for i in ids]
        self._ids = [int(i) for i in ids]
        self._infos: list[AudioInfo | None] = [None] * len(self.files)
        self.epoch = 0
        if check_audio:
            for i in range(len(self.files)):
                self.info(i)

    def __len__(self) -> int:
        return len(self.files)

    def info(self, index: int) -> AudioInfo:
        """Header of file ``index`` (checked: mono, readable, at least ``min_seconds`` long)."""
        if self._infos[index] is None:
            path = self.files[index]
            first = audio_info(path)
            need = max(min_samples_for(first.sample_rate),
                       int(np.ceil(self.min_seconds * first.sample_rate - 1e-9)))
            if first.frames < need:
                raise InputError(path, f"audio too short: {first.seconds:.3f} s, need >= "
                                       f"{need / first.sample_rate:.3f} s")
            self._infos[index] = first
        return self._infos[index]

    def crop_bounds(self, index: int, epoch: int = 0) -> tuple[int, int]:
        """(start, stop) frames of the crop for (seed, file, epoch); whole file if it is shorter."""
        info = self.info(index)
        if self.crop_seconds is None:
            return 0, info.frames
        length = int(round(self.crop_seconds * info.sample_rate))
        if info.frames <= length:
            return 0, info.frames
        rng = np.random.default_rng([self.seed, self._ids[index], int(epoch)])
        start = int(rng.integers(0, info.frames - length + 1))
        return start, start + length

    def crop(self, index: int, epoch: int = 0) -> tuple[np.ndarray, int]:
        """Seeded random crop of ``crop_seconds`` as (float32 1-D samples, sample rate)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} files")
        index %= len(self)
        start, stop = self.crop_bounds(index, epoch)
        return read_audio(self.files[index], start=start, stop=stop,
                          min_samples=0)  # length was checked in info()

    def set_epoch(self, epoch: int) -> None:
        """Epoch used by ``__getitem__`` (call once per epoch for fresh crops)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.crop(index, self.epoch)
