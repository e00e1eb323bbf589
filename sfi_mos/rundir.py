"""Run-directory conventions shared by every stage.

``results/<grid>/<stage>/<run-id>/`` holds ``config.json`` (resolved config), ``env.json``
(git SHA, package versions, hardware), stage outputs, ``ckpt/`` and, last of all, ``done.json``.
A run is finished exactly when ``done.json`` exists; it is written atomically after every output.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import write_json
from .config import to_dict
from .errors import InputError
from .jsonio import read_json

DONE = "done.json"
# ``results/<grid>/layout.json``: the version of this directory layout. 1 = before the file existed (the
# recipe's factor names of that time, predict ids that hashed the cell description); 2 = now.
LAYOUT_FILE = "layout.json"
LAYOUT = 2
PACKAGES = ("torch", "torchaudio", "espnet-s3prl", "numpy", "scipy", "scikit-learn", "pandas",
            "soundfile", "submitit", "schedulefree", "sfi-mos")


def resolve_path(path: str | os.PathLike, run_dir: str | os.PathLike) -> Path:
    """Absolute paths as given; relative ones against the grid results dir (run_dir.parents[1])."""
    p = Path(path)
    if p.is_absolute():
        return p
    return Path(run_dir).resolve().parents[1] / p


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_sha() -> str | None:
    return _git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """True when tracked code differs from HEAD: the SHA alone would not reproduce the run."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out)


def environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    info: dict[str, Any] = {
        "git_sha": git_sha(),
        "git_dirty": git_dirty(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    try:
        import torch  # lazy and optional: rundir stays torch-free (ablations, paper, replication import it)

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    return info


def start(run_dir: str | os.PathLike, cfg: Any, execution: dict[str, Any] | None = None) -> Path:
    """Create the run dir and write its resolved config and environment. ``execution``: how this
    attempt runs (micro-batch, memory budget, data-parallel ranks), recorded in ``env.json`` only:
    it is not part of the config, so not of the run id."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", to_dict(cfg))
    env = environment()
    if execution is not None:
        env["execution"] = execution
    write_json(run_dir / "env.json", env)
    return run_dir


def read_layout(grid_dir: str | os.PathLike) -> int:
    """The layout version of a grid's results directory (1 when it predates ``layout.json``). A
    newer layout than this suite writes is refused: its runs may mean something this code does not."""
    path = Path(grid_dir) / LAYOUT_FILE
    if not path.exists():
        return 1
    version = read_json(path, shape={"layout": int}, what="results layout")["layout"]
    if version < 1:
        raise InputError(str(path), f"layout {version}: layouts start at 1")
    if version > LAYOUT:
        raise InputError(str(path), f"results layout {version} was written by a newer sfi-mos (this one reads "
                                    f"layouts 1-{LAYOUT}); upgrade the suite (git pull; pip install -e .) or use "
                                    "another --results directory")
    return version


def write_layout(grid_dir: str | os.PathLike) -> None:
    """Record this suite's layout version (after checking the directory's own; idempotent)."""
    if read_layout(grid_dir) != LAYOUT or not (Path(grid_dir) / LAYOUT_FILE).exists():
        write_json(Path(grid_dir) / LAYOUT_FILE, {"layout": LAYOUT, "written_by": "sfi-mos",
                                                  "notes": "CHANGELOG.md lists what each layout changed"})


STAGE_NAMES = ("import", "distill", "pretrain", "finetune", "predict", "score", "probe", "peers")


def run_kind(run_dir: str | os.PathLike) -> str | None:
    """The stage a run dir belongs to: its parent folder's name in a grid (``<stage>/<run-id>``), else
    guessed from its config.json keys; None when neither tells."""
    run_dir = Path(run_dir)
    parent = run_dir.resolve().parent.name
    if parent in STAGE_NAMES and (run_dir / "config.json").is_file():
        return parent
    try:
        keys = set(read_json(run_dir / "config.json"))
    except InputError:
        return None
    if "stage" in keys and "backbone" in keys:
        return "finetune"  # a MOS run (pretrain or finetune)
    for stage, marks in (("score", {"predict_run"}), ("probe", {"runs", "student_run"}), ("predict", {"runs"}),
                         ("peers", {"peers"}), ("distill", {"steps", "teacher"}), ("import", {"sha256", "sfi"})):
        if marks <= keys:
            return stage
    return None


def is_done(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / DONE).exists()


def finish(run_dir: str | os.PathLike, summary: dict[str, Any] | None = None) -> None:
    write_json(Path(run_dir) / DONE, {"finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                      **(summary or {})})
