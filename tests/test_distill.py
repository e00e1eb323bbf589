"""The distillation stage: learning on synthetic audio, the no-distillation control, exact resume."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from sfi_mos import rundir
from sfi_mos.config import to_dict
from sfi_mos.errors import InputError
from sfi_mos.ssl import SFIStudent, load_teacher, write_tiny_checkpoints
from sfi_mos.train import distill
from sfi_mos.train.configs import DataSpec, DistillConfig, TeacherSpec
from ssl_fixtures import unlabelled_folder

torch.set_num_threads(1)  # 2 shared cores; also what the subprocess runs use (same numbers)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distill")
    ckpts = write_tiny_checkpoints(tmp / "ckpt", "tiny", seed=0)
    return tmp, ckpts, unlabelled_folder(tmp)


def config(ckpts, audio, **kw):
    base = dict(teacher=TeacherSpec("hubert_local", str(ckpts["hubert"])), data=DataSpec("folder", str(audio)),
                crop_seconds=0.8, batch_size=2, fit_steps=40, ckpt_every=4, seed=0)
    base.update(kw)
    return DistillConfig(**base)


def test_batch_plan_is_a_pure_function_of_seed_and_step():
    rates = (8000, 16000, 24000, 48000)
    plans = [distill.batch_plan(3, s, 5, 2, rates) for s in range(10)]
    assert plans == [distill.batch_plan(3, s, 5, 2, rates) for s in range(10)]
    assert plans != [distill.batch_plan(4, s, 5, 2, rates) for s in range(10)]
    files = [i for _, items in plans[:5] for i, _ in items]  # 10 draws = 2 epochs over 5 files
    assert sorted(files[:5]) == sorted(files[5:]) == list(range(5))
    assert {fs for fs, _ in plans} <= set(rates) and len({fs for fs, _ in plans}) > 1


def test_short_distillation_lowers_loss_and_raises_agreement(setup, capsys):
    tmp, ckpts, audio = setup
    # without training-time regularisation: with the authors' (HF dropout, LayerDrop, masking) 24 steps
    # of a tiny random model lower the held-out agreement (measured 0.984 -> 0.972 at 24 kHz)
    cfg = config(ckpts, audio, steps=24, rates=(24000, 48000), lr=1e-3, ssl_train="none")
    run_dir = tmp / "results" / "distill" / "learn"
    m = distill.run(cfg, run_dir)
    with capsys.disabled():
        print(f"\n[distill] fit error {m['fit_rel_error']:.4f}; cosine 24k {m['agreement_before']['24000']:.4f}"
              f" -> {m['agreement_after']['24000']:.4f}, 48k {m['agreement_before']['48000']:.4f}"
              f" -> {m['agreement_after']['48000']:.4f}; held-out loss 24k {m['heldout_loss_before']['24000']:.4f}"
              f" -> {m['heldout_loss_after']['24000']:.4f}, 48k {m['heldout_loss_before']['48000']:.4f}"
              f" -> {m['heldout_loss_after']['48000']:.4f}")
    for fs in ("24000", "48000"):
        assert m["agreement_after"][fs] > m["agreement_before"][fs]
        assert m["heldout_loss_after"][fs] < m["heldout_loss_before"][fs]
    log = pd.read_csv(run_dir / "log.csv")
    assert list(log.columns) == ["step", "sample_rate", "loss"] and log["step"].tolist() == list(range(24))
    assert set(log["sample_rate"]) == {24000, 48000}
    assert set(m["final_train_loss_per_rate"]) == {"24000", "48000"}
    assert 0 <= m["fit_rel_error"] < 0.2
    assert json.loads((run_dir / "config.json").read_text()) == to_dict(cfg)
    assert rundir.is_done(run_dir) and json.loads((run_dir / "metrics.json").read_text()) == m
    student = SFIStudent.load(run_dir / "student.pt")
    assert student.info["fit_rel_error"] == m["fit_rel_error"]
    assert distill.run(cfg, run_dir) == m  # a finished run is not redone


def test_zero_steps_is_the_untrained_no_distillation_control(setup):
    tmp, ckpts, audio = setup
    cfg = config(ckpts, audio, steps=distill.NO_DISTILL_STEPS)
    run_dir = tmp / "results" / "distill" / "control"
    m = distill.run(cfg, run_dir)
    assert m["control"] == "no_distillation" and m["agreement_before"] == m["agreement_after"]
    assert pd.read_csv(run_dir / "log.csv").empty
    saved = SFIStudent.load(run_dir / "student.pt")
    fresh = SFIStudent.from_teacher(load_teacher(cfg.teacher), cfg.sfi, "teacher", cfg.fit_steps, cfg.seed)
    a, b = saved.state_dict(), fresh.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the teacher-initialised student, untouched


def test_bad_config_is_an_input_error(setup):
    tmp, ckpts, audio = setup
    with pytest.raises(InputError, match="unlabelled folder"):
        distill.run(config(ckpts, audio, data=DataSpec("track3", str(audio))), tmp / "r" / "s" / "bad1")
    with pytest.raises(InputError, match="steps"):
        distill.run(config(ckpts, audio, steps=-1), tmp / "r" / "s" / "bad2")


RUNNER = """
import json, sys, torch
torch.set_num_threads(1)
from sfi_mos.config import from_dict
from sfi_mos.train import distill
from sfi_mos.train.configs import DistillConfig
distill.run(from_dict(DistillConfig, json.loads(sys.argv[1])), sys.argv[2])
"""


def _start(cfg, run_dir):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(to_dict(cfg)), str(run_dir)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_then_rerun_gives_the_uninterrupted_weights(setup):
    tmp, ckpts, audio = setup
    cfg = config(ckpts, audio, steps=40, ckpt_every=4, rates=(8000, 16000, 24000, 48000))
    straight, killed = tmp / "results" / "distill" / "straight", tmp / "results" / "distill" / "killed"
    ref = _start(cfg, straight)  # both at once: 2 cores
    victim = _start(cfg, killed)
    ckpt = killed / "ckpt" / "last.pt"
    deadline = time.time() + 240
    while not ckpt.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert ckpt.exists(), victim.stderr.read().decode()[-2000:]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert not rundir.is_done(killed)
    step_at_kill = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < step_at_kill < cfg.steps
    assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()[-2000:]
    again = _start(cfg, killed)
    assert again.wait(timeout=300) == 0, again.stderr.read().decode()[-2000:]
    a = torch.load(straight / "student.pt", weights_only=True)["state_dict"]
    b = torch.load(killed / "student.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log_a, log_b = pd.read_csv(straight / "log.csv"), pd.read_csv(killed / "log.csv")
    pd.testing.assert_frame_equal(log_a, log_b)
    assert json.loads((straight / "metrics.json").read_text()) == json.loads((killed / "metrics.json").read_text())


def test_batched_resampling_equals_per_clip():
    import numpy as np
    import torchaudio

    rng = np.random.default_rng(0)
    clips = [(rng.standard_normal(n).astype(np.float32), 48000) for n in (4800, 3001, 4000)]
    batch = distill.make_batch(clips, 22050, "cpu")
    for i, (x, sr) in enumerate(clips):
        for key, rate in (("s", 22050), ("t", 16000)):
            alone = torchaudio.functional.resample(torch.from_numpy(x), sr, rate)
            n = int(batch[f"{key}_len"][i])
            assert n == alone.shape[0]
            torch.testing.assert_close(batch[f"{key}_wavs"][i, :n], alone, atol=1e-5, rtol=1e-4)
