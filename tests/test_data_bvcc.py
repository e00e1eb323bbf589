import numpy as np
import pytest

from data_fixtures import bvcc_info, make_bvcc, write_lines, write_wav
from sfi_mos.data import RATING_COLUMNS, read_bvcc, read_corpus
from sfi_mos.data.bvcc import listener_name
from sfi_mos.errors import InputError


def fails(root, *fragments, **kw):
    with pytest.raises(InputError) as e:
        read_bvcc(root, **kw)
    for f in fragments:
        assert f in str(e.value), (f, str(e.value))


@pytest.fixture
def bv(tmp_path):
    root = tmp_path / "bvcc"
    return root, make_bvcc(root)


def sets(root, name="TRAINSET"):
    return root / "DATA" / "sets" / name


def set_line(path, lineno, text):
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    write_lines(path, lines)


def test_reads_all_splits(bv):
    root, made = bv
    c = read_corpus("bvcc", root, check_audio="full")
    r = c.ratings
    assert list(r.columns) == RATING_COLUMNS and c.kind == "bvcc"
    assert r.groupby("split").size().to_dict() == {"train": 18, "dev": 18, "test": 18}
    assert set(r["listener"]) == {"lis0", "lis1", "lis2"} and c.listeners == {"lis0": 0, "lis1": 1, "lis2": 2}
    assert set(r["sample_rate"]) == {16000} and r["sample_rate"].dtype == np.int64
    row = r[r["utt_id"] == "sys0001a-utt00004"].iloc[0]
    assert (row["system_id"], row["split"]) == ("sys0001a", "dev")
    assert row["wav_path"].endswith("DATA/wav/sys0001a-utt00004.wav")
    u = c.utterances.set_index("utt_id")
    # ratings (s + u + k) % 5 + 1 for s=1, u=4, k=0..2 -> 1, 2, 3
    assert u.loc["sys0001a-utt00004", "mos"] == pytest.approx(2.0)
    assert (u["n_ratings"] == 3).all() and len(u) == 18
    assert c.systems["mos"].tolist() == [3.1, 3.1, 3.1] and set(c.systems["split"]) == {"all"}


def test_listener_name_forms():
    assert listener_name("{}_30-39_bZPQE7w4Zl3g_Female_Valid_1_No") == "bZPQE7w4Zl3g"
    assert listener_name("{}_70+_abc_Male") == "abc"
    assert listener_name("judge17") == "judge17"
    assert listener_name("{}_x") == "{}_x"


def test_optional_sets_and_header_rates(bv):
    root, _ = bv
    sets(root, "TESTSET").unlink()
    c = read_bvcc(root, sample_rate=None)
    assert c.splits == ["train", "dev"] and set(c.ratings["sample_rate"]) == {16000}
    fails(root, "needs check_audio", sample_rate=None, check_audio=False)


def test_missing_wav(bv):
    root, _ = bv
    (root / "DATA" / "wav" / "sys0000a-utt00003.wav").unlink()
    fails(root, "TRAINSET line 4", "unknown utterance 'sys0000a-utt00003'")


def test_wrong_rate(bv):
    root, _ = bv
    write_wav(root / "DATA" / "wav" / "sys0000a-utt00000.wav", 24000)
    fails(root, "sys0000a-utt00000.wav (listed in", "TRAINSET line 1", "24000 Hz but 16000 Hz")


def test_sysid_contradicts_name(bv):
    root, _ = bv
    set_line(sets(root), 2, f"sys0002a,sys0000a-utt00000.wav,3,X_1,{bvcc_info('lis1')}")
    fails(root, "TRAINSET line 2", "sysID 'sys0002a' contradicts uttID")


def test_duplicate_listener_rating(bv):
    root, _ = bv
    set_line(sets(root), 2, f"sys0000a,sys0000a-utt00000.wav,3,X_1,{bvcc_info('lis0', age='40-49')}")
    fails(root, "TRAINSET line 2", "duplicate rating", "first seen on line 1")


def test_clip_in_two_splits(bv):
    root, _ = bv
    lines = sets(root, "DEVSET").read_text().splitlines()
    write_lines(sets(root, "DEVSET"), lines + [f"sys0000a,sys0000a-utt00000.wav,3,X_1,{bvcc_info('lis7')}"])
    fails(root, f"DEVSET line {len(lines) + 1}", "in split 'dev' but already in 'train'", "TRAINSET line 1")


@pytest.mark.parametrize("value,problem", [("NaN", "not a finite number"), ("x", "not a finite"),
                                           ("0", "outside the range 1-5")])
def test_bad_rating(bv, value, problem):
    root, _ = bv
    set_line(sets(root, "TESTSET"), 3, f"sys0000a,sys0000a-utt00002.wav,{value},X_1,{bvcc_info('lis2')}")
    fails(root, "TESTSET line 3", problem)


def test_field_count_and_empty_fields(bv):
    root, _ = bv
    set_line(sets(root), 1, "sys0000a,sys0000a-utt00000.wav,3,X_1")
    fails(root, "TRAINSET line 1", "expected 5 comma-separated fields")
    set_line(sets(root), 1, "sys0000a,sys0000a-utt00000.wav,3,X_1,")
    fails(root, "TRAINSET line 1", "empty listenerinfo")


def test_missing_trainset_and_root(bv, tmp_path):
    root, _ = bv
    sets(root).unlink()
    fails(root, "TRAINSET", "file not found")
    fails(tmp_path / "none", "DATA/ folder missing")


def test_system_file_errors(bv):
    root, _ = bv
    path = root / "DATA" / "mydata_system.csv"
    set_line(path, 3, "sysffffa,3.0")
    fails(root, "mydata_system.csv line 3", "unknown system 'sysffffa'")
    set_line(path, 3, "sys0001a,7")
    fails(root, "mydata_system.csv line 3", "system MOS '7' is outside")
