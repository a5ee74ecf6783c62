import pytest
from hypothesis import given
from hypothesis import strategies as st

from cor_incentives.core.controllers import adjust
from cor_incentives.core.errors import EngineError
from cor_incentives.core.governance import tally
from cor_incentives.core.records import Controller
from cor_incentives.core.units import COR
from support.chain import Chain, addr

PARAMS = {"min_self_bond_miner_units": "1", "gov_voting_period_ticks": 10, "epoch_length_ticks": 20, "gov_min_deposit_units": str(100 * COR)}


def gov_chain():
    c = Chain(wallets={"n1": 10_000 * COR, "n2": 10_000 * COR, "n3": 10_000 * COR, "d": 10_000 * COR, "p": 1_000 * COR}, params=PARAMS)
    for n, bond in (("n1", 4000), ("n2", 3000), ("n3", 1000)):
        c.as_(n, "node.register", {"role": "miner", "self_bond": str(bond * COR)})
    c.as_("d", "stake.delegate", {"node": addr("n1"), "amount": str(2000 * COR)})
    return c  # total power 10 000: n1 6000 (incl. d's 2000), n2 3000, n3 1000


def propose(c, kind="param_change", **body):
    pid = c.state.next_id
    c.as_(
        "p",
        "gov.propose",
        {
            "kind": kind,
            "title": "t",
            **({"changes": {"max_commission_bps": 3000}, "effective_epoch": 2} if kind == "param_change" and not body else body),
        },
    )
    return pid


def rejected(c, who, kind, body, code):
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.as_(who, kind, body)
    assert e.value.code == code
    assert c.state.to_dict() == before


def test_param_change_passes_and_applies_from_its_epoch():
    c = gov_chain()
    pid = propose(c)
    assert c.balance(f"escrow:proposal:{pid}") == 100 * COR
    c.as_("n1", "gov.vote", {"proposal": pid, "option": "yes"})
    c.as_("n2", "gov.vote", {"proposal": pid, "option": "no"})
    c.oracle("tick", {"ticks": 10})
    prop = c.state.proposals[pid]
    assert prop.status == "PASSED" and prop.tally == {"yes": 6000 * COR, "no": 3000 * COR, "abstain": 0, "veto": 0}
    assert c.balance(f"wallet:{addr('p')}") == 1_000 * COR
    c.oracle("epoch.close", {})  # epoch 0 closes: executed, applies from epoch 2
    assert prop.status == "EXECUTED"
    assert c.state.params.max_commission_bps == 2000  # epoch 1
    assert c.state.params_history.at(2).max_commission_bps == 3000
    c.oracle("epoch.close", {})
    assert c.state.params.max_commission_bps == 3000


def test_delegator_overrides_its_node():
    c = gov_chain()
    pid = propose(c)
    c.as_("n1", "gov.vote", {"proposal": pid, "option": "yes"})
    c.as_("d", "gov.vote", {"proposal": pid, "option": "no"})
    assert tally(c.state.proposals[pid]) == {"yes": 4000 * COR, "no": 2000 * COR, "abstain": 0, "veto": 0}


def test_veto_burns_deposit():
    c = gov_chain()
    pid = propose(c)
    c.as_("n1", "gov.vote", {"proposal": pid, "option": "veto"})
    burned = c.balance("burned")
    c.oracle("tick", {"ticks": 10})
    assert c.state.proposals[pid].status == "VETOED"
    assert c.balance("burned") == burned + 100 * COR and c.balance(f"wallet:{addr('p')}") == 900 * COR


def test_below_quorum_fails_and_returns_deposit():
    c = gov_chain()
    pid = propose(c)
    c.as_("n3", "gov.vote", {"proposal": pid, "option": "yes"})  # 10 % < 33.4 %
    c.oracle("tick", {"ticks": 10})
    prop = c.state.proposals[pid]
    assert prop.status == "REJECTED" and prop.result == "quorum not met"
    assert c.balance(f"wallet:{addr('p')}") == 1_000 * COR
    c.oracle("epoch.close", {})
    assert c.state.params_history.at(5).max_commission_bps == 2000


def test_bad_governance_input_changes_nothing():
    c = gov_chain()
    rejected(
        c,
        "p",
        "gov.propose",
        {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 10_001}, "effective_epoch": 1},
        "parameter_out_of_bounds",
    )
    rejected(c, "p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"nope": 1}, "effective_epoch": 1}, "unknown_parameter")
    rejected(c, "p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"redundancy": 2}, "effective_epoch": 0}, "invalid_proposal")
    rejected(c, "n3", "gov.propose", {"kind": "treasury_spend", "title": "t", "to": addr("p"), "amount": "0"}, "zero_amount")
    pid = propose(c)
    c.as_("n1", "gov.vote", {"proposal": pid, "option": "yes"})
    rejected(c, "n1", "gov.vote", {"proposal": pid, "option": "no"}, "already_voted")
    rejected(c, "p", "gov.vote", {"proposal": pid, "option": "yes"}, "no_voting_power")
    rejected(c, "n2", "gov.vote", {"proposal": pid, "option": "maybe"}, "invalid_vote")
    c.oracle("tick", {"ticks": 10})
    rejected(c, "n2", "gov.vote", {"proposal": pid, "option": "yes"}, "voting_closed")


def test_treasury_spend_and_voter_rewards():
    c = gov_chain()
    pid = propose(c, kind="treasury_spend", to=addr("p"), amount=str(500 * COR))
    c.as_("n1", "gov.vote", {"proposal": pid, "option": "yes"})
    c.as_("d", "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": 10})
    c.oracle("epoch.close", {})
    assert c.balance(f"wallet:{addr('p')}") == 1_500 * COR
    rec = c.state.epochs[0]
    gov = rec.streams["governance"]
    assert gov["paid"] > 0 and gov["paid"] <= gov["budget"]
    cap = gov["budget"] * 2500 // 10_000
    voters = {i.address: i.amount for i in rec.items if i.stream == "governance"}
    assert set(voters) == {addr("n1"), addr("d")} and all(v <= cap for v in voters.values())
    assert addr("n2") not in voters


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
    c = gov_chain()
    before = c.state.params.price_factor_ppb
    c.oracle("epoch.close", {})
    rec = c.state.epochs[0].controllers["price"]
    # step = max_step × (0 − 6000) // 10000 = −30 000 000 ppb (proportional, within ±max_step)
    assert rec["measured_bps"] == 0 and rec["after"] == before - 30_000_000
    assert c.state.params.price_factor_ppb == before - 30_000_000
