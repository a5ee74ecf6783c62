"""Steer-proof assignment under attack: grinding, the cancel lottery and stake splitting, at the defaults over 5 seeds.

Each attack also runs on the first rules (a genesis without a beacon), where it must pay: otherwise
the check could pass because the model of the attack is broken, not because the rules stop it.
"""

from dataclasses import replace

import pytest

from cor_incentives.sim.attacks import Attack, evaluate
from cor_incentives.sim.attacks.assignment import AssignmentGrinding, CancelLottery
from cor_incentives.sim.report import simulate
from cor_incentives.sim.scenarios import SCENARIOS

SEEDS = (1, 2, 3, 4, 5)


def first_rules(family):
    f = type(family)()
    f.beacon = False
    return f


def verdict(family, seeds, knobs=None):
    k = family.resolve(knobs or {})
    runs = [family.run_one(k, s, False) for s in seeds]
    twins = [family.run_one(k, s, True) for s in seeds]
    assert all(r.books_ok for r in runs + twins), [e for r in runs + twins for e in r.errors][:3]
    return family.judge(k, [r.values for r in runs], [t.values for t in twins])


@pytest.mark.slow
def test_assignment_grinding_is_stopped_at_the_defaults():
    r = evaluate(Attack("assignment_grinding", "assignment_grinding"), seeds=SEEDS)
    assert r["passed"] and r["gain"] <= 0, r["summary"]
    m = r["measured"]
    assert m["draws_predictable"] == 0 and m["tries_per_reveal"] == 0  # nothing to grind: the value comes after the reveal
    assert m["miner_in_consensus"] < m["miner_assigned"] / 2  # the garbage is caught on most of its tasks


@pytest.mark.slow
def test_assignment_grinding_pays_on_the_first_rules():
    v = verdict(first_rules(AssignmentGrinding()), SEEDS[:2])
    assert not v.passed and v.gain > 0.1, v.summary
    assert v.measured["miner_in_consensus"] == v.measured["miner_assigned"] and v.measured["tries_per_reveal"] > 0


@pytest.mark.slow
def test_cancel_lottery_is_stopped_at_the_defaults():
    r = evaluate(Attack("cancel_lottery", "cancel_lottery"), seeds=SEEDS)
    assert r["passed"], r["summary"]
    m = r["measured"]
    assert m["cancelled"] == 0 and m["cancels_refused"] >= len(SEEDS)  # it tried once per run, was refused, and stopped


@pytest.mark.slow
def test_cancel_lottery_steers_assignment_on_the_first_rules():
    """On the first rules (no beacon) cancelling until one's own miners are drawn works: most kept tasks are
    served only by the attacker's miners. Its net gain is small and depends on the seeds since user tasks earn
    at most a bounded bonus (+18.6 % over seeds 1-5 before that bound; -2.1 % over seeds 1-2 once the genesis
    names rule version 3, which moves every head-seeded draw), so the steering is what this checks."""
    v = verdict(first_rules(CancelLottery()), SEEDS[:2])
    assert v.measured["kept_served_by_own_miners"] > 0.5 > v.measured["twin_served_by_own_miners"], v.summary


@pytest.mark.slow
def test_sybil_split_gains_nothing_over_5_seeds():
    r = simulate([SCENARIOS["sybil_split"]], seeds=SEEDS, workers=1)
    (check,) = r["checks"]
    assert check["id"] == "sybil_no_gain" and check["passed"], check["summary"]
    assert abs(check["measured"]["assignments_change"]) < 0.05
    # what tests/sim/test_sim_issue_attacks.py asks of it (it points here): the books hold, over the 5 seeds
    s = r["scenarios"]["sybil_split"]
    assert len(s["head_hashes"]) == len(SEEDS) == 5
    assert s["books"]["conservation_ok"] and s["books"]["reconciled"] and not s["books"]["errors"], s["books"]


@pytest.mark.slow
def test_sybil_split_paid_on_the_first_rules():
    """Idle miners first: the split operator's many small nodes are idle more often."""
    single = replace(SCENARIOS["sybil_single"], name="sybil_single_v1", beacon=False)
    split = replace(SCENARIOS["sybil_split"], name="sybil_split_v1", beacon=False, baseline=single.name)
    r = simulate([split], seeds=SEEDS, workers=1, catalog={single.name: single})
    (check,) = r["checks"]
    assert check["measured"]["assignments_change"] > 0.1, check["summary"]
