"""Rule 20 (RULES_MIN_POSITION): a stake position (a self-bond or a delegation) holds 0 or at least
``min_position_units`` after any change its holder makes; a slash may leave less, and positions held before the rule
stay as they are (docs/rewards.md, *Staking*: "Positions"; attack ``dust_positions``).

Mutants tried (each fails at least one test here): the check's ``0 < after`` dropped (taking all refused), ``<`` for
``<=`` (exactly the minimum refused), the rule gate dropped (rule 19 refuses dust), the undelegation's check on ``have``
instead of ``have - amount``, the redelegation's source check dropped, its destination check dropped, the cancel's check
on ``amount`` instead of what returns after the spared slashes, the bond's, the register's and the delegation's check
dropped."""

from __future__ import annotations

import random

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.params import Params
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_MIN_POSITION
from cor_incentives.core.slashing import slash
from cor_incentives.core.state_codec import state_hash
from cor_incentives.core.units import cor_text as cor
from support.chain import Chain, addr
from support.min_position import COR, MIN, chain, held, refused

A, B, D, E = addr("a"), addr("b"), addr("d"), addr("e")


def test_rule_20_is_the_latest_and_says_what_changed():
    assert LATEST >= RULES_MIN_POSITION == 20 and "min_position_units" in RULE_VERSIONS[20]
    assert Params().min_position_units == COR


def test_a_delegation_must_reach_the_minimum_exactly_at_it_is_enough():
    c = chain()
    err = refused(c, "d", "stake.delegate", {"node": A, "amount": str(MIN - 1)})
    assert err.details == {"node": A, "position": MIN - 1, "minimum": MIN} and "add at least 1 COR" in err.message
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.as_("d", "stake.delegate", {"node": A, "amount": "1"})  # on top of a position at the minimum: any amount
    assert held(c, A, D) == MIN + 1


def test_an_undelegation_leaves_nothing_or_at_least_the_minimum():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(2 * MIN)})
    err = refused(c, "d", "stake.undelegate", {"node": A, "amount": str(MIN + 1)})  # would leave one unit under the minimum
    assert "take at most 1 COR, or all of it" in err.message
    c.as_("d", "stake.undelegate", {"node": A, "amount": str(MIN)})  # leaves exactly the minimum
    refused(c, "d", "stake.undelegate", {"node": A, "amount": "1"})
    c.as_("d", "stake.undelegate", {"node": A, "amount": str(MIN)})  # taking everything is always allowed
    assert held(c, A, D) == 0 and D not in c.state.nodes[A].delegators


def test_a_redelegation_checks_both_ends():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(3 * MIN)})
    refused(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": str(MIN - 1)})  # B's new position under the minimum
    refused(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": str(2 * MIN + 1)})  # A's rest under the minimum
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": str(2 * MIN)})  # A keeps exactly the minimum
    assert (held(c, A, D), held(c, B, D)) == (MIN, 2 * MIN)
    c.as_("e", "stake.delegate", {"node": B, "amount": str(MIN)})
    c.as_("e", "stake.redelegate", {"from": B, "to": A, "amount": str(MIN)})  # all of it, into a new position at the minimum
    assert (held(c, B, E), held(c, A, E)) == (0, MIN)


def test_a_cancelled_unbonding_must_return_the_position_to_the_minimum():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(2 * MIN)})
    c.as_("d", "stake.undelegate", {"node": A, "amount": str(2 * MIN)})
    (u,) = c.state.unbondings.values()
    refused(c, "d", "stake.cancel_unbond", {"id": u.id, "amount": str(MIN - 1)})
    c.as_("d", "stake.cancel_unbond", {"id": u.id, "amount": str(MIN)})
    assert held(c, A, D) == MIN and c.state.unbondings[u.id].amount == MIN
    c.as_("d", "stake.cancel_unbond", {"id": u.id, "amount": "1"})  # onto a position at the minimum: any amount
    assert held(c, A, D) == MIN + 1


