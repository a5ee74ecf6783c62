"""Rule 35 (``RULES_ESCALATION_PRICED``): the escalation charge of rules 33-34 prices a validation at the most a payee can be
paid for it, ``network_validation_rate_units × reputation_multiplier_max_ppb`` (docs/rewards.md, "An escalation charge is
priced at the most a payee can be paid (rule 35)"). The price (core/rewards.py ``EscalationPrice``): rules 33-34's
formulas exactly at multiplier 1.0, the charge never beyond the stake its capacity was counted from and the capacity the
most that stays within it (hypothesis); the capacity and the charge through the chain at 34 and 35; twin one-task worlds
under 34 and 35; a rule-35 life with the dodge replayed from genesis and through a snapshot; and a rule-34 log replaying
to the hash main's code gave it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cor_incentives.core.rewards import CAPACITY_MAX, EscalationPrice, bond_capacity, unfunded_charge
from cor_incentives.core.rules import RULE_VERSIONS, RULES_ESCALATION_PRICED
from cor_incentives.core.staking import stake_account
from cor_incentives.core.streams import Stream
from cor_incentives.core.units import PPB
from core.test_escalation_funded import one_task
from core.test_escalation_pay import lines
from support.escalation_lives import unbond_dodge_life
from support.market import market
from support.replays import replays_as_recorded, through_snapshot

NEW = RULES_ESCALATION_PRICED
OLD = max(v for v in RULE_VERSIONS if v < NEW)


def charges(record) -> list:
    return [i for i in record.items if i.stream == Stream.ESCALATION_UNFUNDED]


# --- the price --------------------------------------------------------------------------------------------------------

RATES = st.integers(1, 10**22)
STAKES = st.integers(0, 10**27)


@given(stake=STAKES, rate=RATES, units=st.integers(0, 10**20))
def test_at_multiplier_1_the_price_is_rule_33s_exactly(stake, rate, units):
    price = EscalationPrice(rate)
    assert price.capacity(stake) == min(stake * PPB // rate, CAPACITY_MAX)
    assert price.charge(units) == -(-units * rate // PPB) == unfunded_charge(units, rate)


@given(stake=STAKES, rate=RATES, multiplier=st.integers(1, 10 * PPB))
def test_the_charge_of_the_capacity_stays_within_the_stake_and_one_unit_more_would_not(stake, rate, multiplier):
    """charge(capacity(S)) ≤ S (capacity rounds down: EscalationPrice's docstring proves it), and capacity is the most units
    whose charge stays within S (charge(capacity + 1) > S), unless it is capped at CAPACITY_MAX; charge never falls as units
    grow, so every units ≤ capacity charges within S too (escalation_paid takes at most the capacity)."""
    price = EscalationPrice(rate, multiplier, True)
    c = price.capacity(stake)
    assert 0 <= c <= CAPACITY_MAX
    assert price.charge(c) <= stake
    if c < CAPACITY_MAX:
        assert price.charge(c + 1) > stake
    assert price.charge(c // 2) <= price.charge(c)


@given(units=st.integers(1, 10**20), rate=RATES, multiplier=st.integers(PPB, 10 * PPB))
def test_the_charge_rounds_up_and_is_at_least_rule_33s_at_a_multiplier_of_1_or_more(units, rate, multiplier):
    price = EscalationPrice(rate, multiplier, True)
    exact = units * rate * multiplier
    assert price.charge(units) * PPB * PPB >= exact > (price.charge(units) - 1) * PPB * PPB  # the ceiling: the dissenter's
    assert price.charge(units) >= unfunded_charge(units, rate)


def test_a_zero_price_counts_no_capacity_and_charges_nothing():
    for price in (EscalationPrice(0, 1_500_000_000, True), EscalationPrice(10**18, 0, True)):
        assert price.capacity(10**24) == 0 and price.charge(PPB) == 0


def test_the_price_in_force_and_what_the_line_says_of_it():
    old = market(n_miners=3, n_validators=2, params={"rule_version": OLD}).state.params
    new = market(n_miners=3, n_validators=2, params={"rule_version": NEW}).state.params
    rate = new.network_validation_rate_units
    assert EscalationPrice.in_force(old, rate) == EscalationPrice(rate, PPB, False)
    assert EscalationPrice.in_force(new, rate) == EscalationPrice(rate, new.reputation_multiplier_max_ppb, True)
    assert new.reputation_multiplier_max_ppb > PPB  # (the default: 1.5)
    assert EscalationPrice.in_force(old, rate).detail() == {"rate_units": rate, "formula": "ceil(validation_units_ppb × rate_units / 1e9)"}
    said = EscalationPrice.in_force(new, rate).detail()
    assert said["rate_units"] == rate and said["multiplier_ppb"] == new.reputation_multiplier_max_ppb
    assert "rate_units × multiplier_ppb / 1e18" in said["formula"]


def test_the_bond_counts_at_the_max_multiplier_from_35_and_at_1_before():
    for rule in (OLD, NEW):
        c = market(n_miners=3, n_validators=2, beacon=True, params={"rule_version": rule})
        v = sorted(n for n in c.state.nodes if c.state.nodes[n].role == "validator")[0]
        bond = c.state.ledger.balance(stake_account(v, v))
        rate = 3 * 10**17 + 7
        multiplier = c.state.params.reputation_multiplier_max_ppb if rule == NEW else PPB
        got = bond_capacity(c.state, [v, "nobody"], rate).tolist()
        assert got == [bond * PPB * PPB // (rate * multiplier), 0]
        price = EscalationPrice.in_force(c.state.params, rate)
        assert price.charge(got[0]) <= bond < price.charge(got[0] + 1)


# --- twin worlds through the chain --------------------------------------------------------------------------------------


def test_twin_worlds_the_same_escalation_is_charged_at_the_max_multiplier_under_35_and_at_1_under_34():
    c_old, old, task_old, liar_old, bond_old, _ = one_task(OLD, True)
    c, new, task, liar, bond_before, _ = one_task(NEW, True)
    _, honest, _, _, _, _ = one_task(NEW, False)
    assert liar == liar_old and task.dissenters == task_old.dissenters == [liar] and bond_before == bond_old
    assert lines(new) == lines(old)  # the rows are paid alike: the bond covers the debt at either price
    (was,) = charges(old)
    (now,) = charges(new)
    units = now.detail["validation_units_ppb"]
    assert units == was.detail["validation_units_ppb"] > 0
    p = c.state.params
    rate, top = p.network_validation_rate_units, p.reputation_multiplier_max_ppb
    assert -was.amount == -(-units * rate // PPB) and "multiplier_ppb" not in was.detail
    assert -now.amount == -(-units * rate * top // PPB**2) > -was.amount
    assert now.detail["multiplier_ppb"] == top and now.detail["rate_units"] == rate
    assert c.state.ledger.balance(stake_account(liar, liar)) == bond_before + now.amount
    assert c_old.state.ledger.balance(stake_account(liar, liar)) == bond_before + was.amount
    # the pool's cost of the escalation: the stream's pay net of the charge, against the honest world's stream; rule 35
    # prices every funded validation at the most any row is paid for it, so the pool pays no more than with no dissent
    net = new.streams["validators"]["paid"] + now.amount
    assert net <= honest.streams["validators"]["paid"]
    assert old.streams["validators"]["paid"] == new.streams["validators"]["paid"]
    # rule 34 charged 168 COR at 1.0 for what the stream paid at the payees' multipliers: the pool paid 2.86 COR of it
    assert old.streams["validators"]["paid"] + was.amount > honest.streams["validators"]["paid"]


# --- lives with the dodge, and a rule-34 log --------------------------------------------------------------------------


def test_a_rule_35_life_with_the_dodge_charges_at_the_max_within_bond_and_entries_and_replays():
    chain = unbond_dodge_life(NEW)
    state = chain.state
    p = state.params
    price = EscalationPrice(p.network_validation_rate_units, p.reputation_multiplier_max_ppb, True)
    mine = [i for r in state.epochs.values() for i in charges(r)]
    assert mine
    for i in mine:
        assert -i.amount == price.charge(i.detail["validation_units_ppb"]) and i.detail["multiplier_ppb"] == price.multiplier_ppb
        assert i.detail["from_bond_units"] + sum(x["amount_units"] for x in i.detail["from_unbonding"]) == -i.amount
    assert any(i.detail["from_unbonding"] for i in mine)  # the entries pay at the price too
    through_snapshot(replays_as_recorded(chain.events, state))


# the state hash main's code (ac367ab, rule 34 its latest) gave unbond_dodge_life(34) (seed 7, 3 epochs, 631 events) after replay,
# recorded once with PYTHONPATH=<main>/src:<this branch>/tests
MAIN_STATE_HASH_34 = "0x3fa731b2feb7b92d925d22dd89364634e875dec071179a512c38969ab4fa8028"


def test_a_rule_34_log_replays_to_the_hash_main_gave_it_and_the_same_life_under_35_charges_more():
    from cor_incentives.core.apply import replay
    from cor_incentives.core.state_codec import state_hash

    life = unbond_dodge_life(OLD)
    old = replay(life.events, check_each=True)
    assert old.params.rule_version == OLD and state_hash(old) == MAIN_STATE_HASH_34 and len(life.events) == 631
    new = unbond_dodge_life(NEW).state
    first = min(new.epochs)
    was, now = charges(old.epochs[first]), charges(new.epochs[first])
    assert was and [i.address for i in now] == [i.address for i in was]  # the first close alike but for the price
    for a, b in zip(was, now):
        assert b.detail["validation_units_ppb"] == a.detail["validation_units_ppb"] and -b.amount > -a.amount
