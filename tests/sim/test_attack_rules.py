"""The ``rules`` knob the attack families share (sim/attacks/common.py ``Rules``): the default choice runs the current
rules, the other the last version before the defence's rule; the families that measure what a node with a database
holds prune in both worlds; the knob's doc names both versions. Every family with such a knob builds its worlds by it."""

import pytest

from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_ESCALATION_PRICED, RULES_ESCALATION_SHARE, RULES_SESSION_BOUND, RULES_TASK_STUB
from cor_incentives.sim.attacks import FAMILIES
from cor_incentives.sim.attacks.common import PRUNED, Rules, rule_before

PRUNING = ("session_spam", "closed_task_bloat", "model_spam", "fine_tune_hold", "node_churn", "bounty_churn")
TWO_WAY = PRUNING + (
    "bounty_spam",
    "idle_stake",
    "dust_positions",
    "canary_spotting",
    "plant_refusal",
    "spread_inflation",
    "newcomer_griefing",
    "escalation_cartel",
    "community_one_point",
    "unfunded_escalation",
)


def test_the_rule_before_is_the_last_version_below():
    for v in sorted(RULE_VERSIONS)[1:]:
        assert rule_before(v) == max(u for u in RULE_VERSIONS if u < v) and rule_before(v) < v
    with pytest.raises(ValueError):
        rule_before(min(RULE_VERSIONS))  # no version before the first


def test_params_and_knob():
    r = Rules(RULES_TASK_STUB, "stub", "before_stub")
    assert r.params({"rules": "stub"}) == {}
    assert r.params({"rules": "before_stub"}) == {"rule_version": RULES_TASK_STUB - 1}
    assert r.params({"rules": "stub"}, pruned=True) == PRUNED == {"prune_closed_records": 1}
    assert list(r.params({"rules": "before_stub"}, pruned=True, x=2).items()) == [("prune_closed_records", 1), ("x", 2), ("rule_version", 26)]
    k = r.knob("a stub", "the record")
    assert (k.name, k.default, k.choices) == ("rules", "stub", ("stub", "before_stub"))
    assert k.doc == "the rules: stub (rule 27: a stub) or before_stub (rule 26: the record)"
    assert Rules(RULES_SESSION_BOUND, "bound", "before_bound").knob("x").doc.endswith("or before_bound (rule 23)")
    assert r.knob(doc="as given").doc == "as given"


@pytest.mark.parametrize("name", TWO_WAY)
def test_each_family_runs_the_current_rules_or_the_one_before(name):
    f = FAMILIES[name]
    (knob,) = [k for k in f.knobs if k.name == "rules"]
    new, *olds = knob.choices  # (escalation_cartel: rule 35's before_priced, then rule 29's before_shared)
    assert knob.default == new and olds and all(old.startswith("before_") for old in olds)
    for twin in (False, True):
        now = f.scenario(f.resolve({}), twin).params
        assert "rule_version" not in now and now.get("prune_closed_records") == (1 if name in PRUNING else None)
        versions = []
        for old in olds:
            then = f.scenario(f.resolve({"rules": old}), twin).params
            assert then["rule_version"] < LATEST  # (a scenario without one runs LATEST)
            assert {a: b for a, b in then.items() if a != "rule_version"} == now  # nothing else differs
            versions.append(then["rule_version"])
        assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)  # newest defence first


def test_a_knob_over_two_defences_runs_the_rule_before_each():
    shared = Rules(RULES_ESCALATION_SHARE, "shared", "before_shared")
    r = Rules(RULES_ESCALATION_PRICED, "priced", "before_priced", (shared,))
    k = r.knob("at the max", "at 1.0", "a whole validation each")
    assert (k.default, k.choices) == ("priced", ("priced", "before_priced", "before_shared"))
    assert k.doc == ("the rules: priced (rule 35: at the max) or before_priced (rule 34: at 1.0) or before_shared (rule 28: a whole validation each)")
    assert r.params({"rules": "priced"}) == {}
    assert r.params({"rules": "before_priced"}) == {"rule_version": rule_before(RULES_ESCALATION_PRICED)}
    assert r.params({"rules": "before_shared"}) == {"rule_version": rule_before(RULES_ESCALATION_SHARE)}
    assert r.knob("x").doc.endswith("or before_shared (rule 28)")