def test_a_cancel_is_judged_on_what_returns_after_the_slashes_it_was_spared():
    """The entry (exactly the minimum) was spared a 5 % slash while away: 95 % of the minimum would return, under it."""
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.oracle("tick", {"ticks": 5})
    c.as_("d", "stake.undelegate", {"node": A, "amount": str(MIN)})
    (u,) = c.state.unbondings.values()
    c.oracle("tick", {"ticks": 1})
    slash(c.state, A, "commit_mismatch", c.state.tick, {"task": 1}, None)  # committed after the unbond: the entry is spared
    assert c.state.unbondings[u.id].amount == MIN
    refused(c, "d", "stake.cancel_unbond", {"id": u.id})
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})  # with a position at the minimum, the rest may join it
    c.as_("d", "stake.cancel_unbond", {"id": u.id})
    assert held(c, A, D) == MIN + MIN - MIN * 500 // 10_000


def test_a_refused_cancel_with_spared_slashes_says_what_to_cancel_not_what_must_return():
    """The advice is in the amount the holder asks to cancel: the least amount whose return after a spared 5 % slash
    reaches the minimum (cancelling it passes, one unit less is refused), or that even the whole entry falls short."""
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(2 * MIN)})
    c.oracle("tick", {"ticks": 5})
    c.as_("d", "stake.undelegate", {"node": A, "amount": str(2 * MIN)})
    (u,) = c.state.unbondings.values()
    c.oracle("tick", {"ticks": 1})
    slash(c.state, A, "commit_mismatch", c.state.tick, {"task": 1}, None)  # committed after the unbond: the entry is spared
    back = lambda a: a - a * 500 // 10_000  # noqa: E731  (what returns of a cancel of a)
    least = -(-MIN * 20 // 19) - 2  # ~1.0526 COR, then the first amount that returns the minimum
    while back(least) < MIN:
        least += 1
    assert back(least - 1) < MIN <= back(least)
    err = refused(c, "d", "stake.cancel_unbond", {"id": u.id, "amount": str(MIN)})
    assert f"cancel at least {cor(least)} (it returns {cor(back(least))})" in err.message, err.message
    assert "add at least" not in err.message  # (what must return: not what to ask for)
    refused(c, "d", "stake.cancel_unbond", {"id": u.id, "amount": str(least - 1)})
    c.as_("d", "stake.cancel_unbond", {"id": u.id, "amount": str(least)})
    assert held(c, A, D) == back(least) >= MIN
    short = chain()
    short.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    short.oracle("tick", {"ticks": 5})
    short.as_("d", "stake.undelegate", {"node": A, "amount": str(MIN)})
    (v,) = short.state.unbondings.values()
    short.oracle("tick", {"ticks": 1})
    slash(short.state, A, "commit_mismatch", short.state.tick, {"task": 1}, None)
    err = refused(short, "d", "stake.cancel_unbond", {"id": v.id})
    assert f"cancelling all of entry {v.id} ({cor(MIN)}) returns {cor(MIN - MIN * 500 // 10_000)}" in err.message, err.message


def test_the_self_bond_is_a_position_too():
    """min_self_bond_* (here 1 unit) decides whether the node is selectable; the position's minimum binds the self-bond's
    changes as any delegation's: register, bond and unbond leave 0 or at least min_position_units."""
    c = chain()
    refused(c, "d", "node.register", {"role": "miner", "self_bond": str(MIN - 1)})
    c.as_("d", "node.register", {"role": "miner", "self_bond": str(MIN)})
    refused(c, "d", "stake.unbond", {"amount": "1"})
    c.as_("d", "stake.unbond", {"amount": str(MIN)})
    refused(c, "d", "stake.bond", {"amount": str(MIN - 1)})
    c.as_("d", "stake.bond", {"amount": str(MIN)})
    assert held(c, D, D) == MIN
    # the role's minimum self-bond is checked first, and is the binding one at the defaults (1 000 COR for a miner)
    c2 = chain(min_self_bond_miner_units=str(1_000 * COR))
    refused(c2, "d", "node.register", {"role": "miner", "self_bond": str(MIN - 1)}, "self_bond_below_minimum")


def test_a_slash_may_leave_a_position_under_the_minimum_and_its_next_change_must_reach_it_or_take_it_all():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.oracle("tick", {"ticks": 1})
    slash(c.state, A, "commit_mismatch", c.state.tick, {"task": 1}, None)  # 5 % of every position
    left = MIN - MIN * 500 // 10_000
    assert held(c, A, D) == left  # under the minimum: not the holder's choice, so it stays
    refused(c, "d", "stake.delegate", {"node": A, "amount": str(MIN - left - 1)})
    refused(c, "d", "stake.undelegate", {"node": A, "amount": "1"})
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN - left)})  # exactly back to the minimum
    assert held(c, A, D) == MIN
    c.oracle("tick", {"ticks": 1})
    slash(c.state, A, "commit_mismatch", c.state.tick, {"task": 2}, None)
    c.as_("d", "stake.undelegate", {"node": A, "amount": str(held(c, A, D))})  # or all of it
    assert held(c, A, D) == 0


