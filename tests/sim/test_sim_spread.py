"""A 49 % validator coalition inflating the task's spread (rule 12): it loses, and lets its garbage in almost never.

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


def test_spread_inflation_is_not_open_as_cor_simulate_judges_it():
    """Judged as ``cor simulate`` judges it (seeds 1-5, then 1-20 while undecided), not by one five-seed window. Under
    rules 17/18 the verdict is undecided, not stopped: the coalition loses and its garbage miner stays out of consensus,
    but the honest miners' pay per unit of work *rises* by up to ~4.6 % pooled over seeds 1-20 (main before the canary
    rules: up to 3.1 %), and the judge bounds the move both ways. The rise is the garbage miner's forfeited share going
    to its co-miners (seeds 1-4: the network's total pay is the same in both worlds, the honest miners get +20 k COR a
    seed, miner-00 loses 24-32 k). So: never open, no honest node loses more than 5 %, the coalition surely loses."""
    r = evaluate(Attack("spread", "spread_inflation"), workers=2, sequential=True)
    assert r["books"]["ok"] and r["verdict"] in ("stopped", "undecided"), (r["verdict"], r["uncertainty"])
    m = r["measured"]
    assert m["largest_drop"] > -0.05, m["honest_rate_change"]  # no honest node is harmed beyond the bound
    assert r["uncertainty"]["gain_interval"][1] < 0  # the coalition's payout falls in every resample's 95 %
    assert m["garbage_miner_in_consensus"] * 100 <= m["garbage_miner_assigned"]  # at most 1 % of its garbage let in


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
