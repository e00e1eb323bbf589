"""One test per recipe factor (ablations.factors): the authors' and the suite's value each do what the
factor says, and the change touches nothing else. Config-level isolation (a factor changes only its own
config fields) is tests/test_grid.py::test_every_factor_changes_only_its_own_stage_configs; the SFI
layer's factors (geometry, NAF statistics and low-pass) are tests/test_sfi_reference.py; precision is
tests/test_precision.py."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sfi_mos.data import read_corpus
from sfi_mos.mos.backbone import PROCESSOR_EPS, build_backbone
from sfi_mos.mos.checkpoint import init_from_pretrain, save_model
from sfi_mos.mos.data import epoch_batches, group_ratings, make_batch
from sfi_mos.mos.model import MOSModel
from sfi_mos.ssl import SFIStudent, load_teacher, write_tiny_checkpoints
from sfi_mos.ssl import regularise
from sfi_mos.train import distill
from sfi_mos.train.configs import DataSpec, DistillConfig, TeacherSpec
from sfi_mos.train.mos_stage import batch_units

from mos_fixtures import backbone, finetune_cfg, mos_world  # noqa: F401  (session fixture)
from ssl_fixtures import unlabelled_folder


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    return write_tiny_checkpoints(tmp_path_factory.mktemp("factor_ckpts"), "tiny", seed=0)


def _items(world, listener_ids="shared"):
    corpus = read_corpus("track3", world.track3, qualify_listeners=listener_ids == "per_test")
    return group_ratings(corpus.ratings[corpus.ratings.split == "train"])


# --- batching -------------------------------------------------------------------------------------
def test_batching_rows_one_backbone_pass_per_rating_grouped_one_per_clip(mos_world):
    items = _items(mos_world)[:12]
    n_ratings = sum(len(u.ratings) for u in items)
    seen = {}
    for mode in ("rows", "grouped"):
        cfg = finetune_cfg(mos_world, batching=mode, batch_size=4)
        units = batch_units(cfg, items)
        passes, rows = 0, []
        for idx in epoch_batches(units, cfg.batch_size, 0, 0, by_ratings=True):
            b = make_batch(units, idx, "cpu")
            passes += len(b["wavs"])  # the backbone runs once per wav of a batch
            rows += [(units[int(u)].utt_id, int(lis), round(float(t), 6))
                     for u, lis, t in zip(np.array(idx)[b["utt_index"].numpy()], b["listener_ids"], b["targets"])]
            if mode == "rows":
                assert len(idx) <= cfg.batch_size
        seen[mode] = sorted(rows)
        assert passes == (n_ratings if mode == "rows" else len(items))
    assert seen["rows"] == seen["grouped"]  # the same rating rows per epoch, only batched differently


# --- pooling --------------------------------------------------------------------------------------
def test_pooling_all_frames_lets_padding_in_masked_keeps_it_out(mos_world):
    model = MOSModel(build_backbone(backbone(mos_world), None), 4).eval()
    g = torch.Generator().manual_seed(0)
    short, long = torch.randn(16000, generator=g), torch.randn(40000, generator=g)
    idx, lis = torch.tensor([0]), torch.tensor([1])
    with torch.no_grad():
        alone = model([short], 16000, idx, lis)
        masked = model([short, long], 16000, idx, lis)
        unmasked = model([short, long], 16000, idx, lis, unmasked=True)
        unmasked_alone = model([short], 16000, idx, lis, unmasked=True)
    assert torch.allclose(masked, alone, atol=1e-5)  # suite: batch mates cannot change a score
    assert torch.allclose(unmasked_alone, alone, atol=1e-6)  # without padding the two agree
    assert not torch.allclose(unmasked, alone, atol=1e-3)  # authors: the zero padding is signal


# --- SSL training-mode regularisation --------------------------------------------------------------
def test_ssl_train_hf_regularises_training_only_none_is_deterministic(ckpts):
    wav = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    for mode in ("hf", "none"):
        t = load_teacher(TeacherSpec("hubert_local", str(ckpts["hubert"]))).set_regularisation(mode)
        t.eval()
        with torch.no_grad():
            ev = t(wav)[0][-1]
            t.train()
            torch.manual_seed(1)
            a = t(wav)[0][-1]
            b = t(wav)[0][-1]
        if mode == "none":
            assert torch.allclose(a, ev, atol=1e-6) and torch.allclose(b, ev, atol=1e-6)
        else:
            assert not torch.allclose(a, b) and not torch.allclose(a, ev)
    reg = regularise.HF["hubert"]
    layer = t.model.encoder.layers[0]
    assert t.regularisation == regularise.NONE and layer.dropout1.p == 0.0
    t.set_regularisation("hf")
    assert (layer.dropout1.p, layer.dropout2.p, layer.self_attn.dropout_module.p) == (
        reg.hidden_dropout, reg.activation_dropout, reg.attention_dropout)


def test_layerdrop_skipped_layers_pass_their_input_on(ckpts):
    t = load_teacher(TeacherSpec("hubert_local", str(ckpts["hubert"]))).set_regularisation("none")
    t.regularisation = dataclasses.replace(regularise.NONE, layerdrop=1.0)  # every layer skipped
    t.train()
    with torch.no_grad():
        hidden, _ = t(torch.randn(1, 16000, generator=torch.Generator().manual_seed(0)))
    assert len(hidden) == t.num_layers  # a fixed number of hidden states, as in HF
    assert all(torch.allclose(h, hidden[0]) for h in hidden)


@pytest.mark.parametrize("name,first", [("wavlm", 1), ("hubert", 0), ("wav2vec2", 0)])
def test_layerdrop_per_layer_skip_rates_match_hf_per_model_class(ckpts, name, first):
    """HF's WavLMEncoder never skips layer 0 (``i > 0``, transformers models/wavlm/modeling_wavlm.py
    l.417); wav2vec2 and HuBERT may skip every layer. Skips are counted in real train-mode forwards:
    a skipped layer passes its input on unchanged (exactly), a layer that ran changes it."""
    t = load_teacher(TeacherSpec(f"{name}_local", str(ckpts[name]))).set_regularisation("hf")
    assert t.regularisation.layerdrop_first == first
    t.train()
    torch.manual_seed(0)
    np.random.seed(0)
    n, wav = 400, torch.randn(1, 800, generator=torch.Generator().manual_seed(0))
    skipped = np.zeros(t.num_layers - 1)  # the encoder's output is layer-normed: the last layer is not told
    with torch.no_grad():
        for _ in range(n):
            hidden, _ = t(wav)
            skipped += [torch.equal(hidden[i + 1], hidden[i]) for i in range(len(skipped))]
    rate, p = skipped / n, t.regularisation.layerdrop
    sd = (p * (1 - p) / n) ** 0.5
    for i, r in enumerate(rate):
        if i < first:
            assert r == 0, (i, rate)
        else:  # 5 binomial standard deviations: a wrong rate (0 or 2p) is far outside
            assert abs(r - p) < 5 * sd, (i, rate)


def test_time_mask_follows_hf_span_rule():
    reg = regularise.HF["wav2vec2"]  # p 0.05, spans of 10, at least 2
    np.random.seed(0)
    m = regularise.time_mask(torch.tensor([200, 15, 5]), 200, reg)
    assert m.shape == (3, 200)
    assert 10 <= int(m[0].sum()) <= 20  # two spans of 10 (they may overlap)
    assert 10 <= int(m[1].sum()) <= 15 and not m[1, 15:].any()  # still two spans, inside its 15 frames
    assert not m[2].any()  # too short for any span
    assert regularise.time_mask(torch.tensor([200]), 200, regularise.NONE) is None


# --- listener ids -----------------------------------------------------------------------------------
def test_listener_ids_shared_across_tests_or_per_test(mos_world):
    shared = {lid for u in _items(mos_world, "shared") for lid in u.listener_ids}
    per_test = {lid for u in _items(mos_world, "per_test") for lid in u.listener_ids}
    corpus = read_corpus("track3", mos_world.track3, qualify_listeners=False)
    rates = corpus.ratings[corpus.ratings.split == "train"].sample_rate.nunique()
    assert len(per_test) == rates * len(shared)  # the same lisIDs in each single-rate test


# --- fine-tune listener init ------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["index", "mean"])
def test_init_listeners(mos_world, tmp_path, how):
    torch.manual_seed(0)
    src = MOSModel(build_backbone(backbone(mos_world), None), 7)
    save_model(tmp_path / "pre" / "best.pt", src, train_listeners=[0, 2, 4], epoch=0)
    dst = MOSModel(build_backbone(backbone(mos_world), None), 5)
    before = {k: v.clone() for k, v in dst.state_dict().items()}
    init_from_pretrain(dst, tmp_path / "pre", how)
    rows = dst.head.listener.weight
    if how == "index":  # the whole table comes along, row k for listener k
        assert rows.shape[0] == 7 and torch.equal(rows, src.head.listener.weight)
    else:
        mean = src.head.listener.weight[[0, 2, 4]].mean(0)
        assert rows.shape[0] == 5 and torch.allclose(rows, mean.expand(5, -1))
    # the rest of the model is the pre-trained one either way
    for k, v in src.state_dict().items():
        if not k.startswith("head.listener"):
            assert torch.equal(dst.state_dict()[k], v), k
    assert before.keys() == dst.state_dict().keys()


# --- non-SFI input normalisation --------------------------------------------------------------------
def test_input_norm_utterance_makes_the_baseline_gain_invariant(mos_world):
    wav = torch.randn(16000, generator=torch.Generator().manual_seed(0)) * 0.1
    out = {}
    for norm in ("utterance", "upstream"):
        bb = build_backbone(backbone(mos_world, "resample"), None, norm).eval()
        with torch.no_grad():
            out[norm] = [bb([w], 16000)[0] for w in (wav, 7.0 * wav)]
        if norm == "utterance":
            assert bb.model.normalize and bb.model.norm_eps == PROCESSOR_EPS
            assert bb.model.arch["normalize"] is True  # a rebuilt model normalises too
    assert torch.allclose(out["utterance"][0], out["utterance"][1], atol=1e-4)
    assert not torch.allclose(out["upstream"][0], out["upstream"][1], atol=1e-3)


# --- SFI student class and the no-distillation control -----------------------------------------------
@pytest.mark.parametrize("nokd_init", ["encoder", "full"])
def test_student_and_nokd_init(ckpts, tmp_path, nokd_init):
    w2v2 = TeacherSpec("wav2vec2_local", str(ckpts["wav2vec2"]))
    hubert = TeacherSpec("hubert_local", str(ckpts["hubert"]))
    cfg = DistillConfig(teacher=w2v2, student=hubert, nokd_init=nokd_init, steps=0, fit_steps=5,
                        data=DataSpec("folder", str(unlabelled_folder(tmp_path))), crop_seconds=0.5)
    distill.run(cfg, tmp_path / "run")
    student = SFIStudent.load(tmp_path / "run" / "student.pt")
    teacher, base = load_teacher(w2v2).model.state_dict(), load_teacher(hubert).model.state_dict()
    own = student.model.state_dict()
    enc = [k for k in own if k.startswith("encoder.")]
    assert all(torch.equal(own[k], teacher[k]) for k in enc)  # the teacher's transformer either way
    conv = "feature_extractor.conv_layers.1.0.weight"
    if nokd_init == "encoder":  # the authors': one HuBERT-class student, only the encoder copied in
        assert student.arch["kind"] == "hubert" and torch.equal(own[conv], base[conv])
    else:  # the suite's: the teacher's own model, every weight copied
        assert student.arch["kind"] == "wav2vec2" and torch.equal(own[conv], teacher[conv])


def test_distilled_student_starts_from_the_student_upstream(ckpts, tmp_path):
    wavlm = TeacherSpec("wavlm_local", str(ckpts["wavlm"]))
    hubert = TeacherSpec("hubert_local", str(ckpts["hubert"]))
    data = DataSpec("folder", str(unlabelled_folder(tmp_path)))
    for student, kind in ((hubert, "hubert"), (None, "wavlm")):
        cfg = DistillConfig(teacher=wavlm, student=student, steps=1, batch_size=1, ckpt_every=1, fit_steps=5,
                            data=data, crop_seconds=0.5, rates=(16000,))
        d = tmp_path / kind
        distill.run(cfg, d)
        assert SFIStudent.load(d / "student.pt").arch["kind"] == kind
