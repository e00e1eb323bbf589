"""Loading, validating and joining prediction/truth tables; Track 3 name parsing; named errors."""
from __future__ import annotations

import pandas as pd
import pytest

from sfi_mos.errors import InputError
from sfi_mos.metrics import load_pred, load_truth, merge_pred_truth, normalize_truth, parse_track3_name


@pytest.mark.parametrize("name, want", [
    ("audiomos-track3-16k_sys3_utt07", ("16k_sys3", 16000)),
    ("audiomos-track3-48k_sys12_utt123.wav", ("48k_sys12", 48000)),
    ("anything-else-here-24k_sys0_utt01", ("24k_sys0", 24000)),
    ("8k_sys1_utt1", ("8k_sys1", 8000)),
    ("synth-22k_sys2_utt05", ("22k_sys2", 22050)),
    ("synth-44k_sys2_utt05.WAV", ("44k_sys2", 44100)),
    ("x-96k_sys4_utt00", ("96k_sys4", 96000)),
])
def test_parse_track3_names(name, want):
    assert parse_track3_name(name) == want


@pytest.mark.parametrize("name", ["sys64e2f-utt491a78b", "audiomos-track3-16k_utt07", "16k_sysA_utt1", ""])
def test_unparseable_names(name):
    assert parse_track3_name(name) is None


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_per_rating_truth_is_averaged(tmp_path):
    p = _write(tmp_path, "utt_16k.csv", "uttID,lisID,rating\n"
               "audiomos-track3-16k_sys1_utt01.wav,L1,4\naudiomos-track3-16k_sys1_utt01.wav,L2,5\n"
               "audiomos-track3-24k_sys2_utt01.wav,L1,2\n")
    t = load_truth(p).set_index("utt_id")
    assert list(t.index) == ["audiomos-track3-16k_sys1_utt01", "audiomos-track3-24k_sys2_utt01"]
    assert t["mos"].tolist() == [4.5, 2.0]
    assert t["n_ratings"].tolist() == [2, 1]
    assert t["system_id"].tolist() == ["16k_sys1", "24k_sys2"]
    assert t["sample_rate"].tolist() == [16000, 24000]


def test_per_utterance_truth_with_columns_and_wav_suffix_matching(tmp_path):
    t = _write(tmp_path, "truth.csv", "utt_id,mos,system_id,sample_rate\nu1.wav,3.5,A,48000\nu2,2.0,B,16000\n")
    p = _write(tmp_path, "pred.csv", "utt_id,pred,extra\nu1,3.0,x\nu2.wav,2.5,y\n")
    m = merge_pred_truth(load_pred(p), load_truth(t))
    assert m.columns.tolist() == ["utt_id", "system_id", "sample_rate", "mos", "pred", "n_ratings",
                                  "mos_exact", "pred_exact"]
    assert m["pred"].tolist() == [3.0, 2.5] and m["system_id"].tolist() == ["A", "B"]
    assert m["sample_rate"].tolist() == [48000, 16000] and m["n_ratings"].isna().all()


def test_sample_rate_absent_and_names_without_rate_gives_no_rate(tmp_path):
    t = load_truth(_write(tmp_path, "t.csv", "utt_id,mos,system_id\nsysA-u1,3,A\nsysB-u2,4,B\n"))
    assert t["sample_rate"].isna().all()


def test_tidy_frames_from_the_data_module_are_accepted():
    ratings = pd.DataFrame({"utt_id": ["a", "a", "b"], "listener_id": [0, 1, 0], "rating": [3, 4, 2],
                            "system_id": ["S1", "S1", "S2"], "sample_rate": [16000, 16000, 24000]})
    t = normalize_truth(ratings)
    assert t["mos"].tolist() == [3.5, 2.0] and t["n_ratings"].tolist() == [2, 1]
    assert t["sample_rate"].tolist() == [16000, 24000]


# ---- errors: each names the file (and row, where there is one) -------------------------------

