"""Exact system truth: ties in the rationals stay ties (hand-made case, random sets against Fractions)."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from metrics_fixtures import ref_kendall_b, ref_spearman
from sfi_mos.metrics import evaluate, four_metrics, merge_pred_truth, system_table
from sfi_mos.metrics import bootstrap as bs
from sfi_mos.metrics.exact import rank_key, to_fraction
from sfi_mos.metrics.tie_study import float_system_metrics, simulate

# systems A and B have exactly the same MOS, 1.2, but float means split them:
# np.mean([1.1, 1.3]) = 1.2000000000000002 > np.mean([1.0, 1.4]) = 1.2
TIE_TRUTH = "utt_id,mos,system_id\na1,1.1,A\na2,1.3,A\nb1,1.0,B\nb2,1.4,B\nc1,3.0,C\nc2,3.0,C\n"
TIE_PRED = "utt_id,pred\na1,2\na2,2\nb1,1\nb2,1\nc1,3\nc2,3\n"


def test_float_means_break_the_hand_made_tie():
    assert np.mean([1.1, 1.3]) > np.mean([1.0, 1.4])  # the premise of the case
    assert Fraction("1.1") + Fraction("1.3") == Fraction("1.0") + Fraction("1.4")


def test_hand_made_tie_is_kept(tmp_path):
    (tmp_path / "t.csv").write_text(TIE_TRUTH)
    (tmp_path / "p.csv").write_text(TIE_PRED)
    from sfi_mos.metrics import load_pred, load_truth
    res = evaluate(load_pred(tmp_path / "p.csv"), load_truth(tmp_path / "t.csv"))
    # truth ranks A=B=1.5, C=3; prediction ranks A=2, B=1, C=3 (system means 2, 1, 3)
    # centred: t (-.5, -.5, 1), p (0, -1, 1): r = 1.5 / sqrt(1.5 * 2) = sqrt(3)/2
    # tau-b: (A,B) tied in truth only; (A,C), (B,C) concordant -> 2 / sqrt(3 * 2)
    assert res["sys"]["SRCC"] == pytest.approx(math.sqrt(3) / 2, abs=1e-15)
    assert res["sys"]["KTAU"] == pytest.approx(2 / math.sqrt(6), abs=1e-15)
    # what the float convention reports: the tie broken, a perfect ranking
    sys = system_table(merge_pred_truth(load_pred(tmp_path / "p.csv"), load_truth(tmp_path / "t.csv")))
    assert sys["mos_exact"].tolist() == [Fraction(6, 5), Fraction(6, 5), Fraction(3)]
    assert sys["mos"].tolist()[0] == sys["mos"].tolist()[1] == 1.2
    assert scipy.stats.spearmanr([np.mean([1.1, 1.3]), np.mean([1.0, 1.4]), 3.0], [2, 1, 3])[0] == pytest.approx(1.0)


def _ratings_for(mos_tenths: dict[str, tuple[str, int]]) -> pd.DataFrame:
    """Ten integer ratings per utterance with the given sum (MOS = sum / 10)."""
    rows = []
    for u, (s, total) in mos_tenths.items():
        base, extra = divmod(total, 10)
        rows += [(u, f"L{k}", base + (k < extra), s) for k in range(10)]
    return pd.DataFrame(rows, columns=["utt_id", "listener_id", "rating", "system_id"])


def test_hand_made_tie_from_ratings_and_both_conventions():
    truth = _ratings_for({"a1": ("A", 11), "a2": ("A", 13), "b1": ("B", 10), "b2": ("B", 14),
                          "c1": ("C", 30), "c2": ("C", 30)})
    pred = pd.DataFrame({"utt_id": ["a1", "a2", "b1", "b2", "c1", "c2"], "pred": [2, 2, 1, 1, 3, 3]})
    for conv in ("utterance", "ratings"):
        res = evaluate(pred, truth, sys_truth=conv)
        assert res["sys"]["SRCC"] == pytest.approx(math.sqrt(3) / 2, abs=1e-15), conv
        assert res["sys"]["KTAU"] == pytest.approx(2 / math.sqrt(6), abs=1e-15), conv
    m = merge_pred_truth(pred, truth)
    # equal ratings per utterance: the two conventions agree exactly, not to rounding
    assert system_table(m, "utterance")["mos_exact"].tolist() == system_table(m, "ratings")["mos_exact"].tolist()


def test_prediction_ties_are_exact_too():
    # predictions 0.1 + 0.2 vs 0.3 + 0.0: equal system means; float sums differ
    truth = pd.DataFrame({"utt_id": list("abcdef"), "mos": [1, 2, 3, 4, 5, 5], "system_id": list("AABBCC")})
    pred = pd.DataFrame({"utt_id": list("abcdef"), "pred": [0.1, 0.2, 0.3, 0.0, 1.0, 1.0]})
    assert 0.1 + 0.2 != 0.3 + 0.0
    res = evaluate(pred, truth)
    # system truth 1.5, 3.5, 5; predictions tied for A, B (0.15), then C: tau-b = 2 / sqrt(3 * 2)
    assert res["sys"]["KTAU"] == pytest.approx(2 / math.sqrt(6), abs=1e-15)


@pytest.mark.parametrize("text, want", [("3.7", Fraction(37, 10)), (" 4 ", Fraction(4)), ("1e-1", Fraction(1, 10)),
                                        (".5", Fraction(1, 2)), ("-2.50", Fraction(-5, 2)),
                                        (0.1, Fraction(1, 10)), (np.float64(2.65), Fraction(53, 20)),
                                        (np.int64(3), Fraction(3)), (Fraction(84, 19), Fraction(84, 19))])
def test_to_fraction(text, want):
    assert to_fraction(text) == want


@pytest.mark.parametrize("bad", ["", "nan", "inf", "-Infinity", "abc", "7/2", "1_0", "0x10", None, float("nan"),
                                 True, pd.NA])
def test_to_fraction_rejects(bad):
    assert to_fraction(bad) is None


def test_rank_key_is_dense_and_exact():
    vals = [Fraction(6, 5), Fraction(3), Fraction(6, 5), Fraction(1, 3), Fraction(1, 3) + Fraction(1, 10 ** 30)]
    assert rank_key(vals).tolist() == [2, 3, 2, 0, 1]  # 1/3 + 1e-30 ranks above 1/3: no float could


def _exact_reference(truth: pd.DataFrame, pred: pd.DataFrame) -> tuple[float, float]:
    """System SRCC, KTAU from Fractions and brute-force formulas (independent of the package)."""
    sums: dict = {}
    for u, r in zip(truth["utt_id"], truth["rating"]):
        s, n = sums.get(u, (Fraction(0), 0))
        sums[u] = (s + Fraction(int(r)), n + 1)
    sysof = dict(zip(truth["utt_id"], truth["system_id"]))
    t_sys: dict = {}
    p_sys: dict = {}
    for u, p in zip(pred["utt_id"], pred["pred"]):
        t_sys.setdefault(sysof[u], []).append(sums[u][0] / sums[u][1])
        p_sys.setdefault(sysof[u], []).append(Fraction(repr(float(p))))
    names = sorted(t_sys)
    t = [sum(t_sys[s]) / len(t_sys[s]) for s in names]
    p = [sum(p_sys[s]) / len(p_sys[s]) for s in names]
    return ref_spearman(t, p), ref_kendall_b(t, p)


def _tied_set(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """8 systems; some are copies of another's ratings in shuffled utterance order (exact ties)."""
    rows, preds = [], []
    systems = []
    for s in range(8):
        if s >= 2 and rng.random() < 0.5:
            src = systems[int(rng.integers(0, len(systems)))]
            ratings = [src[i] for i in rng.permutation(len(src))]
        else:
            q = rng.uniform(1.5, 4.5)
            ratings = [np.clip(np.round(q + rng.normal(0, 1, int(rng.integers(3, 6)))), 1, 5).astype(int).tolist()
                       for _ in range(int(rng.integers(3, 9)))]
        systems.append(ratings)
        for u, rs in enumerate(ratings):
            rows += [(f"s{s}u{u}", f"L{k}", r, f"S{s}") for k, r in enumerate(rs)]
            preds.append((f"s{s}u{u}", round(float(np.mean(rs)) + rng.normal(0, 0.5), 1)))  # rounded: pred ties too
    return (pd.DataFrame(preds, columns=["utt_id", "pred"]),
            pd.DataFrame(rows, columns=["utt_id", "listener_id", "rating", "system_id"]))


