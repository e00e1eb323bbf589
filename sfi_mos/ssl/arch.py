"""The three s3prl model classes a teacher/student can be: how to name, describe and rebuild them.

An *arch* is a plain dict (JSON-able, ``torch.load(weights_only=True)``-safe) that rebuilds the exact
s3prl model class and config: ``{"kind": "wav2vec2"|"hubert"|"wavlm", "model_cfg": {...},
"task_cfg": {...}, "dictionaries_symbols": [...]}`` (the last two only where the class needs them).
These are the same fields s3prl's own checkpoint formats hold, so a teacher checkpoint and a student
file describe a model the same way.
"""
from __future__ import annotations

import contextlib
import dataclasses
import enum
from typing import Any, Iterator

from torch import nn

KINDS = ("wav2vec2", "hubert", "wavlm")


def _classes() -> dict[str, type]:
    # imported lazily: importing s3prl pulls in every upstream (seconds)
    from s3prl.upstream.hubert.hubert_model import HubertModel
    from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Model
    from s3prl.upstream.wavlm.WavLM import WavLM

    return {"wav2vec2": Wav2Vec2Model, "hubert": HubertModel, "wavlm": WavLM}


def kind_of(model: nn.Module) -> str | None:
    """Which of KINDS ``model`` is an instance of (None for any other upstream)."""
    for kind, cls in _classes().items():
        if type(model) is cls:
            return kind
    return None


def plain(value: Any) -> Any:
    """Config value -> plain Python (s3prl's enums are str-Enums; numpy scalars break weights_only)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if hasattr(value, "item"):  # numpy / torch scalar
        return value.item()
    if hasattr(value, "__dict__"):  # WavLMConfig is a plain attribute bag
        return {k: plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    raise TypeError(f"config value of type {type(value).__name__} is not plain")


@contextlib.contextmanager
def recording_constructors() -> Iterator[list]:
    """Record ``(instance, args)`` of every model-class construction inside the block.

    HubertModel does not keep its config, and s3prl's loaders build the model from the checkpoint
    without returning the config, so we capture the constructor arguments while s3prl loads.
    """
    calls: list = []
    originals = {}
    for cls in _classes().values():
        orig = cls.__init__
        originals[cls] = orig

        def init(self, *args, _orig=orig, **kwargs):
            _orig(self, *args, **kwargs)
            calls.append((self, args, kwargs))

        cls.__init__ = init
    try:
        yield calls
    finally:
        for cls, orig in originals.items():
            cls.__init__ = orig


def arch_from_call(kind: str, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Arch dict from recorded constructor arguments of a model of ``kind``."""
    if kind == "hubert":
        names = ("cfg", "task_cfg", "dictionaries")
        bound = dict(zip(names, args), **kwargs)
        return {"kind": kind, "model_cfg": plain(bound["cfg"]), "task_cfg": plain(bound["task_cfg"]),
                "dictionaries_symbols": plain(bound["dictionaries"])}
    cfg = args[0] if args else kwargs["cfg"]
    return {"kind": kind, "model_cfg": plain(cfg)}


def build(arch: dict[str, Any]) -> nn.Module:
    """A freshly (randomly) initialised model of the class and config described by ``arch``."""
    # lazy, as in _classes: importing s3prl pulls in every upstream (seconds)
    from s3prl.upstream.hubert.hubert_model import HubertConfig, HubertPretrainingConfig
    from s3prl.upstream.utils import merge_with_parent
    from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Config
    from s3prl.upstream.wavlm.WavLM import WavLMConfig

    kind = arch["kind"]
    cls = _classes().get(kind)
    if cls is None:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")
    if kind == "wav2vec2":
        return cls(merge_with_parent(Wav2Vec2Config, dict(arch["model_cfg"])))
    if kind == "hubert":
        return cls(merge_with_parent(HubertConfig, dict(arch["model_cfg"])),
                   merge_with_parent(HubertPretrainingConfig, dict(arch["task_cfg"])),
                   arch["dictionaries_symbols"])
    return cls(WavLMConfig(dict(arch["model_cfg"])))


def normalizes_input(arch: dict[str, Any]) -> bool:
    """Whether the model expects zero-mean unit-variance waveforms.

    ``arch["normalize"]`` is set from the s3prl expert at load time (wav2vec2 keeps the flag in its
    task config, which the model constructor never sees); the config fields are the fallback.
    """
    if "normalize" in arch:
        return bool(arch["normalize"])
    if arch["kind"] == "wavlm":
        return bool(arch["model_cfg"].get("normalize", False))
    return bool(arch.get("task_cfg", {}).get("normalize", False))


def conv_geometry(arch: dict[str, Any]) -> list[tuple[int, int, int]]:
    """``[(channels, kernel, stride), ...]`` of the waveform conv stack at 16 kHz."""
    spec = arch["model_cfg"].get("conv_feature_layers",
                                 "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2")
    # the same string s3prl itself evals; it only ever holds tuples of ints
    layers = eval(spec, {"__builtins__": {}}, {})  # noqa: S307
    return [tuple(int(v) for v in layer) for layer in layers]
