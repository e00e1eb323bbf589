"""Code snapshot for Slurm (``--snapshot``): queued and requeued jobs run the code of submission time.

Jobs can wait in a queue for hours and are requeued after preemption; without a snapshot they would
import whatever the working tree holds by then (code that is not part of the run id). The snapshot is
``git archive HEAD`` unpacked once under ``results/<grid>/code/<sha>/``; each job ``cd``s there and puts
it first on PYTHONPATH. Only committed code is included (a dirty tree is reported).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from sfi_mos.errors import InputError

from .inputs import _build_once

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise InputError("--snapshot", f"git {' '.join(args)} failed in {ROOT}: {out.stderr.strip()}")
    return out.stdout


def make(grid_dir: Path) -> tuple[Path, bool]:
    """The snapshot dir of HEAD (built once) and whether the working tree has uncommitted changes."""
    sha = _git("rev-parse", "HEAD").strip()
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no").strip())
    dest = grid_dir / "code" / sha[:12]

    def build(out: Path) -> None:
        out.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)

    _build_once(dest, build)
    return dest, dirty


def setup_lines(dest: Path) -> list[str]:
    return [f"cd {dest}", f"export PYTHONPATH={dest}${{PYTHONPATH:+:$PYTHONPATH}}"]
