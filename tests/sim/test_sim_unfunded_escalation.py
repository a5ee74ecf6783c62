"""unfunded_escalation (docs/rewards.md, "An escalation a dissenter cannot pay for is charged to its bond (rule 33)";
docs/design.md §3, rule 33): validator-00..01 (20 % of validator stake) report quality 1.0 and distance 0.03 for every
miner of every task, so every row of theirs dissents and counts 0: they have no validations to pay for the escalations
they provoke. Under rule 32 (``rules=before_funded``) the escalations stay short-funded and the honest validators they
draw do the extra validations for ~what the first round left; rule 33 charges what the bloc owes to its self-bond, at
multiplier 1.0 through rule 34 (``rules=before_priced``), and from rule 35 at reputation_multiplier_max_ppb, the most the
stream pays a row the charge funds.

The numbers are the 5-seed totals of `cor simulate --attack unfunded_escalation` and its knob variants (10 epochs)."""

from cor_incentives.sim.attacks import Attack, evaluate_many

SEEDS = (1, 2, 3, 4, 5)
COR = 10**18


def test_the_bloc_pays_its_escalations_from_its_bond_under_rule_33_and_the_honest_validators_did_under_32():
    attacks = [
        Attack("unfunded_escalation", "unfunded_escalation"),
        Attack("unfunded_escalation_rule_34", "unfunded_escalation", {"rules": "before_priced"}),
        Attack("unfunded_escalation_rule_32", "unfunded_escalation", {"rules": "before_funded"}),
    ]
    priced, now, before = evaluate_many(attacks, seeds=SEEDS, workers=1)
    assert priced["books"]["ok"] and now["books"]["ok"] and before["books"]["ok"]
    m, b = now["measured"], before["measured"]
    # rule 32: every honest validator's pay per unit of network work falls, the worst by 10.8 % (past the 5 % bound)
    assert not before["passed"] and b["largest_drop"] == -0.1083 and b["largest_gain"] == -0.0466
    assert all(x < 0 for x in b["honest_rate_change"].values())
    assert b["bloc_bond_charged"] == b["honest_bond_charged"] == "0"
    # rules 33-34 (before_priced): the bloc's bonds fund its escalations; no honest validator loses, none is charged
    assert now["passed"] and now["gain"] == 0.0 and m["largest_drop"] == 0.0237 and m["largest_gain"] == 0.0477
    assert int(m["bloc_bond_charged"]) == 24_495_907_694_622_000_000_000 and m["honest_bond_charged"] == m["twin_bond_charged"] == "0"
    assert m["escalated"] == 230 and b["escalated"] == 250 and m["twin_escalated"] == b["twin_escalated"] == 21
    # ... but at multiplier 1.0 a validation the bond funds, while its payees are paid at their multipliers: the validators
    # stream paid +6.41 % against the twin net of the bloc's charges
    assert m["stream_net_excess"] == 0.0641
    # rule 35 (the default): the charge at reputation_multiplier_max_ppb (1.5): the bloc pays 34 687.13 COR instead of
    # 24 495.91 and the stream's net excess falls to +1.99 % (what stays: the first rounds' leftovers and the escalations'
    # reputation observations); no honest validator loses (+2.0 % to +4.4 %), none is charged
    p = priced["measured"]
    assert priced["passed"] and priced["gain"] == 0.0 and p["largest_drop"] == 0.0201 and p["largest_gain"] == 0.0442
    assert int(p["bloc_bond_charged"]) == 34_687_129_752_261_000_000_000 and p["honest_bond_charged"] == p["twin_bond_charged"] == "0"
    assert p["stream_net_excess"] == 0.0199 and p["stream_net_excess"] < m["stream_net_excess"] / 3
    assert p["escalated"] == 217 and p["twin_escalated"] == 21
