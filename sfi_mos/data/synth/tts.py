"""Debian TTS engines as optional speech sources (data_sources.md §1), used only with ``voices="auto"``.

Nothing here is required: ``available()`` lists the engine voices found on PATH (shutil.which) and
the corpus records which ones it used. Priors and bandwidths are the measured table of §1.2 / §5.2
(B_eff from a per-voice table, never from the file header: engines pad their rate).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class EngineVoice:
    name: str  # stable id recorded in the manifest, e.g. "flite_slt"
    argv: tuple[str, ...]  # command; "{out}" is replaced by the wav path, the text goes on stdin
    tool: str  # executable that must be on PATH
    bandwidth_hz: float  # 99.9 % roll-off measured in §1.2
    prior: float  # naturalness prior of §5.2
    needs_path: str | None = None  # voice data that must exist (festival voices)


_VOICES = (
    EngineVoice("espeak_m3", ("espeak-ng", "-v", "en-us+m3", "-w", "{out}", "--stdin"), "espeak-ng", 8400.0, 1.6),
    EngineVoice("espeak_f3", ("espeak-ng", "-v", "en-us+f3", "-w", "{out}", "--stdin"), "espeak-ng", 8400.0, 1.6),
    EngineVoice("flite_kal16", ("flite", "-voice", "kal16", "-f", "/dev/stdin", "-o", "{out}"), "flite", 6600.0, 2.2),
    EngineVoice("flite_slt", ("flite", "-voice", "slt", "-f", "/dev/stdin", "-o", "{out}"), "flite", 7000.0, 2.8),
    EngineVoice("flite_awb", ("flite", "-voice", "awb", "-f", "/dev/stdin", "-o", "{out}"), "flite", 7000.0, 2.8),
    EngineVoice("flite_rms", ("flite", "-voice", "rms", "-f", "/dev/stdin", "-o", "{out}"), "flite", 7000.0, 2.8),
    EngineVoice("fest_kal", ("text2wave", "-eval", "(voice_kal_diphone)", "-o", "{out}"), "text2wave", 6600.0, 2.2,
                "/usr/share/festival/voices/english/kal_diphone"),
    EngineVoice("fest_hts", ("text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-o", "{out}"), "text2wave",
                10300.0, 3.2, "/usr/share/festival/voices/us/cmu_us_slt_arctic_hts"),
)


def available() -> list[EngineVoice]:
    """Engine voices usable on this machine, in a fixed order."""
    return [v for v in _VOICES if shutil.which(v.tool) and (v.needs_path is None or os.path.isdir(v.needs_path))]


def synthesize(voice: EngineVoice, text: str, timeout: float = 60.0) -> tuple[np.ndarray, int]:
    """Run the engine; returns (float64 mono, native rate)."""
    with tempfile.TemporaryDirectory(prefix="sfi_tts_") as tmp:
        out = Path(tmp) / "out.wav"
        argv = [a.replace("{out}", str(out)) for a in voice.argv]
        proc = subprocess.run(argv, input=text.encode(), capture_output=True, timeout=timeout)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{voice.name}: {' '.join(argv)} failed ({proc.returncode}): "
                               f"{proc.stderr.decode(errors='replace')[-300:]}")
        x, fs = sf.read(out, dtype="float64", always_2d=True)
    return x.mean(axis=1), int(fs)
