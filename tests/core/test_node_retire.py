"""Rule 23 (``RULES_NODE_RETIRE``): a node with nothing left leaves the live state at an epoch close's prune (core/prune.py
``retire_nodes``), folded into ``pruned`` as ``node:<address>@<registered tick>``.

The boundary of each condition (one step before it the node stays, after it it leaves): its self-bond unbonded, the entry
matured but not withdrawn, withdrawn (leaves at the next close, not before); a delegation, an undelegation's entry; and,
on a state that otherwise qualifies, each live reference put in and taken out again: a task naming it (router, miner,
validator), an open session's dedicated miner, a redelegation from or to it, a voting proposal's snapshot, a first-rules
offence count, a jail on record, a slash record of its key, a position or a reward waiting. The refusals (node_not_found,
nothing changed), registering the key again (a fresh record at the newcomer start, retired again under its own key), a
slashed key that never retires (so it never registers afresh), no pruning and rule 22 keeping everything, a property test
over random node lives under rules 23 and 22 side by side with snapshot replay, and the old rule: a log recorded under
rule 22 with pruning on replays to the state hash main's code (fa655c2) gave it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core.apply import apply, conservation_holds, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import content_hash
from cor_incentives.core.prune import NODE, compact, fold, node_key, retirable
from cor_incentives.core.records import Accrual, Assignment, Node, Redelegation, Session, SlashRecord
from cor_incentives.core.rules import RULE_VERSIONS, RULES_NODE_RETIRE
from cor_incentives.core.sampling import WeightTree, reference_draw
from cor_incentives.core.staking import starting_reputation
from cor_incentives.core.state import NodeRefs
from cor_incentives.core.state_codec import decode_record, decode_state, encode_record, encode_state, state_hash
from cor_incentives.core.units import COR
from support.chain import Chain, addr
from support.replays import through_snapshot

OLD = max(v for v in RULE_VERSIONS if v < RULES_NODE_RETIRE)
EPOCH = 20  # ticks
BOND = 500 * COR  # the router's minimum self-bond
U = 2  # unbonding_period_epochs (the default)
# the state hash main's code gave old_rule_log(), recorded once with main's src at fa655c2 (rule 22 the latest there)
MAIN_STATE_HASH_22 = "0x7df917688cb49ddc4322c6d45b28c79ab4e9a871d0cd1e4fdf6f40cb875387ac"


def network(rule_version: int | None = None, prune: int = 1, beacon: int | None = None, **wallets: int) -> Chain:
    params = {"prune_closed_records": prune, "epoch_length_ticks": EPOCH, "unbonding_period_epochs": U}
    if rule_version is not None:
        params["rule_version"] = rule_version
    funded = {"op": BOND, "op2": BOND, "d": 100 * COR, **wallets}
    return Chain(wallets=funded, params=params, beacon=beacon)


def close(c: Chain) -> None:
    c.oracle("epoch.close", {})


def register(c: Chain, who: str = "op", bond: int = BOND) -> None:
    c.as_(who, "node.register", {"role": "router", "self_bond": str(bond)})


def unbonded_and_matured(c: Chain, who: str = "op") -> None:
    """``who`` registers, unbonds all of it at once and waits until the entry has matured (not withdrawn)."""
    register(c, who)
    c.as_(who, "stake.unbond", {"amount": str(BOND)})
    for _ in range(U):
        close(c)


def refused(c: Chain, who: str, kind: str, body: dict, code: str) -> None:
    before, before_bytes = c.state.to_dict(), encode_state(c.state)
    with pytest.raises(EngineError) as exc:
        c.as_(who, kind, body)
    assert exc.value.code == code, exc.value.message
    assert c.state.to_dict() == before and encode_state(c.state) == before_bytes


def test_a_node_with_nothing_left_leaves_at_the_next_close_folded_into_pruned():
    c, old = network(), network(OLD)  # the same events under rule 22: the record as the close leaves it
    for chain in (c, old):
        unbonded_and_matured(chain)
        close(chain)
    op = addr("op")
    assert op in c.state.nodes  # the matured entry is not withdrawn: it stays, close after close
    for chain in (c, old):
        chain.as_("op", "stake.withdraw", {})
    assert op in c.state.nodes and c.balance(f"wallet:{op}") == BOND  # nothing leaves before the close
    before = (c.state.pruned.hash, c.state.pruned.count)
    close(c)
    close(old)
    whole = old.state.nodes[op]
    assert op not in c.state.nodes and c.balance(f"wallet:{op}") == BOND
    mine = [r for r in c.state.retired if r[1] == NODE]
    assert [key for _, _, key, _, _, _ in mine] == [node_key(whole)] == [f"{op}@{whole.registered_tick:012d}"]
    _, _, _, n, data, _ = mine[0]
    assert decode_record(Node, data.decode()) == whole and data == encode_record(whole)  # exactly what left
    running = before[0]
    for _, kind, key, _, record, _ in sorted(c.state.retired, key=lambda r: r[3]):
        running = fold(running, kind, key, content_hash(record))
    assert (running, c.state.pruned.count) == (c.state.pruned.hash, before[1] + len(c.state.retired))
    assert c.state.selection is None or op not in c.state.selection.weights
    conservation_holds(c.state)
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)


def test_with_a_beacon_the_selection_index_forgets_a_retired_node_its_slot_included_and_weighs_the_key_again_when_it_registers():
    c = network(beacon=256)
    register(c, "op2")  # a router that stays
    register(c)
    op, op2 = addr("op"), addr("op2")
    close(c)  # the close's check_index syncs the index: both weighed, both in the routers' tree
    idx = c.state.selection
    assert idx is not None and idx.weights[op] > 0 and idx.trees["router"].weight(op) > 0
    c.as_("op", "stake.unbond", {"amount": str(BOND)})
    for _ in range(U):
        close(c)
    c.as_("op", "stake.withdraw", {})
    close(c)
    idx = c.state.selection
    assert op not in c.state.nodes and op not in idx.weights and op not in idx.marked
    assert op not in idx.trees["router"].slot and [n for n, _ in idx.trees["router"].slots()] == [op2]  # compacted
    assert idx.weights[op2] == idx.trees["router"].weight(op2) > 0
    register(c)
    close(c)
    assert [n for n, _ in c.state.selection.trees["router"].slots()] == [op2, op]  # a new slot, last
    assert c.state.selection.weights[op] == c.state.selection.trees["router"].weight(op) > 0
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)
    state = through_snapshot(c.state)
    assert encode_state(state) == encode_state(c.state)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 10**6)), min_size=1, max_size=40),
    st.integers(1, 8),
    st.binary(min_size=8, max_size=8),
)
def test_property_compacting_a_tree_of_its_retired_slots_changes_no_draw(slots, k, seed):
    """``compact`` drops the slots of retired nodes (weight 0 in the index once retired); a draw reads only positive
    weights in slot order, so every draw over the compacted tree equals the draw over the whole one."""
    named = [(f"n{i}", 0 if kind == 0 else w) for i, (kind, w) in enumerate(slots)]  # kind 0: a retired node's slot
    tree = WeightTree.from_slots(named)
    gone = {n for n, w in named if w == 0}
    small = compact(tree, gone)
    assert small.slots() == [(n, w) for n, w in named if w > 0] and (small.total, len(small)) == (tree.total, len(tree))
    assert small.draw(k, seed, True) == tree.draw(k, seed, True)
    assert small.draw(k, seed, True) == reference_draw(named, k, seed)


def test_a_delegation_or_an_undelegation_entry_keeps_the_node():
    c = network()
    register(c)
    op = addr("op")
    c.as_("d", "stake.delegate", {"node": op, "amount": str(10 * COR)})
    c.as_("op", "stake.unbond", {"amount": str(BOND)})
    for _ in range(U):
        close(c)
    c.as_("op", "stake.withdraw", {})
    close(c)
    assert op in c.state.nodes  # the delegation is still in it
    c.as_("d", "stake.undelegate", {"node": op, "amount": str(10 * COR)})
    close(c)
    assert op in c.state.nodes and not c.state.nodes[op].delegators  # its entry from the node is not withdrawn
    for _ in range(U - 1):
        close(c)
    c.as_("d", "stake.withdraw", {})
    assert op in c.state.nodes
    close(c)
    assert op not in c.state.nodes


def qualifying() -> tuple[Chain, str]:
    """A state right after a close whose node ``op`` qualifies (``retirable``), pruning off so it is not retired yet."""
    c = network(prune=0)
    unbonded_and_matured(c)
    c.as_("op", "stake.withdraw", {})
    close(c)
    op = addr("op")
    assert retirable(c.state) == [op]
    return c, op


def test_each_live_reference_keeps_the_node_and_taking_it_away_lets_it_go():
    c, op = qualifying()
    s = c.state
    other = addr("someone")

    def holds(put, take, counted: bool = False) -> None:
        """(``counted``: the test writes tasks and sessions directly, so it counts their names again as a decoded state
        does; tests/properties/test_node_refs.py checks the count the handlers keep)"""
        put()
        if counted:
            s.node_refs = NodeRefs.of(s.tasks, s.sessions)
        assert retirable(s) == []
        take()
        if counted:
            s.node_refs = NodeRefs.of(s.tasks, s.sessions)
        assert retirable(s) == [op]

    task = next(iter(s.tasks.values()), None)
    assert task is None  # (no task on this network: one is borrowed from a record below)
    from support.market import market, submit

    m = market(n_miners=3, n_validators=3)
    tid = submit(m)
    t = m.state.tasks[tid]
    for field, value in (("router", op), ("miners", [Assignment(miner=op)]), ("validators", [other, op])):
        saved = getattr(t, field)
        holds(lambda t=t, f=field, v=value: (setattr(t, f, v), s.tasks.__setitem__(tid, t)), lambda: s.tasks.pop(tid), counted=True)
        setattr(t, field, saved)
    session = Session(99, other, 1, 1, "dedicated", (other, op), True, 0, 0)
    holds(lambda: s.sessions.__setitem__(99, session), lambda: setattr(session, "is_open", False), counted=True)  # a closed one does not
    for source, node in ((op, other), (other, op)):
        r = Redelegation(id=s.new_id(), address=other, source=source, node=node, amount=COR, start_tick=0, mature_epoch=s.epoch + 1)
        holds(lambda r=r: s.add_redelegation(r), lambda r=r: s.remove_redelegation(r))
    holds(lambda: s.offence_log.__setitem__(f"{op}|missed_deadline", [(s.epoch, 1)]), lambda: s.offence_log.clear())
    holds(lambda: s.jail(op, s.tick + 1), lambda: s.unjail(op))
    node = s.nodes[op]
    holds(lambda: node.positions.__setitem__(other, Accrual(0, s.tick)), lambda: node.positions.clear())
    holds(lambda: s.ledger.balances.__setitem__(f"rewards:{op}", 1), lambda: s.ledger.balances.pop(f"rewards:{op}"))
    holds(lambda: s.slash_index.by_node.__setitem__(op, [0]), lambda: s.slash_index.by_node.pop(op))
    holds(lambda: node.delegators.add(other), lambda: node.delegators.clear())
    holds(lambda: setattr(node, "stake_total", 1), lambda: setattr(node, "stake_total", 0))


def test_a_voting_proposal_s_snapshot_keeps_the_node():
    c, op = qualifying()
    from cor_incentives.core.records import ProposalStatus

    class P:  # the fields retirable reads
        positions = {op: {op: 0}}
        status = ProposalStatus.VOTING

    c.state.proposals[123] = P()  # type: ignore[assignment]
    c.state.voting_proposals.add(123)
    assert retirable(c.state) == []
    c.state.voting_proposals.discard(123)  # tallied: its snapshot is no longer read
    assert retirable(c.state) == [op]


def test_messages_naming_a_retired_node_are_refused_node_not_found_and_change_nothing():
    c = network(x=1_000 * COR)
    unbonded_and_matured(c)
    c.as_("op", "stake.withdraw", {})
    op = addr("op")
    refused(c, "op", "stake.withdraw", {}, "nothing_to_withdraw")
    close(c)
    assert op not in c.state.nodes
    refused(c, "d", "stake.delegate", {"node": op, "amount": str(COR)}, "node_not_found")
    refused(c, "d", "stake.undelegate", {"node": op, "amount": str(COR)}, "node_not_found")
    refused(c, "op", "stake.bond", {"amount": str(COR)}, "node_not_found")
    refused(c, "op", "stake.unbond", {"amount": str(COR)}, "node_not_found")
    refused(c, "op", "node.unjail", {}, "node_not_found")
    refused(c, "op", "node.set_commission", {"commission_bps": 0}, "node_not_found")
    refused(c, "x", "slash.report", {"node": op, "offence": "missed_deadline", "evidence": {"task": 1}}, "node_not_found")


def test_the_key_registers_again_as_a_fresh_record_at_the_newcomer_start_and_retires_again_under_its_own_key():
    c = network()
    unbonded_and_matured(c)
    c.as_("op", "stake.withdraw", {})
    op = addr("op")
    first = c.state.nodes[op]
    first.reputation_ppb = 7  # (a record that fell low without a slash: the key's fresh start is a new key's)
    close(c)
    assert op not in c.state.nodes
    start = starting_reputation(c.state, "router")
    register(c)
    register(c, "op2")
    again, fresh = c.state.nodes[op], c.state.nodes[addr("op2")]
    assert again.reputation_ppb == fresh.reputation_ppb == start and again.registered_tick == c.state.tick
    assert (again.slash_count, again.served, again.unjailed_tick) == (0, 0, None)
    c.as_("op", "stake.unbond", {"amount": str(BOND)})
    for _ in range(U):
        close(c)
    c.as_("op", "stake.withdraw", {})
    close(c)
    keys = [key for _, kind, key, _, _, _ in c.state.retired if kind == NODE]
    assert keys == [node_key(again)] and node_key(again) != node_key(first)
    conservation_holds(c.state)


def test_a_slashed_key_keeps_its_record_so_it_never_registers_afresh():
    c = network()
    unbonded_and_matured(c)
    c.as_("op", "stake.withdraw", {})
    op, s = addr("op"), c.state
    # a slash record of its key taking nothing (as one of a node whose stake had gone): it caps newcomers while in the
    # window, and the record holds the reputation it left
    s.add_slash(SlashRecord(s.new_id(), op, "missed_deadline", 0, s.tick, s.epoch, "0x00", {"task": 1}, None, 0, 0, 0, 0, 0, {}, None))
    for _ in range(s.params.reputation_memory_epochs + 2):
        close(c)
    assert op in c.state.nodes  # long after the memory window too
    refused(c, "op", "node.register", {"role": "router", "self_bond": str(BOND)}, "node_already_registered")


@pytest.mark.parametrize(("rule_version", "prune"), [(None, 0), (OLD, 1)])
def test_without_pruning_or_under_rule_22_a_node_with_nothing_left_stays(rule_version, prune):
    c = network(rule_version, prune)
    unbonded_and_matured(c)
    c.as_("op", "stake.withdraw", {})
    for _ in range(3):
        close(c)
    assert addr("op") in c.state.nodes
    refused(c, "op", "node.register", {"role": "router", "self_bond": str(BOND)}, "node_already_registered")


def old_rule_log() -> Chain:
    """Under rule 22 with pruning on: two routers registered, one unbonded, withdrawn, a delegation, four closes."""
    c = network(OLD)
    unbonded_and_matured(c)
    register(c, "op2")
    c.as_("d", "stake.delegate", {"node": addr("op2"), "amount": str(10 * COR)})
    c.as_("op", "stake.withdraw", {})
    close(c)
    close(c)
    assert addr("op") in c.state.nodes and c.state.pruned.count > 0  # pruning ran, the node stayed
    return c


def test_a_log_recorded_under_rule_22_replays_to_the_state_main_gave_it():
    assert OLD == 22
    c = old_rule_log()
    again = replay(c.events, check_each=True)
    assert state_hash(again) == state_hash(c.state) == MAIN_STATE_HASH_22
    assert encode_state(again) == encode_state(c.state)


KEYS = ("k0", "k1", "k2", "k3", "k4", "k5")
LIFE = st.tuples(
    st.sampled_from(KEYS),
    st.booleans(),  # a delegation to it
    st.booleans(),  # the delegation undelegated
    st.booleans(),  # the self-bond unbonded
    st.integers(0, 3),  # closes before the withdrawals
    st.booleans(),  # the operator withdraws
    st.booleans(),  # the delegator withdraws
)
ROUND = st.tuples(st.lists(LIFE, min_size=1, max_size=3), st.integers(0, 30), st.integers(0, 2), st.booleans())


def actions_of(rounds: list) -> list[tuple]:
    """Each round: a few node lives (registered, maybe delegated to, undelegated, unbonded, closes, withdrawn), then
    ticks, closes and maybe a snapshot."""
    out: list[tuple] = []
    for lives, ticks, closes, snapshot in rounds:
        for key, delegate, undelegate, unbond, wait, withdraw, d_withdraw in lives:
            out.append(("register", key))
            out += [("delegate", key)] if delegate else []
            out += [("undelegate", key)] if delegate and undelegate else []
            out += [("unbond", key)] if unbond else []
            out += [("close", "")] * wait
            out += [("withdraw", key)] if withdraw else []
            out += [("withdraw", "d")] if d_withdraw else []
        out += [("tick", ticks)] if ticks else []
        out += [("close", "")] * closes
        out += [("snapshot", "")] if snapshot else []
    return out


def act(c: Chain, action: tuple) -> bool:
    name, who = action
    body: dict
    if name == "tick":
        c.oracle("tick", {"ticks": who})
        return True
    if name == "close":
        close(c)
        return True
    kind, actor, body = {
        "register": ("node.register", who, {"role": "router", "self_bond": str(BOND)}),
        "delegate": ("stake.delegate", "d", {"node": addr(who), "amount": str(10 * COR)}),
        "undelegate": ("stake.undelegate", "d", {"node": addr(who), "amount": str(10 * COR)}),
        "unbond": ("stake.unbond", who, {"amount": str(BOND)}),
        "withdraw": ("stake.withdraw", who, {}),
    }[name]
    try:
        c.as_(actor, kind, body)
    except EngineError:
        return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROUND, min_size=1, max_size=6))
def test_property_nodes_with_nothing_left_leave_at_the_close_and_nothing_else_changes(rounds):
    actions = actions_of(rounds)
    wallets = {k: BOND for k in KEYS}
    # the same actions under rule 23 and rule 22, with a beacon (a selection index whose trees lose retired slots)
    c, old = network(beacon=512, **wallets), network(OLD, beacon=512, **wallets)
    snapshot = None
    retired: list[str] = []
    for action in actions:
        if action[0] == "snapshot":
            snapshot = (encode_state(c.state), len(c.events))
            continue
        named = addr(action[1]) if action[0] in ("register", "delegate", "undelegate", "unbond") else None
        if named is not None and named in old.state.nodes and named not in c.state.nodes:
            continue  # a node rule 23 retired: the two rules answer differently (node_not_found / a fresh record); skipped in both
        epoch, live = c.state.epoch, set(c.state.nodes)
        due = set(retirable(c.state))
        done = act(c, action)
        assert act(old, action) == done
        if c.state.epoch > epoch:  # a close: the nodes that qualify after it left, in id order, nothing else
            gone = sorted(live - set(c.state.nodes))
            assert [k.split("@")[0] for _, kind, k, _, _, _ in c.state.retired if kind == NODE] == gone
            assert due <= set(gone) | set(c.state.nodes)
            retired += gone
        else:
            assert set(c.state.nodes) >= live  # nothing leaves between closes
        assert not retirable(c.state) or c.state.epoch == epoch  # after a close nothing qualifying is left behind
    # the same money everywhere, every live node the same record as under rule 22, every retired one held nothing
    assert c.state.ledger.balances == old.state.ledger.balances
    assert all(encode_record(n) == encode_record(old.state.nodes[i]) for i, n in c.state.nodes.items())
    assert set(c.state.nodes) | set(retired) == set(old.state.nodes)
    assert all(old.state.nodes[i].stake_total == 0 for i in retired)
    idx, old_idx = c.state.selection, old.state.selection
    assert idx is not None and old_idx is not None
    for key, tree in idx.trees.items():  # the slots of the live nodes, in rule 22's order, and no other
        assert tree.slots() == [(n, w) for n, w in old_idx.trees[key].slots() if n in c.state.nodes]
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)
    if snapshot is not None:  # a state decoded from a snapshot replays the rest like the original
        state = decode_state(snapshot[0])
        for event in c.events[snapshot[1] :]:
            apply(state, event)
        assert encode_state(state) == encode_state(c.state)
