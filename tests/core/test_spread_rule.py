"""The task's PoI threshold from the validators' spreads (rule 12, core/spread.py): golden vectors and the rule on a chain."""

import json
from pathlib import Path

import pytest

from cor_incentives.app.views import task as task_view
from cor_incentives.core.errors import EngineError
from cor_incentives.core.params import Params
from cor_incentives.core.rules import LATEST, RULES_TASK_SPREAD
from cor_incentives.core.spread import spread_threshold_ppb, task_threshold_ppb
from cor_incentives.core.validation import report_commitment, weighted_median
from support.market import commit_reveal, market, network, validate_all

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "spread_threshold.json").read_text())


@pytest.mark.parametrize("case", VECTORS["threshold"], ids=lambda c: c["case"])
def test_threshold_vectors(case):
    got = spread_threshold_ppb(case["max_distance_ppb"], case["cap_ppb"], case["factor_bps"], case["spread_ppb"])
    assert got == case["threshold_ppb"], case["arithmetic"]


@pytest.mark.parametrize("case", VECTORS["median"], ids=lambda c: c["case"])
def test_median_vectors(case):
    spread = weighted_median([(value, stake, v) for v, value, stake in case["spreads"]])
    assert spread == case["spread_ppb"], case["arithmetic"]
    assert task_threshold_ppb(Params(), spread) == case["threshold_ppb"]


def test_the_defaults_are_the_calibrated_ones():
    p = Params()
    assert (p.poi_max_distance_ppb, p.poi_spread_cap_ppb, p.poi_spread_factor_bps) == (850_000_000, 1_100_000_000, 10_000)
    assert LATEST >= RULES_TASK_SPREAD


# --- on a chain ------------------------------------------------------------------------------

NEAR, FAR, BEYOND = 0, 950_000_000, 1_050_000_000  # raw distances to the reference: m0 is it, m1 0.95 away, m2 1.05 away


def _chain(rule_version: int | None = None):
    params = {"epoch_length_ticks": 80} | ({} if rule_version is None else {"rule_version": rule_version})
    c = market(n_miners=3, beacon=True, params=params)
    tid = network(c)
    c.oracle("tick", {"ticks": 1})  # draws the miners
    t = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in t.miners})
    if not c.state.tasks[tid].validators:
        c.oracle("tick", {"ticks": 1})  # draws the validators
    return c, tid


def _judge(c, tid):
    miners = sorted(a.miner for a in c.state.tasks[tid].miners)
    raw = dict(zip(miners, (NEAR, FAR, BEYOND)))
    return miners, lambda v, m: (raw[m], 800_000_000)


def test_the_core_sets_the_threshold_from_the_median_spread_a_minority_cannot_inflate():
    c, tid = _chain()
    t = c.state.tasks[tid]
    assert t.spread_rule and len(t.validators) == 3  # equal stakes: one validator is a third of the reporting stake
    inflater = sorted(t.validators)[0]
    honest = {v: s for v, s in zip(sorted(t.validators)[1:], (970_000_000, 975_000_000))}
    miners, judge = _judge(c, tid)
    validate_all(c, tid, judge, spread=lambda v: honest.get(v, 2 * 10**9))
    t = c.state.tasks[tid]
    assert t.state == "SETTLED" and t.spreads == {inflater: 2 * 10**9, **honest}
    # lower median of (0.97, 0.975, 2.0) at equal stakes: 0.975; threshold max(0.85, min(1.1, 0.975)) = 0.975
    assert t.spread_ppb == 975_000_000 and t.threshold_ppb == 975_000_000
    by = {a.miner: a for a in t.miners}
    assert by[miners[0]].in_consensus and by[miners[1]].in_consensus  # 0.95 ≤ 0.975: the honest sample far from the reference
    assert not by[miners[2]].in_consensus  # 1.05 > 0.975: the inflated spread (cap 1.1) would have let it in
    view = task_view(c.state, t)
    assert view["spread_rule"] and (view["spread_ppb"], view["threshold_ppb"]) == (975_000_000, 975_000_000)
    assert {v["validator"]: v["spread_ppb"] for v in view["validators"]} == t.spreads
    assert [m["poi_distance_ppb"] for m in sorted(view["miners"], key=lambda m: m["miner"])] == [NEAR, FAR, BEYOND]  # raw


