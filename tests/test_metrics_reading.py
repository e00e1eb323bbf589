"""Reading the organisers' and peers' formats: header detection, column choice, physical line numbers."""
from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from sfi_mos.errors import InputError
from sfi_mos.metrics import Columns, evaluate, load_pred, load_truth, read_csv_table, track3_names
from sfi_mos.metrics.__main__ import check_output, main

U = ["x-16k_sys1_utt1", "x-16k_sys2_utt1", "x-24k_sys1_utt1"]


def _w(tmp_path, name, data):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def test_physical_line_numbers_count_blank_lines(tmp_path):
    t = read_csv_table(_w(tmp_path, "a.csv", "\nutt_id,pred\n\nu1,1\n  \nu2,2\n\n"))
    assert t.header and t.df.columns.tolist() == ["utt_id", "pred"] and t.lines.tolist() == [4, 6]
    with pytest.raises(InputError, match=r"a\.csv, line 6: prediction 'x' is NaN"):
        load_pred(_w(tmp_path, "a.csv", "\nutt_id,pred\n\nu1,1\n  \nu2,x\n"))


@pytest.mark.parametrize("text, header, cols", [
    ("sysb2a4f-utta6d0bbc,2.4374285\nsys9d400-uttf9abdd5,4.33\n", False, ["1", "2"]),  # VoiceMOS answer.txt
    ("utt_id,pred\nu1,3\n", True, ["utt_id", "pred"]),
    ("systems,SIG,BAK,OVR\np232_sys1_005,3.75,3.75,3.75\n", True, ["systems", "SIG", "BAK", "OVR"]),
    ("id,2\nu1,3\n", False, ["1", "2"]),  # a numeric cell and no known name: data (force with header="yes")
])
def test_header_detection(tmp_path, text, header, cols):
    t = read_csv_table(_w(tmp_path, "f.csv", text), known=("utt_id", "pred"))
    assert t.header is header and t.df.columns.tolist() == cols


def test_header_option_overrides_detection(tmp_path):
    p = _w(tmp_path, "f.csv", "id,2\nu1,3\n")
    assert read_csv_table(p, header="yes").df.columns.tolist() == ["id", "2"]
    assert load_pred(p, Columns(id="id", value="2", header="yes"))["pred"].tolist() == [3.0]


def test_bom_is_stripped(tmp_path):
    p = _w(tmp_path, "f.csv", b"\xef\xbb\xbfutt_id,pred\nu1,3\n")
    assert load_pred(p)["utt_id"].tolist() == ["u1"]


def test_non_utf8_names_line_and_column(tmp_path):
    p = _w(tmp_path, "f.csv", b"utt_id,pred\nu1,3\nu\xe92,4\n")
    with pytest.raises(InputError, match=r"f\.csv, line 3: not UTF-8 text \(byte 0xe9 at column 2\)"):
        load_pred(p)


