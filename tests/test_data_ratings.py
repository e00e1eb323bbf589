import json

import numpy as np
import pandas as pd
import pytest

from data_fixtures import make_bvcc, write_lines
from sfi_mos.data import Corpus, per_utterance, read_bvcc, read_corpus
from sfi_mos.data.ratings import assign_listener_ids
from sfi_mos.data.tables import check_unique, read_map, read_rows
from sfi_mos.errors import InputError


def test_per_utterance_hand_computed():
    r = pd.DataFrame({
        "utt_id": ["a", "a", "b", "a", "a"], "wav_path": ["/a.wav", "/a.wav", "/b.wav", "/a.wav", "/a.wav"],
        "system_id": ["s1", "s1", "s2", "s1", "s1"], "sample_rate": [16000] * 5,
        "split": ["train", "train", "train", "dev", "dev"], "rating": [1.0, 4.0, 5.0, 2.0, 2.0],
        "corpus": "x"})
    u = per_utterance(r)
    assert u[["utt_id", "split", "mos", "n_ratings"]].values.tolist() == [
        ["a", "train", 2.5, 2], ["b", "train", 5.0, 1], ["a", "dev", 2.0, 2]]
    with pytest.raises(InputError, match="missing column"):
        per_utterance(r.drop(columns="rating"))


def test_listener_ids_train_first_sorted():
    ids = assign_listener_ids(pd.Series(["z", "b", "a", "b", "c"]),
                              pd.Series(["dev", "train", "dev", "train", "train"]))
    assert ids == {"b": 0, "c": 1, "a": 2, "z": 3}


@pytest.fixture
def corpus(tmp_path):
    make_bvcc(tmp_path / "bv")
    return read_bvcc(tmp_path / "bv")


def test_listener_map_roundtrip_and_remap(corpus, tmp_path):
    path = tmp_path / "run" / "listeners.json"
    corpus.save_listener_map(path)
    assert json.loads(path.read_text()) == {"lis0": 0, "lis1": 1, "lis2": 2}
    assert Corpus.load_listener_map(path) == corpus.listeners
    moved = corpus.with_listener_map({"lis2": 0, "lis0": 1, "lis1": 2})
    r = moved.ratings
    assert (r.loc[r["listener"] == "lis2", "listener_id"] == 0).all()
    assert corpus.ratings["listener_id"].max() == 2  # the original is untouched
    with pytest.raises(InputError, match="1 listener"):
        corpus.with_listener_map({"lis0": 0, "lis1": 1})
    ext = corpus.with_listener_map({"lis0": 5, "lis1": 1}, extend=True)
    assert ext.listeners == {"lis0": 5, "lis1": 1, "lis2": 6}


def test_bad_listener_maps(tmp_path):
    p = tmp_path / "m.json"
    with pytest.raises(InputError, match="missing"):
        Corpus.load_listener_map(p)
    for text, problem in [("{", "not valid JSON"), ("[1]", "JSON object"),
                          ('{"a": "1"}', "JSON object"), ('{"a": 0, "b": 0}', "same id")]:
        p.write_text(text)
        with pytest.raises(InputError, match=problem):
            Corpus.load_listener_map(p)


def test_split_views(corpus):
    assert corpus.splits == ["train", "dev", "test"]
    assert set(corpus.split_ratings("dev")["split"]) == {"dev"}
    assert len(corpus.split_utterances("test")) == 6


def test_read_corpus_dispatch(tmp_path):
    with pytest.raises(InputError, match="unknown kind 'folder'.*UnlabelledAudio"):
        read_corpus("folder", tmp_path)
    with pytest.raises(InputError, match="unknown kind"):
        read_corpus("nisqa", tmp_path)


def test_tables_helpers(tmp_path):
    p = write_lines(tmp_path / "t.csv", ["\ufeffb,a", "", "2,1", "4,3"])
    df = read_rows(p, ["a", "b"])
    assert df.values.tolist() == [["1", "2", 3], ["3", "4", 4]]
    with pytest.raises(InputError, match="empty file"):
        read_rows(write_lines(tmp_path / "e.csv", [""]), ["a"])
    with pytest.raises(InputError, match="t.csv line 4: duplicate thing"):
        check_unique(pd.DataFrame({"k": [1, 2, 1], "line": [2, 3, 4]}), ["k"], p, "thing")
    assert read_map(write_lines(tmp_path / "m.txt", ["a | x", "", "b|y"])) == {"a": "x", "b": "y"}
    with pytest.raises(InputError, match="not found"):
        read_rows(tmp_path / "none.csv", ["a"])
    assert np.issubdtype(df["line"].dtype, np.integer)


def test_tables_line_numbers_and_encodings(tmp_path):
    from sfi_mos.data.tables import read_list

    # a record with a quoted newline is reported where it starts; blank lines count
    p = tmp_path / "q.csv"
    p.write_text('a,b\n\n"x\ny",1\n\nz,2\n')
    assert read_rows(p, ["a", "b"])["line"].tolist() == [3, 6]
    # bytes that are not UTF-8 are named by line and column (CRLF files too)
    p.write_bytes(b"a,b\r\nok,1\r\nbad\xe9,2\r\n")
    with pytest.raises(InputError, match=r"q.csv line 3: not UTF-8 text \(byte 0xe9 at column 4\)"):
        read_rows(p, ["a", "b"])
    (tmp_path / "l.txt").write_bytes(b"\xef\xbb\xbfone\r\n\r\ntwo\n")
    assert read_list(tmp_path / "l.txt").values.tolist() == [["one", 1], ["two", 3]]


def test_cli_summary_and_errors(tmp_path, capsys):
    from data_fixtures import make_track3
    from sfi_mos.data.__main__ import main

    make_track3(tmp_path / "t3")
    assert main(["track3", str(tmp_path / "t3"), "--json", str(tmp_path / "s.json")]) == 0
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["splits"]["train"] == {"utterances": 12, "labelled": 12, "systems": 6, "ratings": 36,
                                    "mean_mos": s["splits"]["train"]["mean_mos"],
                                    "per_rate": {"16000": 4, "24000": 4, "48000": 4}}
    assert main(["folder", str(tmp_path / "t3"), "--check-audio", "full"]) == 0
    assert '"files": 24' in capsys.readouterr().out
    (tmp_path / "t3" / "DATA" / "utt_16k.csv").write_text("uttID,lisID,rating\nx,1,3\n")
    assert main(["track3", str(tmp_path / "t3")]) == 2
    assert "utt_16k.csv line 2" in capsys.readouterr().err
