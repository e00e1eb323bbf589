"""Prediction for any sampling rate: the ``Predictor`` API and the ``python -m sfi_mos.predict`` CLI."""
from __future__ import annotations

__all__ = ["Predictor"]


def __getattr__(name: str):
    # lazy: the CLI checks its arguments before torch is imported (seconds)
    if name == "Predictor":
        from .predictor import Predictor  # lazy: torch (see above)

        return Predictor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
