"""Small stand-in stages for the launcher tests (registered via SFI_MOS_REGISTRY=grid_fake_stages).

They honour the real stage contract — rundir.start, resume from run_dir/ckpt, atomic outputs,
rundir.finish last — and check that their parents are done (so a broken dependency order fails),
but do no learning: each step sleeps ``SFI_FAKE_SLEEP`` seconds. A stage fails on purpose while
``<grid dir>/FAIL`` lists its stage name. Metrics are a deterministic function of the configs.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

from sfi_mos.atomic import write_csv, write_json, write_text
from sfi_mos.config import canonical_json, to_dict
from sfi_mos.rundir import finish, is_done, resolve_path

STAGES = {s: f"grid_fake_stages:run_{s}" for s in ("distill", "pretrain", "finetune", "predict", "score", "probe",
                                                   "peers")}
PREPARE = {"synthetic": "grid_fake_stages:generate", "fingerprint": "grid_fake_stages:fingerprint",
           "teachers": "grid_fake_stages:teachers"}


def _digest(obj) -> float:
    return int(hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _work(stage: str, cfg, run_dir: Path, parents: list[str]) -> dict:
    run_dir = Path(run_dir)
    write_json(run_dir / "config.json", to_dict(cfg))  # rundir.start minus env.json (which imports torch)
    fail = run_dir.parents[1] / "FAIL"
    if fail.exists() and stage in fail.read_text().split():
        raise RuntimeError(f"injected failure in {stage}")
    for p in parents:
        if not is_done(resolve_path(p, run_dir)):
            raise RuntimeError(f"parent {p} is not done")
    ckpt = run_dir / "ckpt" / "state.json"
    state = json.loads(ckpt.read_text()) if ckpt.exists() else {"step": 0, "starts": 0}
    state["starts"] += 1
    resumed_from = state["step"]
    write_json(ckpt, state)
    steps = int(os.environ.get("SFI_FAKE_STEPS", "3"))
    while state["step"] < steps:
        time.sleep(float(os.environ.get("SFI_FAKE_SLEEP", "0.05")))
        state["step"] += 1
        write_json(ckpt, state)  # checkpoint every step
    code = getattr(sys.modules.get("replication.job"), "__file__", None)  # which copy of the code ran
    return {"starts": state["starts"], "resumed_from": resumed_from, "pid": os.getpid(), "code": code}


def _execution(execution) -> dict:
    """What StageJob handed the stage (training stages take an Execution), for the tests to check."""
    return {} if execution is None else {"execution": {"micro_batch": execution.micro_batch,
                                                       "gpu_mem_gib": execution.gpu_mem_gib}}


def run_distill(cfg, run_dir, execution=None):
    info = _work("distill", cfg, run_dir, []) | _execution(execution)
    write_text(Path(run_dir) / "student.pt", "fake student\n")
    finish(run_dir, info)


def run_pretrain(cfg, run_dir, execution=None):
    info = _work("pretrain", cfg, run_dir, [cfg.backbone.student_run] if cfg.backbone.student_run else []) \
        | _execution(execution)
    finish(run_dir, info)


def run_finetune(cfg, run_dir, execution=None):
    info = _work("finetune", cfg, run_dir, [cfg.init_run] if cfg.init_run else []) | _execution(execution)
    finish(run_dir, info)


def run_predict(cfg, run_dir):
    info = _work("predict", cfg, run_dir, list(cfg.runs))
    pred = pd.DataFrame({"utt_id": [f"u{i}" for i in range(4)],
                         "pred": [1 + 4 * _digest([cfg.runs, i]) for i in range(4)]})
    write_csv(Path(run_dir) / "predictions.csv", pred)
    finish(run_dir, info)


def run_score(cfg, run_dir):
    info = _work("score", cfg, run_dir, [cfg.predict_run])
    pred = pd.read_csv(resolve_path(cfg.predict_run, run_dir) / "predictions.csv")
    m = float(pred["pred"].mean())
    write_json(Path(run_dir) / "metrics.json", {"utt": {"MSE": m, "SRCC": m / 5}, "sys": {"MSE": m / 2}})
    finish(run_dir, info)


def run_probe(cfg, run_dir):
    info = _work("probe", cfg, run_dir, list(cfg.runs))
    write_json(Path(run_dir) / "metrics.json", {"probe": {"all": {"delta": _digest(cfg.runs) - 0.5}}})
    finish(run_dir, info)


def run_peers(cfg, run_dir):
    info = _work("peers", cfg, run_dir, [])
    write_json(Path(run_dir) / "metrics.json", {p: {"status": "not installed"} for p in cfg.peers})
    finish(run_dir, info)


def generate(out, size="tiny", seed=0):
    for c in ("track3", "bvcc", "unlabelled"):
        write_text(Path(out) / c / "list.csv", f"utt,mos\n{size},{seed}\n")
    return Path(out)


def fingerprint(root, verify=False):  # always the files as they are now
    h = hashlib.sha256()
    for p in sorted(Path(root).rglob("*.csv")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def teachers(out, size="tiny", seed=0):
    paths = {}
    for name in ("wav2vec2", "hubert", "wavlm", "wavlm_base"):
        paths[name] = Path(out) / f"{name}.pt"
        write_text(paths[name], f"{name} {size} {seed}\n")
    return paths
