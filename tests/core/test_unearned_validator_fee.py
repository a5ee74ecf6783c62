"""Rule 30 (RULES_UNEARNED_VALIDATOR_FEE): when the reporting validators of a settled user task all have agreement 0, none
is paid from its fee; the validators' part goes to the treasury (``task_fee:validators_unearned``) and the user's
``task_payment`` line names it (docs/rewards.md, "Task fees"; docs/design.md §3). Rules 1-30 split it equally, so a cartel
holding every validator seat of a task was paid for failing its canary.

The boundary: Σ agreement 0 against one validator at 1 ppb (it takes the whole pool, nothing to the treasury); the two
ways to Σ 0 (every report failed the canary; every report outside the tolerance); the same events under rule 29 (the
equal split); a rule-29 log replays to the state hash main's code before the rule gave it; a property over random tasks
under 29 and 30 side by side (conservation after every event, snapshot replay)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core import tasks as tasks_module
from cor_incentives.core.apply import conservation_holds, replay
from cor_incentives.core.fees import UNEARNED_REASON
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_UNEARNED_VALIDATOR_FEE
from cor_incentives.core.state_codec import encode_state, state_hash
from cor_incentives.core.streams import Stream
from support.market import commit_reveal, draw_now, h, submit, validate_all
from support.replays import replays_as_recorded, resumed_from_snapshot
from support.unearned_fee import APART, HONEST, PERFECT, PLANT, canary_failed_by, chain, planted_task, previous_rule_log, reports_apart

OLD = RULES_UNEARNED_VALIDATOR_FEE - 1
# main's src with the three rule-29 changes (self-report, voter power, escalation share) gives this log
PREVIOUS_RULE_HASH = "0xb2427ef07cec9495e4b09a17fddcdbe5d53951e4b5f0ab461a44c54da5dad8d0"


def lines(c, tid, stream):
    return [e for e in c.state.earnings if e.stream == stream and e.detail.get("task") == tid]


def payment(c, tid):
    (line,) = lines(c, tid, Stream.TASK_PAYMENT)
    return line


def settled(c, build):
    """Run ``build(c)``; return the task id and what its escrow paid, by destination: "treasury", "dust", "validators"
    (their wallets), from the postings of every event ``build`` sent (a slash in the same event pays the treasury too)."""
    seen = []
    submit = c.submit

    def recording(actor, kind, body):
        applied = submit(actor, kind, body)
        seen.extend(applied.postings)
        return applied

    c.submit = recording
    try:
        tid = build(c)
    finally:
        del c.submit
    task = c.state.tasks[tid]
    assert task.state == "SETTLED" and task.kind == "user"
    vals = {f"wallet:{v}" for v, x in c.state.nodes.items() if x.role == "validator"}
    moved = {"treasury": 0, "dust": 0, "validators": 0}
    reasons = set()
    for x in seen:
        if x.src == f"escrow:task:{tid}":
            key = "validators" if x.dst in vals else x.dst
            if key in moved:
                moved[key] += x.amount
                reasons.add((key, x.reason))
    moved["reasons"] = reasons
    return tid, moved


def all_lazy(c):
    return canary_failed_by(c, lambda v: True)


def test_rule_30_says_what_changed():
    assert LATEST >= RULES_UNEARNED_VALIDATOR_FEE == 30
    assert "task_fee:validators_unearned" in RULE_VERSIONS[30] and UNEARNED_REASON == "task_fee:validators_unearned"


@pytest.mark.parametrize("build", [all_lazy, reports_apart], ids=["every_validator_failed_the_canary", "every_report_outside_the_tolerance"])
def test_no_validator_agreed_the_part_goes_to_the_treasury_and_the_payment_line_says_so(build):
    c = chain()
    tid, moved = settled(c, build)
    task = c.state.tasks[tid]
    assert len(task.agreement_ppb) == 3 and sum(task.agreement_ppb.values()) == 0
    part = task.split["validators"]
    assert part > 0
    assert lines(c, tid, Stream.TASK_FEE_VALIDATOR) == [] and moved["validators"] == 0
    # the treasury: its own part, the absent router's (none here: submit names no router) and the validators' part
    router = 0 if task.router else task.split["router"]
    assert moved["treasury"] == task.split["treasury"] + router + part
    # dust: the split's remainder and the miners' pro-rata floors only (nothing of the validators' part)
    miners_paid = sum(a.paid for a in task.miners)
    assert moved["dust"] == task.split["dust"] + task.split["miners"] - miners_paid
    assert payment(c, tid).detail["validators_unearned"] == part
    assert payment(c, tid).amount == -task.charged
    assert ("treasury", UNEARNED_REASON) in moved["reasons"]
    conservation_holds(c.state)
    assert state_hash(replay(c.events, check_each=True)) == state_hash(c.state)


@pytest.mark.parametrize("build", [all_lazy, reports_apart], ids=["every_validator_failed_the_canary", "every_report_outside_the_tolerance"])
def test_rule_29_splits_the_part_equally_among_the_reporting_validators(build):
    c = chain(OLD)
    tid, moved = settled(c, build)
    task = c.state.tasks[tid]
    part = task.split["validators"]
    paid = lines(c, tid, Stream.TASK_FEE_VALIDATOR)
    assert sorted(e.address for e in paid) == sorted(task.agreement_ppb) and {e.amount for e in paid} == {part // 3}
    assert moved["validators"] == 3 * (part // 3)
    assert moved["treasury"] == task.split["treasury"] + (0 if task.router else task.split["router"])
    assert "validators_unearned" not in payment(c, tid).detail and ("treasury", UNEARNED_REASON) not in moved["reasons"]


def test_the_same_events_differ_under_29_and_30_only_by_the_validators_part():
    new, old = chain(), chain(OLD)
    (tid, got), (_, had) = settled(new, all_lazy), settled(old, all_lazy)
    part = new.state.tasks[tid].split["validators"]
    assert old.state.tasks[tid].split == new.state.tasks[tid].split
    assert got["treasury"] - had["treasury"] == part
    assert had["validators"] == part - part % 3 and had["dust"] - got["dust"] == part % 3


@pytest.mark.parametrize("one_ppb", [True, False], ids=["one_validator_at_1_ppb", "every_validator_at_0"])
def test_the_boundary_sigma_0_against_one_validator_at_1_ppb(monkeypatch, one_ppb):
    """The agreements are set through the core's own path (``tasks.agreement_ppb`` answers by the report): the first
    validator (by address) reports ``HONEST``, the others a report 1 ppb of quality off; at Σ = 1 ppb the first takes the
    whole pool (pool × 1 // 1), at Σ = 0 nobody does and the treasury gets it."""
    first_report = {"quality": HONEST[1]}
    monkeypatch.setattr(
        tasks_module, "agreement_ppb", lambda report, cons, tol: 1 if one_ppb and all(q == first_report["quality"] for _, q in report.values()) else 0
    )
    c = chain()
    before = c.balance("treasury")
    tid = reports_from(c)
    task = c.state.tasks[tid]
    first = sorted(task.validators)[0]
    part = task.split["validators"]
    assert sum(task.agreement_ppb.values()) == (1 if one_ppb else 0)
    paid = {e.address: e.amount for e in lines(c, tid, Stream.TASK_FEE_VALIDATOR)}
    own = task.split["treasury"] + (0 if task.router else task.split["router"])
    if one_ppb:
        assert paid == {first: part} and "validators_unearned" not in payment(c, tid).detail
        assert c.balance("treasury") - before == own
    else:
        assert paid == {} and payment(c, tid).detail["validators_unearned"] == part
        assert c.balance("treasury") - before == own + part


def reports_from(c):
    tid = submit(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    first = sorted(c.state.tasks[tid].validators)[0]
    validate_all(c, tid, lambda v, m: HONEST if v == first else (HONEST[0], HONEST[1] - 1))
    return tid


def test_one_validator_that_passed_the_canary_takes_the_whole_pool_under_both_rules():
    """Two lazy validators fail the canary and the third does not: Σ > 0, the third takes the pool (as before the rule)."""
    for rule in (None, OLD):
        c = chain(rule)

        def lazy(v, c=c):  # every validator of the task but the last by address
            return v != sorted(c.state.tasks[max(c.state.tasks)].validators)[-1]

        tid = canary_failed_by(c, lazy)
        task = c.state.tasks[tid]
        honest = sorted(task.validators)[-1]
        assert len(task.canary_failed) == 2 and task.agreement_ppb[honest] > 0
        paid = {e.address: e.amount for e in lines(c, tid, Stream.TASK_FEE_VALIDATOR)}
        assert paid == {honest: task.split["validators"]}
        assert "validators_unearned" not in payment(c, tid).detail


def test_a_previous_rule_log_replays_to_the_state_main_gave_it():
    c = previous_rule_log()
    assert c.state.params.rule_version == OLD
    again = replay(c.events, check_each=True)
    assert state_hash(again) == state_hash(c.state) == PREVIOUS_RULE_HASH
    assert not any(UNEARNED_REASON == p.reason for p in again.ledger.postings)


# --- random tasks under 29 and 30 side by side --------------------------------------------------------------------------

REPORTS = st.sampled_from([HONEST, PERFECT, APART[0], APART[1], APART[2], (1_000_000_000, 0), (HONEST[0], HONEST[1] - 50_000_000)])
# the reports of a task's three validators: any three samples, or every one lazy, or the three apart
THREE = st.one_of(st.lists(REPORTS, min_size=3, max_size=3), st.just([PERFECT] * 3), st.permutations(APART))
TASK = st.tuples(st.booleans(), THREE, st.booleans())  # (planted, reports by address, snapshot)


def run_task(c, planted, reports, n):
    """One user task: planted (a canary the oracle opens) or plain, each validator (by address) reporting its sample for
    every output but a planted one, which an honest-reporting validator marks garbage."""
    if planted:
        tid = planted_task(c, salt=f"s{n}")
    else:
        tid = submit(c)
        draw_now(c, tid)
        commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners})
        draw_now(c, tid)
    task = c.state.tasks[tid]
    order = sorted(task.validators)
    plant = sorted(a.miner for a in task.miners)[0] if planted else None
    validate_all(c, tid, lambda v, m: reports[order.index(v)] if m != plant or reports[order.index(v)] == PERFECT else (1_000_000_000, 0))
    if planted:
        c.oracle("task.canary", {"task": tid, "planted": h(PLANT), "salt": f"s{n}"})
    return tid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TASK, min_size=1, max_size=4))
