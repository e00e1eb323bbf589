"""The bad-input catalogue: one ``Case`` per damaged input or fault, run as a real CLI subprocess.

Every case asserts what a careful new user is promised (DEVELOPERS.md, "bad input gets a clear
error and loses nothing"):

* the exit code (``code``; 2 for bad input unless the entry point documents otherwise);
* no Python traceback anywhere in stdout/stderr, and no hang (``Setup.timeout``);
* for a failing case, exactly one error line that names the file (and row, when the problem is in
  a row): every string in ``names`` must appear in that line. An error line starts with
  ``error:``, or is argparse's ``<prog>: error: ...`` (a bad flag);
* no partial or corrupt output: every path in ``absent`` does not exist afterwards, and every
  path in ``unchanged`` has the bytes it had before the run;
* where other work was possible, it still happened: every path in ``present`` exists afterwards.

A case's ``setup(tmp_path)`` builds its inputs and returns the argv (after ``python -m``) plus
any paths (relative to ``tmp_path``) to check. Entry points own their case lists in
``tests/catalogue/cases_<entry>.py``; ``tests/catalogue/test_catalogue.py`` runs them all.

Expensive inputs (a finished smoke grid, a tiny corpus) are built once per process by
:func:`shared` and copied into a case's ``tmp_path`` with :func:`copy_shared`.
``python -m tests.catalogue.counts`` runs every case without asserting and prints how many end in
each outcome class (:func:`classify`).
"""
from __future__ import annotations

import atexit
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
OUTCOMES = ("error", "handled")  # error: one-line named error; handled: the run did what it promised
# what a run actually did (classify); the first two are the promised ones
CLASSES = ("clear error", "handled", "traceback", "hang", "silent", "lost", "unclear")
_ARGPARSE_ERROR = re.compile(r"^[\w.\- ]+: error: ")


@dataclass
class Setup:
    argv: list[str]  # after "python -m"
    names: tuple[str, ...] = ()  # strings the one error line must contain (file, row, ...)
    absent: tuple[str, ...] = ()  # paths (relative to tmp_path) that must not exist afterwards
    present: tuple[str, ...] = ()  # paths that must exist afterwards (work that was still possible)
    unchanged: tuple[str, ...] = ()  # paths whose bytes must not change
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    timeout: float = 120.0
    check: Callable[["Result"], None] | None = None  # extra assertions
    tty: bool = False  # stdin is a terminal (a pseudo-terminal nobody types into): catches prompts
    cleanup: Callable[[], None] | None = None  # undo what setup did outside tmp (e.g. chattr +i)
    interrupt: "Interrupt | None" = None  # a signal sent while the command runs


@dataclass
class Interrupt:
    """Send ``sig`` once ``ready(tmp)`` holds (polled), to the command's process group (``group``: as
    Ctrl-C in a terminal does) or to the command alone (as ``kill`` does). Afterwards no process of
    the command's session may be left (``Result.leftover``)."""
    sig: int
    ready: Callable[[Path], bool]
    group: bool = True
    wait_s: float = 60.0  # the most to wait for ``ready``


@dataclass
class Case:
    id: str  # "<entry>/<short-name>", unique
    setup: Callable[[Path], Setup]
    code: int = 2
    outcome: str = "error"  # see OUTCOMES

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"{self.id}: outcome {self.outcome!r} not in {OUTCOMES}")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    tmp: Path
    timed_out: bool = False
    leftover: list[int] = field(default_factory=list)  # processes of the session still running after exit

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in (self.stdout + "\n" + self.stderr).splitlines()
                if ln.startswith("error:") or _ARGPARSE_ERROR.match(ln)]


class Hang(AssertionError):
    pass


def _snapshot(tmp: Path, rels) -> dict[str, bytes | None]:
    out = {}
    for r in rels:
        p = tmp / r
        out[r] = p.read_bytes() if p.is_file() else None
    return out


def _env(s: Setup) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **s.env}
    return env


