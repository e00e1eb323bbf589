"""What to generate: per-size parameters and the deterministic list of clips (no audio yet).

Track 3 shape (paper_and_challenge.md §2.2): a *system* is a condition = method x rate. Methods are
the four voice tiers of ``voice.TIERS`` (natural, nv, tts, world) at every rate, plus their "*SR"
variants (squeezed through 16 kHz, then a fake band above 8 kHz) at rates above 16 kHz: 4 systems
at 16 kHz, 8 at 24 and 48 kHz. Each clip also gets one per-clip condition from the degradation
catalogue (clean, full band, or -- at >= 24 kHz -- high-band-only) with a random severity, so
utterances differ within a system. Training clips and eval clips speak different sentences.

The probe set (``probe_clips``) holds blind-spot twins (``twins``): per held-out sentence and rate
>= 24 kHz, one clean clip (natural or nv tier, alternating) and one degraded twin per (kind, severity);
it has its own folder and split, so it never enters training or the Track 3 metrics.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from . import degrade, twins
from .texts import HARVARD
from .voice import TIERS

METHODS = ("natural", "nv", "tts", "world")
RATE_TAGS = {8000: "8k", 16000: "16k", 22050: "22k", 24000: "24k", 44100: "44k", 48000: "48k"}
TRACK3_PREFIX = "synth-track3"
PROBE_PREFIX = "synth-probe"
PROBE_TIERS = ("natural", "nv")  # full-band tiers: their clean clips have a band above the edge
P_CLEAN, P_HB = 0.3, 0.35  # per-clip condition mix; the rest are full-band degradations


@dataclass(frozen=True)
class SizeSpec:
    train_sentences: int  # Track 3 training (= dev) sentences
    eval_sentences: int  # held-out Track 3 eval sentences
    seconds: tuple[float, float]  # clip length range, Track 3 and BVCC
    bvcc_systems: int
    bvcc_utts: int  # per BVCC system
    bvcc_listeners: int  # listener pool; each BVCC clip gets 8 of them
    unlabelled: int  # 48 kHz clean clips for distillation
    unlabelled_speakers: int  # subfolders
    unlabelled_seconds: tuple[float, float]


SIZES: dict[str, SizeSpec] = {
    # tiny: unit tests (100 Track 3 clips of 1-2 s at the core rates)
    "tiny": SizeSpec(3, 2, (1.0, 2.0), 6, 4, 12, 4, 2, (2.0, 3.0)),
    # demo: the embedded default run; small enough to train tiny models across the whole grid
    "demo": SizeSpec(8, 6, (2.0, 4.0), 20, 10, 24, 20, 4, (4.0, 8.0)),
    # full: Track 3 sentence counts (30 + 30), data_sources.md §5.1
    "full": SizeSpec(30, 30, (3.0, 6.0), 60, 20, 64, 200, 10, (4.0, 8.0)),
}


def rng_for(seed: int, *key) -> np.random.Generator:
    """Independent generator per (seed, key): clips never share a random stream, so adding or
    reordering clips cannot change any other clip."""
    h = hashlib.sha256(repr((int(seed),) + tuple(key)).encode()).digest()
    return np.random.default_rng(np.frombuffer(h, dtype=np.uint32))


def hexid(seed: int, n: int, *key) -> str:
    return hashlib.sha256(repr((int(seed), "id") + tuple(key)).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class Clip:
    corpus: str  # track3 | bvcc | unlabelled
    utt_id: str  # file stem
    relpath: str  # path under the corpus root DIR
    system_id: str
    method: str  # tier name, "<tier>SR", or "clean"
    tier: str
    sentence: int  # index into HARVARD of the first sentence
    text: str
    speaker: int
    fs: int
    seconds: float  # render length cap
    split: str
    conditions: tuple[tuple[str, float], ...]  # (degradation, severity), applied in order
    sr_severity: float | None = None  # level of the fake band of "*SR" methods
    twin: str | None = None  # probe twin group (shared by a clean clip and its degraded twins)


def _text(order: list[int], k: int, n_join: int = 3) -> str:
    """Sentence ``order[k]`` followed by the next ones of the same list (clips are cut to length)."""
    return " ".join(HARVARD[order[(k + j) % len(order)]] for j in range(n_join))


def sentence_split(seed: int, spec: SizeSpec) -> tuple[list[int], list[int]]:
    order = list(rng_for(seed, "sentences").permutation(len(HARVARD)))
    n_tr, n_ev = spec.train_sentences, spec.eval_sentences
    if n_tr + n_ev > len(HARVARD):
        raise ValueError(f"{n_tr}+{n_ev} sentences requested, {len(HARVARD)} available")
    return [int(i) for i in order[:n_tr]], [int(i) for i in order[n_tr:n_tr + n_ev]]


def sys_map(seed: int) -> dict[str, int]:
    """method name -> N of sys<N>, shuffled like the organisers' obfuscation, shared by all rates."""
    names = list(METHODS) + [m + "SR" for m in METHODS]
    perm = rng_for(seed, "sysmap").permutation(len(names))
    return {name: int(p) + 1 for name, p in zip(names, perm)}