def test_random_tied_sets_match_exact_rationals():
    split = 0
    for seed in range(30):
        pred, truth = _tied_set(np.random.default_rng(seed))
        res = evaluate(pred, truth)
        srcc, ktau = _exact_reference(truth, pred)
        assert res["sys"]["SRCC"] == pytest.approx(srcc, abs=1e-12), seed
        assert res["sys"]["KTAU"] == pytest.approx(ktau, abs=1e-12), seed
        m = merge_pred_truth(pred, truth)
        g = m.groupby("system_id")
        floats = scipy.stats.kendalltau(g["mos"].mean(), g["pred"].mean())[0]
        split += abs(floats - ktau) > 1e-12
    assert split > 0  # the sets do hold ties that float means break, so the test can fail


def test_bootstrap_draws_use_exact_keys():
    x = np.array([1.2, 1.2000000000000002, 3.0, 2.0])  # floats of two equal exact means, split by rounding
    key = np.array([0.0, 0.0, 2.0, 1.0])
    y = np.array([2.0, 1.0, 3.0, 2.5])
    W = bs.draw_counts(4, 60, seed=3)
    got = bs.weighted_metrics(W, x, y, key, None)
    for b in range(60):
        idx = np.repeat(np.arange(4), W[b].astype(int))
        want = four_metrics(x[idx], y[idx], key[idx], None)
        for m in ("MSE", "LCC", "SRCC", "KTAU"):
            np.testing.assert_allclose(got[m][b], want[m], rtol=0, atol=1e-10, err_msg=m)


def test_tie_study_float_conventions_agree_without_exact_ties():
    checked = 0
    for d in range(6):
        pred, truth = simulate(np.random.default_rng([0, d]))
        assert len(pred) == 400 and len(truth) == 4000 and truth["rating"].between(1, 5).all()
        sums = truth.groupby(truth["uttID"].str.extract(r"-(\d+k_sys\d+)_")[0])["rating"].sum()
        if sums.duplicated().any():
            continue  # 200 ratings per system: equal sums are exactly the ties
        checked += 1
        exact = evaluate(pred, truth)["sys"]
        for how in ("sheet", "pandas"):  # distinct means are >= 1/200 apart: floats order them right
            f = float_system_metrics(pred, truth, how)
            assert f["SRCC"] == pytest.approx(exact["SRCC"], abs=1e-12)
            assert f["KTAU"] == pytest.approx(exact["KTAU"], abs=1e-12)
    assert checked > 0
