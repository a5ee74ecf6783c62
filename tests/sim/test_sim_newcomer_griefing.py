"""Incumbents holding newcomers down with a failing, slashed miner (rule 13): stopped at the defaults over 5 seeds, and
the same attack under rule 12, where it works, measured beside it; the price of the floor on reregister_after_jail.

A sacrificial miner (20 000 COR, garbage revealed last) is slashed all the time and its reputation falls to ~0.06, the
lowest of its role; 3 honest miners register at epoch 3. Rule 12 starts them at the sacrificial miner's reputation,
rule 13 at reputation_newcomer_floor_ppb (0.4); the twin has no sacrificial miner (they start at 0.5).
"""

import pytest

from cor_incentives.core.params import Params
from cor_incentives.core.rules import RULES_NEWCOMER_FLOOR
from cor_incentives.sim.attacks import Attack, evaluate, evaluate_many

# seeds 1-5 of newcomer_griefing at the defaults, measured for ``verdicts``, are the first of the sequential judgement's 20 (tests/sim/conftest.py)
pytestmark = pytest.mark.usefixtures("shared_runs")

FLOOR = Params().reputation_newcomer_floor_ppb / 1e9


@pytest.fixture(scope="module")
def verdicts():
    attacks = [
        Attack("floor", "newcomer_griefing"),
        Attack("before", "newcomer_griefing", {"rules": "before_floor"}),
        Attack("bad_record", "reregister_after_jail", {"failures": 20, "epochs": 10}),
        Attack("bad_record_12", "reregister_after_jail", {"failures": 20, "epochs": 10}, params={"rule_version": RULES_NEWCOMER_FLOOR - 1}),
    ]
    return {r["name"]: r for r in evaluate_many(attacks, workers=2)}


def test_newcomer_griefing_at_the_defaults_over_five_seeds(verdicts):
    r = verdicts["floor"]
    assert len(r["seeds"]) >= 5 and r["books"] == {"ok": True, "errors": []}
    m = r["measured"]
    assert m["newcomer_start_reputation"] == FLOOR and m["twin_newcomer_start_reputation"] == 0.5
    assert m["sac_reputation_at_join"] < 0.1 and m["sac_slashed_in_memory_at_join"] == len(r["seeds"])  # the griefing is on
    assert 0 < r["gain"]


def test_newcomer_griefing_is_not_open_as_cor_simulate_judges_it():
    """Judged as ``cor simulate`` judges it (seeds 1-5, then 1-20 while undecided), not by one five-seed window: the
    family's 20 % bound is the floor's designed worst case (0.4 / 0.5 of the twin's weight), so its honest verdict is
    "undecided" (newcomers held at about the worst case), and the griefing must never come out "open". Over seeds 1-40,
    paired per seed, rules 17/18 minus main: -2.9 +- 4.0 points of draws and -4.3 +- 6.2 of pay (2 se): within noise."""
    r = evaluate(Attack("floor", "newcomer_griefing"), workers=2, sequential=True)
    u = r["uncertainty"]
    assert r["books"]["ok"] and r["verdict"] in ("stopped", "undecided"), (r["verdict"], u)
    assert r["seeds"] == list(range(1, 21)) and u["pass_share"] > 0.5, u


def test_under_rule_12_the_same_griefing_holds_newcomers_down(verdicts):
    r = verdicts["before"]
    assert r["books"]["ok"] and not r["passed"], r["summary"]
    m = r["measured"]
    assert m["newcomer_start_reputation"] == m["sac_reputation_at_join"] < 0.1  # they start where the sacrificial miner stands
    assert m["draws_ratio"] < 0.4 and m["pay_ratio"] < 0.3 and r["gain"] > 0.7
    assert m["incumbent_work_pay_change"] > verdicts["floor"]["measured"]["incumbent_work_pay_change"]  # the incumbents' profit
    assert r["head_hashes"] != verdicts["floor"]["head_hashes"]  # another rule version ran


def test_a_jailed_key_below_the_floor_gains_at_most_the_floor_by_re_registering(verdicts):
    """The floor's price, measured: 20 garbage answers bring miner-00 to ~0.31 before its mismatch; under rule 13 the fresh
    key starts at the floor (0.4, gain ≈ +30 %), under rule 12 at the jailed key's reputation (gain 0)."""
    r, old = verdicts["bad_record"], verdicts["bad_record_12"]
    assert r["books"]["ok"] and old["books"]["ok"]
    m, m12 = r["measured"], old["measured"]
    assert m["registered"] == m12["registered"] == len(r["seeds"])
    assert m["jailed_reputation"] < FLOOR and m["fresh_reputation"] == FLOOR
    assert r["gain"] == pytest.approx(FLOOR / m["jailed_reputation"] - 1) and 0 < r["gain"] < 0.5
    assert old["passed"] and old["gain"] == 0 and m12["fresh_reputation"] == m12["jailed_reputation"]
