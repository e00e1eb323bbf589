"""Tiny corpora in the Track 3 / BVCC / folder layouts, written with soundfile for reader tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

PREFIX = "audiomos-track3"


def write_wav(path: Path, sr: int, seconds: float = 0.1, channels: int = 1, seed: int = 0,
              subtype: str = "PCM_16") -> Path:
    """A short sine + noise clip."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.random.default_rng(seed).standard_normal(n)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), sr, subtype=subtype)
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def track3_name(tag: str, sys: int, utt: int, prefix: str = PREFIX) -> str:
    return f"{prefix}-{tag}_sys{sys}_utt{utt:02d}"


def make_track3(root: Path, n_sys: int = 2, n_utt: int = 2, n_lis: int = 3, n_eval: int = 2,
                post_eval: bool = True, eval_root: Path | None = None) -> dict:
    """Track 3 layout: rates 16k/24k/48k x ``n_sys`` systems x ``n_utt`` utts, ``n_lis`` listeners.

    Ratings are deterministic: (sys + utt + listener) % 5 + 1. Eval clips use utt numbers 50+.
    With ``eval_root`` the eval wavs and list go there (the challenge's separate eval package).
    Returns a dict describing what was written.
    """
    rates = {"16k": 16000, "24k": 24000, "48k": 48000}
    train, evals = [], []
    for tag, sr in rates.items():
        lines = ["uttID,lisID,rating"]
        for s in range(1, n_sys + 1):
            for u in range(1, n_utt + 1):
                name = track3_name(tag, s, u)
                write_wav(root / "DATA" / "wav" / f"{name}.wav", sr, seed=s * 100 + u)
                train.append(name)
                lines += [f"{name},L{k},{(s + u + k) % 5 + 1}" for k in range(n_lis)]
            for u in range(50, 50 + n_eval):
                name = track3_name(tag, s, u)
                base = eval_root if eval_root is not None else root
                write_wav(base / "DATA" / "wav" / f"{name}.wav", sr, seed=s * 100 + u)
                evals.append(name)
        write_lines(root / "DATA" / f"utt_{tag}.csv", lines)
    write_lines((eval_root or root) / "DATA" / "sets" / "eval_list.txt", evals)
    if post_eval:
        write_lines(root / "val" / "utt_mix_val.csv", ["uttID,lisID,rating"] + [
            f"{n},M{k},{(i + k) % 5 + 1}" for i, n in enumerate(train) for k in range(n_lis)])
        write_lines(root / "test" / "utt_mix_test.csv", ["uttID,lisID,rating"] + [
            f"{n}.wav,M{k},{(i + 2 * k) % 5 + 1}" for i, n in enumerate(evals) for k in range(n_lis)])
        systems = sorted({f"{PREFIX}-{t}_sys{s}" for t in rates for s in range(1, n_sys + 1)})
        write_lines(root / "val" / "sys_mix_val.csv", ["sysID,MOS"] + [f"{s},3.0" for s in systems])
        write_lines(root / "test" / "sys_mix_test.csv", ["sysID,MOS"] + [f"{s},2.5" for s in systems])
    return {"train": train, "eval": evals, "n_lis": n_lis, "rates": rates}


def bvcc_info(listener: str, age: str = "30-39", gender: str = "Female") -> str:
    return f"{{}}_{age}_{listener}_{gender}_Valid_1_No"


def make_bvcc(root: Path, n_sys: int = 3, n_utt: int = 2, n_lis: int = 3, sr: int = 16000) -> dict:
    """BVCC layout: train/dev/test sets over ``n_sys`` systems, ``n_lis`` listeners each."""
    sets = {"TRAINSET": [], "DEVSET": [], "TESTSET": []}
    utts = {}
    for s in range(n_sys):
        sys_id = f"sys{s:04x}a"
        for u in range(n_utt * 3):
            utt = f"{sys_id}-utt{u:05x}"
            write_wav(root / "DATA" / "wav" / f"{utt}.wav", sr, seed=s * 10 + u)
            name = list(sets)[u % 3]
            utts[utt] = name
            sets[name] += [f"{sys_id},{utt}.wav,{(s + u + k) % 5 + 1},X{k}_1,{bvcc_info(f'lis{k}')}"
                           for k in range(n_lis)]
    for name, lines in sets.items():
        write_lines(root / "DATA" / "sets" / name, lines)
    write_lines(root / "DATA" / "mydata_system.csv",
                ["system_ID,mean"] + [f"sys{s:04x}a,3.1" for s in range(n_sys)])
    return {"utts": utts, "n_lis": n_lis}
