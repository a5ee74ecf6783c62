"""Strict commands: one exact schema per kind, checked in the core before any handler runs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import governance
from cor_incentives.core.apply import HANDLERS, MAX_NONCE_STEP, apply
from cor_incentives.core.commands import BLOB_KINDS, SCHEMAS, BlobRef, Opt, Struct, Variant, blob_refs, check_body
from cor_incentives.core.errors import EngineError, InvalidInput
from cor_incentives.core.events import MAX_DEPTH, MAX_SAFE_INT, Command, json_depth, make_event, parse_json
from cor_incentives.core.units import COR, checksum_address
from support.chain import CHAIN_ID, SIG, Chain, addr


def rejected(c: Chain, actor: str, kind: str, body: dict, code: str, nonce: int | None = None) -> None:
    """The command is refused with ``code`` and the state's fingerprint does not move."""
    before = json.dumps(c.state.to_dict(), sort_keys=True)
    n = nonce if nonce is not None else c.state.nonces.get(actor, 0) + 1
    event = make_event(c.state.seq + 1, c.state.tick, Command(CHAIN_ID, kind, actor, n, body).encode(), SIG, c.state.head_hash)
    with pytest.raises(EngineError) as err:
        apply(c.state, event)
    assert err.value.code == code, (kind, body, err.value.code, err.value.message)
    assert json.dumps(c.state.to_dict(), sort_keys=True) == before


@pytest.fixture
def c() -> Chain:
    return Chain({"alice": 1_000 * COR, "bob": 10 * COR})


def test_every_kind_has_exactly_one_schema():
    assert set(SCHEMAS) == set(HANDLERS)
    propose = SCHEMAS["gov.propose"]
    assert isinstance(propose, Variant) and set(propose.cases) == set(governance.KINDS)


@pytest.mark.parametrize("kind", sorted(HANDLERS))
def test_an_unknown_field_is_refused_for_every_kind(kind):
    body = {"kind": "curator", "title": "t", "action": "appoint", "curator": addr("x")} if kind == "gov.propose" else {}
    with pytest.raises(InvalidInput) as err:
        check_body(kind, {**body, "zz_unknown": [[1]]})
    assert err.value.code == "unknown_field"


def test_the_poison_pill_is_refused_and_changes_nothing(c):
    """A fresh key with nothing: an unknown field, and the same nested ~975 levels deep."""
    fresh = addr("fresh-unfunded")
    rejected(c, fresh, "session.open", {"deposit": "0", "x": 1}, "unknown_field")
    rejected(c, fresh, "session.open", {"deposit": "0", "x": [[[[[[1]]]]]]}, "unknown_field")
    deep = b"[" * 975 + b"1" + b"]" * 975
    payload = Command(CHAIN_ID, "session.open", fresh, 1, {"deposit": "0"}).encode().replace(b'"deposit":"0"', b'"deposit":"0","x":' + deep)
    with pytest.raises(InvalidInput) as err:
        Command.decode(payload)
    assert err.value.code == "payload_too_deep" and json_depth(payload) > MAX_DEPTH
    before = json.dumps(c.state.to_dict(), sort_keys=True)
    with pytest.raises(InvalidInput):
        apply(c.state, make_event(c.state.seq + 1, c.state.tick, payload, SIG, c.state.head_hash))
    assert json.dumps(c.state.to_dict(), sort_keys=True) == before


@pytest.mark.parametrize("amount", ["01", "00", "١٢", "１２", "𝟏𝟐", "1" * 5000, str(2**256), "+1", "1.0", " 1", 12, None, ["1"], {"a": "1"}])
def test_amounts_are_ascii_digits_without_leading_zeros(c, amount):
    rejected(c, addr("alice"), "transfer", {"to": addr("bob"), "amount": amount}, "invalid_amount")


def test_addresses_are_lower_case_or_valid_eip55(c):
    bob = addr("bob")
    good = checksum_address(bob)
    assert good != bob
    i = next(i for i, ch in enumerate(good) if i >= 2 and ch.isalpha())
    bad = good[:i] + good[i].swapcase() + good[i + 1 :]  # one letter in the wrong case: a typo EIP-55 catches
    rejected(c, addr("alice"), "transfer", {"to": bad, "amount": "1"}, "invalid_address")
    rejected(c, addr("alice"), "transfer", {"to": bob.upper().replace("0X", "0x"), "amount": "1"}, "invalid_address")
    c.as_("alice", "transfer", {"to": good, "amount": "1"})
    c.as_("alice", "transfer", {"to": bob, "amount": "1"})
    assert c.balance(f"wallet:{bob}") == 10 * COR + 2


