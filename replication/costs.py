"""What a grid costs: steps per run from its stage configs and corpus sizes; device-hours and disk
from a rehearsal (``python -m replication.rehearse --json FILE``).

Steps per run, in the unit each stage counts:

* distill: optimiser steps, ``DistillConfig.steps``;
* pretrain / finetune: optimiser steps, as ``mos_stage.planned_steps`` counts them on the corpus (the
  same split, utterance packing and step groups as training, every epoch);
* predict: forward passes, fold models x labelled utterances of the predicted splits;
* score: one scoring of one prediction file.

Corpora are read (rating tables only, no audio) when they can be; otherwise the documented sizes of
the real corpora (``CORPUS_SIZES``) stand in, and the output says so.

With a rehearsal, a run takes ``fixed_s + steps * step_s + epochs * val_clips * val_clip_s`` (figures
per stage and cell kind, already extrapolated to the paper's batch and clip length by ``extrapolate``)
and its disk is the bytes of the rehearsed run directory of the same stage and kind (checkpoint sizes do
not depend on the number of steps).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ablations.grid import STAGE_ORDER
from sfi_mos.errors import InputError
from sfi_mos.jsonio import read_json

FORMAT = "sfi_mos.rehearsal/1"
UNITS = {"import": "folder conversions", "distill": "optimiser steps", "pretrain": "optimiser steps", "finetune": "optimiser steps",
         "predict": "clip x model forward passes", "score": "scorings", "probe": "twin-probe runs",
         "peers": "peer runs"}


@dataclass(frozen=True)
class CorpusSize:
    """Documented size of a real corpus: clips per split and rate, ratings per clip, clip lengths."""

    train: dict[int, int]
    dev: dict[int, int]
    eval: dict[int, int]
    ratings_per_clip: int
    mean_s: float  # mean clip length: sets the step time
    max_s: float  # longest clip: sets the peak memory of a batch
    source: str


CORPUS_SIZES = {
    "track3": CorpusSize(
        train={16000: 120, 24000: 240, 48000: 40}, dev={16000: 120, 24000: 240, 48000: 40},
        eval={16000: 120, 24000: 240, 48000: 40}, ratings_per_clip=10,
        mean_s=(360 * 4.11 + 40 * 5.0) / 400, max_s=6.85,
        source="AudioMOS 2025 Track 3: 400 train (= dev) clips, 120/240/40 at 16/24/48 kHz, 400 eval clips, "
               "10 ratings each; clips 4.11 s mean at 16/24 kHz, 5.0 s at 48 kHz, 6.85 s longest "
               "(shared/research/paper_and_challenge.md 2.2, a third-party analysis of the archives)"),
    "bvcc": CorpusSize(
        train={16000: 4974}, dev={16000: 1066}, eval={16000: 1066}, ratings_per_clip=8,
        mean_s=4.0, max_s=10.0,
        source="BVCC (VoiceMOS 2022 main track, Huang et al., arXiv 2203.11389): 4974/1066/1066 "
               "train/dev/test clips at 16 kHz, 8 ratings each -- not in the project's research notes; "
               "clip lengths are not documented there either: 4 s mean and 10 s longest are ASSUMED"),
}
# distillation crops: EARS is ~100 h in ~17.2 k files (paper_and_challenge.md 1.4), ~21 s per file, so
# nearly every crop is the full crop_seconds (assumed)
UNLABELLED_MEAN_S = 100 * 3600 / 17200


def ratings_table(size: CorpusSize):
    """A per-rating table (the columns ``mos_stage`` reads) with the documented clip counts."""
    rows = []
    for split, per_rate in (("train", size.train), ("dev", size.dev), ("eval", size.eval)):
        for rate, n in per_rate.items():
            for i in range(n):
                utt = f"{split}-{rate}-{i:05d}"
                rows += [(utt, "", f"sys{rate}", f"L{k}", k, 3.0, rate, split)
                         for k in range(size.ratings_per_clip)]
    return pd.DataFrame(rows, columns=["utt_id", "wav_path", "system_id", "listener", "listener_id", "rating",
                                       "sample_rate", "split"])


class Corpora:
    """Rating tables by data spec: the corpus itself when readable, else the documented sizes."""

    def __init__(self, grid_dir: Path):
        self.grid_dir = Path(grid_dir)
        self.tables: dict[tuple[str, str], Any] = {}
        self.documented: set[str] = set()

    def ratings(self, data):
        key = (data.kind, data.root)
        if key not in self.tables:
            from sfi_mos.data import read_corpus  # lazy: soundfile; run_all imports costs at start

            root = Path(data.root) if Path(data.root).is_absolute() else self.grid_dir / data.root
            try:
                self.tables[key] = read_corpus(data.kind, root, check_audio=False).ratings
            except (InputError, OSError, ValueError, KeyError):
                if data.kind not in CORPUS_SIZES:
                    raise
                self.documented.add(data.kind)
                self.tables[key] = ratings_table(CORPUS_SIZES[data.kind])
        return self.tables[key]


def node_plan(stage: str, cfg: Any, corpora: Corpora, cache: dict | None = None) -> dict[str, int]:
    """``{"steps", "epochs", "val_clips"}`` of one run (steps in the stage's unit, see module doc)."""
    if stage == "distill":
        return {"steps": int(cfg.steps), "epochs": 0, "val_clips": 0}
    if stage in ("pretrain", "finetune"):
        from sfi_mos.train.mos_stage import planned_steps, split_items  # lazy: torch; run_all imports costs

        key = (stage, cfg.data.kind, cfg.data.root, cfg.data.fingerprint, cfg.fold, cfg.n_folds, cfg.seed,
               cfg.batch_size, cfg.grad_accum, cfg.max_epochs, cfg.max_steps, cfg.batching, cfg.listener_ids)
        if cache is not None and key in cache:
            return cache[key]
        ratings = corpora.ratings(cfg.data)
        steps = planned_steps(cfg, ratings)
        _, val = split_items(cfg, ratings, None)
        per_epoch = planned_steps(_one_epoch(cfg), ratings)
        out = {"steps": steps, "epochs": min(cfg.max_epochs, math.ceil(steps / max(per_epoch, 1))),
               "val_clips": len(val)}
        if cache is not None:
            cache[key] = out
        return out
    if stage == "predict":
        ratings = corpora.ratings(cfg.data)
        utts = ratings[ratings.split.isin(cfg.splits)].drop_duplicates(["utt_id", "split"])
        return {"steps": len(cfg.runs) * len(utts), "epochs": 0, "val_clips": 0}
    return {"steps": 1, "epochs": 0, "val_clips": 0}


def _one_epoch(cfg):
    return replace(cfg, max_epochs=1, max_steps=0)


# --- extrapolation (pure arithmetic; the rehearsal measures, this scales) -------------------------------
def line(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    """(intercept, slope) of the line through two points."""
    if x1 == x2:
        raise ValueError("two measurements at the same size cannot be fitted")
    slope = (y2 - y1) / (x2 - x1)
    return y1 - slope * x1, slope


def extrapolate(a: dict[str, float], others: list[dict[str, float]], paper: dict[str, float]) -> dict[str, Any]:
    """Step peak memory and step time at the paper's load from measurements at a few loads.

    A measurement: ``clips`` per forward pass (batch), ``clip_s`` seconds per clip, ``clips_per_step``,
    ``step_s``, ``peak`` (bytes of the step's peak: RSS, or CUDA allocated), ``saved`` (peak bytes of the
    tensors autograd holds for backward, ``replication.measure.SavedBytes``). ``a`` is the main run,
    ``others`` the fit runs. ``paper``: ``clips``, ``clip_s_max`` (longest clip: memory), ``clip_s_mean``
    (time), ``clips_per_step``.

    Time is fitted linearly in audio seconds per step (main and the first run with another load); with one
    measurement it scales in proportion. Memory: the activations are fitted as ``activation_fit`` does, and
    the paper's peak is the main run's measured peak plus the activations' growth from the main load to the
    paper's. The measured peak is used once, never multiplied, so allocator noise in it stays its own size.
    """
    out: dict[str, Any] = {}
    work = lambda m: m["clips_per_step"] * m["clip_s"]  # noqa: E731
    paper_work = paper["clips_per_step"] * paper["clip_s_mean"]
    b = next((m for m in others if work(m) != work(a) and m["clip_s"] == a["clip_s"]), None)
    if b is not None:
        t0, tau = line(work(a), a["step_s"], work(b), b["step_s"])
        if t0 < 0 or tau < 0:  # noise: fall back to proportional scaling of the larger measurement
            t0, tau = 0.0, b["step_s"] / work(b)
        out["step_s"] = t0 + tau * paper_work
        out["time_fit"] = {"intercept_s": t0, "s_per_audio_s": tau}
    else:
        out["step_s"] = a["step_s"] * paper_work / work(a)
        out["time_fit"] = {"intercept_s": 0.0, "s_per_audio_s": a["step_s"] / work(a)}
    fit = activation_fit([a, *others]) if a.get("saved") is not None and a.get("peak") is not None else None
    if fit is None:
        out["peak"], out["memory_fit"] = None, None
        return out
    act_paper = fit["predict"](paper["clips"], paper["clip_s_max"])
    out["peak"] = a["peak"] + max(0.0, act_paper - a["saved"])
    out["memory_fit"] = {k: v for k, v in fit.items() if k != "predict"} | {
        "activation_bytes_paper": act_paper, "activation_bytes_measured": a["saved"],
        "measured_peak_bytes": a["peak"]}
    return out


def activation_fit(points: list[dict[str, float]]) -> dict[str, Any] | None:
    """Activation bytes of one forward pass as ``c + clips * (d + a * L + b * L**2)``, L = clip seconds.

    Activations are linear in the batch; per clip they are linear in the samples and frames
    (convolutions, linear layers), quadratic where attention scores are kept, and the conv stack's
    receptive field leaves a per-clip constant ``d``; ``c`` holds what does not depend on the batch (e.g. a
    designed SFI kernel, the weight-normed positional convolution). Least squares over the loads: two
    batch sizes and three clip lengths determine it. With fewer lengths the fit drops terms and says so
    (``terms``): without ``d`` it extrapolates to long clips within about 10 %, with one length only
    linearly (a lower bound). None without two distinct loads.
    """
    pts = {(float(p["clips"]), float(p["clip_s"])): float(p["saved"]) for p in points if p.get("saved") is not None}
    lengths = {s for _, s in pts}
    if len(pts) < 2 or len({c * s for c, s in pts}) < 2:
        return None
    batches_per_length = max(len({c for c, s in pts if s == L}) for L in lengths)
    if len(lengths) >= 3 and batches_per_length >= 2 and len(pts) >= 4:
        terms = ("c", "d", "a", "b")
    elif len(lengths) >= 2 and len(pts) >= 3:
        terms = ("c", "a", "b")
    else:
        terms = ("c", "a")
    cols = {"c": lambda c, s: 1.0, "d": lambda c, s: c, "a": lambda c, s: c * s, "b": lambda c, s: c * s * s}
    A = np.array([[cols[t](c, s) for t in terms] for c, s in pts])
    y = np.array(list(pts.values()))
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    coef = {t: 0.0 for t in cols} | {t: float(v) for t, v in zip(terms, sol)}

    def predict(clips: float, clip_s: float) -> float:
        return sum(coef[t] * cols[t](clips, clip_s) for t in cols)

    resid = max(abs(predict(c, s) - v) / max(v, 1.0) for (c, s), v in pts.items())
    # attention keeps its scores (b > 0) or, fused, none (b = 0): b < 0 means the loads disagree, e.g. an
    # SFI model's batches drawn at rates whose frame counts differ (24 kHz: the reference hop rounds down)
    warning = ("b < 0: the loads disagree (batches at different sample rates?); the paper figure is uncertain"
               if coef["b"] < -1e-6 * max(abs(coef["a"]), 1.0) else None)
    return {"model": "c + clips * (d + a * L + b * L^2)", "terms": "".join(terms), "c_bytes": coef["c"],
            "bytes_per_clip": coef["d"], "bytes_per_clip_s": coef["a"], "bytes_per_clip_s2": coef["b"],
            "points": len(pts), "max_rel_residual": resid, "warning": warning, "predict": predict}


FRAME_S, FIELD_S = 0.02, 0.025  # the wav2vec 2.0 conv stack's hop (320) and receptive field (400) at 16 kHz


def fit_crop(seconds: float) -> float:
    """The longest crop of at most ``seconds`` that fills an even number T of frames exactly.

    With (T - 1) hops + one receptive field every conv layer's output length is affine in the clip
    length, and the fairseq-style encoders pad an odd T to the next even one
    (``required_seq_len_multiple`` = 2), so only even T keep the activation bytes an exact polynomial in
    the length, which the fit assumes (50 ms steps left rounding errors as large as the L^2 term)."""
    frames = max(2, int((seconds - FIELD_S) / FRAME_S + 1 + 1e-9))
    frames -= frames % 2
    return round(FIELD_S + (frames - 1) * FRAME_S, 6)


def run_seconds(plan: dict[str, int], cost: dict[str, float]) -> float:
    return (cost.get("fixed_s") or 0.0) + plan["steps"] * cost["step_s"] \
        + plan["epochs"] * plan["val_clips"] * (cost.get("val_clip_s") or 0.0)


# --- the rehearsal file ---------------------------------------------------------------------------------
def load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    data = read_json(p, what="rehearsal JSON")
    if data.get("format") != FORMAT or not isinstance(data.get("costs"), dict):
        raise InputError(str(p), f"not a rehearsal result (expected format {FORMAT!r}; "
                         "write one with python -m replication.rehearse --json FILE)")
    return data


def cost_for(costs: dict[str, Any], stage: str, kind: str) -> tuple[dict[str, Any] | None, str]:
    """The rehearsal's figures for (stage, kind); another kind's of the same stage when that is missing."""
    per = costs.get(stage, {})
    if kind in per:
        return per[kind], kind
    family = [k for k in per if k.split("-")[0] == kind.split("-")[0]]
    for k in family + sorted(per):
        return per[k], k
    return None, ""


# --- printed lines ------------------------------------------------------------------------------------
def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _steps_text(values: list[int]) -> str:
    distinct = sorted(set(values))
    if len(distinct) <= 3:
        return " / ".join(f"{v:,}" for v in distinct)
    return f"{distinct[0]:,}-{distinct[-1]:,}"


# node plans of MOS stages by their config and corpus (root + fingerprint), per grid dir: the same
# plans are asked for by each cost table of a process (a rehearsal prints and saves them; about 20 s
# of epoch-by-epoch step counting for the paper grid on a CPU each time)
_PLANS: dict[str, dict] = {}


def grid_costs(graph, cells: dict[str, Any], grid_dir: Path, rehearsal: dict[str, Any] | None = None):
    """Per stage: runs, steps per run, total steps, and with a rehearsal device-seconds and bytes."""
    corpora, cache = Corpora(grid_dir), _PLANS.setdefault(str(grid_dir), {})
    rows: dict[str, dict[str, Any]] = {s: {"runs": 0, "steps": [], "seconds": 0.0, "bytes": 0, "proxies": set(),
                                           "max_run_s": 0.0} for s in STAGE_ORDER}
    for node in graph.nodes.values():
        plan = node_plan(node.stage, node.config, corpora, cache)
        row = rows[node.stage]
        row["runs"] += 1
        row["steps"].append(plan["steps"])
        if rehearsal is not None:
            kind = cells[node.cells[0]].kind if node.cells else "grid"  # the peers run serves no cell
            cost, used = cost_for(rehearsal["costs"], node.stage, kind)
            if cost is None:
                row["seconds"] = None
                continue
            if used != kind:
                row["proxies"].add(f"{kind}<-{used}")
            if row["seconds"] is not None:
                s = run_seconds(plan, cost)
                row["seconds"] += s
                row["max_run_s"] = max(row["max_run_s"], s)
            row["bytes"] += int(cost.get("run_bytes") or 0)
    return rows, sorted(corpora.documented)


def dry_run_lines(graph, cells: dict[str, Any], grid_dir: Path, rehearsal: dict[str, Any] | None = None,
                  source: str = "") -> str:
    rows, documented = grid_costs(graph, cells, grid_dir, rehearsal)
    speedup = rehearsal.get("assumed_gpu_speedup") if rehearsal and rehearsal.get("device") == "cpu" else None
    head = f"cost of grid {graph.grid}"
    if documented:
        head += f" (steps from the documented sizes of {', '.join(documented)}: corpus not readable here)"
    w = 2 + max([16] + [len(_steps_text(r["steps"])) for r in rows.values() if r["runs"]])  # steps/run column
    out = [head + ":", f"{'stage':<10}{'runs':>6}{'steps/run':>{w}}{'total steps':>16}"
           + (f"{'device-h':>12}{'disk':>11}" if rehearsal else "")
           + (f"{'GPU-h (assumed)':>17}" if speedup else "") + "  unit"]
    tot_s, tot_b, missing = 0.0, 0, []
    for stage, r in rows.items():
        if not r["runs"]:
            continue
        line_ = f"{stage:<10}{r['runs']:>6}{_steps_text(r['steps']):>{w}}{sum(r['steps']):>16,}"
        if rehearsal:
            hours = None if r["seconds"] is None else r["seconds"] / 3600
            line_ += f"{'-' if hours is None else f'{hours:,.1f}':>12}{human_bytes(r['bytes']):>11}"
            if speedup:
                line_ += f"{'-' if hours is None else f'{hours / speedup:,.1f}':>17}"
            if hours is None:
                missing.append(stage)
            else:
                tot_s += r["seconds"]
            tot_b += r["bytes"]
        out.append(line_ + f"  {UNITS[stage]}")
    if rehearsal:
        plus = "+" if missing else ""  # a lower bound: stages without figures are left out
        total_h = f"{tot_s / 3600:,.1f}{plus}"
        out.append(f"{'all':<10}{sum(r['runs'] for r in rows.values()):>6}{'':>{w}}{'':>16}{total_h:>12}"
                   f"{human_bytes(tot_b):>11}"
                   + (f"{f'{tot_s / 3600 / speedup:,.1f}{plus}':>17}" if speedup else ""))
        out.append(_basis(rehearsal, source))
        if missing:
            out.append(f"  not in the device-hours total (no rehearsal figures): {', '.join(missing)}")
        proxies = sorted({p for r in rows.values() for p in r["proxies"]})
        if proxies:
            out.append("  kinds without a rehearsal use another kind's figures: " + ", ".join(proxies))
    return "\n".join(out)


def _basis(rehearsal: dict[str, Any], source: str) -> str:
    dev = rehearsal.get("device", "cpu")
    what = (f"{dev} times measured by the rehearsal ({rehearsal.get('device_name', dev)}, "
            f"{rehearsal.get('torch_threads')} threads)")
    if dev == "cpu":
        what = f"CPU times measured by the rehearsal ({rehearsal.get('torch_threads')} threads): NOT GPU hours"
        speedup = rehearsal.get("assumed_gpu_speedup")
        if speedup:
            what += f"; the file also assumes a GPU speed-up of {speedup}x (an assumption, not a measurement)"
    return (f"  device-hours: {what}; steps x step time at the paper's batch and clip length, extrapolated "
            f"from {rehearsal.get('size', '?')}-size models, {rehearsal.get('steps')} step(s) per stage"
            + (f" ({source})" if source else "") + "; disk: checkpoints + outputs per run")


# --- Slurm profile checks -------------------------------------------------------------------------------
def mem_bytes(text: str | int | None) -> int | None:
    """Slurm --mem value ("64G", "500M", "4096" = MB) in bytes."""
    if text is None or text == "":
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(text), re.I)
    if not m:
        raise InputError("profile mem", f"cannot read memory request {text!r}")
    mult = {"": 2 ** 20, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}[m.group(2).upper()]
    return int(float(m.group(1)) * mult)
