"""Rule 32 (``RULES_PANEL_WEIGHTS``): a task whose consensus is taken (settled, or failed ``no_consensus``) on a network
with a beacon records the weights it was taken with, ``Task.panel_weights``: each reporting validator's stake at that
moment, the stakes the consensus, the agreement and (rule 31) the dissenters weighed the reports by. The task view
publishes them (each validator row's ``weight``) and the outside auditor recomputes the naming from them
(tests/audit/test_panel_weights.py). Moves no money.

Here: the recorded weights are the very stakes ``aggregate`` and ``dissenters`` were given (captured in the act); a
task that fails before any report records none, a consensus-failed one does, a network without a beacon (first rules)
and every rule before 32 record none; a rule-31 log replays to the state hash main's code gives it; random simulated
lives under 31 and 32 side by side settle alike but for the weights (replay from genesis and from a snapshot taken
mid-log equal the live state, conservation after every event), and the independent auditor's recomputation from the
published views of the rule-32 life matches every published agreement, consensus and dissenter."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives import auditor
from cor_incentives.app.published import published_getter
from cor_incentives.core import tasks as tasks_module
from cor_incentives.core.apply import conservation_holds, replay
from cor_incentives.core.records import Task
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_ESCALATION_PAY, RULES_PANEL_WEIGHTS
from cor_incentives.core.state_codec import encode_state, state_hash
from support.chain import addr
from support.escalation_lives import dissenter_life, escalation_old_log
from support.market import COR, commit_reveal, draw_now, market, submit, validate_all
from support.replays import replays_as_recorded, resumed_from_snapshot, through_snapshot

OLD = RULES_PANEL_WEIGHTS - 1
HONEST = (20_000_000, 850_000_000)
# the state hash main's code (6258193, rule 31 its latest) gives escalation_old_log(OLD) after replay, recorded with main's src
MAIN_STATE_HASH_31 = "0x4ab29e6de1a111e1ef9bd332c33e9665cc63b0a7a3712deae0f4831f8a620c87"


def test_rule_32_says_what_changed():
    assert RULES_PANEL_WEIGHTS == 32 <= LATEST and RULES_PANEL_WEIGHTS > RULES_ESCALATION_PAY
    text = RULE_VERSIONS[32]
    assert "RULES_PANEL_WEIGHTS" in text and "Task.panel_weights" in text and "moves no money" in text


def weighted_chain(rule_version: int | None = None, beacon: bool = True):
    """3 miners, 3 validators of unequal stake (v0 12 000 COR, v1 7 000, v2 5 000): every validator sits on every task."""
    c = market(n_miners=3, n_validators=3, beacon=beacon, params={} if rule_version is None else {"rule_version": rule_version})
    c.as_("v0", "stake.bond", {"amount": str(7000 * COR)})
    c.as_("v1", "stake.bond", {"amount": str(2000 * COR)})
    return c


def user_task(c, judge) -> int:
    tid = submit(c)
    draw_now(c, tid)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners})
    draw_now(c, tid)
    validate_all(c, tid, judge)
    return tid


def stakes_now(c, task: Task) -> dict[str, int]:
    return {v: c.state.nodes[v].stake_total for v in task.reports}


def test_a_settled_task_records_each_reporting_validators_stake():
    c = weighted_chain()
    tid = user_task(c, lambda v, m: HONEST)
    task = c.state.tasks[tid]
    assert task.state == "SETTLED"
    assert task.panel_weights == stakes_now(c, task) == {addr("v0"): 12_000 * COR, addr("v1"): 7_000 * COR, addr("v2"): 5_000 * COR}


def test_a_task_failed_by_its_consensus_records_them_one_failed_before_any_report_does_not():
    c = weighted_chain()
    out = user_task(c, lambda v, m: (900_000_000, 0))  # every output out of consensus: no_consensus
    task = c.state.tasks[out]
    assert (task.state, task.failure) == ("FAILED", "no_consensus")
    assert task.panel_weights == stakes_now(c, task) and len(task.panel_weights) == 3
    tid = submit(c)
    draw_now(c, tid)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners})
    draw_now(c, tid)
    c.oracle("tick", {"ticks": c.state.params.validation_deadline_ticks + 1})  # nobody commits a report
    task = c.state.tasks[tid]
    assert (task.state, task.failure) == ("FAILED", "no_validation") and task.panel_weights == {}


def test_rule_31_and_the_first_rules_record_none():
    old = weighted_chain(OLD)
    task = old.state.tasks[user_task(old, lambda v, m: HONEST)]
    assert task.state == "SETTLED" and task.agreement_ppb and task.panel_weights == {}
    first = weighted_chain(beacon=False)  # no beacon: plain reports, the first rules
    task = first.state.tasks[user_task(first, lambda v, m: HONEST)]
    assert first.state.params.rule_version >= RULES_PANEL_WEIGHTS and task.state == "SETTLED" and task.panel_weights == {}


def test_the_recorded_weights_are_the_stakes_the_naming_used(monkeypatch):
    """``aggregate`` (consensus, agreement) and ``dissenters`` (rule 31) are watched: the last stakes each was given for a
    task in the event that settled it are its ``panel_weights``, and they are the stakes of the reporting validators as the
    task began to settle (a ``validator_deviation`` slash in the same event lowers a stake after the naming: not counted)."""
    given_stakes: dict[str, dict[str, int]] = {}
    checked: list[Task] = []
    aggregate, dissenters, finalize = tasks_module.aggregate, tasks_module.dissenters, tasks_module._finalize

    def watch_aggregate(reports, stakes, *a, **k):
        given_stakes["aggregate"] = dict(stakes)
        return aggregate(reports, stakes, *a, **k)

    def watch_dissenters(reports, stakes, *a, **k):
        given_stakes["dissenters"] = dict(stakes)
        return dissenters(reports, stakes, *a, **k)

    def watch_finalize(state, task, judged=None):
        given_stakes.clear()
        if judged is not None:  # taken by _after_reports in this event, nothing changed since
            given_stakes["aggregate"] = dict(judged.stakes)
        before = {v: state.nodes[v].stake_total for v in task.reports}  # (a slash while it settles lowers them after)
        finalize(state, task, judged)
        assert task.panel_weights == given_stakes["aggregate"] == before
        if "dissenters" in given_stakes:
            assert given_stakes["dissenters"] == task.panel_weights
        checked.append(task)

    monkeypatch.setattr(tasks_module, "aggregate", watch_aggregate)
    monkeypatch.setattr(tasks_module, "dissenters", watch_dissenters)
    monkeypatch.setattr(tasks_module, "_finalize", watch_finalize)
    chain = dissenter_life("panel_weights_watch", RULES_PANEL_WEIGHTS, 1, 1, 3, 5)  # a copier, an offline validator
    named = [t for t in checked if t.dissenters]
    assert len(checked) > 10 and named, (len(checked), len(named))
    assert any(set(t.validators) - set(t.reports) for t in checked)  # drawn, no report: no weight
    assert all(len(set(t.panel_weights.values())) > 1 for t in named)  # unequal stakes: the weights matter
    assert chain.state.params.rule_version == RULES_PANEL_WEIGHTS


# --- a rule-31 log replays as main's code replayed it -------------------------------------------------------------------


def test_a_rule_31_log_replays_to_the_hash_main_gave_it_and_records_no_weight():
    old = replay(escalation_old_log(OLD), check_each=True)
    assert old.params.rule_version == OLD and state_hash(old) == MAIN_STATE_HASH_31
    assert all(not t.panel_weights for t in old.tasks.values()) and any(t.dissenters for t in old.tasks.values())
    new = replay(escalation_old_log(RULES_PANEL_WEIGHTS), check_each=True)
    through_snapshot(new)
    assert any(t.panel_weights for t in new.tasks.values())


# --- random lives under 31 and 32 side by side --------------------------------------------------------------------------

SAME = [f for f in Task.__dataclass_fields__ if f != "panel_weights"]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copiers=st.integers(0, 3), offline=st.integers(0, 1), tasks=st.integers(2, 5), seed=st.integers(1, 1000), cut=st.floats(0.2, 0.8))
def test_property_rules_31_and_32_settle_alike_but_for_the_weights_and_the_auditor_recomputes_32(copiers, offline, tasks, seed, cut):
    old = dissenter_life("panel_weights_life", OLD, copiers, offline, tasks, seed)
    new = dissenter_life("panel_weights_life", RULES_PANEL_WEIGHTS, copiers, offline, tasks, seed)
    assert sorted(old.state.tasks) == sorted(new.state.tasks)
    weighed = 0
    for tid, a in new.state.tasks.items():
        b = old.state.tasks[tid]
        assert all(getattr(a, f) == getattr(b, f) for f in SAME), tid  # the same consensus, agreement, dissenters, money
        assert b.panel_weights == {}
        if a.state == "SETTLED" or a.failure == "no_consensus":
            assert set(a.panel_weights) == set(a.reports) and all(w > 0 for w in a.panel_weights.values())
            weighed += 1
        else:
            assert a.panel_weights == {}
    assert weighed > 0 and old.state.ledger.balances == new.state.ledger.balances
    # the auditor, from the published views only, recomputes every rule-32 task's naming
    get = published_getter(new.state)
    params = get("/v1/params")
    for e in sorted(new.state.epochs):
        report = auditor.Report(e)
        views = [get(f"/v1/tasks/{t}") for t in new.state.epochs[e].streams["validators"]["tasks"]]
        left = auditor.audit_validation(report, auditor._numbers(views), auditor.params_for_epoch(params, e))
        assert report.ok and left == 0, {q: v.mismatches[:2] for q, v in report.quantities.items()}
        assert report.quantities["validation.agreement"].total > 0 and report.quantities["validation.consensus"].total > 0
    # conservation after every event; replay from genesis and from a snapshot taken mid-log reach the live state
    for chain in (old, new):
        replays_as_recorded(chain.events, chain.state)
        k = int(len(chain.events) * cut)
        resumed_from_snapshot((encode_state(replay(chain.events[:k])), k), chain.events, chain.state, each=conservation_holds)
