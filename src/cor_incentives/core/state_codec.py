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
between events; ``jailed`` is the nodes whose ``jailed_until_tick`` is set; ``unbonding_index``,
``redelegation_index`` and ``slash_index`` are the unbonding entries', redelegations' and slash records' ids by
address and node; ``reputation_caps`` the nodes whose reputation may cap a newcomer's start; ``attested`` and
``curator_points`` the epoch's attestations by (member, reference) and their points by curator; ``node_refs`` how many
times the live tasks and open sessions name each node. The selection index is
carried: the order in which nodes took their slots in its weight trees is history, not a function
of the nodes, and a draw reads that order.

``state_hash`` is the sha256 of the encoding as the log's rule version knew it: equal states (as the core
reads them) have equal hashes, and a field added to the state for a later rule version
(``HASHED_SINCE``) is left out of the hash of a log under an earlier one, so the state hashes an
oracle anchored with older code (rule version 5 on) still match when newer code replays that log.
A snapshot (``encode_state``) always holds every field.

The walk by declared types (``_codec``) and ``json.dumps`` define the bytes (``_encode_reference``,
``_record_reference``). What writes them is faster and writes the same bytes: an encoder generated once per declared
type (``_fast``) and orjson where it writes what ``json.dumps`` writes (``_write``); anything either cannot take goes
to the reference (tests/core/test_state_codec_fast.py holds the two equal).

Packed fields (``PACKED_FIELDS``: an epoch record's leaves and statement items, which grow with the epochs whose
leaves are unclaimed) are held in a snapshot as one JSON string of their encoding. Opening parses that string as
one token, not as a million small lists, and a record decodes it at its first read (``Journaled.__getattr__``);
a record never read is written into the next snapshot as the very string it came in. The state hash and a
record's canonical bytes (``encode_record``) never pack: they are what they were.

The state hash and the engine's snapshot (app/snapshots.py ``snapshot_row``) never hold the state's whole text:
``write_state`` feeds it, field by field and a large dict or list ``STREAM_ITEMS`` items at a time, to a sha256 (and
the snapshot's zlib stream), the very bytes ``encode_state`` and ``_encode`` make (tests/core/test_state_codec_fast.py
``same_parts``). A 1 M-stub state's text is ~750 MB; the whole value and orjson's buffer were two of it at once. Nor
a large record's (``_large``: an epoch's, 81 MB of text and ~570 MB while encoded at 1 M tasks): it is written field by
field likewise, an ``Any`` value's large lists, int columns and objects in runs (its streams' task ids), and a snapshot's
packed field as its string's parts, each escaped as ``json.dumps`` escapes a string (``_packed_parts``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import keyword
import re
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from functools import cache
from json.encoder import encode_basestring_ascii
from typing import Any

import orjson

from .epoch_columns import RowStore
from .errors import InvalidInput
from .events import content_hash
from .int_column import IntColumn
from .journal import PACKED_ATTR, JDict, JList, Journaled, JSet, adopt
from .records import ClosedTask
from .rules import (
    RULES_BOUNTY_DEPOSIT,
    RULES_COMMUNITY_RATE,
    RULES_ESCALATION_PAY,
    RULES_EXPOSED_STAKE,
    RULES_MARKETPLACE_RATE,
    RULES_MEASURED_TOKENS,
    RULES_MIN_POSITION,
    RULES_MODEL_BOND,
    RULES_MOVING_LIMITS,
    RULES_NETWORK_PROMPTS,
    RULES_NEWCOMER_FLOOR,
    RULES_OFFENCE_ALLOWANCE,
    RULES_OFFENCE_BY_TASK_EPOCH,
    RULES_PANEL_WEIGHTS,
    RULES_PRUNE,
    RULES_SESSION_BOUND,
    RULES_TASK_SPREAD,
    RULES_TASK_STUB,
    STATE_ANCHOR_RULES,
)
from .sampling import SelectionIndex, WeightTree
from .state import State

SNAPSHOT_FORMAT = 2
"""The version of this encoding; a snapshot of another format is refused (the engine replays instead).
2: ``PACKED_FIELDS`` as strings (1: as the state hash encodes them). Not changed for a field a record gains (a rule
version's new parameter): such a snapshot does not decode (``_check_fields`` names the fields) and is refused, the log
replayed once."""

HASHED_FORMAT = 1
"""The format number inside the encoding the state hash is taken of (nothing packed): frozen, as every anchored hash holds it."""

PACKED_FIELDS = frozenset({("EpochRecord", "leaves"), ("EpochRecord", "items")})
"""(record, field): held in a snapshot as one JSON string of their encoding, decoded at their first read."""

DERIVED_STATE_FIELDS = frozenset(
    {
        "touched",
        "jailed",
        "unbonding_index",
        "redelegation_index",
        "slash_index",
        "reputation_caps",
        "proposal_voters",
        "voting_proposals",
        "undrawn_bounties",
        "unexpired_bounties",
        "expired_bounties",
        "bounty_deadlines",
        "proposal_ends",
        "attested",
        "curator_points",
        "node_refs",
        "closed_sessions",
        "retired_models",
        "fine_tune_counts",
        "closing",
        "stub_epochs",
        "retired",
        "history",
    }
)
"""``State`` fields not in a snapshot: the nodes changed by the event being applied (empty between events),
the index of nodes with a jail on record (rebuilt from the nodes), the unbonding entries' and redelegations' ids
by address and node, the slash records by node and the capping reputations by role (``State.rebuild_entry_indexes``), each voted-on proposal's voters
(made again at its next vote), the ids of the proposals voting, of the bounties to draw reviewers for, not expired and
expired (still live), the first two sets by the tick each item is due (``State.rebuild_entry_indexes``), the epoch's attested (member,
reference) pairs and points by curator (rebuilt from ``attestations`` likewise), how many times the live tasks and open
sessions name each node (rebuilt from them likewise), the closed sessions' ids (rebuilt from ``sessions``), the retired
models' ids and each model's count of live fine-tunes (rebuilt from ``models``), the tasks the event being applied
closed (empty between events), the closed tasks' stubs by created epoch (rebuilt from ``closed_tasks``), the records the last event pruned (handed to
the database as it is applied) and the engine's reader of pruned records."""

