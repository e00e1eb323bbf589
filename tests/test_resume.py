"""No work lost to a time limit: each long stage (predict, score, probe, peers), killed half-way,
resumes from its saved items and writes exactly what an uninterrupted run writes.

The kill: ``sfi_mos.resume`` saves an item with ``write_text``; the test makes the (k+1)-th save raise
a ``BaseException`` (what a timeout's SystemExit or a Ctrl-C is), so k items are on disk and the
item being saved is lost, as with a real kill. The rerun must reuse exactly those k items.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from sfi_mos import peers, resume, rundir
from sfi_mos.data.synth import generate
from sfi_mos.mos.backbone import Backbone
from sfi_mos.mos.checkpoint import save_model
from sfi_mos.mos.model import MOSModel
from sfi_mos.ssl import load_teacher, write_tiny_checkpoints
from sfi_mos.train.configs import (DataSpec, PeersConfig, PredictConfig, ProbeConfig, ScoreConfig,
                                   TeacherSpec)


class Killed(BaseException):
    """Stands for the signal that ends a job (not an Exception: nothing may catch it)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny corpus and two saved fold models (random-init resampling backbone, finished runs)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("resume")
    corpus = generate(root / "corpus", size="tiny", seed=0)
    ck = write_tiny_checkpoints(root / "ckpt", "tiny", 0)
    folds = []
    for f in range(2):
        d = root / "grid" / "finetune" / f"f{f}"
        model = MOSModel(Backbone(load_teacher(TeacherSpec("hubert_local", str(ck["hubert"]))), "resample"), 3)
        save_model(d / "best.pt", model, train_listeners=[0, 1, 2], epoch=0)
        rundir.finish(d)
        folds.append(str(d))
    return corpus, tuple(folds)


def _interrupted(monkeypatch, run, cfg, out: Path, after: int) -> None:
    """Run the stage until its (after+1)-th item save, which 'kills' it."""
    real, n = resume.write_text, [0]

    def dying(path, text):
        if n[0] == after:
            raise Killed
        n[0] += 1
        real(path, text)

    monkeypatch.setattr(resume, "write_text", dying)
    with pytest.raises(Killed):
        run(cfg, out)
    monkeypatch.setattr(resume, "write_text", real)
    assert not rundir.is_done(out) and len(list((out / resume.PARTIAL).rglob("*.json"))) == after


def _check_resume(monkeypatch, tmp_path, run, cfg, files: tuple[str, ...], after: int) -> dict:
    whole, part = tmp_path / "g" / "s" / "whole", tmp_path / "g" / "s" / "part"
    run(cfg, whole)
    _interrupted(monkeypatch, run, cfg, part, after)
    run(cfg, part)
    done = json.loads((part / rundir.DONE).read_text())
    total = json.loads((whole / rundir.DONE).read_text())["items_computed"]
    assert done["items_reused"] == after and done["items_computed"] == total - after > 0
    for f in files:  # the resumed outputs are the uninterrupted ones, byte for byte
        assert (part / f).read_bytes() == (whole / f).read_bytes(), f
    assert not (part / resume.PARTIAL).exists()  # cleaned up once done
    return done


def test_predict_resumes(world, tmp_path, monkeypatch):
    from sfi_mos.train.predict_stage import run

    corpus, folds = world
    cfg = PredictConfig(runs=folds, data=DataSpec("track3", str(corpus / "track3")), batch_size=4)
    _check_resume(monkeypatch, tmp_path, run, cfg, ("predictions.csv",), after=3)


def test_score_resumes(world, tmp_path, monkeypatch):
    from sfi_mos.train.predict_stage import run as predict
    from sfi_mos.train.score_stage import run

    corpus, folds = world
    data = DataSpec("track3", str(corpus / "track3"))
    pred = tmp_path / "g" / "predict" / "p"
    predict(PredictConfig(runs=folds, data=data, batch_size=8), pred)
    cfg = ScoreConfig(predict_run=str(pred), data=data, bootstrap=50)
    done = _check_resume(monkeypatch, tmp_path, run, cfg, ("metrics.json",), after=1)  # dev done, eval not
    assert set(done) >= {"dev", "eval"}


def test_probe_resumes(world, tmp_path, monkeypatch):
    from sfi_mos.train.probe_stage import run

    corpus, folds = world
    cfg = ProbeConfig(runs=folds, data=DataSpec("probe", str(corpus / "probe")), batch_size=8, bootstrap=50)
    # the second fold model's third batch: a kill inside the ensemble's outer loop
    n_batches = 1 + (len(pd.read_csv(corpus / "probe" / "pairs.csv")) * 2 - 1) // 8
    _check_resume(monkeypatch, tmp_path, run, cfg, ("pairs.csv", "metrics.json"), after=n_batches + 2)


def test_peers_resume(world, tmp_path, monkeypatch):
    from sfi_mos.train.peers_stage import run

    corpus, _ = world
    installed = tuple(n for n in peers.NAMES if peers.versions((n,))[0])
    assert installed, "the peers extra is part of the test install (pyproject [test,peers])"
    probe = tmp_path / "probe"
    probe.mkdir()
    pairs = pd.read_csv(corpus / "probe" / "pairs.csv")
    for col in ("clean_path", "degraded_path"):  # the pairs file names clips relative to its folder
        pairs[col] = [str((corpus / "probe" / p).resolve()) for p in pairs[col]]
    pairs[pairs.twin_id == pairs.twin_id.iloc[0]].head(3).to_csv(probe / "pairs.csv", index=False)
    cfg = PeersConfig(data=DataSpec("track3", str(corpus / "track3")), probe=DataSpec("probe", str(probe)),
                      peers=installed, versions=peers.versions(installed), splits=(), bootstrap=20)
    # 4 clips (1 clean + 3 degraded) per peer: killed in the middle of the second peer's twins
    _check_resume(monkeypatch, tmp_path, run, cfg, ("pairs.csv", "metrics.json"), after=len(installed) * 4 - 2)
