"""The training arithmetic of ``DistillConfig``/``MOSTrainConfig.precision`` (``sfi_mos.specs.Precision``).

``fp32`` is the authors' (their Lightning configs set ``precision: null``); ``bf16`` autocasts to
bfloat16 on CUDA and on CPU alike. The SFI layer designs its kernels in float32 inside the autocast
(``sfi_mos.sfi.conv``), and bf16 keeps fp32's exponent range, so no grad scaler is needed.
"""
from __future__ import annotations

import contextlib

import torch

from ..errors import InputError


def autocast(precision: str, device: torch.device):
    """Context for a forward (and its loss) at ``precision`` on ``device``."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "fp32":
        return contextlib.nullcontext()
    raise InputError("precision", f"{precision!r} is not one of 'fp32', 'bf16'")