HASHED_SINCE: Mapping[tuple[str, str], int] = {
    ("Task", "measured_tokens"): RULES_MEASURED_TOKENS,
    ("Task", "input_counts"): RULES_MEASURED_TOKENS,
    ("Task", "output_counts"): RULES_MEASURED_TOKENS,
    ("Task", "settled_input_tokens"): RULES_MEASURED_TOKENS,
    ("Node", "allowance_epoch"): RULES_OFFENCE_ALLOWANCE,
    ("Node", "served"): RULES_OFFENCE_ALLOWANCE,
    ("Node", "served_prev"): RULES_OFFENCE_ALLOWANCE,
    ("Node", "forgiven"): RULES_OFFENCE_ALLOWANCE,
    ("Node", "forgiven_prev"): RULES_OFFENCE_ALLOWANCE,
    ("Params", "offence_allowance_bps"): RULES_OFFENCE_ALLOWANCE,
    ("Params", "reputation_memory_epochs"): RULES_OFFENCE_ALLOWANCE,
    ("Params", "max_entries"): RULES_MOVING_LIMITS,
    ("Params", "network_prompt_parts"): RULES_NETWORK_PROMPTS,
    ("State", "network_prompts"): RULES_NETWORK_PROMPTS,
    ("Params", "prune_closed_records"): RULES_PRUNE,
    ("State", "pruned"): RULES_PRUNE,
    ("Params", "poi_spread_factor_bps"): RULES_TASK_SPREAD,
    ("Params", "poi_spread_cap_ppb"): RULES_TASK_SPREAD,
    ("Task", "spread_rule"): RULES_TASK_SPREAD,
    ("Task", "spreads"): RULES_TASK_SPREAD,
    ("Task", "spread_ppb"): RULES_TASK_SPREAD,
    ("Task", "threshold_ppb"): RULES_TASK_SPREAD,
    ("Params", "reputation_newcomer_floor_ppb"): RULES_NEWCOMER_FLOOR,
    ("Node", "idle_stake_ticks"): RULES_EXPOSED_STAKE,
    ("Node", "served_prev2"): RULES_OFFENCE_BY_TASK_EPOCH,
    ("Node", "forgiven_prev2"): RULES_OFFENCE_BY_TASK_EPOCH,
    ("Params", "min_position_units"): RULES_MIN_POSITION,
    ("Params", "bounty_min_prize_units"): RULES_BOUNTY_DEPOSIT,
    ("Params", "bounty_entry_deposit_units"): RULES_BOUNTY_DEPOSIT,
    ("Submission", "deposit"): RULES_BOUNTY_DEPOSIT,
    ("Bounty", "deposits_held"): RULES_BOUNTY_DEPOSIT,
    ("Params", "session_min_deposit_units"): RULES_SESSION_BOUND,
    ("Params", "model_listing_deposit_units"): RULES_MODEL_BOND,
    ("Params", "marketplace_usage_rate_units"): RULES_MARKETPLACE_RATE,
    ("Model", "retired_tick"): RULES_MODEL_BOND,
    ("State", "closed_tasks"): RULES_TASK_STUB,
    **{("ClosedTask", f.name): RULES_TASK_STUB for f in dataclasses.fields(ClosedTask)},  # a record new with its field
    ("Params", "community_rate_per_point_units"): RULES_COMMUNITY_RATE,
    ("Params", "community_member_cap_bps"): RULES_COMMUNITY_RATE,
    ("Task", "dissenters"): RULES_ESCALATION_PAY,
    ("ValidationRow", "drawn_round"): RULES_ESCALATION_PAY,
    ("ValidationRow", "dissented"): RULES_ESCALATION_PAY,
    ("Task", "panel_weights"): RULES_PANEL_WEIGHTS,
}
"""(record, field) -> the rule version that added it, for every field added to the state since state hashes were
first anchored (``STATE_ANCHOR_RULES``). The hash of a state under an earlier rule version leaves these out. A new
field of ``State`` or of any record it holds must be listed here with the rule version it comes with
(``tests/core/test_state_hash_versions.py`` fails otherwise): the hash under every released rule version is frozen."""

PRUNED_FOLD_FLOOR = RULES_SESSION_BOUND
"""The fewest fields a pruned record other than a parameter version is folded with: those rule version 24 knew. Until
24 was the latest, each record was folded with every field of the running code, which were all known by 24; folding with
the fields of ``max(rule at retirement, 24)`` leaves every hash of those logs as it was, and keeps a field added by rule
25 or later out of their fold (``pruned_record_hash``). One exception: ``PRUNED_TASK_COMPAT``."""

PRUNED_TASK_COMPAT = RULES_TASK_SPREAD
"""A task retired under a rule version before this one (10 or 11) is folded with the fields of that rule, which are every
field the engines that recorded such logs had: rule 12 (commit d2dca5a) added four fields to ``Task`` and, folding every
field of the running code, moved the running hash of every rule 10-11 log that had retired a task, so every later engine
refused the anchors of those logs (``checkpoint_state_mismatch``; tests/golden/pruned_v11_log.json, recorded by the code
before d2dca5a). Folding them as they were recorded lets those logs replay again; a rule 10-11 log recorded since
d2dca5a that retired a task (a genesis naming rule 10 or 11 after rule 12 existed) moves instead (docs/design.md §9)."""

R = typing.TypeVar("R")
Enc = Callable[[Any], Any]
Dec = Callable[[Any], Any]


class SnapshotUnreadable(InvalidInput):
    """Bytes that are not a snapshot of this format."""

    code = "snapshot_unreadable"


def encode_state(state: State, *, kept: bool = True) -> bytes:
    """The canonical bytes of ``state`` (between events): every field, the whole text at once. ``kept`` False: for a
    caller that drops the bytes once it has read them, orjson's own bytes, not copied (``_write``). The engine's snapshot
    (``snapshot_row``) and the state hash write these bytes in parts instead (``write_state``): never the whole text."""
    return _encode(state, None, packed=True, kept=kept)


def _encode(state: State, rules: int | None, packed: bool, kept: bool = True) -> bytes:
    """The canonical bytes of ``state`` with the fields rule version ``rules`` knew (None: every field);
    ``packed``: ``PACKED_FIELDS`` as strings (a snapshot). Written by the fast encoder (``_fast``): the bytes of
    ``_encode_reference``. ``kept``: as ``_write``'s (False: the caller drops the bytes at once, as ``state_hash`` does)."""
    head = SNAPSHOT_FORMAT if packed else HASHED_FORMAT
    try:
        return _write(lambda ranged: {"format": head, "state": _fast(State, rules, packed, ranged)(state)}, True, kept)
    except Exception:  # what the fast encoder could not walk: the reference walks it (and raises as it does)
        return _encode_reference(state, rules, packed)


def _encode_reference(state: State, rules: int | None, packed: bool) -> bytes:
    """``_encode`` by the generic walk (``_codec``) and ``json.dumps``: the definition of the bytes."""
    body = {"format": SNAPSHOT_FORMAT if packed else HASHED_FORMAT, "state": _codec(State, rules, packed)[0](state)}
    return _dumps(body)


STREAM_ITEMS = 4096
"""The pairs of a typed dict, or the values of a list, of the state or of a record in it that ``write_state`` encodes at
a time (a larger such field is written in parts of this many, ``_value_parts``; a record holding one is written field by
field, ``_large``): 4 096 closed tasks' stubs are ~3 MB of text, 4 096 statement items of a 1 M-task epoch ~8 MB."""

STREAM_CHARS = 1 << 20
"""The characters of a snapshot's packed field held as the string it came in (``PACKED_ATTR``) that ``write_state``
escapes at a time (a longer one makes its record large, ``_large``, and is written in parts of this many)."""

W = typing.TypeVar("W", bound="StateWriter")


class StateWriter(typing.Protocol):
    """What ``write_state`` feeds the state's canonical bytes to, part by part (a hash, a compressor)."""

    def write(self, data: bytes | memoryview) -> None: ...