@pytest.mark.parametrize("text, match", [
    ("utt_id,pred\nu1,3\nu2\n", r"line 3: 1 comma-separated fields, but the header \(utt_id,pred\) has 2"),
    ('utt_id,pred\nu1,3\n"u2,4\n', r"line 3: malformed CSV \(unexpected end of data\)"),
    ("utt_id,utt_id\nu1,3\n", r"line 1: header has empty or repeated column names \['utt_id'\]"),
    ("\n\n", r"empty file"),
    ("utt_id,pred\n\n", r"line 1: header only"),
])
def test_malformed_files(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        read_csv_table(_w(tmp_path, "f.csv", text))


def _good_truth(tmp_path):
    return _w(tmp_path, "t.csv", "utt_id,mos\n" + "".join(f"{u},{m}\n" for u, m in zip(U, ["3.5", "2.0", "4.5"])))


@pytest.mark.parametrize("text", [
    "utt_id,pred\n{0},3.1\n{1},2.2\n{2},4.0\n",
    "{0},3.1\n{1},2.2\n{2},4.0\n",  # header-less answer file
    "uttID,MOS\n{0},3.1\n{1},2.2\n{2},4.0\n",
    "sample_id,answer,avg_score\n{0},3.1,9\n{1},2.2,9\n{2},4.0,9\n",  # SHEET results.csv: answer is the prediction
    "utt_id,pred,mos\n{0},3.1,1\n{1},2.2,1\n{2},4.0,1\n",  # canonical 'pred' wins over the alias 'mos'
])
def test_prediction_formats_read_the_same(tmp_path, text):
    got = load_pred(_w(tmp_path, "p.csv", text.format(*U)))
    assert got["utt_id"].tolist() == U and got["pred"].tolist() == [3.1, 2.2, 4.0]


@pytest.mark.parametrize("text, per_rating", [
    ("{0},3.5\n{1},2\n{2},4.5\n", False),
    ("uttID,MOS\n{0},3.5\n{1},2\n{2},4.5\n", False),
    ("wav_path,system_id,sample_id,avg_score,answer\nw,16k_sys1,{0},3.5,1\nw,16k_sys2,{1},2,1\nw,24k_sys1,{2},4.5,1\n",
     False),
    ("sample_id,listener_id,score\n{0},a,3\n{0},b,4\n{1},a,2\n{2},a,5\n{2},b,4\n", True),  # SHEET per-rating
])
def test_truth_formats(tmp_path, text, per_rating):
    t = load_truth(_w(tmp_path, "t.csv", text.format(*U)))
    assert t["utt_id"].tolist() == U and t["mos"].tolist() == [3.5, 2.0, 4.5]
    assert t["system_id"].tolist() == ["16k_sys1", "16k_sys2", "24k_sys1"]
    assert t["n_ratings"].isna().all() != per_rating


def test_ambiguous_and_explicit_columns(tmp_path):
    p = _w(tmp_path, "p.csv", "utt_id,score,MOS\n" + "".join(f"{u},{i},9\n" for i, u in enumerate(U)))
    with pytest.raises(InputError, match=r"p\.csv: ambiguous prediction column: score, MOS all match; "
                                         r"choose one with --pred-col"):
        load_pred(p)
    assert load_pred(p, Columns(value="score"))["pred"].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(InputError, match=r"no column 'answer' for the prediction"):
        load_pred(p, Columns(value="answer"))


def test_headerless_by_column_number(tmp_path):
    p = _w(tmp_path, "p.csv", "".join(f"7,{u},{i}.5\n" for i, u in enumerate(U)))
    with pytest.raises(InputError, match=r"no header and 3 columns.*--pred-id-col"):
        load_pred(p)
    assert load_pred(p, Columns(id="2", value="3"))["pred"].tolist() == [0.5, 1.5, 2.5]


def test_blank_optional_columns_count_as_absent(tmp_path):
    t = load_truth(_w(tmp_path, "t.csv", "utt_id,mos,system_id,sample_rate,n_ratings,lisID\n"
                                         + "".join(f"{u},3,,,,\n" for u in U)))
    assert t["system_id"].tolist() == ["16k_sys1", "16k_sys2", "24k_sys1"]
    assert t["sample_rate"].tolist() == [16000, 16000, 24000] and t["n_ratings"].isna().all()


@pytest.mark.parametrize("text, match", [
    ("uttID,lisID,rating\n{0},a,3\n{0},b,6\n", r"t\.csv, line 3: rating '6' is outside the rating scale 1-5"),
    ("utt_id,mos\n{0},3\n{1},0.99\n{2},7\n", r"t\.csv, line 3: MOS '0\.99' is outside the rating scale 1-5 "
                                              r"\(2 such lines\)"),
    ("utt_id,mos\n{0},3\n\n{1},\n", r"t\.csv, line 4: MOS '' is blank"),
    ("utt_id,mos\n{0},5\n{1},5.0000000000000001\n", r"line 3: MOS '5\.0000000000000001' is outside"),  # float: 5.0
])
def test_truth_values_on_the_rating_scale(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        load_truth(_w(tmp_path, "t.csv", text.format(*U)))


def test_duplicate_prediction_ids_name_every_line(tmp_path):
    p = _w(tmp_path, "p.csv", "utt_id,pred\na,1\nb,2\na,3\nc,1\nb,5\nb.wav,6\n")
    with pytest.raises(InputError) as e:
        load_pred(p)
    assert str(e.value).endswith("p.csv, line 4: duplicate utt_id 'a' (lines 2, 4); 2 repeated in all, "
                                 "also 'b' (lines 3, 6, 7)")


def test_deobfuscated_track3_names_map_to_obfuscated_ids(tmp_path):
    _w(tmp_path, "maps/sysMap.txt", "originalSR|sys1\noriginal|sys2\n")
    _w(tmp_path, "maps/uttMap.txt", "1089_134686_000015_000002|utt01\n")
    names = track3_names(tmp_path / "maps")
    t = load_truth(_w(tmp_path, "t.csv", "uttID,lisID,rating\n"
                                         "audiomos-track3-24k_originalSR_1089_134686_000015_000002.wav,L1,4\n"
                                         "audiomos-track3-24k_original_1089_134686_000015_000002,L1,2\n"
                                         "audiomos-track3-48k_sys3_utt01,L1,3\n"), names=names)
    assert t["utt_id"].tolist() == ["audiomos-track3-24k_sys1_utt01", "audiomos-track3-24k_sys2_utt01",
                                    "audiomos-track3-48k_sys3_utt01"]
    assert t["system_id"].tolist() == ["24k_sys1", "24k_sys2", "48k_sys3"]
    assert t["sample_rate"].tolist() == [24000, 24000, 48000]
    pred = pd.DataFrame({"utt_id": t["utt_id"], "pred": [4.0, 2.0, 3.0]})
    assert evaluate(pred, t)["sys"]["SRCC"] == pytest.approx(1.0)
    with pytest.raises(InputError, match=r"nope: Track 3 map folder not found"):
        track3_names(tmp_path / "nope")


# ---- the output path is checked before any work -------------------------------------------------

def test_output_checks(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="output path is a directory"):
        check_output(str(tmp_path / "d"), [])
    _w(tmp_path, "f.txt", "x")
    with pytest.raises(InputError, match=r"f\.txt is a file, not a folder"):
        check_output(str(tmp_path / "f.txt" / "sub" / "m.json"), [])
    p = _w(tmp_path, "p.csv", "utt_id,pred\n")
    with pytest.raises(InputError, match="one of the input files"):
        check_output(str(tmp_path / "." / "p.csv"), [str(p)])
    check_output(str(tmp_path / "new" / "deeper" / "m.json"), [])  # folders are created by the writer
    assert not (tmp_path / "new").exists()
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".sfi_mos_probe")] == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits (the catalogue covers root)")
def test_output_in_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    with pytest.raises(InputError, match="cannot write in"):
        check_output(str(ro / "m.json"), [])


def test_bad_output_fails_before_reading_inputs(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    assert main(["--pred", str(tmp_path / "missing.csv"), "--truth", str(tmp_path / "missing.csv"),
                 "--json", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "output path is a directory" in err and "missing.csv" not in err
