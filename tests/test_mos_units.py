"""Unit tests of the MOS head, listener grouping, batching and folds (fake backbone, no corpus)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from sfi_mos.mos.backbone import Backbone
from sfi_mos.mos.data import Utterance, epoch_batches, step_groups
from sfi_mos.mos.head import MOSHead, to_mos, to_norm
from sfi_mos.mos.model import MOSModel
from sfi_mos.train.folds import assign_folds

torch.set_num_threads(1)


class FakeSSL(nn.Module):
    """Stand-in with the SSL interface: 16 kHz frame geometry (400/320), optional time-wise GroupNorm
    (which, like base wav2vec 2.0's first block, lets padding change the valid frames)."""

    def __init__(self, hidden=8, group_norm=False):
        super().__init__()
        self.conv = nn.Conv1d(1, hidden, 400, 320)
        self.norm = nn.GroupNorm(hidden, hidden) if group_norm else nn.Identity()
        self.proj = nn.Linear(hidden, hidden)
        self.hidden_size, self.num_layers = hidden, 2
        self.rate = 16000

    def set_sample_rate(self, fs):
        self.rate = fs

    def forward(self, wavs, lengths):
        h = self.norm(self.conv(wavs[:, None])).transpose(1, 2)
        n = torch.div(lengths - 400, 320, rounding_mode="floor") + 1
        return [h, self.proj(h)], n


def _model(group_norm=False, kind="resample", n_listeners=5, features="last"):
    torch.manual_seed(0)
    return MOSModel(Backbone(FakeSSL(group_norm=group_norm), kind, features), n_listeners).eval()


def test_scale_round_trip():
    assert to_mos(to_norm(4.2)) == pytest.approx(4.2)
    assert to_norm(5.0) == 1.0 and to_norm(1.0) == -1.0


def test_head_ignores_padded_frames():
    torch.manual_seed(0)
    head = MOSHead(8, 3)
    feats = torch.randn(1, 5, 8)
    padded = torch.cat([feats, 100 * torch.randn(1, 4, 8)], 1)
    idx, lis = torch.tensor([0, 0]), torch.tensor([1, 2])
    a = head(feats, torch.tensor([5]), idx, lis)
    b = head(padded, torch.tensor([5]), idx, lis)
    assert torch.allclose(a, b, atol=1e-6)
    assert a.shape == (2,) and (a.abs() < 1).all()
    assert not torch.allclose(a[0], a[1])  # the listener embedding matters


def test_sr_embedding_changes_output_only_when_conditioned():
    torch.manual_seed(0)
    head = MOSHead(8, 3, condition_sr=True)
    feats, n = torch.randn(1, 5, 8), torch.tensor([5])
    idx, lis = torch.tensor([0]), torch.tensor([1])
    assert not torch.allclose(head(feats, n, idx, lis, 16000), head(feats, n, idx, lis, 48000))
    with pytest.raises(ValueError):
        head(feats, n, idx, lis)


@pytest.mark.parametrize("features", ["last", "weighted"])
def test_grouped_equals_one_row_per_rating(features):
    """Backbone once per utterance + head per rating == the authors' one backbone pass per rating."""
    model = _model(features=features)
    g = torch.Generator().manual_seed(1)
    wavs = [torch.randn(8000, generator=g), torch.randn(6400, generator=g)]
    utt_index, lis = torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 1, 2, 3, 4])
    grouped = model(wavs, 16000, utt_index, lis)
    rows = torch.cat([model([wavs[u]], 16000, torch.tensor([0]), lis[k:k + 1]) for k, u in enumerate(utt_index)])
    assert torch.allclose(grouped, rows, atol=1e-6)


@pytest.mark.parametrize("group_norm", [False, True])
def test_predictions_independent_of_batch_mates(group_norm):
    model = _model(group_norm=group_norm)
    g = torch.Generator().manual_seed(2)
    wavs = [torch.randn(n, generator=g) for n in (4000, 9000, 6400)]
    together = model.predict_norm(wavs, 16000, [0, 1, 2])
    alone = torch.cat([model.predict_norm([w], 16000, [0, 1, 2]) for w in wavs])
    assert torch.allclose(together, alone, atol=1e-6)
    assert model.backbone.padding_safe() is (not group_norm)


def test_resample_backbone_accepts_other_rates():
    model = _model()
    out = model.predict_norm([torch.randn(22050), torch.randn(11025)], 22050, [0])
    assert out.shape == (2,) and torch.isfinite(out).all()


def _utts(rates):
    return [Utterance(f"u{i:02d}", f"u{i}.wav", r, "s", "train", (0, 1), (3.0, 4.0)) for i, r in enumerate(rates)]


@pytest.mark.parametrize("per_item", [1, 3, 10])
def test_uniform_epoch_steps_equals_building_the_batches(per_item):
    """The counts-only step count (cost estimates) draws exactly what epoch_batches draws."""
    from collections import Counter

    from sfi_mos.mos.data import Utterance, step_groups, uniform_epoch_steps

    rng = np.random.default_rng(per_item)
    items = [Utterance(f"u{i}", "", int(rng.choice([16000, 24000, 48000])), "s", "train", (1,) * per_item,
                       (3.0,) * per_item) for i in range(157)]
    counts = Counter(u.sample_rate for u in items)
    for bs, ga in ((1, 24), (32, 2), (64, 1), (7, 3)):
        for epoch in range(4):
            exact = len(step_groups(items, epoch_batches(items, bs, 5, epoch, by_ratings=True), bs * ga))
            assert uniform_epoch_steps(counts, per_item, bs, bs * ga, 5, epoch) == exact


