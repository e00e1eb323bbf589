"""Prediction for any sampling rate: the ``Predictor`` API and the ``python -m sfi_mos.predict`` CLI."""
from .predictor import Predictor

__all__ = ["Predictor"]
