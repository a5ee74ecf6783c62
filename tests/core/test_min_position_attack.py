"""Rule 20 (RULES_MIN_POSITION) under attack: sequences of commands an attacker with many keys and some COR would try to
get a position above 0 and under ``min_position_units``, or many stake records per COR locked, and the call sites'
mutants the rule's own tests (tests/core/test_min_position.py) did not catch.

Hole found (fixed with rule 20, not released yet): ``max_entries`` counted an address's unbonding entries *still
maturing* from a node, so a matured entry nobody withdrew no longer counted, and every slash of the node walks every entry
from it (``slashing.slash``: ``state.unbondings_from``). An address holding one position at the minimum could undelegate
1 base unit ``max_entries`` times every ``unbonding_period_epochs``, top the position up, and pile up entries without end
(7 every 2 epochs per address and node at the defaults) for the price of a unit each: the stake records a slash reads
were not bounded by the stake locked in them. From rule 20 the count is every entry of the address from the node not yet
withdrawn (``stake.withdraw`` takes all the matured ones at once, so the stake leaves only with its entries).

Mutants of the call sites tried (16; each now fails a test of this file, of tests/core/test_min_position.py or of
tests/core/test_entry_limits.py). Three survived tests/core/test_min_position.py and are killed here: stake.bond's check
on ``amount`` instead of the self-bond after it (a 1-unit bond onto a self-bond at the minimum refused), the cancel's ``if
returning`` guard dropped (a cancel whose spared slashes took all of it refused on a position a slash left under the
minimum), the max_entries count back to maturing entries under rule 20 (also ``>`` for ``>=``). The others (the
redelegation's ends on ``amount``/``have``/the wrong node, the undelegation on ``have``, the delegation on ``amount``, the
cancel on ``returning`` alone or on ``amount``, the register's check dropped, the operator's unbond unchecked, the
destination unchecked when empty, the entry count over every node) were already killed there."""

from __future__ import annotations

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.rules import LATEST, RULES_MIN_POSITION
from cor_incentives.core.slashing import slash
from cor_incentives.core.state_codec import state_hash
from support import min_position
from support.chain import Chain, addr
from support.min_position import COR, MIN, held, refused

A, B, D, E, X = addr("a"), addr("b"), addr("d"), addr("e"), addr("x")


def chain(rule: int = LATEST, **params) -> Chain:
    """Rule 20's test chain with one more key, ``x``, holding 10 000 COR."""
    return min_position.chain(rule, wallets={"x": 10_000 * COR}, **params)


def from_node(c: Chain, node: str, who: str) -> int:
    return sum(1 for u in c.state.unbondings_from(node) if u.address == who)


# --- the hole: unbonding entries piled up past max_entries --------------------------------------------------------


def pile_up(c: Chain, rounds: int) -> None:
    """d keeps one position at the minimum in A and, every unbonding period, undelegates 1 unit 7 times (max_entries),
    topping the position back up: never withdrawing."""
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN + 7)})
    for _ in range(rounds):
        for _ in range(7):
            c.as_("d", "stake.undelegate", {"node": A, "amount": "1"})
        c.as_("d", "stake.delegate", {"node": A, "amount": "7"})
        c.oracle("epoch.close", {})
        c.oracle("epoch.close", {})  # the 7 entries matured (unbonding_period_epochs 2), not withdrawn


def test_matured_entries_nobody_withdrew_count_toward_max_entries():
    """One position at the minimum cannot leave more than max_entries entries from its node for every slash to walk:
    the 8th entry is refused while 7 are held, matured or not (too_many_unbonding_entries, nothing written); after
    stake.withdraw (all the matured ones) it may unbond again."""
    c = chain()
    pile_up(c, 1)
    assert from_node(c, A, D) == 7 and all(u.mature_epoch <= c.state.epoch for u in c.state.unbondings_from(A))
    err = refused(c, "d", "stake.undelegate", {"node": A, "amount": "1"}, "too_many_unbonding_entries")
    assert "stake.withdraw takes the 7 matured ones" in err.message and "wait for one to mature" not in err.message  # (waiting frees nothing)
    c.as_("d", "stake.withdraw", {})
    assert from_node(c, A, D) == 0
    c.as_("d", "stake.undelegate", {"node": A, "amount": "1"})
    assert from_node(c, A, D) == 1
    for _ in range(6):
        c.as_("d", "stake.undelegate", {"node": A, "amount": "1"})
    c.as_("d", "stake.delegate", {"node": A, "amount": "7"})
    err = refused(c, "d", "stake.undelegate", {"node": A, "amount": "1"}, "too_many_unbonding_entries")  # 7 maturing
    assert f"none has matured yet: stake.withdraw one once it has (epoch {c.state.epoch + 2})" in err.message
    assert state_hash(replay(c.events, check_each=True)) == state_hash(c.state)


def test_the_entries_a_slash_walks_stay_bounded_by_the_positions_behind_them():
    """Ten unbonding periods of the pile-up: without the fix 70 entries from A (one address, 1 COR locked), with it
    never more than max_entries."""
    c = chain()
    with pytest.raises(EngineError) as e:
        pile_up(c, 10)
    assert e.value.code == "too_many_unbonding_entries"
    assert from_node(c, A, D) == 7


def test_rule_19_keeps_counting_maturing_entries_only():
    """Old logs replay unchanged: under rule 19 matured entries do not count (the pile-up goes through)."""
    c = chain(RULES_MIN_POSITION - 1)
    pile_up(c, 3)
    assert from_node(c, A, D) == 21
    assert state_hash(replay(c.events, check_each=True)) == state_hash(c.state)


