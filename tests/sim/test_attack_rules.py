"""The ``rules`` knob the attack families share (sim/attacks/common.py ``Rules``): the default choice runs the current
rules, the other the last version before the defence's rule; the families that measure what a node with a database
holds prune in both worlds; the knob's doc names both versions. Every family with such a knob builds its worlds by it."""

import pytest

from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_SESSION_BOUND, RULES_TASK_STUB
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
    new, old = knob.choices
    assert knob.default == new and old.startswith("before_")
    for twin in (False, True):
        now, then = f.scenario(f.resolve({}), twin).params, f.scenario(f.resolve({"rules": old}), twin).params
        assert "rule_version" not in now and then["rule_version"] < LATEST  # (a scenario without one runs LATEST)
        assert {a: b for a, b in then.items() if a != "rule_version"} == now  # nothing else differs
        assert now.get("prune_closed_records") == (1 if name in PRUNING else None)
