"""JSON-ready views of records in one pass: ``json_view(x) == json_ready(dataclasses.asdict(x))``.

``dataclasses.asdict`` deep-copies every value (and again every time an object is shared, e.g. one
``detail`` dict cited by a node's line, its commission line and its stakers' lines), then
``json_ready`` walks the copy once more. An epoch record of a million tasks holds millions of such
values; this walks each object once, reads it without copying, and converts a shared object once
(``memo``, by identity, valid for the one call: nothing changes while a view is taken). A list of
plain integers (a node's task ids, a column of the epoch document) is converted in one pass, copied
whole when all are JSON-safe.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .int_column import IntColumn

JSON_SAFE_INT = 2**53  # larger integers are written as decimal strings (``state.json_ready``)
_FIELDS: dict[type, tuple[str, ...]] = {}


def json_view(obj: Any) -> Any:
    """``obj`` as ``json_ready(asdict(obj))`` would give it: dataclasses as dicts of their fields, big
    integers as decimal strings, tuples as lists, sets as sorted lists, dict keys as strings. The view's
    containers are new (the record is never aliased); an object the record cites twice has one view,
    cited twice, so a caller may change the top level only."""
    return _view(obj, {})


def _view(obj: Any, memo: dict[int, Any]) -> Any:
    cls = type(obj)
    if cls is str or cls is bool or obj is None:
        return obj
    if cls is int:
        return obj if -JSON_SAFE_INT <= obj <= JSON_SAFE_INT else str(obj)
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
                out[k] = _view(v, memo)
    elif cls is list or cls is tuple or isinstance(obj, (list, tuple)):
        if obj and set(map(type, obj)) == {int}:  # a column of integers (task ids, amounts): converted in one pass
            if -JSON_SAFE_INT <= min(obj) and max(obj) <= JSON_SAFE_INT:
                out = list(obj)
            else:
                out = [v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v) for v in obj]
        else:
            out = [_view(v, memo) for v in obj]
    elif cls is IntColumn:  # int64 values: the list it stands for, converted as a column of integers
        if obj.bound() <= JSON_SAFE_INT:
            out = obj.tolist()
        else:
            out = [v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v) for v in obj.tolist()]
    elif isinstance(obj, (set, frozenset)):
        out = sorted(_view(v, memo) for v in obj)
    elif isinstance(obj, bool) or isinstance(obj, str):
        return obj
    elif isinstance(obj, int):
        return obj if -JSON_SAFE_INT <= obj <= JSON_SAFE_INT else str(obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = _FIELDS.get(cls)
        if names is None:
            names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(obj))
        out = {}
        for name in names:  # scalar fields inline, as for a dict's values (a record is mostly scalars)
            v = getattr(obj, name)
            t = type(v)
            if t is str or t is bool or v is None:
                out[name] = v
            elif t is int:
                out[name] = v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v)
            else:
                out[name] = _view(v, memo)
    else:
        return obj
    memo[id(obj)] = out
    return out


def _key(k: Any) -> Any:
    """A dict key as ``json_ready`` sees it after ``asdict``: a dataclass key becomes its dict."""
    if dataclasses.is_dataclass(k) and not isinstance(k, type):
        return dataclasses.asdict(k)
    return k
