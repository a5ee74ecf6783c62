"""The outside auditor on every `cor simulate` attack family's world: each closed epoch recomputes exactly.

Each family's attacker world (its scenario at the default knobs, seed 1, at least three epochs) runs
through the real core: JIT delegation and bonding, commission switches, slashes dodged by unbonding,
fabricated and split slashes, equivocation, wash trading, flash governance, voter farming, curator
puppets, bounty self-awards. The auditor (standard library only, written from docs/rewards.md) reads
the published JSON of the resulting state, the same JSON as the API, and must match every quantity.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

import cor_incentives.sim.attacks  # noqa: F401  (registers the families)
from cor_incentives.app.published import published_getter
from cor_incentives.sim.attacks.base import FAMILIES
from cor_incentives.sim.runner import World

AUDITOR = Path(__file__).resolve().parents[2] / "src" / "cor_incentives" / "auditor.py"


def outside_auditor():
    spec = importlib.util.spec_from_file_location("outside_auditor", AUDITOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules["outside_auditor"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_epoch_of_the_attack_world_recomputes(name):
    _recomputes(name, {})


def test_the_canaries_of_the_rule_before_the_paid_planter_recompute():
    """plant_refusal's world under rule 17 (knob rules=before_paid_planter): user canaries whose planters the core did not
    pay, so the auditor must make no planter row there (an auditor paying from rule 17 fails it; the default worlds run
    rule 18, where both pay)."""
    _recomputes("plant_refusal", {"rules": "before_paid_planter"})


def test_the_escalations_of_rule_28_recompute():
    """escalation_cartel's world under rule 28 (knob rules=before_shared): every round's row earns a whole validation, so
    the auditor must share nothing there (one sharing from rule 28 fails it; the default world runs rule 29)."""
    _recomputes("escalation_cartel", {"rules": "before_shared"})


def test_the_escalations_of_rule_30_recompute():
    """spread_inflation's world under rule 30 (knob rules=before_escalation_pay): the escalation rows share what the first
    round left and nobody pays for them, so the auditor must charge no dissenter there (one paying from rule 30 fails it;
    the default worlds of spread_inflation and escalation_cartel run rule 31, where the dissenters pay)."""
    _recomputes("spread_inflation", {"rules": "before_escalation_pay"})


def _recomputes(name, given):
    family = FAMILIES[name]
    knobs = family.resolve(given)
    scenario = family.scenario(knobs, False)
    # every epoch's whole record is audited, so the world keeps them: a family that prunes (bounty_churn measures what a node
    # with a database holds) runs here without pruning, which changes no amount (the simulator has no database to read
    # pruned records back from; every other family keeps everything already)
    params = {**scenario.params, "prune_closed_records": 0}
    scenario = dataclasses.replace(scenario, epochs=max(scenario.epochs, 3), params=params)
    world = World(scenario, 1, script=family.script(knobs, False))
    for e in range(scenario.epochs):
        world.run_epoch(e)
    state = world.chain.state
    audit = outside_auditor()
    get = published_getter(state)
    assert len(state.epochs) >= 3
    for e in sorted(state.epochs):
        bundle = audit.fetch_bundle(get, e)
        report = audit.audit_epoch(bundle).to_dict()
        bad = {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        assert report["ok"], f"{name} epoch {e}: {bad}"
        assert report["total"] > 100
        # every settled user task is priced by the auditor (the quote at its recomputed counts), none taken as given
        priced = sum(1 for t in bundle["tasks"].values() if t["kind"] == "user" and t["state"] == "SETTLED")
        assert report["quantities"].get("task_fee.charged_units", {"total": 0})["total"] == priced, f"{name} epoch {e}"
