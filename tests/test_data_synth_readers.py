"""The tiny synthetic corpus goes through the same readers as the real data, fully checked."""
import numpy as np
import pytest

from sfi_mos.data import UnlabelledAudio, read_bvcc, read_track3


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    synth = pytest.importorskip("sfi_mos.data.synth")
    return synth.generate(tmp_path_factory.mktemp("synth") / "tiny", size="tiny", seed=0)


def test_track3_layout(corpus):
    c = read_track3(corpus / "track3", check_audio="full")
    u = c.utterances
    assert c.splits == ["train", "dev", "eval"]
    assert set(u["sample_rate"]) == {16000, 24000, 48000}
    # train and dev rate the same clips; eval clips are disjoint
    train, dev, ev = (set(u.loc[u["split"] == s, "utt_id"]) for s in ("train", "dev", "eval"))
    assert train == dev and not train & ev
    assert u["mos"].notna().all() and u["mos"].between(1, 5).all()
    assert (u["system_id"].str.split("_").str[0].map({"16k": 16000, "24k": 24000, "48k": 48000})
            == u["sample_rate"]).all()
    # the official system means are the means of the per-utterance MOS (the challenge convention)
    for split in ("dev", "eval"):
        ours = u[u["split"] == split].groupby("system_id")["mos"].mean()
        official = c.systems[c.systems["split"] == split].set_index("system_id")["mos"]
        assert set(official.index) == set(ours.index)
        np.testing.assert_allclose(ours.reindex(official.index), official, atol=1e-5)


def test_bvcc_layout(corpus):
    b = read_bvcc(corpus / "bvcc", check_audio="full")
    assert b.splits == ["train", "dev", "test"]
    assert set(b.ratings["sample_rate"]) == {16000}
    assert b.utterances["n_ratings"].eq(8).all()  # BVCC: 8 ratings per clip
    # listener names parsed out of the real-form listenerinfo strings
    assert all(len(name) == 12 and "_" not in name for name in b.listeners)


def test_unlabelled_folder(corpus):
    ds = UnlabelledAudio(corpus / "unlabelled", crop_seconds=1.0, seed=0)
    assert len(ds) > 0 and {ds.info(i).sample_rate for i in range(len(ds))} == {48000}
    x, sr = ds.crop(0)
    assert sr == 48000 and len(x) == 48000
