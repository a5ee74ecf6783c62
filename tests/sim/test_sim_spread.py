"""A 49 % validator coalition inflating the task's spread (rule 12): stopped at the default parameters over 5 seeds.

Fails if the check fails at the defaults: the coalition reports the largest spread (and a perfect quality for its
garbage miner) and must move no honest node's pay per unit of work by more than 5 %, must not gain, and its garbage
miner must stay out of consensus. The same attack under the rules before 12 (the loosening done validator-side) is
measured beside it.
"""

import pytest

from cor_incentives.sim.attacks import Attack, evaluate, evaluate_many
from cor_incentives.sim.strategies import VALIDATOR_STRATEGIES, Environment, TaskInfo, ValidatorContext


@pytest.fixture(scope="module")
def verdicts():
    attacks = [Attack("spread", "spread_inflation"), Attack("before", "spread_inflation", {"rules": "before_spread"})]
    return {r["name"]: r for r in evaluate_many(attacks, workers=2)}


def test_spread_inflation_at_the_defaults_over_five_seeds(verdicts):
    r = verdicts["spread"]
    assert len(r["seeds"]) >= 5 and r["books"] == {"ok": True, "errors": []}
    m = r["measured"]
    assert r["gain"] is not None and r["gain"] <= 0  # the coalition's payout falls (about -50 %)
    assert m["garbage_miner_assigned"] > 100 and m["garbage_miner_in_consensus"] == 0


def test_spread_inflation_is_stopped_as_cor_simulate_judges_it():
    """Judged as ``cor simulate`` judges it (seeds 1-5, then 1-20 while undecided), not by one five-seed window: the
    worst honest node's move sits near the 5 % bound at 5 seeds (over seeds 1-40 a single seed's worst move averages
    6.5 % on main and 6.2 % on rules 17/18, paired difference -0.3 +- 1.1 points, 2 se)."""
    r = evaluate(Attack("spread", "spread_inflation"), workers=2, sequential=True)
    assert r["books"]["ok"] and r["verdict"] == "stopped", (r["verdict"], r["uncertainty"])


def test_the_same_coalition_before_the_rule_is_measured_too(verdicts):
    r = verdicts["before"]
    assert r["knobs"]["rules"] == "before_spread" and r["books"]["ok"]
    assert r["head_hashes"] != verdicts["spread"]["head_hashes"]  # another rule version ran


def test_the_inflater_claims_the_largest_spread_and_honest_validators_measure_theirs():
    task = TaskInfo("e0:0", 1, "network", "p", 64)
    truth = {"m0": (0.0, 0.8), "m1": (0.05, 0.8), "m2": (0.95, 0.05)}  # the garbage m2 is below the floor: not a candidate
    c = ValidatorContext(Environment(report_noise_distance=0.0), 1, task, "v0", {}, ["m0", "m1", "m2"], truth, {"v0": "c", "m2": "c"}, {}, {})
    c = ValidatorContext(**{**c.__dict__, "spread_rule": True})
    assert VALIDATOR_STRATEGIES["honest"].spread(c) == 50_000_000  # the medoid's nearest valid other output
    assert VALIDATOR_STRATEGIES["spread_inflater"].spread(c) == 2 * 10**9
    assert VALIDATOR_STRATEGIES["copier"].spread(c) == 0
    report = {m: (d, q) for m, d, q in VALIDATOR_STRATEGIES["spread_inflater"].report(c)}
    assert report["m2"] == (950_000_000, 10**9)  # its coalition's garbage: the raw distance, a perfect quality
    before = ValidatorContext(**{**c.__dict__, "spread_rule": False, "spread_allowance_ppb": 250_000_000})
    assert {m: (d, q) for m, d, q in VALIDATOR_STRATEGIES["spread_inflater"].report(before)}["m2"] == (700_000_000, 10**9)
