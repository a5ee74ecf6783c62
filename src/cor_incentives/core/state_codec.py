"""The whole engine state as canonical bytes, and back: what a state snapshot holds (docs/design.md §9).

``encode_state(state)`` walks ``State`` and every record it holds by their declared types (the
dataclass fields and their annotations), so a field added to a record is carried without a change
here; ``decode_state`` rebuilds the same objects (records, StrEnums, tuples, sets, journaled
containers) from those types. The encoding is deterministic JSON: records as objects in field order,
typed dicts as ``[key, value]`` pairs in insertion order (the order the core iterates them in),
sets sorted, integers exact (no float anywhere), ASCII, no whitespace. Values typed ``Any`` (evidence,
statement inputs) are JSON with tuples, sets and non-string-keyed dicts tagged, so they decode to
what they were.

Derived fields are left out and rebuilt: ``touched`` (scratch of the event being applied) is empty
between events; ``jailed`` is the nodes whose ``jailed_until_tick`` is set. The selection index is
carried: the order in which nodes took their slots in its weight trees is history, not a function
of the nodes, and a draw reads that order.

``state_hash`` is the sha256 of the encoding: equal states (as the core reads them) have equal hashes.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from functools import cache
from typing import Any

from .errors import InvalidInput
from .events import content_hash
from .journal import JDict, JList, JSet
from .sampling import SelectionIndex, WeightTree
from .state import State

SNAPSHOT_FORMAT = 1
"""The version of this encoding; a snapshot of another format is refused (the engine replays instead)."""

DERIVED_STATE_FIELDS = frozenset({"touched", "jailed", "retired", "history"})
"""``State`` fields not in a snapshot: the nodes changed by the event being applied (empty between events),
the index of nodes with a jail on record (rebuilt from the nodes), the records the last event pruned (handed to
the database as it is applied) and the engine's reader of pruned records."""

R = typing.TypeVar("R")
Enc = Callable[[Any], Any]
Dec = Callable[[Any], Any]


class SnapshotUnreadable(InvalidInput):
    """Bytes that are not a snapshot of this format."""

    code = "snapshot_unreadable"


def encode_state(state: State) -> bytes:
    """The canonical bytes of ``state`` (between events)."""
    body = {"format": SNAPSHOT_FORMAT, "state": _codec(State)[0](state)}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def decode_state(data: bytes) -> State:
    """The state ``encode_state`` wrote (``snapshot_unreadable`` for anything else)."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotUnreadable(f"the snapshot is not JSON ({exc})", code="snapshot_unreadable") from None
    if not isinstance(body, dict) or body.get("format") != SNAPSHOT_FORMAT:
        found = body.get("format") if isinstance(body, dict) else None
        raise SnapshotUnreadable(f"snapshot format {found!r} is not {SNAPSHOT_FORMAT}", code="snapshot_format")
    try:
        state: State = _codec(State)[1](body["state"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise SnapshotUnreadable(f"the snapshot does not decode to a state ({type(exc).__name__}: {exc})", code="snapshot_unreadable") from None
    state.jailed = {i for i, n in state.nodes.items() if n.jailed_until_tick is not None}
    return state


def encode_record(obj: Any) -> bytes:
    """The canonical bytes of one record (a ``Task``, an ``EpochRecord``, ...), as a snapshot holds it."""
    hint: Any = type(obj)
    return json.dumps(_codec(hint)[0](obj), separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def decode_record(cls: type[R], data: bytes | str) -> R:
    """The record ``encode_record`` wrote (``snapshot_unreadable`` for anything else)."""
    try:
        hint: Any = cls
        record: R = _codec(hint)[1](json.loads(data))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise SnapshotUnreadable(f"not a {cls.__name__} record ({type(exc).__name__}: {exc})", code="snapshot_unreadable") from None
    return record


def state_hash(state: State) -> str:
    """sha256 of the state's canonical encoding (0x-hex)."""
    return content_hash(encode_state(state))


# --- codecs by declared type -------------------------------------------------------------------


