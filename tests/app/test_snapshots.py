"""State snapshots: a snapshot plus the tail of the log is the full replay, on SQLite and PostgreSQL;
a corrupt or mismatched snapshot is refused with its reason and the engine replays the whole log."""

from __future__ import annotations

import dataclasses
import json
import random
import types
import typing
import zlib
from collections.abc import Mapping
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from cor_incentives.app.engine import Engine
from cor_incentives.app.snapshots import snapshot_row
from cor_incentives.app.verify import state_fingerprint
from cor_incentives.core.apply import apply
from cor_incentives.core.epoch_columns import RowStore
from cor_incentives.core.events import content_hash
from cor_incentives.core.journal import PACKED_ATTR, JDict, journal
from cor_incentives.core.params import Params
from cor_incentives.core.records import ValidationRow
from cor_incentives.core.sampling import WeightTree
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import (
    DERIVED_STATE_FIELDS,
    PACKED_FIELDS,
    SNAPSHOT_FORMAT,
    SnapshotUnreadable,
    decode_state,
    encode_state,
    state_hash,
)
from cor_incentives.store import db
from support.scenario import run_scenario


def balances_and_roots(state: State) -> tuple[dict[str, int], dict[int, str | None]]:
    return dict(state.ledger.balances), {e: r.root for e, r in state.epochs.items()}


def same_state(a: State, b: State) -> None:
    """Every field, the derived ones the fingerprint leaves out included."""
    assert encode_state(a) == encode_state(b)
    assert state_fingerprint(a) == state_fingerprint(b)
    assert balances_and_roots(a) == balances_and_roots(b)
    assert a.recent_hashes == b.recent_hashes
    sa, sb = a.selection, b.selection
    assert (sa is None) == (sb is None)
    if sa is not None and sb is not None:
        assert {k: t.slots() for k, t in sa.trees.items()} == {k: t.slots() for k, t in sb.trees.items()}
        assert (sa.weights, sa.marked, sa.bonds) == (sb.weights, sb.marked, sb.bonds)
        for k, t in sa.trees.items():
            u = sb.trees[k]
            assert (t.cap, list(t.fen), list(t.mx), t.total, t.count) == (u.cap, list(u.fen), list(u.mx), u.total, u.count)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("snap")
    eng = run_scenario(f"sqlite:///{tmp / 'cor.db'}", tmp / "keys")
    events = list(eng.store.iter_events())
    yield eng, events
    eng.store.dispose()


def test_every_state_field_is_in_the_snapshot_and_comes_back(scenario):
    eng, _ = scenario
    encoded = json.loads(encode_state(eng.state))
    assert encoded["format"] == SNAPSHOT_FORMAT
    names = {f.name for f in dataclasses.fields(State)}
    assert set(encoded["state"]) == names - DERIVED_STATE_FIELDS  # a new field is carried, or this fails
    back = decode_state(encode_state(eng.state))
    for name in names - DERIVED_STATE_FIELDS - {"selection"}:
        assert getattr(back, name) == getattr(eng.state, name), name
    same_state(back, eng.state)


