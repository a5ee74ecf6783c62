"""The randomness beacon: a hash chain committed in genesis, one value per tick, draws after the request."""

import hashlib

import pytest

from cor_incentives.app.beacon import STRIDE, HashChain, hash_chain, oracle_chain, oracle_secret, with_beacon
from cor_incentives.core import beacon
from cor_incentives.core.apply import apply, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import GENESIS_PREV_HASH, Command, make_event
from cor_incentives.core.state import State
from support.chain import CHAIN_ID, ORACLE, SIG, Chain, addr, beacon_secret

SEEN: list[tuple[int, bytes, int]] = []


@beacon.draw_handler("test:seen")
def _seen(state, ident, seed):
    SEEN.append((ident, seed, state.tick))


def sha(x: bytes) -> bytes:
    return hashlib.sha256(x).digest()


def test_hash_chain_walks_backwards_from_the_anchor():
    for length in (1, 5, STRIDE, STRIDE + 1, 3 * STRIDE - 7):
        c = HashChain(b"s" * 32, length)
        prev = bytes.fromhex(c.anchor[2:])
        x = b"s" * 32
        for _ in range(length):
            x = sha(x)
        assert prev == x  # anchor = H^length(secret)
        for r in range(1, length + 1):
            v = bytes.fromhex(c.value(r)[2:])
            assert sha(v) == prev
            prev = v
        assert prev == b"s" * 32  # the last value is the secret itself


def test_a_value_is_the_same_asked_in_any_order_as_walked_from_the_secret():
    """The chain keeps the segment it walked last: asking across segments, backwards and again must not change a value."""
    import random

    length = 3 * STRIDE + 5
    c = HashChain(b"t" * 32, length)
    naive = [b"t" * 32]  # naive[i] = H^i(secret) = v_(length - i)
    for _ in range(length):
        naive.append(sha(naive[-1]))
    rounds = [1, length, 2, length - 1, STRIDE + 5, STRIDE + 6, 0, 5, 5] + random.Random(7).sample(range(length + 1), 200)
    for r in rounds:
        assert c.value(r) == "0x" + naive[length - r].hex(), r


def test_oracle_secret_depends_on_key_chain_and_chain_index():
    k = "0x" + "11" * 32
    assert oracle_secret(k, "a", 0) != oracle_secret(k, "b", 0) != oracle_secret(k, "a", 1)
    assert oracle_secret(k, "a", 0) != oracle_secret("0x" + "12" * 32, "a", 0)
    assert oracle_chain(k, "a", 0, 16).anchor == HashChain(oracle_secret(k, "a", 0), 16).anchor


def test_ticks_reveal_the_chain_and_the_core_checks_each_value():
    c = Chain({"u": 10**21}, beacon=64)
    b = c.state.beacon
    anchor = b.value
    assert (b.round, b.left, b.length, b.chain) == (0, 64, 64, 0)
    c.oracle("tick", {})
    c.oracle("tick", {"ticks": 3})
    c.oracle("epoch.close", {})
    assert b.round == 3 and b.left == 61
    assert b.value == hash_chain(beacon_secret(0), 64).value(3)
    x = bytes.fromhex(b.value[2:])
    assert "0x" + sha(sha(sha(x))).hex() == anchor
    assert replay(c.events).to_dict() == c.state.to_dict()


@pytest.mark.parametrize(
    "value, code",
    [
        (None, "missing_beacon"),
        ("0x" + "00" * 32, "invalid_beacon"),
        ("0xABC", "invalid_beacon"),
        (7, "invalid_beacon"),
    ],
)
def test_a_wrong_or_missing_value_is_refused_and_changes_nothing(value, code):
    c = Chain({"u": 10**21}, beacon=8)
    c.oracle("tick", {})
    before = c.state.to_dict()
    body = {} if value is None else {"beacon": value}
    with pytest.raises(EngineError) as e:
        c.submit(ORACLE, "tick", body)
    assert e.value.code == code
    assert c.state.to_dict() == before


def test_a_value_of_a_later_round_is_refused():
    c = Chain({"u": 10**21}, beacon=8)
    skip = hash_chain(beacon_secret(0), 8).value(2)  # round 2 before round 1
    with pytest.raises(EngineError) as e:
        c.submit(ORACLE, "tick", {"beacon": skip})
    assert e.value.code == "invalid_beacon" and c.state.tick == 0


def test_a_network_without_beacon_refuses_a_value():
    c = Chain({"u": 10**21})
    with pytest.raises(EngineError) as e:
        c.submit(ORACLE, "tick", {"beacon": "0x" + "00" * 32})
    assert e.value.code == "unexpected_beacon"


