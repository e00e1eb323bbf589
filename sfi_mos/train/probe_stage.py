"""Probe stage: one cell's fold ensemble on the blind-spot twins -> ``pairs.csv`` + ``metrics.json``.

``pairs.csv``: one row per (clean, degraded) twin pair (``sfi_mos.probe.data``) with both predictions,
``delta`` = pred(clean) - pred(degraded), the pooled-feature cosine distance and the twins' residual
after the resampling backbone's own resampling to 16 kHz. ``metrics.json``: ``probe`` (delta, pair
accuracy, feature distance with twin-group bootstrap CIs; overall, per kind, rate, kind x rate,
kind x severity; ``sfi_mos.probe.metrics``), ``identity`` (the 16 kHz residual per kind and rate) and
``frontend`` (SFI cells: analog-filter energy share above 8 kHz at init, after distillation,
pre-training and fine-tuning; ``sfi_mos.probe.frontend``; None for resampling front ends).
Each (fold model, batch) result is saved as it comes (``sfi_mos.resume``): a requeued run resumes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import resume, rundir
from ..atomic import write_csv, write_json
from ..errors import InputError
from ..mos.checkpoint import load_run
from ..probe import data as pdata
from ..probe import frontend, metrics, score
from .configs import ProbeConfig

PAIR_OUT = ["pair_id", "twin_id", "kind", "severity", "sample_rate", "clean", "degraded", "pred_clean",
            "pred_degraded", "delta", "feature_distance", "resampled_residual_db"]


def identity_summary(pairs) -> dict:
    """Worst and median 16 kHz residual (dB re the clean twin) overall and per (kind, rate)."""
    def one(v):
        v = np.maximum(v, -300.0)  # bit-identical views give -inf: report the floor, JSON has no -inf
        return {"max_db": float(v.max()), "median_db": float(np.median(v)), "n": int(len(v))}

    out = {"all": one(pairs["resampled_residual_db"].to_numpy(float))}
    for (k, r), g in pairs.groupby(["kind", "sample_rate"], sort=True):
        out[f"{k}@{r}"] = one(g["resampled_residual_db"].to_numpy(float))
    return out


def run(cfg: ProbeConfig, run_dir) -> dict:
    run_dir = rundir.start(run_dir, cfg)
    if not cfg.runs:
        raise InputError("runs", "no fine-tune run dirs to probe")
    probe = pdata.load(cfg.data.kind, rundir.resolve_path(cfg.data.root, run_dir), cfg.seed)
    loaded = [load_run(rundir.resolve_path(r, run_dir)) for r in cfg.runs]
    models = [(m, meta["train_listeners"]) for m, meta in loaded]
    store = resume.ItemStore(run_dir, "batches")
    pairs = metrics.with_deltas(score.predict_pairs(models, probe, cfg.batch_size, store))
    out_cols = PAIR_OUT + [c for c in ("mos_clean", "mos_degraded", "label_delta") if c in pairs.columns]
    write_csv(Path(run_dir) / "pairs.csv", pairs[out_cols])
    front = frontend.trajectory(
        rundir.resolve_path(cfg.student_run, run_dir) if cfg.student_run else None,
        rundir.resolve_path(cfg.init_run, run_dir) if cfg.init_run else None, [m for m, _ in models])
    result = {"source": cfg.data.kind, "n_models": len(models),
              "probe": metrics.summarise(pairs, cfg.bootstrap, cfg.seed),
              "identity": identity_summary(pairs), "frontend": front}
    write_json(Path(run_dir) / "metrics.json", result)
    a = result["probe"]["all"]
    rundir.finish(run_dir, {"n_pairs": a["n_pairs"], "delta": a["delta"], "pair_accuracy": a["pair_accuracy"],
                            **store.counts()})
    resume.cleanup(run_dir)
    return result
