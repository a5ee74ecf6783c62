"""What ``pruned.hash`` folds for a record that left the state (core/prune.py ``retire``, state_codec ``pruned_record_hash``):
the record with the fields the rule version in force at its retirement knew, never fewer than rule 24 knew
(``PRUNED_FOLD_FLOOR``), so a field that a later rule adds to a record cannot move the running hash, and so the anchored
state hash, of an older log that retired such a record (issue 16)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cor_incentives.app.verify import Retired, VerifyReport, _check_pruned
from cor_incentives.core import records, state_codec
from cor_incentives.core.apply import apply, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import Event, content_hash
from cor_incentives.core.params import Params
from cor_incentives.core.prune import RECORDS, TASK, fold, retire
from cor_incentives.core.rules import (
    LATEST,
    RULES_BOUNTY_DEPOSIT,
    RULES_ESCALATION_PAY,
    RULES_OFFENCE_BY_TASK_EPOCH,
    RULES_PANEL_WEIGHTS,
    RULES_PRUNE,
    RULES_TASK_SPREAD,
    RULES_TASK_STUB,
)
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import (
    HASHED_SINCE,
    PRUNED_FOLD_FLOOR,
    decode_record,
    encode_record,
    newest_field_rule,
    pruned_record_hash,
    state_hash,
)
from cor_incentives.store.projections import pruned_document
from support.market import market, submit


@dataclass
class Task(records.Task):
    """Today's task with one more field, as a rule after the latest would add it (named Task: ``HASHED_SINCE`` is keyed
    by the record's name)."""

    novelty: int = 7


@pytest.fixture
def later_rule(monkeypatch):
    """``Task.novelty`` is a field of rule LATEST + 1, for this test only."""
    state_codec._codec.cache_clear()
    state_codec.newest_field_rule.cache_clear()
    monkeypatch.setitem(HASHED_SINCE, ("Task", "novelty"), LATEST + 1)  # type: ignore[index]
    assert state_codec.newest_field_rule(Task) == LATEST + 1 and state_codec.newest_field_rule(records.Task) == RULES_PANEL_WEIGHTS
    yield
    state_codec._codec.cache_clear()
    state_codec.newest_field_rule.cache_clear()


def retired_task(rule_version: int = LATEST):
    """A chain under ``rule_version`` with pruning on that retired a cancelled task; the task's ``state.retired`` entry."""
    c = market(params={"rule_version": rule_version, "prune_closed_records": 1, "unbonding_period_epochs": 1, "epoch_length_ticks": 20})
    tid = submit(c)
    c.as_("user", "task.cancel", {"task": tid})
    for _ in range(4):  # (from RULES_TASK_STUB the cancel itself retires it)
        entries = [r for r in c.state.retired if r[1] == TASK]
        if entries:
            return c, entries[0]
        c.oracle("epoch.close", {})
    raise AssertionError("the task did not retire")


def test_the_floor_and_the_newest_field_of_each_kind():
    """The floor is frozen at 24 (every field known when the fold took a rule version); a record whose newest field (its
    own or a record's it holds) is at or below the fold's rule is hashed as its whole bytes, without a second encoding."""
    assert PRUNED_FOLD_FLOOR == 24 <= LATEST
    assert newest_field_rule(records.Task) == RULES_PANEL_WEIGHTS  # panel_weights (before it: 31's dissenters, 12's spread_rule, ...)
    assert newest_field_rule(records.Bounty) == RULES_BOUNTY_DEPOSIT  # deposits_held, and its entries' Submission.deposit
    assert newest_field_rule(records.Node) == RULES_OFFENCE_BY_TASK_EPOCH  # served_prev2, forgiven_prev2
    assert newest_field_rule(records.Session) == newest_field_rule(records.EpochRecord) == 0  # none since rule 5
    assert newest_field_rule(State) == max(HASHED_SINCE.values())  # held records too:
    assert newest_field_rule(State) > max(v for (r, _), v in HASHED_SINCE.items() if r == "State" and v < RULES_TASK_STUB)
    assert newest_field_rule(records.ClosedTask) == RULES_TASK_STUB  # a record new with its field (State.closed_tasks)
    assert RECORDS[TASK] is records.Task


