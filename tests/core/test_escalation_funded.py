"""Rule 33 (``RULES_ESCALATION_FUNDED``): what a dissenter owes for an escalation beyond what its other validations of the
epoch pay is charged from its self-bond (docs/rewards.md, "An escalation a dissenter cannot pay for is charged to its
bond (rule 33)"). The column (core/epoch_rows.py ``escalation_paid`` with ``bond_units``), the charge's conversion
(core/rewards.py ``bond_capacity``, ``unfunded_charge``), twin worlds through the chain, random lives under 32 and 33
side by side, and a rule-32 log replaying to the hash main's code gave it."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core.epoch_rows import escalation_paid
from cor_incentives.core.ledger import NETWORK_INCENTIVES_POOL
from cor_incentives.core.rewards import bond_capacity, unfunded_charge
from cor_incentives.core.rules import RULE_VERSIONS, RULES_ESCALATION_FUNDED, RULES_ESCALATION_UNBONDING
from cor_incentives.core.staking import stake_account
from cor_incentives.core.streams import Stream
from cor_incentives.core.units import PPB
from core.test_escalation_pay import HONEST, columns, lines, paid_of, reference_paid, task_rows
from support.escalation_lives import dissenter_life, escalation_old_log
from support.market import market, network_drawn, validate_all
from support.replays import replays_as_recorded, through_snapshot

OLD = max(v for v in RULE_VERSIONS if v < RULES_ESCALATION_FUNDED)


def funded(rows, bonds: list[int]):
    """Each row's counted agreement and each node's units from its bond, with ``bonds`` (validation units by node)."""
    cols = columns(rows)
    cut = escalation_paid(cols, None, np.array(bonds + [0] * (len(cols.names) - len(bonds)), dtype=np.int64))
    out = [a if on else 0 for _, _, a, on, _, _, _ in rows]
    for r, c in zip(cut.rows.tolist(), cut.cut_ppb.tolist()):
        assert 0 < c <= out[r]
        out[r] -= c
    assert cut.from_bond is not None
    return out, cut.from_bond.tolist()


# one task: node 0 dissented (row counts 0), the first round left one validation, the escalation earns 2.8
ESC = task_rows(1, [(0, 700_000_000), (1, PPB), (2, PPB)], [(3, PPB), (4, 800_000_000), (5, PPB)], {0})
LEFT, TOTAL = PPB, 2_800_000_000
OWED = TOTAL - LEFT


def test_a_dissenter_with_no_other_validation_pays_the_whole_escalation_from_its_bond():
    got, bond = funded(ESC, [10 * PPB])
    assert got[3:6] == [PPB, 800_000_000, PPB]  # the escalation rows in full (rule 32: in proportion to the leftover)
    assert bond[0] == OWED and bond[1:] == [0] * 5
    assert paid_of(ESC)[0][3:6] == [PPB * LEFT // TOTAL, 800_000_000 * LEFT // TOTAL, PPB * LEFT // TOTAL]


def test_a_bond_short_of_the_debt_funds_what_it_holds_and_no_more():
    got, bond = funded(ESC, [OWED - 1])  # one ppb short
    assert bond[0] == OWED - 1
    assert got[3:6] == [x * (TOTAL - 1) // TOTAL for x in (PPB, 800_000_000, PPB)]
    got, bond = funded(ESC, [OWED])  # exactly enough
    assert bond[0] == OWED and got[3:6] == [PPB, 800_000_000, PPB]
    got, bond = funded(ESC, [0])  # nothing bonded: as rule 32
    assert bond[0] == 0 and got == reference_paid(ESC)


def test_the_rows_pay_first_and_the_bond_only_the_rest():
    rows = ESC + [(2, 0, 300_000_000, True, True, 0, False)]  # it earned 0.3 elsewhere
    got, bond = funded(rows, [10 * PPB])
    assert got[6] == 0 and bond[0] == OWED - 300_000_000
    assert got[3:6] == [PPB, 800_000_000, PPB]
    rows = ESC + [(2 + t, 0, PPB, True, True, 0, False) for t in range(4)]  # enough elsewhere: the bond untouched
    got, bond = funded(rows, [10 * PPB])
    assert bond[0] == 0 and got == reference_paid(rows)


def test_two_dissenters_each_pay_their_share_from_their_own_bond():
    rows = task_rows(1, [(0, 600_000_000), (1, 700_000_000), (2, PPB)], [(3, PPB), (4, PPB), (5, PPB)], {0, 1})
    got, bond = funded(rows, [PPB, 10 * PPB])
    owed = (3 * PPB - 2 * PPB) // 2
    assert bond[:2] == [owed, owed] and got[3:6] == [PPB] * 3  # each from its own bond, the bonds differing


def test_without_bonds_the_column_is_rule_32s():
    rows = ESC + [(2, 0, 300_000_000, True, True, 0, False)]
    cut = escalation_paid(columns(rows))
    assert cut.from_bond is None and paid_of(rows)[0] == funded(rows, [0])[0]


def test_the_charge_rounds_up_and_never_exceeds_the_bond_it_was_counted_from():
    rate = 3 * 10**17 + 7  # a rate that does not divide 10**9 evenly
    assert unfunded_charge(0, rate) == 0
    assert unfunded_charge(1, rate) == -(-rate // PPB) == rate // PPB + 1
    assert unfunded_charge(PPB, rate) == rate
    for bond in (1, rate // PPB, rate, 12_345 * 10**18 + 1):
        units = bond * PPB // rate  # bond_capacity's floor
        assert unfunded_charge(units, rate) <= bond


def test_the_bond_counts_in_whole_ppb_of_a_validation_rounded_down_and_0_for_an_unknown_node():
    c = market(n_miners=3, n_validators=2, beacon=True, params={"rule_version": RULES_ESCALATION_FUNDED})
    v = sorted(n for n in c.state.nodes if c.state.nodes[n].role == "validator")[0]
    bond = c.state.ledger.balance(stake_account(v, v))
    rate = 3 * 10**17 + 7
    got = bond_capacity(c.state, [v, "nobody"], rate).tolist()
    assert got == [bond * PPB // rate, 0] and unfunded_charge(got[0], rate) <= bond < unfunded_charge(got[0] + 1, rate)
    assert bond_capacity(c.state, [v], 0).tolist() == [0]


# --- twin worlds through the chain ----------------------------------------------------------------------------------


def one_task(rule_version: int, dissent: bool):
    """A network task among 10 validators where the first validator drawn (when ``dissent``) reports a miner 0.11 low:
    it has no other validation of the epoch, so its capacity is its bond alone."""
    c = market(n_miners=3, n_validators=10, beacon=True, params={"rule_version": rule_version})
    c.oracle("epoch.close", {})
    e = c.state.epoch
    tid, task, liar, target = network_drawn(c)

    def judge(v: str, m: str) -> tuple[int, int]:
        return (HONEST[0], HONEST[1] - 110_000_000) if dissent and v == liar and m == target else HONEST

    validate_all(c, tid, judge)
    bond_before = c.state.ledger.balance(stake_account(liar, liar))
    pool_before = c.state.ledger.balance(NETWORK_INCENTIVES_POOL)
    c.oracle("epoch.close", {})
    return c, c.state.epochs[e], c.state.tasks[tid], liar, bond_before, pool_before


def test_twin_worlds_the_escalation_is_funded_from_the_dissenters_bond_under_33_and_short_under_32():
    _, honest, _, _, _, _ = one_task(RULES_ESCALATION_FUNDED, False)
    _, old, _, liar_old, _, _ = one_task(OLD, True)
    old_chain = one_task(OLD, True)[0]
    c, new, task, liar, bond_before, _ = one_task(RULES_ESCALATION_FUNDED, True)
    assert liar == liar_old and task.dissenters == [liar] and not c.state.slashes
    h, o, n = lines(honest), lines(old), lines(new)
    later = [v for v in task.validators if task.validator_round[v] == 1]
    assert len(later) == 5
    for v in later:  # rule 33: each escalation validator paid its agreement; rule 32: a sliver (the leftover shared)
        assert n[v]["work"] - h.get(v, {"work": 0})["work"] == task.agreement_ppb[v]
        assert o[v]["work"] - h.get(v, {"work": 0})["work"] < PPB // 4
    owed = sum(task.agreement_ppb[v] for v in later) - (5 * PPB - sum(task.agreement_ppb[v] for v in task.validators[:5] if v != liar))
    rate = c.state.params.network_validation_rate_units
    charge = unfunded_charge(owed, rate)
    items = [i for i in new.items if i.stream == Stream.ESCALATION_UNFUNDED]
    assert [(i.address, i.amount, i.detail["validation_units_ppb"]) for i in items] == [(liar, -charge, owed)]
    assert charge == -(-owed * rate // PPB) > 0
    assert c.state.ledger.balance(stake_account(liar, liar)) == bond_before - charge == c.state.nodes[liar].stake_total
    assert not [i for i in old.items if i.stream == Stream.ESCALATION_UNFUNDED]
    for account in ("treasury", "burned"):  # the charge goes to the pool: nothing to the treasury or burned beyond rule 32's
        assert c.state.ledger.balance(account) == old_chain.state.ledger.balance(account)
    assert not [i for i in honest.items if i.stream == Stream.ESCALATION_UNFUNDED]


# --- random lives under 32 and 33 -----------------------------------------------------------------------------------


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copiers=st.integers(0, 3), offline=st.integers(0, 1), tasks=st.integers(2, 5), seed=st.integers(1, 1000))
def test_property_rules_32_and_33_side_by_side_conserve_replay_and_the_bond_pays_only_what_the_rows_cannot(copiers, offline, tasks, seed):

    old = dissenter_life("escalation_funded_life", OLD, copiers, offline, tasks, seed)
    new = dissenter_life("escalation_funded_life", RULES_ESCALATION_FUNDED, copiers, offline, tasks, seed)
    first = min(new.state.epochs)
    a, b = old.state.epochs[first].streams["validators"], new.state.epochs[first].streams["validators"]
    assert a["tasks"] == b["tasks"]  # the same life up to the first close
    charged = [i for i in new.state.epochs[first].items if i.stream == Stream.ESCALATION_UNFUNDED]
    assert all(i.amount < 0 and i.detail["validation_units_ppb"] > 0 for i in charged)
    if not charged:  # no bond charged: the close paid as under 32
        assert lines(old.state.epochs[first]) == lines(new.state.epochs[first])
    for chain in (old, new):  # conservation after every event; replay from genesis and through a snapshot equal the live state
        through_snapshot(replays_as_recorded(chain.events, chain.state))


# --- replay: a log under rule 32 replays as main's code replayed it -------------------------------------------------

# the state hash main's code (bed88e3, rule 32 its latest) gave escalation_old_log(32) after replay, recorded once with its src
MAIN_STATE_HASH_32 = "0xcc0df0a6f3fe00955d8604492ae8900c3ac26b4ff33a8314b6d1be6d87eed037"


def test_a_rule_32_log_replays_to_the_hash_main_gave_it_and_the_same_life_under_33_charges_a_bond():
    from cor_incentives.core.apply import replay
    from cor_incentives.core.state_codec import state_hash

    old = replay(escalation_old_log(OLD), check_each=True)
    assert old.params.rule_version == OLD and state_hash(old) == MAIN_STATE_HASH_32
    new = replay(escalation_old_log(RULES_ESCALATION_FUNDED), check_each=True)
    through_snapshot(new)
    assert state_hash(new) != MAIN_STATE_HASH_32


def test_a_rate_so_small_the_bond_counts_past_int64_still_closes_and_charges_within_the_bond():
    """Governance may set ``network_validation_rate_units`` as low as 1 base unit: a bond of 10**22 then counts 10**31
    validation units, past int64. The capacity is capped at 2**63 − 1 (what a capacity can fund is bounded by the debt
    anyway); before the cap ``bond_capacity`` raised OverflowError and the close of any epoch with a debtor was refused,
    every ``epoch.close`` after it too (found by helper s38-mult)."""
    for rule in (RULES_ESCALATION_FUNDED, RULES_ESCALATION_UNBONDING):
        c = market(n_miners=3, n_validators=10, beacon=True, params={"rule_version": rule, "network_validation_rate_units": 1})
        v = sorted(n for n in c.state.nodes if c.state.nodes[n].role == "validator")[0]
        assert bond_capacity(c.state, [v], 1).tolist() == [2**63 - 1]
        c.oracle("epoch.close", {})
        e = c.state.epoch
        tid, task, liar, target = network_drawn(c)

        def judge(v: str, m: str, liar: str = liar, target: str = target) -> tuple[int, int]:
            return (HONEST[0], HONEST[1] - 110_000_000) if v == liar and m == target else HONEST

        validate_all(c, tid, judge)
        bond_before = c.state.ledger.balance(stake_account(liar, liar))
        c.oracle("epoch.close", {})
        assert c.state.epoch == e + 1 and c.state.tasks[tid].dissenters == [liar]
        items = [i for i in c.state.epochs[e].items if i.stream == Stream.ESCALATION_UNFUNDED]
        assert [i.address for i in items] == [liar]
        owed = items[0].detail["validation_units_ppb"]
        assert -items[0].amount == unfunded_charge(owed, 1) == -(-owed // PPB) > 0
        assert c.state.ledger.balance(stake_account(liar, liar)) == bond_before + items[0].amount
