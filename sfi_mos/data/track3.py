"""AudioMOS 2025 Track 3 reader (and the synthetic corpus, which uses the same layout).

Layout under ``root`` (``eval_root`` optionally holds the separately shipped eval phase):
    DATA/wav/*.wav                     training (and dev) clips; eval clips may live here too
    DATA/utt_<rate>.csv                uttID,lisID,rating  one row per rating, split "train"
                                       (single-rate listening test of that rate)
    DATA/sets/eval_list.txt            eval utterances, one per line (".wav" optional)
    val/utt_mix_val.csv                post-evaluation: mixed-rate labels of the training clips -> "dev"
    test/utt_mix_test.csv              post-evaluation: mixed-rate labels of the eval clips -> "eval"
    val/sys_mix_val.csv, test/sys_mix_test.csv   sysID,MOS  official system means
    sysMap.txt, uttMap.txt             name|id lines mapping real names to obfuscated ids
Training labels are also looked for in ``train/utt_<rate>.csv`` (post-evaluation layout).

Names look like ``<prefix>-16k_sys3_utt07``: rate tag, then the system, then the utterance. A
system is a condition = rate + method (``16k_sys3``). De-obfuscated names
(``<prefix>-24k_originalSR_<sentence>``) are mapped to the obfuscated ids with the two map files, so
labels from either release join the same wavs. Listener ids in the organisers' files are only
unique inside one listening test, so the raw listener name is qualified by the test
(``16k:L03``, ``mix_val:L03``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from sfi_mos.data.audio import rate_from_tag, wav_index
from sfi_mos.data.ratings import (Corpus, check_audio_files, empty_systems, finish_ratings,
                                  per_utterance, unlabelled_utterances)
from sfi_mos.data.tables import at, check_unique, parse_numbers, read_list, read_map, read_rows
from sfi_mos.errors import InputError

# first "-<rate>k_" splits prefix from the rest; the prefix is free (synthetic corpora use their own)
_NAME_RE = re.compile(r"^(?:(?P<prefix>.*?)-)?(?P<rate>\d+(?:\.\d+)?k)_(?P<rest>.+)$", re.I)
_LABEL_RE = re.compile(r"^utt_(?P<rate>\d+(?:\.\d+)?k)\.csv$", re.I)


class Track3Names:
    """Parse Track 3 utterance/system names, canonicalising them with sysMap/uttMap when present."""

    def __init__(self, sys_map: dict[str, str] | None = None, utt_map: dict[str, str] | None = None):
        self.sys_map = sys_map or {}
        self.utt_map = utt_map or {}
        # longest name first so "nvSR" is not taken for "nv"
        self._sys_names = sorted(self.sys_map, key=len, reverse=True)
        self._cache: dict[str, tuple[str, str, int]] = {}

    def _split(self, raw: str, where: str) -> tuple[str | None, str, int, str]:
        stem = os.path.basename(raw.strip())
        if stem.lower().endswith(".wav"):
            stem = stem[:-4]
        m = _NAME_RE.match(stem)
        if not m:
            raise InputError(where, f"name {raw!r} does not look like '<prefix>-<rate>k_<system>_"
                                    "<utt>' (e.g. audiomos-track3-16k_sys3_utt07)")
        return m.group("prefix"), m.group("rate").lower(), rate_from_tag(m.group("rate")), m.group("rest")

    def _system(self, rest: str) -> tuple[str, str, bool]:
        """rest -> (system id, remainder, whether a real system name was mapped to its id)."""
        for name in self._sys_names:
            if rest == name or rest.startswith(name + "_"):
                return self.sys_map[name], rest[len(name) + 1:], True
        token, _, tail = rest.partition("_")
        return token, tail, False

    def utterance(self, raw: str, where: str) -> tuple[str, str, int]:
        """Utterance name -> (canonical utt_id, system_id, sample_rate)."""
        hit = self._cache.get(raw)
        if hit is not None:
            return hit
        prefix, tag, rate, rest = self._split(raw, where)
        sys_id, tail, mapped = self._system(rest)
        if not tail:
            raise InputError(where, f"name {raw!r} has no utterance part after system {sys_id!r}")
        if mapped and self.utt_map:  # a de-obfuscated name: its sentence id must map to uttNN
            if tail not in self.utt_map:
                raise InputError(where, f"sentence {tail!r} of {raw!r} is not in uttMap.txt")
            tail = self.utt_map[tail]
        utt = f"{tag}_{sys_id}_{tail}"
        out = (f"{prefix}-{utt}" if prefix else utt, f"{tag}_{sys_id}", rate)
        self._cache[raw] = out
        return out

    def system(self, raw: str, where: str) -> str:
        """System name (``<prefix>-16k_sys3`` or ``16k_sys3``) -> canonical system_id."""
        _, tag, _, rest = self._split(raw, where)
        return f"{tag}_{self._system(rest)[0]}"


def _label_files(root: Path) -> list[tuple[Path, str]]:
    for d in (root / "DATA", root / "train"):
        if d.is_dir():
            found = sorted((p, _LABEL_RE.match(p.name).group("rate").lower())
                           for p in d.iterdir() if _LABEL_RE.match(p.name))
            if found:
                # numeric rate order (8k before 16k) so listener ids are stable and readable
                return sorted(found, key=lambda x: rate_from_tag(x[1]))
    raise InputError(root / "DATA", "no training label files DATA/utt_<rate>.csv "
                                    "(e.g. utt_16k.csv) found")


def _read_label_csv(path: Path, names: Track3Names, split: str, test: str,
                    rate: int | None, qualify: bool) -> pd.DataFrame:
    df = read_rows(path, ["uttID", "lisID", "rating"])
    if df.empty:  # would silently drop this listening test (e.g. one rate's training labels)
        raise InputError(path, "no ratings: the file holds only its header; restore its rows or "
                               "remove the file")
    utt, sysid, sr = [], [], []
    for raw, line in zip(df["uttID"], df["line"]):
        if not raw:
            raise InputError(at(path, line), "empty uttID")
        u, s, r = names.utterance(raw, at(path, line))
        if rate is not None and r != rate:
            raise InputError(at(path, line), f"utterance {raw!r} is a {r} Hz clip but this file "
                                             f"holds the {rate} Hz single-rate test")
        utt.append(u), sysid.append(s), sr.append(r)
    empty = df["lisID"] == ""
    if empty.any():
        raise InputError(at(path, int(df["line"][empty].iloc[0])), "empty lisID")
    out = pd.DataFrame({"utt_id": utt, "system_id": sysid, "sample_rate": sr,
                        "listener": (test + ":" + df["lisID"]) if qualify else df["lisID"],
                        "rating": parse_numbers(df["rating"], df["line"], path),
                        "split": split, "line": df["line"], "file": str(path)})
    check_unique(out.assign(lisID=df["lisID"]), ["utt_id", "lisID"], path, "rating (utterance, listener)")
    return out


def _attach_wavs(df: pd.DataFrame, index: dict[str, Path], dirs: list[Path],
                 where_fn) -> pd.Series:
    paths = df["utt_id"].map(index)
    if paths.isna().any():
        i = int(np.flatnonzero(paths.isna().to_numpy())[0])
        utt = df["utt_id"].iloc[i]
        link = next((d / f"{utt}.wav" for d in dirs if (d / f"{utt}.wav").is_symlink()), None)
        if link is not None:
            raise InputError(where_fn(df.iloc[i]), f"{link} is a broken symbolic link (points to "
                                                   f"{os.readlink(link)!r})")
        raise InputError(where_fn(df.iloc[i]), f"unknown utterance {utt!r}: no "
                         f"{utt}.wav in {', '.join(str(d) for d in dirs)}")
    return paths.astype(str)


def _no_leak(ratings: pd.DataFrame, eval_ids: set, what: str) -> None:
    """Evaluation clips must never carry training labels."""
    leak = ratings[(ratings["split"] == "train") & ratings["utt_id"].isin(eval_ids)]
    if len(leak):
        r = leak.iloc[0]
        raise InputError(at(r["file"], r["line"]), f"utterance {r['utt_id']!r} is a training "
                                                   f"label but also an eval utterance in {what}")


def read_track3(root: str | os.PathLike, eval_root: str | os.PathLike | None = None,
                check_audio: bool | str = True, qualify_listeners: bool = True) -> Corpus:
    """Read a Track 3 layout corpus (see module docstring) into a :class:`Corpus`.

    ``check_audio``: True checks every wav's header (exists, readable, mono, long enough, rate
    equals the name's rate), "full" also decodes it (NaN/inf, truncation), False skips files.
    ``qualify_listeners``: name listeners ``<test>:<lisID>`` (``16k:L03``, ``mix_val:L03``)
    because the organisers' ids restart in every listening test; False keeps the bare lisID.
    Missing wavs are errors even with ``check_audio=False`` (the folder listing is always read).
    """
    root = Path(root).resolve()
    if not (root / "DATA").is_dir():
        raise InputError(root, "not a Track 3 corpus: DATA/ folder missing")
    eval_root = Path(eval_root).resolve() if eval_root is not None else None
    if eval_root is not None and not (eval_root / "DATA").is_dir():
        raise InputError(eval_root, "eval_root has no DATA/ folder")
    maps = [read_map(p) if p.is_file() else None for p in (root / "sysMap.txt", root / "uttMap.txt")]
    names = Track3Names(*maps)

    frames = [_read_label_csv(p, names, "train", tag, rate_from_tag(tag), qualify_listeners)
              for p, tag in _label_files(root)]
    for rel, split, test in (("val/utt_mix_val.csv", "dev", "mix_val"),
                             ("test/utt_mix_test.csv", "eval", "mix_test")):
        if (root / rel).is_file():
            frames.append(_read_label_csv(root / rel, names, split, test, None, qualify_listeners))
    ratings = pd.concat(frames, ignore_index=True)

    # eval list: utterances to predict (unlabelled until the answers were released)
    list_paths = [d / "DATA" / "sets" / "eval_list.txt" for d in (eval_root, root) if d is not None]
    list_path = next((p for p in list_paths if p.is_file()), None)
    evals = pd.DataFrame(columns=["utt_id", "system_id", "sample_rate", "line"])
    if list_path is not None:
        items = read_list(list_path)
        parsed = [names.utterance(x, at(list_path, n)) for x, n in items.itertuples(index=False)]
        evals = pd.DataFrame(parsed, columns=["utt_id", "system_id", "sample_rate"])
        evals["line"] = items["line"].to_numpy()
        check_unique(evals, ["utt_id"], list_path, "eval utterance")
        listed = set(evals["utt_id"])
        rated = ratings[ratings["split"] == "eval"]
        stray = rated[~rated["utt_id"].isin(listed)]
        if len(stray):
            r = stray.iloc[0]
            raise InputError(at(r["file"], r["line"]), f"unknown utterance {r['utt_id']!r}: "
                                                       f"not in {list_path}")
        _no_leak(ratings, listed, str(list_path))
    _no_leak(ratings, set(ratings.loc[ratings["split"] == "eval", "utt_id"]), "the eval labels")

    train_dirs = [root / "DATA" / "wav"]
    eval_dirs = ([eval_root / "DATA" / "wav"] if eval_root is not None else []) + train_dirs
    train_index, eval_index = wav_index(*train_dirs), wav_index(*eval_dirs)
    is_eval = ratings["split"] == "eval"
    ratings["wav_path"] = ""
    for mask, index, dirs in ((~is_eval, train_index, train_dirs), (is_eval, eval_index, eval_dirs)):
        if mask.any():
            ratings.loc[mask, "wav_path"] = _attach_wavs(ratings[mask], index, dirs,
                                                         lambda r: at(r["file"], r["line"])).to_numpy()
    if len(evals):
        evals["wav_path"] = _attach_wavs(evals, eval_index, eval_dirs,
                                         lambda r: at(list_path, r["line"])).to_numpy()
        evals["source"] = [f"listed in {at(list_path, n)}" for n in evals["line"]]
        evals["split"] = "eval"

    ratings["source"] = "listed in " + ratings["file"] + " line " + ratings["line"].astype(str)
    check_audio_files(pd.concat([ratings[["wav_path", "source", "sample_rate"]],
                                 evals[["wav_path", "source", "sample_rate"]] if len(evals) else None]),
                      check_audio)

    ratings, listeners = finish_ratings(ratings, "track3")
    utts = per_utterance(ratings)
    if len(evals):
        unrated = evals[~evals["utt_id"].isin(utts.loc[utts["split"] == "eval", "utt_id"])]
        utts = pd.concat([utts, unlabelled_utterances(unrated, "track3")], ignore_index=True)
    return Corpus("track3", root, ratings, utts, listeners, _read_systems(root, names, utts))


def _read_systems(root: Path, names: Track3Names, utts: pd.DataFrame) -> pd.DataFrame:
    """Official per-system MOS files (sysID,MOS); every system must exist in that split."""
    frames = []
    for rel, split in (("val/sys_mix_val.csv", "dev"), ("test/sys_mix_test.csv", "eval")):
        path = root / rel
        if not path.is_file():
            continue
        df = read_rows(path, ["sysID", "MOS"])
        known = set(utts.loc[utts["split"] == split, "system_id"])
        sys_ids = []
        for raw, line in zip(df["sysID"], df["line"]):
            s = names.system(raw, at(path, line))
            if s not in known:
                raise InputError(at(path, line), f"unknown system {raw!r}: no {split} utterance "
                                                 f"of system {s!r}")
            sys_ids.append(s)
        out = pd.DataFrame({"system_id": sys_ids, "split": split, "line": df["line"],
                            "mos": parse_numbers(df["MOS"], df["line"], path, "MOS")})
        check_unique(out, ["system_id"], path, "system")
        frames.append(out.drop(columns="line"))
    if not frames:
        return empty_systems()
    return pd.concat(frames, ignore_index=True).astype({"system_id": object, "split": object})
