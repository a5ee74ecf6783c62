"""``bounty_churn`` (rule 22): a churner recycling the prizes and deposits rule 21 returns at expiry fills the live state
without end under rule 21 (the knob) and holds one round's entries from rule 22; the honest bounty beside it unaffected in
both. The family is exact (no draw decides it), so one seed decides it."""

from cor_incentives.sim.attacks import Attack, evaluate


def test_the_churn_is_stopped_by_rule_22_and_open_before_it():
    new = evaluate(Attack("c", "bounty_churn"), seeds=(1,))
    old = evaluate(Attack("c", "bounty_churn", {"rules": "before_retire"}), seeds=(1,))
    assert new["books"]["ok"] and old["books"]["ok"]
    assert new["verdict"] == "stopped" and old["verdict"] == "open"
    m, o = new["measured"], old["measured"]
    assert m["live_entries_by_round"] == [50] * 6  # 5 bounties x 10 keys a round, each round gone at the next close
    assert o["live_entries_by_round"] == [50 * r for r in range(1, 7)]  # every expired round stays
    assert m["locked_cor"] == o["locked_cor"] == 5 * 10 + 50 * 1  # the same money in both, reused every round
    assert (new["gain"], old["gain"]) == (-0.5, 2.0)  # 50 and 300 live entries per 100 COR
    assert o["live_churn_bounty_bytes_last_round"] > 5 * m["live_churn_bounty_bytes_last_round"]
    assert m["honest_unaffected"] and o["honest_unaffected"] and not m["refused"] and not o["refused"]


def test_one_round_is_the_same_under_both_rules_and_more_rounds_grow_only_under_rule_21():
    one = [evaluate(Attack("c", "bounty_churn", {"rounds": 1, "rules": r}), seeds=(1,))["measured"] for r in ("retire", "before_retire")]
    assert one[0]["live_entries_by_round"] == one[1]["live_entries_by_round"] == [50]
    more = evaluate(Attack("c", "bounty_churn", {"rounds": 10, "rules": "before_retire"}), seeds=(1,))["measured"]
    assert more["live_entries_by_round"][-1] == 500
