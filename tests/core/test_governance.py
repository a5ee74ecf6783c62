"""Governance on the pure core: aged voting power, tallies with the stake still bonded, deposits, treasury
caps and timelock, voter rewards once per address, and a precise rejection (that changes nothing) for bad input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cor_incentives.app.signing import sign_scoped
from cor_incentives.core.apply import replay
from cor_incentives.core.controllers import adjust
from cor_incentives.core.errors import EngineError
from cor_incentives.core.governance import tally, timelock_ticks, voter_reward
from cor_incentives.core.records import Controller
from cor_incentives.core.signatures import private_key_address
from cor_incentives.core.units import COR
from support.chain import CHAIN_ID, Chain, addr
from support.market import MODEL, market, submit

PARAMS = {"min_self_bond_miner_units": "1", "gov_voting_period_ticks": 10, "epoch_length_ticks": 20, "gov_min_deposit_units": str(100 * COR)}
NODE_KEY = "0x" + "42" * 32
KEYED = private_key_address(NODE_KEY)


def gov_chain(age: bool = True) -> Chain:
    c = Chain(
        wallets={"n1": 10_000 * COR, "n2": 10_000 * COR, "n3": 10_000 * COR, "d": 10_000 * COR, "p": 1_000 * COR, "late": 100_000 * COR},
        params=PARAMS,
    )
    for n, bond in (("n1", 4000), ("n2", 3000), ("n3", 1000)):
        c.as_(n, "node.register", {"role": "miner", "self_bond": str(bond * COR)})
    c.as_("d", "stake.delegate", {"node": addr("n1"), "amount": str(2000 * COR)})
    if age:  # bonded before the previous epoch began: the stake votes from epoch 2 on
        c.oracle("epoch.close", {})
        c.oracle("epoch.close", {})
    return c  # total power 10 000: n1 6000 (incl. d's 2000), n2 3000, n3 1000


def propose(c, kind="param_change", who="p", **body):
    pid = c.state.next_id
    c.as_(
        who,
        "gov.propose",
        {
            "kind": kind,
            "title": "t",
            **({"changes": {"max_commission_bps": 3000}, "effective_epoch": c.state.epoch + 2} if kind == "param_change" and not body else body),
        },
    )
    return pid


def vote(c, who, pid, option="yes"):
    c.as_(who, "gov.vote", {"proposal": pid, "option": option})


def rejected(c, who, kind, body, code):
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.as_(who, kind, body)
    assert e.value.code == code, e.value.message
    assert c.state.to_dict() == before


def to_end(c, pid):
    c.oracle("tick", {"ticks": c.state.proposals[pid].end_tick - c.state.tick})


def test_param_change_passes_and_applies_from_its_epoch():
    c = gov_chain()
    pid = propose(c)
    assert c.balance(f"escrow:proposal:{pid}") == 100 * COR
    vote(c, "n1", pid)
    vote(c, "n2", pid, "no")
    to_end(c, pid)
    prop = c.state.proposals[pid]
    assert prop.status == "PASSED" and prop.tally == {"yes": 6000 * COR, "no": 3000 * COR, "abstain": 0, "veto": 0}
    assert prop.quorum_met and prop.executable_tick == prop.end_tick  # no timelock for a parameter change by default
    assert c.balance(f"wallet:{addr('p')}") == 1_000 * COR
    c.oracle("epoch.close", {})  # epoch 2 closes: executed, applies from epoch 4
    assert prop.status == "EXECUTED"
    assert c.state.params.max_commission_bps == 2000 and c.state.params_history.at(4).max_commission_bps == 3000
    c.oracle("epoch.close", {})
    assert c.state.params.max_commission_bps == 3000


def test_delegator_overrides_its_node_and_votes_its_own_position():
    c = gov_chain()
    pid = propose(c)
    vote(c, "n1", pid)
    vote(c, "d", pid, "no")
    prop = c.state.proposals[pid]
    assert tally(c.state, prop) == {"yes": 4000 * COR, "no": 2000 * COR, "abstain": 0, "veto": 0}
    to_end(c, pid)
    assert prop.voter_power == {addr("n1"): {addr("n1"): 4000 * COR}, addr("d"): {addr("d"): 2000 * COR}}


def test_only_stake_bonded_before_the_previous_epoch_began_votes():
    c = gov_chain(age=False)
    rejected(c, "p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 3000}}, "no_voting_power")
    c.oracle("epoch.close", {})  # epoch 1: bonded in epoch 0, only one epoch start since
    rejected(c, "p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 3000}}, "no_voting_power")
    c.oracle("epoch.close", {})  # epoch 2: bonded before epoch 1 began
    c.as_("late", "node.register", {"role": "miner", "self_bond": str(50_000 * COR)})  # a flash stake
    c.as_("late", "stake.delegate", {"node": addr("n2"), "amount": str(10_000 * COR)})
    pid = propose(c)
    prop = c.state.proposals[pid]
    assert prop.total_power == 10_000 * COR and addr("late") not in prop.positions
    rejected(c, "late", "gov.vote", {"proposal": pid, "option": "yes"}, "no_voting_power")


def test_stake_unbonded_after_the_snapshot_does_not_vote():
    c = gov_chain()
    pid = propose(c)
    vote(c, "n1", pid)
    c.as_("n1", "stake.unbond", {"amount": str(3000 * COR)})  # 1000 of its 4000 still bonded
    c.as_("d", "stake.undelegate", {"node": addr("n1"), "amount": str(500 * COR)})
    vote(c, "n2", pid, "no")
    to_end(c, pid)
    prop = c.state.proposals[pid]
    assert prop.tally["yes"] == 1000 * COR + 1500 * COR and prop.tally["no"] == 3000 * COR
    assert prop.status == "REJECTED" and prop.result == "threshold not met" and prop.total_power == 10_000 * COR


def test_veto_burns_deposit():
    c = gov_chain()
    pid = propose(c)
    vote(c, "n1", pid, "veto")
    burned = c.balance("burned")
    to_end(c, pid)
    assert c.state.proposals[pid].status == "VETOED"
    assert c.balance("burned") == burned + 100 * COR and c.balance(f"wallet:{addr('p')}") == 900 * COR


def test_below_quorum_forfeits_the_deposit_to_the_treasury():
    c = gov_chain()
    pid = propose(c)
    vote(c, "n3", pid)  # 10 % < 33.4 %
    treasury = c.balance("treasury")
    to_end(c, pid)
    prop = c.state.proposals[pid]
    assert prop.status == "REJECTED" and prop.result == "quorum not met" and not prop.quorum_met
    assert c.balance(f"wallet:{addr('p')}") == 900 * COR and c.balance("treasury") == treasury + 100 * COR
    c.oracle("epoch.close", {})
    assert c.state.params_history.at(9).max_commission_bps == 2000
    lines = [(i.stream, i.amount) for i in c.state.epochs[2].items if i.address == addr("p")]
    assert lines == [("gov_deposit", -100 * COR)]  # the deposit left the wallet and did not come back


def test_bad_governance_input_changes_nothing():
    c = gov_chain()
    rejected(
        c,
        "p",
        "gov.propose",
        {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 10_001}, "effective_epoch": 3},
        "parameter_out_of_bounds",
    )
    rejected(c, "p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"nope": 1}, "effective_epoch": 3}, "unknown_parameter")
    rejected(c, "p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"redundancy": 2}, "effective_epoch": 2}, "invalid_proposal")
    rejected(c, "n3", "gov.propose", {"kind": "treasury_spend", "title": "t", "to": addr("p"), "amount": "0"}, "zero_amount")
    cap = c.balance("treasury") * c.state.params.gov_treasury_spend_max_bps // 10_000
    rejected(c, "n3", "gov.propose", {"kind": "treasury_spend", "title": "t", "to": addr("p"), "amount": str(cap + 1)}, "treasury_spend_over_cap")
    pid = propose(c)
    vote(c, "n1", pid)
    rejected(c, "n1", "gov.vote", {"proposal": pid, "option": "no"}, "already_voted")
    rejected(c, "p", "gov.vote", {"proposal": pid, "option": "yes"}, "no_voting_power")
    rejected(c, "n2", "gov.vote", {"proposal": pid, "option": "maybe"}, "invalid_vote")
    to_end(c, pid)
    rejected(c, "n2", "gov.vote", {"proposal": pid, "option": "yes"}, "voting_closed")


def test_treasury_spend_waits_the_unbonding_period_and_runs_with_its_support_still_bonded():
    c = gov_chain()
    p = c.state.params
    assert timelock_ticks(p, "treasury_spend") == p.unbonding_period_epochs * p.epoch_length_ticks == 40
    pid = propose(c, kind="treasury_spend", to=addr("p"), amount=str(500 * COR))
    vote(c, "n1", pid)
    to_end(c, pid)
    prop = c.state.proposals[pid]
    assert prop.status == "PASSED" and prop.executable_tick == prop.end_tick + 40
    c.oracle("epoch.close", {})
    assert prop.status == "PASSED" and c.balance(f"wallet:{addr('p')}") == 1_000 * COR  # deposit back; the timelock is not over
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    assert prop.status == "EXECUTED" and c.balance(f"wallet:{addr('p')}") == 1_500 * COR


def test_treasury_spend_fails_when_its_voters_unbond_during_the_timelock():
    c = gov_chain()
    pid = propose(c, kind="treasury_spend", to=addr("p"), amount=str(500 * COR))
    vote(c, "n1", pid)
    to_end(c, pid)
    assert c.state.proposals[pid].status == "PASSED"
    c.as_("n1", "stake.unbond", {"amount": str(3_000 * COR)})  # the yes side now weighs 3 000 < quorum 3 340
    treasury = c.balance("treasury")
    for _ in range(3):
        c.oracle("epoch.close", {})
    prop = c.state.proposals[pid]
    assert prop.status == "FAILED" and prop.result.startswith("support withdrawn before execution")
    assert c.balance("treasury") >= treasury and c.balance(f"wallet:{addr('p')}") == 1_000 * COR


def test_treasury_spends_are_capped_per_epoch_and_the_rest_waits():
    c = gov_chain()
    cap = c.balance("treasury") * c.state.params.gov_treasury_spend_max_bps // 10_000
    pids = [propose(c, kind="treasury_spend", to=addr("p"), amount=str(cap * 9 // 10)) for _ in range(3)]
    for pid in pids:
        vote(c, "n1", pid)
    c.as_("n1", "transfer", {"to": addr("p"), "amount": str(1 * COR)})
    to_end(c, pids[0])
    for _ in range(3):
        c.oracle("epoch.close", {})
    statuses = [c.state.proposals[i].status for i in pids]
    assert statuses == ["EXECUTED", "EXECUTED", "PASSED"]  # 2 × 0.9 % fit the 2 % epoch allowance; the third waits
    assert c.state.proposals[pids[2]].result.startswith("deferred")
    deferred = [g for g in c.state.epochs[c.state.epoch - 1].governance if g["proposal"] == pids[2]]
    assert deferred and deferred[0]["status"] == "DEFERRED"
    c.oracle("epoch.close", {})
    assert c.state.proposals[pids[2]].status == "EXECUTED"


def test_voter_rewards_count_each_address_once_and_delegations_once():
    c = gov_chain()
    real = propose(c)
    junk = [propose(c, changes={"max_commission_bps": 2001}, effective_epoch=4) for _ in range(5)]
    vote(c, "n1", real)
    vote(c, "n2", real, "no")
    vote(c, "d", junk[0])  # d's own vote on another proposal: its delegation counts for d, not also for n1
    for pid in junk:  # n3 votes on every junk proposal: no more weight than one vote
        vote(c, "n3", pid)
    to_end(c, real)
    c.oracle("epoch.close", {})
    rec = c.state.epochs[2]
    gov = {i.address: i for i in rec.items if i.stream == "governance"}
    budget = rec.streams["governance"]["budget"]
    assert set(gov) == {addr("n1"), addr("n2")}  # the junk proposals missed quorum: their voters earn nothing
    assert gov[addr("n1")].detail["inputs"]["weight"] == 6000 * COR  # d did not vote on a tallied proposal: n1 carried it
    assert gov[addr("n1")].amount == voter_reward(budget, 6000 * COR, 9000 * COR, 2500) == budget * 2500 // 10_000
    assert gov[addr("n2")].amount == voter_reward(budget, 3000 * COR, 9000 * COR, 2500)
    assert all(c.state.proposals[j].status == "REJECTED" and not c.state.proposals[j].quorum_met for j in junk)


def test_a_delegation_earns_for_its_delegator_when_both_vote_on_tallied_proposals():
    c = gov_chain()
    a, b = propose(c), propose(c, changes={"max_commission_bps": 2500}, effective_epoch=4)
    vote(c, "n1", a)
    vote(c, "n2", a)
    vote(c, "n2", b)
    vote(c, "d", b)
    to_end(c, a)
    c.oracle("epoch.close", {})
    gov = {i.address: i.detail["inputs"]["weight"] for i in c.state.epochs[2].items if i.stream == "governance"}
    assert gov == {addr("n1"): 4000 * COR, addr("n2"): 3000 * COR, addr("d"): 2000 * COR}  # n1's weight drops d's 2000: counted once


def test_a_jailed_or_slashed_node_earns_no_voter_reward():
    c = market(n_miners=1, params={**PARAMS, "redundancy": 2})
    c.state.ledger.transfer("treasury", f"wallet:{KEYED}", 5_000 * COR, "test funding")
    c.submit(KEYED, "node.register", {"role": "miner", "self_bond": str(4000 * COR), "models": [MODEL]})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    tid = submit(c)  # its miners: m0 and KEYED; cancelled, so no deadline is missed
    assert KEYED in {a.miner for a in c.state.tasks[tid].miners}
    c.as_("user", "task.cancel", {"task": tid})
    pid = propose(c, who="user")
    voters = ("m0", "v0", "v1", "v2", "router")
    for n in voters:
        vote(c, n, pid)
    c.submit(KEYED, "gov.vote", {"proposal": pid, "option": "yes"})
    # KEYED signed two different precommits for the task: slashed (and jailed) for equivocation
    msgs = [sign_scoped(NODE_KEY, CHAIN_ID, f"task:{tid}:precommit", m) for m in ("0xaaa", "0xbbb")]
    c.as_("user", "slash.report", {"node": KEYED, "offence": "equivocation", "evidence": {"messages": msgs}})
    assert c.state.nodes[KEYED].jailed
    to_end(c, pid)
    c.oracle("epoch.close", {})
    gov = {i.address for i in c.state.epochs[2].items if i.stream == "governance"}
    assert gov == {addr(n) for n in voters}


def test_replay_reproduces_governance():
    c = gov_chain()
    pid = propose(c, kind="treasury_spend", to=addr("p"), amount=str(500 * COR))
    vote(c, "n1", pid)
    vote(c, "d", pid, "no")
    to_end(c, pid)
    for _ in range(3):
        c.oracle("epoch.close", {})
    assert replay(c.events, check_each=True).to_dict() == c.state.to_dict()


controllers = st.builds(
    lambda lo, span, step, target, d: Controller("x", "price_factor_ppb", target, lo, lo + span, step, d),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 10_000),
    st.sampled_from([1, -1]),
)


@given(controllers, st.integers(0, 3 * 10**9), st.lists(st.integers(0, 10_000), max_size=50))
def test_controller_never_leaves_bounds_nor_exceeds_step(c, start, signals):
    value = max(c.min_value, min(c.max_value, start))
    for s in signals:
        new = adjust(c, value, s)
        assert c.min_value <= new <= c.max_value
        assert abs(new - value) <= c.max_step
        value = new


def test_price_controller_moves_price_down_when_idle():
    c = gov_chain(age=False)
    before = c.state.params.price_factor_ppb
    c.oracle("epoch.close", {})
    rec = c.state.epochs[0].controllers["price"]
    # step = max_step × (0 − 6000) // 10000 = −30 000 000 ppb (proportional, within ±max_step)
    assert rec["measured_bps"] == 0 and rec["after"] == before - 30_000_000
    assert c.state.params.price_factor_ppb == before - 30_000_000


def test_a_vote_checks_its_power_without_reading_every_node_of_the_snapshot():
    """``gov.vote``: whether the voter holds a position is one set lookup after the proposal's first vote (the snapshot's
    addresses gathered once, ``State.proposal_voters``): it read every node's stakers per vote until session 21 (O(nodes)
    per vote, a refused one too)."""
    from cor_incentives.core.journal import JDict

    class Reads(JDict):
        __slots__ = ()
        count = 0

        def values(self):
            Reads.count += 1
            return super().values()

    c = Chain(
        wallets={"n1": 10_000 * COR, "n2": 10_000 * COR, **{f"d{i}": 100 * COR for i in range(4)}, "p": 1_000 * COR, "late": 1_000 * COR},
        params=PARAMS,
    )
    for n in ("n1", "n2"):
        c.as_(n, "node.register", {"role": "miner", "self_bond": str(1000 * COR)})
    for i in range(4):
        c.as_(f"d{i}", "stake.delegate", {"node": addr("n1" if i % 2 else "n2"), "amount": str(10 * COR)})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    pid = propose(c)
    prop = c.state.proposals[pid]
    prop.positions.__class__ = Reads
    try:
        for i in range(4):
            vote(c, f"d{i}", pid)
        rejected(c, "late", "gov.vote", {"proposal": pid, "option": "yes"}, "no_voting_power")
        vote(c, "n1", pid, "no")
    finally:
        prop.positions.__class__ = JDict
    assert Reads.count == 1
    assert prop.votes == {**{addr(f"d{i}"): "yes" for i in range(4)}, addr("n1"): "no"}
