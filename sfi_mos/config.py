"""Typed configs: dataclass defaults + small overrides, canonical dicts and content-hash run ids.

Run ids must survive upgrades: a field added to a config after its ids were published is declared
with ``added(default, since=...)``. The identity form (``identity_dict``, what ``config_hash`` hashes)
leaves such a field out while it holds that neutral default, so every existing run keeps its id and
only runs that set the new field to something else are new. The full form (``to_dict``) keeps every
field: it is what ``config.json`` records.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
NEUTRAL = "sfi_mos.neutral"  # dataclass field metadata key: the value that leaves the field out of ids


def added(default: Any, *, since: str) -> Any:
    """A config field added after run ids were published. At ``default`` (which must keep the old
    behaviour) it is left out of the identity form, so existing run ids do not move. ``since`` names
    the suite version that added it (CHANGELOG.md)."""
    return dataclasses.field(default=default, metadata={NEUTRAL: default, "since": since})


def _is_neutral(f: dataclasses.Field, value: Any) -> bool:
    return NEUTRAL in f.metadata and to_dict(value) == to_dict(f.metadata[NEUTRAL])


def to_dict(cfg: Any, identity: bool = False) -> Any:
    """Fully resolved, JSON-ready form of a (nested) dataclass config. Tuples become lists.
    ``identity``: leave out fields declared with ``added`` that hold their neutral default."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name), identity) for f in dataclasses.fields(cfg)
                if not (identity and _is_neutral(f, getattr(cfg, f.name)))}
    if isinstance(cfg, dict):
        return {str(k): to_dict(v, identity) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v, identity) for v in cfg]
    return cfg  # floats stay floats: 1.0 and 1 hash differently on purpose


def identity_dict(cfg: Any) -> Any:
    """What a run id hashes: ``to_dict`` without the neutral added fields."""
    return to_dict(cfg, identity=True)


def canonical_json(obj: Any) -> str:
    return json.dumps(identity_dict(obj), sort_keys=True, separators=(",", ":"))


def config_hash(obj: Any, n: int = 12) -> str:
    """Run id: sha256 over the canonical JSON of the config's identity form. Pass the dataclass (not
    its ``to_dict``), so fields added with a neutral default can be left out."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:n]


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (nested) dataclass from ``to_dict`` output; unknown keys are an error."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown config keys {sorted(unknown)}")
    kwargs = {k: _coerce(hints[k], v) for k, v in data.items()}
    return cls(**kwargs)


def _coerce(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value)
            except (TypeError, ValueError):
                continue
        return value
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value)
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value))
    return value


def override(cfg: T, **changes: Any) -> T:
    """Copy of ``cfg`` with dotted-key overrides, e.g. ``override(c, **{"sfi.stride_policy": "sinc"})``."""
    nested: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            flat[head] = value
    names = {f.name for f in dataclasses.fields(cfg)}
    for key in list(flat) + list(nested):
        if key not in names:
            raise ValueError(f"{type(cfg).__name__} has no field {key!r}")
    for head, sub in nested.items():
        flat[head] = override(flat.get(head, getattr(cfg, head)), **sub)
    return dataclasses.replace(cfg, **flat)