def test_epoch_batches_single_rate_and_deterministic():
    items = _utts([16000] * 7 + [24000] * 5 + [48000] * 6)
    b1 = epoch_batches(items, 3, seed=0, epoch=1)
    assert b1 == epoch_batches(items, 3, seed=0, epoch=1)
    assert b1 != epoch_batches(items, 3, seed=0, epoch=2)
    assert sorted(i for b in b1 for i in b) == list(range(len(items)))
    for b in b1:
        assert len({items[i].sample_rate for i in b}) == 1 and len(b) <= 3


def test_batches_pack_whole_utterances_by_ratings():
    items = [Utterance(f"u{i}", "x.wav", 16000, "s", "train", tuple(range(n)), (3.0,) * n)
             for i, n in enumerate([10, 10, 3, 5, 10, 2])]
    batches = epoch_batches(items, 12, seed=0, epoch=0, by_ratings=True)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:  # at most 12 ratings unless a single utterance alone has more
        assert len(b) == 1 or sum(len(items[i].ratings) for i in b) <= 12
    # the paper's 1 x 24 on 10-rating clips: a step every 3 clips (30 ratings), the rest in a last step
    tens = [Utterance(f"t{i}", "x.wav", 16000, "s", "train", tuple(range(10)), (3.0,) * 10) for i in range(7)]
    assert step_groups(tens, [[i] for i in range(7)], 24) == [(0, 3, 30), (3, 6, 30), (6, 7, 10)]
    assert step_groups(items, [[i] for i in range(6)], 24) == [(0, 4, 28), (4, 6, 12)]


def test_folds_grouped_stratified_deterministic():
    rates = [16000] * 21 + [24000] * 14 + [48000] * 28
    utts = pd.DataFrame({"utt_id": [f"u{i:02d}" for i in range(len(rates))], "sample_rate": rates})
    # one row per rating: each utterance appears three times; folds must keep them together
    ratings = pd.concat([utts] * 3, ignore_index=True)
    f = assign_folds(ratings, 7, seed=0)
    assert len(f) == len(utts) and f.utt_id.is_unique
    assert f.equals(assign_folds(ratings, 7, seed=0))
    assert not f.fold.equals(assign_folds(ratings, 7, seed=1).fold)
    counts = f.groupby(["fold", "sample_rate"]).size().unstack()
    assert (counts[16000] == 3).all() and (counts[24000] == 2).all() and (counts[48000] == 4).all()


def test_stage_rejects_bad_settings(tmp_path):
    from sfi_mos.errors import InputError
    from sfi_mos.train.configs import MOSTrainConfig
    from sfi_mos.train.mos_stage import run

    for bad in (dict(stage="train"), dict(grad_accum=0), dict(batch_size=0), dict(max_seconds=0.01)):
        with pytest.raises(InputError):
            run(MOSTrainConfig(**bad), tmp_path / "r")


def test_cli_inputs_and_model_split(tmp_path):
    from sfi_mos.errors import InputError
    from sfi_mos.predict.__main__ import split_models
    from sfi_mos.predict.inputs import collect

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "best.pt").write_bytes(b"x")
    d = tmp_path / "audio" / "sub"
    d.mkdir(parents=True)
    assert split_models([str(run_dir), "a.wav", str(d)], ["b.wav"]) == ([str(run_dir)], ["a.wav", str(d), "b.wav"])
    with pytest.raises(InputError, match="--model rnu: no such run dir"):  # a mistyped second run dir
        split_models([str(run_dir), "rnu", "a.wav"], [])
    with pytest.raises(InputError, match="not a run dir"):
        split_models([str(d), "a.wav"], [])
    for name in ("b.wav", "a.WAV", "notes.md"):
        (d / name).write_bytes(b"")
    lst = tmp_path / "files.txt"
    lst.write_text("# comment\naudio/sub/b.wav\n\n/abs/x.wav\n")
    got = collect([str(tmp_path / "audio"), str(lst), "plain.wav", str(run_dir), "gone.txt"])
    # b.wav is named twice (folder and list): predicted once
    assert got.paths == [d / "a.WAV", d / "b.wav", Path("/abs/x.wav"), Path("plain.wav")] and got.repeated == 1
    assert got.ids == ["a", "b", "x", "plain"]
    # an input that yields nothing costs its own row, not the run
    assert got.problems == [(str(run_dir), "directory holds no audio files"), ("gone.txt", "list file not found")]
    # files that are not audio are listed with the reason, never dropped in silence
    assert {Path(p).name: why for p, why in got.skipped} == {
        "notes.md": "not an audio format soundfile reads (.md)", "best.pt": "not an audio format soundfile reads (.pt)"}


def test_predict_ids_unique_where_stems_clash():
    from sfi_mos.predict.inputs import unique_ids

    paths = [Path("/d/a/x.wav"), Path("/d/b/x.wav"), Path("/d/y.wav"), Path("/e/a/x.flac")]
    # Track 3 / BVCC names are unique stems and stay as they are; clashes take the path in the folder,
    # and the full path where even those clash
    assert unique_ids(paths[:3], ["a/x.wav", "b/x.wav", "y.wav"]) == ["a/x", "b/x", "y"]
    assert unique_ids(paths, ["a/x.wav", "b/x.wav", "y.wav", "a/x.flac"]) == ["/d/a/x", "b/x", "y", "/e/a/x"]
