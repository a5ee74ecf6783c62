"""Rule 31 (RULES_STAKE_TICKS_COMMISSION, finding S1): a node reward is all commission only when no stake was bonded to the
node for a tick of the epoch (its stake × ticks is 0); otherwise ``commission_bps`` of it and the rest to every position
of the epoch by stake × ticks, including those that left before the close (docs/rewards.md, "Commission"; docs/design.md
§3). Rules 1-30 read the stake at the close, so an operator that unbonded at the last tick after its delegator left took
the delegator's whole share as commission (docs/redteam/s33/zero_stake_commission.py).

The boundary (``has_stake_ticks``): stake × ticks 0 with stake bonded at this tick (all commission from 31, the rest to
dust under 30) against one tick of stake; the S1 events under 31 and 30; the same events differ only in the node's split;
a rule-30 log replays to the state hash main's code before the rule gave it; a property over random epochs of one node
under 30 and 31 side by side (conservation after every event, replay from genesis and from a snapshot)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cor_incentives.core.apply import apply, conservation_holds, replay
from cor_incentives.core.epoch_document import COMMISSION_FORMULA, COMMISSION_TICKS_FORMULA
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_STAKE_TICKS_COMMISSION
from cor_incentives.core.staking import credit_node_reward, has_stake_ticks, settle_node_rewards
from cor_incentives.core.state_codec import decode_state, encode_state, state_hash
from support.chain import addr
from support.stake_ticks import BOND, DELEGATION, EPOCH, chain, epoch, previous_rule_log

OLD = RULES_STAKE_TICKS_COMMISSION - 1
BPS = 10_000
PREVIOUS_RULE_HASH = "0x9f35935bb4f485a7aafca17205afe69d5bffb9cafbe128e88f7faa77beebbaa4"  # main's src at 8436383 (rule 30 the latest) gives this log
OP, D = addr("op"), addr("d")


def apr_lines(c, e, node=OP):
    """The epoch's staking_apr lines of ``node`` (its commission, each position's stake line, the dust), by (address, stream)."""
    out = {}
    for i in c.state.epochs[e].items:
        if i.stream.startswith("staking_apr:") and i.amount and (i.address == node or i.detail.get("node") == node):
            out[(i.address, i.stream)] = out.get((i.address, i.stream), 0) + i.amount
    return out


def node_reward(c, e, node=OP):
    return next(i.detail["inputs"]["reward"] for i in c.state.epochs[e].items if i.stream == "staking_apr:node" and i.address == node)


def expected(reward, bps, ticks):
    """What rule 31 pays: the commission, each position's stake × ticks share of the rest, the floors to dust."""
    commission = reward * bps // BPS
    rest, total = reward - commission, sum(ticks.values())
    out = {(OP, "staking_apr:commission"): commission} if commission else {}
    for who, t in ticks.items():
        if rest * t // total:
            out[(who, "staking_apr:stake")] = rest * t // total
    dust = rest - sum(rest * t // total for t in ticks.values())
    if dust:
        out[("dust", "staking_apr:dust")] = dust
    return out


def test_rule_31_says_what_changed():
    assert LATEST >= RULES_STAKE_TICKS_COMMISSION == 31
    assert "stake × ticks" in RULE_VERSIONS[31] and "last_tick_unbond" in RULE_VERSIONS[31]


@pytest.mark.parametrize("leave_at", [1, 50, 98])
def test_the_operator_unbonding_at_the_last_tick_takes_only_its_commission_and_the_delegator_is_paid(leave_at):
    """S1 under 31: the delegator leaves at ``leave_at``, the operator unbonds everything at tick 99 and the close follows
    (at the epoch's end): no stake at the close, but 2 000 × 99 + 8 000 × leave_at COR-ticks were bonded."""
    c = chain()
    e = epoch(c, leave_at=leave_at)
    node = c.state.epochs[e].staking["nodes"][OP]
    op_ticks, d_ticks = BOND * (EPOCH - 1), DELEGATION * leave_at
    assert node["stake"] == 0 and node["stake_ticks"] == op_ticks + d_ticks
    reward = node_reward(c, e)
    paid = apr_lines(c, e)
    assert paid == expected(reward, 1000, {OP: op_ticks, D: d_ticks})
    assert paid[(D, "staking_apr:stake")] > 0 and paid[(OP, "staking_apr:commission")] == reward * 1000 // BPS
    commission = next(i for i in c.state.epochs[e].items if i.stream == "staking_apr:commission" and i.address == OP)
    assert commission.detail["has_stake"] is True
    assert c.state.epochs[e].staking["line_formulas"]["commission"] == COMMISSION_TICKS_FORMULA
    assert state_hash(replay(c.events, check_each=True)) == state_hash(c.state)


def test_rule_30_gave_the_operator_the_whole_reward():
    """The same events under rule 30: no stake at the close, so the whole reward was commission (the reproducer's B)."""
    c = chain(OLD)
    e = epoch(c, leave_at=50)
    reward = node_reward(c, e)
    assert apr_lines(c, e) == {(OP, "staking_apr:commission"): reward}
    commission = next(i for i in c.state.epochs[e].items if i.stream == "staking_apr:commission" and i.address == OP)
    assert commission.detail["has_stake"] is False
    assert c.state.epochs[e].staking["line_formulas"]["commission"] == COMMISSION_FORMULA


def test_the_same_events_differ_under_30_and_31_only_in_the_nodes_split():
    new, old = chain(), chain(OLD)
    e = epoch(new, leave_at=50)
    assert epoch(old, leave_at=50) == e
    reward = node_reward(new, e)
    assert reward == node_reward(old, e) > 0
    got, had = apr_lines(new, e), apr_lines(old, e)
    assert sum(got.values()) == sum(had.values()) == reward
    # the delegator's claim is its stake × ticks share, which rule 30 gave the operator
    d_share = got[(D, "staking_apr:stake")]
    assert had[(OP, "staking_apr:commission")] - got[(OP, "staking_apr:commission")] - got[(OP, "staking_apr:stake")] == d_share + got.get(
        ("dust", "staking_apr:dust"), 0
    )
    diff = {k for k in set(new.state.ledger.balances) | set(old.state.ledger.balances) if new.balance(k) != old.balance(k)}
    assert diff == {f"claimable:{OP}", f"claimable:{D}", "dust"} - ({"dust"} if not got.get(("dust", "staking_apr:dust")) else set())
    assert new.state.epochs[e].root != old.state.epochs[e].root


@pytest.mark.parametrize("rule", [RULES_STAKE_TICKS_COMMISSION, OLD])
def test_a_delegator_that_left_while_the_operator_stays_is_paid_the_same_under_both(rule):
    c = chain(rule)
    e = epoch(c, leave_at=50, unbond_at=None)
    reward = node_reward(c, e)
    assert apr_lines(c, e) == expected(reward, 1000, {OP: BOND * EPOCH, D: DELEGATION * 50})


@pytest.mark.parametrize("rule", [RULES_STAKE_TICKS_COMMISSION, OLD])
@pytest.mark.parametrize("ticks", [0, 1], ids=["bonded_this_tick", "bonded_one_tick"])
def test_the_boundary_stake_ticks_0_against_one_tick(rule, ticks):
    """A node whose stake was bonded at this tick (stake × ticks 0, stake > 0) and one bonded a tick ago, credited 1 000 001
    base units at 10 %: with no stake × ticks rule 31 makes it all commission, rule 30 (stake > 0) takes 10 % and the
    rest goes to dust (no position to pay); with one tick both take 10 % and pay the operator's position the rest."""
    c = chain(rule, delegation=0)
    c.as_("d", "node.register", {"role": "validator", "self_bond": str(BOND), "commission_bps": 1000})
    node = c.state.nodes[D]
    if ticks:
        c.oracle("tick", {"ticks": ticks})
    assert has_stake_ticks(c.state, node) is bool(ticks)
    amount = 1_000_001
    before = {k: c.balance(k) for k in (f"claimable:{D}", "dust", "pool:staking")}
    rest = credit_node_reward(c.state, D, "pool:staking", amount, "staking_apr", {})
    settle_node_rewards(c.state, D, "staking_apr")
    got = {k: c.balance(k) - v for k, v in before.items()}
    if ticks or rule == OLD:
        assert rest == amount - amount * 1000 // BPS
        to_op = amount * 1000 // BPS + (rest if ticks else 0)
        assert got == {f"claimable:{D}": to_op, "dust": 0 if ticks else rest, "pool:staking": -amount}
    else:
        assert rest == 0 and got == {f"claimable:{D}": amount, "dust": 0, "pool:staking": -amount}
    conservation_holds(c.state)


def test_has_stake_ticks_reads_the_count_without_writing():
    """Stake × ticks counted at the mark, or stake held since it: either makes it true; nothing is accrued."""
    c = chain(delegation=DELEGATION)
    node = c.state.nodes[OP]
    mark, counted = node.stake_tick_mark, node.stake_ticks
    assert counted == 0 and node.stake_total > 0 and not has_stake_ticks(c.state, node)  # the close restarted the count
    c.oracle("tick", {"ticks": 3})
    assert has_stake_ticks(c.state, node) and (node.stake_tick_mark, node.stake_ticks) == (mark, counted)
    c.as_("d", "stake.undelegate", {"node": OP, "amount": str(DELEGATION)})
    c.as_("op", "stake.unbond", {"amount": str(BOND)})
    assert node.stake_total == 0 and node.stake_ticks == (BOND + DELEGATION) * 3 and has_stake_ticks(c.state, node)


def test_a_previous_rule_log_replays_to_the_state_main_gave_it():
    c = previous_rule_log()
    assert c.state.params.rule_version == OLD
    again = replay(c.events, check_each=True)
    assert state_hash(again) == state_hash(c.state) == PREVIOUS_RULE_HASH
    last = max(c.state.epochs)
    assert apr_lines(c, last) == {(OP, "staking_apr:commission"): node_reward(c, last)}  # rule 30's branch, kept


# --- random epochs of one node under 30 and 31 side by side ----------------------------------------------------------

AT = st.one_of(st.none(), st.integers(1, EPOCH - 1))
EPOCHS = st.lists(st.tuples(AT, AT, st.integers(EPOCH // 2, EPOCH - 1), st.booleans()), min_size=1, max_size=3)


def run(c, plan, snapshot_at):
    snapshot = None
    for n, (leave_at, unbond_at, close_at, back) in enumerate(plan):
        leave_at = None if leave_at is None else min(leave_at, close_at)
        unbond_at = None if unbond_at is None else min(unbond_at, close_at)
        if back and c.balance(f"bonded:{OP}") == 0:  # the operator bonds again (its unbonded stake waits out its period)
            c.as_("op", "stake.bond", {"amount": str(BOND)})
        if back and c.balance(f"delegated:{OP}:{D}") == 0:
            c.as_("d", "stake.delegate", {"node": OP, "amount": str(DELEGATION)})
        epoch(c, leave_at, unbond_at, close_at)
        if n == snapshot_at:
            snapshot = (encode_state(c.state), len(c.events))
    return snapshot


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EPOCHS, st.integers(0, 2), st.sampled_from([0, 500, 1000, 2000]))
def test_property_rules_30_and_31_differ_only_where_no_stake_was_left_at_the_close(plan, snapshot_at, bps):
    new, old = chain(commission_bps=bps), chain(OLD, commission_bps=bps)
    snapshot = run(new, plan, snapshot_at)
    run(old, plan, snapshot_at)
    differs = False
    for e in sorted(new.state.epochs):
        a, b = new.state.epochs[e], old.state.epochs[e]
        info = a.staking.get("nodes", {}).get(OP)
        if info is None or not any(i.stream == "staking_apr:node" and i.address == OP for i in a.items):
            continue
        reward = node_reward(new, e)
        assert reward == node_reward(old, e)
        got, had = apr_lines(new, e), apr_lines(old, e)
        if info["stake"] == 0 and info["stake_ticks"] > 0 and reward:  # S1: rule 30 made it all commission
            assert had == {(OP, "staking_apr:commission"): reward}
            differs = differs or got != had
        else:
            assert got == had
        if info["stake_ticks"] and reward:  # rule 31: commission_bps, the rest by stake × ticks (the clock's own count)
            positions = {i.address: i.detail["stake_ticks"] for i in a.items if i.stream == "staking_apr:stake" and i.detail["node"] == OP}
            assert sum(got.values()) == reward and got.get((OP, "staking_apr:commission"), 0) == reward * bps // BPS
            assert all(
                got.get((w, "staking_apr:stake"), 0) == (reward - reward * bps // BPS) * t // info["stake_ticks"] for w, t in positions.items()
            )
        assert b.staking["nodes"][OP]["stake_ticks"] == info["stake_ticks"]
    diff = {k for k in set(new.state.ledger.balances) | set(old.state.ledger.balances) if new.balance(k) != old.balance(k)}
    assert diff <= {f"claimable:{OP}", f"claimable:{D}", "dust"}
    assert not diff or differs
    event("S1: no stake at a close, the rules differ" if differs else "the rules agree")
    for c in (new, old):
        assert encode_state(replay(c.events, check_each=True)) == encode_state(c.state)
    if snapshot is not None:
        state = decode_state(snapshot[0])
        for ev in new.events[snapshot[1] :]:
            apply(state, ev)
            conservation_holds(state)
        assert encode_state(state) == encode_state(new.state)
