"""GPUs by name: memory and peak dense throughput, for the GPU-hours and micro-batch of ``run_all --dry-run``.

``mem_gib``: the total memory the card reports (``nvidia-smi``'s MiB / 1024), not the marketed GB; the
CUDA context and allocator take some of it, which the micro-batch margin (``gpu_costs.MARGIN``) covers.
``fp32_tflops``: the plain (non-tensor-core) FP32 peak: what an fp32 PyTorch step gets with TF32 off,
PyTorch's default for matmuls (``torch.backends.cuda.matmul.allow_tf32 = False``); ``tf32_tflops`` is
listed beside it, dense. ``bf16_tflops``: BF16 tensor-core peak, dense (no 2:4 sparsity), FP32
accumulate; None where the card has no BF16 tensor cores (V100). ``source`` says where each row's
figures come from and which were checked here.
"""
from __future__ import annotations

from dataclasses import dataclass

from sfi_mos.errors import InputError

_UNCHECKED = "; figures from the vendor datasheet as remembered, NOT re-checked here"
_SMI = " (memory: nvidia-smi total as commonly reported, not checked here)"


@dataclass(frozen=True)
class GPU:
    name: str
    mem_gib: float
    fp32_tflops: float
    tf32_tflops: float | None
    bf16_tflops: float | None
    source: str

    def peak_tflops(self, precision: str) -> float | None:
        """Dense peak of ``precision`` ("fp32" | "bf16")."""
        return self.fp32_tflops if precision == "fp32" else self.bf16_tflops


_A100 = ("https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
         "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf (SXM4)" + _UNCHECKED + _SMI)
_ROWS = [
    GPU("A100-40GB", 40.0, 19.5, 156.0, 312.0, _A100),
    GPU("A100-80GB", 80.0, 19.5, 156.0, 312.0, _A100),
    GPU("H100-80GB", 79.6, 66.9, 494.7, 989.4,
        "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet (SXM5); FP32 67, TF32 989 "
        "and BF16 1979 with sparsity (half dense) checked against a copy of the datasheet table and the Hopper "
        "whitepaper's per-type peaks (66.9 / 494.7 / 989.4 dense)" + _SMI),
    GPU("H200-141GB", 140.4, 66.9, 494.7, 989.4,
        "https://www.nvidia.com/en-us/data-center/h200/ (SXM): the H100 SXM's compute with 141 GB HBM3e"
        + _UNCHECKED + _SMI),
    GPU("L40S-48GB", 45.0, 91.6, 183.0, 362.05,
        "https://resources.nvidia.com/en-us-l40s/l40s-datasheet-28413: FP32 91.6, TF32 183, BF16 362.05 dense "
        "(366 / 733 with sparsity) checked against a copy of the datasheet table" + _SMI),
    GPU("A40-48GB", 45.0, 37.4, 74.8, 149.7,
        "https://images.nvidia.com/content/Solutions/data-center/a40/nvidia-a40-datasheet.pdf" + _UNCHECKED + _SMI),
    GPU("RTX6000Ada-48GB", 48.0, 91.1, 182.1, 364.2,
        "https://www.nvidia.com/content/dam/en-zz/Solutions/design-visualization/rtx-6000/proviz-print-rtx6000-datasheet-web-2504660.pdf "
        "and the Ada Lovelace whitepaper appendix (BF16 with FP32 accumulate, dense)" + _UNCHECKED + _SMI),
    GPU("V100-32GB", 32.0, 15.7, None, None,
        "https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf "
        "(SXM2): no TF32 or BF16 tensor cores (FP16 125)" + _UNCHECKED + _SMI),
    GPU("RTX4090-24GB", 24.0, 82.6, 82.6, 165.2,
        "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf (Ada whitepaper "
        "appendix: GeForce BF16 with FP32 accumulate is half rate)" + _UNCHECKED + _SMI),
    GPU("A10-24GB", 22.5, 31.2, 62.5, 125.0,
        "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a10/pdf/datasheet-new/nvidia-a10-datasheet.pdf"
        + _UNCHECKED + _SMI),
    GPU("L4-24GB", 22.5, 30.3, 60.0, 121.0,
        "https://www.nvidia.com/en-us/data-center/l4/ (datasheet: TF32 120, BF16 242 with sparsity)"
        + _UNCHECKED + _SMI),
]
GPUS = {g.name: g for g in _ROWS}


def get(name: str, where: str = "gpu") -> GPU:
    """The table's row for ``name``; an unknown name is an InputError listing the known ones."""
    if name not in GPUS:
        raise InputError(where, f"unknown GPU {name!r}; known: {', '.join(GPUS)}")
    return GPUS[name]
