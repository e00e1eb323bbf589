"""A small results directory written through the real run-dir conventions, for the paper tests.

Configs are the real stage dataclasses with the grid's run-id rule, run dirs are written with
``sfi_mos.rundir.start``/``finish``, metrics with ``sfi_mos.metrics``; only the predictions are
simulated (truth + cell-dependent error, with resampling front ends blind to high-band-only
degradations), so tests exercise every path of ``paper`` in well under a second per table set. Each
cell also gets a probe run (simulated twin predictions: SFI cells hear the high band, resampling
ones do not) and the grid one peers run (one peer "ok" and blind, one "not installed").
The committed fixture under ``tests/fixtures/paper_results`` comes from the real pipeline instead
(``tests/fixtures/make_paper_fixture.py``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sfi_mos import rundir
from sfi_mos.atomic import write_csv, write_json
from sfi_mos.config import config_hash
from sfi_mos.metrics import evaluate, to_jsonable
from sfi_mos.probe.metrics import summarise, with_deltas
from sfi_mos.train.configs import (BackboneSpec, DataSpec, DistillConfig, MOSTrainConfig, PeersConfig,
                                   PredictConfig, ProbeConfig, ScoreConfig, SFISpec, TeacherSpec)

# (variant, teacher, distill, pretrain, policy, error sd, high-band blind)
CELLS = (
    ("sfi", "hubert", True, True, "phase", 0.25, False),
    ("sfi", "hubert", True, False, "phase", 0.35, False),
    ("sfi", "hubert", False, True, "phase", 0.45, False),
    ("resample", "hubert", False, True, None, 0.3, True),
    ("resample_sr", "hubert", False, True, None, 0.3, True),
)
RATES = {16000: 3, 24000: 4, 48000: 4}  # systems per rate
ROOT = "data/synth-tiny-s0/track3"


def _rid(stage: str, cfg) -> str:
    return config_hash({"stage": stage, "config": cfg})


def _run(grid_dir: Path, stage: str, cfg, files: dict[str, object] | None = None) -> str:
    rel = f"{stage}/{_rid(stage, cfg)}"
    d = grid_dir / rel
    if rundir.is_done(d):
        return rel
    rundir.start(d, cfg)
    for name, obj in (files or {}).items():
        if isinstance(obj, pd.DataFrame):
            write_csv(d / name, obj)
        else:
            write_json(d / name, obj)
    rundir.finish(d, {})
    return rel


def corpus(n_utt: int = 5, extra_rates: tuple[int, ...] = ()) -> pd.DataFrame:
    """Per-utterance truth for dev and eval plus the synthetic manifest's degradation column."""
    rng = np.random.default_rng(0)
    rows = []
    rates = {**RATES, **{r: 2 for r in extra_rates}}
    for split in ("dev", "eval"):
        for rate, n_sys in rates.items():
            for s in range(n_sys):
                q = 1.8 + 0.7 * s + (0.3 if rate == 48000 else 0)
                for u in range(n_utt):
                    hb = rate >= 24000 and u % 2 == 0
                    deg = '["hb_noise"]' if hb else ('["noise"]' if u % 3 == 1 else "[]")
                    mos = float(np.clip(q - (0.9 if hb else 0) - (0.5 if "noise" in deg and not hb else 0)
                                        + rng.normal(0, 0.2), 1, 5))
                    rows.append({"utt_id": f"synth-{rate // 1000}k_sys{s}_utt{u:02d}{split[0]}", "split": split,
                                 "sample_rate": rate, "system_id": f"{rate // 1000}k_sys{s}", "mos": mos,
                                 "degradations": deg, "hb_only": hb})
    return pd.DataFrame(rows)


PROBE_KINDS = ("bandlimit", "hb_noise", "spectral_holes", "imaging")


def twin_pairs(rng: np.random.Generator, blind: bool) -> pd.DataFrame:
    """4 twin groups x 2 rates x 4 kinds: label difference 0.4, heard (0.3 + noise) unless blind."""
    rows = []
    for g in range(4):
        for rate in (24000, 48000):
            for kind in PROBE_KINDS:
                clean = 3.0 + 0.3 * g
                d = rng.normal(0, 1e-4) if blind else 0.3 + rng.normal(0, 0.1)
                rows.append({"pair_id": f"{rate // 1000}k_twin{g}_{kind}", "twin_id": f"{rate // 1000}k_twin{g}",
                             "kind": kind, "severity": 1.0, "sample_rate": rate, "pred_clean": clean,
                             "pred_degraded": clean - d, "feature_distance": 1e-7 if blind else 0.05,
                             "label_delta": 0.4})
    return with_deltas(pd.DataFrame(rows))


