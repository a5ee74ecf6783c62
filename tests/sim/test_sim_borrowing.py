"""The borrowing copier (``borrower``): its plans, and the `borrowing_copier` scenario's check at the defaults.

A borrower never runs the model: on a composed network prompt whose first part was asked first in an earlier settled
task it cuts that task's published first answer and glues a published answer for part 2; the validators keep it in
with the share measured with the real models (``BORROW_PASS_RATE``, data/poi-composed/results.json;
tests/nodes/test_poi_composed.py ties the two). Without such a task it stitches.
"""

from dataclasses import replace
from decimal import Decimal

from cor_incentives.sim.report import simulate
from cor_incentives.sim.scenarios import SCENARIOS, Scenario
from cor_incentives.sim.strategies import (
    BORROW_PASS_RATE,
    MINER_STRATEGIES,
    STITCH_CAUGHT_QUALITY,
    Environment,
    MinerContext,
    TaskInfo,
    honest_output,
)

ENV = Environment()
COMPOSED = TaskInfo("0:network:1", 7, "network", "p0001+p0002", 160, first_part="p0002")
SEEDS = (1, 2, 3, 4, 5)
WITHOUT_BORROW_CHECK = 0.79167  # results.json borrowing_copier.pass_rate_without_borrow_check (the validator before)


def plan(task, options=None, public=None, first=(), miner="0xm1", seed=1):
    return MINER_STRATEGIES["borrower"].plan(MinerContext(ENV, seed, task, miner, options or {}, public or {}, first))


def test_borrower_borrows_once_the_first_part_was_asked_first_and_is_judged_at_the_pass_rate():
    always = plan(COMPOSED, {"pass_rate": 1.0}, first={"p0002"})
    never = plan(COMPOSED, {"pass_rate": 0.0}, first={"p0002"})
    assert always.cost_units == never.cost_units == 0 and always.commit == always.reveal
    assert always.reveal.cluster == "honest" and never.reveal.cluster == "lazy" and never.reveal.quality == STITCH_CAUGHT_QUALITY
    assert 0.0 < BORROW_PASS_RATE < WITHOUT_BORROW_CHECK
    keys = [replace(COMPOSED, key=f"0:network:{i}") for i in range(2000)]
    passed = sum(plan(t, first={"p0002"}).reveal.cluster == "honest" for t in keys)
    assert abs(passed / 2000 - BORROW_PASS_RATE) < 0.04


def test_borrower_stitches_when_no_earlier_task_asked_its_first_part_first():
    # p0001 was asked first, not p0002 (the order matters: the first answer is what it borrows)
    stitched = [plan(replace(COMPOSED, key=f"0:network:{i}"), first={"p0001"}) for i in range(400)]
    from cor_incentives.sim.strategies import STITCH_PASS_RATE

    assert abs(sum(p.reveal.cluster == "honest" for p in stitched) / 400 - STITCH_PASS_RATE) < 0.06
    assert plan(COMPOSED, {"pass_rate": 1.0, "coverage": "all"}).reveal.cluster == "honest"  # a network that ran long
    earlier = honest_output(ENV, 1, TaskInfo("x", 3, "network", "p0001+p0002", 160), "0xother")
    replay = plan(COMPOSED, {"pass_rate": 0.0}, {"p0001+p0002": earlier}, first={"p0002"})
    assert replay.reveal == earlier  # the same parts were asked before: it replays that answer


def _with(options: dict, epochs: int | None = None) -> Scenario:
    base = SCENARIOS["borrowing_copier"]
    nodes = tuple(replace(n, options={**n.options, **options}) if n.strategy == "borrower" else n for n in base.nodes)
    return replace(base, nodes=nodes, epochs=epochs or base.epochs)


def _check(scenario: Scenario) -> dict:
    (c,) = simulate([scenario], seeds=SEEDS, workers=2)["checks"]
    assert c["id"] == "borrowing_copier_unprofitable"
    return c


def test_borrowing_copier_check_passes_at_the_defaults_over_five_seeds():
    c = _check(SCENARIOS["borrowing_copier"])
    assert c["passed"], c["summary"]
    h, x = c["measured"]["honest"], c["measured"]["borrower"]
    assert Decimal(h["work_earnings_per_task_served"]) >= 10 * Decimal(x["work_earnings_per_task_served"])
    assert Decimal(x["net_per_node"]) < Decimal(h["net_per_node"])


def test_the_check_fails_for_the_validator_without_the_borrow_check():
    c = _check(_with({"pass_rate": WITHOUT_BORROW_CHECK}))
    assert not c["passed"], c["summary"]  # 30 epochs: ratio ~3.6, +11 000 COR per borrower without running a model


def test_over_two_epochs_of_a_network_that_ran_long_the_check_passes_and_fails_without_the_borrow_check():
    assert _check(_with({"coverage": "all"}, epochs=2))["passed"]
    assert not _check(_with({"coverage": "all", "pass_rate": WITHOUT_BORROW_CHECK}, epochs=2))["passed"]
