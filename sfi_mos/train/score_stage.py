"""Score stage: a predict run's ``predictions.csv`` against the corpus truth -> ``metrics.json``.

One entry per split, each the ``sfi_mos.metrics.evaluate`` result (8 metrics, per-rate breakdown,
bootstrap CIs with the config's draws and seed). Each split's result is saved as it comes
(``sfi_mos.resume``): a requeued run bootstraps only the splits it had left.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import resume, rundir
from ..data import read_corpus
from ..errors import InputError
from ..metrics import evaluate
from ..metrics.evaluate import save_json, to_jsonable
from .configs import ScoreConfig


def run(cfg: ScoreConfig, run_dir) -> dict:
    run_dir = rundir.start(run_dir, cfg)
    if not cfg.predict_run:
        raise InputError("predict_run", "no predict run dir given")
    pred_path = rundir.resolve_path(cfg.predict_run, run_dir) / "predictions.csv"
    if not pred_path.exists():
        raise InputError(str(pred_path), "predictions.csv not found (has the predict stage finished?)")
    preds = pd.read_csv(pred_path)
    for col in ("utt_id", "split", "pred"):
        if col not in preds.columns:
            raise InputError(str(pred_path), f"missing column {col!r}")
    corpus = read_corpus(cfg.data.kind, rundir.resolve_path(cfg.data.root, run_dir))
    # a clip can be rated in two listening tests (Track 3 train and dev), so truth is per split
    truth = corpus.utterances[["utt_id", "split", "mos", "system_id", "sample_rate"]].dropna(subset=["mos"])
    truth = truth.assign(utt_id=truth.utt_id.astype(str))
    preds = preds.assign(utt_id=preds.utt_id.astype(str))
    result = {}
    store = resume.ItemStore(run_dir, "splits")
    for split, part in preds.groupby("split", sort=True):
        t = truth[(truth.split == split) & truth.utt_id.isin(part.utt_id)].drop(columns="split")
        result[str(split)] = store(str(split), lambda part=part, t=t: to_jsonable(
            evaluate(part[["utt_id", "pred"]], t, bootstrap=cfg.bootstrap, seed=cfg.seed)))
    save_json(Path(run_dir) / "metrics.json", result)
    rundir.finish(run_dir, {**{s: {"utt_MSE": r["utt"]["MSE"], "sys_SRCC": r["sys"]["SRCC"]}
                               for s, r in result.items()}, **store.counts()})
    resume.cleanup(run_dir)
    return result
