"""Helpers for the grid/replication/slurm tests: fake-stage registry, corpora, run-dir readers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ablations.graph import Inputs
from ablations.grid import PAPER_UPSTREAMS
from sfi_mos.train.configs import DataSpec, TeacherSpec

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.fixture
def fake_stages(monkeypatch):
    """Route every stage (and data/teacher preparation) to tests/grid_fake_stages.py, also in job processes."""
    monkeypatch.setenv("SFI_MOS_REGISTRY", "grid_fake_stages")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("SFI_FAKE_STEPS", "3")
    monkeypatch.setenv("SFI_FAKE_SLEEP", "0.05")


def inputs(fp: str = "fp0") -> Inputs:
    return Inputs(DataSpec("track3", "/d/track3", fingerprint=fp), DataSpec("bvcc", "/d/bvcc", fingerprint=fp),
                  DataSpec("folder", "/d/unl", fingerprint=fp),
                  {t: TeacherSpec(u) for t, u in PAPER_UPSTREAMS.items()})


def real_data_dirs(tmp: Path) -> str:
    """Three tiny corpus folders for ``--data NAME=PATH`` (only listed and fingerprinted, never read)."""
    parts = []
    for name in ("track3", "bvcc", "unlabelled"):
        d = tmp / "corpora" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "list.csv").write_text(f"utt,mos\n{name},3\n")
        parts.append(f"{name}={d}")
    return ",".join(parts)


def run_all(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m replication.run_all`` in a subprocess (own process: locks, signals, concurrency)."""
    return subprocess.run([sys.executable, "-m", "replication.run_all", "--no-progress", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def done(grid_dir: Path) -> dict[str, dict]:
    """rel run dir -> done.json of every finished run."""
    return {f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text())
            for p in grid_dir.glob("*/*/done.json")}
