"""``python -m sfi_mos.data.synth``: bad output folders, bad parameters, damaged or foreign corpora,
and the leftovers of a killed generation."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .builders import not_utf8, readonly
from .harness import ROOT, Case, Setup, copy_shared

M = "sfi_mos.data.synth"
TINY = ["--size", "tiny", "--seed", "0"]


def _out_is_file(tmp: Path) -> Setup:
    (tmp / "corpus").write_text("my notes\n")
    return Setup([M, "--out", "corpus", *TINY], names=("corpus",), unchanged=("corpus",))


def _out_parent_is_file(tmp: Path) -> Setup:
    (tmp / "notes").write_text("x\n")
    return Setup([M, "--out", "notes/corpus", *TINY], names=("notes",), unchanged=("notes",))


def _out_readonly(tmp: Path) -> Setup:
    undo = readonly(tmp / "ro")
    return Setup([M, "--out", "ro/corpus", *TINY], names=("ro/corpus",), absent=("ro/corpus",), cleanup=undo,
                 timeout=60)


def _out_foreign_dir(tmp: Path) -> Setup:
    (tmp / "corpus").mkdir()
    (tmp / "corpus" / "thesis.tex").write_text("precious\n")
    return Setup([M, "--out", "corpus", *TINY], names=("corpus",), unchanged=("corpus/thesis.tex",))


def _rates_not_int(tmp: Path) -> Setup:
    return Setup([M, "--out", "c", "--rates", "16000,abc"], names=("--rates",), absent=("c",))


def _rates_unsupported(tmp: Path) -> Setup:
    return Setup([M, "--out", "c", "--rates", "12345"], names=("rates", "12345"), absent=("c",))


def _seed_negative(tmp: Path) -> Setup:
    return Setup([M, "--out", "c", "--seed", "-1"], names=("seed",), absent=("c",))


def _size_unknown(tmp: Path) -> Setup:
    return Setup([M, "--out", "c", "--size", "huge"], names=("--size",), absent=("c",))


def _other_params_no_force(tmp: Path) -> Setup:
    copy_shared("synth_tiny", tmp / "corpus", "corpus")
    return Setup([M, "--out", "corpus", "--size", "tiny", "--seed", "1"], names=("corpus", "--force"),
                 unchanged=("corpus/manifest.json", "corpus/track3/DATA/utt_16k.csv"))


def _manifest_corrupt(tmp: Path) -> Setup:
    copy_shared("synth_tiny", tmp / "corpus", "corpus")
    (tmp / "corpus" / "manifest.json").write_text('{"size": "tiny", "seed": ')
    return Setup([M, "--out", "corpus", *TINY], names=("manifest.json",), unchanged=("corpus/manifest.json",))


def _manifest_not_utf8(tmp: Path) -> Setup:
    copy_shared("synth_tiny", tmp / "corpus", "corpus")
    m = tmp / "corpus" / "manifest.json"
    m.write_bytes(b"\xff\xfe" + m.read_bytes())
    return Setup([M, "--out", "corpus", *TINY], names=("manifest.json",), unchanged=("corpus/manifest.json",))


def _same_params_noop(tmp: Path) -> Setup:
    copy_shared("synth_tiny", tmp / "corpus", "corpus")
    return Setup([M, "--out", "corpus", *TINY], unchanged=("corpus/manifest.json", "corpus/manifest.csv"))


def _stale_temp_removed(tmp: Path) -> Setup:
    """The hidden temp folder of a generation that died (nobody holds it) goes on the next run."""
    copy_shared("synth_tiny", tmp / "corpus", "corpus")
    stale = tmp / ".corpus.k1ll3d.tmp"
    (stale / "track3" / "DATA").mkdir(parents=True)
    (stale / "track3" / "DATA" / "utt_16k.csv").write_text("uttID,lisID,rating\n")
    return Setup([M, "--out", "corpus", *TINY], absent=(".corpus.k1ll3d.tmp",), present=("corpus/manifest.json",))


def _killed_then_rerun(tmp: Path) -> Setup:
    """kill -9 a generation midway; the rerun builds the corpus and leaves no hidden folder behind."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", M, "--out", "corpus", *TINY], cwd=tmp, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(tmp.glob(".corpus.*.tmp/track3/DATA/wav/*.wav")):  # it is writing clips
        if time.monotonic() > deadline or p.poll() is not None:
            p.kill()
            raise RuntimeError("the generation to be killed never started writing")
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert any(tmp.glob(".corpus.*.tmp")), "the killed generation left nothing to clean up"

    def no_hidden(r) -> None:
        left = [p.name for p in tmp.iterdir() if p.name.startswith(".corpus.")]
        assert not left, f"left behind: {left}"

    return Setup([M, "--out", "corpus", *TINY], present=("corpus/manifest.json",), check=no_hidden)


def _out_not_utf8_name(tmp: Path) -> Setup:
    name = not_utf8("corpus")
    copy_shared("synth_tiny", tmp / name, "corpus")
    return Setup([M, "--out", name, *TINY], present=(f"{name}/manifest.json",))


def _voices_unknown(tmp: Path) -> Setup:
    return Setup([M, "--out", "c", "--voices", "espeak"], names=("--voices",), absent=("c",))


CASES = [
    Case("synth/out-is-a-file", _out_is_file),
    Case("synth/out-parent-is-a-file", _out_parent_is_file),
    Case("synth/out-read-only", _out_readonly),
    Case("synth/out-foreign-folder", _out_foreign_dir),
    Case("synth/rates-not-integers", _rates_not_int),
    Case("synth/rates-unsupported", _rates_unsupported),
    Case("synth/seed-negative", _seed_negative),
    Case("synth/size-unknown", _size_unknown),
    Case("synth/voices-unknown", _voices_unknown),
    Case("synth/other-params-without-force", _other_params_no_force),
    Case("synth/manifest-corrupt", _manifest_corrupt),
    Case("synth/manifest-not-utf8", _manifest_not_utf8),
    Case("synth/same-params-is-a-no-op", _same_params_noop, code=0, outcome="handled"),
    Case("synth/stale-temp-folder-removed", _stale_temp_removed, code=0, outcome="handled"),
    Case("synth/killed-generation-then-rerun", _killed_then_rerun, code=0, outcome="handled"),
    Case("synth/out-name-not-utf8", _out_not_utf8_name, code=0, outcome="handled"),
]
