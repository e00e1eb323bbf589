"""Typed configs: dataclass defaults + small overrides, canonical dicts and content-hash run ids.

Run ids must survive upgrades: a field added to a config after its ids were published is declared
with ``added(default, since=...)``. The identity form (``identity_dict``, what ``config_hash`` hashes)
leaves such a field out while it holds that neutral default, so every existing run keeps its id and
only runs that set the new field to something else are new. Fields that only label a run
(``label``) are never hashed. The full form (``to_dict``) keeps every field: it is what
``config.json`` records.

A field taken out of a config class after its ids were published is *retired*: the class lists it in
``RETIRED`` (name -> ``Retired``: the value every published id hashed, and what replaced it).
``identity_dict`` adds it back at that value, so no id moves; ``from_dict`` ignores it in an old
``config.json`` at that value and, for any other value, names the field that replaced it. ``to_dict``
no longer writes it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from typing import Annotated, Any, Literal, TypeVar

from .errors import InputError

T = TypeVar("T")
NEUTRAL = "sfi_mos.neutral"  # dataclass field metadata key: the value that leaves the field out of ids
LABEL = "sfi_mos.label"  # dataclass field metadata key: the field is never part of the id


@dataclasses.dataclass(frozen=True)
class Retired:
    """A retired field (see the module docstring): ``value`` is what every published run id hashed;
    ``equivalents`` maps each other old value to the value of ``replaced_by`` that does the same."""

    value: Any
    since: str  # the suite version that retired it (CHANGELOG.md)
    replaced_by: str
    equivalents: tuple[tuple[Any, Any], ...] = ()

    def check(self, cls: type, name: str, value: Any) -> None:
        """An old config.json's value: the retired one passes, any other is an error naming its successor."""
        if _same(value, self.value):
            return
        new = [n for old, n in self.equivalents if _same(value, old)]
        hint = f"use {self.replaced_by}={new[0]!r}" if new else f"{value!r} has no equivalent"
        raise InputError(cls.__name__, f"{cls.__name__}.{name} was replaced by {self.replaced_by} in "
                                       f"{self.since}: {hint}")


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)  # True is not 1


def retired(cls: type) -> dict[str, Retired]:
    return getattr(cls, "RETIRED", {})


def added(default: Any, *, since: str) -> Any:
    """A config field added after run ids were published. At ``default`` (which must keep the old
    behaviour) it is left out of the identity form, so existing run ids do not move. ``since`` names
    the suite version that added it (CHANGELOG.md)."""
    return dataclasses.field(default=default, metadata={NEUTRAL: default, "since": since})


