"""Every kind of bad Track 3 input fails with an InputError naming the file, line and problem."""
import numpy as np
import pytest
import soundfile as sf

from data_fixtures import PREFIX, make_track3, track3_name, write_lines, write_wav
from sfi_mos.data import read_track3
from sfi_mos.errors import InputError


def fails(root, *fragments, **kw):
    with pytest.raises(InputError) as e:
        read_track3(root, **kw)
    for f in fragments:
        assert f in str(e.value), (f, str(e.value))
    return str(e.value)


@pytest.fixture
def t3(tmp_path):
    root = tmp_path / "t3"
    make_track3(root)
    return root


def csv16(root):
    return root / "DATA" / "utt_16k.csv"


def set_line(path, lineno, text):
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    write_lines(path, lines)


U = track3_name("16k", 1, 1)  # first clip in utt_16k.csv (lines 2-4)
WAV = lambda root: root / "DATA" / "wav" / f"{U}.wav"  # noqa: E731


def test_missing_wav(t3):
    WAV(t3).unlink()
    fails(t3, "utt_16k.csv line 2", f"unknown utterance '{U}'", f"no {U}.wav in")


def test_too_short_wav(t3):
    write_wav(WAV(t3), 16000, seconds=300 / 16000)
    fails(t3, f"{U}.wav (listed in", "utt_16k.csv line 2", "too short: 300 samples")


def test_empty_wav(t3):
    sf.write(WAV(t3), np.zeros(0, np.float32), 16000)
    fails(t3, f"{U}.wav", "empty")


def test_wav_rate_contradicts_name(t3):
    write_wav(WAV(t3), 22050)
    fails(t3, f"{U}.wav", "22050 Hz but 16000 Hz is expected")


def test_clip_in_wrong_rate_file(t3):
    other = track3_name("24k", 1, 1)
    set_line(csv16(t3), 3, f"{other},L9,3")
    fails(t3, "utt_16k.csv line 3", "24000 Hz clip", "16000 Hz single-rate test")


@pytest.mark.parametrize("value,problem", [
    ("nan", "'nan' is not a finite number"), ("", "'' is not a finite number"),
    ("abc", "'abc' is not a finite number"), ("inf", "not a finite number"),
    ("0", "'0' is outside the range 1-5"), ("6", "outside the range"), ("5.5", "outside")])
def test_bad_ratings(t3, value, problem):
    set_line(csv16(t3), 4, f"{U},L2,{value}")
    fails(t3, "utt_16k.csv line 4", problem)


def test_line_numbers_count_blank_lines(t3):
    lines = csv16(t3).read_text().splitlines()
    lines.insert(2, "")
    lines[4] = f"{U},L2,9"
    write_lines(csv16(t3), lines)
    fails(t3, "utt_16k.csv line 5", "'9' is outside")


def test_duplicate_utt_listener(t3):
    set_line(csv16(t3), 4, f"{U},L0,2")
    fails(t3, "utt_16k.csv line 4", "duplicate rating", "first seen on line 2")


def test_duplicate_after_canonical_names(t3):
    set_line(csv16(t3), 4, f"{U}.wav,L0,2")  # same clip, written with .wav
    fails(t3, "line 4", "duplicate rating")


def test_missing_column(t3):
    set_line(csv16(t3), 1, "uttID,listener,rating")
    fails(t3, "utt_16k.csv line 1", "missing required column(s) lisID")


def test_ragged_row(t3):
    set_line(csv16(t3), 3, f"{U},L1")
    fails(t3, "utt_16k.csv line 3", "expected 3 comma-separated fields", "found 2")


def test_empty_ids(t3):
    set_line(csv16(t3), 3, f"{U},,3")
    fails(t3, "utt_16k.csv line 3", "empty lisID")
    set_line(csv16(t3), 3, ",L1,3")
    fails(t3, "utt_16k.csv line 3", "empty uttID")


def test_bad_name(t3):
    set_line(csv16(t3), 2, "some_clip,L0,3")
    fails(t3, "utt_16k.csv line 2", "'some_clip' does not look like")
    set_line(csv16(t3), 2, f"{PREFIX}-16k_sys1,L0,3")
    fails(t3, "utt_16k.csv line 2", "no utterance part")


def test_eval_rating_for_unlisted_clip(t3):
    path = t3 / "test" / "utt_mix_test.csv"
    set_line(path, 2, f"{track3_name('16k', 1, 99)},M0,3")
    write_wav(t3 / "DATA" / "wav" / f"{track3_name('16k', 1, 99)}.wav", 16000)
    fails(t3, "utt_mix_test.csv line 2", "unknown utterance", "not in", "eval_list.txt")


def test_eval_list_unknown_and_duplicate(t3):
    lst = t3 / "DATA" / "sets" / "eval_list.txt"
    lines = lst.read_text().splitlines()
    write_lines(lst, lines + [track3_name("48k", 2, 77)])
    fails(t3, f"eval_list.txt line {len(lines) + 1}", "unknown utterance", "utt77")
    write_lines(lst, lines + [lines[0] + ".wav"])
    fails(t3, f"eval_list.txt line {len(lines) + 1}", "duplicate eval utterance", "first seen on line 1")


def test_training_clip_in_eval_list(t3):
    lst = t3 / "DATA" / "sets" / "eval_list.txt"
    write_lines(lst, lst.read_text().splitlines() + [U])
    fails(t3, "utt_16k.csv line 2", f"'{U}' is a training label but also an eval utterance in",
          "eval_list.txt")


def test_training_clip_in_eval_labels(t3):
    (t3 / "DATA" / "sets" / "eval_list.txt").unlink()
    path = t3 / "test" / "utt_mix_test.csv"
    set_line(path, 2, f"{U},M0,3")
    fails(t3, "utt_16k.csv line 2", "also an eval utterance in the eval labels")


def test_unknown_system_in_sys_file(t3):
    path = t3 / "val" / "sys_mix_val.csv"
    set_line(path, 3, f"{PREFIX}-16k_sys9,3.2")
    fails(t3, "sys_mix_val.csv line 3", "unknown system", "16k_sys9")
    set_line(path, 3, f"{PREFIX}-16k_sys2,x")
    fails(t3, "sys_mix_val.csv line 3", "MOS 'x' is not a finite number")


def test_bad_map_file(t3):
    write_lines(t3 / "sysMap.txt", ["originalSR|sys1", "broken line"])
    fails(t3, "sysMap.txt line 2", "expected 'name|id'")
    write_lines(t3 / "sysMap.txt", ["a|sys1", "a|sys2"])
    fails(t3, "sysMap.txt line 2", "already mapped on line 1")


def test_not_a_corpus(tmp_path):
    fails(tmp_path, "DATA/ folder missing")
    (tmp_path / "DATA").mkdir()
    fails(tmp_path, "no training label files")
    fails(tmp_path, "eval_root has no DATA", eval_root=tmp_path / "nothing")