@pytest.mark.parametrize(
    "kind,body,code",
    [
        ("transfer", {"to": addr("bob")}, "missing_field"),
        ("transfer", {"to": [addr("bob")], "amount": "1"}, "invalid_address"),
        ("session.deposit", {"session": [1], "amount": "1"}, "invalid_session"),
        ("session.deposit", {"session": True, "amount": "1"}, "invalid_session"),
        ("session.deposit", {"session": 0, "amount": "1"}, "invalid_session"),
        ("session.deposit", {"session": "1", "amount": "1"}, "invalid_session"),
        ("task.cancel", {"task": {"id": 1}}, "invalid_task"),
        ("tick", {"ticks": 0}, "invalid_ticks"),  # the body is checked before the actor (the bytes alone decide it)
        ("node.register", {"role": "miner", "self_bond": "1", "models": "m"}, "invalid_models"),
        ("node.register", {"role": "king", "self_bond": "1"}, "invalid_role"),
        ("gov.propose", {"kind": "treasury_spend", "title": "t", "to": addr("bob")}, "missing_field"),
        ("gov.propose", {"kind": "mint", "title": "t"}, "invalid_proposal"),
        ("gov.propose", {"kind": "curator", "title": "t", "action": "appoint", "curator": addr("x"), "amount": "1"}, "unknown_field"),
        ("slash.report", {"node": addr("bob"), "offence": "equivocation", "evidence": {"x": "y" * 20_000}}, "missing_evidence"),
        ("community.attest", {"member": addr("bob"), "kind": "forum", "points": 1, "reference": "r" * 201}, "invalid_reference"),
        ("reward.claim", {"address": addr("bob"), "epoch": 0, "amount": "1", "proof": ["0x" + "AB" * 32]}, "invalid_proof"),
    ],
)
def test_wrong_types_and_shapes_are_refused_with_their_code(c, kind, body, code):
    rejected(c, addr("alice"), kind, body, code)


def test_oracle_bodies_are_checked_too(c):
    rejected(c, c.state.oracle, "tick", {"ticks": [1]}, "invalid_ticks")
    rejected(c, c.state.oracle, "tick", {"ticks": 1, "checkpoint": {"seq": 0}}, "invalid_checkpoint")
    rejected(c, c.state.oracle, "tick", {"ticks": 1, "checkpoint": {"seq": 0, "hash": "0x" + "00" * 32}}, "checkpoint_mismatch")
    rejected(c, c.state.oracle, "epoch.close", {"x": 1}, "unknown_field")


def test_a_nonce_step_is_bounded_so_no_key_locks_itself_out(c):
    alice = addr("alice")
    body = {"to": addr("bob"), "amount": "1"}
    rejected(c, alice, "transfer", body, "nonce_too_far", nonce=MAX_SAFE_INT)
    rejected(c, alice, "transfer", body, "nonce_too_far", nonce=MAX_NONCE_STEP + 1)
    c.submit(alice, "transfer", body)  # nonce 1: the key still works
    assert c.state.nonces[alice] == 1


def test_checkpoints_cite_any_recent_event_and_epochs_carry_the_last_one(c):
    cited = (c.state.seq, c.state.head_hash)
    for _ in range(5):
        c.as_("alice", "transfer", {"to": addr("bob"), "amount": "1"})
    c.oracle("tick", {"ticks": 1, "checkpoint": {"seq": cited[0], "hash": cited[1]}})  # not the head: still fine
    cp = c.state.last_checkpoint
    assert (cp.seq, cp.hash, cp.event) == (cited[0], cited[1], c.state.seq)
    c.oracle("epoch.close", {"checkpoint": {"seq": c.state.seq, "hash": c.state.head_hash}})
    record = c.state.epochs[0]
    assert record.checkpoint is not None and record.checkpoint.event == c.state.seq and record.checkpoint.seq == c.state.seq - 1


def test_blob_references_come_from_the_schema():
    h = "0x" + "ab" * 32
    assert blob_refs("task.reveal", {"task": 1, "output_hash": h, "salt": "s"}) == [h]
    assert blob_refs("model.register", {"content_hash": h}) == []  # the weights' hash, not a stored blob


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(sorted(SCHEMAS)), values=st.lists(st.sampled_from(["0x" + "ab" * 32, "0x" + "cd" * 32, 7, None]), min_size=12, max_size=12)
)
def test_blob_refs_by_kind_equal_a_walk_of_the_kinds_schema(kind, values):
    """``blob_refs`` (fields listed once per kind, ``BLOB_KINDS``) gives what walking the kind's schema on each call gives."""
    schema = SCHEMAS[kind]
    fields = list(schema.fields.items()) if isinstance(schema, Struct) else []
    body = {name: values[i % len(values)] for i, (name, _) in enumerate(fields)}
    walked = [body[n] for n, spec in fields if isinstance(spec.type if isinstance(spec, Opt) else spec, BlobRef) and isinstance(body.get(n), str)]
    assert blob_refs(kind, body) == walked
    if kind not in BLOB_KINDS:
        assert not any(isinstance(spec.type if isinstance(spec, Opt) else spec, BlobRef) for _, spec in fields)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(alphabet='ab"\\[]{}', max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='k"[{\\', max_size=3), inner, max_size=3),
    max_leaves=20,
)


def _depth(v: object) -> int:
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_depth_without_parsing_equals_the_parsed_depth(value):
    """The scanner sees strings (with quotes, backslashes and brackets inside) exactly as JSON does."""
    raw = json.dumps(value).encode()
    assert json_depth(raw, limit=100) == _depth(value)
    assert parse_json(raw, max_depth=100) == value
