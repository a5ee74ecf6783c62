"""A 49 % validator coalition inflating the task's spread (rule 12): it loses, and lets its garbage in almost never.

Fails if the check fails at the defaults: the coalition reports the largest spread (and a perfect quality for its
garbage miner) and must not gain against the all-honest twin, its lie must move no honest node's pay per unit of work by
more than 5 % against the world without the lie (every validator honest, miner-00 still garbage), and its garbage miner
must stay out of consensus. The lie makes the tasks it sees escalate: under rule 30 (``rules`` = before_escalation_pay)
the honest validators drawn into those escalations were paid only what the first round left (rule 29), so their pay per
unit of work fell past the bound (open); from rule 31 (``RULES_ESCALATION_PAY``, the default) the reports that made an
escalation pay for it (stopped). The same attack under the rules before 12 (the loosening done validator-side,
``rule_version`` 11) is measured beside them.
"""

import pytest

from cor_incentives.core.rules import RULES_TASK_SPREAD
from cor_incentives.sim.attacks import Attack, evaluate, evaluate_many
from cor_incentives.sim.attacks.spread import SpreadInflation
from cor_incentives.sim.strategies import VALIDATOR_STRATEGIES, Environment, TaskInfo, ValidatorContext
from cor_incentives.sim.sweep import Target, plan, run_job

# seeds 1-5 of spread_inflation at the defaults, measured for ``verdicts``, are the first of the sequential judgement's 20 (tests/sim/conftest.py)
pytestmark = pytest.mark.usefixtures("shared_runs")


@pytest.fixture(scope="module")
def verdicts():
    attacks = [Attack("spread", "spread_inflation"), Attack("before", "spread_inflation", params={"rule_version": RULES_TASK_SPREAD - 1})]
    return {r["name"]: r for r in evaluate_many(attacks, workers=2)}


def test_spread_inflation_at_the_defaults_over_five_seeds(verdicts):
    r = verdicts["spread"]
    assert len(r["seeds"]) >= 5 and r["books"] == {"ok": True, "errors": []}
    m = r["measured"]
    assert r["gain"] is not None and r["gain"] <= 0  # the coalition's payout falls (about -50 %)
    assert m["garbage_miner_assigned"] > 100 and m["garbage_miner_in_consensus"] == 0


def test_under_rule_31_the_escalations_the_lie_provokes_are_paid_by_the_liars_stopped():
    """Judged as ``cor simulate`` judges it (seeds 1-5, then 1-20 while undecided). From rule 31 (``RULES_ESCALATION_PAY``)
    an escalation's honest validators are paid their agreement, from what its first round left and what its dissenters
    (the coalition's validators, judged by the whole panel) pay out of their other validations: against the world
    without the lie the honest nodes' pay per unit of work moves -0.9 % .. +1.5 % (seeds 1-20; rule 30: -6.9 % .. +1.3 %),
    the coalition loses -60.7 % against the twin (-18.8 % against the lie's absence). Fails if it read open again, if any
    honest node moved past the bound, or if the coalition gained."""
    r = evaluate(Attack("spread", "spread_inflation"), workers=2, sequential=True)
    assert r["books"]["ok"] and r["verdict"] == "stopped", (r["verdict"], r["uncertainty"])
    assert r["seeds"] == list(range(1, 21)) and r["uncertainty"]["pass_share"] >= 0.95
    m = r["measured"]
    validators = {n: c for n, c in m["honest_rate_change"].items() if n.startswith("validator-")}
    assert validators and min(validators.values()) > -0.03  # no honest validator pays for the escalations any more
    assert m["max_abs_honest_rate_change"] <= 0.05 and r["uncertainty"]["gain_interval"][1] < 0
    assert m["coalition_change_vs_honest_validators"] < 0  # the lie itself costs the coalition too
    assert m["garbage_miner_in_consensus"] * 100 <= m["garbage_miner_assigned"]


def test_under_rule_30_the_coalition_loses_and_honest_validators_pay_for_its_escalations_open():
    """Rule 30 (``rules`` = before_escalation_pay), as session 33 found it. Under rule 28 it was stopped: against the world
    without the lie (every validator honest, miner-00 still garbage) the lie moved honest pay per unit of work
    -0.9 % .. +1.3 %. From rule 29 (``RULES_ESCALATION_SHARE``) the escalations the lie provokes pay their validators
    only what the task's first round left of ``validators_per_task`` validations, so the honest validators drawn into
    them do that work for less: their pay per unit of work falls past the family's 5 % bound (to about -7 %) and the
    verdict is **open**, a griefing cost (session 33's closing note), while the coalition still loses, against the twin
    and against the lie's absence. Fails if the coalition gained, if the miners' pay moved past the bound, or if the
    verdict were open for another reason than the validators' fall."""
    r = evaluate(Attack("spread", "spread_inflation", {"rules": "before_escalation_pay"}), workers=2, sequential=True)
    assert r["books"]["ok"] and r["verdict"] == "open", (r["verdict"], r["uncertainty"])
    assert r["seeds"] == list(range(1, 21))  # five seeds left it undecided (a noisy family), twenty decide it
    assert {f"{s}~honest_validators" for s in r["seeds"]} <= set(r["head_hashes"])  # the reference world ran on every seed
    m = r["measured"]
    miners = {n: c for n, c in m["honest_rate_change"].items() if n.startswith("miner-")}
    validators = {n: c for n, c in m["honest_rate_change"].items() if n.startswith("validator-")}
    assert miners and validators and max(map(abs, miners.values())) <= 0.05  # the miners: inside the bound
    assert -0.10 < min(validators.values()) < -0.05 and m["largest_gain"] <= 0.05  # the bound broken by a validator's fall only
    assert r["uncertainty"]["gain_interval"][1] < 0  # the coalition's payout falls in every resample's 95 %
    assert m["coalition_change_vs_honest_validators"] < 0  # the lie itself costs the coalition too
    assert m["garbage_miner_in_consensus"] * 100 <= m["garbage_miner_assigned"]  # at most 1 % of its garbage let in


