"""Attack self_report (sim/attacks/evidence.py): an operator with delegations 25x its self-bond signs two statements for
every precommit and reveal scope of the tasks it served in epoch 0 and reports each pair from a second key of its own.
Under rule 28 (rules=before_own_pieces) the reporter took 10 % of every slash, the delegators' pieces included, and each
scope slashed every position: the operator's keys gained. From rule 29 (``RULES_SELF_REPORT``) the reporter is paid from
the operator's own pieces only and the delegators pay the lapse once."""

from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import Attack, evaluate

OLD = {"rules": "before_own_pieces"}
BOND = 2_000 * COR


def test_under_rule_28_self_reporting_pays_the_operator_off_its_delegators():
    r = evaluate(Attack("s", "self_report", OLD), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "open" and r["gain"] > 1  # more than its whole self-bond back
    m = r["measured"]
    assert m["slashes"] >= 10 and m["twin_slashes"] == 0 and m["twin_delegators_slashed"] == 0
    everything = m["operator_slashed"] + m["delegators_slashed"]  # 10 % of the whole of each slash (a floor each)
    assert 0 <= everything // 10 - m["reporter_reward"] <= m["slashes"]
    assert m["delegators_slashed"] > 25 * BOND * 9 // 10  # each scope took 10 % again: almost all of the 50 000 COR


def test_under_rule_29_the_operator_loses_and_its_delegators_pay_one_lapse():
    r = evaluate(Attack("s", "self_report"), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "stopped" and r["gain"] < -0.8
    m = r["measured"]
    old = evaluate(Attack("s", "self_report", OLD), seeds=(1,))["measured"]
    assert m["slashes"] == old["slashes"] and m["operator_slashed"] == old["operator_slashed"]  # every scope costs it as before
    assert m["reporter_reward"] <= m["operator_slashed"] // 10  # at most a tenth of its own loss back
    assert m["delegators_slashed"] == 25 * BOND // 10  # 10 % once


def test_without_delegations_the_rules_agree_and_the_self_report_loses():
    new = evaluate(Attack("s", "self_report", {"delegated_x": 0}), seeds=(1,))
    old = evaluate(Attack("s", "self_report", OLD | {"delegated_x": 0}), seeds=(1,))
    assert new["gain"] == old["gain"] < 0 and new["verdict"] == old["verdict"] == "stopped"
    assert new["measured"]["reporter_reward"] == old["measured"]["reporter_reward"]
