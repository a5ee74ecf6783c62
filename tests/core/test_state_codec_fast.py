"""The fast encoder writes exactly the reference's bytes (core/state_codec.py ``_fast``, ``_write``).

A closed task leaves the live state through ``encode_record`` (the bytes handed to the database, whose hash ``pruned``
folds), and the state hash and snapshots through ``_encode``: both now walk with encoders generated once per declared
type and write with orjson where it writes what ``json.dumps`` writes. The generic walk (``_codec``) with ``json.dumps``
stays as the reference (``_record_reference``, ``_encode_reference``); these tests hold the two to the same bytes:

- every record type reachable from ``State`` drawn from its declared types (big integers around 64 bits, strings with
  DEL, control characters, non-ASCII and lone surrogates, None in every optional field, every enum member, ``Any``
  values with tuples, sets and non-string keys), under every rule version's hashed field set;
- whole states: random simulated networks and the anchored golden logs' states, under every rule version, hashed and
  snapshotted, and a snapshot decoded (its packed fields still strings) and written again;
- the writer alone on any JSON value, plain and ranged (integers past 64 bits as their digits), and across the ends
  of the pieces it escapes; a record decoded from what the fast encoder wrote writes the same bytes.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import replace
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core import state_codec as sc
from cor_incentives.core.apply import replay
from cor_incentives.core.events import Event, content_hash
from cor_incentives.core.int_column import IntColumn
from cor_incentives.core.journal import PACKED_ATTR, Journaled
from cor_incentives.core.params import Params
from cor_incentives.core.records import Bounty, EpochRecord, Node, Session, Task, TaskKind, TaskState, new_earning
from cor_incentives.core.rules import LATEST, STATE_ANCHOR_RULES
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import (
    decode_record,
    decode_state,
    encode_record,
    encode_state,
    pruned_fold_rules,
    pruned_record_hash,
    state_hash,
)
from cor_incentives.sim.runner import World
from cor_incentives.sim.scenarios import SCENARIOS

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RULES: list[int | None] = [None, *range(STATE_ANCHOR_RULES, LATEST + 1)]
EDGE_INTS = [0, -1, 2**53, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**27, -(10**27)]
EDGE_STRINGS = ["", "a", "a!", "a ", 'a"', "a\\", "\x7f", "\x00\x1f\n\t", "é", "\u2028", "\U0001f600", "\ud800", "0x" + "ab" * 32]


def _reachable() -> dict[str, type]:
    """Every record type reachable from ``State`` (by the declared types the codec walks), by name."""
    out: dict[str, type] = {}

    def walk(hint: Any) -> None:
        if isinstance(hint, type) and issubclass(hint, sc.RowStore):
            hint = list[hint.ROW]  # type: ignore[name-defined]
        if typing.get_origin(hint) is not None:
            for a in typing.get_args(hint):
                walk(a)
        elif isinstance(hint, type) and dataclasses.is_dataclass(hint) and hint.__name__ not in out:
            out[hint.__name__] = hint
            hints = typing.get_type_hints(hint)
            for f in dataclasses.fields(hint):
                walk(hints[f.name])

    walk(State)
    return out


RECORDS = _reachable()

# --- values drawn from declared types --------------------------------------------------------------------------

ints = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from(EDGE_INTS))
strings = st.one_of(st.text(st.characters(codec=None, exclude_categories=()), max_size=6), st.sampled_from(EDGE_STRINGS))
any_values = st.recursive(
    st.one_of(st.none(), st.booleans(), ints, strings),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(strings, inner, max_size=3),
        st.dictionaries(ints, inner, max_size=2),  # written as tagged pairs
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(st.one_of(ints, strings), max_size=3),
        st.sampled_from([{"__set__": 1}, {"__tuple__": [1]}]),
    ),
    max_leaves=8,
)


@cache
def values(hint: Any) -> st.SearchStrategy[Any]:
    """Values of the declared type ``hint`` as the core holds them."""
    if hint is Any or hint is object:
        return any_values
    if hint is int:
        return ints
    if hint is str:
        return strings
    if hint is bool:
        return st.booleans()
    if hint is type(None):
        return st.none()
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return records(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(values(a) for a in args))
    if origin is dict or origin is Mapping:
        return st.dictionaries(values(args[0]), values(args[1]), max_size=3)
    if origin is list:
        return st.lists(values(args[0]), max_size=3)
    if origin is set or origin is frozenset:
        return st.sets(values(args[0]), max_size=4)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return st.lists(values(args[0]), max_size=3).map(tuple)
    if origin is tuple:
        return st.tuples(*(values(a) for a in args))
    raise AssertionError(f"no strategy for {hint!r}")


@cache
def records(cls: type) -> st.SearchStrategy[Any]:
    """Instances of the record ``cls`` with every field drawn from its declared type: a journaled record through its
    ``__init__`` (its containers adopted, as the core holds them), a frozen one field by field (``Params`` checks its
    values when made)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: st.deferred(lambda h=hints[f.name]: values(h)) for f in dataclasses.fields(cls)}

    def make(kw: dict[str, Any]) -> Any:
        if issubclass(cls, Journaled):
            return cls(**kw)
        obj = object.__new__(cls)
        for name, v in kw.items():
            object.__setattr__(obj, name, v)
        return obj

    return st.fixed_dictionaries(fields).map(make)


