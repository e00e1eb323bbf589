"""Shared helpers for the ssl/distill tests."""
from __future__ import annotations

from pathlib import Path


def unlabelled_folder(tmp: Path) -> Path:
    """The synthetic corpus's unlabelled 48 kHz speech folder (the EARS stand-in for distillation)."""
    from sfi_mos.data.synth import generate

    root = Path(generate(Path(tmp) / "corpus", size="tiny", seed=0)) / "unlabelled"
    assert sorted(root.rglob("*.wav")), f"no wavs in {root}"
    return root