def make_results(results: Path, grid: str = "dev", cells=CELLS, seeds=(0,), folds: int = 2,
                 extra_rates: tuple[int, ...] = (), score_bootstrap: int = 0, probe: bool = True) -> Path:
    """Write ``results/<grid>/`` with the stage chain of every cell; returns the grid dir."""
    gd = Path(results) / grid
    truth = corpus(extra_rates=extra_rates)
    man = gd / "data/synth-tiny-s0/manifest.csv"
    man.parent.mkdir(parents=True, exist_ok=True)
    write_csv(man, truth.assign(corpus="track3")[["corpus", "utt_id", "split", "sample_rate", "system_id", "degradations", "hb_only"]])
    track3 = DataSpec("track3", ROOT, "fp-dev")
    for k, (variant, teacher, kd, pt, policy, sd, blind) in enumerate(cells):
        tspec = TeacherSpec(f"{teacher}_local", f"teachers/{teacher}.pt")
        if variant == "sfi":
            dcfg = DistillConfig(teacher=tspec, sfi=SFISpec(stride_policy=policy), steps=2 if kd else 0,
                                 data=DataSpec("folder", "data/synth-tiny-s0/unlabelled", "fp-u"))
            student = _run(gd, "distill", dcfg)
            bb = BackboneSpec(kind="sfi", student_run=student, teacher=tspec)
        else:
            bb = BackboneSpec(kind=variant, teacher=tspec)
        init = None
        if pt:
            init = _run(gd, "pretrain", MOSTrainConfig(stage="pretrain", backbone=bb, fold=None,
                                                      data=DataSpec("bvcc", "data/synth-tiny-s0/bvcc", "fp-b")))
        for seed in seeds:
            fts = tuple(_run(gd, "finetune", MOSTrainConfig(backbone=bb, data=track3, init_run=init, n_folds=folds,
                                                            fold=f, seed=seed)) for f in range(folds))
            rng = np.random.default_rng(100 * k + seed)
            err = rng.normal(0, sd, len(truth))
            pred = truth.mos + err
            if blind:  # cannot hear high-band-only damage: predicts as if clean
                pred = np.where(truth.hb_only, truth.mos + 0.9 + err, pred)
            preds = truth.assign(path=[f"{ROOT}/DATA/wav/{u}.wav" for u in truth.utt_id],
                                 pred=np.clip(pred, 1, 5))
            preds = preds[["utt_id", "path", "sample_rate", "system_id", "split", "pred", "mos"]]
            pcfg = PredictConfig(runs=fts, data=track3)
            metrics = {s: to_jsonable(evaluate(p[["utt_id", "pred"]], p[["utt_id", "mos", "system_id", "sample_rate"]],
                                               bootstrap=score_bootstrap))
                       for s, p in preds.groupby("split", sort=True)}
            prel = _run(gd, "predict", pcfg, {"predictions.csv": preds})
            _run(gd, "score", ScoreConfig(predict_run=prel, data=track3, bootstrap=score_bootstrap),
                 {"metrics.json": metrics})
            if probe:
                pairs = twin_pairs(rng, blind)
                front = None if variant != "sfi" else {
                    "stages": {"init": {"mean": 0.1}, "distilled": {"mean": 0.2}, "finetuned": {"mean": 0.25},
                               **({"pretrained": {"mean": 0.22}} if pt else {})},
                    "finetuned_per_fold": [0.24, 0.26], "missing": {}}
                _run(gd, "probe", ProbeConfig(runs=fts, data=DataSpec("probe", "data/synth-tiny-s0/probe", "fp-dev"),
                                              init_run=init, seed=seed),
                     {"pairs.csv": pairs, "metrics.json": {"probe": summarise(pairs, 200, 0), "frontend": front,
                                                          "identity": {"all": {"max_db": -51.5}}}})
    if probe:
        pairs = twin_pairs(np.random.default_rng(9), blind=True)
        peer = {"status": "ok", "version": "fakepeer==1", "scores": {"FAKE-MOS": {"probe": summarise(pairs, 200, 0)}}}
        preds = truth.assign(path="x.wav", peer="FAKE-MOS", pred=np.clip(truth.mos + 0.5, 1, 5))
        _run(gd, "peers", PeersConfig(data=track3, peers=("fake", "dnsmos")),
             {"metrics.json": {"fake": peer, "dnsmos": {"status": "not installed", "reason": "no speechmos"}},
              "predictions.csv": preds[["peer", "utt_id", "path", "sample_rate", "system_id", "split", "pred", "mos"]]})
    return gd



# The committed fixture (real pipeline output, see tests/fixtures/make_paper_fixture.py)
FIXTURE_GRID = "smoke"
FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "paper_results"
FIXTURE_EXPECTED = Path(__file__).resolve().parent / "fixtures" / "paper_expected"
FIXTURE_ARGS = ("--grid", FIXTURE_GRID, "--bootstrap", "200", "--seed", "0", "--no-figures")
