from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.errors import EngineError
from cor_incentives.core.staking import credit_node_reward, is_selectable, pending_reward, settle_node_rewards
from support.chain import Chain, addr

SMALL = {
    "min_self_bond_miner_units": "100",
    "min_self_bond_validator_units": "100",
    "unbonding_period_epochs": 2,
    "epoch_length_ticks": 10,
    "jail_duration_ticks": 20,
}


def chain():
    return Chain(wallets={"op": 10_000, "d": 10_000, "e": 10_000}, params=SMALL)


def rejected(c, who, kind, body, code):
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.as_(who, kind, body)
    assert e.value.code == code
    assert c.state.to_dict() == before, "a rejected command changed the state"


def test_register_rules():
    c = chain()
    rejected(c, "op", "node.register", {"role": "miner", "self_bond": "99"}, "self_bond_below_minimum")
    rejected(c, "op", "node.register", {"role": "oracle", "self_bond": "100"}, "invalid_role")
    rejected(c, "op", "node.register", {"role": "miner", "self_bond": "20000"}, "stake_exceeds_balance")
    rejected(c, "op", "node.register", {"role": "miner", "self_bond": "100", "commission_bps": 2001}, "commission_out_of_bounds")
    c.as_("op", "node.register", {"role": "miner", "self_bond": "100"})
    rejected(c, "op", "node.register", {"role": "miner", "self_bond": "100"}, "node_already_registered")
    assert is_selectable(c.state, c.state.nodes[addr("op")])


def test_unbond_withdraw_after_period():
    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "500"})
    c.as_("d", "stake.delegate", {"node": addr("op"), "amount": "300"})
    rejected(c, "d", "stake.undelegate", {"node": addr("op"), "amount": "301"}, "unbond_exceeds_stake")
    c.as_("d", "stake.undelegate", {"node": addr("op"), "amount": "300"})
    assert c.balance(f"unbonding:{addr('d')}") == 300
    rejected(c, "d", "stake.withdraw", {}, "unbonding_not_mature")
    c.oracle("tick", {"ticks": 10})
    rejected(c, "d", "stake.withdraw", {}, "unbonding_not_mature")
    c.oracle("tick", {"ticks": 10})
    c.as_("d", "stake.withdraw", {})
    assert c.balance(f"wallet:{addr('d')}") == 10_000
    rejected(c, "d", "stake.withdraw", {}, "nothing_to_withdraw")
    assert addr("d") not in c.state.nodes[addr("op")].delegators


def test_commission_change_bounded_and_rate_limited():
    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "500", "commission_bps": 1000})
    rejected(c, "op", "node.set_commission", {"commission_bps": 1600}, "commission_change_too_large")
    c.as_("op", "node.set_commission", {"commission_bps": 1500})
    rejected(c, "op", "node.set_commission", {"commission_bps": 1400}, "commission_change_too_soon")
    c.oracle("epoch.close", {})
    c.as_("op", "node.set_commission", {"commission_bps": 1400})


def test_jail_and_unjail_needs_cooldown_and_bond():
    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "100"})
    c.oracle("slash.report", {"node": addr("op"), "offence": "commit_mismatch", "evidence": {"task": "1"}})
    node = c.state.nodes[addr("op")]
    assert node.jailed and not is_selectable(c.state, node)
    rejected(c, "op", "node.unjail", {}, "jail_cooldown_not_over")
    c.oracle("tick", {"ticks": 20})
    rejected(c, "op", "node.unjail", {}, "self_bond_below_minimum")  # 100 - 5% = 95 < 100
    c.as_("op", "stake.bond", {"amount": "5"})
    c.as_("op", "node.unjail", {})
    assert is_selectable(c.state, c.state.nodes[addr("op")])


def test_non_oracle_cannot_report_or_tick():
    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "100"})
    rejected(c, "d", "slash.report", {"node": addr("op"), "offence": "commit_mismatch", "evidence": {"x": 1}}, "unauthorized_reporter")
    rejected(c, "d", "tick", {"ticks": 1}, "unauthorized_actor")


def test_same_evidence_twice_refused():
    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "1000"})
    c.oracle("slash.report", {"node": addr("op"), "offence": "missed_deadline", "evidence": {"task": "7"}})
    rejected(c, "oracle", "slash.report", {"node": addr("op"), "offence": "missed_deadline", "evidence": {"task": "7"}}, "evidence_already_used")


def test_reused_nonce_refused():
    from cor_incentives.core.apply import apply
    from cor_incentives.core.events import Command, make_event
    from support.chain import CHAIN_ID, SIG

    c = chain()
    c.as_("d", "transfer", {"to": addr("e"), "amount": "1"})
    payload = Command(CHAIN_ID, "transfer", addr("d"), 1, {"to": addr("e"), "amount": "1"}).encode()
    with pytest.raises(EngineError) as e:
        apply(c.state, make_event(c.state.seq + 1, 0, payload, SIG, c.state.head_hash))
    assert e.value.code == "nonce_already_used"


# --- the accumulator against a naive per-delegator computation ---------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), st.integers(0, 10**24)),
        st.tuples(st.just("delegate"), st.integers(0, 3), st.integers(1, 10**21)),
        st.tuples(st.just("undelegate"), st.integers(0, 3), st.integers(1, 10**21)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops, st.integers(0, 2000))
def test_accumulator_matches_naive(ops, commission):
    names = ["d0", "d1", "d2", "d3"]
    c = Chain(wallets={"op": 10**22, **{n: 10**23 for n in names}}, params={"min_self_bond_miner_units": "1"}, check=False)
    c.as_("op", "node.register", {"role": "miner", "self_bond": str(10**21), "commission_bps": commission})
    node = addr("op")
    naive: dict[str, Fraction] = {}
    credits = 0
    for op in ops:
        if op[0] == "credit":
            s = c.state
            stakes = {
                a: c.balance(f"bonded:{node}") if a == node else c.balance(f"delegated:{node}:{a}") for a in [node] + sorted(s.nodes[node].delegators)
            }
            total = sum(stakes.values())
            com = op[1] * commission // 10_000
            naive[node] = naive.get(node, Fraction(0)) + com
            for a, v in stakes.items():
                naive[a] = naive.get(a, Fraction(0)) + Fraction(op[1] - com) * v / total
            s.ledger.begin()
            credit_node_reward(s, node, "pool:network_incentives", op[1], "test", {})
            s.ledger.commit()
            credits += 1
        else:
            kind = "stake.delegate" if op[0] == "delegate" else "stake.undelegate"
            try:
                c.as_(names[op[1]], kind, {"node": node, "amount": str(op[2])})
            except EngineError:
                pass
    c.state.ledger.begin()
    settle_node_rewards(c.state, node)
    c.state.ledger.commit()
    for a, expect in naive.items():
        got = c.balance(f"claimable:{a}")
        assert got <= expect, (a, got, expect)
        assert expect - got < credits + 1, (a, got, expect)
    assert all(pending_reward(c.state, node, a) == 0 for a in [node] + list(c.state.nodes[node].delegators))
    paid = sum(c.balance(f"claimable:{a}") for a in naive)
    assert paid + c.balance("dust") == sum(op[1] for op in ops if op[0] == "credit")