def execute(s: Setup, tmp: Path) -> Result:
    """Run the case's command; a timeout gives ``timed_out`` (its process group is killed)."""
    env = _env(s)
    master = slave = None
    if s.tty:
        master, slave = pty.openpty()
    try:
        p = subprocess.Popen([sys.executable, "-m", *s.argv], cwd=tmp, env=env, text=True, errors="backslashreplace",
                             stdin=slave if s.tty else (subprocess.PIPE if s.stdin is not None else subprocess.DEVNULL),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        if s.interrupt is not None:
            _interrupt_when_ready(p, s.interrupt, tmp)
        try:
            out, err = p.communicate(input=None if s.tty else s.stdin, timeout=s.timeout)
            left = _session_members(p.pid)
            for pid in left:  # a leftover job process is a failure of the case; do not let it run on
                _kill(pid)
            return Result(p.returncode, out, err, tmp, leftover=left)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)  # the whole session: a stuck run's job processes too
            out, err = p.communicate()
            return Result(p.returncode, out, err, tmp, timed_out=True)
    finally:
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)


def _interrupt_when_ready(p: subprocess.Popen, it: Interrupt, tmp: Path) -> None:
    deadline = time.monotonic() + it.wait_s
    while p.poll() is None and time.monotonic() < deadline and not it.ready(tmp):
        time.sleep(0.05)
    if p.poll() is None:
        if it.group:
            os.killpg(p.pid, it.sig)
        else:
            os.kill(p.pid, it.sig)


