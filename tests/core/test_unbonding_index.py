"""The indexes of unbonding entries, redelegations and slash records (``State.unbonding_index``, ``redelegation_index``,
``slash_index``; issue 16): a staking event reads the actor's own entries and the node's slashes, not every entry or slash
of the network; the indexes are derived (not hashed, not in a snapshot), rebuilt when a state is decoded, and a refused
event or a skipped consequence leaves them equal to a rebuild."""

from typing import Any

import pytest

from cor_incentives.core import apply as apply_module
from cor_incentives.core.apply import conservation_holds
from cor_incentives.core.conservation import Conservation
from cor_incentives.core.errors import Conflict, InvariantViolation
from cor_incentives.core.journal import JDict, JList, attempt
from cor_incentives.core.records import Unbonding
from cor_incentives.core.slashing import slash
from cor_incentives.core.staking import process_undelegate, process_withdraw
from cor_incentives.core.state import REDELEGATION_INDEX, UNBONDING_INDEX, EntryIndex, NodeRefs, SlashIndex, State, StubEpochs
from cor_incentives.core.state_codec import decode_state, encode_state
from support.chain import Chain, addr, refusing
from support.scans import DictScans, ListScans

SMALL = {"min_position_units": "1", "min_self_bond_miner_units": "100", "unbonding_period_epochs": 2, "epoch_length_ticks": 10}
OTHERS = [f"o{i}" for i in range(40)]


def network() -> Chain:
    """A node, 40 delegators with a pending unbonding entry each, and ``me`` delegating 50."""
    c = Chain(wallets={"op": 10_000, "me": 1_000, **{o: 10 for o in OTHERS}}, params=SMALL)
    c.as_("op", "node.register", {"role": "miner", "self_bond": "100"})
    for o in OTHERS:
        c.as_(o, "stake.delegate", {"node": addr("op"), "amount": "5"})
        c.as_(o, "stake.undelegate", {"node": addr("op"), "amount": "5"})
    c.as_("me", "stake.delegate", {"node": addr("op"), "amount": "50"})
    return c


def index_of(state: State) -> dict:
    return state.entry_indexes()


def rebuilt(state: State) -> dict:
    return {
        "unbondings": EntryIndex.of(UNBONDING_INDEX, state.unbondings).as_dicts(),
        "redelegations": EntryIndex.of(REDELEGATION_INDEX, state.redelegations).as_dicts(),
        "slashes": SlashIndex.of(state.slashes).as_dict(),
        **{name: sorted(ids) for name, ids in state.open_ids_rebuilt().items()},  # the open proposals and bounties
        "attested": sorted(state.attestation_indexes_rebuilt()[0]),  # the epoch's attestations (tests/properties/test_attestation_index.py)
        "curator_points": dict(sorted(state.attestation_indexes_rebuilt()[1].items())),
        "node_refs": NodeRefs.of(state.tasks, state.sessions, state.closed_tasks).as_dict(),  # (tests/properties/test_node_refs.py)
        "fine_tune_counts": dict(sorted(state.fine_tune_counts_rebuilt().items())),  # each model's live fine-tunes (rule 26)
        "stub_epochs": StubEpochs.of(state.closed_tasks).entries(),  # the stubs by created epoch (rule 27)
        "stub_epoch_names": StubEpochs.of(state.closed_tasks).counts(),  # the nodes each epoch's stubs name (tests/core/test_stub_drop.py)
    }


def test_unbond_withdraw_and_cancel_read_only_the_actors_entries():
    """``stake.undelegate`` (its ``max_entries`` count), ``stake.withdraw`` (refused and accepted) and
    ``stake.cancel_unbond`` never read the whole set of entries: each read the network's entries (every other staker's)
    until the index (an unbond cost ~0.45 ms and a refused withdraw ~0.8 ms at 10 k pending entries, bench/per_event.py)."""
    c = network()
    c.check = False  # the full check reads every entry: run once at the end
    unbondings = c.state.unbondings
    unbondings.__class__ = DictScans
    scans: list[tuple[str, int]] = []

    def send(kind: str, body: dict[str, Any], refused: str | None = None) -> None:
        DictScans.count = 0
        if refused is None:
            c.as_("me", kind, body)
        else:
            with pytest.raises(Conflict) as e:
                c.as_("me", kind, body)
            assert e.value.code == refused
        scans.append((kind, DictScans.count))

    try:
        send("stake.withdraw", {}, refused="nothing_to_withdraw")
        send("stake.undelegate", {"node": addr("op"), "amount": "10"})
        send("stake.undelegate", {"node": addr("op"), "amount": "10"})
        send("stake.withdraw", {}, refused="unbonding_not_mature")
        mine = sorted(u.id for u in dict.values(unbondings) if u.address == addr("me"))
        send("stake.cancel_unbond", {"id": mine[0]})
        for _ in range(2):
            c.oracle("epoch.close", {})
        send("stake.withdraw", {})
    finally:
        unbondings.__class__ = JDict
    assert [n for _, n in scans] == [0] * len(scans), scans
    assert c.balance(f"wallet:{addr('me')}") == 1_000 - 50 + 10 and c.balance(f"delegated:{addr('op')}:{addr('me')}") == 40
    assert [u.address for u in c.state.unbondings.values()] == [addr(o) for o in OTHERS]
    conservation_holds(c.state)