@pytest.mark.parametrize("rule_version", [RULES_PRUNE, RULES_TASK_SPREAD, RULES_ESCALATION_PAY, LATEST])
def test_a_record_folds_with_every_field_known_today_from_rule_12_and_a_task_with_its_rules_before(rule_version):
    """No hash of a log recorded since rule 12 moves: a task retired under rule 12 or later folds its whole bytes (every
    field today's code has, all known by 24), and so does every other record under any rule; a task retired under rule
    10 or 11 folds the fields those rules knew (``PRUNED_TASK_COMPAT``: what the engines that recorded such logs folded)."""
    c, (_, kind, key, n, data, rules) = retired_task(rule_version)
    assert (kind, rules) == (TASK, rule_version)
    folded = pruned_record_hash(records.Task, rules, data)
    assert folded == pruned_record_hash(records.Task, rules, data, decode_record(records.Task, data))
    assert (folded == content_hash(data)) == (rule_version >= RULES_PANEL_WEIGHTS)
    if RULES_TASK_SPREAD <= rule_version < RULES_PANEL_WEIGHTS:  # rule 32's Task.panel_weights (and 31's dissenters) out of its fold
        known = json.dumps(
            state_codec._codec(records.Task, max(rule_version, PRUNED_FOLD_FLOOR))[0](decode_record(records.Task, data)), separators=(",", ":")
        )
        assert folded == content_hash(known.encode("ascii")) and '"panel_weights"' not in known and '"spread_rule"' in known
        assert ('"dissenters"' in known) == (rule_version >= RULES_ESCALATION_PAY)
    if rule_version < RULES_TASK_SPREAD:
        known = json.dumps(state_codec._codec(records.Task, rule_version)[0](decode_record(records.Task, data)), separators=(",", ":"))
        assert folded == content_hash(known.encode("ascii")) and '"spread_rule"' not in known
    others: list = []
    for _ in range(2):  # (from RULES_TASK_STUB the task left at its cancel, before any epoch record could)
        c.state.retired.clear()
        c.oracle("epoch.close", {})
        others = [r for r in c.state.retired if r[1] != TASK and r[1] != "params"]  # an epoch record
        if others:
            break
    assert others and all(pruned_record_hash(RECORDS[k], r, d) == content_hash(d) for _, k, _, _, d, r in others)


def test_a_field_added_by_a_later_rule_does_not_move_the_fold_of_a_task_retired_under_the_latest(later_rule):
    c, (_, _, key, _, data, rules) = retired_task()
    base = decode_record(records.Task, data)
    later = Task(**{f.name: getattr(base, f.name) for f in dataclasses.fields(records.Task)}, novelty=7)
    whole = encode_record(later)  # what the database keeps: every field, the new one too
    assert b'"novelty":7' in whole and whole != data
    # retired under the latest rules: folded with the fields they knew, the hash today's code gives it, from the record or
    # from the database's bytes alike
    assert pruned_record_hash(Task, rules, whole, later) == pruned_record_hash(Task, rules, whole) == content_hash(data)
    # what the fold was before (the whole record's bytes, every field of the running code) would have moved
    assert content_hash(whole) != content_hash(data)
    # retired under the rule that added it: the new field is in the fold
    assert pruned_record_hash(Task, LATEST + 1, whole, later) == content_hash(whole)
    # the live retire: the state's running hash takes the hash today's code gives, the database the whole bytes and the rule
    state = c.state
    before, count = state.pruned.hash, state.pruned.count
    state.retired.clear()
    retire(state, TASK, 10**6, later)
    assert state.pruned.hash == fold(before, TASK, 10**6, content_hash(data))
    assert state.retired == [(state.seq + 1, TASK, 10**6, count, whole, LATEST)]


def test_a_parameter_version_still_folds_with_its_own_rule_versions_fields():
    c, _ = retired_task(RULES_PRUNE)
    params = c.state.params
    data = encode_record(params)
    assert params.rule_version == RULES_PRUNE
    # fewer fields than the record holds, whatever the rule at retirement says
    assert pruned_record_hash(Params, LATEST, data) == pruned_record_hash(Params, RULES_PRUNE, data) != content_hash(data)


OLD_LOG = Path(__file__).resolve().parents[1] / "golden" / "pruned_v11_log.json"


def old_log() -> tuple[dict, list[Event]]:
    record = json.loads(OLD_LOG.read_text())
    events = [Event(e["seq"], e["tick"], e["payload"].encode("ascii"), e["signature"], e["prev_hash"], e["hash"]) for e in record["events"]]
    return record, events


