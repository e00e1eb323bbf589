"""Peers stage: offline third-party MOS predictors (``sfi_mos.peers``) on the eval split and the twins.

Outputs ``predictions.csv`` (``peer,utt_id,path,sample_rate,system_id,split,pred,mos``: the labelled
``cfg.splits``), ``pairs.csv`` (``peer`` + the probe stage's pair columns, no features) and
``metrics.json``: per peer ``status`` ("ok" or "not installed" with the reason) and, when ok, the
probe summary (``sfi_mos.probe.metrics``) and the 8 challenge metrics per split. A peer that is not
installed is a result ("not installed"), not a failure: the tables say so. Each clip's scores are
saved as they come (``sfi_mos.resume``): a run requeued after its time limit scores only the rest.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import peers as P
from .. import resume, rundir
from ..atomic import write_csv, write_json
from ..data import read_audio, read_corpus
from ..metrics import evaluate
from ..metrics.evaluate import to_jsonable
from ..probe import data as pdata
from ..probe import metrics
from .configs import PeersConfig
from .probe_stage import PAIR_OUT

PRED_COLUMNS = ["peer", "utt_id", "path", "sample_rate", "system_id", "split", "pred", "mos"]


def run(cfg: PeersConfig, run_dir) -> dict:
    run_dir = rundir.start(run_dir, cfg)
    probe = pdata.load(cfg.probe.kind, rundir.resolve_path(cfg.probe.root, run_dir), cfg.seed)
    corpus = read_corpus(cfg.data.kind, rundir.resolve_path(cfg.data.root, run_dir))
    utts = corpus.utterances
    utts = utts[utts.split.isin(cfg.splits) & utts.mos.notna()].sort_values(["split", "utt_id"], kind="stable")
    result: dict = {}
    preds, pairs_out = [], []
    store = resume.ItemStore(run_dir, "scores")
    for name in cfg.peers:
        try:
            peer = P.load(name)
        except P.NotInstalled as e:
            result[name] = {"status": "not installed", "reason": str(e)}
            continue
        clip_scores = {u: store(f"{name}/probe/{u}", lambda x=x, fs=fs: peer.scores(x, fs))
                       for u, (x, fs) in tqdm(sorted(probe.clips.items()), desc=f"{name} twins", mininterval=10)}
        eval_scores = [store(f"{name}/{split}/{u}",
                             lambda p=p, sr=sr: peer.scores(read_audio(p, expected_sr=int(sr))[0], int(sr)))
                       for u, split, p, sr in zip(utts.utt_id, utts.split, utts.wav_path, utts.sample_rate)]
        result[name] = {"status": "ok", "version": P.versions((name,))[0], "scores": {}}
        for score in peer.score_names:
            pairs = probe.pairs.assign(pred_clean=[clip_scores[u][score] for u in probe.pairs.clean],
                                       pred_degraded=[clip_scores[u][score] for u in probe.pairs.degraded],
                                       feature_distance=np.nan, resampled_residual_db=np.nan)
            pairs = metrics.with_deltas(pairs)
            pairs_out.append(pairs[PAIR_OUT].assign(peer=score))
            part = utts.rename(columns={"wav_path": "path"}).assign(peer=score, pred=[s[score] for s in eval_scores])
            preds.append(part[PRED_COLUMNS])
            per_split = {}
            for split, g in part.groupby("split", sort=True):
                per_split[str(split)] = to_jsonable(evaluate(g[["utt_id", "pred"]], g[["utt_id", "mos", "system_id",
                                                                                      "sample_rate"]],
                                                             bootstrap=cfg.bootstrap, seed=cfg.seed))
            result[name]["scores"][score] = {"probe": metrics.summarise(pairs, cfg.bootstrap, cfg.seed),
                                             "metrics": per_split}
    write_csv(Path(run_dir) / "predictions.csv",
              pd.concat(preds, ignore_index=True) if preds else pd.DataFrame(columns=PRED_COLUMNS))
    write_csv(Path(run_dir) / "pairs.csv",
              pd.concat(pairs_out, ignore_index=True)[["peer"] + PAIR_OUT] if pairs_out
              else pd.DataFrame(columns=["peer"] + PAIR_OUT))
    write_json(Path(run_dir) / "metrics.json", result)
    rundir.finish(run_dir, {**{name: r["status"] for name, r in result.items()}, **store.counts()})
    resume.cleanup(run_dir)
    return result