def draw_conditions(rng: np.random.Generator, fs: int, sr: bool, tools: bool) -> tuple[tuple[str, float], ...]:
    hb = [] if sr else degrade.available(fs, True, tools)
    fb = degrade.available(fs, False, tools)
    u = rng.random()
    s = float(np.round(rng.uniform(0.15, 1.0), 4))
    if u < (0.5 if sr else P_CLEAN):
        return ()
    if hb and u < P_CLEAN + P_HB:
        return ((hb[int(rng.integers(len(hb)))], s),)
    return ((fb[int(rng.integers(len(fb)))], s),)


def track3_clips(seed: int, spec: SizeSpec, rates: tuple[int, ...], tools: bool) -> list[Clip]:
    train, evl = sentence_split(seed, spec)
    smap = sys_map(seed)
    utt_no = {s: k + 1 for k, s in enumerate(train + evl)}
    width = max(2, len(str(len(utt_no))))
    clips = []
    for fs in sorted(rates):
        tag = RATE_TAGS[fs]
        methods = list(METHODS) + ([m + "SR" for m in METHODS] if fs > 16000 else [])
        for method in methods:
            for split, order in (("train", train), ("eval", evl)):
                for k, sent in enumerate(order):
                    utt = f"{TRACK3_PREFIX}-{tag}_sys{smap[method]}_utt{utt_no[sent]:0{width}d}"
                    rng = rng_for(seed, "cond", utt)
                    sr = method.endswith("SR")
                    clips.append(Clip(
                        corpus="track3", utt_id=utt, relpath=f"track3/DATA/wav/{utt}.wav",
                        system_id=f"{tag}_sys{smap[method]}", method=method, tier=method.removesuffix("SR"),
                        sentence=sent, text=_text(order, k), speaker=int(sent),
                        fs=fs, seconds=sentence_seconds(seed, spec, sent), split=split,
                        conditions=draw_conditions(rng, fs, sr, tools),
                        sr_severity=float(np.round(rng.uniform(0.2, 1.0), 4)) if sr else None,
                    ))
    return sorted(clips, key=lambda c: c.utt_id)


def probe_clips(seed: int, spec: SizeSpec, rates: tuple[int, ...]) -> list[Clip]:
    """Twin groups: held-out sentences x rates >= 24 kHz; clean + every (kind, severity)."""
    _, evl = sentence_split(seed, spec)
    clips = []
    for fs in sorted(r for r in rates if r >= twins.MIN_TWIN_FS):
        tag = RATE_TAGS[fs]
        for k, sent in enumerate(evl):
            tier = PROBE_TIERS[k % len(PROBE_TIERS)]
            group = f"{tag}_twin{k + 1:02d}"
            variants = [("clean", ())] + [(f"{kind}_s{j + 1}", ((kind, s),)) for kind in twins.KINDS
                                          for j, s in enumerate(twins.SEVERITIES)]
            for suffix, cond in variants:
                utt = f"{PROBE_PREFIX}-{group}_{suffix}"
                clips.append(Clip(
                    corpus="probe", utt_id=utt, relpath=f"probe/wav/{utt}.wav", system_id=f"{tag}_probe",
                    method=tier, tier=tier, sentence=sent, text=_text(evl, k), speaker=int(sent), fs=fs,
                    seconds=sentence_seconds(seed, spec, sent), split="probe", conditions=cond, twin=group,
                ))
    return sorted(clips, key=lambda c: c.utt_id)