def filled(hint: Any, rng: random.Random, depth: int = 0) -> Any:
    """A non-empty value of the declared type ``hint`` (records with every field filled)."""
    if hint is WeightTree:
        return WeightTree.from_slots([(f"n{i}", rng.randrange(0, 9)) for i in range(rng.randrange(1, 6))])
    if hint is Params:  # validated on construction: the defaults (every mapping parameter non-empty but one)
        return Params().replace(listed_model_tiers={"m1": "small"}) if rng.random() < 0.5 else Params()
    if isinstance(hint, type) and issubclass(hint, RowStore):  # the epoch's rows, held as columns
        store = hint()
        for _ in range(2 if depth < 3 else 1):
            row = filled(hint.ROW, rng, depth + 1)
            # the 64-bit columns (task ids, units, ppb values) take what the core can write; a fee share any int; the
            # 8-bit round that drew a validator row (rule 31) a round the core can draw (escalation_rounds_max <= 8)
            fits = {k: v % 2**62 for k, v in vars(row).items() if type(v) is int and k != "fee_units" and not -(2**63) <= v < 2**63}
            if hasattr(row, "drawn_round"):
                fits["drawn_round"] = row.drawn_round % 9
            store.append_row(dataclasses.replace(row, **fits))
        return store
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return hint(**{f.name: filled(hints[f.name], rng, depth + 1) for f in dataclasses.fields(hint)})
    if isinstance(hint, type) and issubclass(hint, Enum):
        return rng.choice(list(hint))
    if hint is bool:
        return rng.random() < 0.5
    if hint is int:
        return rng.choice([0, 1, -3, 2**53 + 1, 10**30, rng.randrange(10**6)])
    if hint is str:
        return rng.choice(["", "a", "0x" + "cd" * 20, "ä|b"])
    if hint is Any:
        return {"k": [1, "x", None, True], "t": (1, 2), "s": {3, 1}, "d": {2: "int key"}, "big": 10**40} if depth < 4 else 7
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return filled(next(a for a in args if a is not type(None)), rng, depth)
    n = 2 if depth < 3 else 1
    if origin in (dict, Mapping):
        out = {filled(args[0], rng, depth + 1): filled(args[1], rng, depth + 1) for _ in range(n)}
        return types.MappingProxyType(out) if origin is Mapping else out
    if origin is list:
        return [filled(args[0], rng, depth + 1) for _ in range(n)]
    if origin is set:
        return {filled(args[0], rng, depth + 1) for _ in range(n)}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(filled(args[0], rng, depth + 1) for _ in range(n))
        return tuple(filled(a, rng, depth + 1) for a in args)
    raise AssertionError(f"no generator for {hint!r}")


def test_packed_fields_are_strings_decoded_at_their_first_read(scenario):
    """An epoch record's leaves and items are one string each in the snapshot (opening parses them as one
    token); a record decodes one when it is read, and one never read is written back as the same string."""
    eng, _ = scenario
    assert any(r.leaves for r in eng.state.epochs.values()) and any(r.items for r in eng.state.epochs.values())
    data = encode_state(eng.state)
    for _, record in json.loads(data)["state"]["epochs"]:
        for name in ("leaves", "items"):
            assert isinstance(record[name], str) and ("EpochRecord", name) in PACKED_FIELDS
    back = decode_state(data)
    e = next(e for e, r in eng.state.epochs.items() if r.leaves)
    record = back.epochs[e]
    assert {"leaves", "items"}.isdisjoint(vars(record)) and set(vars(record)[PACKED_ATTR]) == {"leaves", "items"}
    assert encode_state(back) == data  # nothing read: the strings as they came
    assert state_hash(back) == state_hash(eng.state)  # the hash reads (decodes) every field: never packed
    assert record.leaves == eng.state.epochs[e].leaves and isinstance(record.leaves, JDict)
    assert record.items == eng.state.epochs[e].items and "leaves" in vars(record)
    assert encode_state(back) == data


def test_a_packed_field_written_in_a_failed_event_comes_back(scenario):
    """A write to a field still packed decodes it first, so the journal's undo restores what the snapshot held."""
    eng, _ = scenario
    back = decode_state(encode_state(eng.state))
    e = next(e for e, r in eng.state.epochs.items() if r.leaves)
    with pytest.raises(RuntimeError), journal():
        back.epochs[e].leaves = {"0xnobody": 1}
        raise RuntimeError("the event fails")
    assert back.epochs[e].leaves == eng.state.epochs[e].leaves
    assert encode_state(back) == encode_state(eng.state)


