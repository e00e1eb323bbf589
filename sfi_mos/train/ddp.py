"""Data parallelism over ``torch.distributed`` ranks, for the training stages.

A stage started in N processes of one process group (Slurm tasks, see ``replication.job``) splits the
clips of every optimiser step over the ranks, so the global batch and the loss normalisation stay
those of one process. After the step's backward passes the gradients are summed over the ranks in one
all-reduce, then clipped and applied identically everywhere; rank 0 alone validates and writes.

Why not the ``DistributedDataParallel`` wrapper: its gradient hooks fire on every backward and need
every rank to run the same number of them, but a step's clips do not divide evenly over the ranks
(grouped batches, the last step of an epoch), and LayerDrop leaves parameters without a gradient on
one rank and not another. One flat all-reduce per step, with a has-gradient flag per parameter, is
what DDP's ``no_sync`` accumulation ends in, and is exact in both cases. With one process nothing
here communicates and the stages run as before.
"""
from __future__ import annotations

import random

import numpy as np
import torch
import torch.distributed as dist


def world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if world() > 1:
        dist.barrier()


def broadcast_module(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers everywhere (an initialisation that differs across devices, e.g. a
    GPU's non-deterministic filter fit, must not make the replicas diverge)."""
    if world() > 1:
        for t in module.state_dict().values():
            dist.broadcast(t, 0)


def share(items: list, n_ranks: int | None = None, r: int | None = None) -> list:
    """This rank's items of a step (round robin, so every rank's share differs by at most one)."""
    n_ranks = world() if n_ranks is None else n_ranks
    r = rank() if r is None else r
    return items[r::n_ranks]


def sum_gradients(params: list[torch.nn.Parameter], extra: list[float] = ()) -> list[float]:
    """Sum every parameter's gradient over the ranks (in place) and the numbers in ``extra``; returns
    the summed ``extra``. A parameter no rank has a gradient for keeps ``grad=None``, so the optimiser
    skips it as in one process."""
    if world() == 1:
        return list(extra)
    device = params[0].device
    flat = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=device, dtype=p.dtype)
            for p in params]
    flags = torch.tensor([float(p.grad is not None) for p in params], device=device)
    buf = torch.cat([g.float() for g in flat] + [flags])
    dist.all_reduce(buf)
    offset = 0
    for p, g in zip(params, flat):
        n = g.numel()
        summed = buf[offset:offset + n].view_as(p)
        if p.grad is None:
            p.grad = summed.to(p.dtype).clone()
        else:
            p.grad.copy_(summed)
        offset += n
    for p, flag in zip(params, buf[offset:].tolist()):
        if flag == 0:
            p.grad = None
    sums = torch.tensor(list(extra), dtype=torch.float64, device=device)
    if len(sums):
        dist.all_reduce(sums)
    return sums.tolist()


def gather_state(obj):
    """Every rank's ``obj`` for a checkpoint (a collective: every rank calls it): ``obj`` itself in one
    process, so its checkpoints read as before; a list in rank order with several."""
    if world() == 1:
        return obj
    out = [None] * world()
    dist.all_gather_object(out, obj)
    return out


def own_state(saved):
    """This rank's entry of what ``gather_state`` saved. Resumed on more ranks than saved it, the extra
    ranks take the last saved entry."""
    return saved[min(rank(), len(saved) - 1)] if isinstance(saved, list) else saved


def seed_rank(seed: int) -> None:
    """Give ranks above 0 their own dropout/LayerDrop streams (rank 0 keeps the one-process stream):
    the same draws on every rank would correlate the replicas' regularisation."""
    if rank() > 0:
        s = int(np.random.SeedSequence([seed, rank()]).generate_state(1)[0])
        torch.manual_seed(s)
        np.random.seed(s)
        random.seed(s)