def test_the_unbond_limit_counts_the_same_entries():
    """The ``max_entries`` count reads the actor's entries from one node: others' entries do not count, as before; from
    rule 20 its matured ones count until withdrawn (tests/core/test_min_position_attack.py)."""
    c = network()
    max_entries = c.state.params.max_entries
    for _ in range(max_entries):
        c.as_("me", "stake.undelegate", {"node": addr("op"), "amount": "1"})
    with pytest.raises(Conflict) as e:
        c.as_("me", "stake.undelegate", {"node": addr("op"), "amount": "1"})
    assert e.value.code == "too_many_unbonding_entries" and f"already has {max_entries} unbonding entries" in e.value.message
    for _ in range(2):
        c.oracle("epoch.close", {})
    with pytest.raises(Conflict) as e:
        c.as_("me", "stake.undelegate", {"node": addr("op"), "amount": "1"})  # matured, not withdrawn: they still count
    assert e.value.code == "too_many_unbonding_entries"
    c.as_("me", "stake.withdraw", {})
    c.as_("me", "stake.undelegate", {"node": addr("op"), "amount": "1"})


@pytest.mark.parametrize("kind, handler", [("stake.undelegate", process_undelegate), ("stake.withdraw", process_withdraw)])
def test_a_refused_event_leaves_the_index_as_it_was(monkeypatch, kind, handler):
    """A handler that added or removed entries and then was refused: the index is what it was, and equals a rebuild."""
    c = network()
    c.as_("me", "stake.undelegate", {"node": addr("op"), "amount": "10"})
    for _ in range(2):
        c.oracle("epoch.close", {})
    before, entries = index_of(c.state), dict(c.state.unbondings)
    monkeypatch.setitem(apply_module.HANDLERS, kind, (refusing(handler), False))
    with pytest.raises(Conflict, match="refused after the writes"):
        c.as_("me", kind, {"node": addr("op"), "amount": "10"} if kind == "stake.undelegate" else {})
    assert index_of(c.state) == before == rebuilt(c.state)
    assert dict(c.state.unbondings) == entries
    monkeypatch.undo()
    c.as_("me", kind, {"node": addr("op"), "amount": "10"} if kind == "stake.undelegate" else {})  # and it works after
    assert index_of(c.state) == rebuilt(c.state) != before


def test_a_skipped_consequence_undoes_its_index_writes_without_a_journal():
    """``journal.attempt`` (a savepoint, journaled even in a replay): adds and removals undone with the entries."""
    c = network()
    state = c.state
    before = index_of(state)
    first = next(iter(state.unbondings.values()))

    def add_and_remove():
        state.add_unbonding(Unbonding(id=state.new_id(), address=addr("me"), node=addr("op"), amount=1, start_tick=0, mature_epoch=9))
        state.remove_unbonding(first)
        raise Conflict("cannot", code="test_skip")

    error = attempt(add_and_remove)
    assert error is not None and error.code == "test_skip"
    assert index_of(state) == before == rebuilt(state)
    assert first.id in state.unbondings


def test_the_index_is_not_in_a_snapshot_and_is_rebuilt_from_it():
    c = network()
    c.as_("me", "stake.undelegate", {"node": addr("op"), "amount": "10"})
    data = encode_state(c.state)
    assert b"unbonding_index" not in data and b"redelegation_index" not in data
    c.state.unbonding_index.maps["address"].clear()  # not encoded: the bytes do not move
    assert encode_state(c.state) == data
    decoded = decode_state(data)
    assert index_of(decoded) == rebuilt(decoded)
    by = index_of(decoded)["unbondings"]
    assert by["address"][addr("me")] == sorted(u.id for u in decoded.unbondings.values() if u.address == addr("me"))
    assert set(by["node"]) == {addr("op")}


def test_the_full_checks_find_an_index_that_differs_from_the_entries():
    c = network()
    conservation_holds(c.state)
    Conservation().full(c.state)
    some = next(iter(c.state.unbondings.values()))
    c.state.unbonding_index.maps["node"][some.node].discard(some.id)
    with pytest.raises(InvariantViolation, match="unbonding index differs"):
        conservation_holds(c.state)
    with pytest.raises(InvariantViolation, match="unbonding index differs"):
        Conservation().full(c.state)