def test_a_packed_field_that_does_not_decode_is_a_clear_error(scenario):
    eng, _ = scenario
    body = json.loads(encode_state(eng.state))
    body["state"]["epochs"][0][1]["leaves"] = '[["0xabc", "not a number"]]'
    back = decode_state(json.dumps(body, separators=(",", ":")).encode())
    with pytest.raises(SnapshotUnreadable, match=r"EpochRecord\.leaves does not decode"):
        _ = back.epochs[body["state"]["epochs"][0][0]].leaves
    body["state"]["epochs"][0][1]["items"] = []  # unpacked where a string belongs: refused at once
    with pytest.raises(SnapshotUnreadable, match="packed"):
        decode_state(json.dumps(body, separators=(",", ":")).encode())


@pytest.mark.parametrize("seed", range(5))
def test_every_field_of_every_record_round_trips_filled(seed):
    """A state with every field of every record it can hold filled (not the scenario's empty
    collections): the decoded state equals it field by field, and encodes to the same bytes."""
    rng = random.Random(seed)
    hints = typing.get_type_hints(State)
    state = State(**{f.name: filled(hints[f.name], rng) for f in dataclasses.fields(State) if f.name not in DERIVED_STATE_FIELDS})
    back = decode_state(encode_state(state))
    for f in dataclasses.fields(State):
        if f.name not in DERIVED_STATE_FIELDS | {"selection"}:
            assert getattr(back, f.name) == getattr(state, f.name), f.name
    assert state.selection is not None and back.selection is not None
    assert {k: t.slots() for k, t in back.selection.trees.items()} == {k: t.slots() for k, t in state.selection.trees.items()}
    assert encode_state(back) == encode_state(state)


def test_snapshot_plus_tail_is_the_full_replay_at_every_cut(scenario):
    """For every event k: the state after k, through its snapshot row, then events k+1.. applied,
    equals the state after the whole log: every field, every balance, every epoch root."""
    eng, events = scenario
    full = State()
    for ev in events:
        apply(full, ev, atomic=False)
    same_state(full, eng.state)
    prefix = State()
    for k, ev in enumerate(events):
        apply(prefix, ev, atomic=False)
        row = snapshot_row(prefix)
        restored = decode_state(zlib.decompress(row.data))
        assert row.seq == k and content_hash(encode_state(restored)) == row.hash and state_hash(restored) == state_hash(prefix)
        for tail in events[k + 1 :]:
            apply(restored, tail)  # live (journaled) application on the restored state
        same_state(restored, full)


def test_opening_from_a_snapshot_equals_a_full_replay(db_url, tmp_path):
    eng = run_scenario(db_url, tmp_path / "keys")
    with eng.store.reader() as conn:
        stored = eng.store.snapshot_rows(conn, with_data=False)
    # one after each epoch close (two in the scenario), taken in the batch that closed it
    assert len(stored) == 2 and all(r.seq < eng.state.seq for r in stored)
    eng.store.dispose()
    from_snapshot = Engine.open(db_url)
    full = Engine.open(db_url, snapshots=False)
    rep = from_snapshot.snapshot_report
    assert rep.seq == stored[0].seq and rep.refused == [] and rep.replayed == full.state.seq - stored[0].seq
    assert full.snapshot_report.seq is None and full.snapshot_report.replayed == full.state.seq + 1
    same_state(from_snapshot.state, full.state)
    same_state(from_snapshot.state, eng.state)
    for e in (from_snapshot, full):
        e.store.dispose()


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda r: {"data": zlib.compress(zlib.decompress(r.data).replace(b'"minted":', b'"minted": ', 1))}, "snapshot_corrupt"),
        (lambda r: {"data": r.data[:-7] + b"garbage"}, "snapshot_corrupt"),
        (lambda r: {"format": SNAPSHOT_FORMAT + 1}, "snapshot_format"),
        (lambda r: {"head_hash": "0x" + "ab" * 32}, "snapshot_mismatch"),
    ],
    ids=["altered-bytes", "truncated", "other-format", "other-log"],
)
def test_a_bad_snapshot_is_refused_and_the_log_replayed(sqlite_url, tmp_path, tamper, code, caplog):
    eng = run_scenario(sqlite_url, tmp_path / "keys")
    eng.snapshot_head()  # the bad snapshot is the head's: the replacement below is of the same event
    want = encode_state(eng.state)
    eng.store.dispose()
    store = db.Store(sqlite_url)
    with store.engine.begin() as conn:
        newest = store.snapshot_rows(conn, limit=1)[0]
        conn.execute(update(db.snapshots).where(db.snapshots.c.seq == newest.seq).values(**tamper(newest)))
    store.dispose()
    with caplog.at_level("WARNING", logger="cor.engine"):
        opened = Engine.open(sqlite_url)
    rep = opened.snapshot_report
    assert rep.seq is None and rep.replayed == opened.state.seq + 1
    assert [r["code"] for r in rep.refused] == [code] and rep.refused[0]["seq"] == newest.seq
    assert f"snapshot after event {newest.seq}" in rep.refused[0]["message"]
    assert "replaying the whole log" in caplog.text and code in caplog.text
    assert encode_state(opened.state) == want  # the full replay: nothing of the bad snapshot was used
    opened.snapshot_head()  # (as `cor serve` does, or the open itself when one was due) the refused snapshot is replaced
    opened.store.dispose()
    again = Engine.open(sqlite_url, create=False)
    assert (again.snapshot_report.seq, again.snapshot_report.replayed, again.snapshot_report.refused) == (newest.seq, 0, [])
    assert encode_state(again.state) == want
    again.store.dispose()


