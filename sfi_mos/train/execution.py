"""How a training stage executes, apart from what it computes: never part of a run id.

``micro_batch`` splits every forward pass of a step into chunks of at most that many clips (a rating
row is one clip pass in ``rows`` batching; a whole utterance in ``grouped`` batching and in
distillation), so the step fits a memory budget. The gradients are summed over the chunks and the loss
is normalised over the whole step, so the optimiser sees the unsplit step's gradient (floating-point
summation order aside). ``gpu_mem_gib`` is the budget the size was chosen for, kept for the record.

Data parallelism is not configured here: a stage started as one of several ``torch.distributed``
processes (Slurm tasks, ``replication.job``) splits each step's clips over the ranks (``ddp``).
``env.json`` records the execution and the world size of every run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ..config import Range, validate


@dataclass(frozen=True)
class Execution:
    micro_batch: Annotated[int, Range(1)] | None = None  # clips per forward pass; None = the whole batch
    gpu_mem_gib: Annotated[float, Range(0.0, open_lo=True)] | None = None  # the budget it was chosen for

    def __post_init__(self) -> None:
        validate(self)

    def record(self, world_size: int) -> dict:
        """What ``env.json`` keeps of this attempt's execution."""
        return {"micro_batch": self.micro_batch, "gpu_mem_gib": self.gpu_mem_gib, "world_size": world_size}


def chunks(n: int, size: int | None) -> list[tuple[int, int]]:
    """``[(start, end)]`` covering ``range(n)`` in pieces of at most ``size`` (one piece when None)."""
    step = n if not size else size
    return [(i, min(i + step, n)) for i in range(0, n, max(step, 1))]


def step_work(sizes: list[int], micro_batch: int | None, n_ranks: int = 1) -> list[tuple[int, int, int]]:
    """The forward passes of one optimiser step as ``(pass, start, end)`` chunks of its clips: at most
    ``micro_batch`` clips each, and small enough that ``n_ranks`` data-parallel ranks all get one when
    the step has that many clips (a step of two passes over four ranks splits each pass in two)."""
    split = -(-n_ranks // max(len(sizes), 1))  # pieces per pass so that every rank has work
    out = []
    for i, n in enumerate(sizes):
        size = -(-n // split) if split > 1 else n
        if micro_batch:
            size = min(size, micro_batch)
        out += [(i, a, b) for a, b in chunks(n, size)]
    return out