def _world(miner01_network: int, coalition_payout: int) -> dict:
    """One seed's measurement, as ``SpreadInflation.measure`` gives it, reduced to what the judge reads."""

    def node(network: int, payout: int) -> dict:
        return {"network": network, "network_work": 1_000, "slashes": 0, "payout": payout, "assigned": 10}

    coalition = ["miner-00"] + [f"validator-{i:02d}" for i in range(5)]
    nodes = {n: node(100, coalition_payout // len(coalition)) for n in coalition}
    nodes["miner-01"] = node(miner01_network, miner01_network)
    nodes["validator-05"] = node(100, 100)
    roles = {n: n.split("-")[0] for n in nodes}
    return {"nodes": nodes, "roles": roles, "miner00_in_consensus": 0, "captured": 0, "tasks": 1, "escalated": 0, "validations": 1}


def test_the_judge_bounds_the_lies_moves_against_the_reference_world_not_the_twin():
    """The coalition's gain is taken against the all-honest twin; the honest nodes' moves against ``honest_validators``.
    An honest miner +10 % against the twin but 0 % against the reference passes; 0 % against the twin but +10 % against
    the reference fails. A judge that used the twin for the moves would get both backwards."""
    f = SpreadInflation()
    k = f.resolve({})
    attack = _world(110, 6_000)

    def twin(twin_pay: int, reference_pay: int, coalition_payout: int = 12_000) -> dict:
        return f.with_references(_world(twin_pay, coalition_payout), {"honest_validators": _world(reference_pay, 7_200)})

    v = f.judge(k, [attack], [twin(100, 110)])  # the rise is the garbage miner's forfeit: there without the lie too
    assert v.passed and v.measured["max_abs_honest_rate_change"] == 0.0 and v.measured["honest_rate_change_vs_twin"]["miner-01"] == 0.1
    assert v.gain == -0.5 and round(v.measured["coalition_change_vs_honest_validators"], 4) == round(6_000 / 7_200 - 1, 4)
    v = f.judge(k, [attack], [twin(110, 100)])  # the lie itself moves miner-01 by +10 %
    assert not v.passed and v.measured["largest_gain"] == 0.1 and v.measured["honest_rate_change_vs_twin"]["miner-01"] == 0.0
    assert not f.judge(k, [attack], [twin(110, 110, coalition_payout=5_400)]).passed  # the coalition gains against the twin
    with pytest.raises(ValueError, match="honest_validators"):
        f.judge(k, [attack], [_world(110, 12_000)])  # no reference world measured: refused, not judged against the twin
    with pytest.raises(ValueError, match="honest_validators"):
        f.with_references(_world(110, 12_000), {})


def test_the_reference_world_is_the_attack_without_the_lie():
    """Same miners (miner-00 garbage, in its coalition), every validator honest, same parameters and epochs: the family
    fixes it (no knob names it), and a sweep's record carries it too (``cor redteam`` judges from those records)."""
    f = SpreadInflation()
    k = f.resolve({"rules": "before_escalation_pay", "epochs": 2})
    attack, (ref, _) = f.scenario(k, False), f.reference(k, "honest_validators")
    assert [g for g in ref.nodes if g.role == "miner"] == [g for g in attack.nodes if g.role == "miner"]
    assert attack.nodes[0].strategy == "garbage" and f.scenario(k, True).nodes[0].strategy == "honest"
    assert {g.strategy for g in ref.nodes if g.role == "validator"} == {"honest"} and ref.params == attack.params
    assert ref.epochs == attack.epochs == 2 and "honest_validators" not in {kn.name for kn in f.knobs}
    (job,) = plan([Target.of_attack(Attack("s", "spread_inflation", {"epochs": 2}))], {}, seeds=(1,))
    record = run_job(job)
    assert record["books_ok"] and set(record["measured"]["twin"]["references"]) == {"honest_validators"}
    reference = record["measured"]["twin"]["references"]["honest_validators"]
    assert reference["nodes"]["miner-00"]["payout"] < record["measured"]["twin"]["nodes"]["miner-00"]["payout"]  # garbage there


def test_the_same_coalition_before_the_spread_rule_is_measured_too(verdicts):
    r = verdicts["before"]
    assert r["params"] == {"rule_version": RULES_TASK_SPREAD - 1} and r["books"]["ok"]
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
