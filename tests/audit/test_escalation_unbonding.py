"""Rule 34 (RULES_ESCALATION_UNBONDING) end to end, through the published JSON (what ``GET /v1/epochs/N`` and ``GET
/v1/statements/ADDR/N`` answer, ``cor statement`` prints): escalation_unbond_dodge's world (validator-00..01 dissent on
every panel and unbond their whole self-bond one tick before each close). A bloc member's ``escalation_unfunded`` line
names where the charge came from (``from_bond_units`` 0, its unbonding entry's piece), its statement's why says so in
words, and the outside auditor checks the pieces (``escalation_unfunded.pieces``: they add up to the amount, from entries
started in the epoch, oldest first) and fails a published epoch whose piece was changed, moved before the epoch or
dropped. Under rule 33 the same dodge leaves no bloc line and the auditor checks that no line names pieces."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from cor_incentives import auditor
from cor_incentives.app import views
from cor_incentives.app.export import why
from cor_incentives.app.published import published_getter
from cor_incentives.core.units import format_cor
from cor_incentives.sim.attacks.base import FAMILIES
from cor_incentives.sim.runner import World
from support.escalation_audit import charges


def run(rules: str) -> World:
    family = FAMILIES["escalation_unbond_dodge"]
    knobs = family.resolve({"epochs": 2, "rules": rules})
    scenario = family.scenario(knobs, False)
    scenario = dataclasses.replace(scenario, params={**scenario.params, "prune_closed_records": 0})
    w = World(scenario, 1, script=family.script(knobs, False))
    for e in range(scenario.epochs):
        w.run_epoch(e)
    return w


@pytest.fixture(scope="module")
def world():
    return run("reach")


@pytest.fixture(scope="module")
def old_world():
    return run("before_reach")


def bloc(world: World) -> set[str]:
    return {a for a, name in world.name_of.items() if name in ("validator-00", "validator-01")}


def test_the_bloc_lines_name_their_unbonding_pieces_and_the_statement_says_so(world):
    get = published_getter(world.chain.state)
    state = world.chain.state
    lines = [(e, x) for e in sorted(state.epochs) for x in charges(get(f"/v1/epochs/{e}"))]
    assert lines and {x["address"] for _, x in lines} <= bloc(world)
    for e, x in lines:
        d = x["detail"]
        pieces = d["from_unbonding"]
        assert int(d["from_bond_units"]) == 0 and len(pieces) == 1  # the bond was 0 at the close: the entry paid it all
        assert int(pieces[0]["amount_units"]) == -int(x["amount_units"]) > 0
        assert state.epochs[e].start_tick <= int(pieces[0]["unbonding_start_tick"]) == state.epochs[e].end_tick - 1  # the last tick
        statement = json.loads(json.dumps(views.statement(state, x["address"], e)))
        (item,) = [i for i in statement["items"] if i["stream"] == "escalation_unfunded"]
        said = why(item)  # the why column of `cor statement` and `cor rewards --csv`
        amount = format_cor(-int(x["amount_units"]))
        assert f"{amount} COR from unbonding entry {pieces[0]['unbonding_id']}" in said and "from the self-bond" not in said
        assert "rule 34" in said


def test_the_auditor_checks_the_pieces_and_catches_a_changed_moved_or_dropped_one(world):
    get = published_getter(world.chain.state)
    for e in sorted(world.chain.state.epochs):
        report = auditor.audit_epoch(auditor.fetch_bundle(get, e)).to_dict()
        assert report["ok"], {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        q = report["quantities"]["escalation_unfunded.pieces"]
        assert q["matched"] == q["total"] == 4 * len(charges(get(f"/v1/epochs/{e}"))) > 0
    bundle = auditor.fetch_bundle(get, 0)

    def tampered(change) -> dict:
        b = copy.deepcopy(bundle)
        change(charges(b["epoch"])[0]["detail"])
        return auditor.audit_epoch(b).to_dict()

    def piece_plus_one(d):
        d["from_unbonding"][0]["amount_units"] = str(int(d["from_unbonding"][0]["amount_units"]) + 1)

    def before_the_epoch(d):
        d["from_unbonding"][0]["unbonding_start_tick"] = -1

    def dropped(d):
        d["from_unbonding"] = []

    def unnamed(d):
        del d["from_unbonding"]

    for change in (piece_plus_one, before_the_epoch, dropped, unnamed):
        bad = tampered(change)
        assert not bad["ok"] and bad["quantities"]["escalation_unfunded.pieces"]["mismatches"], change.__name__


def test_under_rule_33_the_dodge_leaves_no_bloc_line_and_no_line_names_pieces(old_world):
    get = published_getter(old_world.chain.state)
    for e in sorted(old_world.chain.state.epochs):
        epoch = get(f"/v1/epochs/{e}")
        assert not {x["address"] for x in charges(epoch)} & bloc(old_world)
        report = auditor.audit_epoch(auditor.fetch_bundle(get, e)).to_dict()
        assert report["ok"]
        assert all("from_unbonding" not in x["detail"] for x in charges(epoch))
