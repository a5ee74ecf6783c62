"""Rule 33 (RULES_ESCALATION_FUNDED) end to end, through the published JSON (what ``GET /v1/epochs/N`` and
``cor statement`` print): unfunded_escalation's world (validator-00..01 dissent on every panel, so they have no
validations to pay for the escalations with). A bloc member's statement carries the line ``escalation_unfunded`` (its
self-bond charged, the units and rate it was computed from), and the outside auditor recomputes the epoch from the
views with those units, checks each charge's amount, and fails a published epoch whose charge was dropped or inflated."""

from __future__ import annotations

import copy

import pytest

from cor_incentives import auditor
from cor_incentives.app.published import published_getter
from cor_incentives.core.rules import RULES_ESCALATION_UNBONDING
from cor_incentives.core.staking import stake_account
from cor_incentives.core.units import PPB
from support.escalation_audit import charges, every_epoch_audits
from support.family_world import family_world


@pytest.fixture(scope="module")
def world():
    # rule 34: the charge at multiplier 1.0 (rule 35's price: tests/audit/test_escalation_priced.py)
    return family_world("unfunded_escalation", rule_version=RULES_ESCALATION_UNBONDING)


def test_the_bloc_is_charged_on_a_named_line_and_nobody_else_is(world):
    get = published_getter(world.chain.state)
    bloc = {a for a, name in world.name_of.items() if name in ("validator-00", "validator-01")}
    lines = [x for e in sorted(world.chain.state.epochs) for x in charges(get(f"/v1/epochs/{e}"))]
    assert lines and {x["address"] for x in lines} <= bloc
    rate = world.chain.state.params.network_validation_rate_units
    for x in lines:
        units = int(x["detail"]["validation_units_ppb"])
        assert units > 0 and int(x["amount_units"]) == (-units * rate) // PPB  # −ceil(units × rate / 1e9) = floor(−units × rate / 1e9)
        assert x["detail"]["from"] == stake_account(x["address"], x["address"])  # its self-bond, not a delegator's position


def test_the_auditor_recomputes_it_and_catches_a_dropped_or_inflated_charge(world):
    get = published_getter(world.chain.state)
    every_epoch_audits(get, sorted(world.chain.state.epochs))
    bundle = auditor.fetch_bundle(get, 0)
    assert charges(bundle["epoch"])
    dropped = copy.deepcopy(bundle)  # published as if no bond had paid: the escalation rows no longer add up
    dropped["epoch"]["lines"] = [x for x in dropped["epoch"]["lines"] if x["stream"] != "escalation_unfunded"]
    bad = auditor.audit_epoch(dropped).to_dict()
    assert not bad["ok"]
    inflated = copy.deepcopy(bundle)  # a charge's units raised by one validation: the amount no longer matches
    line = charges(inflated["epoch"])[0]
    line["detail"]["validation_units_ppb"] = str(int(line["detail"]["validation_units_ppb"]) + PPB)
    bad = auditor.audit_epoch(inflated).to_dict()
    assert not bad["ok"] and bad["quantities"]["escalation_unfunded.amount"]["mismatches"]
