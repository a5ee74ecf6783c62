"""The stitching copier (``stitcher``): its plans, and the `stitching_copier` scenario's check at the defaults.

A stitcher never runs the model: on a composed network prompt (rule 9) it glues published answers to the single
parts; the validators keep such an answer in with the share measured with the real models
(``STITCH_PASS_RATE``, data/poi-composed/results.json; tests/nodes/test_poi_composed.py ties the two).
"""

from dataclasses import replace
from decimal import Decimal

from cor_incentives.sim.report import simulate
from cor_incentives.sim.scenarios import SCENARIOS
from cor_incentives.sim.strategies import (
    MINER_STRATEGIES,
    STITCH_CAUGHT_QUALITY,
    STITCH_PASS_RATE,
    Environment,
    MinerContext,
    TaskInfo,
    honest_output,
)

ENV = Environment()
COMPOSED = TaskInfo("0:network:1", 7, "network", "p0001+p0002", 160)
SINGLE = TaskInfo("0:user:1", 8, "user", "user|1|0:user:1", 256)
SEEDS = (1, 2, 3, 4, 5)


def plan(task, options=None, public=None, miner="0xm1", seed=1):
    return MINER_STRATEGIES["stitcher"].plan(MinerContext(ENV, seed, task, miner, options or {}, public or {}))


def test_stitcher_stitches_composed_prompts_and_is_judged_at_the_pass_rate():
    always, never = plan(COMPOSED, {"pass_rate": 1.0}), plan(COMPOSED, {"pass_rate": 0.0})
    assert always.cost_units == never.cost_units == 0 and always.commit == always.reveal
    assert always.reveal.cluster == "honest" and never.reveal.cluster == "lazy" and never.reveal.quality == STITCH_CAUGHT_QUALITY
    assert 0.0 < STITCH_PASS_RATE < 1.0
    passed = sum(plan(replace(COMPOSED, key=f"0:network:{i}")).reveal.cluster == "honest" for i in range(2000))  # the default: the measured pass rate
    assert abs(passed / 2000 - STITCH_PASS_RATE) < 0.04


def test_stitcher_guesses_without_the_parts_and_replays_an_equal_prompt():
    assert plan(SINGLE).reveal.cluster == "lazy"  # a user prompt has no published parts
    assert plan(COMPOSED, {"coverage": "published", "pass_rate": 1.0}).reveal.cluster == "lazy"  # no part published yet
    seen = {"p0001+p0009": honest_output(ENV, 1, COMPOSED, "a"), "p0002+p0100": honest_output(ENV, 1, COMPOSED, "b")}
    assert plan(COMPOSED, {"coverage": "published", "pass_rate": 1.0}, seen).reveal.cluster == "honest"
    earlier = honest_output(ENV, 1, TaskInfo("x", 3, "network", "p0001+p0002", 160), "0xother")
    replay = plan(COMPOSED, {"pass_rate": 0.0}, {"p0001+p0002": earlier})
    assert replay.reveal == earlier and replay.cost_units == 0


def test_stitching_copier_check_passes_at_the_defaults_over_five_seeds():
    rep = simulate([SCENARIOS["stitching_copier"]], seeds=SEEDS, workers=2)
    (c,) = rep["checks"]
    assert c["id"] == "stitching_copier_unprofitable" and c["passed"], c["summary"]
    h, x = c["measured"]["honest"], c["measured"]["stitcher"]
    assert Decimal(h["work_earnings_per_task_served"]) >= 3 * Decimal(x["work_earnings_per_task_served"])
    assert Decimal(x["net_per_node"]) < Decimal(h["net_per_node"])


def test_the_check_fails_for_a_stitcher_the_validators_never_catch():
    base = SCENARIOS["stitching_copier"]
    nodes = tuple(replace(g, options={**dict(g.options), "pass_rate": 1.0}) if g.strategy == "stitcher" else g for g in base.nodes)
    (c,) = simulate([replace(base, nodes=nodes)], seeds=(1,), workers=1)["checks"]
    assert not c["passed"] and c["measured"]["ratio_per_task_served"] < 3, c["summary"]