def sentence_seconds(seed: int, spec: SizeSpec, sent: int) -> float:
    lo, hi = spec.seconds
    return float(np.round(rng_for(seed, "seconds", sent).uniform(lo, hi), 3))


def bvcc_clips(seed: int, spec: SizeSpec, tools: bool) -> list[Clip]:
    """16 kHz BVCC-shaped corpus: many systems (tier + a characteristic degradation), ~10 % of the
    systems only in the test set (unseen systems, as in BVCC)."""
    fb = degrade.available(16000, False, tools)
    n_unseen = spec.bvcc_systems // 10
    clips = []
    for k in range(spec.bvcc_systems):
        rng = rng_for(seed, "bvcc-system", k)
        sys_id = "sys" + hexid(seed, 5, "bvcc-sys", k)
        tier = METHODS[k % len(METHODS)]
        deg = None if rng.random() < 0.35 else fb[int(rng.integers(len(fb)))]
        base = float(rng.uniform(0.2, 0.9))
        unseen = k >= spec.bvcc_systems - n_unseen
        for j in range(spec.bvcc_utts):
            utt = f"{sys_id}-utt{hexid(seed, 7, 'bvcc-utt', k, j)}"
            urng = rng_for(seed, "bvcc-utt", utt)
            cond = () if deg is None else ((deg, float(np.round(np.clip(base + urng.normal(0, 0.1), 0.05, 1.0), 4))),)
            n_held = max(1, round(0.2 * spec.bvcc_utts))  # per seen system: ~60/20/20 train/dev/test
            split = ("test" if unseen or j >= spec.bvcc_utts - n_held else
                     "dev" if j >= spec.bvcc_utts - 2 * n_held else "train")
            sent = (7 * k + j) % len(HARVARD)
            clips.append(Clip(
                corpus="bvcc", utt_id=utt, relpath=f"bvcc/DATA/wav/{utt}.wav", system_id=sys_id,
                method=tier, tier=tier, sentence=sent, text=_text(list(range(len(HARVARD))), sent, 2),
                speaker=1000 + k, fs=16000, seconds=float(np.round(urng.uniform(*spec.seconds), 3)),
                split=split, conditions=cond,
            ))
    return sorted(clips, key=lambda c: c.utt_id)


def unlabelled_clips(seed: int, spec: SizeSpec) -> list[Clip]:
    """Clean natural-tier speech at 48 kHz in speaker subfolders (an EARS stand-in)."""
    clips = []
    for j in range(spec.unlabelled):
        spk = j % spec.unlabelled_speakers
        name = f"p{spk + 1:03d}_{j // spec.unlabelled_speakers + 1:03d}"
        sent = (11 * j + 5) % len(HARVARD)
        rng = rng_for(seed, "unlabelled", j)
        clips.append(Clip(
            corpus="unlabelled", utt_id=name, relpath=f"unlabelled/p{spk + 1:03d}/{name}.wav",
            system_id="clean", method="natural", tier="natural", sentence=sent,
            text=_text(list(range(len(HARVARD))), sent, 4), speaker=2000 + spk, fs=48000,
            seconds=float(np.round(rng.uniform(*spec.unlabelled_seconds), 3)), split="none", conditions=(),
        ))
    return sorted(clips, key=lambda c: c.relpath)


__all__ = ["SIZES", "SizeSpec", "Clip", "METHODS", "RATE_TAGS", "TRACK3_PREFIX", "PROBE_PREFIX", "TIERS",
           "track3_clips", "probe_clips", "bvcc_clips", "unlabelled_clips", "sys_map", "sentence_split", "rng_for"]
