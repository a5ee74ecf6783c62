"""Attack plant_refusal (sim/attacks/planting.py): a miner told to plant a canary reveals its own output instead.

Stopped by rule 18 (``RULES_PAID_PLANTER``: docs/rewards.md, "Canaries"): the planter is paid as a typical in-consensus
miner of its task, so refusing earns no more per instruction than obeying. Under rule 17 (knob rules=before_paid_planter)
the planted output earned nothing, and refusing credited the refuser with about a whole task's work per instruction
while the refused canaries went void. Both worlds run seeds 1-5 of the family's defaults (miner-00 and miner-01 refuse).
"""

import pytest

from cor_incentives.sim.attacks import Attack, evaluate

SEEDS = (1, 2, 3, 4, 5)


def _check_common(r):
    m = r["measured"]
    assert r["books"]["ok"], r["books"]
    # every refused instruction leaves its canary void; the obeying twin leaves none
    assert m["asks"] > 20 and m["asks_planted"] == 0 and 0.9 * m["asks"] <= m["canaries_void"] <= m["asks"]
    assert m["twin_asks"] > 20 and m["twin_asks_planted"] == m["twin_asks"] and m["twin_canaries_void"] == 0
    assert abs(m["canaries_planted"] + m["canaries_void"] - m["twin_canaries_planted"]) <= 3 and m["twin_canaries_planted"] > 100
    return m


def test_refusing_to_plant_does_not_pay_under_rule_18():
    r = evaluate(Attack("plant_refusal", "plant_refusal"), seeds=SEEDS, workers=2)
    m = _check_common(r)
    assert r["passed"] and r["gain"] <= m["noise"]
    # an obeyed instruction credits the task's in-consensus median: on average what a typical miner of the task gets
    assert m["mean_value_obeyed"] == pytest.approx(m["mean_value_typical"], rel=1e-6) and m["mean_value_obeyed"] > 0
    assert abs(r["gain"]) < 0.25


def test_refusing_to_plant_paid_about_a_whole_task_under_rule_17():
    r = evaluate(Attack("plant_refusal_17", "plant_refusal", {"rules": "before_paid_planter"}), seeds=SEEDS, workers=2)
    m = _check_common(r)
    assert not r["passed"]
    assert m["mean_value_obeyed"] == 0  # the planted output earned nothing
    assert r["gain"] > 0.75 and r["gain"] > 5 * m["noise"]  # measured: +0.897 ± 0.079 (seeds 1-5)
    assert m["refusers_pay_change"] > m["others_pay_change"]
