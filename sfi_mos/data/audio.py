"""Reading and checking wav files (soundfile only; torchaudio.load needs FFmpeg here).

Every problem with a file becomes an ``InputError`` naming that file, so a bad clip in a corpus of
thousands is found at load time instead of crashing a training step hours later.
"""
from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from sfi_mos.errors import InputError

# The SSL front-end's receptive field: 400 samples at 16 kHz (conv kernels 10,3,3,3,3,2,2 with
# strides 5,2,2,2,2,2,2), i.e. 25 ms. A shorter clip yields zero frames, so it is an input error.
# The SFI layer scales kernels with the rate, so the limit is a duration, not a sample count.
MIN_SECONDS = 0.025

# Rate tags as they appear in file names ("16k", "22k", "44.1k"). The 44.1 kHz family is written
# with truncated tags, so those are looked up; any other "<n>k" means n * 1000 Hz.
_RATE_TAGS = {"11k": 11025, "22k": 22050, "44k": 44100, "88k": 88200}
_RATE_TAG_RE = re.compile(r"^(\d+(?:\.\d+)?)k$")


def rate_from_tag(tag: str) -> int:
    """``"16k"`` -> 16000, ``"22k"`` -> 22050, ``"44.1k"`` -> 44100; ValueError if not a rate tag."""
    tag = tag.lower()
    if tag in _RATE_TAGS:
        return _RATE_TAGS[tag]
    m = _RATE_TAG_RE.match(tag)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"not a sampling-rate tag: {tag!r}")
    return int(round(float(m.group(1)) * 1000))


def min_samples_for(sr: int, min_samples: int | None = None) -> int:
    """The shortest acceptable clip at rate ``sr`` (``min_samples`` overrides the receptive field)."""
    if min_samples is not None:
        return int(min_samples)
    return int(math.ceil(MIN_SECONDS * sr - 1e-9))


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    frames: int
    channels: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def _where(path, context: str | None) -> str:
    return f"{path} ({context})" if context else str(path)


def audio_info(path: str | os.PathLike, expected_sr: int | None = None,
               min_samples: int | None = None, context: str | None = None, channel: int | None = None) -> AudioInfo:
    """Check an audio file from its header only (fast): exists, readable, long enough, right rate,
    and (``channel``, for a multichannel file) has that channel.

    ``context`` (e.g. "listed in utt_16k.csv line 7") is added to the error location.
    """
    where = _where(path, context)
    if not os.path.isfile(path):
        if os.path.islink(path):
            raise InputError(where, f"broken symbolic link (points to {os.readlink(path)!r}, which does not exist)")
        raise InputError(where, "audio file not found")
    try:
        # bytes: soundfile would encode a str name as strict UTF-8 and fail on other names
        info = sf.info(os.fsencode(path))
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        raise InputError(where, f"unreadable or corrupt audio file ({e})") from None
    missing = wav_shortfall(path)
    if missing:
        raise InputError(where, f"truncated: the WAV header declares {missing[0]} bytes of audio data "
                                f"but the file holds only {missing[1]}")
    out = AudioInfo(str(path), int(info.samplerate), int(info.frames), int(info.channels))
    _check(out, where, expected_sr, min_samples)
    if channel is not None and out.channels > 1 and not 0 <= channel < out.channels:  # mono is read as is
        raise InputError(where, f"--channel {channel} asked for, but the file has {out.channels} channel(s) "
                                f"(numbered 0-{out.channels - 1})")
    return out


def to_mono(data: np.ndarray, channel: int | None) -> np.ndarray:
    """(frames, channels) -> (frames,): channel ``channel``, or the mean of all channels (None).

    Mixing is the suite's documented choice for stereo and multichannel recordings; the authors'
    demo.py flattens the channels end to end instead (``wav.view(-1)``: one clip of C times the length)."""
    if data.shape[1] == 1:
        return data[:, 0]
    if channel is not None:
        return data[:, channel]
    return data.mean(axis=1, dtype=np.float64).astype(np.float32)


def wav_shortfall(path: str | os.PathLike) -> tuple[int, int] | None:
    """(declared, present) bytes of a RIFF/WAVE file's data chunk when the file is shorter than its
    header says, else None (also for other formats).

    libsndfile quietly shortens the frame count of a cut-off WAV, so without this a file truncated
    after its header reads as a shorter, valid clip. The streaming placeholders 0 and 0xFFFFFFFF
    (writers that could not seek back) are not a declared size and are accepted.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                ident, length = struct.unpack("<4sI", f.read(8))
                if ident == b"data":
                    present = size - pos - 8
                    if length in (0, 0xFFFFFFFF) or length <= present:
                        return None
                    return length, present
                pos += 8 + length + (length & 1)  # chunks are word-aligned
    except OSError:
        return None  # soundfile read it; unreadable files are reported there
    return None


def _check(info: AudioInfo, where: str, expected_sr: int | None, min_samples: int | None) -> None:
    if info.frames == 0:
        raise InputError(where, "audio file is empty (0 samples)")
    need = min_samples_for(info.sample_rate, min_samples)
    if info.frames < need:
        raise InputError(where, f"audio too short: {info.frames} samples at {info.sample_rate} Hz, "
                                f"need >= {need} (the model's receptive field)")
    if expected_sr is not None and info.sample_rate != int(expected_sr):
        raise InputError(where, f"sampling rate is {info.sample_rate} Hz but {int(expected_sr)} Hz "
                                f"is expected from the file name/CSV")


def read_audio(path: str | os.PathLike, expected_sr: int | None = None,
               min_samples: int | None = None, context: str | None = None,
               start: int = 0, stop: int | None = None, channel: int | None = None) -> tuple[np.ndarray, int]:
    """Decode an audio file to a float32 1-D array in [-1, 1]; returns ``(samples, sample_rate)``.

    Several channels are mixed to mono (their mean), or ``channel`` (0-based) is taken alone.
    Raises InputError naming the file if it is missing, unreadable, empty or shorter
    than ``min_samples`` (default: the 25 ms receptive field at its own rate), has NaN/inf samples,
    or its rate differs from ``expected_sr``. ``start``/``stop`` read only a frame range (crops);
    the length check then applies to the whole file.
    """
    info = audio_info(path, expected_sr, min_samples, context, channel)
    where = _where(path, context)
    try:
        data, sr = sf.read(os.fsencode(path), dtype="float32", always_2d=True, start=start, stop=stop)
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        raise InputError(where, f"unreadable or corrupt audio data ({e})") from None
    data = to_mono(data, channel)
    if stop is None and start == 0 and len(data) != info.frames:
        raise InputError(where, f"header says {info.frames} samples but {len(data)} could be read "
                                "(truncated file?)")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise InputError(where, f"audio contains {bad} NaN/inf samples")
    return np.ascontiguousarray(data), int(sr)


def wav_index(*dirs: str | os.PathLike) -> dict[str, Path]:
    """Map file stem -> path for the ``*.wav`` files directly in ``dirs`` (first dir wins).

    One directory listing instead of one ``stat`` per utterance keeps corpus loading fast.
    """
    index: dict[str, Path] = {}
    for d in dirs:
        if d is None or not os.path.isdir(d):
            continue
        base = Path(d).resolve()
        with os.scandir(base) as it:
            for entry in it:
                name = entry.name
                if name.lower().endswith(".wav") and entry.is_file():
                    index.setdefault(name[:-4], base / name)
    return index
