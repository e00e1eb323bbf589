"""``python -m sfi_mos.metrics`` end to end (subprocess): table, --json content, every error case."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metrics_fixtures import track3_set
from sfi_mos.metrics import METRICS, evaluate, paired_bootstrap

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "sfi_mos.metrics", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("metrics_cli")
    pred, truth = track3_set(seed=11)
    pred.to_csv(d / "pred.csv", index=False)
    truth.to_csv(d / "truth.csv", index=False)
    worse = pred.assign(pred=pred["pred"][::-1].to_numpy())
    worse.to_csv(d / "pred_b.csv", index=False)
    return d, pred, truth, worse


def _same(a, b):
    """JSON (None for NaN) vs Python result (NaN)."""
    if isinstance(b, dict):
        assert set(a) == set(b)
        for k in b:
            _same(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(b, float) and math.isnan(b):
        assert a is None
    elif isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-12)
    else:
        assert a == b


def test_table_and_json(files, tmp_path):
    d, pred, truth, _ = files
    out = tmp_path / "sub" / "metrics.json"
    r = cli("--pred", d / "pred.csv", "--truth", d / "truth.csv", "--bootstrap", 200, "--seed", 3, "--json", out)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("88 utterances, 11 systems; system truth: mean of utterance MOS")
    assert "200 bootstrap draws (seed 3), 95% percentile CI" in lines[0]
    assert lines[1].split()[:7] == ["scope", "level", "n", "MSE", "LCC", "SRCC", "KTAU"]
    # one row per scope x level, with its count: 11 systems / 88 utterances, 3-4 systems / 24-32 per rate
    rows = [ln.replace(" Hz", "").split()[:3] for ln in lines[2:]]
    assert rows == [["all", "utt", "88"], ["all", "sys", "11"], ["16000", "utt", "24"], ["16000", "sys", "3"],
                    ["24000", "utt", "32"], ["24000", "sys", "4"], ["48000", "utt", "32"], ["48000", "sys", "4"]]
    got = json.loads(out.read_text())
    want = evaluate(pred, truth, bootstrap=200, seed=3)
    _same(got, want)
    assert set(got["utt"]) == set(METRICS) | {"ci"} and list(got["per_rate"]) == ["16000", "24000", "48000"]
    # the printed numbers are the JSON's, rounded
    first = lines[2].split()
    assert first[3] == f"{got['utt']['MSE']:.3f}"


def test_sys_truth_ratings_option(files, tmp_path):
    d, pred, truth, _ = files
    out = tmp_path / "m.json"
    r = cli("--pred", d / "pred.csv", "--truth", d / "truth.csv", "--sys-truth", "ratings", "--json", out)
    assert r.returncode == 0, r.stderr
    assert "system truth: mean of all ratings" in r.stdout
    _same(json.loads(out.read_text()), evaluate(pred, truth, sys_truth="ratings"))


def test_compare_paired(files, tmp_path):
    d, pred, truth, worse = files
    out = tmp_path / "paired.json"
    r = cli("--pred", d / "pred.csv", "--truth", d / "truth.csv", "--compare", d / "pred_b.csv",
            "--bootstrap", 100, "--json", out)
    assert r.returncode == 0, r.stderr
    assert "A - B (same bootstrap draws" in r.stdout
    _same(json.loads(out.read_text()), paired_bootstrap(pred, worse, truth, n=100, seed=0))


def _case(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text)
    return p


GOOD_TRUTH = "utt_id,mos\nx-16k_sys1_utt1,3\nx-16k_sys1_utt2,4\nx-24k_sys1_utt1,2\n"
GOOD_PRED = "utt_id,pred\nx-16k_sys1_utt1,3\nx-16k_sys1_utt2,4\nx-24k_sys1_utt1,2\n"


@pytest.mark.parametrize("pred_text, truth_text, expect", [
    ("utt_id,pred\nx-16k_sys1_utt1,3\n", GOOD_TRUTH, "pred.csv: 2 of 3 truth utterances have no prediction: "
                                                     "x-16k_sys1_utt2, x-24k_sys1_utt1"),
    (GOOD_PRED + "x-48k_sys9_utt1,3\n", GOOD_TRUTH, "pred.csv: 1 predictions are for utterances not in"),
    ("utt_id,pred\nx-16k_sys1_utt1,3\nx-16k_sys1_utt2,NaN\nx-24k_sys1_utt1,2\n", GOOD_TRUTH,
     "pred.csv, line 3: prediction 'NaN' is NaN"),
    ("utt_id,pred\nx-16k_sys1_utt1,3\nx-16k_sys1_utt2,four\nx-24k_sys1_utt1,2\n", GOOD_TRUTH,
     "pred.csv, line 3: prediction 'four'"),
    (GOOD_PRED + "x-16k_sys1_utt1,1\n", GOOD_TRUTH, "pred.csv, line 5: duplicate utt_id 'x-16k_sys1_utt1'"),
    ("utt_id,quality\nx-16k_sys1_utt1,3\n", GOOD_TRUTH, "pred.csv: missing prediction column"),
    (GOOD_PRED, "utt_id,quality\nx-16k_sys1_utt1,3\n", "truth.csv: missing MOS column"),
    (GOOD_PRED, "utt_id,mos\nx-16k_sys1_utt1,3\nx-16k_sys1_utt2,4\nbvcc-utt1,2\n",
     "truth.csv, line 4: no system_id column and utterance id 'bvcc-utt1' is not a Track 3 name"),
])
def test_error_cases(tmp_path, pred_text, truth_text, expect):
    p, t = _case(tmp_path, "pred.csv", pred_text), _case(tmp_path, "truth.csv", truth_text)
    out = tmp_path / "m.json"
    out.write_text("old")  # a failed run must leave an existing result untouched
    r = cli("--pred", p, "--truth", t, "--json", out)
    assert r.returncode == 2
    assert r.stdout == ""
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("error: ") and expect in err, err
    assert out.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".m.json")] == []


def test_missing_file_and_bad_seed(tmp_path):
    r = cli("--pred", tmp_path / "none.csv", "--truth", _case(tmp_path, "truth.csv", GOOD_TRUTH))
    assert r.returncode == 2 and "none.csv: file not found" in r.stderr and "Traceback" not in r.stderr
    p = _case(tmp_path, "pred.csv", GOOD_PRED)
    r = cli("--pred", p, "--truth", tmp_path / "truth.csv", "--bootstrap", 10, "--seed", -1)
    assert r.returncode == 2 and "seed: must be an integer >= 0" in r.stderr
    assert not (tmp_path / "m.json").exists()


def test_no_rate_table_and_help(tmp_path, capsys):
    from sfi_mos.metrics.__main__ import main

    t = _case(tmp_path, "t.csv", "utt_id,mos,system_id\nsysA-u1,1,A\nsysA-u2,2,A\nsysB-u1,4,B\nsysC-u1,3,C\n")
    p = _case(tmp_path, "p.csv", "utt_id,pred\nsysA-u1,1.5\nsysA-u2,2\nsysB-u1,3.5\nsysC-u1,3.4\n")
    assert main(["--pred", str(p), "--truth", str(t)]) == 0
    text = capsys.readouterr().out
    assert "4 utterances, 3 systems" in text and "no per-rate breakdown" in text
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "--sys-truth" in capsys.readouterr().out
