"""The projections' JSON text in one pass: ``json_text(x) == db.dumps(json_view(x))``, byte for byte.

``db.dumps(json_view(x))`` walks a record twice: ``json_view`` builds a JSON-ready copy (big integers as
decimal strings, dataclasses as dicts, columns of integers copied), then ``json.dumps`` (sorted keys,
no spaces, ``ensure_ascii``) walks the copy to write it. At a million tasks an epoch document is
~150 MB of text, most of it columns of integers (node lines' task ids, bonus rows: 16 M integers).

Here one walk converts what JSON cannot say as it is, exactly as ``json_view`` does (same tests, same
key conversion), and ``orjson`` (``OPT_SORT_KEYS``) writes the result. A list or tuple that starts with
a plain integer and sums to an integer (so holds integers and bools only: a float makes the sum a float,
anything else makes it raise) is handed to orjson as it is, not copied nor range-checked: orjson writes
with ``OPT_STRICT_INTEGER`` and refuses any integer past ±(2**53 − 1), and then the walk is taken again
with each such column's range checked (min, max), the rest written by orjson as before. What orjson
writes differently from ``json.dumps`` is made equal:

- floats are written by ``json.dumps`` itself (``float.__repr__``, ``NaN``, ``Infinity``), as fragments;
- a string with non-ASCII characters is written by ``json.dumps`` (``ensure_ascii``: ``\\uXXXX`` in
  lower-case hex, a surrogate pair above U+FFFF), once per string object (a formula cited by every earning
  item), as a fragment; non-ASCII left in the text (a dict key) and DEL (0x7f, which orjson writes as
  it is) are escaped the same way after the fact: they occur only inside strings;
- orjson sorts keys by their UTF-8 bytes, which is Python's order of ``str`` (code points) for any
  string UTF-8 can encode; a string it cannot (a lone surrogate in a key) makes orjson refuse, and so
  does nesting deeper than orjson's limit: those, and any value of a type this walk does not know,
  are written by the reference ``db.dumps(json_view(x))`` (which then writes it or raises as before).

Unlike ``json_view``, the walk does not share the view of a container reached twice: it makes it again, the same
(a container's view depends on the container alone), so the text is the same and no lookup is paid per container;
only ``json_bytes_columns`` can tell, and it walks again sharing when it must (``_ready``).

Control characters, quotes and backslashes orjson escapes as ``json.dumps`` does (``\\n``, ``\\u001f``…);
``tests/store/test_json_text.py`` checks the equality on generated values and on real epoch records.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import orjson

from ..core.int_column import IntColumn
from ..core.json_view import _FIELDS, JSON_SAFE_INT, _key, json_view

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY  # numpy: an ``IntColumn``'s int64 array, range checked by the walk
_NOT_ASCII_SAFE = re.compile("[\x7f-\U0010ffff]")  # what ensure_ascii escapes besides what orjson escapes too


class _Fallback(Exception):
    """A value this walk does not know: the reference path writes the whole text."""


def json_text(obj: Any) -> str:
    """``db.dumps(json_view(obj))``: the canonical JSON text of a record (sorted keys, no spaces, ASCII)."""
    return json_bytes(obj).decode("ascii")


def json_bytes(obj: Any) -> bytes:
    """``json_text(obj)`` as its ASCII bytes, as orjson writes them: what a writer binds as text without first copying
    it into a ``str`` (an epoch document at a million tasks: 150 MB, ~0.1 s and as many fresh pages again). orjson's own
    ``bytes``: a caller that keeps them past the call passes them through ``kept_bytes``."""
    try:
        try:  # columns of integers unranged: orjson refuses any integer past ±(2**53 − 1) (OPT_STRICT_INTEGER)
            data = orjson.dumps(_ready(obj, {}, False, False), option=_OPTIONS | orjson.OPT_STRICT_INTEGER)
        except orjson.JSONEncodeError:  # ±2**53 itself, which JSON keeps as a number; a lone surrogate; deep nesting
            data = orjson.dumps(_ready(obj, {}, True, False), option=_OPTIONS)
    except (_Fallback, orjson.JSONEncodeError):
        return reference_text(obj).encode("ascii")
    if not data.isascii() or b"\x7f" in data:
        data = _NOT_ASCII_SAFE.sub(_escape, data.decode()).encode("ascii")
    return data


KEPT_COPY_BELOW = 1 << 20
"""``kept_bytes`` copies a text shorter than this (bytes)."""


def kept_bytes(data: bytes) -> bytes:
    """``data`` (orjson's output) for a caller that keeps it past the call (the projector's ``_docs``, held until the
    flush: when the engine re-projects the log, every epoch's document until the end): a copy when it is short, else
    ``data`` itself; the same bytes either way. A ``bytes`` orjson returns holds on to the buffer it wrote into, which
    for a short text is several times the text; a long one orjson's resize gives back. Measured (orjson texts kept
    by the thousand, process RSS per text byte, orjson's own against copies, load 3.9): 1.3 KB 6.3× against 1.07×,
    3.3 KB 5.1× / 1.02×, 15.6 KB 1.31× / 1.005×, 24 KB 1.34× / 1.01×, 285 KB 1.020× / 1.002×, 18.6 MB (an epoch
    document at a million tasks: 17.9 MB) 1.0002× / 1.0002× with the copy at 10 ms each. Below 1 MiB the copy costs
    under ~0.5 ms and can save most of the text's size again; above, it saves under 2 % for ~0.5 ms per MiB."""
    return bytes(memoryview(data)) if len(data) < KEPT_COPY_BELOW else data


def json_bytes_fields(names: Sequence[str], values: Sequence[Any]) -> bytes:
    """``json_bytes(dict(zip(names, values)))`` for distinct ``str`` names (a record's fields and a few more: a node's
    row), without that dict: the values made ready in one pass, as ``_ready`` makes a dict's. Anything that pass does
    not write as it is (a column past ±2**53, a value the walk does not know, a name that is not a ``str``, a name twice)
    is written by ``json_bytes`` of the dict, which then writes it or raises as before."""
    try:
        data = orjson.dumps(_ready_fields(names, values, {}), option=_OPTIONS | orjson.OPT_STRICT_INTEGER)
    except (_Fallback, orjson.JSONEncodeError, _Repeated):  # (orjson refuses a name that is not a str)
        return json_bytes(dict(zip(names, values, strict=True)))
    if not data.isascii() or b"\x7f" in data:
        data = _NOT_ASCII_SAFE.sub(_escape, data.decode()).encode("ascii")
    return data


def json_bytes_rows(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """``[json_bytes_fields(names, values) for values in rows]``, written by one orjson call (the 10 k node rows of a
    close: a call per row cost half as much again as the rows' walk).

    orjson writes the list ``[row 0,row 1,…]`` as the rows' own texts joined by commas, and every row's text starts with
    ``{"<first name>":`` (sorted keys; every row has every name) and ends with ``}``. ``},{"`` occurs in JSON text only
    between two objects of an array (inside a string a quote is written ``\\"``; after a closing quote comes ``,``,
    ``:``, ``}`` or ``]``), so ``},{"<first name>":`` occurs once at each joint and elsewhere only where a value nests an
    array of such objects: when it occurs exactly ``len(rows) − 1`` times, the joints are those and splitting there gives
    the rows' texts. Otherwise, or when a row is not written in that pass (``json_bytes_fields``' fallbacks), each row is
    written by ``json_bytes_fields``."""
    if not rows or not names or not all(type(n) is str for n in names) or _PLAIN_NAME.fullmatch(first := min(names)) is None:
        return [json_bytes_fields(names, values) for values in rows]
    try:
        data = orjson.dumps(_ready_rows(names, rows), option=_OPTIONS | orjson.OPT_STRICT_INTEGER)
    except (_Fallback, orjson.JSONEncodeError, _Repeated):
        return [json_bytes_fields(names, values) for values in rows]
    if not data.isascii() or b"\x7f" in data:  # escaped character by character, inside strings: the joints stay as they are
        data = _NOT_ASCII_SAFE.sub(_escape, data.decode()).encode("ascii")
    head = b'{"' + first.encode("ascii") + b'":'
    pieces = data[1:-1].split(b"}," + head)  # (the joints counted by the split itself: no pass of its own over the text)
    if len(pieces) != len(rows):
        return [json_bytes_fields(names, values) for values in rows]
    last = len(pieces) - 1
    return [(head if i else b"") + piece + (b"}" if i < last else b"") for i, piece in enumerate(pieces)]


_PLAIN_NAME = re.compile("[A-Za-z0-9_]+")
"""A name orjson writes as it is (no escape)."""


class _Repeated(Exception):
    """A name given twice: the dict ``json_bytes`` would write keeps the last value only."""


def _ready_fields(names: Sequence[str], values: Sequence[Any], memo: dict[int, Any]) -> dict[str, Any]:
    """``_ready(dict(zip(names, values)))`` for ``str`` names (orjson refuses any other when writing the result)."""
    out: dict[str, Any] = {}
    for name, v in zip(names, values, strict=True):
        t = type(v)
        if t is int:
            out[name] = v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v)
        elif t is str:
            out[name] = v if v.isascii() else _escaped(v, memo)
        elif t is bool or v is None:
            out[name] = v
        else:
            out[name] = _ready(v, memo, False, False)
    if len(out) != len(names):
        raise _Repeated
    return out


def _ready_rows(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """``[_ready_fields(names, values, {}) for values in rows]``, made a field at a time across the rows
    (``_ready_values``: a field every row holds as it is written, such as an ASCII string, an integer within ±2**53 or
    None, is taken as it is, tested once for the column). Rows not all of ``len(names)`` values, or names given twice,
    go through ``_ready_fields`` row by row, which raises as before."""
    if len(set(names)) != len(names) or set(map(len, rows)) != {len(names)}:
        return [_ready_fields(names, values, {}) for values in rows]
    memo: dict[int, Any] = {}  # (only strings' escaped texts, keyed by the strings: the same fragments as a memo per row)
    columns = [_ready_values(column, memo) for column in zip(*rows)]
    return list(map(dict, map(zip, repeat(names), zip(*columns))))


_AS_IS = frozenset({bool, type(None)})
_STR_ONLY = frozenset({str})


def _ready_values(values: Sequence[Any], memo: dict[int, Any]) -> Sequence[Any]:
    """``[_ready(v, memo, False, False) for v in values]``, or ``values`` itself when that list would hold the same
    values: every value a bool or None, or every one an ``int`` within ±2**53, or every one an ASCII ``str`` (each test
    taken once for the column, in C). An ``int`` column with values past ±2**53 is converted in one comprehension (those
    as decimal strings, as ``_ready`` writes them); in a column of tuples, lists and sets (``_ready``'s set kind: a
    node's delegators) an empty one is ``[]`` without a call, as ``_ready`` makes it. A column of dicts of one class with
    ``str`` keys (a node's positions) is made as one column of all their values, each dict rebuilt from its share; a column
    of dataclasses of one class (the positions' accruals) as the columns of their fields (10 k nodes' rows: ~0.01 s less
    than a ``_ready`` call per dict and per accrual)."""
    types = set(map(type, values))
    if types <= _AS_IS:
        return values
    if types == {int}:
        if -JSON_SAFE_INT <= min(values) and max(values) <= JSON_SAFE_INT:
            return values
        return [v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v) for v in values]
    if types == {str} and all(map(str.isascii, values)):
        return values
    if all(t is tuple or t is list or (_KINDS.get(t) or _kind(t)) is _SET for t in types):
        return [_ready(v, memo, False, False) if v else [] for v in values]
    if len(types) == 1:
        cls = next(iter(types))
        kind = _KINDS.get(cls) or _kind(cls)
        if kind is _DICT and set(map(type, chain.from_iterable(values))) <= _STR_ONLY:  # a node's positions
            ready = iter(_ready_values([v for d in values for v in d.values()], memo))  # every dict's values, one column
            return [dict(zip(d, ready)) for d in values]  # (zip stops at d's end: takes its own values from ``ready``)
        if type(kind) is tuple and len(kind) > 1:  # dataclasses of one class (the positions' accruals): their fields' columns
            columns = [_ready_values(column, memo) for column in zip(*map(attrgetter(*kind), values))]
            return list(map(dict, map(zip, repeat(kind), zip(*columns))))
    return [_ready(v, memo, False, False) for v in values]


COLUMN_PLACEHOLDER = "\x00col:"
"""What stands for the i-th column taken out of a text by ``json_bytes_columns``: the string ``"\\x00col:<i>"``, which the
text writes as ``"\\u0000col:<i>"``."""
PLACEHOLDER_PREFIX = b'"\\u0000col:'
COLUMN_MIN_VALUES = 8
"""A shorter column stays in the text (its placeholder would be about as long)."""


def json_bytes_columns(obj: Any) -> tuple[bytes, list[Any]]:
    """``json_bytes(obj)`` with each ``IntColumn`` of at least ``COLUMN_MIN_VALUES`` values within ±2**53 taken out: the
    text with a placeholder string in each one's place, and the columns' int64 arrays in the order of their indices
    (``store/document_format.py`` puts them back: the text with each placeholder replaced by its column's JSON list is
    ``json_bytes(obj)`` byte for byte). Exact by construction and checked: when the text holds any string starting as a
    placeholder does other than the placeholders written (a record's own string, or a column reached twice through one
    container), or the walk falls back to the reference, nothing is taken out: ``(json_bytes(obj), [])``. When the walk
    takes none out, its text is ``json_bytes(obj)`` already (the same walk and options, no placeholder written): it is
    returned as it is, its placeholders not counted (an epoch document without tasks: 17.7 MB of text at 10 k nodes,
    ~0.01 s a count)."""
    taken = _columns_text(obj, False)
    if taken is not None and len({id(a) for a in taken[1]}) != len(taken[1]):
        taken = _columns_text(obj, True)  # a column taken out twice: maybe through a container reached twice (see _ready)
    if taken is None:
        return json_bytes(obj), []
    data, columns = taken
    if not data.isascii() or b"\x7f" in data:
        data = _NOT_ASCII_SAFE.sub(_escape, data.decode()).encode("ascii")
    if columns and data.count(PLACEHOLDER_PREFIX) != len(columns):
        return json_bytes(obj), []
    return data, columns


def _columns_text(obj: Any, shared: bool) -> tuple[bytes, list[Any]] | None:
    """orjson's text of ``obj`` with its long columns taken out, and those columns (None: the walk cannot write it).

    Walked without ``shared`` first: a column's array is taken out once per visit, so when each is taken out once no
    container holding one was reached twice, and the text and columns are those of the shared walk (``_ready``).
    When one is taken out twice the caller walks again ``shared``: what ``json_view``'s sharing gives then decides."""
    for ranged in (False, True):
        columns: list[Any] = []
        memo: dict[int, Any] = {0: columns}  # key 0: no object's id, no string's key (~id < 0)
        try:
            data = orjson.dumps(_ready(obj, memo, ranged, shared), option=_OPTIONS if ranged else _OPTIONS | orjson.OPT_STRICT_INTEGER)
            return data, columns
        except orjson.JSONEncodeError:
            if ranged:
                return None
        except _Fallback:
            return None
    return None


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


def _escaped(v: str, memo: dict[int, Any]) -> orjson.Fragment:
    """A string with non-ASCII characters, as ``json.dumps`` writes it (``ensure_ascii``), escaped once per string
    object (a formula cited by every earning item)."""
    seen = memo.get(~id(v))  # keys < 0: strings' texts, apart from the views of containers (keyed by their ids)
    if seen is None:
        seen = memo[~id(v)] = (v, orjson.Fragment(json.dumps(v)))  # v kept alive with its text: its id stays its own
    text: orjson.Fragment = seen[1]
    return text


def _column(obj: list[Any] | tuple[Any, ...], ranged: bool) -> bool:
    """Whether orjson writes ``obj`` as ``json_view`` + ``json.dumps`` would: integers (bools among them are
    written alike) and nothing else, all within ±2**53 (``ranged``; else orjson checks the range as it writes).
    A float anywhere makes the sum a float; a string, None or a container makes it raise."""
    try:
        return type(obj[0]) is int and type(sum(obj)) is int and (not ranged or (-JSON_SAFE_INT <= min(obj) and max(obj) <= JSON_SAFE_INT))
    except TypeError:
        return False


# What ``_ready`` does with an instance of a class, by the class (``_kind``): the tests of the walk in their order, taken
# once per class instead of once per object (an epoch document holds some 60 k earning items, 120 k dicts and 20 k columns
# of a handful of classes). A dataclass's kind is the tuple of its field names.
_DICT, _SEQ, _SET, _STR, _BOOL, _INT, _FLOAT, _OTHER, _COLUMN = "dict", "seq", "set", "str", "bool", "int", "float", "other", "column"
_KINDS: dict[type, Any] = {}


def _kind(cls: type) -> Any:
    """The branch of ``_ready`` an instance of ``cls`` takes (the same ``isinstance`` tests in the same order; they
    depend on the class alone), remembered per class."""
    kind: Any
    if cls is IntColumn:
        kind = _COLUMN
    elif issubclass(cls, dict):
        kind = _DICT
    elif issubclass(cls, (list, tuple)):
        kind = _SEQ
    elif issubclass(cls, (set, frozenset)):
        kind = _SET
    elif issubclass(cls, str):
        kind = _STR
    elif issubclass(cls, bool):
        kind = _BOOL
    elif issubclass(cls, int):
        kind = _INT
    elif issubclass(cls, float):
        kind = _FLOAT
    elif dataclasses.is_dataclass(cls) and not issubclass(cls, type):
        kind = _FIELDS.get(cls)
        if kind is None:
            kind = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    else:
        kind = _OTHER
    _KINDS[cls] = kind
    return kind


def _ready(obj: Any, memo: dict[int, Any], ranged: bool, shared: bool) -> Any:
    """``json_view(obj)`` as orjson writes it identically (see the module doc); integer columns are not copied
    (``ranged``: only when all are within ±2**53; else orjson must refuse any past ±(2**53 − 1)).

    ``shared``: a container reached again gives the view its first visit made (``memo``, by its id), as ``json_view``
    does. The text is the same either way (a container's view is the same whenever it is made); only the columns
    ``json_bytes_columns`` takes out can tell: a container holding one, reached twice, writes its placeholder twice
    when shared, and a second placeholder of the same column otherwise (``json_bytes_columns`` decides which it
    needs). Not sharing saves a lookup and an entry per container (~130 k in a 1 M-task epoch document: ~0.05 s)."""
    cls = type(obj)
    if cls is str:
        return obj if obj.isascii() else _escaped(obj, memo)
    if cls is bool or obj is None:
        return obj
    if cls is int:
        return obj if -JSON_SAFE_INT <= obj <= JSON_SAFE_INT else str(obj)
    if cls is float:
        return _float(obj)
    if shared:
        seen = memo.get(id(obj))
        if seen is not None:
            return seen
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _kind(cls)
    out: Any
    if type(kind) is tuple:  # a dataclass: its fields, scalars inline
        out = {}
        for name in kind:
            v = getattr(obj, name)
            t = type(v)
            if t is str:
                out[name] = v if v.isascii() else _escaped(v, memo)
            elif t is bool or v is None:
                out[name] = v
            elif t is int:
                out[name] = v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v)
            else:
                out[name] = _ready(v, memo, ranged, shared)
    elif kind is _DICT:
        out = {}
        for k, v in obj.items():
            if type(k) is not str:
                k = str(_key(k))
            t = type(v)
            if t is str:
                out[k] = v if v.isascii() else _escaped(v, memo)
            elif t is bool or v is None:
                out[k] = v
            elif t is int:
                out[k] = v if -JSON_SAFE_INT <= v <= JSON_SAFE_INT else str(v)
            else:
                out[k] = _ready(v, memo, ranged, shared)
    elif kind is _SEQ:
        if obj and _column(obj, ranged):  # a column of integers (task ids, bonus rows): written as it is, not copied
            out = obj if cls is list or cls is tuple else list(obj)
        else:
            out = [_ready(v, memo, ranged, shared) for v in obj]
    elif kind is _COLUMN:  # int64 values: the array itself when all are JSON-safe (orjson writes it as the list), else the view
        columns = memo.get(0)  # json_bytes_columns: long JSON-safe columns leave the text, a placeholder each (not memoized)
        if columns is not None and len(obj) >= COLUMN_MIN_VALUES and obj.bound() <= JSON_SAFE_INT:
            columns.append(obj.array)
            return f"{COLUMN_PLACEHOLDER}{len(columns) - 1}"
        out = obj.array if obj.bound() <= JSON_SAFE_INT else json_view(obj)
    elif kind is _SET:
        if obj:
            view = json_view(obj)  # sorted views of the members; their own memo (the view's objects live only here)
            out = [_ready(v, {}, ranged, shared) for v in view]
        else:  # (a node's delegators, mostly: 10 k empty sets in the node rows of every close)
            out = []
    elif kind is _STR:
        return obj if obj.isascii() else _escaped(obj, memo)
    elif kind is _BOOL:
        return obj
    elif kind is _INT:
        return obj if -JSON_SAFE_INT <= obj <= JSON_SAFE_INT else str(obj)
    elif kind is _FLOAT:
        return _float(obj)
    else:
        raise _Fallback(cls.__name__)
    if shared:
        memo[id(obj)] = out
    return out
