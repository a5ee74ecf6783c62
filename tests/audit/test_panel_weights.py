"""Rule 32 (RULES_PANEL_WEIGHTS) end to end, through the published JSON (``GET /v1/tasks/ID``, ``cor task show --json``,
``cor audit``): each reporting validator's row of a settled task carries its ``weight`` (its stake at settlement), and
the outside auditor recomputes from the reports and those weights each miner's consensus distance and quality
(``validation.consensus``), each validator's agreement (``validation.agreement``) and the escalations' dissenters
(``validation.dissented``), and checks that the weights are exactly the reporting validators' (``validation.weights``).
spread_inflation's world: 5 validators with 49 % of validator stake lie on their garbage miner, so tasks escalate and
dissenters are named. A tampered ``dissented`` flag, agreement, consensus quality or weight fails the audit by name; a
rule-31 world (no weights published) audits clean and says its tasks are not recomputable."""

from __future__ import annotations

import copy

import pytest

from cor_incentives import auditor
from cor_incentives.app.published import published_getter
from support.family_world import family_world

CHECKS = ("validation.weights", "validation.consensus", "validation.agreement", "validation.dissented", "validation.spread", "validation.tokens")


def run(rule_version: int | None):
    return family_world("spread_inflation", rule_version=rule_version)


@pytest.fixture(scope="module")
def world():
    return run(None)


@pytest.fixture(scope="module")
def bundle(world):
    return auditor.fetch_bundle(published_getter(world.chain.state), 0)


def failed(bundle) -> set[str]:
    report = auditor.audit_epoch(bundle).to_dict()
    return {q for q, v in report["quantities"].items() if v["matched"] < v["total"]}


def escalated(bundle) -> list[dict]:
    return [t for t in bundle["tasks"].values() if any(v.get("dissented") for v in t["validators"])]


def test_the_task_view_publishes_each_reporting_validators_stake_at_settlement(world, bundle):
    state = world.chain.state
    assert state.params.rule_version >= 32
    for t in bundle["tasks"].values():
        task = state.tasks[t["id"]]
        shown = {v["validator"]: v["weight"] for v in t["validators"] if "weight" in v}
        assert shown == {v: str(w) for v, w in task.panel_weights.items()}
        assert set(shown) == {v["validator"] for v in t["validators"] if v["reported"]} and shown
    assert len({w for t in bundle["tasks"].values() for v in t["validators"] for w in [v.get("weight")] if w}) > 1


def test_the_auditor_recomputes_the_naming_of_every_task_and_it_matches(world):
    get = published_getter(world.chain.state)
    for e in sorted(world.chain.state.epochs):
        report = auditor.audit_epoch(auditor.fetch_bundle(get, e)).to_dict()
        assert report["ok"], {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        counts = {q: report["quantities"][q]["total"] for q in CHECKS}
        assert all(n > 0 for n in counts.values()), counts
        assert not [x for x in report["not_recomputed"] if "not recomputable" in x]
        assert not any("agreement_ppb" in x for x in report["not_recomputed"])  # no longer taken from the task
    assert escalated(auditor.fetch_bundle(get, 0))  # dissenters named, so the dissented check compares real lists


def test_a_dissented_flag_dropped_or_added_fails_validation_dissented(bundle):
    dropped = copy.deepcopy(bundle)
    t = escalated(dropped)[0]
    next(v for v in t["validators"] if v.get("dissented")).pop("dissented")
    assert "validation.dissented" in failed(dropped)
    added = copy.deepcopy(bundle)
    t = escalated(added)[0]
    next(v for v in t["validators"] if v["reported"] and not v.get("dissented") and v["round"] < t["round"])["dissented"] = True
    assert "validation.dissented" in failed(added)


def test_an_agreement_off_by_one_ppb_fails_validation_agreement(bundle):
    tampered = copy.deepcopy(bundle)
    t = next(iter(tampered["tasks"].values()))
    v = next(v for v in t["validators"] if v["reported"] and v["agreement_ppb"])
    v["agreement_ppb"] -= 1
    assert "validation.agreement" in failed(tampered)


def test_a_failed_canary_published_with_an_agreement_fails_validation_agreement(bundle):
    """A validator that failed the task's canary has agreement 0 (*Agreement*): published with its report's score instead,
    the recomputation names it."""
    tampered = copy.deepcopy(bundle)
    t = next(iter(tampered["tasks"].values()))
    v = next(v for v in t["validators"] if v["reported"] and v["agreement_ppb"] and not v["canary_failed"])
    v["canary_failed"] = True
    assert "validation.agreement" in failed(tampered)


def test_a_consensus_quality_off_by_one_ppb_fails_validation_consensus(bundle):
    tampered = copy.deepcopy(bundle)
    t = next(t for t in tampered["tasks"].values() if t["state"] == "SETTLED")
    m = next(m for m in t["miners"] if m["in_consensus"] and not m["planted"])
    m["quality_ppb"] += 1
    assert "validation.consensus" in failed(tampered)


def test_a_weight_that_moves_the_median_fails_validation_consensus(bundle):
    """The bloc's heaviest liar published with most of the task's stake: its reports become the medians."""
    tampered = copy.deepcopy(bundle)
    t = escalated(tampered)[0]
    liar = next(v for v in t["validators"] if v.get("dissented"))
    liar["weight"] = str(10 * sum(int(v["weight"]) for v in t["validators"] if "weight" in v))
    assert {"validation.consensus", "validation.agreement"} <= failed(tampered)


def test_the_blocs_spreads_do_not_move_the_recomputed_spread(bundle):
    """The bloc (49 % of the stake) reveals the largest spread on every task: the recomputed weighted median is an honest
    validator's, and a published spread moved to the bloc's fails ``validation.spread`` by the task's name."""
    tampered = copy.deepcopy(bundle)
    t = escalated(tampered)[0]
    reported = [v for v in t["validators"] if v["reported"]]
    assert int(t["spread_ppb"]) < max(int(v["spread_ppb"]) for v in reported)
    t["spread_ppb"] = max(int(v["spread_ppb"]) for v in reported)
    assert "validation.spread" in failed(tampered)


def test_a_weight_dropped_fails_validation_weights_and_nothing_else(bundle):
    """Without a weight for each reporting validator the task's naming is not recomputed: the one failure says why."""
    dropped = copy.deepcopy(bundle)
    t = next(iter(dropped["tasks"].values()))
    next(v for v in t["validators"] if "weight" in v).pop("weight")
    assert failed(dropped) == {"validation.weights"}


def test_a_rule_31_world_audits_clean_and_says_its_naming_is_not_recomputable():
    w = run(31)
    get = published_getter(w.chain.state)
    bundle = auditor.fetch_bundle(get, 0)
    assert not any("weight" in v for t in bundle["tasks"].values() for v in t["validators"])
    report = auditor.audit_epoch(bundle).to_dict()
    assert report["ok"] and not any(q.startswith("validation.") for q in report["quantities"])
    (note,) = [x for x in report["not_recomputed"] if x.startswith("not recomputable")]
    assert f"of {len(bundle['tasks'])} task(s)" in note and "rule version before 32" in note
    assert note in auditor.render(report)
