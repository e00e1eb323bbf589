"""Readable text tables of an ``evaluate`` / ``paired_bootstrap`` result."""
from __future__ import annotations

import math

from sfi_mos.metrics.core import METRICS

_SYS_TRUTH_WORDS = {"utterance": "mean of utterance MOS (as the organisers' scorer; exact means)",
                    "ratings": "mean of all ratings (exact means)"}


def _num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    s = f"{v:.3f}"
    return "0.000" if s == "-0.000" else s  # rounding noise of a zero difference


def _cell(d: dict, m: str, with_ci: bool) -> str:
    s = _num(d[m])
    if with_ci:
        lo, hi = d["ci"][m]
        s += f" [{_num(lo)}, {_num(hi)}]"
    return s


def _rows(res: dict):
    yield "all", res
    for rate, sub in res.get("per_rate", {}).items():
        yield f"{rate} Hz", sub


def _header(res: dict) -> str:
    b = res.get("bootstrap", {})
    line = (f"{res['n_utt']} utterances, {res['n_sys']} systems; system truth: "
            f"{_SYS_TRUTH_WORDS.get(res.get('sys_truth'), res.get('sys_truth'))}")
    if b.get("n"):
        line += (f"; {b['n']} bootstrap draws (seed {b['seed']}), "
                 f"{round(100 * b['level'])}% percentile CI")
    return line


def _table(res: dict, count_keys: bool = True, extra=None) -> list[str]:
    with_ci = "ci" in res["utt"]
    width = 22 if with_ci else 8
    cols = [f"{m:<{width}}" for m in METRICS] + (["p(" + m + ")" for m in METRICS] if extra else [])
    lines = [f"{'scope':<9}{'level':<6}{'n':>5}  " + " ".join(cols)]
    for name, r in _rows(res):
        for lvl in ("utt", "sys"):
            n = r.get(f"n_{lvl}", "") if count_keys else ""
            cells = [f"{_cell(r[lvl], m, with_ci):<{width}}" for m in METRICS]
            if extra:
                cells += [f"{_num(r[lvl]['p'][m]):<7}" for m in METRICS]
            lines.append(f"{name:<9}{lvl:<6}{n!s:>5}  " + " ".join(cells))
    return lines


def format_result(res: dict) -> str:
    """Overall and per-rate table of an :func:`sfi_mos.metrics.evaluate` result."""
    lines = [_header(res)] + _table(res)
    if not res.get("per_rate"):
        lines.append("(no per-rate breakdown: truth has no sample_rate and ids carry no <rate>k token)")
    return "\n".join(lines)


def format_paired(res: dict, name_a: str = "A", name_b: str = "B") -> str:
    """Tables of both prediction sets and of their difference A - B."""
    lines = [_header(res["a"]), "", f"A = {name_a}"] + _table(res["a"])
    lines += ["", f"B = {name_b}"] + _table(res["b"])
    lines += ["", "A - B (same bootstrap draws; p = two-sided bootstrap p for no difference)"]
    lines += _table(res["diff"], count_keys=False, extra=True)
    return "\n".join(lines)
