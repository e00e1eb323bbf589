"""Teachers through s3prl (offline, tiny random-init checkpoints) and SFI students."""
import pytest
import torch

from sfi_mos.errors import InputError
from sfi_mos.ssl import SFIStudent, Teacher, load_teacher, write_tiny_checkpoints
from sfi_mos.ssl.encode import conv_out_lengths
from sfi_mos.train.configs import SFISpec, TeacherSpec

KINDS = ("wav2vec2", "hubert", "wavlm")
RATES = (8000, 16000, 22050, 24000, 44100, 48000)
FIT_STEPS = 60
torch.set_num_threads(1)  # 2 shared cores: threading only adds contention for tiny models


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    return write_tiny_checkpoints(tmp_path_factory.mktemp("ssl_ckpt"), "tiny", seed=0)


@pytest.fixture(scope="module")
def teachers(ckpts):
    return {k: load_teacher(TeacherSpec(f"{k}_local", str(p))) for k, p in ckpts.items() if k in KINDS}


@pytest.fixture(scope="module")
def students(teachers):
    out = {k: SFIStudent.from_teacher(t, SFISpec(), "teacher", fit_steps=FIT_STEPS, seed=0)
           for k, t in teachers.items()}
    for s in out.values():
        s.eval()
    return out


def frames16(n_samples):
    """Frame count of the 16 kHz conv stack (K=400, hop 320 overall)."""
    n = torch.as_tensor(n_samples)
    for k, s in [(10, 5)] + [(3, 2)] * 4 + [(2, 2)] * 2:
        n = conv_out_lengths(n, k, s)
    return n


