"""Challenge metrics for MOS prediction (AudioMOS 2025 Track 3 / VoiceMOS conventions).

Public API: :func:`evaluate`, :func:`paired_bootstrap`, :func:`merge_pred_truth`,
:func:`utt_sys_metrics`, :func:`four_metrics`, :func:`system_table`, :func:`load_pred`,
:func:`load_truth`, :func:`save_json`, :func:`format_result`. CLI: ``python -m sfi_mos.metrics``.
Conventions: see ``sfi_mos/metrics/README.md`` and :mod:`sfi_mos.metrics.core`.
"""
from sfi_mos.metrics.core import METRICS, SYS_TRUTH, four_metrics, system_table, utt_sys_metrics
from sfi_mos.metrics.evaluate import evaluate, evaluate_merged, paired_bootstrap, save_json, to_jsonable
from sfi_mos.metrics.report import format_paired, format_result
from sfi_mos.metrics.truth import (load_pred, load_truth, merge_pred_truth, normalize_pred,
                                   normalize_truth, parse_track3_name)

__all__ = [
    "METRICS", "SYS_TRUTH", "evaluate", "evaluate_merged", "four_metrics", "format_paired",
    "format_result", "load_pred", "load_truth", "merge_pred_truth", "normalize_pred",
    "normalize_truth", "paired_bootstrap", "parse_track3_name", "save_json", "system_table",
    "to_jsonable", "utt_sys_metrics",
]
