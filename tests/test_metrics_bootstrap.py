"""Bootstrap CIs: draws equal explicit resamples, determinism, CI sanity, paired comparison."""
from __future__ import annotations

import numpy as np
import pytest

from metrics_fixtures import ref_four, track3_set
from sfi_mos.errors import InputError
from sfi_mos.metrics import METRICS, evaluate, four_metrics, merge_pred_truth, paired_bootstrap, system_table
from sfi_mos.metrics import bootstrap as bs


def _expand(W_row):
    return np.repeat(np.arange(len(W_row)), W_row.astype(int))


def test_draw_counts_are_resamples():
    W = bs.draw_counts(7, 50, seed=1)
    assert W.shape == (50, 7) and (W.sum(1) == 7).all() and (W >= 0).all()
    assert np.array_equal(W, bs.draw_counts(7, 50, seed=1))
    assert not np.array_equal(W, bs.draw_counts(7, 50, seed=2))
    assert not np.array_equal(W, bs.draw_counts(7, 50, seed=1, stream=(0, 1)))


@pytest.mark.parametrize("seed", [0, 5])
def test_weighted_draws_equal_explicit_resample_metrics(seed):
    # integer truth and rounded predictions: plenty of ties, and duplicated items in every draw
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, 30).astype(float)
    y = np.round(x + rng.normal(0, 1, 30), 1)
    W = bs.draw_counts(30, 40, seed=seed)
    got = bs.weighted_metrics(W, x, y)
    for b in range(40):
        idx = _expand(W[b])
        want = ref_four(x[idx], y[idx])
        for m in METRICS:
            assert got[m][b] == pytest.approx(want[m], abs=1e-10), (m, b)
            assert got[m][b] == pytest.approx(four_metrics(x[idx], y[idx])[m], abs=1e-10)


def test_blockwise_path_matches_single_block(monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    W = bs.draw_counts(50, 30, seed=0)
    one = bs.weighted_metrics(W, x, y)
    monkeypatch.setattr(bs, "_BLOCK_ELEMS", 120)  # blocks of 2 rows
    many = bs.weighted_metrics(W, x, y)
    for m in METRICS:
        np.testing.assert_allclose(one[m], many[m], rtol=0, atol=1e-12)


def test_degenerate_draw_is_nan_and_ignored():
    W = np.array([[3.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # first draw: one item three times
    got = bs.weighted_metrics(W, np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0]))
    assert np.isnan(got["LCC"][0]) and np.isnan(got["KTAU"][0]) and got["MSE"][0] == 0.0
    assert bs.percentile_ci(got["LCC"]) == [pytest.approx(0.5), pytest.approx(0.5)]
    assert all(np.isnan(bs.percentile_ci(np.array([np.nan, np.nan]))))


def test_evaluate_bootstrap_deterministic_and_contains_point():
    pred, truth = track3_set(seed=1, n_utt=10)
    a = evaluate(pred, truth, bootstrap=300, seed=7)
    b = evaluate(pred, truth, bootstrap=300, seed=7)
    c = evaluate(pred, truth, bootstrap=300, seed=8)
    assert a == b
    assert a["utt"]["ci"] != c["utt"]["ci"]
    assert a["bootstrap"]["n"] == 300 and a["bootstrap"]["seed"] == 7
    for scope in [a] + list(a["per_rate"].values()):
        for lvl in ("utt", "sys"):
            assert set(scope[lvl]["ci"]) == set(METRICS)
            for m in METRICS:
                lo, hi = scope[lvl]["ci"][m]
                assert lo <= hi
    for lvl in ("utt", "sys"):  # overall: enough points for the point estimate to sit inside
        for m in METRICS:
            lo, hi = a[lvl]["ci"][m]
            assert lo <= a[lvl][m] <= hi, (lvl, m)
    assert "ci" not in evaluate(pred, truth)["utt"]


def test_system_ci_resamples_systems():
    pred, truth = track3_set(seed=2, n_utt=6)
    res = evaluate(pred, truth, bootstrap=200, seed=3)
    sys = system_table(merge_pred_truth(pred, truth))
    # the same draws by hand: stream (scope 0 = all, level 1 = sys)
    W = bs.draw_counts(len(sys), 200, 3, (0, 1))
    srcc = [ref_four(sys["mos"].to_numpy()[_expand(w)], sys["pred"].to_numpy()[_expand(w)])["SRCC"] for w in W]
    srcc = np.array(srcc)
    lo, hi = np.percentile(srcc[np.isfinite(srcc)], [2.5, 97.5])
    assert res["sys"]["ci"]["SRCC"] == [pytest.approx(lo), pytest.approx(hi)]


def test_paired_identical_predictions_give_zero_difference():
    pred, truth = track3_set(seed=5)
    res = paired_bootstrap(pred, pred.copy(), truth, n=200, seed=0)
    for scope in [res["diff"]] + list(res["diff"]["per_rate"].values()):
        for lvl in ("utt", "sys"):
            for m in METRICS:
                assert scope[lvl][m] == 0.0
                assert scope[lvl]["ci"][m] == [0.0, 0.0]
                assert scope[lvl]["p"][m] == 1.0


def test_paired_uses_the_same_draws_as_evaluate():
    pred, truth = track3_set(seed=6)
    worse = pred.assign(pred=pred["pred"] + np.random.default_rng(0).normal(0, 1.0, len(pred)))
    res = paired_bootstrap(pred, worse, truth, n=300, seed=4)
    ea = evaluate(pred, truth, bootstrap=300, seed=4)
    eb = evaluate(worse, truth, bootstrap=300, seed=4)
    assert res["a"] == ea and res["b"] == eb
    for lvl in ("utt", "sys"):
        for m in METRICS:
            assert res["diff"][lvl][m] == pytest.approx(ea[lvl][m] - eb[lvl][m])
            lo, hi = res["diff"][lvl]["ci"][m]
            assert lo <= hi
    # a clearly worse model: utterance MSE difference CI strictly below 0, p small
    assert res["diff"]["utt"]["ci"]["MSE"][1] < 0 and res["diff"]["utt"]["p"]["MSE"] < 0.05
    assert res["diff"]["utt"]["ci"]["LCC"][0] > 0


def test_paired_needs_same_coverage_and_valid_args():
    pred, truth = track3_set(seed=7)
    with pytest.raises(InputError, match="pred_b"):
        paired_bootstrap(pred, pred.iloc[1:], truth, n=10)
    with pytest.raises(InputError, match="bootstrap"):
        evaluate(pred, truth, bootstrap=-1)
    with pytest.raises(InputError, match="seed"):
        evaluate(pred, truth, bootstrap=10, seed=-3)
    with pytest.raises(InputError, match="at least 1"):
        paired_bootstrap(pred, pred, truth, n=0)