def _session_members(sid: int) -> list[int]:
    """Live processes whose session id is ``sid`` (the command was started in a new session)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(d))
    return out


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def run_case(case: Case, tmp: Path) -> Result:
    s = case.setup(tmp)
    try:
        return _assert_case(case, s, tmp)
    finally:
        if s.cleanup is not None:
            s.cleanup()


def _assert_case(case: Case, s: Setup, tmp: Path) -> Result:
    before = _snapshot(tmp, s.unchanged)
    r = execute(s, tmp)
    both = r.stdout + r.stderr
    if r.timed_out:
        raise Hang(f"{case.id}: no exit within {s.timeout:.0f} s (hang)\n{both[-3000:]}")
    assert "Traceback (most recent call last)" not in both, f"{case.id}: traceback\n{both[-3000:]}"
    assert not r.leftover, f"{case.id}: processes left running after exit: {r.leftover}"
    assert r.code == case.code, f"{case.id}: exit {r.code}, expected {case.code}\n{both[-3000:]}"
    if case.outcome == "error":
        lines = r.error_lines
        assert len(lines) == 1, f"{case.id}: expected exactly one 'error:' line, got {lines}\n{both[-3000:]}"
        for name in s.names:
            assert name in lines[0], f"{case.id}: error line does not name {name!r}: {lines[0]}"
    for rel in s.absent:
        assert not (tmp / rel).exists(), f"{case.id}: partial output left at {rel}"
    for rel in s.present:
        assert (tmp / rel).exists(), f"{case.id}: expected {rel} (work that was possible) to exist"
    after = _snapshot(tmp, s.unchanged)
    for rel in s.unchanged:
        assert before[rel] == after[rel], f"{case.id}: {rel} was changed"
    if s.check is not None:
        s.check(r)
    return r


def classify(case: Case, tmp: Path) -> tuple[str, str]:
    """(outcome class, detail) of one case: what happened, without asserting (for the counts).

    hang: no exit in time; traceback: a Python traceback reached the user; silent: the run
    succeeded where it should have failed, failed without any error line, left partial output or
    running processes, or did something wrong without a word (``check``); lost: work that was
    possible did not happen, or a file that should not change did (also when the run "succeeded");
    unclear: an error
    line that does not name what it should, or an unexpected exit code; otherwise the promised
    outcome (clear error / handled)."""
    try:
        s = case.setup(tmp)
    except Exception as e:  # a setup that cannot run is a broken case, not a result
        return "unclear", f"setup failed: {type(e).__name__}: {e}"
    try:
        return _classify(case, s, tmp)
    finally:
        if s.cleanup is not None:
            s.cleanup()


def _classify(case: Case, s: Setup, tmp: Path) -> tuple[str, str]:
    before = _snapshot(tmp, s.unchanged)
    r = execute(s, tmp)
    both = r.stdout + r.stderr
    if r.timed_out:
        return "hang", f"no exit within {s.timeout:.0f} s"
    if "Traceback (most recent call last)" in both:
        last = [ln for ln in both.splitlines() if ln.strip()][-1:]
        return "traceback", last[0] if last else ""
    after = _snapshot(tmp, s.unchanged)
    partial = [rel for rel in s.absent if (tmp / rel).exists()]
    lines = r.error_lines
    if r.leftover:
        return "silent", f"processes left running after exit: {r.leftover}"
    lost = [rel for rel in s.present if not (tmp / rel).exists()] + \
           [rel for rel in s.unchanged if before[rel] != after[rel]]
    if case.code != 0 and r.code == 0:  # it should have complained and did not
        if lost:  # and overwrote or lost a file on the way
            return "lost", f"exit 0, missing or changed: {lost}"
        return "silent", f"exit 0, error lines {lines}" + (f", left {partial}" if partial else "")
    if lost:
        return "lost", f"missing or changed: {lost}"
    if case.outcome == "error":
        if not lines:
            return "silent", f"exit {r.code}, error lines {lines}" + (f", left {partial}" if partial else "")
        if partial:
            return "silent", f"partial output left: {partial}"
        if r.code != case.code or len(lines) != 1 or not all(n in lines[0] for n in s.names):
            return "unclear", f"exit {r.code}: {lines}"
    else:
        if partial:
            return "silent", f"partial output left: {partial}"
        if r.code != case.code:
            return ("silent" if r.code == 0 else "unclear"), f"exit {r.code}, expected {case.code}: {lines}"
    if s.check is not None:
        try:
            s.check(r)
        except AssertionError as e:
            return "silent", f"check failed: {str(e).splitlines()[0] if str(e) else ''}"
    return ("clear error" if case.outcome == "error" else "handled"), (lines[0] if lines else "")


# ---- shared inputs, built once per process ------------------------------------------------------
_SHARED: dict[str, Path] = {}
_BASE: Path | None = None


def _base() -> Path:
    global _BASE
    if _BASE is None:
        _BASE = Path(tempfile.mkdtemp(prefix="sfi-catalogue-"))
        atexit.register(shutil.rmtree, _BASE, True)
    return _BASE


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> None:
    p = subprocess.run([sys.executable, "-m", *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})})
    if p.returncode != 0:
        raise RuntimeError(f"building a shared catalogue input failed: {argv}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")


def _build_smoke(out: Path) -> None:
    """A finished real smoke grid (tiny models, synthetic corpus): ``out/results/smoke/...``."""
    out.mkdir(parents=True)
    _run(["replication.run_all", "--grid", "smoke", "--cluster", "debug", "--results", str(out / "results"),
          "--no-progress", "--threads", "1"], out)


def _build_fake_smoke(out: Path) -> None:
    """The smoke grid run with the stand-in stages of tests/grid_fake_stages.py (seconds)."""
    out.mkdir(parents=True)
    _run(["replication.run_all", "--grid", "smoke", "--cluster", "debug", "--results", str(out / "results"),
          "--no-progress"], out, env=fake_stage_env())


def _build_synth_tiny(out: Path) -> None:
    """The tiny synthetic corpus: ``out/corpus/{track3,bvcc,unlabelled,manifest.*}``."""
    out.mkdir(parents=True)
    _run(["sfi_mos.data.synth", "--out", str(out / "corpus"), "--size", "tiny", "--seed", "0"], out)


BUILDERS: dict[str, Callable[[Path], None]] = {"smoke": _build_smoke, "fake_smoke": _build_fake_smoke,
                                               "synth_tiny": _build_synth_tiny}


def shared(name: str) -> Path:
    """Path of the shared input ``name`` (built on first use; read-only by convention: copy it)."""
    if name not in _SHARED:
        target = _base() / name
        tmp = _base() / f".{name}.building"
        shutil.rmtree(tmp, ignore_errors=True)
        BUILDERS[name](tmp)
        tmp.rename(target)
        _SHARED[name] = target
    return _SHARED[name]


def copy_shared(name: str, dest: Path, sub: str = "") -> Path:
    """Copy ``shared(name)/sub`` to ``dest`` (symlinks kept as links) and return ``dest``."""
    shutil.copytree(shared(name) / sub, dest, symlinks=True)
    return dest


def fake_stage_env() -> dict[str, str]:
    """Environment that routes run_all's stages to tests/grid_fake_stages.py (also in job processes)."""
    return {"SFI_MOS_REGISTRY": "grid_fake_stages", "SFI_FAKE_STEPS": "2", "SFI_FAKE_SLEEP": "0.01",
            "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