def test_checkpoints_use_s3prl_formats_and_load_weights_only(ckpts):
    keys = {"wav2vec2": {"task_cfg", "model_cfg", "model_weight"},
            "hubert": {"task_cfg", "model_cfg", "model_weight", "dictionaries_symbols"},
            "wavlm": {"cfg", "model"}}
    keys["wavlm_base"] = keys["wavlm"]  # a second WavLM (the authors' non-SFI baseline is WavLM Base)
    for kind, path in ckpts.items():
        blob = torch.load(path, weights_only=True)
        assert set(blob) == keys[kind]
        assert "random" in path.name  # the file name says these are not pretrained
    a, b = (torch.load(ckpts[k], weights_only=True)["model"] for k in ("wavlm", "wavlm_base"))
    assert not all(torch.equal(a[k], b[k]) for k in a)  # two different random models
    again = write_tiny_checkpoints(ckpts["hubert"].parent / "again", "tiny", seed=0)
    a = torch.load(ckpts["wavlm"], weights_only=True)["model"]
    b = torch.load(again["wavlm"], weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # same seed, same weights


@pytest.mark.parametrize("kind", KINDS)
def test_teacher_loads_offline_and_matches_s3prl(kind, ckpts, teachers):
    from s3prl.nn import S3PRLUpstream

    teacher = teachers[kind]
    assert isinstance(teacher, Teacher) and teacher.kind == kind
    assert teacher.num_layers == 3 and teacher.hidden_size == 64
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    up = S3PRLUpstream(f"{kind}_local", path_or_url=str(ckpts[kind])).eval()
    wavs = torch.randn(2, 16000, generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([16000, 16000])
    with torch.no_grad():
        ours, frames = teacher(wavs, lengths)
        theirs, _ = up(wavs, lengths)
    assert frames.tolist() == frames16([16000, 16000]).tolist() == [49, 49]
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):  # s3prl repeats a last frame to reach ceil(L / 320); ours stop at 49
        torch.testing.assert_close(a, b[:, :49], atol=1e-4, rtol=1e-4)


def _assert_padding_independent(model, wavs, lengths):
    """Each clip's valid frames in a padded batch equal the clip run alone."""
    with torch.no_grad():
        batch, frames = model(wavs, lengths)
        for i in range(len(lengths)):
            alone, n = model(wavs[i:i + 1, :lengths[i]], lengths[i:i + 1])
            assert int(n) == int(frames[i])
            for a, b in zip(batch, alone):
                torch.testing.assert_close(a[i, :n[0]], b[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_teacher_padding_does_not_change_valid_frames(kind, teachers):
    teacher = teachers[kind]
    wavs = torch.randn(3, 24000, generator=torch.Generator().manual_seed(2))
    _assert_padding_independent(teacher, wavs, torch.tensor([9000, 24000, 15111]))


@pytest.mark.parametrize("kind", KINDS)
def test_student_runs_at_every_rate_with_the_16k_frame_count(kind, students, teachers):
    student = students[kind]
    assert type(student.model) is type(teachers[kind].model)
    assert student.info["fit_rel_error"] < 0.2  # 32 random filters fitted in a few dozen steps
    seconds = 0.75
    for fs in RATES:
        student.set_sample_rate(fs)
        n = int(round(seconds * fs))
        with torch.no_grad():
            hidden, frames = student(torch.randn(2, n, generator=torch.Generator().manual_seed(fs)),
                                     torch.tensor([n, n // 2]))
        want = frames16([int(round(seconds * 16000)), int(round(seconds * 16000)) // 2])
        assert (frames - want).abs().max() <= 1, (fs, frames, want)  # rounding of L*16000/fs only
        assert len(hidden) == 3 and all(h.shape == (2, int(frames.max()), 64) for h in hidden)
        assert all(torch.isfinite(h).all() for h in hidden)


@pytest.mark.parametrize("kind", KINDS)
def test_teacher_initialised_student_reproduces_teacher_at_16k(kind, students, teachers):
    student, teacher = students[kind].set_sample_rate(16000), teachers[kind]
    wavs = torch.randn(2, 12000, generator=torch.Generator().manual_seed(3))
    lengths = torch.tensor([12000, 7000])
    with torch.no_grad():
        s, sn = student(wavs, lengths)
        t, tn = teacher(wavs, lengths)
    assert torch.equal(sn, tn)
    for a, b in zip(s, t):
        assert float((a[0] - b[0]).pow(2).mean() / b[0].pow(2).mean()) < 0.05


@pytest.mark.parametrize("fs", (24000, 44100))
def test_student_padding_does_not_change_valid_frames(fs, students):
    student = students["hubert"].set_sample_rate(fs)
    wavs = torch.randn(3, fs, generator=torch.Generator().manual_seed(4))
    _assert_padding_independent(student, wavs, torch.tensor([fs // 3, fs, fs // 2 + 17]))


def test_sfi_layer_is_the_first_conv_and_learns(students):
    from sfi_mos.sfi import SFIConv1d

    student = students["wav2vec2"]
    assert isinstance(student.model.feature_extractor.conv_layers[0][0], SFIConv1d)
    assert student.model.feature_grad_mult == 1.0
    student.train().set_sample_rate(24000)
    try:
        hidden, _ = student(torch.randn(1, 12000, generator=torch.Generator().manual_seed(5)))
        sum(h.pow(2).mean() for h in hidden).backward()
        grads = [p.grad for p in student.sfi.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    finally:
        student.zero_grad(set_to_none=True)
        student.eval()


def test_save_load_round_trip(tmp_path, students):
    student = students["wavlm"].set_sample_rate(48000)
    path = tmp_path / "student.pt"
    student.save(path)
    blob = torch.load(path, weights_only=True)
    assert blob["arch"]["kind"] == "wavlm" and blob["sample_rate"] == 48000
    loaded = SFIStudent.load(path).eval()
    assert loaded.sample_rate == 48000 and loaded.info["fit_rel_error"] == student.info["fit_rel_error"]
    wavs = torch.randn(1, 24000, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        a, _ = student(wavs)
        b, _ = loaded(wavs)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)


def test_random_init_is_seeded_and_differs_from_teacher(teachers):
    t = teachers["hubert"]
    a = SFIStudent.from_teacher(t, SFISpec(), "random", seed=3)
    b = SFIStudent.from_teacher(t, SFISpec(), "random", seed=3)
    key = "encoder.layers.0.fc1.weight"
    assert torch.equal(a.model.state_dict()[key], b.model.state_dict()[key])
    assert not torch.equal(a.model.state_dict()[key], t.model.state_dict()[key])
    assert "fit_rel_error" not in a.info


def test_bad_inputs_give_clear_errors(tmp_path, teachers, students):
    fbank = load_teacher(TeacherSpec("fbank"))
    with pytest.raises(InputError, match="no waveform conv front-end"):
        SFIStudent.from_teacher(fbank, SFISpec())
    with pytest.raises(InputError, match="needs a checkpoint path"):
        load_teacher(TeacherSpec("hubert_local", None))
    with pytest.raises(InputError, match="not found"):
        load_teacher(TeacherSpec("hubert_local", str(tmp_path / "missing.pt")))
    with pytest.raises(InputError, match="not an s3prl upstream"):
        load_teacher(TeacherSpec("no_such_model", None))
    with pytest.raises(InputError, match="unknown init"):
        SFIStudent.from_teacher(teachers["hubert"], SFISpec(), "pretrained")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        SFIStudent.load(tmp_path / "junk.pt")
    with pytest.raises(InputError, match="too short"):
        students["hubert"].set_sample_rate(48000)(torch.randn(1, 600))


def test_frame_lengths_match_forward(students, teachers):
    lengths = torch.tensor([4000, 16000, 7777])
    assert teachers["hubert"].frame_lengths(lengths).tolist() == frames16(lengths).tolist()
    student = students["hubert"].set_sample_rate(44100)
    n = torch.tensor([11025, 30000])
    with torch.no_grad():
        _, frames = student(torch.randn(2, 30000), n)
    assert student.frame_lengths(n).tolist() == frames.tolist()


def test_waveform_normalisation_uses_valid_samples_only():
    import torch.nn.functional as F

    from sfi_mos.ssl.encode import normalize_waveforms

    x = torch.randn(2, 900, generator=torch.Generator().manual_seed(7))
    lengths = torch.tensor([900, 500])
    y = normalize_waveforms(x * (torch.arange(900) < lengths[:, None]), lengths)
    torch.testing.assert_close(y[1, :500], F.layer_norm(x[1, :500], (500,)), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(y[0], F.layer_norm(x[0], (900,)), atol=1e-5, rtol=1e-4)
    assert torch.all(y[1, 500:] == 0)


def test_model_bench_reports_its_keys():
    from sfi_mos.bench import model as bench

    out = bench.run(["--size", "tiny", "--seconds", "0.5", "--repeats", "1", "--threads", "1"])
    for key in ("student48_vs_resample_teacher", "train_step_sfi_vs_plain", "peak_mem_mb"):
        assert out[key] > 0
    assert set(out["train_step_sfi_s_by_rate"]) == {"8000", "24000", "48000"}


def test_large_style_front_end_layer_norm_conv_bias_and_normalised_input(tmp_path):
    """wav2vec 2.0 Large-style config: LayerNorm in every conv block, conv biases, normalised input."""
    from s3prl.nn import S3PRLUpstream

    from sfi_mos.ssl import arch as archmod
    from sfi_mos.ssl.checkpoints import checkpoint_dict, tiny_arch

    arch = tiny_arch("wav2vec2")
    arch["model_cfg"].update(extractor_mode="layer_norm", conv_bias=True)
    arch["task_cfg"]["normalize"] = True
    torch.manual_seed(0)
    path = tmp_path / "w2v2_large_style_random.pt"
    torch.save(checkpoint_dict(archmod.build(arch), arch), path)
    teacher = load_teacher(TeacherSpec("wav2vec2_local", str(path)))
    assert teacher.normalize
    up = S3PRLUpstream("wav2vec2_local", path_or_url=str(path)).eval()
    wavs = 3.0 * torch.randn(1, 8000, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        ours, frames = teacher(wavs, torch.tensor([8000]))
        theirs, _ = up(wavs, torch.tensor([8000]))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b[:, :int(frames[0])], atol=1e-4, rtol=1e-4)
    student = SFIStudent.from_teacher(teacher, SFISpec(), "teacher", fit_steps=FIT_STEPS).eval()
    bias = student.model.feature_extractor.conv_layers[0][0].bias
    torch.testing.assert_close(bias, teacher.model.feature_extractor.conv_layers[0][0].bias)
    with torch.no_grad():
        s, _ = student.set_sample_rate(16000)(wavs, torch.tensor([8000]))
    assert float((s[-1] - ours[-1]).pow(2).mean() / ours[-1].pow(2).mean()) < 0.05


@pytest.mark.parametrize("kind", KINDS)
def test_base_size_is_the_real_base_architecture(kind):
    """``base``: the Base models' hyper-parameters (random weights), built through s3prl's own classes."""
    from sfi_mos.ssl import arch as archmod
    from sfi_mos.ssl.checkpoints import tiny_arch

    torch.manual_seed(0)
    model = archmod.build(tiny_arch(kind, "base"))
    assert archmod.conv_geometry(tiny_arch(kind, "base")) == [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    blocks = model.feature_extractor.conv_layers
    # "default" extractor: one GroupNorm(512 groups) in the first block only, no conv bias
    assert isinstance(blocks[0][2], torch.nn.GroupNorm) and blocks[0][2].num_groups == 512
    assert not any(isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm)) for b in blocks[1:] for m in b)
    assert all(b[0].bias is None for b in blocks)
    layers = model.encoder.layers
    assert len(layers) == 12 and model.encoder.embedding_dim == 768
    assert layers[0].fc1.out_features == 3072 and layers[0].self_attn.num_heads == 12
    assert model.encoder.pos_conv[0].kernel_size == (128,) and model.encoder.pos_conv[0].groups == 16
    n = sum(p.numel() for p in model.parameters())
    assert 94e6 < n < 96e6  # "95M" Base models, pre-training heads included
    if kind == "wavlm":  # gated relative position bias, 320 buckets, in the first layer
        assert layers[0].self_attn.relative_attention_bias.num_embeddings == 320
        assert layers[0].self_attn.gru_rel_pos and layers[0].self_attn.max_distance == 800
    if kind == "hubert":  # 500 k-means units + 4 fairseq specials, projected to 256
        assert tuple(model.label_embs_concat.shape) == (504, 256)
