"""Offline third-party MOS predictors, reference rows of the tables: DNSMOS and DistillMOS.

Both are 16 kHz models whose weights ship inside their PyPI packages (``pip install -e '.[peers]'``):
``speechmos`` bundles the DNSMOS ONNX models (needs onnxruntime, librosa), ``distillmos`` bundles
DistillMOS v7 (needs ``xls-r-sqa``, of which it uses only the model classes, never the XLS-R download).
Nothing is fetched at run time. Audio at any rate is resampled to 16 kHz with torchaudio (default
filter, as the ``resample`` backbone does), so both are blind above ~10 kHz by construction.

* ``versions(names)``: installed package version per peer ("" when missing), without importing it;
* ``load(name)``: a ``Peer`` (``scores(wave, fs) -> {score name: MOS}``); ``NotInstalled`` says why not.
"""
from __future__ import annotations

from importlib import metadata

from .base import NotInstalled, Peer

PACKAGES = {"dnsmos": ("speechmos", "onnxruntime", "librosa"), "distillmos": ("distillmos", "xls-r-sqa")}
NAMES = tuple(PACKAGES)


def versions(names=NAMES) -> tuple[str, ...]:
    out = []
    for name in names:
        try:
            out.append("+".join(f"{p}=={metadata.version(p)}" for p in PACKAGES[name]))
        except metadata.PackageNotFoundError:
            out.append("")
    return tuple(out)


def load(name: str) -> Peer:
    if name == "dnsmos":
        from .dnsmos import DNSMOS  # optional extra (peers): torch and speechmos load with the peer

        return DNSMOS()
    if name == "distillmos":
        from .distillmos import DistillMOS  # optional extra (peers): torch and distillmos load with the peer

        return DistillMOS()
    raise KeyError(f"unknown peer {name!r}; known: {', '.join(NAMES)}")


__all__ = ["NAMES", "PACKAGES", "NotInstalled", "Peer", "load", "versions"]
