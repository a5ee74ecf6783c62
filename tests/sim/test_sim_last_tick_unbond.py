"""last_tick_unbond (finding S1; docs/rewards.md, "Commission"; docs/design.md §3, rule 31): miner-00's delegator (8 000
COR from the start) leaves 50 ticks before the close and the operator unbonds its whole self-bond at the last tick, so
no stake is left at the close. Under rule 30 (``rules=stake_at_close``) "no stake" read the stake at the close and the
whole node reward was commission: the operator took the delegator's stake × time share; rule 31
(``RULES_STAKE_TICKS_COMMISSION``) reads the epoch's stake × ticks and pays the delegator its share.

The numbers are the 5-seed totals of `cor simulate --scenario last_tick_unbond` and its knob variant (1 epoch)."""

from cor_incentives.sim.attacks import Attack, evaluate_many

SEEDS = (1, 2, 3, 4, 5)


def test_the_operator_takes_its_departed_delegators_share_under_rule_30_and_nothing_of_it_under_31():
    now, before = evaluate_many(
        [Attack("last_tick_unbond", "last_tick_unbond"), Attack("last_tick_unbond_rule_30", "last_tick_unbond", {"rules": "stake_at_close"})],
        seeds=SEEDS,
        workers=1,
    )
    assert now["books"]["ok"] and before["books"]["ok"]
    m, b = now["measured"], before["measured"]
    # the same worlds up to the close: no stake left at it, every step applied, the same twin
    assert m["stake_at_close"] == b["stake_at_close"] == [0] * 5 and m["refused_steps"] == b["refused_steps"] == []
    assert m["twin_operator_income"] == b["twin_operator_income"] == "5497385206516790016364"
    assert m["twin_delegator_reward"] == b["twin_delegator_reward"] == "10994770413033580032733"
    # rule 31: the delegator is paid its stake × time share (less 2 base units of floors); the operator, which
    # held its bond one tick less than the twin, earns a little less than the twin (-0.3 % of the delegator's reward)
    assert now["passed"] and -0.004 < now["gain"] < -0.003
    assert m["delegator_reward"] == "11031432264875402149486" and m["delegator_stake_time_share"] == "11031432264875402149488"
    assert m["operator_income"] == "5460558971113324063993" and m["commission"] == "0"
    # rule 30: the whole node reward was commission, the delegator got nothing
    assert not before["passed"] and before["gain"] > 0.9999
    assert b["delegator_reward"] == "0" and b["commission"] == b["operator_income"] == "16491991235988726213489"
    # what rule 30 gave the operator is what rule 31 pays the two positions, and 10 base units of floors to dust (5 seeds)
    assert int(b["operator_income"]) - int(m["operator_income"]) - int(m["delegator_reward"]) == 10


def test_an_operator_unbonding_when_its_delegator_leaves_is_stopped_too():
    """The unbond moved to the delegator's own tick still leaves no stake at the close: stopped under 31 as well."""
    (r,) = evaluate_many([Attack("early", "last_tick_unbond", {"unbond_offset_ticks": -50})], seeds=(1,), workers=1)
    assert r["books"]["ok"] and r["passed"] and r["measured"]["stake_at_close"] == [0]
    assert int(r["measured"]["delegator_reward"]) > 0