def moving_network() -> Chain:
    """Two nodes; 40 delegators each with a young redelegation from the first to the second; ``me`` delegating 50."""
    c = Chain(wallets={"op": 10_000, "op2": 10_000, "me": 1_000, **{o: 10 for o in OTHERS}}, params=SMALL)
    c.as_("op", "node.register", {"role": "miner", "self_bond": "100"})
    c.as_("op2", "node.register", {"role": "miner", "self_bond": "100"})
    for o in OTHERS:
        c.as_(o, "stake.delegate", {"node": addr("op"), "amount": "5"})
        c.as_(o, "stake.redelegate", {"from": addr("op"), "to": addr("op2"), "amount": "2"})
    c.as_("me", "stake.delegate", {"node": addr("op"), "amount": "50"})
    return c


def test_a_redelegation_reads_only_the_actors_redelegations():
    """``stake.redelegate`` (forgetting the matured ones, its young check, its ``max_entries`` count) never reads the
    whole set of redelegations: it read every one three times until the index."""
    c = moving_network()
    c.check = False
    redelegations = c.state.redelegations
    redelegations.__class__ = DictScans
    counts = []
    try:
        for amount in ("1", "1", "1"):
            DictScans.count = 0
            c.as_("me", "stake.redelegate", {"from": addr("op"), "to": addr("op2"), "amount": amount})
            counts.append(DictScans.count)
        DictScans.count = 0
        with pytest.raises(Conflict) as e:  # back out of op2 before the move matured
            c.as_("me", "stake.redelegate", {"from": addr("op2"), "to": addr("op"), "amount": "1"})
        assert e.value.code == "redelegation_in_progress"
        counts.append(DictScans.count)
    finally:
        redelegations.__class__ = JDict
    assert counts == [0, 0, 0, 0]
    assert len(c.state.redelegations) == len(OTHERS) + 3
    conservation_holds(c.state)


def test_matured_redelegations_are_forgotten_by_the_next_redelegation_as_before():
    """The next ``stake.redelegate`` (anyone's) forgets every redelegation past its unbonding period, in id order, as the
    scan of every entry did; the young ones stay."""
    c = moving_network()
    others = sorted(c.state.redelegations)
    for _ in range(2):
        c.oracle("epoch.close", {})
    c.as_("me", "stake.redelegate", {"from": addr("op"), "to": addr("op2"), "amount": "1"})  # matures two epochs later
    assert list(c.state.redelegations) == [max(c.state.redelegations)] and not set(others) & set(c.state.redelegations)
    assert index_of(c.state) == rebuilt(c.state)
    assert list(index_of(c.state)["redelegations"]["mature_epoch"]) == [c.state.epoch + 2]


def test_a_refused_redelegation_puts_back_the_matured_ones_it_forgot():
    """``stake.redelegate`` forgets the matured redelegations before its own checks: refused, the entries, their order and
    the index are what they were."""
    c = moving_network()
    for _ in range(2):
        c.oracle("epoch.close", {})
    before, entries = index_of(c.state), list(c.state.redelegations.items())
    with pytest.raises(Conflict) as e:
        c.as_("me", "stake.redelegate", {"from": addr("op"), "to": addr("op2"), "amount": "51"})
    assert e.value.code == "redelegate_exceeds_stake"
    assert list(c.state.redelegations.items()) == entries and index_of(c.state) == before == rebuilt(c.state)


def test_a_cancel_reads_only_the_slashes_of_the_entrys_node():
    """``stake.cancel_unbond`` takes the slashes its entry was spared: the node's, not the network's whole history
    (it read every slash record until the index)."""
    c = moving_network()
    c.as_("me", "stake.undelegate", {"node": addr("op"), "amount": "20"})
    c.oracle("tick", {"ticks": 2})
    for t in range(30):  # another node's history
        slash(c.state, addr("op2"), "commit_mismatch", c.state.tick - 1, {"task": 100 + t}, None)
    spared = slash(c.state, addr("op"), "commit_mismatch", c.state.tick - 1, {"task": 1}, None)  # after the unbond began
    assert index_of(c.state) == rebuilt(c.state)
    entry = next(u for u in c.state.unbondings.values() if u.address == addr("me"))
    c.check = False
    slashes = c.state.slashes
    slashes.__class__ = ListScans
    ListScans.count = 0
    try:
        c.as_("me", "stake.cancel_unbond", {"id": entry.id})
    finally:
        slashes.__class__ = JList
    assert ListScans.count == 0
    taken = [e for e in c.state.earnings if e.address == addr("me") and e.detail.get("spared_slash_id") is not None]
    assert [e.detail["spared_slash_id"] for e in taken] == [spared.id] and taken[0].amount == -(20 * spared.fraction_bps // 10_000)
    conservation_holds(c.state)


def test_a_slash_undone_by_a_savepoint_leaves_the_slash_index_as_it_was():
    c = moving_network()
    before = index_of(c.state)

    def slash_then_fail():
        slash(c.state, addr("op"), "commit_mismatch", c.state.tick, {"task": 7}, None)
        raise Conflict("cannot", code="test_skip")

    assert attempt(slash_then_fail) is not None
    assert c.state.slashes == [] and index_of(c.state) == before == rebuilt(c.state)
