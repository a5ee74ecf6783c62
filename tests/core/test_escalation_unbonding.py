"""Rule 34 (``RULES_ESCALATION_UNBONDING``): the escalation charge of rule 33 reaches, after the self-bond, the operator's own
unbonding entries from its node started in the epoch being closed (docs/rewards.md, "An escalation charge reaches the
dissenter's unbonding of the epoch (rule 34)"). The window (core/rewards.py ``reachable_unbonding``, ``bond_capacity``),
twin worlds through the chain (no dodge, the whole bond unbonded, part of it, two entries), random lives under 33 and 34
side by side with the dodge, and a rule-33 log with the dodge replaying to the hash main's code gave it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core.ledger import NETWORK_INCENTIVES_POOL, unbonding
from cor_incentives.core.rewards import bond_capacity, reachable_unbonding, unfunded_charge
from cor_incentives.core.rules import RULE_VERSIONS, RULES_ESCALATION_UNBONDING
from cor_incentives.core.staking import stake_account, stake_matches_ledger
from cor_incentives.core.streams import Stream
from cor_incentives.core.units import COR, PPB
from core.test_escalation_pay import HONEST, lines
from support.escalation_lives import unbond_dodge_life
from support.market import market, network_drawn, validate_all
from support.replays import through_snapshot

NEW = RULES_ESCALATION_UNBONDING
OLD = max(v for v in RULE_VERSIONS if v < NEW)


def charges(record) -> list:
    return [i for i in record.items if i.stream == Stream.ESCALATION_UNFUNDED]


# --- the window ---------------------------------------------------------------------------------------------------


def window_chain(rule_version: int):
    """v0 unbonds 10 COR in epoch 0, 20 COR at the first tick of epoch 1 and 30 COR later in it; a delegator of v0 undelegates
    in epoch 1; v0 itself, delegating to v1, undelegates from v1 in epoch 1."""
    c = market(n_miners=3, n_validators=2, params={"rule_version": rule_version})
    v, w = sorted(n for n in c.state.nodes if c.state.nodes[n].role == "validator")[:2]
    c.submit(v, "stake.unbond", {"amount": str(10 * COR)})  # epoch 0
    c.oracle("tick", {"ticks": 5})
    c.oracle("epoch.close", {})
    start = c.state.epoch_start_tick
    c.submit(v, "stake.unbond", {"amount": str(20 * COR)})  # at the epoch's first tick (the previous close's)
    c.as_("user", "stake.delegate", {"node": v, "amount": str(50 * COR)})
    c.submit(v, "stake.delegate", {"node": w, "amount": str(40 * COR)})
    c.oracle("tick", {"ticks": 3})
    c.as_("user", "stake.undelegate", {"node": v, "amount": str(50 * COR)})  # a delegator's entry from v: not v's own
    c.submit(v, "stake.undelegate", {"node": w, "amount": str(40 * COR)})  # v's entry from another node: not from v
    c.submit(v, "stake.unbond", {"amount": str(30 * COR)})
    return c, v, start


def test_the_window_is_the_operators_own_entries_from_its_node_started_in_the_epoch():
    c, v, start = window_chain(NEW)
    mine = [u for u in c.state.unbondings_of(v) if u.node == v]
    assert [u.amount for u in mine] == [10 * COR, 20 * COR, 30 * COR] and mine[0].start_tick < start == mine[1].start_tick
    got = reachable_unbonding(c.state, v)
    assert [u.id for u in got] == [mine[1].id, mine[2].id]  # by id, oldest first; epoch 0's entry is not reached
    assert len(c.state.unbondings_from(v)) == 4  # the delegator's entry is there, and not reached
    bond, rate = c.state.ledger.balance(stake_account(v, v)), 42 * COR
    assert bond_capacity(c.state, [v], rate).tolist() == [(bond + 50 * COR) * PPB // rate]
    # at a rate one base unit past the reach a million validations cost: one ppb short of them (rounded down)
    assert bond_capacity(c.state, [v], (bond + 50 * COR + 1) * 1000).tolist() == [10**6 - 1]
    assert bond_capacity(c.state, [v], (bond + 50 * COR) * 1000).tolist() == [10**6]
    old, v_old, _ = window_chain(OLD)
    assert bond_capacity(old.state, [v_old], rate).tolist() == [bond * PPB // rate]  # rule 33: the bond alone
    assert bond_capacity(old.state, [v_old], bond * 1000).tolist() == [10**6]
    mine[1].amount = 0  # an entry a slash emptied (it stays until withdrawn): no piece of 0 is taken from it
    assert [u.id for u in reachable_unbonding(c.state, v)] == [mine[2].id]


# --- twin worlds through the chain ----------------------------------------------------------------------------------


def dodged(rule_version: int, unbond: tuple[int, ...] | None, keep: int = 0):
    """A network task among 10 validators whose first validator drawn reports a miner 0.11 low (it has no other validation:
    it owes the whole escalation, 4 validations, 168 COR at the default rate); after validating, the dissenter unbonds
    ``unbond`` (amounts in COR; the last one is the rest of its bond less ``keep`` COR), then the epoch closes."""
    c = market(n_miners=3, n_validators=10, beacon=True, params={"rule_version": rule_version})
    c.oracle("epoch.close", {})
    e = c.state.epoch
    tid, task, liar, target = network_drawn(c)
    validate_all(c, tid, lambda v, m: (HONEST[0], HONEST[1] - 110_000_000) if v == liar and m == target else HONEST)
    bond_before = c.state.ledger.balance(stake_account(liar, liar))
    ids = []
    if unbond is not None:
        *parts, _ = unbond
        for amount in [x * COR for x in parts] + [bond_before - sum(parts) * COR - keep * COR]:
            c.submit(liar, "stake.unbond", {"amount": str(amount)})
            ids.append(max(u.id for u in c.state.unbondings_of(liar)))
    pool = c.state.ledger.balance(NETWORK_INCENTIVES_POOL)
    held = c.state.ledger.balance(unbonding(liar))
    c.oracle("epoch.close", {})
    return c, c.state.epochs[e], c.state.tasks[tid], liar, bond_before, ids, pool, held


def test_twin_worlds_the_last_tick_unbond_escapes_under_33_and_the_entry_pays_under_34():
    plain, plain_rec, task, liar, bond, _, _, _ = dodged(NEW, None)
    (item,) = charges(plain_rec)
    charge = -item.amount
    owed = item.detail["validation_units_ppb"]
    assert charge == unfunded_charge(owed, plain.state.params.network_validation_rate_units) == 168 * COR
    assert item.detail["from_bond_units"] == charge and item.detail["from_unbonding"] == []  # nothing unbonding: the bond pays
    assert plain.state.ledger.balance(stake_account(liar, liar)) == bond - charge

    old, old_rec, _, liar_old, _, _, _, _ = dodged(OLD, (0,))
    assert liar_old == liar and charges(old_rec) == []  # rule 33: the bond is 0 at the close, nothing is charged
    c, rec, task, _, _, (entry,), pool, held = dodged(NEW, (0,))
    (item,) = charges(rec)
    assert -item.amount == charge and item.detail["validation_units_ppb"] == owed
    assert item.detail["from_bond_units"] == 0
    u = c.state.unbondings[entry]
    assert item.detail["from_unbonding"] == [{"unbonding_id": entry, "unbonding_start_tick": u.start_tick, "amount_units": charge}]
    assert u.amount == bond - charge and c.state.ledger.balance(unbonding(liar)) == held - charge
    assert stake_matches_ledger(c.state, c.state.nodes[liar]) and c.state.nodes[liar].stake_total == 0
    for account in (NETWORK_INCENTIVES_POOL, "treasury", "burned"):  # the piece went where the bond's charge goes: the pool
        assert c.state.ledger.balance(account) == plain.state.ledger.balance(account)
    # the escalation validators are paid as when the bond paid (rule 34 no dodge); under 33 with the dodge, short
    later = [v for v in task.validators if task.validator_round[v] == 1]
    n, p, o = lines(rec), lines(plain_rec), lines(old_rec)
    for v in later:
        assert n[v]["work"] == p[v]["work"] == task.agreement_ppb[v] and o[v]["work"] < PPB // 4
    # the cancel after the close returns what is left: the operator ends where the bond-paying twin ends
    c.submit(liar, "stake.cancel_unbond", {"id": entry})
    assert c.state.ledger.balance(stake_account(liar, liar)) == bond - charge == plain.state.ledger.balance(stake_account(liar, liar))
    assert entry not in c.state.unbondings
    # under 33 the cancel returns the whole bond: the charge was dodged
    old.submit(liar, "stake.cancel_unbond", {"id": max(u.id for u in old.state.unbondings_of(liar))})
    assert old.state.ledger.balance(stake_account(liar, liar)) == bond


def test_the_bond_pays_first_then_the_entries_oldest_first():
    _, plain_rec, *_ = dodged(NEW, None)
    charge = -charges(plain_rec)[0].amount
    c, rec, _, liar, bond, (entry,), _, _ = dodged(NEW, (0,), keep=100)  # 100 COR left bonded
    (item,) = charges(rec)
    assert -item.amount == charge and item.detail["from_bond_units"] == 100 * COR
    assert [x["amount_units"] for x in item.detail["from_unbonding"]] == [charge - 100 * COR]
    assert c.state.ledger.balance(stake_account(liar, liar)) == 0 and c.state.unbondings[entry].amount == bond - 100 * COR - (charge - 100 * COR)
    c, rec, _, liar, bond, (a, b), _, _ = dodged(NEW, (10, 0))  # two entries: 10 COR, then the rest
    (item,) = charges(rec)
    assert item.detail["from_bond_units"] == 0
    assert [(x["unbonding_id"], x["amount_units"]) for x in item.detail["from_unbonding"]] == [(a, 10 * COR), (b, charge - 10 * COR)]
    assert c.state.unbondings[a].amount == 0 and c.state.unbondings[b].amount == bond - 10 * COR - (charge - 10 * COR)
    c, rec, _, liar, bond, (a, b), _, _ = dodged(NEW, (1000, 0))  # the oldest covers it: the newer one untouched
    assert [(x["unbonding_id"], x["amount_units"]) for x in charges(rec)[0].detail["from_unbonding"]] == [(a, charge)]
    assert c.state.unbondings[b].amount == bond - 1000 * COR


def test_rule_33_lines_name_no_pieces():
    _, rec, *_ = dodged(OLD, None)
    (item,) = charges(rec)
    assert set(item.detail) == {"validation_units_ppb", "rate_units", "formula", "from"}


# --- random lives under 33 and 34 -----------------------------------------------------------------------------------


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copiers=st.integers(0, 2), tasks=st.integers(2, 4), seed=st.integers(1, 1000))
def test_property_rules_33_and_34_side_by_side_with_the_dodge_conserve_replay_and_the_pieces_add_up(copiers, tasks, seed):
    from cor_incentives.core.apply import replay
    from cor_incentives.core.state_codec import state_hash
    from cor_incentives.sim.chain import addr

    op = addr("dissenter-00")
    old = unbond_dodge_life(OLD, seed, copiers, tasks, epochs=2)
    new = unbond_dodge_life(NEW, seed, copiers, tasks, epochs=2)
    first = min(new.state.epochs)
    assert old.state.epochs[first].streams["validators"]["tasks"] == new.state.epochs[first].streams["validators"]["tasks"]
    for item in charges(old.state.epochs[first]):  # rule 33: the dissenter's bond is 0 at the close, so it is never charged
        assert item.address != op and set(item.detail) == {"validation_units_ppb", "rate_units", "formula", "from"}
    for record in new.state.epochs.values():
        for item in charges(record):
            pieces = item.detail["from_unbonding"]
            assert item.detail["from_bond_units"] + sum(x["amount_units"] for x in pieces) == -item.amount > 0
            assert all(x["amount_units"] > 0 and record.start_tick <= x["unbonding_start_tick"] <= record.end_tick for x in pieces)
            assert [x["unbonding_id"] for x in pieces] == sorted(x["unbonding_id"] for x in pieces)
    for chain in (old, new):  # conservation after every event; replay from genesis and through a snapshot equal the live state
        replayed = replay(chain.events, check_each=True)
        assert state_hash(replayed) == state_hash(chain.state)
        through_snapshot(replayed)


# --- replay: a log under rule 33 replays as main's code replayed it -------------------------------------------------

# the state hash main's code (a1bad55, rule 33 its latest) gave unbond_dodge_life(33) (seed 7, 3 epochs, 609 events), recorded
# once with PYTHONPATH=<main>/src:<this branch>/tests
MAIN_STATE_HASH_33 = "0x058b04c74ce6725f535436893b6bc92c9e18e6b936033573e2a3505452c1aa42"


def test_a_rule_33_log_with_the_dodge_replays_to_the_hash_main_gave_it_and_under_34_the_entries_pay():
    from cor_incentives.core.apply import replay
    from cor_incentives.core.state_codec import state_hash
    from cor_incentives.sim.chain import addr

    life = unbond_dodge_life(OLD)
    old = replay(life.events, check_each=True)
    assert old.params.rule_version == OLD and state_hash(old) == MAIN_STATE_HASH_33 and len(life.events) == 609
    new = unbond_dodge_life(NEW).state
    through_snapshot(new)
    op = addr("dissenter-00")
    mine = [i for r in new.epochs.values() for i in charges(r) if i.address == op]
    assert mine and all(i.detail["from_unbonding"] for i in mine)
    assert not [i for r in old.epochs.values() for i in charges(r) if i.address == op]
