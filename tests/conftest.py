"""Shared pytest setup: the real single-node Slurm for tests marked ``slurm``.

``slurm_cluster`` (session scope, requested only by Slurm tests) starts munged, slurmctld, slurmd
and the sacct shim with ``slurm/local_cluster.sh`` and stops them at the end of the session. It joins
a cluster that another test session already started (the script counts holders by PID) and only the
last holder stops it. Tests are skipped, with the reason, only when Slurm is not installed
(``bash quickstart.sh test`` installs it as root).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "slurm" / "local_cluster.sh"
STATE = Path(os.environ.get("SFI_SLURM_STATE", "/tmp/sfi-mos-slurm"))


def _installed() -> bool:
    return all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in ("slurmctld", "slurmd", "munged"))


@pytest.fixture(scope="session")
def slurm_cluster():
    if not _installed():
        pytest.skip("Slurm is not installed (needs root: apt-get install slurmctld slurmd slurm-client munge; "
                    "bash quickstart.sh test does it)")
    if os.geteuid() != 0:
        pytest.fail("slurmctld is installed but the single-node test cluster must be started as root")
    env = {**os.environ, "SFI_SLURM_CPUS": os.environ.get("SFI_SLURM_CPUS", "4")}
    holder = str(os.getpid())
    out = subprocess.run(["bash", str(SCRIPT), "start", holder], capture_output=True, text=True, env=env,
                         timeout=120)
    if out.returncode != 0:
        pytest.fail(f"could not start the test Slurm cluster:\n{out.stdout}\n{out.stderr}")
    old_path = os.environ["PATH"]
    os.environ["PATH"] = f"{STATE / 'bin'}:{old_path}"  # the sacct shim, for submitit and replication.state
    try:
        yield {"state": STATE, "start": out.stdout.strip()}
    finally:
        os.environ["PATH"] = old_path
        subprocess.run(["bash", str(SCRIPT), "stop", holder], capture_output=True, text=True, timeout=120)
