"""Prediction from trained runs: batch-size invariance, determinism, unseen rates (22.05/44.1 kHz),
the CLI (files, dirs, list files, errors file + exit code), and the predict/score stages."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import torchaudio

from mos_fixtures import REPO, finetune_cfg, mos_world  # noqa: F401  (fixture)
from sfi_mos.errors import InputError
from sfi_mos.predict import Predictor
from sfi_mos.train.configs import DataSpec, PredictConfig, ScoreConfig

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def runs(mos_world, tmp_path_factory):
    """Two one-epoch fold models (folds 0 and 1), as a k-fold ensemble."""
    from sfi_mos.train.mos_stage import run

    root = tmp_path_factory.mktemp("predict_runs")
    dirs = []
    for fold in (0, 1):
        run(finetune_cfg(mos_world, fold=fold, max_epochs=1, ckpt_every=0), root / f"fold{fold}")
        dirs.append(root / f"fold{fold}")
    return dirs


@pytest.fixture(scope="module")
def clips(mos_world, tmp_path_factory):
    """Ten corpus clips of mixed rates and lengths, plus copies resampled to 22.05 and 44.1 kHz."""
    from sfi_mos.data import read_corpus

    utts = read_corpus("track3", mos_world.track3).utterances.drop_duplicates("utt_id")
    utts = utts.sort_values("utt_id").groupby("sample_rate").head(4)
    out = tmp_path_factory.mktemp("clips")
    paths = [str(p) for p in utts.wav_path]
    for p in list(paths[:3]):
        wav, sr = sf.read(p, dtype="float32")
        for new in (22050, 44100):
            y = torchaudio.functional.resample(torch.from_numpy(wav), sr, new).numpy()
            q = out / f"{new}_{len(paths)}.wav"
            sf.write(q, y, new)
            paths.append(str(q))
    return paths


def test_batch_size_invariance_and_rates(runs, clips):
    pred = Predictor.from_runs(*runs)
    p1 = pred.predict(clips, batch_size=1)
    p8 = pred.predict(clips, batch_size=8)
    assert np.isfinite(p1).all() and ((p1 > 1) & (p1 < 5)).all()
    np.testing.assert_allclose(p1, p8, atol=1e-5, rtol=0)
    rates = {sf.info(c).samplerate for c in clips}
    assert {22050, 44100} <= rates and len(rates) >= 4
    # same model, same input -> identical numbers, also through a freshly loaded predictor
    np.testing.assert_array_equal(p8, Predictor.from_runs(*runs).predict(clips, batch_size=8))


def test_array_api_and_ensemble_average(runs, clips):
    wav, sr = sf.read(clips[0], dtype="float32")
    both = Predictor.from_runs(runs).predict([wav], sample_rate=sr)[0]
    singles = [Predictor.from_runs(r).predict(wav, sample_rate=sr)[0] for r in runs]
    assert both == pytest.approx(np.mean(singles), abs=1e-6)  # the head map 3 + 2y is linear
    with pytest.raises(InputError, match="sampling rate"):
        Predictor.from_runs(runs[0]).predict([wav], sample_rate=4000)
    with pytest.raises(InputError, match="receptive field"):
        Predictor.from_runs(runs[0]).predict([wav[:100]], sample_rate=sr)
    with pytest.raises(InputError, match="1-D"):
        Predictor.from_runs(runs[0]).predict([np.stack([wav, wav])], sample_rate=sr)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "sfi_mos.predict", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_cli_bad_file_reported_others_predicted(runs, clips, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wav")
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(50, dtype=np.float32), 16000)
    missing = tmp_path / "missing.wav"
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.zeros((16000, 2), dtype=np.float32), 16000)
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(clips[3:6] + [str(missing)]) + "\n")
    out = tmp_path / "preds.csv"
    res = _cli("--model", *runs, clips[0], clips[1], bad, stereo, short, listing, "--out", out, "--batch-size", 3)
    assert res.returncode == 1, res.stderr
    df = pd.read_csv(out)
    assert list(df.columns) == ["utt_id", "path", "sample_rate", "pred"]
    assert df.path.tolist() == [clips[0], clips[1], str(stereo)] + clips[3:6]  # stereo: mixed to mono
    errors = pd.read_csv(tmp_path / "preds.errors.csv")
    assert set(errors.path) == {str(bad), str(missing), str(short)}
    assert "broken.wav" in res.stderr
    # the same files through the API agree with the CLI
    api = Predictor.from_runs(*runs).predict(df.path.tolist())
    np.testing.assert_allclose(df.pred.to_numpy(), api, atol=1e-6)


def test_cli_directory_input_success(runs, clips, tmp_path):
    d = tmp_path / "audio"
    d.mkdir()
    for c in clips[:2]:
        (d / f"x_{len(list(d.iterdir()))}.wav").write_bytes(open(c, "rb").read())
    out = tmp_path / "dir.csv"
    (tmp_path / "dir.errors.csv").write_text("stale\n")
    res = _cli("--model", runs[0], d, "--out", out)
    assert res.returncode == 0, res.stderr
    assert len(pd.read_csv(out)) == 2 and not (tmp_path / "dir.errors.csv").exists()


def test_predict_and_score_stages(mos_world, runs, tmp_path):
    from sfi_mos.train import predict_stage, score_stage

    data = DataSpec("track3", str(mos_world.track3))
    predict_stage.run(PredictConfig(runs=tuple(map(str, runs)), data=data, batch_size=4), tmp_path / "predict")
    preds = pd.read_csv(tmp_path / "predict" / "predictions.csv")
    assert list(preds.columns) == ["utt_id", "path", "sample_rate", "system_id", "split", "pred", "mos"]
    assert set(preds.split) <= {"dev", "eval"} and preds.mos.notna().all()
    res = score_stage.run(ScoreConfig(predict_run=str(tmp_path / "predict"), data=data, bootstrap=50),
                          tmp_path / "score")
    on_disk = json.loads((tmp_path / "score" / "metrics.json").read_text())
    for split in set(preds.split):
        assert set(on_disk[split]["utt"]) >= {"MSE", "LCC", "SRCC", "KTAU", "ci"}
        assert on_disk[split]["per_rate"]
    assert (tmp_path / "score" / "done.json").exists() and set(res) == set(preds.split)


def test_run_dir_is_self_contained(runs, clips, tmp_path, monkeypatch):
    """best.pt carries the backbone architecture: a copied run dir predicts without the distill run."""
    import shutil

    import sfi_mos.mos.checkpoint as ckpt

    copy = tmp_path / "copied_run"
    shutil.copytree(runs[0], copy)
    expected = Predictor.from_runs(runs[0]).predict(clips[:3])

    def unreachable(*a, **k):
        raise AssertionError("the backbone source should not be needed")

    monkeypatch.setattr(ckpt, "build_backbone", unreachable)
    np.testing.assert_array_equal(Predictor.from_runs(copy).predict(clips[:3]), expected)
