"""Rule 35 (RULES_ESCALATION_PRICED) end to end, through the published JSON: unfunded_escalation's world under the current
rules (validator-00..01 dissent on every panel). A bloc member's ``escalation_unfunded`` line names the price it was
charged at (``rate_units``, ``multiplier_ppb`` = reputation_multiplier_max_ppb, the formula), and the outside auditor
recomputes each charge from the published parameters (docs/rewards.md, "An escalation charge is priced at the most a
payee can be paid (rule 35)") and fails a published epoch whose charge was priced at rule 34's multiplier 1.0."""

from __future__ import annotations

import copy

import pytest

from cor_incentives import auditor
from cor_incentives.app.export import why
from cor_incentives.app.published import published_getter
from cor_incentives.core.rules import RULES_ESCALATION_PRICED
from cor_incentives.core.units import PPB
from support.escalation_audit import charges, every_epoch_audits
from support.family_world import family_world


@pytest.fixture(scope="module")
def world():
    return family_world("unfunded_escalation")


def test_the_bloc_lines_name_the_price_at_the_max_multiplier(world):
    state = world.chain.state
    assert state.params.rule_version >= RULES_ESCALATION_PRICED
    get = published_getter(state)
    lines = [x for e in sorted(state.epochs) for x in charges(get(f"/v1/epochs/{e}"))]
    assert lines
    rate, top = state.params.network_validation_rate_units, state.params.reputation_multiplier_max_ppb
    assert top > PPB  # the default 1.5: the charge is above rule 34's
    for x in lines:
        units, d = int(x["detail"]["validation_units_ppb"]), x["detail"]
        assert int(d["rate_units"]) == rate and int(d["multiplier_ppb"]) == top and "multiplier_ppb" in d["formula"]
        assert int(x["amount_units"]) == (-units * rate * top) // PPB**2  # −ceil(units × rate × max / 1e18)
        assert -int(x["amount_units"]) > -(-units * rate // PPB)  # more than rule 34's price
        assert "× 1.5 (reputation_multiplier_max_ppb, rule 35)" in why(x)  # cor statement says it


def test_the_auditor_recomputes_the_priced_charge_and_catches_one_priced_at_1(world):
    get = published_getter(world.chain.state)
    every_epoch_audits(get, sorted(world.chain.state.epochs))
    bundle = auditor.fetch_bundle(get, 0)
    assert charges(bundle["epoch"])
    cheap = copy.deepcopy(bundle)  # a charge published at rule 34's price (multiplier 1.0): the amount no longer matches
    line = charges(cheap["epoch"])[0]
    units, rate = int(line["detail"]["validation_units_ppb"]), int(line["detail"]["rate_units"])
    line["amount_units"] = str((-units * rate) // PPB)  # −ceil(units × rate / 1e9)
    bad = auditor.audit_epoch(cheap).to_dict()
    assert not bad["ok"] and bad["quantities"]["escalation_unfunded.amount"]["mismatches"]
