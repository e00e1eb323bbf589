"""Offline peers (DNSMOS, DistillMOS): each wrapper on one clip, the "not installed" path, the stage.

The wrapper tests need the ``peers`` extra (``pip install -e '.[peers]'``; ``bash quickstart.sh test``
installs it) and are skipped, with that reason, without it.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from sfi_mos import peers
from sfi_mos.data.synth.plan import rng_for
from sfi_mos.data.synth.texts import HARVARD
from sfi_mos.data.synth.voice import TIERS, make_speaker, render


def _clip(fs: int = 48000) -> np.ndarray:
    x = render(HARVARD[3], TIERS["natural"], make_speaker(rng_for(0, "spk")), fs, rng_for(0, "r"), 2.0)
    return (x * 0.05 / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def _need(name: str) -> None:
    if not peers.versions((name,))[0]:
        pytest.skip(f"{name}: the `peers` extra is not installed (pip install -e '.[peers]'; "
                    "bash quickstart.sh test installs it)")


@pytest.mark.parametrize("name", peers.NAMES)
def test_wrapper_scores_one_clip(name):
    _need(name)
    peer = peers.load(name)
    x = _clip()
    s48 = peer.scores(x, 48000)
    assert set(s48) == set(peer.score_names)
    assert all(np.isfinite(v) and 1.0 <= v <= 5.0 for v in s48.values()), s48
    assert peer.scores(x, 48000) == s48  # deterministic
    # a 16 kHz model: the 48 kHz clip is scored as its torchaudio 16 kHz resampling
    from sfi_mos.peers.base import to_rate

    assert peer.scores(to_rate(x, 48000), 16000) == pytest.approx(s48, abs=1e-6)


def test_not_installed_says_how_to_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "speechmos", None)  # import fails as if absent
    monkeypatch.setitem(sys.modules, "distillmos", None)
    for name in peers.NAMES:
        with pytest.raises(peers.NotInstalled, match=r"pip install -e '\.\[peers\]'"):
            peers.load(name)
    with pytest.raises(KeyError, match="unknown peer"):
        peers.load("pesq")


def test_peers_stage_reports_each_peer(tmp_path, monkeypatch):
    """Without the extra: every peer "not installed" and a finished run; with it: scores on both sets."""
    from sfi_mos.data.synth import generate
    from sfi_mos.train.configs import DataSpec, PeersConfig
    from sfi_mos.train.peers_stage import run

    corpus = generate(tmp_path / "c", size="tiny", seed=0)
    installed = [n for n in peers.NAMES if peers.versions((n,))[0]]
    # keep it short: only the 24 kHz probe twins of one group and the eval split of one system
    probe = corpus / "probe"
    pairs = pd.read_csv(probe / "pairs.csv")
    pairs[pairs.twin_id == "24k_twin01"].to_csv(probe / "pairs.csv", index=False)
    test = corpus / "track3" / "test" / "utt_mix_test.csv"
    labels = pd.read_csv(test)
    labels[labels.uttID.isin(sorted(set(labels.uttID))[:3])].to_csv(test, index=False)  # 3 labelled eval clips
    cfg = PeersConfig(data=DataSpec("track3", str(corpus / "track3")), probe=DataSpec("probe", str(probe)),
                      versions=peers.versions(), bootstrap=20)
    out = tmp_path / "g" / "peers" / "r"
    res = run(cfg, out)
    m = json.loads((out / "metrics.json").read_text())
    assert set(m) == set(peers.NAMES) and (out / "done.json").exists()
    for name in peers.NAMES:
        if name in installed:
            assert m[name]["status"] == "ok" and m[name]["scores"]
            for sc in m[name]["scores"].values():
                assert sc["probe"]["all"]["n_pairs"] == 12 and "eval" in sc["metrics"]
        else:
            assert m[name]["status"] == "not installed" and "pip install" in m[name]["reason"]
    preds = pd.read_csv(out / "predictions.csv")
    assert set(preds["peer"]) == {s for n in installed for s in res[n]["scores"]}


@pytest.mark.parametrize("seconds", [1.3, 3.6, 4.6, 9.5, 12.25])
def test_dnsmos_batched_windows_equal_the_package(seconds):
    """The wrapper scores all windows of a clip in one call per model: speechmos's own window-by-window
    loop to float32 rounding (onnxruntime may block a batch differently), for 1 to 5 windows."""
    _need("dnsmos")
    from sfi_mos.peers.base import to_rate
    from sfi_mos.peers.dnsmos import windows

    peer = peers.load("dnsmos")
    x = np.resize(_clip(), int(seconds * 48000))
    x16 = np.clip(to_rate(x, 48000), -1.0, 1.0).astype(np.float32)
    want = peer._model(x16, 16000, False)
    assert windows(x16) is not None
    got = peer.scores(x, 48000)
    assert got == pytest.approx({"DNSMOS-P808": float(want["p808_mos"]), "DNSMOS-OVRL": float(want["ovrl_mos"])},
                                rel=1e-6, abs=0)


def test_bench_peers_reports_cost_per_clip_and_the_dnsmos_windows(tmp_path, capsys):
    """``python -m sfi_mos.bench peers``: both peers' seconds per clip, and the windows that explain
    DNSMOS's cost (a 3.6 s clip is doubled to 14.4 s and scored in five 9.01 s windows). No timing asserted."""
    _need("dnsmos")
    _need("distillmos")
    from sfi_mos.bench.__main__ import main

    res = main(["peers", "--reps", "1", "--json", str(tmp_path / "b.json")])
    assert json.loads((tmp_path / "b.json").read_text()) == json.loads(json.dumps(res))
    assert set(res["per_clip_s"]) == set(peers.NAMES) and all(v > 0 for v in res["per_clip_s"].values())
    d = res["dnsmos"]
    assert d["windows_per_clip"] == 5 and d["audio_scored_s"] == pytest.approx(5 * 9.01)
    assert set(d["per_window_s"]) == {"p835", "p808", "mel"}
    assert "per_clip_s.dnsmos" in capsys.readouterr().out
