"""Orchestration: plan -> render -> write into a temporary folder -> rename into place.

A failed or interrupted run never leaves a partial corpus at ``out``: everything is written into a
sibling temp folder first. Re-running with the same parameters on an existing corpus is a no-op.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from sfi_mos.atomic import check_writable, write_json
from sfi_mos.config import to_dict
from sfi_mos.errors import InputError

from . import plan, tts
from .layout import content_hash, write_bvcc, write_manifest_csv, write_probe, write_track3, write_wav
from .render import Renderer
from sfi_mos.jsonio import read_json

GENERATOR_VERSION = "1.2.0"  # bump whenever the bytes a seed produces change
DEFAULT_RATES = (16000, 24000, 48000)
VOICES = ("builtin", "auto")


def _params(size: str, seed: int, rates, voices: str) -> dict:
    if size not in plan.SIZES:
        raise InputError("size", f"unknown size {size!r}; choose one of {sorted(plan.SIZES)}")
    if voices not in VOICES:
        raise InputError("voices", f"unknown voices {voices!r}; choose one of {list(VOICES)}")
    try:
        rates = tuple(sorted({int(r) for r in rates}))
    except (TypeError, ValueError):
        raise InputError("rates", f"rates must be integers in Hz, got {rates!r}") from None
    bad = [r for r in rates if r not in plan.RATE_TAGS]
    if bad or not rates:
        raise InputError("rates", f"unsupported rate(s) {bad or rates}; supported: {sorted(plan.RATE_TAGS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError("seed", f"seed must be a non-negative integer, got {seed!r}")
    return {"generator_version": GENERATOR_VERSION, "size": size, "seed": int(seed), "rates": list(rates),
            "voices": voices}


def generate(out, size: str = "tiny", seed: int = 0, rates=DEFAULT_RATES, voices: str = "builtin",
             force: bool = False) -> Path:
    """Write the synthetic corpus to ``out`` and return it.

    ``voices="builtin"`` (default) uses only the numpy voice: byte-identical on any machine with the
    pinned numpy/scipy/soundfile. ``"auto"`` also uses Debian TTS engines and ffmpeg when present
    (recorded in manifest.json), so its bytes depend on the machine.
    """
    params = _params(size, seed, rates, voices)
    out = Path(out).absolute()
    check_writable(out, "dir")
    if out.parent.is_dir():
        with _locked(out.parent):
            _remove_leftovers(out)
    old = out / "manifest.json"
    if old.exists():
        try:
            prev = read_json(old)
        except InputError as e:
            raise InputError(str(old), f"unreadable manifest ({e.problem}); remove the folder or pass force") from None
        same = _same_corpus(out, params)
        if same and voices == "builtin" and not force:
            return out  # already there
        if not same and not force:
            raise InputError(str(out), f"holds a corpus made with {{{', '.join(f'{k}={prev.get(k)!r}' for k in params)}}}; "
                                       "pass force=True (--force) to replace it")
    elif out.exists() and any(out.iterdir()) and not force:
        raise InputError(str(out), "exists, is not empty and is not a synthetic corpus; refusing to overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out.parent):  # a cleaner never sees a temp folder before its owner has locked it
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        owner = _own(tmp)
    try:
        _build(tmp, params)
        if out.exists():
            with _locked(out.parent):
                trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
                trash_owner = _own(trash)
            os.rename(out, trash / "corpus")
            os.rename(tmp, out)
            shutil.rmtree(trash)
            _release(trash_owner)
        else:
            try:
                os.rename(tmp, out)
            except OSError:
                # another process (a parallel job) finished the same corpus first: keep theirs
                if _same_corpus(out, params):
                    shutil.rmtree(tmp, ignore_errors=True)
                    return out
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _release(owner)
    return out


# A generation killed with -9 leaves its hidden ".<name>.*.tmp" (or ".old") folder behind. Each
# folder is flock-ed by the process that made it for as long as it lives, so a folder nobody holds
# is a leftover and the next generation of the same corpus removes it. flock locks vanish with
# their process; where the file system cannot flock, nothing is removed.
@contextlib.contextmanager
def _locked(folder: Path):
    fd = _own(folder, blocking=True)
    try:
        yield
    finally:
        _release(fd)


def _own(folder: Path, blocking: bool = True) -> int | None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:  # held by a live process (or no flock here)
        os.close(fd)
        return None
    return fd


def _release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing drops the flock


def _remove_leftovers(out: Path) -> None:
    for p in out.parent.glob(f".{out.name}.*"):
        if not (p.is_dir() and not p.is_symlink() and p.suffix in (".tmp", ".old")):
            continue
        fd = _own(p, blocking=False)
        if fd is not None:  # nobody holds it: its generation died
            shutil.rmtree(p, ignore_errors=True)
            _release(fd)


def _same_corpus(out: Path, params: dict) -> bool:
    try:
        prev = read_json(out / "manifest.json")
    except InputError:
        return False
    return all(prev.get(k) == v for k, v in params.items())


def _build(root: Path, params: dict) -> dict:
    spec = plan.SIZES[params["size"]]
    seed, rates = params["seed"], tuple(params["rates"])
    tools = params["voices"] == "auto"
    renderer = Renderer(seed, tts.available() if tools else [])
    clips = {
        "track3": plan.track3_clips(seed, spec, rates, tools),
        "bvcc": plan.bvcc_clips(seed, spec, tools),
        "unlabelled": plan.unlabelled_clips(seed, spec),
        "probe": plan.probe_clips(seed, spec, rates),
    }
    rendered: dict[str, dict] = {k: {} for k in clips}
    everything = [c for group in clips.values() for c in group]
    # grouped by source so the renderer's small cache serves all rates/methods of one recording
    for c in sorted(everything, key=lambda c: (c.corpus, c.tier, c.text, c.speaker, c.seconds, c.utt_id)):
        if c.corpus == "probe":
            continue
        r = renderer.clip(c)
        write_wav(root / c.relpath, r.audio, c.fs)
        rendered[c.corpus][c.utt_id] = dataclasses.replace(r, audio=np.empty(0))
    groups: dict[str, list] = {}
    for c in clips["probe"]:
        groups.setdefault(c.twin, []).append(c)
    for name in sorted(groups):  # a twin group shares one gain, so it is rendered together
        out = renderer.twins(groups[name])
        for c in groups[name]:
            write_wav(root / c.relpath, out[c.utt_id].audio, c.fs)
            rendered["probe"][c.utt_id] = dataclasses.replace(out[c.utt_id], audio=np.empty(0))
    train, evl = plan.sentence_split(seed, spec)
    counts = {"track3_clips": len(clips["track3"]), "bvcc_clips": len(clips["bvcc"]),
              "unlabelled_clips": len(clips["unlabelled"]), "probe_clips": len(clips["probe"])}
    counts.update(write_track3(root / "track3", clips["track3"], rendered["track3"], seed, plan.sys_map(seed), train + evl))
    counts.update(write_bvcc(root / "bvcc", clips["bvcc"], rendered["bvcc"], seed, spec.bvcc_listeners))
    counts.update(write_probe(root / "probe", clips["probe"], rendered["probe"]))
    write_manifest_csv(root / "manifest.csv", everything, rendered, GENERATOR_VERSION)
    used_tools = ["ffmpeg"] if any(d == "codec" for c in everything for d, _ in c.conditions) else []
    manifest = dict(params)
    manifest.update({
        "size_spec": to_dict(spec),
        "voices_used": ["builtin"] + sorted(renderer.used_engines),
        "tools_used": used_tools,
        "counts": counts,
        "seconds_of_audio": round(sum(r.duration_s for g in rendered.values() for r in g.values()), 3),
        "layout": {"track3": "track3", "bvcc": "bvcc", "unlabelled": "unlabelled", "probe": "probe"},
        "content_hash": content_hash(root),
    })
    write_json(root / "manifest.json", manifest)
    return manifest


def fingerprint(corpus_dir, verify: bool = False) -> str:
    """The corpus's content hash from manifest.json (``verify`` recomputes it from the files)."""
    path = Path(corpus_dir) / "manifest.json"
    try:
        recorded = read_json(path, {"content_hash": str})["content_hash"]
    except InputError as e:
        if e.problem == "missing":
            raise InputError(str(path), "missing: not a synthetic corpus (run python -m sfi_mos.data.synth)") from None
        raise InputError(str(path), f"no readable content_hash ({e.problem})") from None
    if verify:
        actual = content_hash(Path(corpus_dir))
        if actual != recorded:
            raise InputError(str(corpus_dir), f"files changed since generation: content hash {actual} != recorded {recorded}")
    return recorded
