"""The eight numbers against hand-computed values and independent formulas; system aggregation; per rate."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from metrics_fixtures import ref_four, ref_kendall_b, track3_set
from sfi_mos.errors import InputError
from sfi_mos.metrics import (METRICS, evaluate, four_metrics, merge_pred_truth, system_table,
                             utt_sys_metrics)


def close(a: dict, b: dict, tol=1e-12):
    for m in METRICS:
        assert a[m] == pytest.approx(b[m], abs=tol), m


def test_hand_computed_no_ties():
    # x = 1..5, y = 2,1,4,3,5: errors 1,1,1,1,0 -> MSE 0.8; centred sums: Sxy 8, Sxx = Syy = 10 -> r 0.8;
    # no ties so SRCC = r = 0.8; 8 concordant, 2 discordant of 10 pairs -> tau 0.6
    got = four_metrics([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    close(got, {"MSE": 0.8, "LCC": 0.8, "SRCC": 0.8, "KTAU": 0.6})


def test_hand_computed_with_ties_is_tau_b():
    # x = 1,1,2,3; y = 1,2,2,3: 4 concordant, 0 discordant, 1 pair tied only in x, 1 only in y
    # tau-b = 4 / sqrt(5 * 5) = 0.8 (tau-a would be 4/6); ranks x 1.5,1.5,3,4, y 1,2.5,2.5,4 -> 3.75/4.5
    got = four_metrics([1, 1, 2, 3], [1, 2, 2, 3])
    close(got, {"MSE": 0.25, "LCC": 2 / math.sqrt(5.5), "SRCC": 3.75 / 4.5, "KTAU": 0.8})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_independent_formulas_on_random_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, 25).astype(float)  # many ties, as integer MOS
    y = np.round(rng.normal(3, 1, 25), 1)
    close(four_metrics(x, y), ref_four(x, y), tol=1e-12)


def test_degenerate_inputs_give_nan():
    got = four_metrics([3.0, 3.0, 3.0], [1.0, 2.0, 3.0])
    assert got["MSE"] == pytest.approx(5 / 3)
    assert all(math.isnan(got[m]) for m in ("LCC", "SRCC", "KTAU"))
    one = four_metrics([2.0], [3.0])
    assert one["MSE"] == 1.0 and math.isnan(one["LCC"])


def _sys_fixture():
    # system A (16k_sys1): utt MOS 2 (1 rating) and 3 (3 ratings); preds 2.5, 2.5
    # system B (16k_sys2): MOS 4 (2 ratings); pred 3.0
    # system C (24k_sys1): MOS 1, 2, 3 (1 rating each); preds 1, 1, 1.6
    truth = pd.DataFrame([
        ("p-16k_sys1_utt1", "l1", 2), ("p-16k_sys1_utt2", "l1", 3), ("p-16k_sys1_utt2", "l2", 3),
        ("p-16k_sys1_utt2", "l3", 3), ("p-16k_sys2_utt1", "l1", 4), ("p-16k_sys2_utt1", "l2", 4),
        ("p-24k_sys1_utt1", "l1", 1), ("p-24k_sys1_utt2", "l1", 2), ("p-24k_sys1_utt3", "l1", 3),
    ], columns=["uttID", "lisID", "rating"])
    pred = pd.DataFrame({"utt_id": ["p-16k_sys1_utt1", "p-16k_sys1_utt2", "p-16k_sys2_utt1",
                                    "p-24k_sys1_utt1", "p-24k_sys1_utt2", "p-24k_sys1_utt3"],
                         "pred": [2.5, 2.5, 3.0, 1.0, 1.0, 1.6]})
    return pred, truth


def test_system_means_utterance_convention():
    pred, truth = _sys_fixture()
    sys = system_table(merge_pred_truth(pred, truth)).set_index("system_id")
    assert list(sys.index) == ["16k_sys1", "16k_sys2", "24k_sys1"]
    assert sys["mos"].tolist() == pytest.approx([2.5, 4.0, 2.0])
    assert sys["pred"].tolist() == pytest.approx([2.5, 3.0, 1.2])
    assert sys["n_utt"].tolist() == [2, 1, 3]
    res = evaluate(pred, truth)
    close(res["sys"], ref_four([2.5, 4.0, 2.0], [2.5, 3.0, 1.2]))
    assert res["n_sys"] == 3 and res["n_utt"] == 6
    close(res["utt"], ref_four([2, 3, 4, 1, 2, 3], [2.5, 2.5, 3.0, 1.0, 1.0, 1.6]))


def test_system_means_ratings_convention():
    pred, truth = _sys_fixture()
    sys = system_table(merge_pred_truth(pred, truth), "ratings").set_index("system_id")
    # A: (2 + 3*3) / 4 = 2.75; B: 4; C: 2 (one rating each)
    assert sys["mos"].tolist() == pytest.approx([2.75, 4.0, 2.0])
    res = evaluate(pred, truth, sys_truth="ratings")
    close(res["sys"], ref_four([2.75, 4.0, 2.0], [2.5, 3.0, 1.2]))
    assert res["sys_truth"] == "ratings"
    # utterance-level numbers do not depend on the system convention
    close(res["utt"], evaluate(pred, truth)["utt"])


def test_ratings_convention_needs_counts():
    pred, truth = _sys_fixture()
    per_utt = merge_pred_truth(pred, truth)[["utt_id", "mos"]]
    with pytest.raises(InputError, match="per-rating truth"):
        evaluate(pred, per_utt, sys_truth="ratings")
    # an n_ratings column is enough
    with_n = merge_pred_truth(pred, truth)[["utt_id", "mos", "n_ratings"]]
    assert evaluate(pred, with_n, sys_truth="ratings")["sys"] == evaluate(pred, truth, sys_truth="ratings")["sys"]
    with pytest.raises(InputError, match="sys_truth"):
        evaluate(pred, truth, sys_truth="listeners")


def test_per_rate_breakdown_equals_subset_scores():
    pred, truth = track3_set(seed=3)
    res = evaluate(pred, truth)
    assert list(res["per_rate"]) == ["16000", "24000", "48000"]
    merged = merge_pred_truth(pred, truth)
    for rate, n_sys in (("16000", 3), ("24000", 4), ("48000", 4)):
        sub = merged[merged["sample_rate"] == int(rate)]
        pr = res["per_rate"][rate]
        assert pr["n_sys"] == n_sys and pr["n_utt"] == len(sub) == n_sys * 8
        close(pr["utt"], ref_four(sub["mos"], sub["pred"]), tol=1e-10)
        g = sub.groupby("system_id")
        close(pr["sys"], ref_four(g["mos"].mean(), g["pred"].mean()), tol=1e-10)
    # overall = all 11 systems
    g = merged.groupby("system_id")
    close(res["sys"], ref_four(g["mos"].mean(), g["pred"].mean()), tol=1e-10)
    assert res["n_sys"] == 11 and res["n_utt"] == 88


def test_row_order_does_not_matter():
    pred, truth = track3_set(seed=4)
    a = evaluate(pred, truth)
    b = evaluate(pred.sample(frac=1, random_state=1), truth.sample(frac=1, random_state=2))
    for lvl in ("utt", "sys"):
        close(a[lvl], b[lvl], tol=1e-12)


def test_no_rate_without_rate_information():
    truth = pd.DataFrame({"utt_id": ["sysA-u1", "sysA-u2", "sysB-u1", "sysB-u2"],
                          "system_id": ["A", "A", "B", "B"], "mos": [1.0, 2.0, 3.0, 5.0]})
    pred = pd.DataFrame({"utt_id": ["sysA-u1", "sysA-u2", "sysB-u1", "sysB-u2"], "pred": [1.5, 2.0, 3.5, 4.0]})
    res = evaluate(pred, truth)
    assert res["per_rate"] == {} and res["n_sys"] == 2
    assert res["sys"]["MSE"] == pytest.approx(((1.5 - 1.75) ** 2 + (4.0 - 3.75) ** 2) / 2)
    assert res["sys"]["KTAU"] == pytest.approx(ref_kendall_b([1.5, 4.0], [1.75, 3.75]))


def test_utt_sys_metrics_shape():
    pred, truth = _sys_fixture()
    res = utt_sys_metrics(merge_pred_truth(pred, truth))
    assert set(res) == {"utt", "sys", "n_utt", "n_sys"}
    assert set(res["utt"]) == set(METRICS) and all(isinstance(v, float) for v in res["sys"].values())
