"""Live progress (tqdm) and the printed views of a stage graph: dry run, final report."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ablations.graph import Graph, Node
from sfi_mos.config import to_dict
from ablations.grid import STAGE_ORDER

from . import attempts
from .state import STATES, counts, failure


class Progress:
    """One tqdm bar over all runs; the postfix shows done/running/failed/restarted per stage, and a
    line is printed whenever a run is requeued after its time limit, preempted or killed."""

    def __init__(self, graph: Graph, enabled: bool = True, grid_dir: Path | None = None):
        self.graph = graph
        self.grid_dir = grid_dir
        self.bar = tqdm(total=len(graph.nodes), desc=graph.grid, unit="run", file=sys.stderr,
                        disable=not enabled, dynamic_ncols=True, mininterval=1.0)
        self._last = ""
        self._said: dict[str, str] = {}
        self._read_at = 0.0
        self._restarts: dict[str, int] = {}

    def _stories(self, states: dict[str, str]) -> None:
        """Re-read the attempts of started runs (every few seconds) and say what is new."""
        if self.grid_dir is None or time.monotonic() - self._read_at < 5.0:
            return
        self._read_at = time.monotonic()
        for rel, st in states.items():
            if st in ("missing", "blocked") or rel in self._said and st == "done":
                continue
            s = attempts.story(attempts.read(self.grid_dir / rel))
            self._restarts[rel] = s.restarts
            text = attempts.describe(s)
            if text and text != self._said.get(rel, ""):
                self._said[rel] = text
                tqdm.write(f"{rel}: {text}", file=sys.stderr)

    def __call__(self, states: dict[str, str]) -> None:
        self._stories(states)
        c = counts(self.graph, states)
        self.bar.n = sum(st == "done" for st in states.values())
        restarts: dict[str, int] = {}
        for rel, n in self._restarts.items():
            restarts[self.graph.nodes[rel].stage] = restarts.get(self.graph.nodes[rel].stage, 0) + n
        parts = []
        for stage, cc in c.items():
            s = f"{stage} {cc['done']}/{sum(cc.values())}"
            busy = cc["running"] + cc["queued"]
            s += f" ▶{busy}" if busy else ""
            s += f" ✗{cc['failed']}" if cc["failed"] else ""
            s += f" ↻{restarts[stage]}" if restarts.get(stage) else ""  # restarts: requeues, retries
            parts.append(s)
        text = " | ".join(parts)
        if text != self._last:  # redraw on change only (quiet logs when not a terminal)
            self._last = text
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def table(graph: Graph, states: dict[str, str]) -> str:
    """Counts per stage and state; 'submit' = what a run would (re)submit (missing + failed)."""
    cols = ("total", "done", "running", "queued", "failed", "blocked", "submit")
    lines = [f"{'stage':<10}" + "".join(f"{c:>9}" for c in cols)]
    totals = dict.fromkeys(cols, 0)
    for stage, c in counts(graph, states).items():
        row = {"total": sum(c.values()), **{s: c[s] for s in STATES if s in cols},
               "submit": c["missing"] + c["failed"]}
        for k in cols:
            totals[k] += row[k]
        lines.append(f"{stage:<10}" + "".join(f"{row[k]:>9}" for k in cols))
    lines.append(f"{'all':<10}" + "".join(f"{totals[k]:>9}" for k in cols))
    return "\n".join(lines)


def dry_run(graph: Graph, states: dict[str, str], grid_dir: Path) -> str:
    out = [f"grid {graph.grid}: {len(graph.cell_scores)} cells, {len(graph.nodes)} runs under {grid_dir}",
           table(graph, states), ""]
    for rel, node in graph.nodes.items():
        st = states[rel]
        action = "would submit" if st in ("missing", "failed") else st
        out.append(f"  {rel:<24} {action:<13} cells={','.join(node.cells[:3])}"
                   + (f",+{len(node.cells) - 3}" if len(node.cells) > 3 else ""))
    return "\n".join(out)


def cells(grid) -> str:
    """The grid's cells and what each is to the study: the replication (every one of the authors'
    choices), the suite's system, a single-factor ablation, or a structural variant of them."""
    out = [f"cells of grid {grid.name} ({len(grid.cells)}):"]
    for c in grid.cells:
        devs = c.deviations
        if not devs:
            what = "replication (the authors' recipe)" if c.base == "authors" else f"{c.base} recipe"
        else:
            what = f"{c.base} + " + ", ".join(f"{k}={v}" for k, v in devs.items())
        out.append(f"  {c.name:<48} {what}")
    return "\n".join(out)


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj}