def test_before_the_rule_the_threshold_is_poi_max_distance_and_no_spread_is_taken():
    c, tid = _chain(RULES_TASK_SPREAD - 1)
    t = c.state.tasks[tid]
    assert not t.spread_rule
    reports = _committed(c, tid, spread=None)
    v = t.validators[0]
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.submit(v, "task.validate", {"task": tid, "input_tokens": 12, "spread_ppb": 0, "reports": reports[v], "salt": "rs"})
    assert e.value.code == "unknown_field" and c.state.to_dict() == before
    c2, tid2 = _chain(RULES_TASK_SPREAD - 1)
    miners2, judge2 = _judge(c2, tid2)
    validate_all(c2, tid2, judge2)
    t2 = c2.state.tasks[tid2]
    by = {a.miner: a for a in t2.miners}
    assert by[miners2[0]].in_consensus and not by[miners2[1]].in_consensus  # 0.95 > poi_max_distance_ppb 0.85
    assert t2.spread_ppb is None and t2.threshold_ppb is None and not t2.spreads


def _committed(c, tid, spread=975_000_000):
    t = c.state.tasks[tid]
    miners, judge = _judge(c, tid)
    reports = {
        v: [{"miner": m, "poi_distance_ppb": judge(v, m)[0], "quality_ppb": 800_000_000, "output_tokens": 20} for m in miners] for v in t.validators
    }
    for v in t.validators:
        c.submit(v, "task.report_commit", {"task": tid, "commit": report_commitment(tid, v, reports[v], "rs", 12, spread)})
    assert c.state.tasks[tid].state == "REPORTING"
    return reports


@pytest.mark.parametrize(
    "spread, code",
    [
        (None, "invalid_spread"),  # missing
        (-1, "invalid_spread"),
        (2 * 10**9 + 1, "invalid_spread"),
        (True, "invalid_spread"),
        ("975000000", "invalid_spread"),
        (975_000_001, "report_mismatch"),  # not the committed spread: it cannot wait for the others' spreads
    ],
)
def test_a_spread_is_required_bounded_and_committed(spread, code):
    c, tid = _chain()
    reports = _committed(c, tid)
    v = c.state.tasks[tid].validators[0]
    body = {"task": tid, "input_tokens": 12, "reports": reports[v], "salt": "rs"} | ({} if spread is None else {"spread_ppb": spread})
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.submit(v, "task.validate", body)
    assert e.value.code == code and c.state.to_dict() == before
    c.submit(v, "task.validate", body | {"spread_ppb": 975_000_000})  # the committed one is taken
    assert c.state.tasks[tid].spreads == {v: 975_000_000}


def test_a_task_is_settled_with_the_threshold_its_consensus_used(monkeypatch):
    """``_finalize`` records the spread and threshold ``_consensus`` computed (with the same stakes) instead of computing
    them again: every ``consensus_threshold_ppb`` of the settlement is called from ``_consensus`` (or the canary's opening),
    none from ``_finalize`` itself; the recorded values are the rule's (as in the test above)."""
    from cor_incentives.core import tasks

    stack: list[str] = []
    callers: list[str | None] = []

    def within(name, fn):
        def wrapped(*a):
            stack.append(name)
            try:
                return fn(*a)
            finally:
                stack.pop()

        return wrapped

    threshold = tasks.consensus_threshold_ppb
    monkeypatch.setattr(tasks, "_finalize", within("_finalize", tasks._finalize))
    monkeypatch.setattr(tasks, "_consensus", within("_consensus", tasks._consensus))
    monkeypatch.setattr(tasks, "process_task_canary", within("canary", tasks.process_task_canary))
    monkeypatch.setattr(tasks, "consensus_threshold_ppb", lambda *a: callers.append(stack[-1] if stack else None) or threshold(*a))
    c, tid = _chain()
    honest = {v: s for v, s in zip(sorted(c.state.tasks[tid].validators)[1:], (970_000_000, 975_000_000))}
    _, judge = _judge(c, tid)
    validate_all(c, tid, judge, spread=lambda v: honest.get(v, 2 * 10**9))
    t = c.state.tasks[tid]
    assert t.state == "SETTLED" and (t.spread_ppb, t.threshold_ppb) == (975_000_000, 975_000_000)
    assert "_consensus" in callers and "_finalize" not in callers and None not in callers, callers