def same_record(r: Any) -> None:
    """The fast bytes of ``r`` are the reference's under every rule version's field set, and what ``encode_record``
    hands to the database and ``pruned`` folds is the reference's."""
    for rules in RULES:
        reference = sc._record_reference(r, rules)
        assert sc._dumps(sc._fast(type(r), rules)(r)) == reference, (type(r).__name__, rules)  # the walk itself (no fallback)
        for ranged_first in (False, True):  # the ranged walk (big integers as their digits) written by orjson, no fallback
            assert sc._write(lambda ranged, rules=rules: sc._fast(type(r), rules, False, ranged)(r), ranged_first) == reference, rules
        assert sc._record_bytes(r, rules) == reference, (type(r).__name__, rules)
    assert encode_record(r) == sc._record_reference(r, None)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("cls", [Task, Node, Bounty, Session, EpochRecord], ids=lambda c: c.__name__)
@FAST
@given(data=st.data())
def test_a_record_drawn_from_its_declared_types_writes_the_reference_bytes(cls, data):
    same_record(data.draw(records(cls)))


@pytest.mark.parametrize("name", sorted(set(RECORDS) - {"State", "SelectionIndex", "Task", "Node", "Bounty", "Session", "EpochRecord"}))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_other_record_type_writes_the_reference_bytes(name, data):
    """(The selection index, weight trees and column stores, which the fast encoder hands to the reference, are in the
    whole states below.)"""
    same_record(data.draw(records(RECORDS[name])))


@FAST
@given(data=st.data())
def test_a_pruned_record_folds_the_reference_hash_of_the_fields_its_rule_knew(data):
    """``pruned_record_hash`` of a record retired under a rule version (a parameter version: under its own) is the hash of
    the reference's bytes of the fields that rule knew (``pruned_fold_rules``), written by the fast path."""
    cls = data.draw(st.sampled_from([Params, Task, Node, Bounty, Session, EpochRecord]))
    r = data.draw(records(cls))
    rules = data.draw(st.sampled_from([1, *range(STATE_ANCHOR_RULES, LATEST + 1)]))
    if cls is Params:
        object.__setattr__(r, "rule_version", rules)
    known = sc._record_reference(r, pruned_fold_rules(cls, rules))
    assert pruned_record_hash(cls, rules, encode_record(r), r) == sc.content_hash(known)
    assert sc._record_bytes(r, pruned_fold_rules(cls, rules)) == known


def test_every_edge_value_in_a_task_writes_the_reference_bytes():
    """Hand-picked: each edge integer in an amount and in a dict of amounts, each edge string in a field, a dict and a
    list, None in every optional field, each task kind (its value, not its name)."""
    base = Task(7, TaskKind.NETWORK, None, None, None, "m", "0x", 1, 1, 1, 1, 3, TaskState.SETTLED, 0, 0, 0, 0, "0x", [])
    for n in EDGE_INTS:
        same_record(replace(base, escrowed=n, split={"a": n}, reports={"v": {"m": [n, 1]}}))
    for s in EDGE_STRINGS:
        same_record(replace(base, model=s, validators=[s, "b"], report_commits={s: s}, failure=s))
    for kind in TaskKind:
        assert json.loads(encode_record(replace(base, kind=kind)))["kind"] == kind.value
    for f in ("user", "session", "router", "canary_commit", "settled_input_tokens", "spread_ppb", "closed_tick"):
        assert json.loads(encode_record(base))[f] is None
    node = Node("0xn", "miner", 0, 0, delegators={"a", "a!", "a ", 'a"', "b"})
    same_record(node)  # a set of strings: sorted by their JSON text, as the reference sorts them
    assert json.loads(encode_record(node))["delegators"] == sorted(node.delegators, key=lambda s: json.dumps(s))


