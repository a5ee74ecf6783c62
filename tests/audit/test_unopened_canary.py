"""Rule 36 (RULES_UNOPENED_CANARY) end to end, through the published JSON: canary_unopened's world (the oracle never
opens the canaries it plants at miner-00). A task left unopened publishes ``canary = "unopened"``; the outside auditor
recomputes every reputation with the rule (no step for a miner that revealed a valid output out of an unopened task's
consensus: docs/rewards.md, "Reputation") and fails an epoch whose unopened task is published as an ordinary one."""

from __future__ import annotations

import copy

import pytest

from cor_incentives import auditor
from cor_incentives.app.published import published_getter
from cor_incentives.core.rules import RULES_UNOPENED_CANARY
from support.escalation_audit import every_epoch_audits
from support.family_world import family_world


@pytest.fixture(scope="module")
def world():
    return family_world("canary_unopened", epochs=3)


def judged_out(task):
    """The miners an unopened task does not judge: valid reveals out of its consensus."""
    return [m for m in task["miners"] if m["revealed"] and not m["mismatch"] and not m["in_consensus"]]


def test_the_auditor_recomputes_reputation_under_rule_36_and_catches_an_unopened_task_published_as_none(world):
    state = world.chain.state
    assert state.params.rule_version >= RULES_UNOPENED_CANARY
    get = published_getter(state)
    epochs = sorted(state.epochs)
    every_epoch_audits(get, epochs)
    caught = 0
    for e in epochs:
        bundle = auditor.fetch_bundle(get, e)
        unopened = [t for t in bundle["tasks"].values() if t.get("canary") == "unopened" and t["state"] == "SETTLED" and judged_out(t)]
        if not unopened:
            continue
        ordinary = copy.deepcopy(bundle)  # the same epoch with its unopened tasks published as ordinary ones
        for t in ordinary["tasks"].values():
            if t.get("canary") == "unopened":
                t["canary"] = None
        bad = auditor.audit_epoch(ordinary).to_dict()
        assert not bad["ok"] and bad["quantities"]["reputation"]["mismatches"]
        caught += 1
    assert caught  # the world has an unopened canary whose planted output was out of consensus