# --- sequences that must not give a position in (0, minimum) --------------------------------------------------------


def test_a_redelegation_of_a_slashed_position_goes_whole_into_a_position_at_the_minimum_or_not_at_all():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.oracle("tick", {"ticks": 1})
    slash(c.state, A, "commit_mismatch", c.state.tick, {"task": 1}, None)
    left = held(c, A, D)
    assert 0 < left < MIN
    refused(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": str(left)})  # into nothing: B's under the minimum
    refused(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": "1"})  # part of it: A's rest moves
    c.as_("d", "stake.delegate", {"node": B, "amount": str(MIN)})
    refused(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": str(left - 1)})  # leaves 1 unit in A
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": str(left)})  # all of it onto a position at the minimum
    assert (held(c, A, D), held(c, B, D)) == (0, MIN + left)


def test_a_redelegation_onto_grandfathered_dust_must_bring_it_to_the_minimum():
    c = chain(RULES_MIN_POSITION - 1)
    c.as_("d", "stake.delegate", {"node": B, "amount": "1"})  # dust under rule 19
    c.as_("d", "stake.delegate", {"node": A, "amount": str(5 * MIN)})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    pid = c.state.next_id
    c.as_("a", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"rule_version": RULES_MIN_POSITION}})
    for n in "ab":
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": 20})
    c.as_("e", "stake.delegate", {"node": A, "amount": "1"})  # the last epoch of rule 19: still dust
    c.oracle("epoch.close", {})
    assert c.state.params.rule_version == RULES_MIN_POSITION
    refused(c, "e", "stake.delegate", {"node": A, "amount": "1"})  # the first command under rule 20
    refused(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": str(MIN - 2)})  # 1 + MIN-2: one unit short
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": str(MIN - 1)})
    assert held(c, B, D) == MIN
    assert state_hash(replay(c.events, check_each=True)) == state_hash(c.state)


def test_a_cancel_of_an_entry_slashed_while_unbonding_must_still_reach_the_minimum():
    """The entry itself was slashed (the offence came before the unbond): what is left of it is what returns."""
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.oracle("tick", {"ticks": 1})
    offence = c.state.tick
    c.oracle("tick", {"ticks": 1})
    c.as_("d", "stake.undelegate", {"node": A, "amount": str(MIN)})
    (u,) = c.state.unbondings.values()
    slash(c.state, A, "commit_mismatch", offence, {"task": 1}, None)
    assert c.state.unbondings[u.id].amount == MIN - MIN * 500 // 10_000
    refused(c, "d", "stake.cancel_unbond", {"id": u.id})
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.as_("d", "stake.cancel_unbond", {"id": u.id})
    assert held(c, A, D) == 2 * MIN - MIN * 500 // 10_000


def test_a_cancel_that_returns_nothing_is_not_judged_on_the_position():
    """A counted offence whose fixed penalty covers its whole pool takes all of a spared entry; the cancel then returns
    nothing and is allowed though the position (left under the minimum by a later slash) would refuse any change."""
    c = chain(min_self_bond_miner_units=str(1_000 * COR))
    c.as_("x", "node.register", {"role": "miner", "self_bond": str(1_000 * COR)})
    c.as_("x", "stake.unbond", {"amount": str(1_000 * COR)})  # X's operator leaves: its stake is d's alone
    c.as_("d", "stake.delegate", {"node": X, "amount": str(3 * MIN)})
    c.as_("d", "stake.undelegate", {"node": X, "amount": str(MIN)})
    (u,) = [u for u in c.state.unbondings.values() if u.address == D]
    c.oracle("tick", {"ticks": 1})
    slash(c.state, X, "poi_divergence", c.state.tick, {"task": 1}, None)  # 10 COR penalty over 2 COR: all of it
    assert held(c, X, D) == 0
    c.as_("d", "stake.delegate", {"node": X, "amount": str(MIN)})
    c.oracle("tick", {"ticks": 1})
    slash(c.state, X, "commit_mismatch", c.state.tick, {"task": 2}, None)
    assert 0 < held(c, X, D) < MIN
    before = held(c, X, D)
    c.as_("d", "stake.cancel_unbond", {"id": u.id})  # the first spared slash takes all of it: nothing returns
    assert u.id not in c.state.unbondings and held(c, X, D) == before


# --- call sites: changes that stay at or above the minimum are allowed --------------------------------------------


def test_a_bond_of_one_unit_onto_a_self_bond_at_the_minimum_is_allowed():
    c = chain()
    c.as_("a", "stake.bond", {"amount": "1"})
    assert held(c, A, A) == 1_000 * COR + 1


def test_a_redelegation_of_one_unit_onto_a_position_at_the_minimum_is_allowed():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(2 * MIN)})
    c.as_("d", "stake.delegate", {"node": B, "amount": str(MIN)})
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": "1"})
    assert (held(c, A, D), held(c, B, D)) == (2 * MIN - 1, MIN + 1)


def test_governance_lowering_the_minimum_is_the_only_way_to_new_dust():
    """min_position_units is a parameter (bounds 1..2**256-1): a passed param_change to 1 unit is rule 19's behaviour
    again, and raising it back leaves what was made grandfathered. No holder can do this alone."""
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": str(MIN)})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    pid = c.state.next_id
    c.as_("a", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"min_position_units": "1"}})
    for n in "ab":
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": 20})
    c.oracle("epoch.close", {})
    c.as_("e", "stake.delegate", {"node": A, "amount": "1"})
    assert held(c, A, E) == 1
