import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from data_fixtures import PREFIX, make_track3, track3_name, write_lines, write_wav
from sfi_mos.data import RATING_COLUMNS, UTT_COLUMNS, per_utterance, read_corpus, read_track3
from sfi_mos.errors import InputError


def fails(fn, *fragments):
    with pytest.raises(InputError) as e:
        fn()
    for f in fragments:
        assert f in str(e.value), (f, str(e.value))
    return str(e.value)


def edit(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.fixture
def t3(tmp_path):
    root = tmp_path / "t3"
    return root, make_track3(root)


def test_tidy_tables(t3):
    root, made = t3
    c = read_track3(root)
    r = c.ratings
    assert list(r.columns) == RATING_COLUMNS and list(c.utterances.columns) == UTT_COLUMNS
    assert r["rating"].dtype == np.float64 and r["listener_id"].dtype == np.int64
    assert r["sample_rate"].dtype == np.int64
    # 12 training clips x 3 listeners, the same clips again in dev, 12 eval clips x 3
    assert r.groupby("split").size().to_dict() == {"train": 36, "dev": 36, "eval": 36}
    assert set(r["corpus"]) == {"track3"} and c.kind == "track3" and c.root == root.resolve()
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in r["wav_path"])
    row = r[r["utt_id"] == track3_name("24k", 2, 1)].iloc[0]
    assert (row["system_id"], row["sample_rate"]) == ("24k_sys2", 24000)
    assert row["wav_path"].endswith(track3_name("24k", 2, 1) + ".wav")
    assert sorted(set(r["system_id"])) == [f"{t}_sys{s}" for t in ("16k", "24k", "48k") for s in (1, 2)]
    # eval names in utt_mix_test.csv carry ".wav"; ids are the stems
    assert set(r.loc[r["split"] == "eval", "utt_id"]) == set(made["eval"])
    assert c.splits == ["train", "dev", "eval"]


def test_listener_ids_stable_train_first(t3):
    root, _ = t3
    c = read_track3(root)
    train = sorted(f"{t}:L{k}" for t in ("16k", "24k", "48k") for k in range(3))
    assert [n for n, _ in sorted(c.listeners.items(), key=lambda kv: kv[1])][:9] == train
    assert set(c.ratings["listener"]) == set(c.listeners)
    assert (c.ratings["listener"].map(c.listeners) == c.ratings["listener_id"]).all()
    # ids of training listeners do not change when the post-evaluation labels are absent
    os.remove(root / "val" / "utt_mix_val.csv")
    os.remove(root / "test" / "utt_mix_test.csv")
    os.remove(root / "val" / "sys_mix_val.csv")
    os.remove(root / "test" / "sys_mix_test.csv")
    c2 = read_track3(root)
    assert c2.listeners == {k: v for k, v in c.listeners.items() if k in train}
    unq = read_track3(root, qualify_listeners=False)
    assert set(unq.ratings["listener"]) == {"L0", "L1", "L2"}


def test_per_utterance_groups_by_split(t3):
    root, _ = t3
    c = read_track3(root)
    u = c.utterances
    name = track3_name("16k", 1, 2)
    both = u[u["utt_id"] == name].set_index("split")
    assert sorted(both.index) == ["dev", "train"]
    r = c.ratings
    for split in ("train", "dev"):
        mine = r[(r["utt_id"] == name) & (r["split"] == split)]["rating"]
        assert both.loc[split, "mos"] == pytest.approx(mine.mean())
        assert both.loc[split, "n_ratings"] == 3
    # train: ratings (s + u + k) % 5 + 1 with s=1, u=2, k=0..2 -> 4, 5, 1
    assert both.loc["train", "mos"] == pytest.approx(10 / 3)
    pd.testing.assert_frame_equal(per_utterance(r), u)  # every utterance is rated here


def test_unlabelled_eval_and_separate_eval_root(tmp_path):
    root, ev = tmp_path / "train", tmp_path / "evalphase"
    made = make_track3(root, post_eval=False, eval_root=ev)
    assert read_track3(root).splits == ["train"]  # no eval package given: no eval split
    c = read_track3(root, eval_root=ev)
    u = c.split_utterances("eval")
    assert set(u["utt_id"]) == set(made["eval"]) and len(u) == 12
    assert u["mos"].isna().all() and (u["n_ratings"] == 0).all()
    assert all(p.startswith(str(ev.resolve())) for p in u["wav_path"])
    assert set(c.ratings["split"]) == {"train"} and c.systems.empty