def dusty(rule: int) -> Chain:
    """One-unit positions, partial undelegations leaving a unit, a redelegation of a unit and a cancel of a unit: every
    move rule 20 refuses, on a network of ``rule``."""
    c = chain(rule)
    c.as_("d", "stake.delegate", {"node": A, "amount": "1"})
    c.as_("d", "stake.delegate", {"node": B, "amount": "3"})
    c.as_("e", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.as_("e", "stake.undelegate", {"node": A, "amount": str(MIN - 2)})
    c.as_("d", "stake.redelegate", {"from": B, "to": A, "amount": "1"})
    c.as_("d", "stake.undelegate", {"node": B, "amount": "1"})
    (u,) = [u for u in c.state.unbondings.values() if u.address == D]
    c.as_("d", "stake.cancel_unbond", {"id": u.id})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    return c


# the state hash main's code (rule 19 the latest, 8729d6b) computes for ``dusty(19)``: rule 20 changes nothing of it
RULE_19_DUSTY_HASH = "0x2ae177683b82ad334ae672824fc1ebb915ba35509bef9ef3be9ec32317d89bb0"


def test_a_rule_19_log_of_dust_positions_replays_unchanged():
    c = dusty(RULES_MIN_POSITION - 1)
    assert (held(c, A, D), held(c, B, D), held(c, A, E)) == (2, 2, 2)
    assert state_hash(c.state) == RULE_19_DUSTY_HASH
    assert state_hash(replay(c.events, check_each=True)) == RULE_19_DUSTY_HASH
    with pytest.raises(EngineError) as e:
        dusty(RULES_MIN_POSITION)
    assert e.value.code == "position_below_minimum"


def test_governance_activates_rule_20_and_grandfathered_dust_stays_until_topped_up_or_taken():
    """Positions made under rule 19 (1 and 3 base units) stay after a passed param_change to rule 20, are still
    snapshotted by a proposal and paid; their holders may top them up to the minimum or take them all, nothing between.
    The log (both rules) replays to the same state."""
    c = chain(RULES_MIN_POSITION - 1)
    c.as_("d", "stake.delegate", {"node": A, "amount": "1"})
    c.as_("e", "stake.delegate", {"node": A, "amount": "3"})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})  # the stake votes from here on
    pid = c.state.next_id
    c.as_(
        "a",
        "gov.propose",
        {"kind": "param_change", "title": "t", "changes": {"rule_version": RULES_MIN_POSITION}, "effective_epoch": c.state.epoch + 1},
    )
    for n in "ab":
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    assert c.state.proposals[pid].positions[A][D] == 1  # dust in the snapshot, as before
    c.oracle("tick", {"ticks": 20})
    c.oracle("epoch.close", {})
    assert c.state.proposals[pid].status == "EXECUTED" and c.state.params.rule_version == RULES_MIN_POSITION
    assert (held(c, A, D), held(c, A, E)) == (1, 3)  # grandfathered
    refused(c, "d", "stake.delegate", {"node": A, "amount": "1"})
    refused(c, "e", "stake.undelegate", {"node": A, "amount": "1"})
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN - 1)})  # topped up to exactly the minimum
    c.as_("e", "stake.undelegate", {"node": A, "amount": "3"})  # or taken
    assert (held(c, A, D), held(c, A, E)) == (MIN, 0)
    assert state_hash(replay(c.events, check_each=True)) == state_hash(c.state)


