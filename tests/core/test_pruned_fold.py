"""What ``pruned.hash`` folds for a record that left the state (core/prune.py ``retire``, state_codec ``pruned_record_hash``):
the record with the fields the rule version in force at its retirement knew, never fewer than rule 24 knew
(``PRUNED_FOLD_FLOOR``), so a field that a later rule adds to a record cannot move the running hash, and so the anchored
state hash, of an older log that retired such a record (issue 16)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from cor_incentives.core import records, state_codec
from cor_incentives.core.events import content_hash
from cor_incentives.core.params import Params
from cor_incentives.core.prune import RECORDS, TASK, fold, retire
from cor_incentives.core.rules import LATEST, RULES_PRUNE
from cor_incentives.core.state_codec import HASHED_SINCE, LAST_FIELD_RULE, PRUNED_FOLD_FLOOR, decode_record, encode_record, pruned_record_hash
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
    monkeypatch.setitem(HASHED_SINCE, ("Task", "novelty"), LATEST + 1)  # type: ignore[index]
    monkeypatch.setattr(state_codec, "LAST_FIELD_RULE", LATEST + 1)
    yield
    state_codec._codec.cache_clear()


def retired_task(rule_version: int = LATEST):
    """A chain under ``rule_version`` with pruning on that retired a cancelled task; the task's ``state.retired`` entry."""
    c = market(params={"rule_version": rule_version, "prune_closed_records": 1, "unbonding_period_epochs": 1, "epoch_length_ticks": 20})
    tid = submit(c)
    c.as_("user", "task.cancel", {"task": tid})
    for _ in range(3):
        c.oracle("epoch.close", {})
        entries = [r for r in c.state.retired if r[1] == TASK]
        if entries:
            return c, entries[0]
    raise AssertionError("the task did not retire")


def test_the_floor_is_every_field_known_today():
    assert LAST_FIELD_RULE == max(HASHED_SINCE.values()) <= PRUNED_FOLD_FLOOR == 24 <= LATEST
    assert RECORDS[TASK] is records.Task


@pytest.mark.parametrize("rule_version", [RULES_PRUNE, LATEST])
def test_a_task_folds_with_every_field_known_today_under_every_rule_up_to_the_floor(rule_version):
    """No hash of an existing log moves: under rule 10 as under the latest, a task's folded hash is its whole bytes' hash."""
    c, (_, kind, key, n, data, rules) = retired_task(rule_version)
    assert (kind, rules) == (TASK, rule_version)
    assert pruned_record_hash(records.Task, rules, data) == content_hash(data)
    assert pruned_record_hash(records.Task, rules, data, decode_record(records.Task, data)) == content_hash(data)


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