def test_eval_list_in_root_with_wav_suffix(tmp_path):
    root = tmp_path / "t3"
    made = make_track3(root, post_eval=False)
    lst = root / "DATA" / "sets" / "eval_list.txt"
    write_lines(lst, ["", *[n + ".wav" for n in made["eval"]], "  "])
    c = read_track3(root)
    assert set(c.split_utterances("eval")["utt_id"]) == set(made["eval"])


def test_official_system_means(t3):
    root, _ = t3
    s = read_track3(root).systems
    assert len(s) == 12 and set(s["split"]) == {"dev", "eval"}
    assert s.loc[(s["split"] == "dev") & (s["system_id"] == "48k_sys2"), "mos"].item() == 3.0


def test_deobfuscated_names_map_to_obfuscated_ids(t3):
    root, made = t3
    write_lines(root / "sysMap.txt", ["originalSR|sys1", "original|sys2"])
    write_lines(root / "uttMap.txt", ["1089_134686_000015_000002|utt01", "sentB|utt02",
                                      "sentX|utt50", "sentY|utt51"])
    val = root / "val" / "utt_mix_val.csv"
    text = val.read_text()
    text = text.replace("_sys1_utt01,", "_originalSR_1089_134686_000015_000002,")
    text = text.replace("_sys2_utt02,", "_original_sentB,")
    val.write_text(text)
    edit(root / "val" / "sys_mix_val.csv", f"{PREFIX}-24k_sys1,", f"{PREFIX}-24k_originalSR,")
    c = read_track3(root)
    dev = c.split_ratings("dev")
    assert set(dev["utt_id"]) == set(made["train"])  # every renamed row joined its wav
    assert set(dev["system_id"]) == set(c.split_ratings("train")["system_id"])
    assert "24k_sys1" in set(c.systems.loc[c.systems["split"] == "dev", "system_id"])
    edit(val, "_original_sentB,", "_original_sentZ,")
    fails(lambda: read_track3(root), "utt_mix_val.csv line", "'sentZ'", "uttMap.txt")


def test_own_prefix_and_extra_rate(tmp_path):
    root = tmp_path / "syn"
    lines = ["uttID,lisID,rating"]
    for u in (1, 2):
        name = f"synth-v1-22k_sys7_utt{u:02d}"
        write_wav(root / "DATA" / "wav" / f"{name}.wav", 22050)
        lines += [f"{name},a,3", f"{name},b,4"]
    write_lines(root / "DATA" / "utt_22k.csv", lines)
    c = read_corpus("track3", root)
    assert set(c.ratings["system_id"]) == {"22k_sys7"} and set(c.ratings["sample_rate"]) == {22050}
    assert c.utterances["mos"].tolist() == [3.5, 3.5]


def test_larger_corpus(tmp_path):
    root = tmp_path / "big"
    make_track3(root, n_sys=3, n_utt=10, n_lis=10, n_eval=10)  # 90 train + 90 eval wavs
    c = read_track3(root)
    assert len(c.ratings) == 90 * 10 * 3  # train, dev (same clips) and eval
    assert len(c.listeners) == 50 and c.utterances["n_ratings"].eq(10).all()


def test_check_audio_flag(t3):
    root, made = t3
    bad = root / "DATA" / "wav" / f"{made['train'][0]}.wav"
    bad.write_bytes(b"not audio at all" * 50)
    fails(lambda: read_track3(root), made["train"][0], "unreadable or corrupt", "utt_16k.csv line 2")
    assert len(read_track3(root, check_audio=False).ratings) == 108
    fails(lambda: read_track3(root, check_audio="maybe"), "check_audio")


def test_nan_samples_need_full_check(t3):
    root, made = t3
    x = np.zeros(2400, np.float32)
    x[5] = np.nan
    sf.write(root / "DATA" / "wav" / f"{made['train'][5]}.wav", x, 24000, subtype="FLOAT")
    read_track3(root)  # the header check cannot see sample values
    fails(lambda: read_track3(root, check_audio="full"), "NaN/inf", made["train"][5])


def test_eval_list_without_its_wavs(tmp_path):
    root, ev = tmp_path / "train", tmp_path / "evalphase"
    made = make_track3(root, post_eval=False, eval_root=ev)
    (root / "DATA" / "sets").mkdir()
    os.replace(ev / "DATA" / "sets" / "eval_list.txt", root / "DATA" / "sets" / "eval_list.txt")
    fails(lambda: read_track3(root), "eval_list.txt line 1", "unknown utterance",
          made["eval"][0])
    assert len(read_track3(root, eval_root=ev).split_utterances("eval")) == 12