def test_a_rule_11_log_recorded_before_rule_12_replays_with_its_anchors():
    """tests/golden/pruned_v11_log.json was recorded by the code before rule 12 (d2dca5a^): two tasks retire under rule 11,
    then two closes anchor the state hash. Its tasks fold with the fields rule 11 knew (``PRUNED_TASK_COMPAT``)."""
    record, events = old_log()
    assert record["rule_version"] == 11 and record["recorded_by"]["latest_rules"] == 11 and len(record["anchors"]) == 2
    state = replay(events, check_each=True)  # each anchor's state hash is recomputed by the core and must match
    assert (state.pruned.count, state.pruned.hash) == (record["pruned"]["count"], record["pruned"]["hash"])
    assert state_hash(state) == record["final_state_hash"]
    assert [state.state_anchors[a["seq"]] for a in record["anchors"]] == [a["state"] for a in record["anchors"]]


def test_without_the_compatibility_fold_every_engine_since_rule_12_refused_that_log(monkeypatch):
    """What main did from d2dca5a to this fix: the tasks folded with rule 12's four fields, the first anchor refused."""
    _, events = old_log()
    monkeypatch.setattr(state_codec, "PRUNED_TASK_COMPAT", 0)
    state = State()
    for event in events[:-2]:
        apply(state, event)
    with pytest.raises(EngineError) as exc:
        apply(state, events[-2])
    assert exc.value.code == "checkpoint_state_mismatch"


def test_cor_verify_folds_the_old_logs_rows_as_the_replay_does():
    """The database rows of the old log's pruned records, each with its rule version (11), fold to the replayed hash
    (``cor verify``'s ``_check_pruned``), and a task row claiming rule 12 does not."""
    _, events = old_log()
    state, retired = State(), []
    for event in events:
        apply(state, event)
        retired += state.retired
        state.retired.clear()
    kinds = [r[1] for r in retired]
    assert kinds.count(TASK) == 2 and {r[5] for r in retired} == {11}
    tasks = [decode_record(records.Task, r[4]) for r in retired if r[1] == TASK]
    assert sorted(str(t.state) for t in tasks) == ["CANCELLED", "FAILED"]
    rows = {doc[1]: doc[2] for doc in (pruned_document(kind, key, n, data, rules) for _, kind, key, n, data, rules in retired)}
    report = VerifyReport()
    _check_pruned(rows, state, Retired(), report)
    assert report.ok, report.errors
    task_key = next(k for k in rows if k.startswith("task:"))
    claims_12 = {**rows, task_key: rows[task_key].replace(',"rules":11,', ',"rules":12,')}
    report = VerifyReport()
    _check_pruned(claims_12, state, Retired(), report)
    assert not report.ok and any("do not hash to the state's" in m for m in report.errors)
    renamed = {("bogus" + k[4:] if k == task_key else k): d for k, d in rows.items()}
    report = VerifyReport()
    _check_pruned(renamed, state, Retired(), report)
    assert not report.ok and any("is of no kind the engine prunes" in m for m in report.errors), report.errors


def test_cor_verify_names_an_unreadable_pruned_row_instead_of_raising():
    """A row that is not JSON, lacks its number or record, names a task by something not a number, or holds a NaN is
    named by ``_check_pruned`` (a failed check in the report), never an exception out of ``cor verify``."""
    _, events = old_log()
    state, retired = State(), []
    for event in events:
        apply(state, event)
        retired += state.retired
        state.retired.clear()
    rows = {doc[1]: doc[2] for doc in (pruned_document(kind, key, n, data, rules) for _, kind, key, n, data, rules in retired)}
    task_key = next(k for k in rows if k.startswith("task:"))
    broken = {
        "not JSON": (task_key, "{not json"),
        "no n": (task_key, rows[task_key].replace('"n":', '"m":')),
        "no record": (task_key, rows[task_key].replace('"record":', '"recorded":')),
        "a list": (task_key, "[1, 2]"),
        "NaN": (task_key, rows[task_key].replace('"record":{', '"record":{"x":NaN,')),
    }
    expected = {
        "not JSON": "is not a readable row",
        "no n": "is not a readable row",
        "no record": "is not a readable row",
        "a list": "is not a readable row",
        "NaN": "holds a value no record has",
    }
    for what, (key, data) in broken.items():
        report = VerifyReport()
        _check_pruned({**rows, key: data}, state, Retired(), report)
        assert not report.ok and any(expected[what] in m for m in report.errors), (what, report.errors)
    report = VerifyReport()
    _check_pruned({("task:x" + k[5:] if k == task_key else k): d for k, d in rows.items()}, state, Retired(), report)
    assert not report.ok and any("does not name a task by its number" in m for m in report.errors), report.errors