@pytest.mark.parametrize("spec", [{"anchor": "0x" + "00" * 32}, {"anchor": "0x" + "00" * 32, "length": 0}, {"anchor": "0x1", "length": 4}, []])
def test_genesis_beacon_must_be_anchor_and_length(spec):
    state = State()
    body = {"chain_id": CHAIN_ID, "oracle": ORACLE, "allocations": {"treasury": "1"}, "beacon": spec}
    event = make_event(0, 0, Command(CHAIN_ID, "genesis", ORACLE, 1, body).encode(), SIG, GENESIS_PREV_HASH)
    with pytest.raises(EngineError) as e:
        apply(state, event)
    assert e.value.code == "invalid_beacon"
    assert state.beacon is None and state.params_history is None


def test_draws_use_the_next_value_whatever_happens_in_between():
    """The grinding attack: a free self-transfer between the request and the tick changes the log head,
    not the draw."""
    seeds = []
    for extra_transfers in (0, 1, 5):
        c = Chain({"u": 10**21}, beacon=16)
        c.oracle("tick", {})
        SEEN.clear()
        beacon.request_draw(c.state, "test:seen", 42)
        assert SEEN == [] and c.state.beacon.pending == [("test:seen", 42)]
        for i in range(extra_transfers):
            c.as_("u", "transfer", {"to": addr("u"), "amount": str(1 + i)})
        c.oracle("tick", {})
        assert c.state.beacon.pending == []
        (ident, seed, tick) = SEEN[0]
        value = bytes.fromhex(c.state.beacon.value[2:])
        assert ident == 42 and tick == 2 and seed == beacon.randomness(value, "test:seen", 42)
        seeds.append(seed)
    assert len(set(seeds)) == 1


def test_draws_run_in_request_order_and_differ_by_purpose_and_id():
    c = Chain({"u": 10**21}, beacon=16)
    SEEN.clear()
    for i in (3, 1, 2):
        beacon.request_draw(c.state, "test:seen", i)
    c.oracle("tick", {})
    assert [i for i, _, _ in SEEN] == [3, 1, 2]
    assert len({s for _, s, _ in SEEN}) == 3
    v = b"\x01" * 32
    assert beacon.randomness(v, "a", 1) != beacon.randomness(v, "b", 1) != beacon.randomness(v, "a", 2)


def test_without_a_beacon_a_draw_happens_at_once_from_the_log_head():
    c = Chain({"u": 10**21})
    SEEN.clear()
    beacon.request_draw(c.state, "test:seen", 7)
    assert SEEN == [(7, hashlib.sha256(bytes.fromhex(c.state.head_hash[2:]) + b"test:seen:7").digest(), 0)]


def test_a_used_up_chain_stops_until_the_next_is_anchored():
    c = Chain({"u": 10**21}, beacon=2)
    c.oracle("tick", {})
    c.oracle("tick", {})
    with pytest.raises(EngineError) as e:
        c.oracle("tick", {})
    assert e.value.code == "beacon_exhausted" and c.state.tick == 2
    with pytest.raises(EngineError) as e:
        c.as_("u", "beacon.anchor", hash_chain(beacon_secret(1), 3).genesis())
    assert e.value.code == "unauthorized_actor"
    c.oracle("beacon.anchor", hash_chain(beacon_secret(1), 3).genesis())
    with pytest.raises(EngineError) as e:
        c.oracle("beacon.anchor", hash_chain(beacon_secret(2), 3).genesis())
    assert e.value.code == "beacon_already_anchored"
    for _ in range(3):
        c.oracle("tick", {})
    b = c.state.beacon
    assert (b.round, b.chain, b.length, b.left) == (5, 1, 3, 0)
    assert b.value == "0x" + beacon_secret(1).hex()
    assert replay(c.events).to_dict() == c.state.to_dict()


def test_anchor_on_a_network_without_beacon_activates_one():
    c = Chain({"u": 10**21})
    with pytest.raises(EngineError) as e:
        c.oracle("beacon.anchor", {"anchor": "0x" + "00" * 32, "length": 0})
    assert e.value.code == "invalid_beacon" and c.state.beacon is None
    c.oracle("beacon.anchor", hash_chain(beacon_secret(0), 3).genesis())
    b = c.state.beacon
    assert (b.round, b.chain, b.length, b.left) == (0, 0, 3, 3) and c.state.selection is not None
    c.oracle("tick", {})
    assert b.round == 1


def test_with_beacon_fills_ticks_only():
    c = Chain({"u": 10**21}, beacon=8)
    assert with_beacon(c.state, "0x" + "22" * 32, "transfer", {"a": 1}) == {"a": 1}
    assert with_beacon(c.state, "0x" + "22" * 32, "tick", {"beacon": "x"}) == {"beacon": "x"}
    body = with_beacon(c.state, "0x" + "22" * 32, "tick", {"ticks": 2})
    assert body["ticks"] == 2 and body["beacon"] == oracle_chain("0x" + "22" * 32, "cor-test", 0, 8).value(1)