def test_no_declared_type_of_the_state_holds_a_float():
    """The one value orjson writes in another notation than ``json.dumps`` (``1e16``, NaN as null) has no place in the
    state: no field of any record reachable from it is declared a float (``_any_enc`` refuses one in ``Any`` values)."""

    def floats(hint: Any) -> bool:
        return hint is float or any(floats(a) for a in typing.get_args(hint))

    for cls in RECORDS.values():
        hints = typing.get_type_hints(cls)
        assert not [f.name for f in dataclasses.fields(cls) if floats(hints[f.name])], cls.__name__
    with pytest.raises(TypeError):
        sc._any_enc(1.5)


# --- the writer alone ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), ints, strings),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple), st.dictionaries(strings, inner, max_size=3)),
    max_leaves=12,
)


def written(value: Any, ranged_first: bool) -> bytes:
    """``_write`` of a JSON value: plain as it is, ranged as ``_ranged`` makes it (what ``_fast`` makes ranged)."""
    return sc._write(lambda ranged: sc._ranged(value) if ranged else value, ranged_first)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_the_writer_writes_what_json_dumps_writes(value):
    assert written(value, False) == written(value, True) == sc._dumps(value)


def test_the_writer_on_every_ascii_character_the_integer_bounds_and_its_pieces():
    for c in range(128):
        assert written(["x" + chr(c), {chr(c): c}], False) == sc._dumps(["x" + chr(c), {chr(c): c}]), c
    for n in EDGE_INTS:
        for first in (False, True):
            assert written([n, (n,), {"n": n}], first) == sc._dumps([n, (n,), {"n": n}]), n
    for k in range(sc._PIECE - 6, sc._PIECE + 3):  # a character past ASCII across the end of a ~64 kB piece
        value = ["a" * k + "é×\U0001f600\x7f", "é"]
        assert written(value, False) == sc._dumps(value), k
    for bad in ({1: 2}, {(1, 2): 3}, [object()], [dataclasses.make_dataclass("D", [])()]):  # what json.dumps refuses or
        try:  # writes otherwise (an int key becomes a string): the same bytes or the same refusal
            expected: Any = sc._dumps(bad)
        except TypeError as exc:
            expected = type(exc)
        for first in (False, True):
            try:
                got: Any = written(bad, first)
            except TypeError as exc:
                got = type(exc)
            assert got == expected, bad


def test_write_drops_the_fragments_before_its_copy_and_copies_only_what_is_kept() -> None:
    """A state's text is written from its records' fragments (``_piece``), together as large as the text: ``_write`` lets
    them go before it copies orjson's output, and copies it only for a caller that keeps it (``kept``; ``state_hash``
    hashes and drops it). Peaks measured by ``tracemalloc`` (orjson allocates through Python's allocator), in texts."""
    import tracemalloc

    import orjson

    piece = b'{"a":"' + b"x" * 10_000 + b'"}'

    def fresh(ranged: bool) -> list[Any]:  # fragments made by the build, as a state's records are
        return [orjson.Fragment(bytes(bytearray(piece))) for _ in range(500)]

    held = fresh(True)

    def peak(build: Any, kept: bool) -> float:
        tracemalloc.start()
        try:
            out = sc._write(build, True, kept)
            top = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert out == b"[" + b",".join([piece] * 500) + b"]"
        return top / len(out)

    copied, uncopied = peak(lambda r: held, True), peak(lambda r: held, False)
    assert 0.9 < copied - uncopied < 1.1  # the copy is one more text, and only when kept
    assert peak(fresh, True) - copied < 0.5  # the fragments (one text) are gone before the copy is made
    assert peak(fresh, False) - uncopied > 0.9  # (the fragments do count while orjson writes)


# --- whole states ----------------------------------------------------------------------------------------------