def test_a_snapshot_of_a_forked_state_is_refused(sqlite_url, tmp_path):
    """A snapshot that hashes right but holds another state than the log gives after its event."""
    eng = run_scenario(sqlite_url, tmp_path / "keys")
    want = encode_state(eng.state)
    forged = decode_state(encode_state(eng.state))
    forged.minted += 1  # balances no longer what the log produced
    forged.seq -= 1  # and claims to follow an earlier event
    row = snapshot_row(forged)
    eng.store.dispose()
    store = db.Store(sqlite_url)
    with store.engine.begin() as conn:
        conn.execute(db.snapshots.insert().values(**dataclasses.replace(row, seq=eng.state.seq).columns()))
    store.dispose()
    opened = Engine.open(sqlite_url)
    assert [r["code"] for r in opened.snapshot_report.refused] == ["snapshot_mismatch"]
    assert encode_state(opened.state) == want
    with opened.store.reader() as conn:
        assert conn.execute(select(db.snapshots.c.seq)).scalars().all()  # refused, not deleted: kept as evidence
    opened.store.dispose()


def test_serve_workers_load_the_snapshot_of_the_head(sqlite_url, tmp_path):
    """`cor serve --workers 2` opens the database once, from the newest snapshot and its tail, and forks its
    workers from that process: every answer says the same snapshot (one open, nothing replayed in a worker)
    and the head checked. It stores a snapshot of the head too, so the next server or a replaced worker
    loads it and replays nothing."""
    import httpx

    from support.server import start_server, stop_server

    eng = run_scenario(sqlite_url, tmp_path / "keys")
    head = eng.state.seq
    with eng.store.reader() as conn:
        newest = eng.store.snapshot_rows(conn, with_data=False)[0].seq
    assert newest < head  # the newest before: an epoch close
    eng.store.dispose()
    server = start_server(sqlite_url, tmp_path / "serve.log", workers=2)
    try:
        answers = [httpx.get(f"{server.base_url}/v1/status", timeout=30).json()["chain"] for _ in range(12)]
    finally:
        stop_server(server)
    assert all(a["from_snapshot"] == newest and a["checked_to_seq"] == head and a["complete"] for a in answers), answers
    store = db.Store(sqlite_url)
    with store.reader() as conn:
        assert store.snapshot_rows(conn, with_data=False)[0].seq == head
    store.dispose()


