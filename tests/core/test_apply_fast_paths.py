"""The per-event apply's fast paths against the code they replaced (kept here as the reference).

``Struct.check`` reads the field names and specs it derived once at construction (not two sets, a sort and an
``isinstance`` per field at every body); ``Ledger.begin`` keeps the empty postings list ``commit`` left instead of making
a new one; after the event's journal closed, ``apply`` writes the head (``seq``, ``head_hash``) and ``commit`` the next
postings list straight into the records' ``__dict__`` (``journal.unjournaled_fields``, session 30), through
``Journaled.__setattr__`` only when a journal is in force. Each must refuse the same bodies with the same error (class,
code, message, field), and leave the same state bytes, postings and refusals on a chain of accepted and refused events."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import apply as apply_module
from cor_incentives.core import commands
from cor_incentives.core import ledger as ledger_module
from cor_incentives.core.commands import SCHEMAS, Opt, Struct, refuse
from cor_incentives.core.errors import EngineError, InvalidInput, shown
from cor_incentives.core.journal import JList, Journaled, journal, rollback
from cor_incentives.core.ledger import Ledger
from cor_incentives.core.state_codec import encode_state
from cor_incentives.core.units import COR
from support.chain import Chain, addr, refusal_of


def reference_struct_check(self: Struct, value: Any, path: str) -> None:
    """``Struct.check`` as it was before the derived fields (session 29)."""
    if not isinstance(value, dict):
        refuse(path, self.code, f"an object, got {shown(value)}")
    own = self.code != "invalid_object"
    unknown = sorted(set(value) - set(self.fields))
    if unknown:
        refuse(
            path,
            self.code if own else "unknown_field",
            f"unknown field(s) {', '.join(repr(u[:40]) for u in unknown[:5])}; the fields are {', '.join(sorted(self.fields)) or 'none'}",
        )
    for name, spec in self.fields.items():
        sub = f"{path}.{name}"
        if name not in value:
            if not isinstance(spec, Opt):
                refuse(sub, self.code if own else "missing_field", "a required field is missing")
            continue
        (spec.type if isinstance(spec, Opt) else spec).check(value[name], sub)


def reference_begin(self: Ledger) -> None:
    """``Ledger.begin`` as it was: a new list at every event."""
    self.postings = []


def outcome(kind: str, body: Any) -> tuple[Any, ...] | None:
    try:
        commands.check_body(kind, body)
    except InvalidInput as e:
        return (type(e), e.code, str(e), e.details)
    return None


ADDRESS = addr("alice")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**17),
    st.sampled_from(["", "0", "1", "007", "12.5", str(10**18), ADDRESS, ADDRESS.upper(), "0x" + "ab" * 32, "miner", "x" * 70]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


def field_names(schema: Any) -> list[str]:
    names = list(getattr(schema, "fields", {}))
    for case in getattr(schema, "cases", {}).values():
        names += list(case)
    return names + list(getattr(schema, "common", {})) + ([schema.tag] if hasattr(schema, "tag") else [])


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(sorted(SCHEMAS)))
    names = field_names(SCHEMAS[kind]) or ["x"]
    keys = draw(st.lists(st.sampled_from(names) | st.text(max_size=8), max_size=len(names) + 2))
    body: Any = {k: draw(VALUES) for k in keys}
    if draw(st.integers(0, 9)) == 0:
        body = draw(VALUES)  # not an object at all, sometimes
    return kind, body


@settings(max_examples=3000, deadline=None)
@given(bodies())
def test_struct_check_refuses_what_the_reference_refuses_with_the_same_error(kind_body):
    kind, body = kind_body
    new = outcome(kind, body)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Struct, "check", reference_struct_check)
        old = outcome(kind, body)
    assert new == old


def test_struct_check_names_every_refusal_as_before():
    """A few bodies pinned: unknown first (sorted, five shown), then the fields in schema order; nested paths."""
    cases = [
        ("transfer", {"to": ADDRESS, "amount": "1", "zz": 1, "aa": 2}, "unknown_field"),
        ("transfer", {"amount": "1"}, "missing_field"),
        ("transfer", {"to": "0x1", "amount": "x"}, "invalid_address"),
        ("transfer", {"to": ADDRESS, "amount": "01"}, "invalid_amount"),
        ("tick", {"checkpoint": {"seq": 1}}, "invalid_checkpoint"),
        ("tick", {"checkpoint": {"seq": 1, "hash": "0x" + "00" * 32, "zz": 1}}, "invalid_checkpoint"),
        ("node.register", {"role": "miner", "self_bond": "1", "models": ["ok", "Bad!"]}, "invalid_model"),
        ("stake.withdraw", {"a": 1}, "unknown_field"),
    ]
    for kind, body, code in cases:
        new = outcome(kind, body)
        assert new is not None and new[1] == code, (kind, body, new)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Struct, "check", reference_struct_check)
            assert outcome(kind, body) == new
    assert outcome("transfer", {"to": ADDRESS, "amount": "1"}) is None


def test_begin_keeps_only_an_empty_journaled_list():
    ledger = Ledger({"a": 5})
    kept = ledger.postings
    assert type(kept) is JList
    ledger.begin()
    assert ledger.postings is kept  # empty and journaled: kept
    ledger.transfer("a", "b", 2, "t")
    ledger.begin()  # holds a posting: replaced, the posting not lost from the list handed... nor carried over
    assert ledger.postings == [] and ledger.postings is not kept and kept[0].amount == 2
    object.__setattr__(ledger, "postings", [])  # a plain list (journaled appends are what a rollback relies on)
    ledger.begin()
    assert type(ledger.postings) is JList
    out = ledger.commit()
    ledger.begin()
    ledger.transfer("b", "a", 1, "t")
    assert out == [] and ledger.postings[0].amount == 1 and out is not ledger.postings


def test_a_refused_event_under_the_kept_list_leaves_it_empty():
    ledger = Ledger({"a": 5})
    ledger.begin()
    with pytest.raises(EngineError), journal():
        ledger.transfer("a", "b", 2, "t")
        ledger.transfer("a", "b", 9, "t")  # insufficient funds: everything undone
    assert ledger.postings == [] and ledger.balances == {"a": 5}


def run_chain(c: Chain) -> list[Any]:
    """A chain of accepted and refused transfers, delegations and registrations: what each step gave."""
    seen: list[Any] = []
    steps = [
        ("alice", "transfer", {"to": addr("bob"), "amount": str(3 * COR)}),
        ("bob", "transfer", {"to": addr("carol"), "amount": str(10**6 * COR)}),  # refused: funds
        ("alice", "node.register", {"role": "miner", "self_bond": str(2_000 * COR)}),
        ("bob", "stake.delegate", {"node": addr("alice"), "amount": str(COR)}),
        ("bob", "stake.delegate", {"node": addr("alice"), "amount": "01"}),  # refused: schema
        ("carol", "transfer", {"to": addr("alice"), "amount": str(COR), "memo": "x"}),  # refused: unknown field
        ("alice", "transfer", {"to": addr("alice"), "amount": str(COR)}),  # to oneself
        ("bob", "transfer", {"to": addr("carol"), "amount": str(2 * COR)}),
    ]
    for name, kind, body in steps:
        try:
            applied = c.as_(name, kind, body)
            seen.append(("ok", applied.postings, applied.nonce))
        except EngineError as e:
            seen.append(("refused", e.code, str(e)))
        seen.append(encode_state(c.state))
        seen.append([list(c.state.nonces.items()), list(c.state.recent_hashes.items())])  # (derived, not in the state's bytes)
    seen.append(refusal_of(c, addr("carol"), "transfer", {"to": addr("bob"), "amount": str(10**9 * COR)}))
    seen.append(encode_state(c.state))
    return seen


def test_a_chain_gives_the_same_postings_refusals_and_state_bytes_as_the_reference():
    new = run_chain(Chain({"alice": 5_000 * COR, "bob": 10 * COR}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Struct, "check", reference_struct_check)
        mp.setattr(Ledger, "begin", reference_begin)
        for module in (apply_module, ledger_module):  # every write through Journaled.__setattr__, as before session 30
            mp.setattr(module, "unjournaled_fields", lambda obj: None)
        old = run_chain(Chain({"alice": 5_000 * COR, "bob": 10 * COR}))
    assert new == old
    assert [s[0] for s in new if isinstance(s, tuple)] == ["ok", "refused", "ok", "ok", "refused", "refused", "ok", "ok"]


def test_the_head_and_the_next_postings_list_skip_the_journaled_setattr():
    """An accepted and a refused transfer write no attribute of the state or ledger through ``Journaled.__setattr__``
    (until session 30: ``seq``, ``head_hash`` and ``postings`` at every event, ~0.5 µs each), and leave what those writes
    left: the head of the event, an empty journaled postings list that is not the one handed over."""
    c = Chain({"alice": 5 * COR})
    written: list[tuple[str, str]] = []
    real = Journaled.__setattr__

    def counting(self: Any, name: str, value: Any) -> None:
        written.append((type(self).__name__, name))
        real(self, name, value)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Journaled, "__setattr__", counting)
        applied = c.as_("alice", "transfer", {"to": addr("bob"), "amount": str(COR)})
        assert refusal_of(c, addr("bob"), "transfer", {"to": addr("carol"), "amount": str(2 * COR)}) == "insufficient_funds"
    assert not {("State", "seq"), ("State", "head_hash"), ("Ledger", "postings")} & set(written), written
    assert (c.state.seq, c.state.head_hash) == (c.events[-1].seq, c.events[-1].hash)
    postings = c.state.ledger.postings
    assert type(postings) is JList and postings == [] and postings is not applied.postings and len(applied.postings) == 1


def test_under_an_outer_journal_the_head_is_written_through_it():
    """With a journal in force around ``apply`` (none in the engine; a test's), the head and the postings list are
    journaled writes as before: that journal's rollback puts them back."""
    c = Chain({"alice": 5 * COR})
    head, kept = (c.state.seq, c.state.head_hash), c.state.ledger.postings
    nonces, recent = dict(c.state.nonces), dict(c.state.recent_hashes)
    with journal() as outer:
        c.as_("alice", "transfer", {"to": addr("bob"), "amount": str(COR)})
        assert c.state.seq == head[0] + 1 and c.state.nonces != nonces and c.state.recent_hashes != recent
    rollback(outer)
    assert (c.state.seq, c.state.head_hash) == head and c.state.ledger.postings is kept
    assert c.state.nonces == nonces and c.state.recent_hashes == recent  # (written through their journaled dicts)


def test_the_nonce_and_recent_hash_written_without_a_journal_are_the_journaled_writes():
    """With no journal in force after the event (the engine, a replay), ``apply`` writes the actor's nonce and the recent
    hashes (the event's in, the one ``CHECKPOINT_WINDOW`` back out) with the dicts' own methods: the same contents, in the
    same key order, as the journaled ones, over more events than the window (made 8 for the test)."""
    window = 8

    def run(journaled: bool) -> list[Any]:
        c = Chain({"alice": 5_000 * COR, "bob": 10 * COR})
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(apply_module, "CHECKPOINT_WINDOW", window)
            if journaled:
                mp.setattr(apply_module, "unjournaled_fields", lambda obj: None)
            for i in range(window + 3):
                c.as_("alice" if i % 3 else "bob", "transfer", {"to": addr("carol"), "amount": "1"})
        return [list(c.state.nonces.items()), list(c.state.recent_hashes.items()), encode_state(c.state)]

    fast, journaled = run(False), run(True)
    assert fast == journaled
    assert len(fast[1]) == window and fast[0]