class _Hasher:
    """A ``StateWriter`` that hashes what it is given (``content_hash`` of their concatenation: ``digest``)."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def write(self, data: bytes | memoryview) -> None:
        self.sha.update(data)

    def digest(self) -> str:
        return "0x" + self.sha.hexdigest()


def write_state(state: State, begin: Callable[[], W], *, rules: int | None = None, packed: bool = True) -> W:
    """Feed the bytes of ``_encode(state, rules, packed)`` (by default: ``encode_state``'s) to the writer ``begin()``
    makes, in parts (``_state_parts``), so the state's whole text never exists at once: with 1 M closed tasks' stubs
    (``RULES_TASK_STUB``) it is ~750 MB, and the whole value (``_write``: each record a fragment of its text, together
    as large) and orjson's output were two such texts at once. What the parts cannot be written of (the fast encoder
    raises) is written by the reference into a fresh writer (``begin()`` again), as ``_encode`` does: the same bytes."""
    writer = begin()
    try:
        for part in _state_parts(state, rules, packed):
            writer.write(part)
    except Exception:  # what the fast encoder could not walk: the reference walks it (and raises as it does)
        writer = begin()
        writer.write(_encode_reference(state, rules, packed))
    return writer


def _state_parts(state: State, rules: int | None, packed: bool) -> typing.Iterator[bytes | memoryview]:
    """The bytes of ``_encode(state, rules, packed)`` in parts whose concatenation is they: the head, then the state as a
    record written in parts (``_record_parts``): each field on its own, a large list or typed dict ``STREAM_ITEMS`` items
    at a time, and a large value in it (an epoch's record: its statement items, its streams' task columns) in parts
    likewise (``_value_parts``)."""
    yield b'{"format":%d,"state":' % (SNAPSHOT_FORMAT if packed else HASHED_FORMAT)
    yield from _record_parts(State, state, rules, packed)
    yield b"}"


def _record_parts(cls: type, obj: Any, rules: int | None, packed: bool) -> typing.Iterator[bytes | memoryview]:
    """The text of the record ``obj`` (of type ``cls``: ``State`` or a record it holds) in parts: ``{``, each field's name
    and value (``_value_parts``; a snapshot's packed field by ``_packed_parts``) joined by commas, and ``}``: what the
    record's fast encoder writes (``_fast_record``: its fields' encodings in field order, each the expression it inlines;
    a packed record's reference encoder, ``_lazy_record_codec``, writes the same)."""
    fields = _fields(cls, rules, packed)
    if not fields:
        yield b"{}"
        return
    for i, (name, key, spec, lazy) in enumerate(fields):
        yield (b"," if i else b"{") + key
        if lazy:
            yield from _packed_parts(obj, name, spec)
        else:
            yield from _value_parts(spec, getattr(obj, name))
    yield b"}"


class _Spec(typing.NamedTuple):
    """How ``_value_parts`` writes a value of one declared type (``_spec``)."""

    plain: Enc  # its fast encoders, plain and ranged: the expressions a record holding it inlines
    ranged: Enc
    ranged_first: bool  # ``_write``'s: a state's field ranged at once (its stakes are past 64 bits), any other plain first
    kind: str  # "record" (written by its fields), "dict" (typed), "list" (or a tuple of any length), "optional", "any", ""
    record: type | None  # the record, for "record"
    items: _Spec | None  # a dict's values', a list's items', an optional's value's
    keys: tuple[Enc, Enc] | None  # a typed dict's keys' fast encoders, plain and ranged
    large: Callable[[Any], bool] | None  # whether a value is written in parts (``_large``); None: never
    rules: int | None  # the encoding's (``_fields`` of a record)
    packed: bool


@cache
def _spec(hint: Any, rules: int | None, packed: bool, top: bool = False) -> _Spec:
    """The ``_Spec`` of values declared ``hint``; ``top``: a field of ``State`` (its records written as fragments of their
    own texts, ``_piece``, as the state's own encoder writes them, and ranged at once)."""
    encoders = []
    for ranged in (False, True):
        names: dict[str, Any] = {}
        encoders.append(_generated(f"return {_inline(hint, 'v', rules, packed, ranged, names, 0, top)}", names))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    kind, record, items, keys = "", None, None, None
    if hint is Any or hint is object:
        kind = "any"
    elif _written_by_fields(hint):
        kind, record = "record", hint
    elif origin in (dict, Mapping) and len(args) == 2:
        kind, items, keys = "dict", _spec(args[1], rules, packed, top), (_fast(args[0], rules, packed), _fast(args[0], rules, packed, True))
    elif origin is list or (origin is tuple and args[1:] == (Ellipsis,)):
        kind, items = "list", _spec(args[0], rules, packed, top)
    elif origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        kind, items = "optional", _spec(args[0] if args[1] is type(None) else args[1], rules, packed, top)
    spec = _Spec(encoders[0], encoders[1], top, kind, record, items, keys, None, rules, packed)
    deep = kind in ("dict", "list") and (_holds_any(args[-1 if kind == "dict" else 0]) or typing.cast(_Spec, items).kind in ("record", "optional"))
    return spec._replace(large=_large(spec, origin is not tuple or top, deep))


def _holds_any(hint: Any) -> bool:
    """Whether values declared ``hint`` can hold an ``Any`` value (of a shape no declared type bounds)."""
    return hint is Any or hint is object or any(_holds_any(a) for a in typing.get_args(hint))


def _written_by_fields(hint: Any) -> bool:
    """A record (a dataclass) whose encoding is its fields' (``_fast_record``; a packed one's ``_lazy_record_codec``), not
    one the reference writes otherwise (a weight tree: its slots)."""
    return (
        isinstance(hint, type) and dataclasses.is_dataclass(hint) and hint is not State and hint is not WeightTree and not issubclass(hint, RowStore)
    )


def _large(spec: _Spec, grows: bool, deep: bool) -> Callable[[Any], bool] | None:
    """The test of whether a value of ``spec`` is written in parts (``_value_parts``), or None when none ever is: a list or
    typed dict of more than ``STREAM_ITEMS`` items (a record's tuple, made whole with it: only by its items), or, when its
    items are records or hold ``Any`` values (``deep``), holding a large one (typed containers of scalars inside it, a
    task's reports by validator, are bounded by their record: asking each of a million tasks' would cost a fifth of
    their encoding); a record with a large field (a snapshot's packed field held as the string it came in, not read since:
    of more than ``STREAM_CHARS`` characters, read from the record's ``__dict__``, so the test decodes nothing); an
    ``Any`` value by ``_any_large``. A record with no such field (a closed task's stub) is never large, and not asked (a
    million stubs)."""
    if spec.kind == "any":
        return _any_large
    inner = spec.items.large if spec.items is not None and (deep or spec.kind == "optional") else None
    if spec.kind == "optional":
        return None if inner is None else (lambda v: v is not None and inner(v))
    if spec.kind in ("dict", "list"):
        values: Callable[[Any], Any] = (lambda v: v.values()) if spec.kind == "dict" else (lambda v: v)
        if inner is None:
            return (lambda v: len(v) > STREAM_ITEMS) if grows else None
        if not grows:
            return lambda v: any(map(inner, values(v)))
        return lambda v: len(v) > STREAM_ITEMS or any(map(inner, values(v)))
    if spec.kind != "record":
        return None
    fields = _fields(typing.cast(type, spec.record), spec.rules, spec.packed)
    tests = [(name, f.large) for name, _, f, packed in fields if f.large is not None and not packed]
    lazy = [(name, f.large) for name, _, f, packed in fields if packed]
    if not tests and not lazy:
        return None

    def large(v: Any) -> bool:
        if any(test(getattr(v, name)) for name, test in tests):
            return True
        held = v.__dict__ if lazy else {}
        return any((test is not None and test(held[n])) if n in held else len(held[PACKED_ATTR][n][0]) > STREAM_CHARS for n, test in lazy)

    return large


@cache
def _fields(cls: type, rules: int | None, packed: bool) -> tuple[tuple[str, bytes, _Spec, bool], ...]:
    """For each field of the record ``cls`` an encoding under ``rules`` holds: its name, ``"<name>":`` as the record's
    text writes it, the ``_Spec`` of its declared type, and whether it is a snapshot's packed field (``PACKED_FIELDS``)."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (n, _dumps(n) + b":", _spec(hints[n], rules, packed, cls is State), packed and (cls.__name__, n) in PACKED_FIELDS)
        for n in _field_names(cls, rules)
    )


def _value_parts(spec: _Spec, value: Any) -> typing.Iterator[bytes | memoryview]:
    """The text of ``value`` (declared as ``spec`` says) in parts: one part (``_part``), unless it is large (``spec.large``):
    a record is written by its fields (``_record_parts``), an optional by its value, an ``Any`` value by ``_any_parts``, a
    list or typed dict as ``[``, each run of at most ``STREAM_ITEMS`` items that are not large (a run's text without its
    brackets) and each large item's parts (a dict's as ``[<key>,`` its parts ``]``), joined by commas, and ``]``. A dict's
    or list's encoding is its items' in order (``_inline``), and what ``json.dumps`` writes for a list is its items' texts
    joined so, each the same text as for the item alone; escaping (``_escaped``) is per character."""
    if spec.large is None or not spec.large(value):
        yield _part(spec.plain, spec.ranged, value, spec.ranged_first)
    elif spec.kind == "record":
        yield from _record_parts(typing.cast(type, spec.record), value, spec.rules, spec.packed)
    elif spec.kind == "optional":
        yield from _value_parts(typing.cast(_Spec, spec.items), value)
    elif spec.kind == "any":
        yield from _any_parts(value)
    else:
        yield from _container_parts(spec, value)


def _container_parts(spec: _Spec, value: Any) -> typing.Iterator[bytes | memoryview]:
    """A large list or typed dict's text in parts (``_value_parts``)."""
    many: Callable[[Any], Any] = dict if spec.kind == "dict" else list
    items = iter(value.items() if spec.kind == "dict" else value)
    inner = typing.cast(_Spec, spec.items)
    yield b"["
    if inner.large is None:  # (no item can be large: runs of ``STREAM_ITEMS`` taken at C speed)
        for n in range(0, len(value), STREAM_ITEMS):
            yield from _run(spec, many(itertools.islice(items, STREAM_ITEMS)), n > 0)
        yield b"]"
        return
    run: list[Any] = []
    written = False
    for item in items:
        x = item[1] if spec.kind == "dict" else item
        if not inner.large(x):
            run.append(item)
            if len(run) == STREAM_ITEMS:
                yield from _run(spec, many(run), written)
                run, written = [], True
            continue
        if run:
            yield from _run(spec, many(run), written)
            run, written = [], True
        if spec.keys is not None:  # a dict's pair: [<key>,<value>]
            yield (b",[" if written else b"[") + bytes(_part(*spec.keys, item[0])) + b","
            yield from _value_parts(inner, x)
            yield b"]"
        else:
            if written:
                yield b","
            yield from _value_parts(inner, x)
        written = True
    if run:
        yield from _run(spec, many(run), written)
    yield b"]"


def _run(spec: _Spec, items: Any, after: bool) -> typing.Iterator[bytes | memoryview]:
    """A run of a large container's items (a dict of some of its pairs, a list of some of its items), by its declared
    type's encoders (``_run_text``)."""
    return _run_text(spec.plain, spec.ranged, items, spec.ranged_first, after)


def _run_text(plain: Enc, ranged: Enc, items: Any, ranged_first: bool, after: bool) -> typing.Iterator[bytes | memoryview]:
    """Some items of a large container (a list or dict of them) written by ``plain`` / ``ranged`` (``_part``): their text
    without its brackets or braces, after a comma when it follows other items (``after``)."""
    if after:
        yield b","
    yield memoryview(_part(plain, ranged, items, ranged_first))[1:-1]


def _any_large(v: Any) -> bool:
    """An ``Any`` value written in parts (``_any_parts``): a list, an int column or a dict of more than ``STREAM_ITEMS``
    items, or one holding such a value (a stream's task ids, one per task of the epoch, in an epoch record's ``streams``).
    (Asked of each statement item's detail: scalars are passed over by their type alone.)"""
    if type(v) in _SCALARS:
        return False
    if isinstance(v, IntColumn):
        return len(v) > STREAM_ITEMS
    if isinstance(v, (dict, Mapping)):
        values: Any = v.values()
    elif isinstance(v, (list, tuple)):
        values = v
    else:
        return False
    if len(v) > STREAM_ITEMS:
        return True
    for x in values:
        if type(x) not in _SCALARS and _any_large(x):
            return True
    return False


_SCALARS = frozenset({int, str, bool, type(None)})


def _any_parts(v: Any) -> typing.Iterator[bytes | memoryview]:
    """A large ``Any`` value's text in parts, as ``_any_enc`` encodes it: a list or an int column (the list it stands
    for) as a list's runs and large items (``_container_parts``' way); a dict with string keys (an object) as ``{``, each
    run of at most ``STREAM_ITEMS`` pairs that are not large (the object's text without its braces) and each large value
    as ``"<key>":`` and its parts, joined by commas, and ``}`` (``_plain_keys``). Anything else (a tuple, a set, a dict
    tagged as pairs) in one part."""
    plain, ranged = _fast(Any), _fast(Any, None, False, True)
    if isinstance(v, IntColumn) or isinstance(v, list):
        yield b"["
        for n in range(0, len(v), STREAM_ITEMS):
            chunk = v[n : n + STREAM_ITEMS]
            if isinstance(v, IntColumn) or not any(map(_any_large, chunk)):
                yield from _run_text(plain, ranged, chunk, False, n > 0)
                continue
            if n:
                yield b","
            for i, x in enumerate(chunk):
                if i:
                    yield b","
                yield from _any_parts(x) if _any_large(x) else (_part(plain, ranged, x, False),)
        yield b"]"
        return
    if not isinstance(v, (dict, Mapping)) or not _plain_keys(v):
        yield _part(plain, ranged, v, False)
        return
    yield b"{"
    run: dict[Any, Any] = {}
    written = False
    for k, x in v.items():
        if not _any_large(x):
            run[k] = x
            if len(run) == STREAM_ITEMS:
                yield from _run_text(plain, ranged, run, False, written)
                run, written = {}, True
            continue
        if run:
            yield from _run_text(plain, ranged, run, False, written)
            run, written = {}, True
        yield (b"," if written else b"") + encode_basestring_ascii(k).encode("ascii") + b":"
        written = True
        yield from _any_parts(x)
    if run:
        yield from _run_text(plain, ranged, run, False, written)
    yield b"}"


def _plain_keys(d: Any) -> bool:
    """Whether ``_any_enc`` writes the dict ``d`` as an object of its keys, each a ``str`` and none a tag (as the same
    ``str``: an enum key, which it writes as ``str(key)``, is left to one part), not as tagged pairs."""
    return all(type(k) is str for k in d) and not any(t in d for t in _TAGS)


def _packed_parts(obj: Any, name: str, spec: _Spec) -> typing.Iterator[bytes | memoryview]:
    """A snapshot's packed field (``PACKED_FIELDS``) of a record written in parts: the JSON string of its encoding, as
    ``_lazy_record_codec`` writes it, in parts. One not read since the snapshot it came in was opened is the string it came
    in, ``STREAM_CHARS`` characters at a time; else its encoding's text, in the parts ``_value_parts`` writes (ASCII, as
    ``_pack`` writes it). Each part is escaped as ``json.dumps`` escapes a string (``encode_basestring_ascii``: character
    by character, so the escaped parts join to the escaped whole) between the string's two quotes."""
    held, pending = obj.__dict__, obj.__dict__.get(PACKED_ATTR, {})
    yield b'"'
    if name in pending and name not in held:
        raw = pending[name][0]
        for i in range(0, len(raw), STREAM_CHARS):
            yield _quoted(raw[i : i + STREAM_CHARS])
    else:
        for part in _value_parts(spec, getattr(obj, name)):
            yield _quoted(str(part, "ascii"))
    yield b'"'


def _quoted(text: str) -> bytes:
    """``text`` escaped as ``json.dumps`` (``ensure_ascii``) escapes a string's characters, without the quotes."""
    return encode_basestring_ascii(text)[1:-1].encode("ascii")


def _part(plain: Enc, ranged: Enc, value: Any, ranged_first: bool = True) -> bytes:
    """The text of ``value`` by its encoders as ``_encode`` writes the whole state (``_write``: ranged at once, or plain
    first as a record's piece is, ``_piece``; ``json.dumps`` of the plain walk if orjson refuses both): orjson's own bytes,
    dropped once written."""
    return _write(lambda r: ranged(value) if r else plain(value), ranged_first, kept=False)


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
        state: State = _codec(State, None, True)[1](body["state"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:  # Overflow: a typed column's range
        raise SnapshotUnreadable(f"the snapshot does not decode to a state ({type(exc).__name__}: {exc})", code="snapshot_unreadable") from None
    state.jailed = {i for i, n in state.nodes.items() if n.jailed_until_tick is not None}
    _share_stub_addresses(state)
    state.rebuild_entry_indexes()
    return state


def _share_stub_addresses(state: State) -> None:
    """The decoded closed tasks' stubs hold one ``str`` per address (a node's: the node table's ``id``), not each its own
    copy from the text (``ClosedTask.sharing``): ~1.1 kB less a stub, the same text (design.md §9, the stub's memory)."""
    stubs = state.closed_tasks
    if stubs:
        seen = {n.id: n.id for n in state.nodes.values()}
        for tid, stub in stubs.items():  # (a value replaced in place: the order of ``closed_tasks`` is kept)
            stubs[tid] = stub.sharing(seen)


def encode_record(obj: Any) -> bytes:
    """The canonical bytes of one record (a ``Task``, an ``EpochRecord``, ...), as a snapshot holds it."""
    return _record_bytes(obj, None)


def _record_bytes(obj: Any, rules: int | None) -> bytes:
    """The canonical bytes of one record with the fields rule version ``rules`` knew (None: every field), written by
    the fast encoder (``_fast``): the bytes of ``_record_reference``."""
    hint: Any = type(obj)
    try:
        return _write(lambda ranged: _fast(hint, rules, False, ranged)(obj), False)
    except Exception:  # what the fast encoder could not walk: the reference walks it (and raises as it does)
        return _record_reference(obj, rules)


def _record_reference(obj: Any, rules: int | None) -> bytes:
    """``_record_bytes`` by the generic walk (``_codec``) and ``json.dumps``: the definition of the bytes."""
    hint: Any = type(obj)
    return _dumps(_codec(hint, rules)[0](obj))


def pruned_record_hash(cls: type, rules: int, data: bytes, record: Any = None) -> str:
    """The hash ``pruned`` folds for a record of type ``cls`` that left the state under rule version ``rules`` (core/prune.py),
    ``data`` its canonical bytes (``encode_record``, what the database keeps; ``record``: the record itself, if at hand).

    The fold takes the record with the fields rule version ``pruned_fold_rules`` knew (``HASHED_SINCE``), as the state hash
    does, so a field added for a later rule does not move the running hash (and so the anchored state hash) of an older log
    that pruned such a record: a parameter version's own ``rule_version``; any other record's rule at retirement, but never
    fewer fields than rule ``PRUNED_FOLD_FLOOR`` knew. When that is every field (``newest_field_rule``), the hash is the
    bytes' own, with no second encoding. ``cor verify`` folds the database's rows through here likewise."""
    if cls.__name__ == "Params":
        record = record if record is not None else decode_record(cls, data)
        known = pruned_fold_rules(cls, record.rule_version)
    else:
        known = pruned_fold_rules(cls, rules)
    if known >= newest_field_rule(cls):
        return content_hash(data)
    record = record if record is not None else decode_record(cls, data)
    return content_hash(_record_bytes(record, known))


def pruned_fold_rules(cls: type, rules: int) -> int:
    """The rule version whose fields a pruned record of type ``cls`` is folded with (``pruned_record_hash``): for a parameter
    version, ``rules`` is its own ``rule_version`` (from ``STATE_ANCHOR_RULES``, as the state hash); for a task retired
    under rule 10 or 11, that rule (``PRUNED_TASK_COMPAT``); for any other record, the rule version in force when it
    retired, raised to ``PRUNED_FOLD_FLOOR``."""
    if cls.__name__ == "Params":
        return max(rules, STATE_ANCHOR_RULES)
    if cls.__name__ == "Task" and rules < PRUNED_TASK_COMPAT:
        return rules
    return max(rules, PRUNED_FOLD_FLOOR)


def decode_record(cls: type[R], data: bytes | str) -> R:
    """The record ``encode_record`` wrote (``snapshot_unreadable`` for anything else)."""
    try:
        hint: Any = cls
        record: R = _codec(hint)[1](json.loads(data))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise SnapshotUnreadable(f"not a {cls.__name__} record ({type(exc).__name__}: {exc})", code="snapshot_unreadable") from None
    return record


def state_hash(state: State) -> str:
    """sha256 (0x-hex) of the state's canonical encoding under the rule version in force: the fields that
    version knew (``HASHED_SINCE``), nothing packed (under the latest rules: the snapshot's fields, unpacked)."""
    rules = state.params.rule_version if state.params_history is not None else None
    if rules is not None and rules < STATE_ANCHOR_RULES:
        rules = STATE_ANCHOR_RULES  # no state hash is anchored before; one encoding for every earlier version
    return write_state(state, _Hasher, rules=rules, packed=False).digest()  # (in parts: its whole text never held)


@cache
def newest_field_rule(cls: type) -> int:
    """The rule version that added the newest field of ``cls`` or of a record it holds (``HASHED_SINCE``; 0: none since
    state hashes were anchored): an encoding of ``cls`` under it or a later version holds every field."""
    reachable = hashed_fields(None, cls)
    return max((HASHED_SINCE.get((name, f), 0) for name, fields in reachable.items() for f in fields), default=0)


def hashed_fields(rules: int | None, root: Any = State) -> dict[str, list[str]]:
    """Every record reachable from ``root`` (``State``) with the fields its hash encodes under ``rules`` (None: all); a
    record none of whose fields is hashed under ``rules`` (``ClosedTask`` before ``RULES_TASK_STUB``) is left out."""
    out: dict[str, list[str]] = {}

    def walk(hint: Any) -> None:
        if isinstance(hint, type) and issubclass(hint, RowStore):  # held as columns, encoded as the list of its rows
            hint = list[hint.ROW]
        if typing.get_origin(hint) is not None:
            for a in typing.get_args(hint):
                walk(a)
        elif isinstance(hint, type) and dataclasses.is_dataclass(hint) and hint.__name__ not in out:
            hints = typing.get_type_hints(hint)
            out[hint.__name__] = _field_names(hint, rules)
            for f in dataclasses.fields(hint):
                walk(hints[f.name])

    walk(root)
    return {name: fields for name, fields in out.items() if fields or rules is None}  # (a record new with a later rule: none)


# --- codecs by declared type -------------------------------------------------------------------


@cache
def _codec(hint: Any, rules: int | None = None, packed: bool = False) -> tuple[Enc, Dec]:
    """(encode, decode) for values declared as ``hint``; ``rules``: encode only the fields that rule version knew
    (``HASHED_SINCE``; for the state hash; None: every field, what snapshots hold and decode); ``packed``: the
    ``PACKED_FIELDS`` as strings (a snapshot's encoding)."""
    if hint is Any or hint is object:
        return _any_enc, _any_dec
    if hint is WeightTree:
        return _tree_enc, _tree_dec
    if isinstance(hint, type) and issubclass(hint, RowStore):
        return _store_codec(hint, rules, packed)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record_codec(hint, rules, packed)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda v: v.value), hint
    if hint in (int, str, bool):
        return _scalar(hint)
    if hint is type(None):
        return _scalar(type(None))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _union_codec(args, rules, packed)
    if origin is dict or origin is Mapping:
        return _dict_codec(args[0], args[1], origin is Mapping, rules, packed)
    if origin is list:
        enc, dec = _codec(args[0], rules, packed)
        return (lambda v: [enc(x) for x in v]), (lambda v: JList(dec(x) for x in _list(v)))
    if origin is set or origin is frozenset:
        enc, dec = _codec(args[0], rules, packed)
        return (lambda v: sorted((enc(x) for x in v), key=_order)), (lambda v: JSet(dec(x) for x in _list(v)))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            enc, dec = _codec(args[0], rules, packed)
            return (lambda v: [enc(x) for x in v]), (lambda v: tuple(dec(x) for x in _list(v)))
        parts = [_codec(a, rules, packed) for a in args]
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


def _union_codec(args: tuple[Any, ...], rules: int | None, packed: bool) -> tuple[Enc, Dec]:
    others = [a for a in args if a is not type(None)]
    if len(others) != 1 or len(args) != 2:
        raise TypeError(f"no snapshot encoding for the union {args!r} (only X | None)")
    enc, dec = _codec(others[0], rules, packed)
    return (lambda v: None if v is None else enc(v)), (lambda v: None if v is None else dec(v))


def _dict_codec(k: Any, v: Any, frozen: bool, rules: int | None, packed: bool) -> tuple[Enc, Dec]:
    kenc, kdec = _codec(k, rules, packed)
    venc, vdec = _codec(v, rules, packed)

    def enc(d: Any) -> Any:
        return [[kenc(a), venc(b)] for a, b in d.items()]

    def dec(pairs: Any) -> Any:
        out = {kdec(a): vdec(b) for a, b in _list(pairs)}
        return types.MappingProxyType(out) if frozen else JDict(out)

    return enc, dec


def _field_names(cls: type, rules: int | None) -> list[str]:
    """The fields of ``cls`` an encoding under ``rules`` holds (derived state fields never)."""
    names = [f.name for f in dataclasses.fields(cls) if not (cls is State and f.name in DERIVED_STATE_FIELDS)]
    return [n for n in names if rules is None or HASHED_SINCE.get((cls.__name__, n), 0) <= rules]


def _record_codec(cls: type, rules: int | None, packed: bool) -> tuple[Enc, Dec]:
    hints = typing.get_type_hints(cls)
    names = _field_names(cls, rules)
    fields = [(n, *_codec(hints[n], rules, packed)) for n in names]
    lazy = {n for n in names if packed and (cls.__name__, n) in PACKED_FIELDS}
    if lazy:
        return _lazy_record_codec(cls, names, fields, lazy)

    def enc(obj: Any) -> Any:
        return {n: e(getattr(obj, n)) for n, e, _ in fields}

    if _plain_record(cls, names):  # what __init__ would do, without a journaled write per field

        def dec(v: Any) -> Any:
            _check_fields(cls, names, v)
            obj: Any = object.__new__(cls)
            obj.__dict__.update({n: adopt(d(v[n])) for n, _, d in fields})
            return obj

    else:

        def dec(v: Any) -> Any:
            _check_fields(cls, names, v)
            return cls(**{n: d(v[n]) for n, _, d in fields})

    return enc, dec


def _plain_record(cls: type, names: list[str]) -> bool:
    """A journaled record whose ``__init__`` only stores its fields (adopting plain containers): every field
    in ``names``, each set by ``__init__``, no ``__post_init__``."""
    fields = dataclasses.fields(cls)
    return issubclass(cls, Journaled) and not hasattr(cls, "__post_init__") and [f.name for f in fields] == names and all(f.init for f in fields)


def _check_fields(cls: type, names: list[str], v: Any) -> None:
    """A record's encoding must hold exactly its fields: the refusal names the ones missing and the ones unknown (a
    snapshot written by an engine whose records had other fields, e.g. before a rule version added one)."""
    if not isinstance(v, dict):
        raise TypeError(f"{cls.__name__} needs an object of its fields, got {type(v).__name__}")
    if set(v) != set(names):
        missing, unknown = [n for n in names if n not in v], sorted(set(v) - set(names))
        said = [f"lacks the fields {missing}"] * bool(missing) + [f"has unknown fields {unknown}"] * bool(unknown)
        raise TypeError(f"{cls.__name__} {' and '.join(said)}")


def _lazy_record_codec(cls: type, names: list[str], fields: list[tuple[str, Enc, Dec]], lazy: set[str]) -> tuple[Enc, Dec]:
    """A record with packed fields: each is one JSON string of its encoding, decoded at the field's first read
    (``Journaled.__getattr__``); one not read since it was decoded is written back as the string it came in."""

    def enc(obj: Any) -> Any:
        held, pending = obj.__dict__, obj.__dict__.get(PACKED_ATTR, {})

        def one(n: str, e: Enc) -> Any:
            if n not in lazy:
                return e(getattr(obj, n))
            return pending[n][0] if n in pending and n not in held else _pack(e(getattr(obj, n)))

        return {n: one(n, e) for n, e, _ in fields}

    def dec(v: Any) -> Any:
        _check_fields(cls, names, v)
        for n in lazy:
            if type(v[n]) is not str:
                raise TypeError(f"{cls.__name__}.{n} is packed: expected a string, got {type(v[n]).__name__}")
        obj = cls(**{n: None if n in lazy else d(v[n]) for n, _, d in fields})
        for n in lazy:
            object.__delattr__(obj, n)
        object.__setattr__(obj, PACKED_ATTR, {n: (v[n], _unpacker(cls, n, d)) for n, _, d in fields if n in lazy})
        return obj

    return enc, dec


def _pack(encoded: Any) -> str:
    return json.dumps(encoded, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _unpacker(cls: type, name: str, dec: Dec) -> Callable[[str], Any]:
    def unpack(raw: str) -> Any:
        try:
            return dec(json.loads(raw))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise SnapshotUnreadable(f"the snapshot's {cls.__name__}.{name} does not decode ({type(exc).__name__}: {exc})") from None

    return unpack


def _store_codec(cls: type[RowStore], rules: int | None, packed: bool) -> tuple[Enc, Dec]:
    """A column store (core/epoch_columns.py) is encoded exactly as the list of its rows was: a list of records,
    each an object of the fields ``rules`` knew in field order; it decodes by appending the decoded rows."""
    row_enc, row_dec = _codec(list[cls.ROW], rules, packed)  # type: ignore[name-defined]
    names = _field_names(cls.ROW, rules)
    every = [f.name for f in dataclasses.fields(cls.ROW)]

    def enc(store: RowStore) -> Any:
        if names != every:  # a rule version that knew fewer of the row's fields: through the records
            return row_enc(list(store))
        return [dict(zip(every, values, strict=True)) for values in zip(*store.plain_columns(), strict=True)]

    def dec(v: Any) -> Any:
        store = cls()
        store.extend(row_dec(v))
        return store

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
    if isinstance(v, IntColumn):  # the list it stands for (a snapshot decodes a list)
        return v.tolist()
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


# --- the fast encoder: the reference's bytes, by an encoder generated once per declared type ---------


def _dumps(value: Any) -> bytes:
    """The canonical JSON bytes of an encoded value: the definition (``json.dumps``, ASCII, no whitespace)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


_ORJSON_REFUSES = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
"""What orjson would write and ``json.dumps`` refuses (a dataclass, a datetime) goes to orjson's ``default``, which it
lacks: orjson refuses it, and ``json.dumps`` then raises on it as the reference does."""

_LOW, _HIGH = -(2**63), 2**64 - 1
"""The integers orjson writes (as ``json.dumps`` does: their decimal digits); it refuses any other."""

_NOT_ASCII = re.compile("[\x7f-\U0010ffff]")
"""What ``json.dumps`` (``ensure_ascii``) escapes that orjson writes as it is: DEL and every character past ASCII."""


def _write(build: Callable[[bool], Any], ranged: bool, kept: bool = True) -> bytes:
    """``_dumps(build(False))``, by orjson where it writes those very bytes.

    ``build(r)`` is the value the fast encoders make (``_fast`` with ``ranged=r``): dicts with ``str`` keys, lists and
    tuples (both written as arrays), strings, integers, bools and None; ranged, each integer orjson would refuse (past
    64 bits: amounts of ~18 COR and more in base units) is already its decimal digits (an ``orjson.Fragment``). orjson
    writes these as ``json.dumps`` does (no whitespace, keys in insertion order, the same escapes of quotes, backslashes
    and control characters) except DEL and characters past ASCII, which it writes as they are: those occur only inside
    strings, and are escaped after it as ``json.dumps`` escapes them (``\\uXXXX`` in lower-case hex, a surrogate pair
    past U+FFFF). What orjson refuses besides (a lone surrogate, a value of another type) is written by ``json.dumps``.
    ``ranged``: build the ranged value at once (a state: its stakes and balances are past 64 bits); else the plain one
    first (a task's amounts mostly fit), and the ranged one when orjson refuses it. A float, which no declared type of
    the state holds (``_any_enc`` refuses one), orjson would write in its own notation (``1e16``, NaN as ``null``).

    The bytes returned are a copy: a ``bytes`` orjson returns holds on to the buffer it wrote into (measured: 200 000
    synthetic tasks' 735-byte texts kept 1.5 GB, their copies 150 MB, as ``json.dumps``' do), and the prune keeps every
    retired record's bytes until the database takes them (``state.retired``). ``kept`` False: orjson's own bytes, not
    copied, for a caller that drops them at once (``write_state``'s parts, hashed and dropped; the copy of a whole state's
    text was one more pass over it and as many fresh pages: 0.31-0.33 s of a 409 MB text). Either way the value built is let
    go before the copy: a state's records are fragments of their own texts (``_piece``), together as large as its text,
    which with 1 M live tasks is ~8 GB (bench/README.md, "What the row does not time: live Task records")."""
    data = None
    if not ranged:
        value = build(False)  # (outside the suppress: orjson's refusal is a TypeError, which would hide the build's own)
        with contextlib.suppress(orjson.JSONEncodeError):
            data = orjson.dumps(value, option=_ORJSON_REFUSES)
    if data is None:
        value = build(True)
        try:
            data = orjson.dumps(value, option=_ORJSON_REFUSES)
        except orjson.JSONEncodeError:
            return _dumps(build(False))
    del value  # (a state's fragments: as large as its text, freed before the copy)
    if not data.isascii() or b"\x7f" in data:
        return _escaped(data)
    return bytes(memoryview(data)) if kept else data  # a copy of its length: orjson's own bytes keep its whole buffer (see above)


_PIECE = 1 << 16


def _escaped(data: bytes) -> bytes:
    """orjson's UTF-8 text with DEL and each character past ASCII escaped as ``json.dumps`` escapes them, a piece of
    ~64 kB at a time: a piece that is all ASCII without DEL (tested in C) is kept as it is, so a state's few such
    characters (a formula's "×") do not cost a pass of the regular expression over all of its text. A piece ends
    before a byte that is ASCII: it never splits a character."""
    out, start, n = [], 0, len(data)
    while start < n:
        end = min(start + _PIECE, n)
        while end < n and data[end] >= 0x80:
            end += 1
        piece = data[start:end]
        out.append(piece if piece.isascii() and b"\x7f" not in piece else _NOT_ASCII.sub(_escape, piece.decode()).encode("ascii"))
        start = end
    return b"".join(out)


def _escape(m: re.Match[str]) -> str:
    n = ord(m.group())
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 | (n >> 10):04x}\\u{0xDC00 | (n & 0x3FF):04x}"


@cache
def _fast(hint: Any, rules: int | None = None, packed: bool = False, ranged: bool = False) -> Enc:
    """The encoder of values declared as ``hint`` (``rules``, ``packed`` as ``_codec``) whose result ``json.dumps``
    writes as the very bytes of ``_codec(hint, rules, packed)[0]``'s: the same walk, in the same order, with the same
    values at the leaves, but generated once per declared type: a record is one function reading its fields in order
    with their encodings inlined, a typed dict the list of its (key, value) pairs (a tuple is written as a list is),
    and a container of values written as they are is copied by one ``list`` call instead of an encoder called per
    value. What it does not walk faster (``Any`` values, weight trees, column stores, a snapshot's packed records) it
    hands to the reference encoder. ``ranged``: each integer orjson would refuse is an ``orjson.Fragment`` of its digits
    (for orjson only: ``_write``). A value it cannot encode makes it raise; the caller then takes the reference, which
    raises as it always did."""
    if hint is Any or hint is object or hint is WeightTree or (isinstance(hint, type) and issubclass(hint, RowStore)):
        return _by_reference(typing.cast(Any, hint), rules, packed, ranged)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if packed and any((hint.__name__, n) in PACKED_FIELDS for n in _field_names(hint, rules)):
            return _by_reference(hint, rules, packed, ranged)
        return _fast_record(hint, rules, packed, ranged)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    names: dict[str, Any] = {}
    if origin is None and not (ranged and hint is int):  # a scalar or an enum (anything else raises, as the reference does)
        return _codec(hint, rules, packed)[0]
    if origin in (typing.Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        if len(others) != 1 or len(args) != 2:
            raise TypeError(f"no snapshot encoding for the union {args!r} (only X | None)")
        return _generated(f"return None if v is None else {_inline(others[0], 'v', rules, packed, ranged, names)}", names)
    if (origin is set or origin is frozenset) and args != (str,):
        names.update(_order=_order, _ranged=_ranged if ranged else None)
        members = f"sorted([{_inline(args[0], 'x', rules, packed, False, names)} for x in v], key=_order)"
        return _generated(f"return {f'_ranged({members})' if ranged else members}", names)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):  # a fixed length: unpacked (raises as zip(strict))
        parts = [f"a{i}" for i in range(len(args))]
        body = ", ".join(_inline(a, p, rules, packed, ranged, names) for a, p in zip(args, parts, strict=True))
        return _generated(f"{', '.join(parts)}{',' if len(parts) == 1 else ''} = v\n    return [{body}]", names)
    return _generated(f"return {_inline(hint, 'v', rules, packed, ranged, names)}", names)


def _by_reference(hint: Any, rules: int | None, packed: bool, ranged: bool) -> Enc:
    """The reference encoder of ``hint``; ranged, its result with each integer orjson would refuse as its digits."""
    encode = _codec(hint, rules, packed)[0]
    if not ranged:
        return encode
    return lambda v: _ranged(encode(v))


def _ranged(value: Any) -> Any:
    """``value`` (JSON made by an encoder) with each integer past orjson's range as an ``orjson.Fragment`` of its
    digits, and each string orjson would write otherwise than ``json.dumps`` (DEL, past ASCII) as a fragment of what
    ``json.dumps`` writes for it: an epoch's earning items cite formulas with "×" and "−", and escaping after orjson
    would take a pass over all of the record's text."""
    t = type(value)
    if t is int:
        return value if _LOW <= value <= _HIGH else orjson.Fragment(int.__repr__(value))
    if t is str:
        return value if value.isascii() and "\x7f" not in value else orjson.Fragment(encode_basestring_ascii(value))
    if t is list or t is tuple:
        return [_ranged(x) for x in value]
    if t is dict:
        return {k: _ranged(x) for k, x in value.items()}
    return value


_AS_IS = (int, str, bool, type(None))
"""Declared types whose value the reference writes as it is (``_scalar``'s encoder)."""


def _as_is(hint: Any, ranged: bool) -> bool:
    """Whether a value declared ``hint`` is its own fast encoding: a scalar, or a scalar or None (ranged: not an int)."""
    if hint in _AS_IS:
        return not ranged or hint is not int
    args = typing.get_args(hint)
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 2 and all(_as_is(a, ranged) for a in args)


def _int(hint: Any) -> str | None:
    """``"int"`` for a declared ``int``, ``"int | None"`` for an optional one, else None."""
    if hint is int:
        return "int"
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 2 and int in args and type(None) in args:
        return "int | None"
    return None


def _enum(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Enum) and not dataclasses.is_dataclass(hint)


def _inline(hint: Any, var: str, rules: int | None, packed: bool, ranged: bool, names: dict[str, Any], depth: int = 0, pieces: bool = False) -> str:
    """A Python expression of ``var`` (a value declared ``hint``) that is its fast encoding; ``names``: the encoders and
    helpers it calls, by the names it calls them; ``depth``: the comprehensions it is inside (each binds its own names);
    ``pieces``: each record in it written on its own (``_piece``). (A comprehension costs less than ``map`` and ``zip``
    over the small dicts of a task.)"""
    if _as_is(hint, ranged):
        return var
    if ranged and _int(hint):  # (``var`` is a field read or a comprehension's name: read again, the same value)
        names["_big"] = _big
        none = f"{var} is None or " if _int(hint) == "int | None" else ""
        return f"({var} if {none}{_LOW} <= {var} <= {_HIGH} else _big({var}))"
    if _enum(hint):
        return f"{var}.value"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    k, x = f"k{depth}", f"x{depth}"
    if (origin is dict or origin is Mapping) and len(args) == 2:
        if ranged and _as_is(args[0], True) and args[1] is int:  # (a dict of amounts: its range taken at once)
            names["_int_pairs"] = _int_pairs
            return f"_int_pairs({var})"
        key = _inline(args[0], k, rules, packed, ranged, names, depth + 1, pieces)
        value = _inline(args[1], x, rules, packed, ranged, names, depth + 1, pieces)
        return f"list({var}.items())" if key == k and value == x else f"[({key}, {value}) for {k}, {x} in {var}.items()]"
    if origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        if ranged and args[0] is int:
            names["_ints"] = _ints
            return f"_ints({var})"
        item = _inline(args[0], x, rules, packed, ranged, names, depth + 1, pieces)
        return f"list({var})" if item == x else f"[{item} for {x} in {var}]"
    if (origin is set or origin is frozenset) and args == (str,):
        names["_sorted_strings"] = _sorted_strings
        return f"_sorted_strings({var})"
    if pieces and ranged and _nested(hint):
        return f"{_bind(names, _piece(hint, rules, packed))}({var})"
    return f"{_bind(names, _fast(hint, rules, packed, ranged))}({var})"


def _nested(hint: Any) -> bool:
    """A record holding containers or records (a task, a node, an epoch record), not only scalars (an account)."""
    if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
        return False
    hints = typing.get_type_hints(hint)
    return any(not _as_is(hints[f.name], False) and not _enum(hints[f.name]) for f in dataclasses.fields(hint))


@cache
def _piece(cls: type, rules: int | None, packed: bool) -> Enc:
    """A record of the state holding containers (a task, a node, ...) written on its own by ``_write`` (its plain
    encoding first, ranged only if orjson refuses it) as a fragment of the state's text: what ``json.dumps`` writes for a
    value nested in another is the same text as for the value alone. Most tasks' amounts fit in 64 bits: ranging every
    integer of the state would cost a task twice its encoding (measured: 15.7 -> 30.3 µs a simulated task). A record of
    scalars only (an account) is ranged in line: a few comparisons cost less than an orjson call of its own."""
    plain, ranged = _fast(cls, rules, packed), _fast(cls, rules, packed, True)

    def encode(v: Any) -> Any:
        return orjson.Fragment(_write(lambda r: ranged(v) if r else plain(v), False))

    return encode


def _big(n: int) -> Any:
    """An integer orjson refuses, as the digits ``json.dumps`` writes for it."""
    return orjson.Fragment(int.__repr__(n))


def _int_pairs(d: Any) -> list[Any]:
    """A dict of integers' (key, value) pairs, ranged (``_fast``): copied at once when every value is within orjson's range."""
    if not d or (_LOW <= min(d.values()) and max(d.values()) <= _HIGH):
        return list(d.items())
    return [(k, x if _LOW <= x <= _HIGH else _big(x)) for k, x in d.items()]


def _ints(v: Any) -> list[Any]:
    """A list of integers, ranged (``_fast``): copied at once when every one is within orjson's range."""
    values = list(v)
    if not values or (_LOW <= min(values) and max(values) <= _HIGH):
        return values
    return [x if _LOW <= x <= _HIGH else _big(x) for x in values]


def _bind(names: dict[str, Any], encoder: Enc) -> str:
    """The name the generated code calls ``encoder`` by."""
    for n, f in names.items():
        if f is encoder:
            return n
    name = f"_e{len(names)}"
    names[name] = encoder
    return name


def _fast_record(cls: type, rules: int | None, packed: bool, ranged: bool) -> Enc:
    """A record's fast encoder: ``{"<field>": <its encoding inlined>, ...}`` in field order, generated once."""
    hints = typing.get_type_hints(cls)
    names: dict[str, Any] = {}
    fields = []
    for n in _field_names(cls, rules):
        read = f"getattr(v, {n!r})" if keyword.iskeyword(n) or not n.isidentifier() else f"v.{n}"
        fields.append(f"{n!r}: {_inline(hints[n], read, rules, packed, ranged, names, 0, cls is State)}")
    return _generated("return {" + ", ".join(fields) + "}", names)


def _generated(body: str, names: dict[str, Any]) -> Enc:
    """The function ``def encode(v): <body>`` with ``names`` as its globals (its source kept as its ``__doc__``)."""
    namespace = dict(names)
    source = f"def encode(v):\n    {body}\n"
    exec(source, namespace)
    encode: Enc = namespace["encode"]
    encode.__doc__ = source
    return encode


def _sorted_strings(v: Any) -> list[Any]:
    """``sorted(v, key=_order)`` for a set of strings: ``_order`` of a string is ``encode_basestring_ascii`` of it
    (what ``json.dumps`` writes for a ``str``), without ``json.dumps``' call per member. A member that is not a string
    makes the key raise: then ``_order`` itself."""
    try:
        return sorted(v, key=encode_basestring_ascii)
    except TypeError:
        return sorted(v, key=_order)


__all__ = [
    "DERIVED_STATE_FIELDS",
    "HASHED_SINCE",
    "pruned_record_hash",
    "PACKED_FIELDS",
    "SNAPSHOT_FORMAT",
    "SelectionIndex",
    "SnapshotUnreadable",
    "decode_state",
    "encode_state",
    "hashed_fields",
    "state_hash",
]
