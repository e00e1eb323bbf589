"""The MOS stage on the tiny synthetic corpus: it learns, every backbone variant trains through the same
code, pretrain -> finetune chaining, folds saved, and exact resume after kill -9."""
from __future__ import annotations

import json
import signal
import time

import pandas as pd
import pytest
import torch

from mos_fixtures import finetune_cfg, mos_world, run_stage_subprocess  # noqa: F401  (fixture)
from sfi_mos.errors import InputError
from sfi_mos.train.configs import DataSpec, MOSTrainConfig
from sfi_mos.train.mos_stage import run

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def sfi_run(mos_world, tmp_path_factory):
    """The reference fine-tune run (SFI backbone, fold 0 of 4); several tests read it."""
    run_dir = tmp_path_factory.mktemp("mos_runs") / "finetune" / "sfi"
    metrics = run(finetune_cfg(mos_world, max_epochs=4), run_dir)
    return run_dir, metrics


def test_tiny_model_learns(sfi_run):
    run_dir, m = sfi_run
    lcc = m["val"]["utt"]["LCC"]
    print(f"validation utterance LCC after {len(m['history'])} epochs: {lcc:.3f}; history {m['history']}")
    assert lcc > 0.3
    assert m["best_val_loss"] < m["history"][0]["val_loss"] or m["best_epoch"] == 0
    for name in ("config.json", "env.json", "listeners.json", "best.pt", "predictions.csv", "metrics.json",
                 "folds.csv", "done.json"):
        assert (run_dir / name).exists(), name
    preds = pd.read_csv(run_dir / "predictions.csv")
    assert list(preds.columns) == ["utt_id", "path", "sample_rate", "system_id", "split", "pred", "mos"]
    assert preds.pred.between(1, 5).all() and len(preds) == m["n_val_utts"]
    folds = pd.read_csv(run_dir / "folds.csv")
    assert set(preds.utt_id) == set(folds.utt_id[folds.fold == 0])
    assert sorted(folds.fold.unique()) == [0, 1, 2, 3]


@pytest.mark.parametrize("kind", ["resample", "resample_sr"])
def test_backbone_variants_train(mos_world, tmp_path, kind):
    m = run(finetune_cfg(mos_world, kind=kind, max_epochs=1, ckpt_every=0), tmp_path / kind)
    assert m["steps"] > 0 and m["best_epoch"] == 0
    preds = pd.read_csv(tmp_path / kind / "predictions.csv")
    assert preds.pred.between(1, 5).all() and preds.pred.std() > 0


def test_pretrain_then_finetune(mos_world, tmp_path):
    pre = MOSTrainConfig(stage="pretrain", backbone=finetune_cfg(mos_world).backbone,
                         data=DataSpec("bvcc", str(mos_world.bvcc)), max_epochs=1, batch_size=16, grad_accum=1,
                         lr=1e-3, max_seconds=1.0)
    m_pre = run(pre, tmp_path / "pretrain")
    assert not (tmp_path / "pretrain" / "folds.csv").exists()  # BVCC's own train/dev split
    assert set(pd.read_csv(tmp_path / "pretrain" / "predictions.csv").split) == {"dev"}
    m_ft = run(finetune_cfg(mos_world, init_run=str(tmp_path / "pretrain"), max_epochs=1, ckpt_every=0),
               tmp_path / "finetune")
    assert m_ft["init_run"] == str(tmp_path / "pretrain") and m_pre["steps"] > 0
    with pytest.raises(InputError, match="backbone"):  # a pretrain run of another backbone
        run(finetune_cfg(mos_world, kind="resample", init_run=str(tmp_path / "pretrain"), max_epochs=1),
            tmp_path / "mismatch")


def test_resume_after_kill_equals_uninterrupted(mos_world, sfi_run, tmp_path):
    ref_dir, ref = sfi_run
    cfg = finetune_cfg(mos_world, max_epochs=4)
    run_dir = tmp_path / "killed"
    log = tmp_path / "killed.log"
    proc = run_stage_subprocess(cfg, run_dir, log)
    last = run_dir / "ckpt" / "last.pt"

    def mid_epoch_state():
        try:
            st = torch.load(last, weights_only=False)["state"]
        except Exception:  # noqa: BLE001  (not there yet)
            return None
        return st if st["epoch"] >= 1 and st["batch"] > 0 else None  # mid-epoch, after a validation

    deadline = time.time() + 240
    state = None
    while time.time() < deadline and proc.poll() is None and state is None:
        if mid_epoch_state():
            proc.send_signal(signal.SIGSTOP)  # freeze, then confirm the checkpoint on disk is still mid-epoch
            state = mid_epoch_state()
            if state is None:
                proc.send_signal(signal.SIGCONT)
        time.sleep(0.02)
    assert state is not None and proc.poll() is None, log.read_text(errors="replace")[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "done.json").exists()
    resumed = run(cfg, run_dir)
    assert resumed["resumed_from"] == [{k: state[k] for k in ("epoch", "batch", "step")}]
    assert ref["resumed_from"] == []
    for key in ("best_epoch", "best_val_loss", "steps", "history", "val"):
        assert resumed[key] == ref[key], key
    a = pd.read_csv(ref_dir / "predictions.csv")
    b = pd.read_csv(run_dir / "predictions.csv")
    pd.testing.assert_frame_equal(a, b)
    assert json.loads((run_dir / "done.json").read_text())["best_epoch"] == ref["best_epoch"]


def test_step_cap_and_planned_steps(mos_world, sfi_run, tmp_path):
    """``max_steps`` ends training after that many optimiser steps (the epoch is validated as usual), and
    ``planned_steps`` counts exactly the steps a run takes, capped or not."""
    from sfi_mos.data import read_corpus
    from sfi_mos.train.mos_stage import planned_steps

    ratings = read_corpus("track3", mos_world.track3).ratings
    assert planned_steps(finetune_cfg(mos_world, max_epochs=4), ratings) == sfi_run[1]["steps"]
    cfg = finetune_cfg(mos_world, max_epochs=3, max_steps=2, ckpt_every=0)
    m = run(cfg, tmp_path / "capped")
    assert m["steps"] == 2 == planned_steps(cfg, ratings) and len(m["history"]) == 1
    assert (tmp_path / "capped" / "best.pt").exists()
    with pytest.raises(InputError, match="max_steps"):
        run(finetune_cfg(mos_world, max_steps=-1), tmp_path / "bad")