def test_property_rules_29_and_30_differ_only_where_no_validator_agreed(plan):
    new, old = chain(), chain(OLD)
    snapshot = None
    unearned = earned = 0
    for n, (planted, reports, snap) in enumerate(plan):
        t_new, t_old = run_task(new, planted, reports, n), run_task(old, planted, reports, n)
        assert t_new == t_old
        a, b = new.state.tasks[t_new], old.state.tasks[t_old]
        assert a.state == b.state and a.agreement_ppb == b.agreement_ppb and a.split == b.split and a.charged == b.charged
        if a.state != "SETTLED":
            continue
        got = {e.address: e.amount for e in lines(new, t_new, Stream.TASK_FEE_VALIDATOR)}
        had = {e.address: e.amount for e in lines(old, t_old, Stream.TASK_FEE_VALIDATOR)}
        part = a.split["validators"]
        if sum(a.agreement_ppb.values()) == 0:
            unearned += 1
            assert got == {} and payment(new, t_new).detail["validators_unearned"] == part
            assert sorted(had) == sorted(b.agreement_ppb) and set(had.values()) <= {part // len(b.agreement_ppb)}
        else:
            earned += 1
            assert got == had and "validators_unearned" not in payment(new, t_new).detail
        assert [(e.address, e.amount) for e in lines(new, t_new, Stream.TASK_FEE_MINER)] == [
            (e.address, e.amount) for e in lines(old, t_old, Stream.TASK_FEE_MINER)
        ]
        if snap and snapshot is None:
            snapshot = (encode_state(new.state), len(new.events))
    print("UNEARNED", unearned, "EARNED", earned)
    # every balance but the treasury's, the dust's and the validators' wallets is the same under both rules
    diff = {k for k in set(new.state.ledger.balances) | set(old.state.ledger.balances) if new.balance(k) != old.balance(k)}
    vals = {f"wallet:{v}" for v, x in new.state.nodes.items() if x.role == "validator"}
    assert diff <= {"treasury", "dust"} | vals
    assert not diff or unearned
    # conservation after every event, and the replay of each log (from genesis and from a snapshot) reaches its state
    for c in (new, old):
        replays_as_recorded(c.events, c.state)
    if snapshot is not None:
        resumed_from_snapshot(snapshot, new.events, new.state, each=conservation_holds)
