"""A queued draw whose task has left the live state (pruned after it was cancelled) is skipped, not a crash.

With a beacon, a task's miners are drawn with the value revealed after it was created; a task cancelled before that stays
queued. Pruning (``prune_closed_records`` = 1) retires a closed task at the first close past ``unbonding_period_epochs``
(governed, 0..1000): at 1 or 0 that is the close of the epoch the task was created in, and a close runs the queued draws
*after* its prune. Until session 27 the draw handler read ``state.tasks[task_id]`` and raised KeyError there, so that
close was refused every time the oracle sent it: no epoch could ever close again (one `task.submit` + `task.cancel` by any
user). A pruned task is closed, and every draw handler leaves a closed task as it is, so skipping it is what the handler
would have done had the record stayed (no valid log changes: each one that met this case was refused)."""

from __future__ import annotations

import pytest

from cor_incentives.core.apply import apply, conservation_holds
from cor_incentives.core.records import TaskState
from cor_incentives.core.rules import RULES_FINE_TUNE_RELEASE
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state, state_hash
from cor_incentives.core.tasks import MINERS, draw_escalation, draw_miners, draw_validators
from support.market import market, submit


def pruning_market(unbonding: int, rule_version: int = RULES_FINE_TUNE_RELEASE):
    """Rule 26: a closed task's whole record stays live until the window's close (from rule 27 it leaves at its close and
    its stub stays: tests/core/test_task_stub.py)."""
    return market(
        n_miners=5,
        n_validators=5,
        beacon=True,
        params={"epoch_length_ticks": 6, "prune_closed_records": 1, "unbonding_period_epochs": unbonding, "rule_version": rule_version},
    )


@pytest.mark.parametrize("unbonding", [0, 1])
def test_a_cancelled_task_pruned_before_its_draw_lets_the_close_through(unbonding: int) -> None:
    c = pruning_market(unbonding)
    tid = submit(c)
    c.as_("user", "task.cancel", {"task": tid})
    assert c.state.tasks[tid].state == TaskState.CANCELLED
    assert (MINERS, tid) in [tuple(p) for p in c.state.beacon.pending]  # its draw is queued
    pruned_before = c.state.pruned.count
    epoch = c.state.epoch
    c.oracle("epoch.close", {})  # prunes the task, then runs its draw: refused with KeyError before the fix
    assert c.state.epoch == epoch + 1
    assert tid not in c.state.tasks and c.state.pruned.count > pruned_before  # it left, folded into `pruned`
    assert not c.state.beacon.pending  # the draw ran (as nothing) and left the queue
    conservation_holds(c.state)
    # the network goes on: more work, more closes
    tid2 = submit(c)
    c.oracle("tick", {"ticks": 1})
    assert c.state.tasks[tid2].miners  # drawn as usual
    c.oracle("epoch.close", {})
    assert c.state.epoch == epoch + 2
    # and the log replays to the same state
    replayed = State()
    for event in c.events:
        apply(replayed, event)
    assert state_hash(replayed) == state_hash(c.state)


@pytest.mark.parametrize("handler", [draw_miners, draw_validators, draw_escalation])
def test_each_task_draw_skips_a_task_that_is_not_live(handler) -> None:
    c = pruning_market(2)
    before = encode_state(c.state)
    missing = c.state.next_id + 1000
    assert missing not in c.state.tasks
    handler(c.state, missing, b"\x00" * 32)
    assert encode_state(c.state) == before


def test_a_draw_still_reaches_a_live_cancelled_task_as_before() -> None:
    """At the default window (2 epochs) the cancelled task is still live at the next tick: its draw leaves it as it is."""
    c = pruning_market(2)
    tid = submit(c)
    c.as_("user", "task.cancel", {"task": tid})
    c.oracle("tick", {"ticks": 1})
    assert c.state.tasks[tid].state == TaskState.CANCELLED and not c.state.tasks[tid].miners
    assert not c.state.beacon.pending
