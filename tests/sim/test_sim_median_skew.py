"""Attack median_skew (sim/attacks/escalation.py): a bloc of 49 % of validator stake reports quality 1.0 for every miner, so
the panel's lower weighted median sits at the top of the honest reports and rule 31 (``RULES_ESCALATION_PAY``) names the
honest reports at the bottom dissenters of the escalations the bloc provokes (their row counts 0, they share the charge).

Fails if the family stopped reading open under the current rules at seed 1 (a fix landed: update the verdict), if the
honest twin named a faultless row (the measurement would be unsound), or if the faultless rows were not most of the
honest rows named (the skew, not honest noise, names them)."""

from cor_incentives.sim.attacks import Attack, evaluate


def test_rule_31_names_honest_reports_that_the_honest_panel_would_not_open():
    r = evaluate(Attack("s", "median_skew"), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "open"
    m = r["measured"]
    # seed 1: 53 of 211 named rows honest, 52 of them faultless (24.6 %); the twin: 0 of its 5 named rows
    assert m["twin_faultless"] == 0 and m["twin_named"] < 10
    assert m["faultless"] > m["named"] // 5 and m["faultless"] * 10 > m["honest_named"] * 9
    assert m["escalated"] > m["network_tasks"] // 2 > 10 * m["twin_escalated"] // 2
    assert m["largest_drop"] > -0.05  # open by the naming; the pay part of the bound holds at seed 1 (-3.8 %)


def test_a_bloc_inside_the_bound_costs_honest_pay_too():
    """At quality 0.95 the bloc's reports are mostly within dissent_bound_ppb of the top honest one: it pulls the median
    there without dissenting itself, the honest bottom is the only side past the bound, and the honest validators' pay per
    unit of network work falls past 5 % (seed 1: -11.3 %)."""
    r = evaluate(Attack("s", "median_skew", {"quality_ppb": 950_000_000}), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "open"
    m = r["measured"]
    assert m["largest_drop"] < -0.05 and m["faultless"] > m["named"] // 5
