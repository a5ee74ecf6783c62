"""The projections' JSON text in one pass: ``json_text(x) == db.dumps(json_view(x))``, byte for byte.

``db.dumps(json_view(x))`` walks a record twice: ``json_view`` builds a JSON-ready copy (big integers as
decimal strings, dataclasses as dicts, columns of integers copied), then ``json.dumps`` (sorted keys,
no spaces, ``ensure_ascii``) walks the copy to write it. At a million tasks an epoch document is
~150 MB of text, most of it columns of integers (node lines' task ids, bonus rows).

Here the walk converts what JSON cannot say as it is, exactly as ``json_view`` does (same tests, same
key conversion), but hands a list or tuple of plain integers that are all within ±2**53 to the encoder
as it is, without copying it; ``orjson`` (``OPT_SORT_KEYS``) then writes the text. What orjson writes
differently from ``json.dumps`` is made equal:

- floats are written by ``json.dumps`` itself (``float.__repr__``, ``NaN``, ``Infinity``), as fragments;
- orjson writes non-ASCII characters as UTF-8 and DEL (0x7f) as it is, where ``ensure_ascii`` writes
  ``\\uXXXX`` (lower-case hex; a surrogate pair above U+FFFF): such characters occur only inside strings,
  so the text is escaped after the fact, character by character, as ``json.dumps`` escapes them;
- orjson sorts keys by their UTF-8 bytes, which is Python's order of ``str`` (code points) for any
  string UTF-8 can encode; a string it cannot (a lone surrogate) makes orjson refuse, and so does
  nesting deeper than orjson's limit: those, and any value of a type this walk does not know, are
  written by the reference ``db.dumps(json_view(x))`` (which then writes it or raises as before).

Control characters, quotes and backslashes orjson escapes as ``json.dumps`` does (``\\n``, ``\\u001f``…);
``tests/store/test_json_text.py`` checks the equality on generated values and on real epoch records.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import orjson

from ..core.json_view import _FIELDS, JSON_SAFE_INT, _key, json_view

_OPTIONS = orjson.OPT_SORT_KEYS
_NOT_ASCII_SAFE = re.compile("[\x7f-\U0010ffff]")  # what ensure_ascii escapes besides what orjson escapes too


class _Fallback(Exception):
    """A value this walk does not know: the reference path writes the whole text."""


def json_text(obj: Any) -> str:
    """``db.dumps(json_view(obj))``: the canonical JSON text of a record (sorted keys, no spaces, ASCII)."""
    try:
        data = orjson.dumps(_ready(obj, {}), option=_OPTIONS)
    except (_Fallback, orjson.JSONEncodeError):
        return reference_text(obj)
    text = data.decode()
    if not text.isascii() or "\x7f" in text:
        text = _NOT_ASCII_SAFE.sub(_escape, text)
    return text


def reference_text(obj: Any) -> str:
    """The reference: ``json_view`` then ``json.dumps`` (what ``store.db.dumps`` writes)."""
    return json.dumps(json_view(obj), sort_keys=True, separators=(",", ":"))


def _escape(m: re.Match[str]) -> str:
    n = ord(m.group())
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 | (n >> 10):04x}\\u{0xDC00 | (n & 0x3FF):04x}"


def _float(v: float) -> orjson.Fragment:
    return orjson.Fragment(json.dumps(v))


def _ready(obj: Any, memo: dict[int, Any]) -> Any:
    """``json_view(obj)`` as orjson writes it identically (see the module doc); integer columns are not copied."""
    cls = type(obj)
    if cls is str or cls is bool or obj is None:
        return obj
    if cls is int:
        return obj if -JSON_SAFE_INT <= obj <= JSON_SAFE_INT else str(obj)
    if cls is float:
        return _float(obj)
    seen = memo.get(id(obj))
    if seen is not None:
        return seen
    out: Any
    if cls is dict or isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if type(k) is not str:
                k = str(_key(k))
            t = type(v)
            if t is str or t is bool or v is None:
                out[k] = v
            elif t is int:
                out[k] = v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v)
            else:
                out[k] = _ready(v, memo)
    elif cls is list or cls is tuple or isinstance(obj, (list, tuple)):
        if obj and set(map(type, obj)) == {int}:  # a column of integers: written as it is when all are JSON-safe
            if -JSON_SAFE_INT <= min(obj) and max(obj) <= JSON_SAFE_INT:
                out = obj if cls is list or cls is tuple else list(obj)
            else:
                out = [v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v) for v in obj]
        else:
            out = [_ready(v, memo) for v in obj]
    elif isinstance(obj, (set, frozenset)):
        view = json_view(obj)  # sorted views of the members; their own memo (the view's objects live only here)
        out = [_ready(v, {}) for v in view]
    elif isinstance(obj, bool) or isinstance(obj, str):
        return obj
    elif isinstance(obj, int):
        return obj if -JSON_SAFE_INT <= obj <= JSON_SAFE_INT else str(obj)
    elif isinstance(obj, float):
        return _float(obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = _FIELDS.get(cls)
        if names is None:
            names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(obj))
        out = {}
        for name in names:
            v = getattr(obj, name)
            t = type(v)
            if t is str or t is bool or v is None:
                out[name] = v
            elif t is int:
                out[name] = v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v)
            else:
                out[name] = _ready(v, memo)
    else:
        raise _Fallback(cls.__name__)
    memo[id(obj)] = out
    return out
