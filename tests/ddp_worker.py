"""A rank of a gloo process group on this machine (``torch.multiprocessing.spawn``), for the DDP tests:
the same stage code a Slurm task runs, with the group set up from a rendezvous file instead of
submitit's environment."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist

from sfi_mos.train import distill, mos_stage
from sfi_mos.train.execution import Execution
from step_grads import distill_step, mos_step


def rank_main(rank: int, world: int, rendezvous: str, what: str, cfg, run_dir: str, out: str | None,
              micro_batch: int | None = None) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    try:
        ex = Execution(micro_batch=micro_batch)
        if what == "mos_step":
            result = mos_step(cfg, Path(run_dir), ex)
        elif what == "distill_step":
            result = distill_step(cfg, ex)
        elif what == "mos_run":
            result = mos_stage.run(cfg, run_dir, ex)
        else:
            result = distill.run(cfg, run_dir, ex)
        if out and rank == 0:
            torch.save(result, out)
        dist.barrier()  # no rank tears the group down while another still talks to it
    finally:
        dist.destroy_process_group()


def spawn(tmp: Path, what: str, cfg, run_dir: Path, world: int = 2, micro_batch: int | None = None):
    """Run ``what`` in ``world`` ranks; rank 0's result."""
    out = tmp / f"{what}-result.pt"
    torch.multiprocessing.spawn(rank_main, args=(world, str(tmp / f"{what}-rendezvous"), what, cfg, str(run_dir),
                                                 str(out), micro_batch), nprocs=world, join=True)
    return torch.load(out, weights_only=False)
