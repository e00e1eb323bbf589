"""The one reader for the JSON files the suite writes and reads back (config.json, done.json, env.json,
metrics.json, manifest.json, failed.json, fingerprint caches, ...).

Valid JSON of the wrong shape (``[]`` where an object is expected, a string where a table is) is
an :class:`InputError` naming the file and the key, never an ``AttributeError`` later on.
A *shape* is a dict ``{key: type or tuple of types}``: the value must be a JSON object holding
those keys with values of those types. A key written ``"key?"`` is optional; a nested dict is a
nested shape.
"""
from __future__ import annotations

import json
import os
from typing import Any

from .errors import InputError

_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
          bool: "true/false", type(None): "null"}


def _name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_name(x) for x in t)
    return _NAMES.get(t, getattr(t, "__name__", str(t)))


def _got(v: Any) -> str:
    return _NAMES.get(type(v), type(v).__name__)


def check_shape(value: Any, shape: dict, where: str, path: str = "") -> dict:
    """``value`` must be an object matching ``shape``; returns it (``path``: the key path so far)."""
    at = f" at {path}" if path else ""
    if not isinstance(value, dict):
        raise InputError(where, f"expected a JSON object{at}, got {_got(value)}")
    for key, want in shape.items():
        optional = key.endswith("?")
        key = key.rstrip("?")
        if key not in value:
            if optional:
                continue
            raise InputError(where, f"missing key {path + key!r}")
        v = value[key]
        if isinstance(want, dict):
            check_shape(v, want, where, f"{path}{key}.")
            continue
        types = want if isinstance(want, tuple) else (want,)
        if float in types and int not in types:
            types = (*types, int)  # JSON writes 2.0 as 2
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            raise InputError(where, f"{path + key!r} should be {_name(want)}, got {_got(v)} {json.dumps(v)[:40]}")
    return value


def parse_json(text: str, where: str, shape: dict | None = None) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(where, f"not valid JSON ({e})") from None
    except RecursionError:
        raise InputError(where, "JSON nested too deeply") from None
    return check_shape(value, shape or {}, where)


def read_json(path: str | os.PathLike, shape: dict | None = None, what: str = "") -> dict:
    """A JSON object from ``path``, checked against ``shape`` (see the module doc).

    Missing, unreadable, not UTF-8, not JSON, not an object or of the wrong shape: an InputError
    naming the file (and ``what`` it is, e.g. "run record")."""
    where = f"{os.fspath(path)}" + (f" ({what})" if what else "")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(where, "missing") from None
    except IsADirectoryError:
        raise InputError(where, "is a directory, not a JSON file") from None
    except OSError as e:
        raise InputError(where, f"cannot read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(where, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse_json(text, where, shape)
