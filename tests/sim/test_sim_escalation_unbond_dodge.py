"""escalation_unbond_dodge (docs/rewards.md, "An escalation charge reaches the dissenter's unbonding of the epoch (rule 34)";
docs/design.md §3, rule 34): unfunded_escalation's bloc (validator-00..01, 20 % of validator stake, every row of theirs
dissenting) unbonds its whole self-bond at each epoch's last tick before the close and cancels the entry at the next
epoch's first tick. Rule 33 (``rules=before_reach``) read the charge's reach from the bond at the close: the bloc was
charged nothing and its escalations were short-funded again; rule 34 charges the operator's unbonding entries started
in the epoch after the bond.

The numbers are the 5-seed totals of `cor simulate --attack escalation_unbond_dodge` and its knob variant (10 epochs),
and of unfunded_escalation without the dodge (its test pins it: bloc charged 24 495.91 COR, largest drop +2.4 %)."""

from cor_incentives.core.rules import RULES_ESCALATION_UNBONDING
from cor_incentives.sim.attacks import Attack, evaluate_many

SEEDS = (1, 2, 3, 4, 5)


def test_the_last_tick_unbond_escapes_the_charge_under_rule_33_and_not_under_34():
    old = Attack("escalation_unbond_dodge_rule_33", "escalation_unbond_dodge", {"rules": "before_reach"})
    # rule 34 itself: the default rules (35) price the charge at reputation_multiplier_max_ppb, which moves every figure
    # below (tests/core/test_escalation_priced.py runs the dodge under 35)
    rule_34 = Attack("escalation_unbond_dodge", "escalation_unbond_dodge", params={"rule_version": RULES_ESCALATION_UNBONDING})
    now, before = evaluate_many([rule_34, old], seeds=SEEDS, workers=1)
    assert now["books"]["ok"] and before["books"]["ok"]
    m, b = now["measured"], before["measured"]
    # the dodge ran the same in both worlds: 2 operators x 10 closes unbonded, 2 x 9 next epochs cancelled, none refused
    for x in (m, b):
        assert x["unbonds"] == 100 and x["cancels"] == 90 and x["refused"] == []
    # rule 33: nothing charged (the bond is 0 at every close), every honest validator's pay per unit of work falls, the
    # worst by 10.3 % (rule 32 without the dodge: 10.8 %)
    assert not before["passed"] and b["largest_drop"] == -0.1031 and b["largest_gain"] == -0.0427
    assert all(x < 0 for x in b["honest_rate_change"].values())
    assert b["bloc_bond_charged"] == b["charged_from_unbonding"] == b["honest_bond_charged"] == "0"
    # rule 34: the entries pay it all (the bond is 0 at the close), no honest validator loses, none is charged
    assert now["passed"] and now["gain"] == 0.0 and m["largest_drop"] == 0.0237 and m["largest_gain"] == 0.045
    assert int(m["bloc_bond_charged"]) == int(m["charged_from_unbonding"]) == 23_178_427_419_336_000_000_000
    assert m["honest_bond_charged"] == m["twin_bond_charged"] == "0"
    assert m["escalated"] == 219 and b["escalated"] == 243 and m["twin_escalated"] == b["twin_escalated"] == 21


def test_unfunded_escalation_unbond_knob_is_the_same_world():
    """unfunded_escalation's knob unbond=last_tick under the default rules is escalation_unbond_dodge's world (seed 1)."""
    a, b = evaluate_many(
        [Attack("knob", "unfunded_escalation", {"unbond": "last_tick"}), Attack("family", "escalation_unbond_dodge")], seeds=(1,), workers=1
    )
    for key in ("largest_drop", "largest_gain", "bloc_bond_charged", "charged_from_unbonding", "escalated", "unbonds", "cancels"):
        assert a["measured"][key] == b["measured"][key]
    assert int(a["measured"]["charged_from_unbonding"]) > 0
