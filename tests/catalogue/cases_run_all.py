"""``python -m replication.run_all``: bad flags, unusable results folders, a failing stage under
``--cluster debug``, damaged records, corpora edited in place, orphaned runs, build leftovers.

The stages are the stand-ins of ``tests/grid_fake_stages.py`` (the launcher mechanics, in seconds)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .builders import not_utf8, readonly, same_size_edit, wav_named, write_wav
from .harness import ROOT, Case, Setup, copy_shared, fake_stage_env

M = "replication.run_all"
SMOKE = ["--grid", "smoke", "--no-progress"]


def _fake(argv: list[str], **kw) -> Setup:
    return Setup([M, *SMOKE, *argv], env=fake_stage_env(), **kw)


def _done(tmp: Path) -> list[str]:
    return sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in (tmp / "results" / "smoke").glob("*/*/done.json"))


# ---- flags --------------------------------------------------------------------------------------
def _max_parallel_negative(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--max-parallel", "-1"], names=("--max-parallel",), absent=("results",),
                 timeout=60)


def _max_parallel_zero(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--max-parallel", "0"], names=("--max-parallel",), absent=("results",),
                 timeout=60)


def _threads_negative(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--threads", "-2"], names=("--threads",), absent=("results",), timeout=60)


def _threads_zero(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--threads", "0", "--cluster", "debug"], names=("--threads",),
                 absent=("results",), timeout=60)


def _grid_unknown(tmp: Path) -> Setup:
    return Setup([M, "--grid", "papre", "--results", "results"], names=("--grid",), absent=("results",))


def _only_matches_nothing(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--only", "authors-bert-*"], names=("--only",), absent=("results/smoke/data",))


def _data_bad_spec(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--data", "track3:/x"], names=("--data",), absent=("results/smoke/data",))


def _data_not_a_dir(tmp: Path) -> Setup:
    return _fake(["--results", "results", "--data", "track3=nowhere,bvcc=nowhere,unlabelled=nowhere"],
                 names=("--data", "nowhere"), absent=("results/smoke/data",))


def _profile_not_utf8(tmp: Path) -> Setup:
    (tmp / "site.toml").write_bytes(b'[defaults]\npartition = "gp\xe9u"\n')
    return _fake(["--results", "results", "--cluster", "slurm", "--profile", "site.toml"], names=("site.toml",),
                 absent=("results/smoke/manifest.json",))


# ---- the results folder ---------------------------------------------------------------------------
def _results_is_file(tmp: Path) -> Setup:
    (tmp / "results").write_text("not a folder\n")
    return _fake(["--results", "results"], names=("results",), unchanged=("results",))


def _results_parent_is_file(tmp: Path) -> Setup:
    (tmp / "scratch").write_text("x\n")
    return _fake(["--results", "scratch/results"], names=("scratch",), unchanged=("scratch",))


def _results_readonly(tmp: Path) -> Setup:
    undo = readonly(tmp / "ro")
    return _fake(["--results", "ro/results"], names=("ro/results",), absent=("ro/results",), cleanup=undo)


def _manifest_corrupt(tmp: Path) -> Setup:
    copy_shared("fake_smoke", tmp / "results", "results")
    (tmp / "results" / "smoke" / "manifest.json").write_text('{"grid": "smoke", "runs": {"distill/')
    return _fake(["--results", "results"], names=("manifest.json",), unchanged=("results/smoke/manifest.json",))


def _manifest_not_utf8(tmp: Path) -> Setup:
    copy_shared("fake_smoke", tmp / "results", "results")
    m = tmp / "results" / "smoke" / "manifest.json"
    m.write_bytes(m.read_bytes().replace(b'"smoke"', b'"sm\xf6ke"', 1))
    return _fake(["--results", "results", "--dry-run"], names=("manifest.json",),
                 unchanged=("results/smoke/manifest.json",))


# ---- a failing stage under --cluster debug ----------------------------------------------------------
def _debug_failure(tty: bool):
    def setup(tmp: Path) -> Setup:
        (tmp / "results" / "smoke").mkdir(parents=True)
        (tmp / "results" / "smoke" / "FAIL").write_text("pretrain\n")

        def reported(r) -> None:
            assert "injected failure in pretrain" in r.stdout, r.stdout
            assert "(Pdb)" not in r.stdout + r.stderr
            done = _done(tmp)
            assert len(done) == 6, done  # distill + the whole resample cell (with its probe): the rest still ran
            assert sum(1 for _ in (tmp / "results" / "smoke").glob("pretrain/*/failed.json")) == 1

        return _fake(["--results", "results", "--cluster", "debug"], tty=tty, timeout=90, check=reported,
                     present=("results/smoke/summary.csv",))
    return setup


# ---- corpora edited in place, orphans, leftovers -----------------------------------------------------
def _real_corpora(tmp: Path) -> str:
    parts = []
    for name, sr in (("track3", 16000), ("bvcc", 16000), ("unlabelled", 48000)):
        d = tmp / "corpora" / name
        write_wav(d / "wav" / "a.wav", sr, seconds=0.2)
        (d / "labels.csv").write_text("uttID,lisID,rating\na,L0,3\n")
        parts.append(f"{name}={d}")
    return ",".join(parts)


def _run_fake(tmp: Path, *argv: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **fake_stage_env()}
    p = subprocess.run([sys.executable, "-m", M, *SMOKE, *argv], cwd=tmp, env=env, capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"setup run failed:\n{p.stdout}\n{p.stderr}")


def _would_submit(r) -> None:
    assert "would submit" in r.stdout, f"an edited corpus kept its old results:\n{r.stdout}"


def _real_data_edited_in_place(tmp: Path) -> Setup:
    data = _real_corpora(tmp)
    _run_fake(tmp, "--results", "results", "--data", data, "--cluster", "debug")
    same_size_edit(tmp / "corpora" / "track3" / "wav" / "a.wav")
    return _fake(["--results", "results", "--data", data, "--dry-run"], check=_would_submit)


def _synthetic_edited_in_place(tmp: Path) -> Setup:
    copy_shared("fake_smoke", tmp / "results", "results")
    same_size_edit(tmp / "results" / "smoke" / "data" / "synth-tiny-s0" / "track3" / "list.csv")
    return _fake(["--results", "results", "--dry-run"], check=_would_submit)


def _real_data_dangling_symlink(tmp: Path) -> Setup:
    data = _real_corpora(tmp)
    (tmp / "corpora" / "bvcc" / "wav" / "b.wav").symlink_to(tmp / "gone.wav")
    return _fake(["--results", "results", "--data", data, "--dry-run"], names=("b.wav", "symbolic link"))


def _real_data_name_not_utf8(tmp: Path) -> Setup:
    data = _real_corpora(tmp)
    wav_named(tmp / "corpora" / "unlabelled" / "wav" / not_utf8("caf.wav"), 48000)
    return _fake(["--results", "results", "--data", data, "--dry-run"], present=("results/smoke",))


def _dry_run_lists_orphans(tmp: Path) -> Setup:
    copy_shared("fake_smoke", tmp / "results", "results")
    grid = tmp / "results" / "smoke"
    old = next(p for p in sorted((grid / "finetune").iterdir()) if p.is_dir())
    orphan = grid / "finetune" / "0ld0ld0ld0ld"
    (orphan).mkdir()
    for f in ("config.json", "done.json"):
        (orphan / f).write_bytes((old / f).read_bytes())

    def listed(r) -> None:
        assert "orphaned" in r.stdout and "finetune/0ld0ld0ld0ld" in r.stdout, r.stdout
        assert "would submit" not in r.stdout, r.stdout

    return _fake(["--results", "results", "--dry-run"], present=("results/smoke/finetune/0ld0ld0ld0ld/done.json",),
                 check=listed)


def _killed_build_leftover(tmp: Path) -> Setup:
    data = tmp / "results" / "smoke" / "data"
    (data / ".synth-tiny-s0.x7k2q9" / "out" / "track3").mkdir(parents=True)  # a build killed with -9
    (data / ".synth-tiny-s0.x7k2q9" / "out" / "track3" / "list.csv").write_text("half\n")
    return _fake(["--results", "results", "--dry-run"], absent=("results/smoke/data/.synth-tiny-s0.x7k2q9",),
                 present=("results/smoke/data/synth-tiny-s0",))


def _rerun_finished_grid(tmp: Path) -> Setup:
    copy_shared("fake_smoke", tmp / "results", "results")
    before = {rel: (tmp / "results" / "smoke" / rel / "done.json").read_text() for rel in _done(tmp)}

    def untouched(r) -> None:
        after = {rel: (tmp / "results" / "smoke" / rel / "done.json").read_text() for rel in _done(tmp)}
        assert after == before and len(after) == 12

    return _fake(["--results", "results", "--cluster", "debug"], check=untouched)


CASES = [
    Case("run_all/max-parallel-negative", _max_parallel_negative),
    Case("run_all/max-parallel-zero", _max_parallel_zero),
    Case("run_all/threads-negative", _threads_negative),
    Case("run_all/threads-zero", _threads_zero),
    Case("run_all/grid-unknown", _grid_unknown),
    Case("run_all/only-matches-nothing", _only_matches_nothing),
    Case("run_all/data-bad-spec", _data_bad_spec),
    Case("run_all/data-not-a-folder", _data_not_a_dir),
    Case("run_all/profile-not-utf8", _profile_not_utf8),
    Case("run_all/results-is-a-file", _results_is_file),
    Case("run_all/results-parent-is-a-file", _results_parent_is_file),
    Case("run_all/results-read-only", _results_readonly),
    Case("run_all/manifest-corrupt", _manifest_corrupt),
    Case("run_all/manifest-not-utf8", _manifest_not_utf8),
    Case("run_all/debug-failing-stage-terminal", _debug_failure(True), code=1, outcome="handled"),
    Case("run_all/debug-failing-stage-no-terminal", _debug_failure(False), code=1, outcome="handled"),
    Case("run_all/real-data-edited-in-place", _real_data_edited_in_place, code=0, outcome="handled"),
    Case("run_all/synthetic-edited-in-place", _synthetic_edited_in_place, code=0, outcome="handled"),
    Case("run_all/real-data-dangling-symlink", _real_data_dangling_symlink),
    Case("run_all/real-data-name-not-utf8", _real_data_name_not_utf8, code=0, outcome="handled"),
    Case("run_all/dry-run-lists-orphans", _dry_run_lists_orphans, code=0, outcome="handled"),
    Case("run_all/killed-build-leftover-removed", _killed_build_leftover, code=0, outcome="handled"),
    Case("run_all/rerun-finished-grid-changes-nothing", _rerun_finished_grid, code=0, outcome="handled"),
]
