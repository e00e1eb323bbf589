"""Predict stage: the fold ensemble on the corpus's labelled dev/eval splits -> ``predictions.csv``.

Columns ``utt_id,path,sample_rate,system_id,split,pred,mos`` (1-5 scale), one row per utterance.
Each batch's predictions are saved as they come (``sfi_mos.resume``): a requeued run resumes.
"""
from __future__ import annotations

from pathlib import Path

from .. import resume, rundir
from ..atomic import write_csv
from ..data import read_audio, read_corpus
from ..errors import InputError
from ..predict.predictor import Predictor
from .configs import PredictConfig

COLUMNS = ["utt_id", "path", "sample_rate", "system_id", "split", "pred", "mos"]


def run(cfg: PredictConfig, run_dir) -> dict:
    run_dir = rundir.start(run_dir, cfg)
    if not cfg.runs:
        raise InputError("runs", "no MOS run dirs to predict with")
    runs = [rundir.resolve_path(r, run_dir) for r in cfg.runs]
    corpus = read_corpus(cfg.data.kind, rundir.resolve_path(cfg.data.root, run_dir))
    utts = corpus.utterances
    utts = utts[utts.split.isin(cfg.splits) & utts.mos.notna()].sort_values(["split", "utt_id"], kind="stable")
    if utts.empty:
        raise InputError(cfg.data.root, f"no labelled utterances in splits {list(cfg.splits)}")
    predictor = Predictor.from_runs(*runs)
    waves = [read_audio(p, expected_sr=int(sr))[0] for p, sr in zip(utts.wav_path, utts.sample_rate)]
    store = resume.ItemStore(run_dir, "batches")
    preds = predictor.predict_waves(waves, [int(s) for s in utts.sample_rate], batch_size=cfg.batch_size,
                                    progress=True, memo=store)
    out = utts.rename(columns={"wav_path": "path"}).assign(pred=preds)[COLUMNS].reset_index(drop=True)
    write_csv(Path(run_dir) / "predictions.csv", out)
    summary = {"n_utts": len(out), "n_models": len(runs),
               "per_split": {s: int(n) for s, n in out.split.value_counts().sort_index().items()}}
    rundir.finish(run_dir, {**summary, **store.counts()})
    resume.cleanup(run_dir)
    return summary
