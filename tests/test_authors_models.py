"""The authors' released formats: HF backbone folders and Lightning MOS checkpoints (read, predict, export).

Fixtures are tiny models built with ``transformers`` and written in the real file formats
(``authors_fixtures``); the reference numbers come from the HF models themselves and the head's
formula, never from our code."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import transformers

from authors_fixtures import (TINY, authors_ckpt, authors_forward, head_tensors, save_hf, sfi_hubert,
                              tiny_hf)
from sfi_mos.errors import InputError
from sfi_mos.mos import authors_format as AF
from sfi_mos.predict.__main__ import main as predict_main
from sfi_mos.ssl import hf_format as H

RATES = (16000, 24000, 48000)


@pytest.fixture(scope="module", autouse=True)
def _threads():
    torch.set_num_threads(1)


def clips(root: Path, rates=RATES, per_rate: int = 3) -> list[tuple[Path, int]]:
    rng = np.random.default_rng(0)
    out = []
    for sr in rates:
        for i in range(per_rate):
            n = int(sr * (0.3 + 0.25 * i))
            t = np.arange(n) / sr
            wav = 0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) + 0.05 * rng.standard_normal(n)
            path = root / f"clip_{sr}_{i}.wav"
            sf.write(path, wav.astype(np.float32), sr, subtype="FLOAT")
            out.append((path, sr))
    return out


@pytest.mark.parametrize("kind", ["hubert", "wav2vec2", "wavlm"])
def test_hf_dir_maps_onto_our_backbone_and_back(tmp_path, kind):
    hf = tiny_hf(kind, seed=3)
    d = save_hf(hf, tmp_path / "in")
    model = H.read_dir(d)
    net, report = H.to_model(model)
    net.eval()
    assert not report["unused"]  # every tensor of the file went into a parameter
    assert all(k.startswith(("final_proj", "label_embs", "project_q")) for k in report["not_in_file"])
    x = torch.randn(2, 7000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = net(x[:1])[0][-1]
        ref = hf(x[:1]).last_hidden_state
    assert torch.allclose(ours, ref, atol=2e-5), (ours - ref).abs().max()
    # ours -> theirs: transformers reads what we write, tensor for tensor
    H.write_dir(net, tmp_path / "out")
    back = CLASSES_FROM_PRETRAINED[kind].from_pretrained(tmp_path / "out").eval()
    theirs = hf.state_dict()
    assert set(back.state_dict()) == set(theirs)
    for k, v in back.state_dict().items():
        assert torch.equal(v, theirs[k]), k


CLASSES_FROM_PRETRAINED = {"hubert": transformers.HubertModel, "wav2vec2": transformers.Wav2Vec2Model,
                           "wavlm": transformers.WavLMModel}


def test_sfi_dir_has_the_printed_layout_and_matches_the_reference_layer(tmp_path):
    hf = sfi_hubert(seed=5)
    d = save_hf(hf, tmp_path / "sfi")
    model = H.read_dir(d)
    prefix = "feature_extractor.conv_layers.0.conv.continuous_filters."
    assert {k[len(prefix):] for k in model.state if k.startswith(prefix)} == {
        "RFF_param", "max_ang_freq", *(f"implicit_filter.{i}.{p}" for i in (0, 1, 3, 4, 6) for p in ("weight", "bias"))}
    net, report = H.to_model(model)
    net.eval()
    assert list(report["unused"]) == [prefix + "max_ang_freq"]
    assert net.sfi.stride_policy == "reference" and net.sfi.analog.norm == "query" and net.sfi.analog.lowpass == "eval"
    assert net.sfi.analog.max_freq_hz == pytest.approx(24000.0)
    for sr in RATES:
        x = torch.randn(1, int(0.4 * sr), generator=torch.Generator().manual_seed(sr))
        hf.set_sample_rate(sr)
        net.set_sample_rate(sr)
        with torch.no_grad():
            ref = hf(x).last_hidden_state
            ours = net(x)[0][-1]
        assert ours.shape == ref.shape
        assert torch.allclose(ours, ref, atol=2e-5), (sr, (ours - ref).abs().max())


VARIANTS = {"hubert": ("hubert", False, False), "wavlm_sr": ("wavlm", False, True), "sfi": ("sfi", True, False)}


def _variant(tmp_path: Path, name: str):
    kind, sfi, cond = VARIANTS[name]
    hf = sfi_hubert(seed=7) if sfi else tiny_hf(kind, seed=7)
    ssl = save_hf(hf, tmp_path / f"{name}_ssl")
    head = head_tensors(TINY["hidden_size"], cond, seed=2)
    ckpt = authors_ckpt(tmp_path / f"{name}.ckpt", hf, cond, "Wataru/sfi_hubert_distill_ears" if sfi
                        else "facebook/hubert-base-ls960", head)
    return hf, ssl, head, ckpt, sfi, cond


@pytest.mark.parametrize("name", list(VARIANTS))
def test_predictions_match_the_authors_forward(tmp_path, name, capsys):
    hf, ssl, head, ckpt, sfi, cond = _variant(tmp_path, name)
    files = clips(tmp_path)
    expect = {p.stem: authors_forward(hf, head, sf.read(p, dtype="float32")[0], sr, range(1, 11), sfi, cond)
              for p, sr in files}
    preds = {}
    for bs in (1, 8):
        out = tmp_path / f"preds_{bs}.csv"
        rc = predict_main(["--model", f"authors:{ckpt}", "--ssl", str(ssl), *map(str, (p for p, _ in files)),
                           "--out", str(out), "--batch-size", str(bs), "--device", "cpu"])
        assert rc == 0, capsys.readouterr().err
        preds[bs] = pd.read_csv(out).set_index("utt_id")
        assert list(preds[bs].columns) == ["path", "sample_rate", "pred"]
    got = preds[1]["pred"]
    err = max(abs(got[k] - v) for k, v in expect.items())
    assert err <= 1e-5, err
    assert np.abs(preds[8]["pred"].reindex(got.index) - got).max() <= 1e-6
    # another listener set is another average
    out = tmp_path / "preds_l.csv"
    assert predict_main(["--model", f"authors:{ckpt}", "--ssl", str(ssl), str(files[0][0]), "--out", str(out),
                         "--listeners", "0,5-6", "--device", "cpu"]) == 0
    p, sr = files[0]
    alt = authors_forward(hf, head, sf.read(p, dtype="float32")[0], sr, [0, 5, 6], sfi, cond)
    assert abs(pd.read_csv(out)["pred"][0] - alt) <= 1e-5


def _fails(capsys, args) -> str:
    rc = predict_main(args)
    assert rc == 2
    return capsys.readouterr().err


def test_named_errors(tmp_path, capsys):
    hf, ssl, head, ckpt, _, _ = _variant(tmp_path, "wavlm_sr")
    wav = clips(tmp_path, rates=(16000,), per_rate=1)[0][0]
    base = torch.load(ckpt, weights_only=True)

    def variant(name, edit):
        blob = {**base, "state_dict": dict(base["state_dict"])}
        edit(blob["state_dict"])
        torch.save(blob, tmp_path / name)
        return f"authors:{tmp_path / name}"

    def run(model, ssl_dir=ssl):
        return _fails(capsys, ["--model", model, "--ssl", str(ssl_dir), str(wav), "--out", str(tmp_path / "o.csv")])

    key = "ssl_model.encoder.layers.1.feed_forward.output_dense.weight"
    assert f"missing tensor {key[len('ssl_model.'):]!r}" in run(variant("missing.ckpt", lambda s: s.pop(key)))
    assert "unexpected tensor 'extra_head.weight'" in run(
        variant("extra.ckpt", lambda s: s.update({"extra_head.weight": torch.zeros(2)})))
    assert "unexpected tensor 'encoder.layers.9.layer_norm.bias'" in run(
        variant("extra_ssl.ckpt", lambda s: s.update({"ssl_model.encoder.layers.9.layer_norm.bias": torch.zeros(32)})))
    msg = run(variant("shape.ckpt", lambda s: s.update({"pred_liner.0.weight": torch.zeros(32, 31)})))
    assert "'pred_liner.0.weight' has shape (32, 31)" in msg and "shape.ckpt" in msg
    # the Base architecture a known hub id implies does not fit these tiny tensors: named, with the shapes
    assert "needs (768," in _fails(capsys, ["--model", f"authors:{ckpt}", str(wav), "--out", str(tmp_path / "o.csv")])
    # truncated
    data = ckpt.read_bytes()
    (tmp_path / "trunc.ckpt").write_bytes(data[: len(data) // 2])
    assert "corrupt or truncated" in run(f"authors:{tmp_path / 'trunc.ckpt'}")
    # a pickle that would run code is refused before anything runs
    marker = tmp_path / "pwned"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "x": _Evil(str(marker))}, tmp_path / "evil.ckpt")
    assert "refused" in run(f"authors:{tmp_path / 'evil.ckpt'}")
    assert not marker.exists()
    # a folder with no config.json
    (tmp_path / "empty").mkdir()
    assert "no config.json" in run(f"authors:{ckpt}", tmp_path / "empty")
    # a truncated safetensors file in a backbone folder
    bad = tmp_path / "bad_ssl"
    bad.mkdir()
    (bad / "config.json").write_text((ssl / "config.json").read_text())
    st = (ssl / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(st[: len(st) // 3])
    with pytest.raises(InputError, match="corrupt or truncated safetensors"):
        H.read_dir(bad)
    # an SR-conditioned model refuses rates outside 16/24/48 kHz, by name, file by file
    odd = tmp_path / "odd.wav"
    sf.write(odd, np.zeros(22050, dtype=np.float32) + 0.01, 22050)
    rc = predict_main(["--model", f"authors:{ckpt}", "--ssl", str(ssl), str(odd), str(wav),
                       "--out", str(tmp_path / "r.csv")])
    assert rc == 1
    err = capsys.readouterr().err
    assert "22050 Hz is not supported" in err and "16000, 24000, 48000" in err
    assert len(pd.read_csv(tmp_path / "r.csv")) == 1


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_pretrained_model_path_is_never_opened(tmp_path, monkeypatch):
    _, ssl, _, ckpt, _, _ = _variant(tmp_path, "hubert")
    opened = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: (opened.append(str(f)), real(f, *a, **k))[1])
    model = AF.load_authors(ckpt, ssl)
    assert opened == [str(ckpt)]
    assert "pretrained_model_path" in model.info["ignored"]


@pytest.mark.parametrize("name", ["sfi", "wavlm_sr"])
def test_round_trip_ours_theirs_ours(tmp_path, name):
    _, ssl, _, ckpt, _, _ = _variant(tmp_path, name)
    ours = AF.load_authors(ckpt, ssl).model
    with torch.no_grad():  # a model of ours with fewer listeners than their 1000-row table
        ours.head.listener = torch.nn.Embedding.from_pretrained(torch.randn(40, TINY["hidden_size"]), freeze=False)
    out = AF.export_lightning(ours, tmp_path / "export" / "model.ckpt", train_listeners=range(40))
    back = AF.load_authors(out).model  # no --ssl: ssl_model_path names the written folder
    a, b = ours.state_dict(), back.state_dict()
    assert set(a) == set(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # what the authors' class loads: the HF model from ssl_model_path, then the state dict strictly
    blob = torch.load(out, weights_only=True)
    assert {"state_dict", "hyper_parameters", "pytorch-lightning_version", "epoch", "global_step"} <= set(blob)
    hp = blob["hyper_parameters"]
    assert set(hp) == {"ssl_model_path", "pretrained_model_path", "processor_path", "condition_sr"}
    assert blob["state_dict"]["listenr_embedding.weight"].shape == (1000, TINY["hidden_size"])
    if name == "wavlm_sr":
        hf = transformers.AutoModel.from_pretrained(hp["ssl_model_path"])
        proc = transformers.AutoProcessor.from_pretrained(hp["processor_path"])  # what ssl_mos.py l.40 calls
        assert proc.do_normalize
        ssl_keys = {k[len("ssl_model."):] for k in blob["state_dict"] if k.startswith("ssl_model.")}
        assert ssl_keys == set(hf.state_dict())
        assert set(blob["state_dict"]) - {f"ssl_model.{k}" for k in ssl_keys} == {
            "pred_liner.0.weight", "pred_liner.0.bias", "pred_liner.2.weight", "pred_liner.2.bias",
            "listenr_embedding.weight", "sr_embedding.weight"}


def test_base_config_is_the_hf_default():
    for kind, cls in (("hubert", transformers.HubertConfig), ("wav2vec2", transformers.Wav2Vec2Config),
                      ("wavlm", transformers.WavLMConfig)):
        cfg = cls().to_dict()
        for k, v in AF.BASE_CONFIG.items():
            assert cfg[k] == v, (kind, k)


def test_export_cli_round_trips_our_student_and_mos_run(tmp_path):
    from sfi_mos.export import main as export_main
    from sfi_mos.mos.checkpoint import load_run, save_model
    from sfi_mos.mos.backbone import Backbone
    from sfi_mos.mos.model import MOSModel
    from sfi_mos.ssl import SFIStudent
    from sfi_mos.ssl.checkpoints import tiny_arch
    from sfi_mos.train.configs import SFISpec

    torch.manual_seed(0)
    student = SFIStudent(tiny_arch("hubert"), SFISpec())  # our own layer settings (phase geometry, fixed norm)
    student.save(tmp_path / "distill" / "student.pt")
    assert export_main(["--student", str(tmp_path / "distill"), "--out", str(tmp_path / "hf")]) == 0
    back, _ = H.to_model(H.read_dir(tmp_path / "hf"))
    assert back.sfi_spec == student.sfi_spec
    a, b = student.state_dict(), back.state_dict()
    heads = ("model.final_proj", "model.label_embs")  # pre-training heads: not in HF models, zeroed
    assert {k for k in a if not k.startswith(heads)} <= set(b)
    for k in a:
        if not k.startswith(heads):
            assert torch.equal(a[k], b[k]), k
    model = MOSModel(Backbone(back, "sfi"), 12)
    save_model(tmp_path / "ft" / "best.pt", model, train_listeners=list(range(12)), epoch=3)
    assert export_main(["--mos", str(tmp_path / "ft"), "--out", str(tmp_path / "exp" / "m.ckpt")]) == 0
    ours, _ = load_run(tmp_path / "ft")
    theirs = AF.load_authors(tmp_path / "exp" / "m.ckpt")
    assert theirs.info["train_listeners"] == list(range(12))
    x = [torch.randn(int(0.5 * 24000), generator=torch.Generator().manual_seed(3))]
    with torch.no_grad():
        assert torch.equal(ours.predict_norm(x, 24000, [1, 2]), theirs.predict_norm(x, 24000, [1, 2]))


def test_optional_tensors_are_defaulted_and_listed(tmp_path):
    # an SFI folder without the max_ang_freq buffer: the layer takes 24 kHz (the authors' recipe value)
    hf = sfi_hubert(seed=2)
    d = save_hf(hf, tmp_path / "sfi")
    from safetensors.torch import load_file, save_file

    st = load_file(d / "model.safetensors")
    st.pop("feature_extractor.conv_layers.0.conv.continuous_filters.max_ang_freq")
    save_file(st, d / "model.safetensors", metadata={"format": "pt"})
    net, report = H.to_model(H.read_dir(d))
    assert net.sfi.analog.max_freq_hz == 24000.0 and not report["unused"]
    # a model built with SpecAugment off has no masked_spec_embed: zeroed and listed, not an error
    cls, cfg_cls = transformers.HubertModel, transformers.HubertConfig
    plain = cls(cfg_cls(**TINY, mask_time_prob=0.0, mask_feature_prob=0.0))
    net, report = H.to_model(H.read_dir(save_hf(plain, tmp_path / "nomask")))
    assert "mask_emb" in report["not_in_file"] and not net.model.mask_emb.any()
