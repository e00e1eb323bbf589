"""The callable every stage job runs: lock the run dir, skip if done, run the stage, record failure.

It is a ``submitit.helpers.Checkpointable``: on preemption (USR2) or timeout submitit pickles it
again and requeues it; the stage itself resumes from ``run_dir/ckpt/`` (training) or its saved items
(``run_dir/partial/``). Every start and how it ended goes to ``run_dir/attempts.json``
(``replication.attempts``). Nothing here knows about grids: a job is (stage name, resolved config
dict, run dir, and the time limit it was given).
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import submitit

from sfi_mos.atomic import write_json
from sfi_mos.config import from_dict
from sfi_mos.rundir import DONE, is_done
from sfi_mos.train import STAGES
from sfi_mos.train.execution import Execution

from . import attempts, registry
from .lock import run_lock

FAILED = "failed.json"
# stages that split a step over several processes (sfi_mos.train.ddp); any other runs in one
DATA_PARALLEL = ("distill", "pretrain", "finetune")


class StageJob(submitit.helpers.Checkpointable):
    def __init__(self, stage: str, config: dict, run_dir: str, threads: int | None = None,
                 limit_min: float | None = None, execution: dict | None = None):
        self.stage = stage
        self.config = config
        self.run_dir = str(run_dir)
        self.threads = threads
        self.limit_min = limit_min  # the job's time limit (None: none), to tell a timeout from a preemption
        # how the stage runs (sfi_mos.train.execution.Execution fields: micro-batch, memory budget);
        # not part of the config, so not of the run id
        self.execution = dict(execution or {})
        self._start = 0.0

    def __repr__(self) -> str:  # shows up in submitit logs
        return f"StageJob({self.stage}, {Path(self.run_dir).name})"

    def __call__(self) -> dict[str, Any]:
        run_dir = Path(self.run_dir)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # a local job: its launcher ignored Ctrl-C
            signal.signal(signal.SIGINT, signal.default_int_handler)  # for its controller only
        if not self.threads and os.environ.get("SLURM_CPUS_PER_TASK", "").isdigit():
            self.threads = int(os.environ["SLURM_CPUS_PER_TASK"])  # the CPUs Slurm gave this job
        if self.threads:
            os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
        rank, world = _task()
        if world == 1:
            return self._run(run_dir)
        if self.stage not in DATA_PARALLEL:  # one process does it; the job's other tasks end at once
            return self._run(run_dir) if rank == 0 else {"run_dir": self.run_dir, "executed": False}
        return self._run_distributed(run_dir)

    def _run_distributed(self, run_dir: Path) -> dict[str, Any]:
        """One of the job's tasks (one per GPU): a ``torch.distributed`` rank, set up by submitit from
        Slurm's variables; rank 0 holds the run lock and records the attempt."""
        import datetime as dt  # stdlib, with the torch imports below

        import torch  # lazy: run_all imports this module and must not import torch
        import torch.distributed as dist  # as above

        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=torch.cuda.is_available())
        # rank 0 validates between epochs while the others wait in a collective: a generous timeout
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=dt.timedelta(hours=2))
        try:
            def agree(done):
                box = [done]
                dist.broadcast_object_list(box, src=0)
                return box[0]

            return self._run(run_dir, dist.get_rank(), agree)
        finally:
            dist.destroy_process_group()

    def _run(self, run_dir: Path, rank: int = 0, agree=lambda done: done) -> dict[str, Any]:
        main = rank == 0
        lock = run_lock(run_dir) if main else None
        if lock:
            lock.acquire()  # a second submission of the same run waits here, then finds it done
        try:
            if agree(is_done(run_dir) if main else None):
                return {"run_dir": self.run_dir, "executed": False}
            if main:
                self._start = time.monotonic()
                attempts.begin(run_dir, self.limit_min, _job_id())
                (run_dir / FAILED).unlink(missing_ok=True)
            cfg = from_dict(STAGES[self.stage][0], self.config)
            fn = registry.load(registry.stage_path(self.stage))
            if self.threads and "torch" in sys.modules:
                sys.modules["torch"].set_num_threads(self.threads)
            fn(cfg, run_dir, **({"execution": Execution(**self.execution)} if self.execution else {}))
            if main:
                if not is_done(run_dir):
                    raise RuntimeError(f"stage {self.stage} returned without writing {DONE} in {run_dir}")
                attempts.end(run_dir, "done")
            return {"run_dir": self.run_dir, "executed": True}
        except Exception as e:
            if main:
                write_json(run_dir / FAILED, failure_record(self.stage, e))
                attempts.end(run_dir, "failed")
            raise
        finally:
            if lock:
                lock.release()

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Called by submitit on USR2 (time limit or preemption), just before it requeues this job."""
        elapsed = time.monotonic() - self._start if self._start else 0.0
        attempts.end(self.run_dir, "timeout" if attempts.timed_out(elapsed, self.limit_min) else "preempted")
        self._start = 0.0
        return super().checkpoint(*args, **kwargs)


def _task() -> tuple[int, int]:
    """(this task's rank, tasks in the job): (0, 1) outside a submitit job."""
    try:
        env = submitit.JobEnvironment()
        return env.global_rank, env.num_tasks
    except Exception:  # not inside a submitit job (stage run by hand)
        return 0, 1


def _job_id() -> str | None:
    try:
        return str(submitit.JobEnvironment().job_id)
    except Exception:  # not inside a submitit job (stage run by hand)
        return None


def failure_record(stage: str, e: BaseException) -> dict[str, Any]:
    rec: dict[str, Any] = {"stage": stage, "error": f"{type(e).__name__}: {e}",
                           "traceback": traceback.format_exc(), "host": socket.gethostname(),
                           "pid": os.getpid(), "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    try:
        env = submitit.JobEnvironment()
        rec["job_id"] = env.job_id
        rec["stdout"], rec["stderr"] = str(env.paths.stdout), str(env.paths.stderr)
    except Exception:  # not inside a submitit job (stage run by hand)
        pass
    return rec