def closest(config: dict[str, Any], nodes: list[Node]) -> tuple[Node | None, list[str]]:
    """The current node whose config differs from ``config`` (an orphan's ``config.json``) in the
    fewest fields, and those fields as ``name: old -> new``. Labels (the cell description) are not
    compared: they do not change what a run computes."""
    old = {k: v for k, v in _flat(config).items() if not k.startswith("cell.") and k != "cell"}
    best: tuple[int, Node | None, list[str]] = (1 << 30, None, [])
    for node in nodes:
        new = {k: v for k, v in _flat(to_dict(node.config)).items() if not k.startswith("cell.") and k != "cell"}
        diff = [f"{k}: {_short(old.get(k, '(absent)'))} -> {_short(new.get(k, '(absent)'))}"
                for k in sorted(set(old) | set(new)) if old.get(k, _ABSENT) != new.get(k, _ABSENT)]
        if len(diff) < best[0]:
            best = (len(diff), node, diff)
    return best[1], best[2]


_ABSENT = object()


def _short(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else v
    return text if len(text) <= 40 else text[:37] + "..."


def orphans(graph: Graph, grid_dir: Path) -> str:
    """Run dirs under ``grid_dir`` that the grid (as resolved now) no longer has; "" when none. Each
    is shown with the current run it is closest to and the config fields that differ.

    They come from cells taken out of the grid, changed hyper-parameters, other/edited data or a
    suite upgrade that re-keyed them (CHANGELOG.md). They are listed, never deleted: their results
    may still be wanted (delete them by hand)."""
    found: list[str] = []
    by_stage = graph.by_stage()
    for stage in STAGE_ORDER:
        d = grid_dir / stage
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            rel = f"{stage}/{p.name}"
            if not p.is_dir() or p.name.startswith(".") or rel in graph.nodes:
                continue
            found.append(f"  {rel}")
            try:
                config = json.loads((p / "config.json").read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                found.append("      (no readable config.json)")
                continue
            if not isinstance(config, dict):
                found.append("      (config.json is not an object)")
                continue
            node, diff = closest(config, by_stage.get(stage, []))
            if node is None:
                found.append(f"      no {stage} run in the grid now")
                continue
            shown = diff[:6] + ([f"... {len(diff) - 6} more"] if len(diff) > 6 else [])
            what = "; ".join(shown) if diff else "same config (re-keyed by a suite upgrade: CHANGELOG.md)"
            found.append(f"      closest: {node.rel} ({len(diff)} field(s) differ: {what})")
    if not found:
        return ""
    n = sum(1 for line in found if not line.startswith("      "))
    return "\n".join([f"orphaned: {n} run dir(s) not in grid {graph.grid} as resolved now "
                      "(cells removed, configs or data changed, or re-keyed by an upgrade); kept, nothing "
                      "deletes them:"] + found)


def report(graph: Graph, states: dict[str, str], grid_dir: Path, runs: dict[str, Any]) -> str:
    out = [table(graph, states)]
    failed = [rel for rel, st in states.items() if st == "failed"]
    if failed:
        out.append(f"\n{len(failed)} failed run(s):")
        out += [failure(grid_dir, rel, runs) for rel in failed]
    blocked = [rel for rel, st in states.items() if st == "blocked"]
    if blocked:
        out.append(f"{len(blocked)} run(s) not run because a parent failed: " + ", ".join(blocked))
    told = restarts(graph, grid_dir)
    if told:
        out.append("\nrestarted runs (time limits, preemptions, kills, failed tries; run_dir/attempts.json):")
        out += [f"  {rel} ({graph.nodes[rel].stage}): {text}" for rel, text in told.items()]
    missing = [rel for rel, st in states.items() if st == "missing"]
    if missing:
        out.append(f"{len(missing)} run(s) not finished (interrupted or not submitted): " + ", ".join(missing))
    if failed or blocked or missing:
        out.append("Rerun the same command to resubmit only these runs (finished runs are kept).")
    return "\n".join(out)


def restarts(graph: Graph, grid_dir: Path) -> dict[str, str]:
    """Runs whose jobs did not go straight through, with what happened ('requeued 2x after its
    15-min limit, finished on attempt 3')."""
    out = {}
    for rel in graph.nodes:
        text = attempts.describe(attempts.story(attempts.read(grid_dir / rel)))
        if text:
            out[rel] = text
    return out
