"""``predict --model GRID_DIR --cell NAME``: the cell's fold ensemble found from the grid's predict runs;
the pipeline-demo warning; wrong --model kinds named for what they are; no library warnings."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from sfi_mos import rundir
from sfi_mos.data.synth import generate
from sfi_mos.mos.backbone import Backbone
from sfi_mos.mos.checkpoint import save_model
from sfi_mos.mos.model import MOSModel
from sfi_mos.predict.__main__ import main
from sfi_mos.ssl import load_teacher, write_tiny_checkpoints
from sfi_mos.train.configs import (BackboneSpec, DataSpec, DistillConfig, MOSTrainConfig, PredictConfig,
                                   TeacherSpec)

ROOT = Path(__file__).resolve().parents[1]
CELL = {"name": "authors-resample-hubert-s0", "label": "authors-resample-hubert", "seed": 0}


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """results/<grid> as run_all leaves it: a synthetic corpus, two fold runs from a random-init
    teacher, the predict run that names the cell, and a distill run."""
    torch.manual_seed(0)
    g = tmp_path_factory.mktemp("results") / "default"
    corpus = generate(g / "data" / "synth-tiny-s0", size="tiny", seed=0)
    ck = write_tiny_checkpoints(g / "teachers", "tiny", 0)
    teacher = TeacherSpec("hubert_local", str(Path(ck["hubert"]).relative_to(g)))
    data = DataSpec("track3", str((corpus / "track3").relative_to(g)))
    folds = []
    for f in range(2):
        d = rundir.start(g / "finetune" / f"f{f}", MOSTrainConfig(stage="finetune", fold=f, data=data,
                                                               backbone=BackboneSpec(kind="resample", teacher=teacher)))
        model = MOSModel(Backbone(load_teacher(TeacherSpec("hubert_local", str(ck["hubert"]))), "resample"), 3)
        save_model(d / "best.pt", model, train_listeners=[0, 1, 2], epoch=0)
        rundir.finish(d)
        folds.append(f"finetune/f{f}")
    rundir.start(g / "predict" / "p0", PredictConfig(runs=tuple(folds), data=data, cell=CELL))
    rundir.finish(rundir.start(g / "distill" / "d0", DistillConfig(teacher=teacher)))
    wavs = sorted((corpus / "track3" / "DATA" / "wav").glob("*.wav"))[:3]
    return g, wavs


def test_cell_uses_the_fold_ensemble_and_warns_it_is_a_demo(grid, tmp_path, capsys):
    g, wavs = grid
    by_cell, by_runs = tmp_path / "cell.csv", tmp_path / "runs.csv"
    assert main(["--model", str(g), "--cell", "authors-resample-hubert", *map(str, wavs), "--out", str(by_cell)]) == 0
    err = capsys.readouterr().err
    assert "cell authors-resample-hubert-s0: fold ensemble of 2 run(s)" in err
    warn = [x for x in err.splitlines() if x.startswith("warning: a pipeline demo, not a MOS predictor")]
    assert len(warn) == 1 and "synthetic corpus" in warn[0] and "random-init teachers" in warn[0]
    assert main(["--model", str(g / "finetune" / "f0"), str(g / "finetune" / "f1"), *map(str, wavs),
                 "--out", str(by_runs)]) == 0
    assert pd.read_csv(by_cell).equals(pd.read_csv(by_runs))  # the same two fold models
    assert main(["--model", str(g), "--cell", "authors-resample-hubert-s0", str(wavs[0]), "--out", str(by_cell)]) == 0


@pytest.mark.parametrize("model, cell, says", [
    ("distill/d0", None, "is a distill run (an SFI student distilled from a teacher: no MOS head). --model wants"),
    ("predict/p0", None, "is a predict run (the predictions of one cell's fold models on its corpus). --model "
                         "wants finished pretrain/finetune run dir(s)"),
    ("predict/p0", None, "--cell authors-resample-hubert"),
    (".", None, "is a grid's results dir: add --cell NAME"),
    (".", "suite-hubert", "no cell 'suite-hubert'; cells with a predict run: authors-resample-hubert"),
    ("finetune/f0", "authors-resample-hubert", "with --cell, --model names a grid's results dir"),
])
def test_wrong_model_kinds_are_named(grid, tmp_path, capsys, model, cell, says):
    g, wavs = grid
    argv = ["--model", str(g / model), *(["--cell", cell] if cell else []), str(wavs[0]), "--out",
            str(tmp_path / "p.csv")]
    assert main(argv) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


def test_a_normal_run_prints_no_library_warnings(grid, tmp_path):
    g, wavs = grid
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default"}
    r = subprocess.run([sys.executable, "-m", "sfi_mos.predict", "--model", str(g), "--cell", "authors-resample-hubert",
                        str(wavs[0]), "--out", str(tmp_path / "p.csv")], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith("predict")]  # tqdm's bar
    assert [x.split(":")[0] for x in lines] == ["cell authors-resample-hubert-s0", "warning", "found 1 inputs",
                                                "wrote 1 predictions to " + str(tmp_path / "p.csv")], r.stderr