@cache
def _codec(hint: Any) -> tuple[Enc, Dec]:
    """(encode, decode) for values declared as ``hint``."""
    if hint is Any or hint is object:
        return _any_enc, _any_dec
    if hint is WeightTree:
        return _tree_enc, _tree_dec
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record_codec(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda v: v.value), hint
    if hint in (int, str, bool):
        return _scalar(hint)
    if hint is type(None):
        return _scalar(type(None))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _union_codec(args)
    if origin is dict or origin is Mapping:
        return _dict_codec(args[0], args[1], origin is Mapping)
    if origin is list:
        enc, dec = _codec(args[0])
        return (lambda v: [enc(x) for x in v]), (lambda v: JList(dec(x) for x in _list(v)))
    if origin is set or origin is frozenset:
        enc, dec = _codec(args[0])
        return (lambda v: sorted((enc(x) for x in v), key=_order)), (lambda v: JSet(dec(x) for x in _list(v)))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            enc, dec = _codec(args[0])
            return (lambda v: [enc(x) for x in v]), (lambda v: tuple(dec(x) for x in _list(v)))
        parts = [_codec(a) for a in args]
        return (
            lambda v: [c[0](x) for c, x in zip(parts, v, strict=True)],
            lambda v: tuple(c[1](x) for c, x in zip(parts, _list(v), strict=True)),
        )
    raise TypeError(f"no snapshot encoding for the declared type {hint!r}")


def _order(x: Any) -> str:
    return json.dumps(x, sort_keys=True, separators=(",", ":"))


def _list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise TypeError(f"expected a list, got {type(v).__name__}")
    return v


def _scalar(t: type) -> tuple[Enc, Dec]:
    def dec(v: Any) -> Any:
        if type(v) is not t:
            raise TypeError(f"expected {t.__name__}, got {type(v).__name__}")
        return v

    return (lambda v: v), dec


def _union_codec(args: tuple[Any, ...]) -> tuple[Enc, Dec]:
    others = [a for a in args if a is not type(None)]
    if len(others) != 1 or len(args) != 2:
        raise TypeError(f"no snapshot encoding for the union {args!r} (only X | None)")
    enc, dec = _codec(others[0])
    return (lambda v: None if v is None else enc(v)), (lambda v: None if v is None else dec(v))


def _dict_codec(k: Any, v: Any, frozen: bool) -> tuple[Enc, Dec]:
    kenc, kdec = _codec(k)
    venc, vdec = _codec(v)

    def enc(d: Any) -> Any:
        return [[kenc(a), venc(b)] for a, b in d.items()]

    def dec(pairs: Any) -> Any:
        out = {kdec(a): vdec(b) for a, b in _list(pairs)}
        return types.MappingProxyType(out) if frozen else JDict(out)

    return enc, dec


def _record_codec(cls: type) -> tuple[Enc, Dec]:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if not (cls is State and f.name in DERIVED_STATE_FIELDS)]
    fields = [(n, *_codec(hints[n])) for n in names]

    def enc(obj: Any) -> Any:
        return {n: e(getattr(obj, n)) for n, e, _ in fields}

    def dec(v: Any) -> Any:
        if not isinstance(v, dict) or set(v) != set(names):
            got = sorted(v) if isinstance(v, dict) else type(v).__name__
            raise TypeError(f"{cls.__name__} needs the fields {names}, got {got}")
        return cls(**{n: d(v[n]) for n, _, d in fields})

    return enc, dec


def _tree_enc(tree: WeightTree) -> Any:
    return tree.slots()


def _tree_dec(v: Any) -> WeightTree:
    return WeightTree.from_slots([(str(node), int(w)) for node, w in _list(v)])


# values declared Any: JSON, with what JSON lacks tagged
_TAGS = ("__tuple__", "__set__", "__pairs__")


def _any_enc(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v.value if isinstance(v, Enum) else v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, (dict, Mapping)):
        if all(type(k) is str or isinstance(k, Enum) and isinstance(k, str) for k in v) and not any(t in v for t in _TAGS):
            return {str(k): _any_enc(x) for k, x in v.items()}
        return {"__pairs__": [[_any_enc(k), _any_enc(x)] for k, x in v.items()]}
    if isinstance(v, list):
        return [_any_enc(x) for x in v]
    if isinstance(v, tuple):
        return {"__tuple__": [_any_enc(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"__set__": sorted((_any_enc(x) for x in v), key=_order)}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        raise TypeError(f"a {type(v).__name__} record inside an untyped value cannot be snapshotted; declare its type")
    raise TypeError(f"no snapshot encoding for a {type(v).__name__} value")


def _any_dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_any_dec(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1 and "__tuple__" in v:
            return tuple(_any_dec(x) for x in v["__tuple__"])
        if len(v) == 1 and "__set__" in v:
            return {_any_dec(x) for x in v["__set__"]}
        if len(v) == 1 and "__pairs__" in v:
            return {_any_dec(k): _any_dec(x) for k, x in v["__pairs__"]}
        return {k: _any_dec(x) for k, x in v.items()}
    if isinstance(v, float):
        raise TypeError("a float in a snapshot")
    return v


__all__ = ["DERIVED_STATE_FIELDS", "SNAPSHOT_FORMAT", "SelectionIndex", "SnapshotUnreadable", "decode_state", "encode_state", "state_hash"]
