"""Attack idle_stake (sim/attacks/staking.py): stake parked in a node no draw can reach. Stopped by rule 14
(``RULES_EXPOSED_STAKE``: docs/rewards.md, "Staking APR"): only stake exposed to work earns the APR. Under rule 13
(knob rules=before_exposure) the staking APR paid every node not slashed or jailed on its stake × ticks, whether or not
it could be drawn: a miner registered for a model no task asks for was never drawn, never worked and could never be
slashed, yet its stake (and any stake delegated to it) earned the full target APR. Each test runs both rules.
"""

import pytest

from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import Attack, evaluate

SEEDS = (1, 2, 3, 4, 5)
EPOCHS = 6  # the family's default
APR_BPS = 6_000  # target_apr_bps in network months 0-5 (every epoch of the run)
EPOCHS_PER_YEAR = 365
EPOCH_TICKS = 100


def due(stake_units: int) -> int:
    """docs/rewards.md: due_n = node_stake_ticks × target_apr_bps // (10 000 × epochs_per_year × epoch_length_ticks)."""
    return stake_units * EPOCH_TICKS * APR_BPS // (10_000 * EPOCHS_PER_YEAR * EPOCH_TICKS)


RULE_13 = {"rules": "before_exposure"}


def test_idle_stake_is_stopped_by_rule_14():
    """The same world under rule 14: the idle miner is never drawn and earns nothing; the working miner keeps its APR."""
    r = evaluate(Attack("idle_stake", "idle_stake"), seeds=SEEDS, workers=2)
    m = r["measured"]
    assert r["books"]["ok"], r["books"]
    assert r["passed"] and r["gain"] == 0
    assert m["assigned"] == 0 and m["slashed"] == 0 and m["idle_apr"] == m["income"] == m["twin_income"] == 0
    assert m["apr_per_cor_tick_vs_working_miner"] == 0
    # the honest stakers' APR does not move: the rule takes from the parked stake only
    assert m["honest_stakers_apr"] == m["twin_honest_stakers_apr"] > 0


def test_idle_stake_was_paid_the_full_apr_for_no_work_under_rule_13():
    r = evaluate(Attack("idle_stake_13", "idle_stake", RULE_13), seeds=SEEDS, workers=2)
    m = r["measured"]
    assert r["books"]["ok"], r["books"]
    assert not r["passed"]
    # never drawn, never slashed: the stake backs no work and takes no risk
    assert m["assigned"] == 0 and m["slashed"] == 0
    # and it is paid the whole APR on its 2 000 COR: 3.2877 COR an epoch, every epoch, every seed
    assert m["idle_apr"] == m["income"] == len(SEEDS) * EPOCHS * due(2_000 * COR) == 98_630_136_986_301_369_840
    assert m["twin_income"] == 0  # the honest twin holds the same COR unstaked
    assert r["gain"] == pytest.approx(EPOCHS * APR_BPS / 10_000 / EPOCHS_PER_YEAR, rel=1e-9)
    assert m["yield_per_year"] == pytest.approx(0.6, rel=1e-9)
    # per COR-tick exactly what a working miner's stake earns from the APR in the same world
    assert m["apr_per_cor_tick_vs_working_miner"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("rules", ["exposed", "before_exposure"])
def test_a_delegator_that_parks_its_stake_in_the_idle_node(rules):
    """Under rule 13 stake delegated to the idle node earned the APR too, with no slashing risk (a risk-free vault);
    under rule 14 neither the operator nor the delegator earns anything."""
    r = evaluate(Attack("parked", "idle_stake", {"delegated_cor": 20_000, "epochs": 2, "rules": rules}), seeds=SEEDS, workers=2)
    if rules == "exposed":
        m = r["measured"]
        assert r["books"]["ok"] and r["passed"] and m["income"] == m["idle_apr"] == 0 and m["capital"] == len(SEEDS) * 22_000 * COR
        return
    m = r["measured"]
    assert r["books"]["ok"] and not r["passed"]
    assert m["assigned"] == 0 and m["slashed"] == 0 and m["capital"] == len(SEEDS) * 22_000 * COR
    # the node's due on 22 000 COR, split between the operator and the delegator by stake × ticks (floors to dust)
    assert len(SEEDS) * 2 * due(22_000 * COR) - 10 <= m["income"] <= len(SEEDS) * 2 * due(22_000 * COR)
    assert r["gain"] == pytest.approx(2 * APR_BPS / 10_000 / EPOCHS_PER_YEAR, rel=1e-9)


@pytest.mark.parametrize("rules", ["exposed", "before_exposure"])
def test_idle_stake_below_the_minimum_self_bond(rules):
    """The other way out of every draw: serve the network's model but unbond to one base unit below the miners' minimum
    (1 000 COR) before any task, so the node is not selectable. Under rule 13 its self-bond and a 20 000 COR delegation
    earned the APR (the 1 000 COR unbonding earns nothing, so the yield on the 22 000 COR of capital is 21 000 / 22 000 of
    60 %); under rule 14 every one of its stake × ticks is idle and it earns nothing."""
    r = evaluate(Attack("below", "idle_stake", {"how": "below_minimum", "delegated_cor": 20_000, "rules": rules}), seeds=SEEDS, workers=2)
    if rules == "exposed":
        m = r["measured"]
        assert r["books"]["ok"] and r["passed"] and m["assigned"] == 0 and m["income"] == m["idle_apr"] == 0
        return
    m = r["measured"]
    assert r["books"]["ok"] and not r["passed"]
    assert m["assigned"] == 0 and m["slashed"] == 0 and m["twin_income"] == 0
    assert m["idle_stake_ticks"] == len(SEEDS) * EPOCHS * EPOCH_TICKS * (21_000 * COR - 1)
    assert m["income"] == m["idle_apr"] > 0
    assert m["yield_per_year"] == pytest.approx(0.6 * 21_000 / 22_000, rel=1e-6)
    assert m["apr_per_cor_tick_vs_working_miner"] == pytest.approx(1.0, abs=1e-9)