@dataclasses.dataclass(frozen=True)
class Range:
    """``Annotated[int|float, Range(lo, hi)]``: bounds checked at construction (None = unbounded)."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False  # lo itself is excluded (a positive learning rate)

    def check(self, value: float) -> bool:
        above = self.lo is None or (value > self.lo if self.open_lo else value >= self.lo)
        return above and (self.hi is None or value <= self.hi)

    def __str__(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{'(' if self.open_lo else '['}{lo}, {hi}]"


def _check(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against type hint ``tp``; returns it normalised (int -> float, list -> tuple)."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *marks = typing.get_args(tp)
        value = _check(base, value, where)
        for m in marks:
            if isinstance(m, Range) and not m.check(value):
                raise InputError(where, f"{value!r} is outside the allowed range {m}")
        return value
    if origin is Literal:
        allowed = typing.get_args(tp)
        # bool is an int: True == 1 must not pass as a Literal of ints, nor "0" as 0
        if not any(value == a and type(value) is type(a) for a in allowed):
            raise InputError(where, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(arg, value, where)
            except InputError as e:
                errors.append(e.problem)
        raise InputError(where, " and ".join(dict.fromkeys(errors)) or f"{value!r} is not allowed")
    if tp is Any or tp is object:
        return value
    if tp is bool:
        if type(value) is not bool:
            raise InputError(where, f"{value!r} is not a boolean (True or False)")
        return value
    if tp is int:
        if type(value) is not int:
            raise InputError(where, f"{value!r} is not an integer")
        return value
    if tp is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise InputError(where, f"{value!r} is not a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InputError(where, f"{value!r} is not a string")
        return value
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            raise InputError(where, f"{value!r} is not a sequence")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise InputError(where, f"{value!r} has {len(value)} items, expected {len(args)}")
        return tuple(_check(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise InputError(where, f"{value!r} is not a mapping")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, tp):
            raise InputError(where, f"{value!r} is not a {tp.__name__}")
        return value
    return value


def validate(obj: Any) -> None:
    """Check every field of a (frozen) dataclass against its type hint: ``Literal`` choices, strict
    bool/int/float/str, ``Range`` bounds. Call from ``__post_init__``; an ill-typed or out-of-range
    value is an ``InputError`` naming the class, the field, the value and what is allowed. ints given
    for float fields become floats, so ``8000`` and ``8000.0`` are one config (one run id)."""
    hints = typing.get_type_hints(type(obj), include_extras=True)
    name = type(obj).__name__
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        checked = _check(hints[f.name], value, f"{name}.{f.name}")
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


def label(default_factory: Any) -> Any:
    """A field that describes a run for its readers (e.g. the grid cell a prediction belongs to) but
    does not change what it computes: never part of the identity, so renaming a label re-keys nothing."""
    return dataclasses.field(default_factory=default_factory, metadata={LABEL: True})


def _is_neutral(f: dataclasses.Field, value: Any) -> bool:
    if f.metadata.get(LABEL):
        return True
    return NEUTRAL in f.metadata and to_dict(value) == to_dict(f.metadata[NEUTRAL])


def to_dict(cfg: Any, identity: bool = False) -> Any:
    """Fully resolved, JSON-ready form of a (nested) dataclass config. Tuples become lists.
    ``identity``: leave out ``label`` fields and ``added`` fields that hold their neutral default, add
    back ``RETIRED`` fields at their retired value."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        out = {f.name: to_dict(getattr(cfg, f.name), identity) for f in dataclasses.fields(cfg)
               if not (identity and _is_neutral(f, getattr(cfg, f.name)))}
        if identity:  # retired fields at the value every published id hashed
            out.update({k: to_dict(r.value) for k, r in retired(type(cfg)).items()})
        return out
    if isinstance(cfg, dict):
        return {str(k): to_dict(v, identity) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v, identity) for v in cfg]
    return cfg  # floats stay floats: 1.0 and 1 hash differently on purpose


def identity_dict(cfg: Any) -> Any:
    """What a run id hashes: ``to_dict`` without labels and neutral added fields, with retired ones."""
    return to_dict(cfg, identity=True)


def canonical_json(obj: Any) -> str:
    return json.dumps(identity_dict(obj), sort_keys=True, separators=(",", ":"))


def config_hash(obj: Any, n: int = 12) -> str:
    """Run id: sha256 over the canonical JSON of the config's identity form. Pass the dataclass (not
    its ``to_dict``), so fields added with a neutral default can be left out."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:n]


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (nested) dataclass from ``to_dict`` output; unknown keys are an error. A retired key
    (an older config.json) is dropped at its retired value and an error naming its successor otherwise."""
    if not isinstance(data, dict):
        raise InputError(cls.__name__, f"expected a JSON object, got {type(data).__name__}")
    gone = retired(cls)
    for k in sorted(set(data) & set(gone)):
        gone[k].check(cls, k, data[k])
    data = {k: v for k, v in data.items() if k not in gone}
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise InputError(cls.__name__, f"unknown config keys {sorted(unknown)}")
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
            raise InputError(type(cfg).__name__, f"no field {key!r}")
    for head, sub in nested.items():
        flat[head] = override(flat.get(head, getattr(cfg, head)), **sub)
    return dataclasses.replace(cfg, **flat)
