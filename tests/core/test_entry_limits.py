"""Bounded stake entries (rule version 8, Cosmos's max_entries): at most ``max_entries`` maturing unbonding entries per
address and node (from rule version 20 every entry not withdrawn, matured ones too), and at most ``max_entries`` young
redelegations per address out of one node; the earlier rules set no bound."""

import pytest

from cor_incentives.core.errors import EngineError
from cor_incentives.core.rules import RULES_MIN_POSITION, RULES_MOVING_LIMITS
from support.chain import addr
from support.market import COR, market


def refused(c, name, kind, body, code):
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.as_(name, kind, body)
    assert e.value.code == code, e.value
    assert c.state.to_dict() == before


def test_an_eighth_maturing_unbonding_entry_from_one_node_is_refused():
    c = market(n_miners=2)
    m0, m1 = addr("m0"), addr("m1")
    assert c.state.params.max_entries == 7 and c.state.params.rule_version >= RULES_MOVING_LIMITS
    c.as_("user", "stake.delegate", {"node": m0, "amount": str(100 * COR)})
    c.as_("user", "stake.delegate", {"node": m1, "amount": str(100 * COR)})
    for _ in range(7):
        c.as_("user", "stake.undelegate", {"node": m0, "amount": str(1 * COR)})
    refused(c, "user", "stake.undelegate", {"node": m0, "amount": str(1 * COR)}, "too_many_unbonding_entries")
    c.as_("user", "stake.undelegate", {"node": m1, "amount": str(1 * COR)})  # another node: its own bound
    for _ in range(6):
        c.submit(m0, "stake.unbond", {"amount": str(1 * COR)})  # the operator's own entries count apart from the user's
    c.submit(m0, "stake.unbond", {"amount": str(1 * COR)})
    with pytest.raises(EngineError) as e:
        c.submit(m0, "stake.unbond", {"amount": str(1 * COR)})
    assert e.value.code == "too_many_unbonding_entries"
    c.oracle("tick", {"ticks": c.state.params.unbonding_period_epochs * c.state.params.epoch_length_ticks})
    assert all(u.mature_epoch <= c.state.epoch for u in c.state.unbondings.values())
    # from rule 20 a matured entry counts until withdrawn (tests/core/test_min_position_attack.py); rules 8-19: no longer
    refused(c, "user", "stake.undelegate", {"node": m0, "amount": str(1 * COR)}, "too_many_unbonding_entries")
    c.as_("user", "stake.withdraw", {})
    c.as_("user", "stake.undelegate", {"node": m0, "amount": str(1 * COR)})


def test_under_rules_8_to_19_matured_entries_no_longer_count():
    c = market(n_miners=2, params={"rule_version": RULES_MIN_POSITION - 1})
    m0 = addr("m0")
    c.as_("user", "stake.delegate", {"node": m0, "amount": str(100 * COR)})
    for _ in range(7):
        c.as_("user", "stake.undelegate", {"node": m0, "amount": str(1 * COR)})
    refused(c, "user", "stake.undelegate", {"node": m0, "amount": str(1 * COR)}, "too_many_unbonding_entries")
    c.oracle("tick", {"ticks": c.state.params.unbonding_period_epochs * c.state.params.epoch_length_ticks})
    c.as_("user", "stake.undelegate", {"node": m0, "amount": str(1 * COR)})  # matured entries no longer count


def test_an_eighth_young_redelegation_out_of_one_node_is_refused():
    c = market(n_miners=3)
    m0, m1, m2 = addr("m0"), addr("m1"), addr("m2")
    c.as_("user", "stake.delegate", {"node": m0, "amount": str(100 * COR)})
    for i in range(7):
        c.as_("user", "stake.redelegate", {"from": m0, "to": m1 if i % 2 else m2, "amount": str(1 * COR)})
    refused(c, "user", "stake.redelegate", {"from": m0, "to": m1, "amount": str(1 * COR)}, "too_many_redelegation_entries")


def test_the_rules_before_the_bound_allow_any_number_of_entries():
    c = market(n_miners=2, params={"rule_version": RULES_MOVING_LIMITS - 1})
    c.as_("user", "stake.delegate", {"node": addr("m0"), "amount": str(100 * COR)})
    for _ in range(9):
        c.as_("user", "stake.undelegate", {"node": addr("m0"), "amount": str(1 * COR)})
    assert sum(1 for u in c.state.unbondings.values() if u.address == addr("user")) == 9
