"""Per-run (and per-grid submission) locks with fcntl.flock.

flock locks belong to the open file and vanish when the holding process dies (kill -9 included),
so a crashed run never leaves a stale lock behind; the lock file itself only carries who holds
it (host, pid, Slurm job) for messages. flock works across nodes on NFSv4 (Linux emulates it with
byte-range locks) and on local disks.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

LOCK = ".lock"


class Lock:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not blocking or (deadline is not None and time.monotonic() > deadline):
                    os.close(fd)
                    return False
                time.sleep(0.2)
        self._fd = fd
        info = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                           "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "since": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "Lock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_lock(run_dir: str | os.PathLike) -> Lock:
    return Lock(Path(run_dir) / LOCK)


def is_held(path: str | os.PathLike) -> bool:
    """True if some live process holds the lock at ``path`` (never creates it)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our probe lock, if we got it
    return False


def holder(path: str | os.PathLike) -> dict:
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
