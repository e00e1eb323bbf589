"""Sampling-frequency-independent convolution (Saito et al. TASLP 2022; Imamura et al. 2023/2024).

``SFIConv1d`` designs its digital kernel from latent analog filters (``analog``) for the current
sampling rate (``design``), places frames on the reference rate's grid (``geometry``) and applies
them (``apply``). ``fit_to`` initialises it from an existing conv kernel.
"""
from .analog import (FAMILIES, ModulatedGaussian, MultiPhaseGammatone, NeuralAnalogFilter,
                     make_filter_bank)
from .conv import DEFAULT_POLICY, DESIGNS, SFIConv1d, one_design
from .geometry import MAX_RATE_HZ, MIN_RATE_HZ, POLICIES, Plan, check_rate, make_plan

__all__ = [
    "SFIConv1d", "one_design", "DEFAULT_POLICY", "DESIGNS", "FAMILIES", "POLICIES", "MIN_RATE_HZ", "MAX_RATE_HZ",
    "NeuralAnalogFilter", "ModulatedGaussian", "MultiPhaseGammatone", "make_filter_bank", "Plan",
    "check_rate", "make_plan",
]