def _without(value: Any, names: set[str]) -> Any:
    """``value`` (decoded JSON) with every object key in ``names`` dropped, at any depth."""
    if isinstance(value, dict):
        return {k: _without(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [_without(v, names) for v in value]
    return value


def test_a_snapshot_of_an_engine_before_a_rule_that_added_fields_is_refused_naming_them(sqlite_url, tmp_path, caplog):
    """What an upgrade past rule 25 meets (session 29): the stored snapshot was written by an engine whose Params had no
    model_listing_deposit_units and whose Model had no retired_tick (the hash stored beside it is of those bytes). The
    format is not bumped for a field (docs/design.md, Snapshots): the snapshot is refused snapshot_unreadable with a
    short message naming the missing field, logged, the whole log replayed, and the next snapshot replaces it."""
    eng = run_scenario(sqlite_url, tmp_path / "keys")
    eng.snapshot_head()
    want = encode_state(eng.state)
    eng.store.dispose()
    store = db.Store(sqlite_url)
    with store.engine.begin() as conn:
        newest = store.snapshot_rows(conn, limit=1)[0]
        old = json.dumps(_without(json.loads(zlib.decompress(newest.data)), {"model_listing_deposit_units", "retired_tick"})).encode()
        row = {"data": zlib.compress(old), "hash": content_hash(old), "size": len(old)}
        conn.execute(update(db.snapshots).where(db.snapshots.c.seq == newest.seq).values(**row))
    store.dispose()
    with caplog.at_level("WARNING", logger="cor.engine"):
        opened = Engine.open(sqlite_url)
    [refused] = opened.snapshot_report.refused
    assert refused["code"] == "snapshot_unreadable" and opened.snapshot_report.seq is None
    assert refused["message"].endswith("(TypeError: Params lacks the fields ['model_listing_deposit_units'])"), refused["message"]
    assert len(refused["message"]) < 200 and "replaying the whole log" in caplog.text and refused["message"] in caplog.text
    assert encode_state(opened.state) == want
    opened.snapshot_head()
    opened.store.dispose()
    again = Engine.open(sqlite_url, create=False)
    assert (again.snapshot_report.seq, again.snapshot_report.refused) == (newest.seq, []) and encode_state(again.state) == want
    again.store.dispose()


def test_a_record_with_other_fields_is_refused_naming_the_missing_and_the_unknown(scenario):
    body = json.loads(encode_state(scenario[0].state))
    model = body["state"]["models"][0][1]  # (id, record) pairs
    model["from_a_later_engine"] = 1
    with pytest.raises(SnapshotUnreadable) as exc:
        decode_state(json.dumps(body).encode())
    assert exc.value.message.endswith("(TypeError: Model has unknown fields ['from_a_later_engine'])"), exc.value.message
    del model["owner"]
    with pytest.raises(SnapshotUnreadable) as exc:
        decode_state(json.dumps(body).encode())
    said = "(TypeError: Model lacks the fields ['owner'] and has unknown fields ['from_a_later_engine'])"
    assert exc.value.message.endswith(said), exc.value.message


@pytest.mark.parametrize("opened", [False, True], ids=["live", "opened"])
@pytest.mark.parametrize("items", [1, 3, 4096])
def test_the_snapshot_row_hashes_and_compresses_the_text_in_parts_and_stores_the_same_bytes(scenario, monkeypatch, items, opened):
    """``snapshot_row`` hashes and compresses the state's text part by part (``write_state``, ``items`` items of a
    large field a part, an epoch record with more items in a list or dict field by field): no part is the whole text,
    and the row is the one the whole text makes (its size, its hash, and the very stored bytes ``zlib.compress(text, 1)``
    makes, so a snapshot written before reads and compares equal). ``opened``: the state a snapshot opens to, its epoch
    records' packed fields held as the strings they came in (written back ``items`` characters at a time)."""
    from cor_incentives.core import state_codec
    from cor_incentives.core.state_codec import encode_state

    state = decode_state(encode_state(scenario[0].state)) if opened else scenario[0].state
    text = encode_state(state)
    if opened:
        assert all(PACKED_ATTR in r.__dict__ for r in state.epochs.values()) and state.epochs
        monkeypatch.setattr(state_codec, "STREAM_CHARS", items)
    records = [state_codec._dumps(state_codec._codec(type(r), None, True)[0](r)) for r in state.epochs.values()]  # (as in the text)
    seen: list[int] = []
    parts: list[bytes] = []
    compressobj = zlib.compressobj

    class Spy:
        def __init__(self, level: int) -> None:
            self.inner = compressobj(level)

        def compress(self, data):
            seen.append(len(data))
            parts.append(bytes(data))
            return self.inner.compress(data)

        def flush(self):
            return self.inner.flush()

    monkeypatch.setattr(state_codec, "STREAM_ITEMS", items)
    monkeypatch.setattr(zlib, "compressobj", Spy)
    row = snapshot_row(state)
    monkeypatch.undo()
    assert sum(seen) == len(text) and max(seen) < len(text) // 2 and len(seen) > (len(state.nodes) if items == 1 else 2)
    assert (row.size, row.hash, zlib.decompress(row.data)) == (len(text), content_hash(text), text)
    assert row.data == zlib.compress(text, 1)
    assert all(r in text for r in records) and any(len(r) > 2000 for r in records)
    assert not any(r in part for r in records for part in parts) if items < 4096 else any(r in part for r in records for part in parts)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 3_000_000), max_size=40), seed=st.integers(0, 2**32 - 1))
