import numpy as np
import pytest
import soundfile as sf

from data_fixtures import write_wav
from sfi_mos.data import audio_info, rate_from_tag, read_audio
from sfi_mos.data.audio import min_samples_for, wav_index
from sfi_mos.errors import InputError


def test_read_mono_float32(tmp_path):
    p = write_wav(tmp_path / "a.wav", 24000, seconds=0.1)
    x, sr = read_audio(p, expected_sr=24000)
    assert sr == 24000 and x.dtype == np.float32 and x.ndim == 1 and len(x) == 2400
    ref, _ = sf.read(p, dtype="float32")
    np.testing.assert_array_equal(x, ref)
    info = audio_info(p)
    assert (info.sample_rate, info.frames, info.channels) == (24000, 2400, 1)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found") as e:
        read_audio(tmp_path / "nope.wav")
    assert "nope.wav" in str(e.value)


def test_corrupt_file(tmp_path):
    p = tmp_path / "bad.wav"
    p.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(InputError, match="unreadable or corrupt") as e:
        read_audio(p)
    assert "bad.wav" in str(e.value)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    sf.write(p, np.zeros(0, np.float32), 16000)
    with pytest.raises(InputError, match="empty"):
        read_audio(p)


def test_shorter_than_receptive_field(tmp_path):
    # 25 ms receptive field: 400 samples at 16 kHz, 1200 at 48 kHz
    assert min_samples_for(16000) == 400 and min_samples_for(48000) == 1200
    assert min_samples_for(22050) == 552
    ok = write_wav(tmp_path / "ok.wav", 16000, seconds=400 / 16000)
    assert len(read_audio(ok)[0]) == 400
    short = write_wav(tmp_path / "short.wav", 48000, seconds=1199 / 48000)
    with pytest.raises(InputError, match="too short: 1199 samples at 48000 Hz, need >= 1200"):
        read_audio(short)
    assert len(read_audio(short, min_samples=100)[0]) == 1199


def test_multichannel_mixed_to_mono_or_one_channel_picked(tmp_path):
    left = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    right = np.full(1600, 0.25, dtype=np.float32)
    p = tmp_path / "st.wav"
    sf.write(p, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    assert audio_info(p).channels == 2
    mixed, sr = read_audio(p)
    assert sr == 16000 and mixed.shape == (1600,)
    np.testing.assert_allclose(mixed, (left + right) / 2, atol=1e-7)  # the mean of the channels
    np.testing.assert_array_equal(read_audio(p, channel=1)[0], right)
    np.testing.assert_array_equal(read_audio(p, channel=0, start=100, stop=200)[0], left[100:200])
    with pytest.raises(InputError, match="st.wav: --channel 2 asked for, but the file has 2 channel"):
        read_audio(p, channel=2)


def test_nan_and_inf_samples(tmp_path):
    x = np.zeros(1000, np.float32)
    x[10], x[20] = np.nan, np.inf
    p = tmp_path / "nan.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    audio_info(p)  # the header is fine; only decoding can see it
    with pytest.raises(InputError, match="2 NaN/inf samples") as e:
        read_audio(p)
    assert "nan.wav" in str(e.value)


def test_rate_contradiction(tmp_path):
    p = write_wav(tmp_path / "x.wav", 22050)
    with pytest.raises(InputError, match="22050 Hz but 24000 Hz is expected"):
        read_audio(p, expected_sr=24000)


def test_truncated_file(tmp_path):
    # libsndfile trusts the file size over the header, so a cut file would read as a shorter clip:
    # the header's data size is compared with what the file holds, in the header check already
    p = write_wav(tmp_path / "t.wav", 16000, seconds=0.5)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="t.wav: truncated: the WAV header declares 16000 bytes"):
        audio_info(p)
    p.write_bytes(data[:44])
    with pytest.raises(InputError, match="t.wav: truncated.* holds only 0"):
        read_audio(p)


def test_wav_data_size_placeholders_and_extra_chunks(tmp_path):
    import struct

    from sfi_mos.data.audio import wav_shortfall

    p = write_wav(tmp_path / "t.wav", 16000, seconds=0.1)
    data = p.read_bytes()
    assert data[36:40] == b"data" and wav_shortfall(p) is None
    n = len(data) - 44
    # a streaming writer that could not seek back leaves 0 or 0xFFFFFFFF: not a declared size
    for placeholder in (0, 0xFFFFFFFF):
        p.write_bytes(data[:40] + struct.pack("<I", placeholder) + data[44:])
        assert wav_shortfall(p) is None
    # an odd-sized chunk before the data chunk is padded to an even length
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\0"
    p.write_bytes(data[:36] + extra + data[36:])
    assert wav_shortfall(p) is None and len(read_audio(p)[0]) == n // 2
    p.write_bytes(data[:36] + extra + data[36:-100])
    assert wav_shortfall(p) == (n, n - 100)
    q = tmp_path / "x.flac"
    q.write_bytes(b"fLaC" + b"\0" * 40)  # not RIFF: left to libsndfile
    assert wav_shortfall(q) is None


def test_context_in_message(tmp_path):
    with pytest.raises(InputError, match=r"x.wav \(listed in a.csv line 3\)"):
        read_audio(tmp_path / "x.wav", context="listed in a.csv line 3")


@pytest.mark.parametrize("tag,rate", [("8k", 8000), ("16k", 16000), ("22k", 22050), ("24k", 24000),
                                      ("44k", 44100), ("48k", 48000), ("96k", 96000),
                                      ("44.1k", 44100), ("22.05k", 22050), ("16K", 16000)])
def test_rate_tags(tag, rate):
    assert rate_from_tag(tag) == rate


@pytest.mark.parametrize("tag", ["16", "k", "0k", "abc", "16kHz"])
def test_bad_rate_tags(tag):
    with pytest.raises(ValueError):
        rate_from_tag(tag)


def test_wav_index_first_dir_wins(tmp_path):
    a = write_wav(tmp_path / "a" / "u1.wav", 16000)
    write_wav(tmp_path / "b" / "u1.wav", 16000)
    b2 = write_wav(tmp_path / "b" / "u2.wav", 16000)
    (tmp_path / "a" / "notes.txt").write_text("x")
    idx = wav_index(tmp_path / "a", tmp_path / "b", tmp_path / "missing")
    assert idx == {"u1": a.resolve(), "u2": b2.resolve()}
