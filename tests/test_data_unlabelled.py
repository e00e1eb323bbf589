import numpy as np
import pytest
import soundfile as sf

from data_fixtures import write_wav
from sfi_mos.data import UnlabelledAudio
from sfi_mos.errors import InputError


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "ears"
    # nested like EARS (speaker/style.wav); lengths 0.05 .. 0.5 s at 48 kHz
    for i in range(10):
        write_wav(root / f"p{i % 3:03d}" / f"clip{i:02d}.wav", 48000, seconds=0.05 * (i + 1), seed=i)
    (root / "p000" / "readme.txt").write_text("not audio")
    return root


def test_recursive_sorted_listing(folder):
    ds = UnlabelledAudio(folder, crop_seconds=0.1)
    rel = [p.relative_to(folder.resolve()).as_posix() for p in ds.files]
    assert rel == sorted(rel) and len(ds) == 10 and rel[0] == "p000/clip00.wav"
    assert ds.info(0).sample_rate == 48000


def test_seeded_crops(folder):
    ds = UnlabelledAudio(folder, crop_seconds=0.1, seed=3)
    i = [p.name for p in ds.files].index("clip09.wav")  # 0.5 s long
    a, sr = ds.crop(i, epoch=0)
    assert sr == 48000 and a.dtype == np.float32 and a.shape == (4800,)
    np.testing.assert_array_equal(a, UnlabelledAudio(folder, crop_seconds=0.1, seed=3).crop(i, 0)[0])
    starts = {ds.crop_bounds(i, e)[0] for e in range(8)}
    assert len(starts) > 1  # epochs move the crop
    assert ds.crop_bounds(i, 0) != UnlabelledAudio(folder, crop_seconds=0.1, seed=4).crop_bounds(i, 0)
    full, _ = sf.read(ds.files[i], dtype="float32")
    s, e = ds.crop_bounds(i, 0)
    np.testing.assert_array_equal(a, full[s:e])


def test_short_clip_returned_whole(folder):
    ds = UnlabelledAudio(folder, crop_seconds=0.1)
    i = [p.name for p in ds.files].index("clip00.wav")  # 0.05 s
    x, _ = ds.crop(i, epoch=5)
    assert len(x) == 2400 and ds.crop_bounds(i, 1) == (0, 2400)
    assert len(UnlabelledAudio(folder, crop_seconds=None).crop(i)[0]) == 2400


def test_getitem_uses_epoch(folder):
    ds = UnlabelledAudio(folder, crop_seconds=0.1, seed=1)
    ds.set_epoch(2)
    np.testing.assert_array_equal(ds[9][0], ds.crop(9, 2)[0])
    np.testing.assert_array_equal(ds[-1][0], ds.crop(9, 2)[0])
    with pytest.raises(IndexError):
        ds.crop(10)


def test_train_valid_split(folder):
    tr = UnlabelledAudio(folder, split="train", seed=0, crop_seconds=0.1)
    va = UnlabelledAudio(folder, split="valid", seed=0, crop_seconds=0.1)
    assert len(tr) == 9 and len(va) == 1
    assert not set(tr.files) & set(va.files)
    assert set(tr.files) | set(va.files) == set(UnlabelledAudio(folder).files)
    # the same file gets the same crop whichever view it is read through
    full = UnlabelledAudio(folder, seed=0, crop_seconds=0.1)
    j = full.files.index(va.files[0])
    assert va.crop_bounds(0, 3) == full.crop_bounds(j, 3)
    other = UnlabelledAudio(folder, split="valid", seed=5, crop_seconds=0.1)
    assert len(other) == 1
    with pytest.raises(InputError, match="empty 'valid' split"):
        UnlabelledAudio(folder, split="valid", valid_fraction=0.0)


def test_errors(tmp_path, folder):
    with pytest.raises(InputError, match="folder not found"):
        UnlabelledAudio(tmp_path / "none")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match="no audio files found"):
        UnlabelledAudio(tmp_path / "empty")
    with pytest.raises(InputError, match="crop_seconds"):
        UnlabelledAudio(folder, crop_seconds=0)
    with pytest.raises(InputError, match="split"):
        UnlabelledAudio(folder, split="test")
    with pytest.raises(InputError, match=r"too short: 0\.050 s, need >= 0\.100 s"):
        UnlabelledAudio(folder, min_seconds=0.1)


def test_bad_file_named(folder):
    bad = folder / "p001" / "zz.wav"
    bad.write_bytes(b"junk" * 100)
    with pytest.raises(InputError, match="zz.wav: unreadable or corrupt"):
        UnlabelledAudio(folder)
    lazy = UnlabelledAudio(folder, check_audio=False)  # found on first use instead
    with pytest.raises(InputError, match="zz.wav"):
        lazy.crop(lazy.files.index(bad.resolve()))
    write_wav(bad, 48000, channels=2)  # stereo is read (mixed to mono), not refused
    ds = UnlabelledAudio(folder)
    i = ds.files.index(bad.resolve())
    assert ds.info(i).channels == 2 and ds.crop(i)[0].ndim == 1
