"""The close's prune walks only the tasks created at or before its horizon (``prune.closed_past_window``; session 27's
finding: it filtered every live task, then checked them all again, ~0.6-0.9 s a close at a million tasks an epoch).

Random task traffic with pruning on (user and network tasks, ticks past their deadlines so they fail, settled
tasks through a full round, epoch closes, closes refused after their writes, snapshot round trips, a governance change of
the evidence window): at every prune the tasks it retires, and their order, equal the filter of every live task that
stood there before (``state.tasks``' order), the live tasks stay in creation order (``State.check_tasks_in_creation_order``,
checked after every event by the chain's full check), a refused close leaves the state hash, and the replay of the log
gives the same state. The walk stops at the first task past the horizon; the order check catches a task out of order."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core import apply as apply_module
from cor_incentives.core import prune as prune_module
from cor_incentives.core.errors import EngineError, InvariantViolation
from cor_incentives.core.prune import TASK, closed_past_window
from cor_incentives.core.records import CLOSED_TASK_STATES, TaskState
from cor_incentives.core.rules import RULES_FINE_TUNE_RELEASE
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import state_hash
from support.chain import Chain, refusing
from support.market import MODEL, h, market
from support.replays import replayed_to, through_snapshot

EPOCH_CLOSE = apply_module.HANDLERS["epoch.close"][0]
WALK = closed_past_window


def filtered(state: State, horizon: int) -> list[int]:
    """What the prune retired before: every live task filtered, in ``state.tasks``' order."""
    return [t for t, task in state.tasks.items() if task.state in CLOSED_TASK_STATES and task.created_epoch <= horizon]


class Watched:
    """``closed_past_window`` compared with the filter at every prune."""

    def __init__(self) -> None:
        self.walks: list[list[int]] = []

    def __call__(self, state: State, horizon: int) -> list[int]:
        walked = WALK(state, horizon)
        assert walked == filtered(state, horizon), (walked, filtered(state, horizon))
        self.walks.append(walked)
        return walked


def network() -> Chain:
    c = market(
        n_miners=4,
        n_validators=3,
        params={
            "rule_version": RULES_FINE_TUNE_RELEASE,  # the window's walk of whole closed tasks (rule 27: tests/core/test_task_stub.py)
            "prune_closed_records": 1,
            "epoch_length_ticks": 6,
            "unbonding_period_epochs": 1,
            "redundancy": 2,
            "validators_per_task": 2,
            "min_validators_per_task": 2,
        },
    )
    return c


def submit(c: Chain, out: int) -> None:
    body = {"session": 1, "model": MODEL, "prompt_hash": h("p"), "prompt_bytes": 20, "input_tokens": 5, "max_output_tokens": out}
    c.as_("user", "task.submit", body)


def network_task(c: Chain) -> None:
    c.oracle("task.network", {"model": MODEL, "prompt_hash": h("n"), "prompt_bytes": 9, "input_tokens": 9, "max_output_tokens": 20})


def cancel_open(c: Chain, i: int) -> None:
    open_ids = [t for t, task in c.state.tasks.items() if task.state not in CLOSED_TASK_STATES and task.session is not None]
    if open_ids:
        c.as_("user", "task.cancel", {"task": open_ids[i % len(open_ids)]})


KINDS = ["submit"] * 4 + ["network", "cancel", "tick", "tick", "close", "close", "close_refused", "snapshot", "window"]
STEP = st.tuples(st.sampled_from(KINDS), st.integers(0, 50))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=8, max_size=40))
def test_the_walk_retires_what_the_filter_of_every_live_task_retired_in_its_order(steps):
    c = network()
    watched = Watched()
    retired_tasks: list[int] = []
    with mock.patch.object(prune_module, "closed_past_window", watched):
        for kind, n in steps:
            hashed = state_hash(c.state)
            try:
                if kind == "submit":
                    submit(c, 1 + n)
                elif kind == "network":
                    network_task(c)
                elif kind == "cancel":
                    cancel_open(c, n)
                elif kind == "tick":
                    c.oracle("tick", {"ticks": 1 + n % 5})
                elif kind in ("close", "close_refused"):
                    handler = refusing(EPOCH_CLOSE) if kind == "close_refused" else EPOCH_CLOSE
                    with mock.patch.dict(apply_module.HANDLERS, {"epoch.close": (handler, True)}):
                        c.oracle("epoch.close", {})
                elif kind == "window":  # the evidence window widens or narrows (a governance change, set directly)
                    history = c.state.params_history
                    assert history is not None
                    c.state.params_history = history.with_changes(c.state.epoch, {"unbonding_period_epochs": n % 3})
                else:
                    c.state = through_snapshot(c.state)
            except EngineError as exc:
                assert state_hash(c.state) == hashed, (kind, exc.code)  # a refusal changes nothing, the tasks' order included
                continue
            retired_tasks += [key for _, what, key, _, _, _ in c.state.retired if what == TASK and key not in retired_tasks]
            c.state.check_tasks_in_creation_order()
    assert sum(len(w) for w in watched.walks) >= len(retired_tasks)
    if not any(kind == "window" for kind, _ in steps):
        replayed_to(c.events, c.state)


def test_tasks_retire_at_the_close_past_their_window_in_id_order_and_the_walk_stops_at_the_horizon():
    c = network()
    for out in (5, 6, 7):
        submit(c, out)
    c.oracle("tick", {"ticks": 5})  # past every deadline: they fail
    network_task(c)  # open past the close
    first = sorted(c.state.tasks)
    assert all(c.state.tasks[t].state in CLOSED_TASK_STATES for t in first[:3])
    c.oracle("epoch.close", {})  # epoch 1: horizon 0 (window 1)
    assert [k for _, what, k, _, _, _ in c.state.retired if what == TASK] == first[:3]
    assert list(c.state.tasks) == first[3:]

    class Counted:
        reads = 0

    class Probe:
        """A task past the horizon: only its created_epoch may be read, once, by the walk."""

        state = TaskState.SETTLED

        @property
        def created_epoch(self) -> int:
            Counted.reads += 1
            return 10**6

    state = c.state
    for i in range(5):
        state.tasks[10**6 + i] = Probe()  # type: ignore[assignment]
    assert closed_past_window(state, state.epoch - 1) == []
    assert Counted.reads == 1  # stopped at the first task past the horizon


def test_the_order_check_catches_a_task_out_of_creation_order():
    c = network()
    for out in (5, 6):
        submit(c, out)
    c.state.check_tasks_in_creation_order()
    a, b = list(c.state.tasks)
    moved = c.state.tasks.pop(a)
    c.state.tasks[a] = moved  # back at the end: id order broken
    with pytest.raises(InvariantViolation, match="out of creation order"):
        c.state.check_entry_indexes()
