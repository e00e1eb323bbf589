"""Challenge metrics for MOS prediction (AudioMOS 2025 Track 3 / VoiceMOS conventions).

Public API: :func:`evaluate`, :func:`paired_bootstrap`, :func:`merge_pred_truth`,
:func:`utt_sys_metrics`, :func:`four_metrics`, :func:`system_table`, :func:`load_pred`,
:func:`load_truth`, :func:`save_json`, :func:`format_result`, :class:`Columns` (explicit column
choices), :func:`track3_names` (de-obfuscated Track 3 names). CLI: ``python -m sfi_mos.metrics``.
Conventions: see ``sfi_mos/metrics/README.md`` and :mod:`sfi_mos.metrics.core`.
"""
from sfi_mos.metrics.core import METRICS, SYS_TRUTH, four_metrics, level_data, system_table, utt_sys_metrics
from sfi_mos.metrics.evaluate import evaluate, evaluate_merged, paired_bootstrap, save_json, to_jsonable
from sfi_mos.metrics.reading import Columns, read_csv_table
from sfi_mos.metrics.report import format_paired, format_result
from sfi_mos.metrics.truth import (load_pred, load_truth, merge_pred_truth, normalize_pred,
                                   normalize_truth, parse_track3_name, track3_names)

__all__ = [
    "METRICS", "SYS_TRUTH", "Columns", "evaluate", "evaluate_merged", "four_metrics", "format_paired",
    "format_result", "level_data", "load_pred", "load_truth", "merge_pred_truth", "normalize_pred",
    "normalize_truth", "paired_bootstrap", "parse_track3_name", "read_csv_table", "save_json", "system_table",
    "to_jsonable", "track3_names", "utt_sys_metrics",
]