def same_state(state: State) -> None:
    """The state hash's and the snapshot's bytes under every rule version are the reference's; a snapshot decoded (its
    packed fields still strings) writes the same snapshot, and its records the reference's bytes."""
    for rules in RULES:
        reference = sc._encode_reference(state, rules, False)
        assert sc._dumps({"format": sc.HASHED_FORMAT, "state": sc._fast(State, rules, False)(state)}) == reference, rules
        for first in (False, True):  # the ranged walk (its records written as pieces) by orjson, no fallback
            assert (
                sc._write(lambda r, rules=rules: {"format": sc.HASHED_FORMAT, "state": sc._fast(State, rules, False, r)(state)}, first) == reference
            )
        assert sc._encode(state, rules, False) == reference, rules
        assert sc._encode(state, rules, False, kept=False) == reference, rules  # (orjson's own bytes: the state hash's)
        same_parts(state, rules, False, reference)
    anchored = None if state.params_history is None else max(state.params.rule_version, STATE_ANCHOR_RULES)
    assert state_hash(state) == content_hash(sc._encode_reference(state, anchored, False))  # (hashed uncopied: the same bytes)
    assert sc._dumps({"format": sc.SNAPSHOT_FORMAT, "state": sc._fast(State, None, True)(state)}) == sc._encode_reference(state, None, True)
    snapshot = encode_state(state)
    assert snapshot == sc._encode_reference(state, None, True)
    same_parts(state, None, True, snapshot)
    opened = decode_state(snapshot)
    assert encode_state(opened) == snapshot == sc._encode_reference(opened, None, True)
    for rules in RULES:
        assert sc._encode(opened, rules, False) == sc._encode(state, rules, False), rules
    for records_ in (state.tasks, state.nodes, state.sessions, state.bounties, state.epochs):
        for r in records_.values():
            same_record(r)
            assert encode_record(decode_record(type(r), encode_record(r))) == encode_record(r)


class Parts:
    """A ``StateWriter`` that keeps each part it is given (a copy: a part may be a view of orjson's bytes)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes | memoryview) -> None:
        self.parts.append(bytes(data))


def streamed(state: State, rules: int | None, packed: bool, items: int, chars: int | None = None) -> list[bytes]:
    """The parts ``write_state`` writes ``state`` in with ``items`` items of a large field a part (and ``chars``
    characters of a packed field's string held as it came, ``items`` if not given)."""
    kept = sc.STREAM_ITEMS, sc.STREAM_CHARS
    sc.STREAM_ITEMS, sc.STREAM_CHARS = items, chars or items
    try:
        return sc.write_state(state, Parts, rules=rules, packed=packed).parts
    finally:
        sc.STREAM_ITEMS, sc.STREAM_CHARS = kept


def same_parts(state: State, rules: int | None, packed: bool, whole: bytes) -> None:
    """The state written in parts (``write_state``) is ``whole`` byte for byte, with any number of items a part; with one
    item a part, each item of a dict or list field is a part of its own (the whole text is never one part), and no part
    holds the whole text of an epoch record with more than one statement item (its items are parts of their own)."""
    for items in (1, 2, 3, sc.STREAM_ITEMS):
        parts = streamed(state, rules, packed, items)
        assert b"".join(parts) == whole, (rules, packed, items)
    many = [getattr(state, name) for name, _, spec, _ in sc._fields(State, rules, packed) if spec.kind in ("dict", "list")]
    one = streamed(state, rules, packed, 1)
    assert len(one) >= 2 + sum(len(v) for v in many if len(v) > 1)
    assert max(map(len, one)) < len(whole) or len(whole) < 200
    for r in state.epochs.values():
        if len(r.items) > 1:
            text = sc._dumps(sc._codec(EpochRecord, rules, packed)[0](r))  # (its text inside the state's)
            assert text in whole and not any(text in part for part in one), (rules, packed)


def _alone(record: EpochRecord) -> State:
    """A bare state holding only ``record``."""
    state = State()
    state.epochs = {record.epoch: record}
    return state


def _world(name: str, seed: int, epochs: int) -> State:
    s = replace(SCENARIOS[name], epochs=epochs, user_tasks_per_epoch=8, network_tasks_per_epoch=8)
    w = World(s, seed)
    for e in range(s.epochs):
        w.run_epoch(e)
    return w.state


@pytest.mark.parametrize(("name", "seed"), [("colluding_validators_30", 1), ("mismatched_reveal", 2), ("offline_miners", 3), ("sybil_split", 4)])
def test_a_simulated_network_hashes_and_snapshots_to_the_reference_bytes(name, seed):
    same_state(_world(name, seed, 2))


@pytest.mark.parametrize("version", [5, 6])
def test_the_anchored_golden_logs_states_hash_and_snapshot_to_the_reference_bytes(version):
    record = json.loads((GOLDEN / f"anchored_v{version}_log.json").read_text())
    events = [Event(e["seq"], e["tick"], e["payload"].encode("ascii"), e["signature"], e["prev_hash"], e["hash"]) for e in record["events"]]
    state = replay(events, check_each=True)  # each anchor's state hash recomputed (now by the fast encoder) must match
    assert sc.state_hash(state) == record["final_state_hash"]
    same_state(state)


def test_a_state_the_parts_cannot_write_is_written_by_the_reference_into_a_fresh_writer(monkeypatch):
    """``write_state``: when the fast encoder raises after some parts were written, the writer is begun again and holds
    the reference's bytes alone (not the parts already written before them), as ``_encode`` falls back."""
    state = _world("offline_miners", 3, 1)
    begun: list[Parts] = []

    def begin() -> Parts:
        begun.append(Parts())
        return begun[-1]

    def failing(state: State, rules: int | None, packed: bool) -> Any:
        yield b'{"format":'
        raise TypeError("a value the fast encoder cannot walk")

    monkeypatch.setattr(sc, "_state_parts", failing)
    written = sc.write_state(state, begin)
    assert len(begun) == 2 and begun[0].parts == [b'{"format":'] and written is begun[1]
    assert written.parts == [sc._encode_reference(state, None, True)] == [encode_state(state)]
    monkeypatch.undo()
    assert state_hash(state) == content_hash(b"".join(streamed(state, max(state.params.rule_version, STATE_ANCHOR_RULES), False, 1)))


# --- a large record in parts: an epoch's statement items, its streams' task columns, its packed fields -------------

int_columns = st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6).map(lambda xs: IntColumn(np.array(xs, dtype=np.int64)))
stream_values = st.recursive(
    st.one_of(any_values, int_columns),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4), st.lists(inner, max_size=2).map(tuple)),
    max_leaves=10,
)
streams = st.dictionaries(strings, st.dictionaries(strings, stream_values, max_size=4), max_size=3)


