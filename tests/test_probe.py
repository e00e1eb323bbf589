"""The high-band probe: twins identical below the edge, labels by construction, metrics against hand
computations, a resampling backbone blind to the twins, front-end energy shares, the probe stage."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torchaudio

from sfi_mos.data.synth import generate, twins
from sfi_mos.data.synth.plan import rng_for
from sfi_mos.data.synth.render import TARGET_RMS
from sfi_mos.data.synth.texts import HARVARD
from sfi_mos.data.synth.voice import TIERS, make_speaker, render
from sfi_mos.metrics.bootstrap import draw_counts, percentile_ci
from sfi_mos.probe import data as pdata
from sfi_mos.probe import frontend, metrics, score


def _speech(fs: int, seconds: float = 1.5) -> np.ndarray:
    x = render(HARVARD[7], TIERS["natural"], make_speaker(rng_for(0, "spk")), fs, rng_for(0, "r"), seconds)
    x = x[: twins.fast_length(len(x))]
    return x * TARGET_RMS / np.sqrt(np.mean(x ** 2))


def _to16k(x: np.ndarray, fs: int) -> np.ndarray:
    return torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(x)), fs, 16000).numpy()


def _energy(x: np.ndarray, fs: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fs)
    return float(spec[(f >= lo) & (f < hi)].sum())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("probe") / "tiny", size="tiny", seed=0)


@pytest.mark.parametrize("kind", sorted(twins.KINDS))
@pytest.mark.parametrize("fs", [24000, 48000])
def test_twins_identical_below_the_edge(kind, fs):
    x = _speech(fs)
    for s in twins.SEVERITIES:
        y, _ = twins.apply(kind, x, fs, s, np.random.default_rng(3))
        d = y - x
        # below the edge the twins are the same signal (an exact-length FFT split: float rounding only)
        assert _energy(d, fs, 0, twins.TWIN_EDGE_HZ) < 1e-12 * _energy(x, fs, 0, fs / 2), (kind, s)
        assert _energy(d, fs, twins.TWIN_EDGE_HZ, fs / 2) > 1e-4 * _energy(x, fs, twins.TWIN_EDGE_HZ, fs / 2)
        # what the resampling backbone sees: identical up to its resampler's leakage above the edge
        # (torchaudio's default filter is -45 dB at 10 kHz; the worst case is loud noise at 24 kHz)
        x16, y16 = _to16k(x, fs), _to16k(y, fs)
        assert 10 * np.log10(np.sum((y16 - x16) ** 2) / np.sum(x16 ** 2)) < -45, (kind, s)


def test_probe_folder_in_the_corpus(corpus):
    pairs = pd.read_csv(corpus / "probe" / "pairs.csv")
    man = pd.read_csv(corpus / "manifest.csv", keep_default_na=False)
    probe = man[man["corpus"] == "probe"]
    # every held-out sentence at 24 and 48 kHz, clean + 4 kinds x 3 severities
    assert len(probe) == 2 * 2 * (1 + len(twins.KINDS) * len(twins.SEVERITIES)) and len(pairs) == 2 * 2 * 12
    assert set(probe["split"]) == {"probe"} and set(probe["sample_rate"]) == {24000, 48000}
    assert set(probe["twin_role"]) == {"clean", "degraded"} and set(man.loc[man.corpus != "probe", "twin_role"]) == {""}
    deg = probe[probe["twin_role"] == "degraded"]
    assert set(deg["twin_kind"]) == set(twins.KINDS) and deg["hb_only"].astype(str).eq("True").all()
    # probe clips never reach the Track 3 layout (training, dev or eval lists)
    assert not list((corpus / "track3").rglob("*probe*"))
    eval_list = (corpus / "track3" / "DATA" / "sets" / "eval_list.txt").read_text()
    assert "twin" not in eval_list
    # labels by construction: lower by the documented function of severity
    for r in pairs.itertuples():
        clean = man[(man.utt_id == r.clean)].iloc[0]
        b = float(clean["effective_bandwidth_hz"])
        cap = twins.cutoff_hz(r.sample_rate, r.severity) if r.kind == "bandlimit" else None
        want = (twins.twin_mos(clean["prior"], None, 0, b, None, r.sample_rate)[1]
                - twins.twin_mos(clean["prior"], r.kind, r.severity, b, cap, r.sample_rate)[1])
        assert r.label_delta == pytest.approx(want, abs=2e-6) and r.label_delta > 0
    mono = pairs.sort_values("severity").groupby(["twin_id", "kind"])["label_delta"].apply(
        lambda v: bool(np.all(np.diff(v.to_numpy()) > 0)))
    assert mono.all()


def test_probe_twins_on_disk_are_identical_at_16k(corpus):
    probe = pdata.read_probe_folder(corpus / "probe")
    p = probe.pairs
    res = [score.resampled_residual_db(probe.clips[a][0], probe.clips[b][0], fs)
           for a, b, fs in zip(p.clean, p.degraded, p.sample_rate)]
    # measured on the 16-bit files: the PCM rounding (~ -75 dB here) and the resampler's leakage
    assert max(res) < -45


@pytest.fixture(scope="module")
def resample_run(corpus, tmp_path_factory):
    """A tiny resampling MOS model fine-tuned for 2 epochs on the tiny corpus (about 10 s)."""
    from sfi_mos.ssl import write_tiny_checkpoints
    from sfi_mos.train.configs import BackboneSpec, DataSpec, MOSTrainConfig, TeacherSpec
    from sfi_mos.train.mos_stage import run

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("resample")
    ck = write_tiny_checkpoints(root / "ckpt", "tiny", 0)
    cfg = MOSTrainConfig(stage="finetune", data=DataSpec("track3", str(corpus / "track3")), n_folds=4, fold=0,
                         backbone=BackboneSpec(kind="resample", teacher=TeacherSpec("hubert_local", str(ck["hubert"]))),
                         max_epochs=2, batch_size=20, grad_accum=1, lr=1e-3, max_seconds=1.0)
    run(cfg, root / "finetune")
    return root / "finetune"


def test_resampling_backbone_is_blind_to_the_twins(corpus, resample_run):
    """Validates the probe. The resampling backbone sees the twins through torchaudio's 16 kHz
    resampler, after which they differ only by its leakage above the edge (< -45 dB): a trained
    model then gives |delta| <= 0.01 MOS on every pair, while the same noise below the edge moves it.
    (A random-init model whose head is rescaled to spread clips over ~1 MOS is far more sensitive:
    up to 0.02 on the loudest 24 kHz noise twin; the bound is the residual times the model's gain.)"""
    from sfi_mos.data.synth.degrade import band_mask
    from sfi_mos.mos.checkpoint import load_run

    torch.set_num_threads(1)
    model, meta = load_run(resample_run)
    models = [(model, meta["train_listeners"])]
    probe = pdata.read_probe_folder(corpus / "probe")
    pairs = metrics.with_deltas(score.predict_pairs(models, probe))
    assert pairs["delta"].abs().max() <= 0.01, pairs.loc[pairs["delta"].abs().idxmax()].to_dict()
    assert pairs["feature_distance"].max() < 1e-4
    # control: the same white noise confined above 2 kHz instead of 10 kHz is heard
    moved = []
    for u in sorted(set(pairs["clean"])):
        x, fs = probe.clips[u]
        noise = band_mask(np.random.default_rng(0).standard_normal(len(x)), fs, 2000.0)[1]
        y = (x + noise * np.sqrt(np.mean(x ** 2)) * 0.5).astype(np.float32)
        p = score.ensemble(models, [x, y], [fs, fs])[0]
        moved.append(abs(p[0] - p[1]))
    assert max(moved) > 5 * pairs["delta"].abs().max() and max(moved) > 0.03


def _hand_pairs() -> pd.DataFrame:
    # three twin groups; deltas 0.5, -0.1 | 0.2 | 0.0 (a tie: not correct), 0.3
    return pd.DataFrame({
        "pair_id": list("pqrst"), "twin_id": ["g1", "g1", "g2", "g3", "g3"], "kind": list("ababa"),
        "severity": [1.0, 1.0, 0.5, 1.0, 0.5], "sample_rate": [48000, 48000, 24000, 24000, 24000],
        "pred_clean": [3.5, 3.0, 4.0, 2.0, 3.3], "pred_degraded": [3.0, 3.1, 3.8, 2.0, 3.0],
        "feature_distance": [0.1, 0.2, 0.3, 0.4, 0.5]})


def test_metrics_against_hand_computation():
    p = metrics.with_deltas(_hand_pairs())
    s = metrics.summarise(p, bootstrap=500, seed=7)
    a = s["all"]
    assert a["n_pairs"] == 5 and a["n_groups"] == 3
    assert a["delta"] == pytest.approx(0.9 / 5) and a["pair_accuracy"] == pytest.approx(3 / 5)
    assert a["feature_distance"] == pytest.approx(0.3)
    assert s["per_kind"]["a"]["delta"] == pytest.approx(1.0 / 3) and s["per_kind"]["a"]["pair_accuracy"] == 1.0
    assert s["per_kind"]["b"]["delta"] == pytest.approx(-0.05) and s["per_kind"]["b"]["pair_accuracy"] == 0.0
    assert s["per_rate"]["24000"]["delta"] == pytest.approx(0.5 / 3)
    assert s["per_kind_severity"]["a@0.5"]["delta"] == pytest.approx(0.25)
    # the CI: twin groups drawn with replacement, every pair of a drawn group counted, explicitly
    W = draw_counts(3, 500, 7, metrics._stream("all"))
    d = p["delta"].to_numpy()
    groups = {"g1": [0, 1], "g2": [2], "g3": [3, 4]}
    explicit = []
    for w in W:
        idx = [i for g, k in zip(sorted(groups), w) for _ in range(int(k)) for i in groups[g]]
        explicit.append(d[idx].mean())
    assert a["delta_ci"] == pytest.approx(percentile_ci(np.array(explicit)))
    assert a["delta_ci"][0] < a["delta"] < a["delta_ci"][1]
    # no draws: no interval
    assert np.isnan(metrics.summarise(p, bootstrap=0)["all"]["delta_ci"]).all()


def test_frontend_share_of_known_filters():
    from sfi_mos.sfi import SFIConv1d

    layer = SFIConv1d(1, 2, 10, 5, filter="mgf")
    with torch.no_grad():  # narrow Gaussians at 4 kHz and 16 kHz: shares ~0 and ~1
        layer.analog.center_hz.copy_(torch.tensor([4000.0, 16000.0]))
        layer.analog.log_sigma_hz.fill_(np.log(300.0))
    s = frontend.highband_shares(layer)
    assert s[0] < 1e-6 and s[1] > 1 - 1e-6
    back = SFIConv1d.from_export(layer.export())
    np.testing.assert_allclose(frontend.highband_shares(back), s)
    flat = SFIConv1d(1, 1, 10, 5, filter="mgf")
    with torch.no_grad():  # a very wide filter is flat over 0-24 kHz: 2/3 of the band is above 8 kHz
        flat.analog.center_hz.fill_(12000.0)
        flat.analog.log_sigma_hz.fill_(np.log(1e6))
    assert frontend.highband_shares(flat)[0] == pytest.approx(2 / 3, abs=0.01)


def test_probe_stage_end_to_end(corpus, tmp_path):
    """Probe stage on a saved SFI MOS model: pairs.csv, metrics.json and the front-end trajectory."""
    from sfi_mos.mos.backbone import Backbone
    from sfi_mos.mos.checkpoint import save_model
    from sfi_mos.mos.model import MOSModel
    from sfi_mos.ssl import SFIStudent, load_teacher, write_tiny_checkpoints
    from sfi_mos.train.configs import DataSpec, ProbeConfig, SFISpec, TeacherSpec
    from sfi_mos.train.probe_stage import run

    torch.set_num_threads(1)
    ck = write_tiny_checkpoints(tmp_path / "ckpt", "tiny", 0)
    teacher = load_teacher(TeacherSpec("hubert_local", str(ck["hubert"])))
    student = SFIStudent.from_teacher(teacher, SFISpec(n_freq=64, naf_features=16, naf_hidden=(32, 32)),
                                      fit_steps=5, seed=0)
    distill = tmp_path / "grid" / "distill" / "d0"
    distill.mkdir(parents=True)
    torch.save(student.sfi.export(), distill / "sfi_init.pt")
    student.save(distill / "student.pt")
    fold = tmp_path / "grid" / "finetune" / "f0"
    model = MOSModel(Backbone(student, "sfi"), 2)
    save_model(fold / "best.pt", model, train_listeners=[0, 1], epoch=0)
    out = tmp_path / "grid" / "probe" / "p0"
    cfg = ProbeConfig(runs=(str(fold),), data=DataSpec("probe", str(corpus / "probe")), student_run=str(distill),
                      bootstrap=50)
    res = run(cfg, out)
    pairs = pd.read_csv(out / "pairs.csv")
    assert len(pairs) == 48 and {"delta", "feature_distance", "resampled_residual_db", "label_delta"} <= set(pairs.columns)
    m = json.loads((out / "metrics.json").read_text())
    assert m == json.loads(json.dumps(res)) and set(m["probe"]["per_kind"]) == set(twins.KINDS)
    st = m["frontend"]["stages"]
    assert set(st) == {"init", "distilled", "finetuned"} and "pretrained" not in st
    assert st["init"]["mean"] == pytest.approx(st["distilled"]["mean"]) == pytest.approx(st["finetuned"]["mean"])
    assert 0 <= st["init"]["mean"] < 1 and (out / "done.json").exists()


def test_twins_made_from_a_track3_corpus(corpus, tmp_path):
    """Real data has no probe folder: the eval clips at >= 24 kHz become clean twins, seeded by name."""
    import shutil

    root = shutil.copytree(corpus / "track3", tmp_path / "track3")
    evl = [u for u in (root / "DATA" / "sets" / "eval_list.txt").read_text().split() if u.split("_")[0][-3:] != "16k"]
    keep = evl[:1] + [u for u in evl if "-48k_" in u][:1]
    (root / "DATA" / "sets" / "eval_list.txt").write_text("".join(f"{u}\n" for u in keep))
    shutil.rmtree(root / "test")  # eval labels are not needed: twins carry no labels on real data
    a, b = pdata.load("track3", root), pdata.load("track3", root)
    assert len(a.pairs) == 2 * len(twins.KINDS) * len(twins.SEVERITIES) and set(a.pairs.twin_id) == set(keep)
    assert all(np.array_equal(a.clips[u][0], b.clips[u][0]) for u in a.clips)  # deterministic
    res = [score.resampled_residual_db(a.clips[c][0], a.clips[d][0], fs)
           for c, d, fs in zip(a.pairs.clean, a.pairs.degraded, a.pairs.sample_rate)]
    assert max(res) < -40
