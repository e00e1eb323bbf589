"""``python -m sfi_mos.metrics.tie_study``: how often float system means change system SRCC / KTAU.

Simulates Track 3-sized eval sets (20 systems: 4 at 16 kHz, 8 each at 24 and 48 kHz; 20
utterances per system; 10 integer ratings 1-5 per utterance; each system a quality drawn
uniformly from ``--quality LO HI``, each rating that quality plus listener noise, rounded and
clipped; predictions the quality plus noise), and scores each set's system level three ways:

* ``exact``: this package (:func:`sfi_mos.metrics.evaluate`): rational means, exact ties;
* ``sheet``: as ``unilight/sheet`` ``utils/calculate_metrics.py``: utterance MOS = ``np.mean`` of
  the float ratings, system MOS = ``np.mean`` of the utterance MOS in file order;
* ``pandas``: float ``groupby().mean()`` of the ratings, then of the utterance MOS, in file order
  (what ``sfi_mos.metrics`` did before it became exact).

Float means depend on the row order, so the file order is a parameter: system by system
(default) or shuffled (``--shuffle``).

Prints, per float convention, in how many draws system SRCC or KTAU differs from ``exact`` and by
how much, next to how many draws have two systems with exactly the same MOS.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
import scipy.stats

from sfi_mos.metrics.evaluate import evaluate

LAYOUT = ((16, 4), (24, 8), (48, 8))


def simulate(rng: np.random.Generator, quality=(1.5, 4.5), n_utt: int = 20, n_ratings: int = 10,
             listener_sd: float = 1.0, pred_sd: float = 0.5, shuffle: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One eval set -> (predictions utt_id,pred; per-rating truth uttID,lisID,rating).

    Rows are in system order, or, with ``shuffle``, in one random utterance order shared by both
    tables (the "file order" that float means depend on).
    """
    rows, preds = [], []
    for rate, n_sys in LAYOUT:
        for s in range(n_sys):
            q = rng.uniform(*quality)
            for u in range(n_utt):
                uid = f"sim-{rate}k_sys{s}_utt{u:02d}"
                r = np.clip(np.round(q + rng.normal(0, listener_sd, n_ratings)), 1, 5).astype(int)
                rows.append([(uid, f"L{k}", int(x)) for k, x in enumerate(r)])
                preds.append((uid, float(q + rng.normal(0, pred_sd))))
    if shuffle:
        perm = rng.permutation(len(preds))
        rows, preds = [rows[i] for i in perm], [preds[i] for i in perm]
    truth = pd.DataFrame([r for utt in rows for r in utt], columns=["uttID", "lisID", "rating"])
    return pd.DataFrame(preds, columns=["utt_id", "pred"]), truth


def float_system_metrics(pred: pd.DataFrame, truth: pd.DataFrame, how: str) -> dict[str, float]:
    """System SRCC/KTAU with float means (``how`` = "sheet" or "pandas"), rows in file order."""
    system = pred["utt_id"].str.extract(r"-(\d+k_sys\d+)_")[0]
    if how == "sheet":
        per_utt = {u: np.mean(np.array(g.tolist(), dtype=float)) for u, g in truth.groupby("uttID", sort=False)["rating"]}
        t_lists: dict = {}
        p_lists: dict = {}
        for s, u, p in zip(system, pred["utt_id"], pred["pred"]):  # insertion (file) order, as SHEET
            t_lists.setdefault(s, []).append(per_utt[u])
            p_lists.setdefault(s, []).append(p)
        t = np.array([np.mean(v) for v in t_lists.values()])
        p = np.array([np.mean(p_lists[s]) for s in t_lists])
    elif how == "pandas":  # the former sfi_mos.metrics: float rating means, then float system means
        mos = truth.assign(rating=truth["rating"].astype(float)).groupby("uttID", sort=False)["rating"].mean()
        m = pd.DataFrame({"system": system, "mos": pred["utt_id"].map(mos), "pred": pred["pred"]})
        g = m.groupby("system", sort=True)
        t, p = g["mos"].mean().to_numpy(), g["pred"].mean().to_numpy()
    else:
        raise ValueError(how)
    return {"SRCC": float(scipy.stats.spearmanr(t, p)[0]), "KTAU": float(scipy.stats.kendalltau(t, p)[0])}


def run(draws: int = 1000, seed: int = 0, quality=(1.5, 4.5), shuffle: bool = False) -> dict:
    """Counts over ``draws`` simulated sets; see the module docstring."""
    conv = ("sheet", "pandas")
    out = {"draws": draws, "seed": seed, "quality": list(quality), "shuffle": shuffle, "exact_tie_draws": 0,
           **{c: {"differs": 0, "max_abs_dSRCC": 0.0, "max_abs_dKTAU": 0.0} for c in conv}}
    for d in range(draws):
        pred, truth = simulate(np.random.default_rng([seed, d]), quality, shuffle=shuffle)
        res = evaluate(pred, truth)
        sums = truth.groupby(truth["uttID"].str.extract(r"-(\d+k_sys\d+)_")[0])["rating"].sum()
        out["exact_tie_draws"] += int(sums.duplicated().any())  # equal n per system: equal sums = equal MOS
        for c in conv:
            f = float_system_metrics(pred, truth, c)
            ds, dk = abs(f["SRCC"] - res["sys"]["SRCC"]), abs(f["KTAU"] - res["sys"]["KTAU"])
            if ds > 1e-12 or dk > 1e-12:
                out[c]["differs"] += 1
            out[c]["max_abs_dSRCC"] = max(out[c]["max_abs_dSRCC"], ds)
            out[c]["max_abs_dKTAU"] = max(out[c]["max_abs_dKTAU"], dk)
    return out


def format_study(r: dict) -> str:
    n = r["draws"]
    lines = [f"{n} simulated Track 3-sized sets (20 systems x 20 utterances x 10 ratings; system quality "
             f"U({r['quality'][0]}, {r['quality'][1]}); rows {'shuffled' if r['shuffle'] else 'in system order'}; "
             f"seed {r['seed']})",
             f"draws where two systems have exactly the same MOS: {r['exact_tie_draws']} "
             f"({100 * r['exact_tie_draws'] / n:.1f}%)",
             f"{'float convention':<18}{'draws != exact':>16}{'max |dSRCC|':>13}{'max |dKTAU|':>13}"]
    for c in ("sheet", "pandas"):
        x = r[c]
        lines.append(f"{c:<18}{x['differs']:>8} ({100 * x['differs'] / n:4.1f}%){x['max_abs_dSRCC']:>13.4f}"
                     f"{x['max_abs_dKTAU']:>13.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sfi_mos.metrics.tie_study", description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quality", type=float, nargs=2, default=(1.5, 4.5), metavar=("LO", "HI"),
                    help="range of the system qualities (default 1.5 4.5)")
    ap.add_argument("--shuffle", action="store_true", help="rows in a random order instead of system order")
    a = ap.parse_args(argv)
    if a.draws < 1 or a.seed < 0 or not 1 <= a.quality[0] <= a.quality[1] <= 5:
        print("error: --draws must be >= 1, --seed >= 0 and 1 <= LO <= HI <= 5", file=sys.stderr)
        return 2
    print(format_study(run(a.draws, a.seed, tuple(a.quality), a.shuffle)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