def epoch_records() -> st.SearchStrategy[EpochRecord]:
    """Epoch records drawn from their declared types, their ``streams`` holding int columns, lists and objects among
    ``Any`` values (an epoch's streams hold each stream's task ids as an ``IntColumn``, one per task of the epoch)."""

    def with_streams(r: EpochRecord, s: dict[str, Any]) -> EpochRecord:
        r.streams = s
        return r

    return st.builds(with_streams, records(EpochRecord), streams)


@FAST
@given(epochs=st.lists(epoch_records(), min_size=1, max_size=3), leaves=st.integers(0, 6))
def test_large_epoch_records_are_written_in_parts_as_the_reference_writes_them(epochs, leaves):
    """An epoch record with more than ``STREAM_ITEMS`` items in a list or dict (its statement items, its leaves, a stream's
    task ids) is written field by field, each large value in runs (``_value_parts``), its packed fields in a snapshot as
    escaped parts of their string (``_packed_parts``): the parts join to the reference's bytes under every rule version,
    hashed and snapshotted, with 1, 2 or 3 items a part; a snapshot opened (its packed fields held as the strings they
    came in, written back in parts of 1, 2 or 7 characters) and one whose packed field was read since write the
    reference's bytes too."""
    state = State()
    for i, r in enumerate(epochs):
        r.leaves = {**r.leaves, **{f"0x{n:x}": n for n in range(leaves)}}
        state.epochs[i] = r
    for rules in RULES:
        whole = sc._encode_reference(state, rules, False)
        for items in (1, 2, 3):
            assert b"".join(streamed(state, rules, False, items)) == whole, (rules, items)
    snapshot = sc._encode_reference(state, None, True)
    assert encode_state(state) == snapshot
    for items in (1, 2, 3):
        assert b"".join(streamed(state, None, True, items)) == snapshot, items
    opened = decode_state(snapshot)
    assert all(set(r.__dict__[PACKED_ATTR]) == {"items", "leaves"} for r in opened.epochs.values())  # (nothing read)
    for items, chars in ((1, 1), (2, 2), (3, 7)):
        assert b"".join(streamed(opened, None, True, items, chars)) == snapshot, (items, chars)
    assert all(set(r.__dict__[PACKED_ATTR]) == {"items", "leaves"} for r in opened.epochs.values())  # (none decoded)
    opened.epochs[0].items  # noqa: B018  (read: written from its value again)
    for items, chars in ((1, 1), (3, 7)):
        assert b"".join(streamed(opened, None, True, items, chars)) == snapshot == sc._encode_reference(opened, None, True)