def test_property_zlib_level_1_in_parts_writes_the_bytes_of_one_call(cuts, seed):
    """What ``snapshot_row`` relies on: zlib's level-1 stream of a text fed in parts (no flush between them) is the
    bytes ``zlib.compress`` makes of the whole text, wherever the parts are cut (a 3 MB JSON-like text, as compressible
    as a state's, its cuts at any byte, parts of one byte among them)."""
    rng = random.Random(seed)
    words = [b'{"id":', b'"0x%040x"' % rng.getrandbits(160), b'"state":"closed"', b",", b"]", b"[", b"%d" % rng.getrandbits(70)]
    text = b"".join(rng.choice(words) if rng.random() < 0.9 else b"%d" % rng.getrandbits(30) for _ in range(400_000))[:3_000_000]
    bounds = sorted({0, len(text), *(min(c, len(text)) for c in cuts)} | {c + 1 for c in cuts if c + 1 < len(text)})
    z = zlib.compressobj(1)
    out = b"".join(z.compress(text[a:b]) for a, b in zip(bounds, bounds[1:])) + z.flush()
    assert out == zlib.compress(text, 1)


@pytest.mark.parametrize(("field", "value"), [("drawn_round", 300), ("drawn_round", -129), ("agreement_ppb", 2**64)])
def test_a_row_value_past_its_column_is_refused_as_unreadable(scenario, field, value):
    """The epoch's rows decode into typed columns (``drawn_round`` is an int8, ``escalation_rounds_max`` ≤ 8): a stored
    value past its column's range is refused ``snapshot_unreadable`` (so the engine replays the log), never raised as
    the column's OverflowError out of opening the database."""
    body = json.loads(encode_state(scenario[0].state))
    row = {
        "task": 1,
        "node": "0x" + "1" * 40,
        "agreement_ppb": 1,
        "on_time": True,
        "kind": "user",
        "canary_failed": False,
        "drawn_round": 0,
        "dissented": False,
    }
    assert set(row) == {f.name for f in dataclasses.fields(ValidationRow)}
    body["state"]["epoch_validations"] = [{**row, field: value}]
    with pytest.raises(SnapshotUnreadable) as exc:
        decode_state(json.dumps(body).encode())
    assert exc.value.code == "snapshot_unreadable" and "OverflowError" in exc.value.message, exc.value.message
    body["state"]["epoch_validations"] = [row]
    assert decode_state(json.dumps(body).encode()).epoch_validations.row(0).drawn_round == 0