@pytest.mark.parametrize("pred_text, match", [
    ("utt_id,quality\nu1,3\n", r"pred\.csv: missing prediction column: none of pred, answer, score"),
    ("id,pred\nu1,3\n", r"pred\.csv: missing utterance id column: none of utt_id, uttID, sample_id"),
    ("utt_id,pred\nu1,3\nu2,nan\n", r"pred\.csv, line 3: prediction 'nan' is NaN"),
    ("utt_id,pred\nu1,abc\nu2,3\n", r"pred\.csv, line 2: prediction 'abc' is NaN, infinite or not a number"),
    ("utt_id,pred\nu1,3\nu2,\n", r"pred\.csv, line 3: prediction '' is blank"),
    ("utt_id,pred\nu1,inf\nu2,3\n", r"line 2: prediction 'inf'"),
    ("utt_id,pred\nu1,3\nu2,3\nu1,4\n", r"pred\.csv, line 4: duplicate utt_id 'u1'"),
    ("utt_id,pred\n", r"pred\.csv, line 1: header only, no data rows"),
    ("", r"pred\.csv: empty file"),
])
def test_bad_predictions(tmp_path, pred_text, match):
    with pytest.raises(InputError, match=match):
        load_pred(_write(tmp_path, "pred.csv", pred_text))


@pytest.mark.parametrize("truth_text, match", [
    ("utt_id,quality\nu1,3\n", r"truth\.csv: missing MOS column: none of mos, MOS, avg_score, score"),
    ("utt_id,mos\nx-16k_sys1_utt1,3\nx-16k_sys1_utt2,\n", r"truth\.csv, line 3: MOS '' is blank"),
    ("utt_id,mos\nx-16k_sys1_utt1,3\nx-16k_sys1_utt1,4\n", r"line 3: duplicate utt_id"),
    ("utt_id,mos\nx-16k_sys1_utt1,3\nsys7-utt1,4\n", r"truth\.csv, line 3: no system_id column and utterance id 'sys7-utt1'"),
    ("uttID,lisID,rating\nx-16k_sys1_utt1,L1,3\nx-16k_sys1_utt1,L1,4\n",
     r"line 3: duplicate \(utterance, listener\) pair 'x-16k_sys1_utt1 / L1'"),
    ("uttID,lisID,rating\nx-16k_sys1_utt1,L1,three\n", r"line 2: rating 'three'"),
    ("utt_id,rating,system_id\nu1,3,A\nu1,4,B\n", r"utterance 'u1' has several system_id values"),
    ("utt_id,mos,system_id,sample_rate\nu1,3,A,16k\n", r"line 2: sample_rate '16k'"),
    ("utt_id,mos,system_id\nu1,3,A\nu2,3,\n", r"line 3: empty system id \(column 'system_id'\)"),
])
def test_bad_truth(tmp_path, truth_text, match):
    with pytest.raises(InputError, match=match):
        load_truth(_write(tmp_path, "truth.csv", truth_text))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        load_truth(tmp_path / "nope.csv")


def test_missing_and_extra_utterances_are_listed():
    truth = pd.DataFrame({"utt_id": [f"x-16k_sys1_utt{i:02d}" for i in range(10)], "mos": [3.0] * 10})
    pred = pd.DataFrame({"utt_id": [f"x-16k_sys1_utt{i:02d}" for i in range(3)], "pred": [3.0] * 3})
    with pytest.raises(InputError) as e:
        merge_pred_truth(pred, truth, pred_source="p.csv")
    msg = str(e.value)
    assert msg.startswith("p.csv: 7 of 10 truth utterances have no prediction")
    assert "x-16k_sys1_utt03" in msg and "(+2 more)" in msg
    pred = pd.DataFrame({"utt_id": truth["utt_id"].tolist() + ["x-16k_sys1_utt99"], "pred": [3.0] * 11})
    with pytest.raises(InputError, match=r"p\.csv: 1 predictions are for utterances not in t\.csv: x-16k_sys1_utt99"):
        merge_pred_truth(pred, truth, pred_source="p.csv", truth_source="t.csv")


def test_dataframe_errors_name_the_row():
    truth = pd.DataFrame({"utt_id": ["x-16k_sys1_utt1", "x-16k_sys1_utt2"], "mos": [3.0, float("nan")]})
    with pytest.raises(InputError, match=r"truth, row 1: MOS"):
        normalize_truth(truth)


def test_normalised_tables_round_trip_and_are_still_validated():
    truth = pd.DataFrame({"utt_id": ["a", "b", "c"], "system_id": ["A", "A", "B"], "mos": [1.0, 2.0, 4.0]})
    once = normalize_truth(truth)
    assert normalize_truth(once).equals(once)  # all-NA sample_rate / n_ratings count as absent
    pred = pd.DataFrame({"utt_id": ["a", "b", "c"], "pred": [1.0, float("nan"), 3.0]})
    with pytest.raises(InputError, match=r"pred, row 1: prediction"):
        merge_pred_truth(pred, once)
    dup = pd.DataFrame({"utt_id": ["a", "b", "a"], "pred": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match=r"pred, row 2: duplicate utt_id 'a'"):
        merge_pred_truth(dup, once)
