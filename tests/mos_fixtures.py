"""Shared fixtures of the MOS tests: the tiny synthetic corpus, tiny random-init SSL checkpoints, a
tiny SFI student saved like a distill run, and config builders. Everything is small and CPU-only."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from sfi_mos.config import to_dict
from sfi_mos.train.configs import BackboneSpec, DataSpec, MOSTrainConfig, SFISpec, TeacherSpec

REPO = Path(__file__).resolve().parents[1]
CROP_SECONDS = 1.5  # short training crops keep every epoch to a few seconds on 2 shared cores


@dataclass(frozen=True)
class World:
    root: Path
    track3: Path
    bvcc: Path
    teacher: TeacherSpec
    student_run: Path


def build_world(root: Path) -> World:
    from sfi_mos.data.synth import generate
    from sfi_mos.ssl import SFIStudent, load_teacher, write_tiny_checkpoints

    corpus = Path(generate(root / "corpus", size="tiny", seed=0))
    ckpts = write_tiny_checkpoints(root / "ckpt", size="tiny", seed=0)
    teacher = TeacherSpec("hubert_local", str(ckpts["hubert"]))
    # a distill run dir as the distill stage leaves it (only student.pt is read by the MOS stage);
    # the teacher-initialised, undistilled student is the paper's "no distillation" control
    student = SFIStudent.from_teacher(load_teacher(teacher), SFISpec(), init="teacher", fit_steps=20, seed=0)
    student_run = root / "distill" / "tiny"
    student.save(student_run / "student.pt")
    return World(root, corpus / "track3", corpus / "bvcc", teacher, student_run)


@pytest.fixture(scope="session")
def mos_world(tmp_path_factory) -> World:
    torch.set_num_threads(1)
    return build_world(tmp_path_factory.mktemp("mos_world"))


def backbone(world: World, kind: str = "sfi", features: str = "last") -> BackboneSpec:
    if kind == "sfi":
        return BackboneSpec(kind="sfi", student_run=str(world.student_run), features=features)
    return BackboneSpec(kind=kind, teacher=world.teacher, features=features)


def finetune_cfg(world: World, kind: str = "sfi", **kw) -> MOSTrainConfig:
    base = dict(stage="finetune", backbone=backbone(world, kind), data=DataSpec("track3", str(world.track3)),
                n_folds=4, fold=0, seed=0, max_epochs=3, batch_size=20, grad_accum=2, lr=1e-3,
                max_seconds=CROP_SECONDS, ckpt_every=1)
    base.update(kw)
    return MOSTrainConfig(**base)


def run_stage_subprocess(cfg: MOSTrainConfig, run_dir: Path, log: Path) -> subprocess.Popen:
    """Start the MOS stage in a child process (single thread, like the in-process tests).

    stderr (tqdm) goes to ``log``, not a pipe: a full pipe would stall the child."""
    code = ("import json, sys, torch; torch.set_num_threads(1)\n"
            "from sfi_mos.config import from_dict\n"
            "from sfi_mos.train.configs import MOSTrainConfig\n"
            "from sfi_mos.train.mos_stage import run\n"
            "run(from_dict(MOSTrainConfig, json.loads(sys.argv[1])), sys.argv[2])\n")
    with open(log, "wb") as err:
        return subprocess.Popen([sys.executable, "-c", code, json.dumps(to_dict(cfg)), str(run_dir)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=err)