def test_governance_may_raise_the_minimum_and_positions_under_the_new_one_stay():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    with pytest.raises(EngineError) as e:
        c.as_("a", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"min_position_units": 0}, "effective_epoch": c.state.epoch + 1})
    assert e.value.code == "parameter_out_of_bounds"
    pid = c.state.next_id
    c.as_(
        "a",
        "gov.propose",
        {"kind": "param_change", "title": "t", "changes": {"min_position_units": str(10 * MIN)}, "effective_epoch": c.state.epoch + 1},
    )
    for n in "ab":
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": 20})
    c.oracle("epoch.close", {})
    assert c.state.params.min_position_units == 10 * MIN and held(c, A, D) == MIN
    refused(c, "d", "stake.delegate", {"node": A, "amount": str(9 * MIN - 1)})
    c.as_("d", "stake.delegate", {"node": A, "amount": str(9 * MIN)})
    assert state_hash(replay(c.events, check_each=True)) == state_hash(c.state)


@pytest.mark.parametrize("seed", range(6))
def test_random_stake_moves_keep_every_position_at_0_or_the_minimum_unless_a_slash_left_it(seed):
    """A state machine: random delegations, undelegations, redelegations, cancels (any amounts around the minimum) and
    slashes. The model predicts each refusal (position_below_minimum iff a moved position would end in (0, minimum));
    after every step each position is 0, at least the minimum, or was left under it by a slash and not moved since."""
    rng = random.Random(seed)
    c = chain(min_position_units=str(1_000))
    lo = 1_000
    nodes, holders = (A, B), ("d", "e")
    slashed: set[tuple[str, str]] = set()  # positions under the minimum by a slash, not moved by their holder since
    tasks = iter(range(1, 10**6))
    for _ in range(150):
        op = rng.choice(("delegate", "undelegate", "redelegate", "cancel", "slash", "tick"))
        who = rng.choice(holders)
        me = addr(who)
        n, m = rng.sample(nodes, 2)
        amount = rng.choice([1, lo - 1, lo, lo + 1, 2 * lo, rng.randrange(1, 5 * lo)])
        have = held(c, n, me)
        if op == "slash":
            c.oracle("tick", {"ticks": 1})
            slash(c.state, n, "commit_mismatch", c.state.tick, {"task": next(tasks)}, None)
            slashed |= {(n, h) for h in map(addr, holders) if 0 < held(c, n, h) < lo}
            continue
        if op == "tick":
            c.oracle("tick", {"ticks": rng.randrange(1, 60)})
            continue
        if op == "delegate":
            kind, body, ends = "stake.delegate", {"node": n, "amount": str(amount)}, [(n, have + amount)]
        elif op == "undelegate":
            amount = rng.choice([amount, have])
            if not 0 < amount <= have:
                continue
            kind, body, ends = "stake.undelegate", {"node": n, "amount": str(amount)}, [(n, have - amount)]
        elif op == "redelegate":
            amount = rng.choice([amount, have])
            young = any(r.node == n and r.address == me for r in c.state.redelegations.values() if r.mature_epoch > c.state.epoch)
            if not 0 < amount <= have or young or sum(1 for r in c.state.redelegations.values() if r.address == me and r.source == n) >= 7:
                continue
            kind, body, ends = "stake.redelegate", {"from": n, "to": m, "amount": str(amount)}, [(n, have - amount), (m, held(c, m, me) + amount)]
        else:
            mine = [u for u in c.state.unbondings.values() if u.address == me and u.mature_epoch > c.state.epoch]
            if not mine:
                continue
            u = rng.choice(mine)
            part = rng.choice([u.amount, min(u.amount, amount)])
            spared = [s for s in c.state.slashes_of(u.node) if s.id > u.id and f"unbonding:{me}#{u.id}" not in s.by_account]
            if spared:
                continue  # (what returns after spared slashes is the dedicated test's)
            kind, body, ends = "stake.cancel_unbond", {"id": u.id, "amount": str(part)}, [(u.node, held(c, u.node, me) + part)]
        if (
            kind in ("stake.undelegate", "stake.redelegate")
            and sum(1 for u in c.state.unbondings.values() if u.address == me and u.node == n and u.mature_epoch > c.state.epoch) >= 7
        ):
            continue
        if kind == "stake.delegate" and c.balance(f"wallet:{me}") < amount:
            continue
        expect_refused = any(0 < after < lo for _, after in ends)
        if expect_refused:
            refused(c, who, kind, body)
        else:
            c.as_(who, kind, body)
            slashed -= {(node, me) for node, _ in ends}
        for node in nodes:
            for h in map(addr, holders):
                v = held(c, node, h)
                assert v == 0 or v >= lo or (node, h) in slashed, (seed, kind, node, h, v)
