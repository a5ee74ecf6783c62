"""Attack dust_positions (sim/attacks/staking.py): one key holder opens a one-base-unit delegation from each of many keys.
Stopped by rule 20 (``RULES_MIN_POSITION``: docs/rewards.md, "Staking", *Positions*): a stake position holds 0 or at
least min_position_units (1 COR). Under rule 19 (knob rules=before_min_position) each base unit could be a position that
every proposal's snapshot stores and every slash of its node reads. Each test runs both rules."""

import pytest

from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import Attack, evaluate

SEEDS = (1, 2, 3)
BASE = 22  # the population's self-bonds (10 miners, 10 validators, a router) and cheat-00's: the honest snapshot
RULE_19 = {"rules": "before_min_position"}


def test_dust_positions_are_refused_from_rule_20():
    r = evaluate(Attack("dust", "dust_positions"), seeds=SEEDS)
    m = r["measured"]
    assert r["books"]["ok"], r["books"]
    assert r["passed"] and r["gain"] == 0 and r["verdict"] == "stopped"
    assert m["rule_version"] >= 20 and m["refused"] == ["position_below_minimum"] and m["refusals"] == 200 * len(SEEDS)
    assert m["positions"] == m["locked_units"] == 0
    # the twin's 200 base units in one position are under the minimum too: both worlds store the population's positions only
    assert m["snapshot_positions"] == m["twin_snapshot_positions"] == BASE and m["snapshot_attacker_positions"] == 0
    assert m["positions_a_slash_of_cheat_reads"] == 1 and m["slashes_of_cheat"] > 0


def test_under_rule_19_every_base_unit_was_a_position_in_the_snapshot_and_the_slash():
    r = evaluate(Attack("dust_19", "dust_positions", RULE_19), seeds=SEEDS)
    m = r["measured"]
    assert r["books"]["ok"], r["books"]
    assert not r["passed"] and r["gain"] == 1.0 and r["verdict"] == "open"
    assert m["rule_version"] == 19 and m["refusals"] == 0
    assert m["positions"] == m["locked_units"] == 200 * len(SEEDS) and m["positions_per_cor_locked"] == COR
    assert m["twin_positions"] == len(SEEDS) and m["twin_locked_units"] == 200 * len(SEEDS)
    assert m["snapshot_positions"] == BASE + 200 and m["twin_snapshot_positions"] == BASE + 1
    # 200 keys over 11 miners in turn: cheat-00 (the 11th) holds 18 of them besides its own self-bond
    assert m["positions_a_slash_of_cheat_reads"] == 19 and m["twin_positions_a_slash_of_cheat_reads"] == 2


@pytest.mark.parametrize("rules", ["min_position", "before_min_position"])
def test_positions_of_the_minimum_are_allowed_under_both_rules_and_bounded_by_the_money(rules):
    """200 keys × 1 COR: 200 positions for 200 COR locked, one per COR: what the minimum allows (gain 0 under both)."""
    r = evaluate(Attack("dust_1cor", "dust_positions", {"units_per_key": COR, "rules": rules}), seeds=SEEDS)
    m = r["measured"]
    assert r["passed"] and r["gain"] == 0 and m["refusals"] == 0
    assert m["positions"] == 200 * len(SEEDS) and m["locked_units"] == 200 * COR * len(SEEDS) and m["positions_per_cor_locked"] == 1


def test_one_unit_under_the_minimum_is_refused_by_rule_20_and_unbacked_under_rule_19():
    below = {"units_per_key": COR - 1}
    r20 = evaluate(Attack("below", "dust_positions", below), seeds=(1,))
    assert r20["passed"] and r20["measured"]["positions"] == 0 and r20["measured"]["refused"] == ["position_below_minimum"]
    r19 = evaluate(Attack("below_19", "dust_positions", {**below, **RULE_19}), seeds=(1,))
    assert not r19["passed"] and r19["measured"]["unbacked_positions"] == 1 and r19["gain"] == pytest.approx(1 / 200)