def test_a_packed_string_as_it_came_is_escaped_in_parts_as_json_dumps_escapes_it():
    """A packed field held as the string it came in is written back as it came, in parts of any length: a snapshot's
    packed string holding characters past ASCII (one past U+FFFF, a lone surrogate, U+2028), DEL, quotes and backslashes
    literally joins, escaped part by part, to the very text it came in; read since, its field is packed again (``_pack``:
    its characters escaped inside the string), and the parts are the reference's."""
    state = _alone(EpochRecord(3, 0, 1, {"a": 1}, [new_earning("0xa", "fee", 1, {"task": 1})], leaves={"0xa": 1}))
    body = json.loads(encode_state(state))
    ((_, record),) = body["state"]["epochs"]
    odd = 'é "quoted" \\ \U0001f600 \ud800 \u2028 \x7f end'
    record["items"] = json.dumps(
        [{"address": odd, "stream": "fee", "amount": 2**70, "detail": [["note", odd]], "claimable": True}] * 3, ensure_ascii=False
    )
    record["leaves"] = json.dumps([[odd, 1], ["0xb", 2]], ensure_ascii=False)
    text = json.dumps(body, separators=(",", ":")).encode("ascii")
    opened = decode_state(text)
    assert encode_state(opened) == sc._encode_reference(opened, None, True) == text
    for items, chars in ((1, 1), (1, 2), (2, 3), (3, 5), (4096, 1 << 20)):
        assert b"".join(streamed(opened, None, True, items, chars)) == text, (items, chars)
    assert opened.epochs[3].items[0].address == odd
    again = sc._encode_reference(opened, None, True)
    assert again != text  # (packed again: its characters past ASCII now escaped inside the string)
    for items, chars in ((1, 1), (2, 3)):
        assert b"".join(streamed(opened, None, True, items, chars)) == again, (items, chars)


class Longest:
    """A ``StateWriter`` that hashes what it is given and keeps the longest part's length."""

    def __init__(self) -> None:
        self.hasher, self.longest = sc._Hasher(), 0

    def write(self, data: bytes | memoryview) -> None:
        self.hasher.write(data)
        self.longest = max(self.longest, len(data))


def test_a_large_epoch_record_is_written_without_its_whole_text_or_value(monkeypatch):
    """At 1 M closed tasks' stubs the anchor's own peak was one epoch record written as one part (its whole encoded value:
    571 MB traced for 81 MB of text, most of it its streams' task ids). Written in parts, the state hash and the snapshot
    write no part of a tenth of the record's text and trace a peak under half of it (``tracemalloc``: orjson and numpy
    allocate through Python's allocator), the reference's bytes."""
    import tracemalloc

    monkeypatch.setattr(sc, "STREAM_ITEMS", 256)
    n = 4000
    items = [
        new_earning(f"0x{i:040x}", "task_payment", -(10**16) * i, {"task": i, "quote": {"model": "m", "total_units": str(10**16 * i)}})
        for i in range(n)
    ]
    tasks = IntColumn(np.arange(20 * n, dtype=np.int64))
    rows = {"task": IntColumn(np.arange(10 * n, dtype=np.int64)), "fee_units": IntColumn(np.arange(10 * n, dtype=np.int64) * 10**9)}
    streams = {"miners": {"budget": 2**80, "tasks": tasks, "bonus_rows": rows}}
    state = _alone(EpochRecord(1, 0, 9, {"fees": 1}, items, leaves={f"0x{i:040x}": i for i in range(n)}, streams=streams))
    for rules, packed in ((None, True), (LATEST, False)):
        whole = sc._encode_reference(state, rules, packed)
        text = len(whole) - len(sc._encode_reference(State(), rules, packed))
        tracemalloc.start()
        try:
            written = sc.write_state(state, Longest, rules=rules, packed=packed)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert written.hasher.digest() == content_hash(whole), packed
        assert written.longest < text / 10, (packed, written.longest, text)
        assert peak < text / 2, (packed, peak, text)


def test_a_string_orjson_refuses_or_writes_otherwise_is_written_in_parts_as_json_dumps_writes_it():
    """A part orjson refuses (a lone surrogate in a string of the state) is written by ``json.dumps``, and a part past
    ASCII escaped after orjson (``_write``), each on its own: the parts still join to the reference's bytes."""
    state = _world("sybil_split", 4, 1)
    for odd in ("caf\u00e9 × 2 \U0001f600", "lone \ud800 surrogate"):
        state.evidence_used.add(odd)
        state.nonces[odd] = 7
        for rules in (None, LATEST):
            same_parts(state, rules, rules is None, sc._encode_reference(state, rules, rules is None))
