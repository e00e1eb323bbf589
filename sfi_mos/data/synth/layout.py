"""Writing the corpus in the real on-disk layouts (Track 3, BVCC, a wav folder) plus the manifest.

Track 3 (paper_and_challenge.md §2.2): DATA/wav/<prefix>-<rate>_sys<N>_utt<NN>.wav, DATA/utt_<rate>.csv
(uttID,lisID,rating; single-rate tests, training clips), DATA/sets/eval_list.txt, val/utt_mix_val.csv,
test/utt_mix_test.csv (mixed-rate tests), val|test/sys_mix_*.csv (sysID,MOS), sysMap.txt, uttMap.txt.
BVCC (VoiceMOS 2022 main track): DATA/wav/sysXXXXX-uttYYYYYYY.wav, DATA/sets/{TRAINSET,DEVSET,TESTSET}
with headerless rows ``sysID,uttID,rating,ignore,listenerinfo`` where listenerinfo is
``{}_AGERANGE_LISTENERID_GENDER_[ignore]_[ignore]_HEARINGIMPAIRMENT``, the *_mos_list.txt files and
DATA/mydata_system.csv (system_ID,mean over train+dev ratings).
Probe (blind-spot twins, ``twins``): wav/<prefix>-<rate>_twin<NN>_<clean|kind_s<k>>.wav and pairs.csv, one
row per (clean, degraded) pair with the kind, severity, rate, both clips (ids and paths relative to the
probe folder) and their labels by construction.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from sfi_mos.atomic import atomic_path, write_csv, write_text

from . import labels
from .degrade import CATALOGUE
from .plan import PROBE_PREFIX, TRACK3_PREFIX, RATE_TAGS, Clip, hexid, rng_for

BVCC_RATINGS_PER_CLIP = 8  # BVCC has 8 ratings per utterance


def write_wav(path: Path, x: np.ndarray, fs: int) -> None:
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(x, -1.0, 1.0), fs, subtype="PCM_16", format="WAV")


def _ratings_csv(path: Path, rows: list[tuple[str, str, int]]) -> None:
    write_csv(path, pd.DataFrame(rows, columns=["uttID", "lisID", "rating"]))


def write_track3(root: Path, clips: list[Clip], rendered: dict, seed: int, smap: dict[str, int],
                 sentences: list[int]) -> dict[str, int]:
    """Label files of the Track 3 layout under ``root`` (= DIR/track3). Returns rating counts."""
    def rng_of(test):
        return lambda key: rng_for(seed, "track3-test", test, *key)

    counts = {}
    train = [c for c in clips if c.split == "train"]
    evl = [c for c in clips if c.split == "eval"]
    for fs in sorted({c.fs for c in clips}):
        tag = RATE_TAGS[fs]
        mos = {c.utt_id: rendered[c.utt_id].mos_single for c in train if c.fs == fs}
        # listener ids are unique only inside one listening test, as in the organisers' files: L01 of
        # the 16 kHz test and L01 of the 24 kHz test are different people (their biases differ)
        rows = labels.listening_test(mos, [f"L{j + 1:02d}" for j in range(labels.N_LISTENERS)], rng_of(tag))
        _ratings_csv(root / "DATA" / f"utt_{tag}.csv", rows)
        counts[f"utt_{tag}"] = len(rows)
    for part, sub, group in (("val", "val", train), ("test", "test", evl)):
        mos = {c.utt_id: rendered[c.utt_id].mos_mixed for c in group}
        names = [f"L{j + 1:02d}" for j in range(labels.N_LISTENERS)]
        rows = labels.listening_test(mos, names, rng_of("mix" + part))
        _ratings_csv(root / sub / f"utt_mix_{part}.csv", rows)
        counts[f"utt_mix_{part}"] = len(rows)
        df = pd.DataFrame(rows, columns=["uttID", "lisID", "rating"])
        sys_of = {c.utt_id: f"{TRACK3_PREFIX}-{c.system_id}" for c in group}
        per_utt = df.groupby("uttID")["rating"].mean()
        sys_mos = per_utt.groupby(per_utt.index.map(sys_of)).mean().round(6)
        write_csv(root / sub / f"sys_mix_{part}.csv", pd.DataFrame({"sysID": sys_mos.index, "MOS": sys_mos.values}))
    write_text(root / "DATA" / "sets" / "eval_list.txt", "".join(f"{c.utt_id}\n" for c in sorted(evl, key=lambda c: c.utt_id)))
    used = sorted({c.method for c in clips}, key=lambda m: smap[m])
    write_text(root / "sysMap.txt", "".join(f"{m}|sys{smap[m]}\n" for m in used))
    width = max(2, len(str(len(sentences))))
    write_text(root / "uttMap.txt", "".join(f"harvard_{s:03d}|utt{k + 1:0{width}d}\n" for k, s in enumerate(sentences)))
    return counts


def _bvcc_listeners(seed: int, n: int) -> list[str]:
    """listenerinfo strings in the real BVCC form, e.g. ``{}_30-39_3fa9c02be1d4_Female_Valid_1_No``."""
    ages = ("18-29", "30-39", "40-49", "50-59", "60-69")
    out = []
    for j in range(n):
        rng = rng_for(seed, "bvcc-listener", j)
        out.append("{}_%s_%s_%s_Valid_%d_%s" % (
            ages[int(rng.integers(len(ages)))], hexid(seed, 12, "bvcc-lis", j),
            "Female" if rng.random() < 0.5 else "Male", int(rng.integers(1, 4)), "Yes" if rng.random() < 0.05 else "No"))
    return out


def write_bvcc(root: Path, clips: list[Clip], rendered: dict, seed: int, n_listeners: int) -> dict[str, int]:
    """BVCC set files under ``root`` (= DIR/bvcc). MOS is the single-rate (16 kHz) latent."""
    pool = _bvcc_listeners(seed, n_listeners)
    biases = np.array([labels.listener_biases(rng_for(seed, "bvcc-bias", j), 1)[0] for j in range(n_listeners)])
    rows = []
    for c in sorted(clips, key=lambda c: c.utt_id):
        rng = rng_for(seed, "bvcc-rate", c.utt_id)
        who = np.sort(rng.choice(n_listeners, size=min(BVCC_RATINGS_PER_CLIP, n_listeners), replace=False))
        r = labels.ratings(rendered[c.utt_id].mos_single, biases[who], rng)
        for j, (lis, v) in enumerate(zip(who, r)):
            hit = f"{hexid(seed, 12, 'bvcc-hit', c.utt_id)}_{j + 1}"
            rows.append((c.split, c.system_id, f"{c.utt_id}.wav", int(v), hit, pool[lis]))
    df = pd.DataFrame(rows, columns=["split", "sysID", "uttID", "rating", "ignore", "listenerinfo"])
    counts = {}
    sets = root / "DATA" / "sets"
    for split, fname, mos_list in (("train", "TRAINSET", "train_mos_list.txt"), ("dev", "DEVSET", "val_mos_list.txt"),
                                   ("test", "TESTSET", "test_mos_list.txt")):
        part = df[df["split"] == split].drop(columns="split")
        write_csv(sets / fname, part, header=False)
        means = part.groupby("uttID")["rating"].mean().round(6)
        write_csv(sets / mos_list, means.reset_index(), header=False)
        counts[fname] = len(part)
    seen = df[df["split"].isin(["train", "dev"])]
    per_utt = seen.groupby(["sysID", "uttID"])["rating"].mean()
    sys_mean = per_utt.groupby(level=0).mean().round(6)
    write_csv(root / "DATA" / "mydata_system.csv", pd.DataFrame({"system_ID": sys_mean.index, "mean": sys_mean.values}))
    return counts


PAIR_COLUMNS = ["pair_id", "twin_id", "kind", "severity", "sample_rate", "clean", "degraded", "clean_path",
                "degraded_path", "mos_clean", "mos_degraded", "label_delta"]


def write_probe(root: Path, clips: list[Clip], rendered: dict) -> dict[str, int]:
    """pairs.csv of the probe folder ``root`` (= DIR/probe; the wavs are already written)."""
    clean = {c.twin: c for c in clips if not c.conditions}
    rows = []
    for c in sorted((c for c in clips if c.conditions), key=lambda c: c.utt_id):
        (kind, s), = c.conditions
        ref = clean[c.twin]
        a, b = rendered[ref.utt_id].mos_mixed, rendered[c.utt_id].mos_mixed
        rows.append({"pair_id": c.utt_id.removeprefix(f"{PROBE_PREFIX}-"), "twin_id": c.twin, "kind": kind, "severity": s,
                     "sample_rate": c.fs, "clean": ref.utt_id, "degraded": c.utt_id,
                     "clean_path": Path(ref.relpath).relative_to("probe").as_posix(),
                     "degraded_path": Path(c.relpath).relative_to("probe").as_posix(),
                     "mos_clean": round(a, 6), "mos_degraded": round(b, 6), "label_delta": round(a - b, 6)})
    write_csv(root / "pairs.csv", pd.DataFrame(rows, columns=PAIR_COLUMNS))
    return {"probe_pairs": len(rows)}


def write_manifest_csv(path: Path, clips: list[Clip], rendered: dict, version: str) -> None:
    rows = []
    for c in sorted(clips, key=lambda c: (c.corpus, c.relpath)):
        r = rendered[c.corpus][c.utt_id]
        degs = ([("fake_sr", c.sr_severity)] if c.sr_severity is not None else []) + list(c.conditions)
        rows.append({
            "corpus": c.corpus, "utt_id": c.utt_id, "path": c.relpath, "system_id": c.system_id,
            "method": c.method, "split": c.split, "sample_rate": c.fs, "sentence": f"harvard_{c.sentence:03d}",
            "speaker": c.speaker, "duration_s": round(r.duration_s, 4),
            "degradations": json.dumps([d for d, _ in degs]), "severities": json.dumps([round(s, 4) for _, s in degs]),
            # True when every degradation lives above 10 kHz only (a 16 kHz model cannot see it; twins: all).
            # Not the "*SR" methods: they are 16 kHz material whose fake band starts at 8 kHz, where the
            # resampler still passes -11 dB (8.5 kHz), so a 16 kHz model can hear them
            "hb_only": bool(degs) and c.sr_severity is None and (
                c.twin is not None or all(CATALOGUE[d].hb_only for d, _ in degs)),
            "effective_bandwidth_hz": round(r.b_eff, 1), "prior": r.prior,
            "mos_single": round(r.mos_single, 6), "mos_mixed": round(r.mos_mixed, 6),
            "source_engine": r.engine, "generator_version": version,
            # probe twins: group, kind, severity and role (empty for the other corpora)
            "twin_id": c.twin or "", "twin_kind": c.conditions[0][0] if c.twin and c.conditions else "",
            "twin_severity": c.conditions[0][1] if c.twin and c.conditions else "",
            "twin_role": ("degraded" if c.conditions else "clean") if c.twin else "",
        })
    write_csv(path, pd.DataFrame(rows))


def content_hash(root: Path) -> str:
    """sha256 over every file's relative path and bytes, in sorted order, manifest.json excluded."""
    h = hashlib.sha256()
    for p in sorted(q for q in Path(root).rglob("*") if q.is_file()):
        rel = p.relative_to(root).as_posix()
        if rel == "manifest.json":
            continue
        data = p.read_bytes()
        h.update(rel.encode() + b"\0" + str(len(data)).encode() + b"\0")
        h.update(data)
    return h.hexdigest()
