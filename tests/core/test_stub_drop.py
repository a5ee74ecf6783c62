"""The window's drop of rule 27's stubs in bulk (core/prune.py ``drop_stubs``, session 30): ``State.stub_epochs`` keeps
each created epoch's stub ids and the nodes they name (``StubEpochs``), the close past the window takes whole buckets,
pops the stubs at C speed with one journal entry (``journal.pop_keys``) and takes the names off ``node_refs`` once per
node (``NodeRefs.drop_counts``). Derived structures only: the state's bytes, its hash and ``closed_tasks``' order are
those of the drop it replaced (a heap of ``(created_epoch, id)`` popped per stub, then ``closed_tasks.pop`` and
``node_refs.drop(task_names(stub))`` per stub, in id order), kept here as ``old_drop``, the reference.

- ``pop_keys`` against a run of ``JDict.pop`` (the same values and dict; a refused event puts the keys back in their
  order, a key before the first one's tail included; a missing key changes nothing);
- ``StubEpochs`` and ``drop_counts``: a refused push or drop leaves nothing, a count above the held one changes nothing;
- a property over synthetic states (up to ~600 stubs over 5 epochs, in a random close order, so ``keep_order``'s
  tail and whole-order paths both run): the new drop and ``old_drop`` leave the same bytes, order and indexes, equal to
  a rebuild, and under a journal rolled back the state is what it was;
- a property over random lives through the engine (tasks settled and cancelled over several windows, closes, refused
  closes and refused cancels, a snapshot decoded mid-way): a world whose closes drop with ``old_drop`` and one with the
  new drop hold the same state bytes and indexes after every step.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cor_incentives.core import apply as apply_module
from cor_incentives.core import prune
from cor_incentives.core.apply import apply, replay
from cor_incentives.core.errors import Conflict, EngineError, InvariantViolation
from cor_incentives.core.journal import JDict, LoggedDict, journal, pop_keys, write_log
from cor_incentives.core.records import ClosedTask, TaskKind, TaskState
from cor_incentives.core.rules import RULES_TASK_STUB
from cor_incentives.core.state import DueIds, NodeRefs, State, StubEpochs, task_names
from cor_incentives.core.state_codec import decode_state, encode_state
from support.chain import addr
from support.market import commit_reveal, draw_now, market, submit, validate_all

real_drop = prune.drop_stubs


def old_drop(state: State, horizon: int) -> int:
    """The drop as session 30's rule 27 landed it (main 244e8c6): a heap of ``(created_epoch, id)`` (``DueIds``, equal to a
    rebuild: its check), the ids due popped one by one and sorted, each stub popped from ``closed_tasks`` and its names
    dropped from ``node_refs`` one stub at a time. This world's ``stub_epochs`` is then made again from the stubs left."""
    stubs = state.closed_tasks
    heap = DueIds.of(stubs.keys(), stubs, "created_epoch")
    ids = heap.pop_due(stubs.keys(), stubs, "created_epoch", horizon)
    for tid in ids:
        state.node_refs.drop(task_names(stubs.pop(tid)))
    state.stub_epochs = StubEpochs.of(stubs)
    return len(ids)


class Refused(Exception):
    pass


# --- pop_keys ---------------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 700), st.data())
def test_pop_keys_is_a_run_of_pops_and_a_rollback_restores_the_order(size, data):
    """Random dicts around ``TAIL_WALK`` (256) keys, random distinct keys in a random order, sometimes after a plain pop in
    the same journal: the same values and the same dict as ``JDict.pop`` one by one; rolled back, the dict's items in
    their order as before (a key before the first key's tail makes ``pop_keys`` keep the whole order, as the per-key
    pops would)."""
    items = [(k * 7 % 1009, f"v{k}") for k in range(size)]
    keys = data.draw(st.lists(st.sampled_from([k for k, _ in items]), unique=True, max_size=size) if size else st.just([]))
    first = data.draw(st.sampled_from([None] + [k for k, _ in items if k not in keys])) if size else None
    expected = JDict(items)
    if first is not None:
        expected.pop(first)
    values = [expected.pop(k) for k in keys]
    d = JDict(items)
    if first is not None:
        d.pop(first)
    assert pop_keys(d, keys) == values and list(d.items()) == list(expected.items())
    d = JDict(items)
    with pytest.raises(Refused), journal():
        if first is not None:
            d.pop(first)
        assert pop_keys(d, keys) == values and list(d.items()) == list(expected.items())
        raise Refused
    assert list(d.items()) == items
    if keys:
        event(f"first key within the tail walk: {len(items) - [k for k, _ in items].index(keys[0]) <= 256}")


def test_pop_keys_refuses_a_missing_key_before_any_change_and_notes_a_logged_dict():
    d = JDict({1: "a", 2: "b", 3: "c"})
    with pytest.raises(KeyError):
        pop_keys(d, [1, 4])
    assert list(d.items()) == [(1, "a"), (2, "b"), (3, "c")]
    logged = LoggedDict({1: "a", 2: "b", 3: "c"})
    with write_log(logged) as log:
        assert pop_keys(logged, [3, 1]) == ["c", "a"]
    assert log.values_before() == {3: "c", 1: "a"} and list(logged.items()) == [(2, "b")]


# --- StubEpochs and drop_counts ---------------------------------------------------------------------------------------


def stub(tid: int, epoch: int, miners: tuple[str, ...], validators: tuple[str, ...] = (), router: str | None = None) -> ClosedTask:
    return ClosedTask(tid, TaskKind.USER, "0xuser", TaskState.SETTLED, epoch, tid, router, miners, validators, False)


def test_stub_epochs_buckets_ids_and_names_and_a_refused_push_or_take_leaves_nothing():
    index = StubEpochs()
    a, b, c = stub(5, 1, ("n1", "n2"), ("n3",), "n1"), stub(3, 1, ("n2",)), stub(9, 2, ("n4",), (), "n5")
    for s in (a, b, c):
        index.push(s)
    assert index.buckets == {1: [5, 3], 2: [9]} and index.counts() == {1: {"n1": 2, "n2": 2, "n3": 1}, 2: {"n4": 1, "n5": 1}}
    assert index.entries() == StubEpochs.of({5: a, 3: b, 9: c}).entries() == [(1, 3), (1, 5), (2, 9)]
    with pytest.raises(Refused), journal():
        index.push(stub(11, 2, ("n4", "n6")))
        index.push(stub(12, 3, ("n7",)))
        assert index.take_due(2) == ([5, 3, 9, 11], {"n1": 2, "n2": 2, "n3": 1, "n4": 2, "n5": 1, "n6": 1})
        assert index.buckets == {3: [12]}
        raise Refused
    assert index.buckets == {1: [5, 3], 2: [9]} and index.counts() == {1: {"n1": 2, "n2": 2, "n3": 1}, 2: {"n4": 1, "n5": 1}}
    assert index.take_due(0) == ([], {}) and index.take_due(1) == ([5, 3], {"n1": 2, "n2": 2, "n3": 1})
    assert index.buckets == {2: [9]} and index.counts() == {2: {"n4": 1, "n5": 1}}


def test_drop_counts_checks_every_node_before_any_write_and_a_rollback_puts_them_back():
    refs = NodeRefs()
    refs.add(["a", "a", "b", "c"])
    with pytest.raises(InvariantViolation):
        refs.drop_counts({"a": 1, "b": 2})  # b is named once: nothing is written
    assert refs.as_dict() == {"a": 2, "b": 1, "c": 1}
    with pytest.raises(Refused), journal():
        refs.drop_counts({"a": 2, "c": 1})
        assert refs.as_dict() == {"b": 1}
        raise Refused
    assert refs.as_dict() == {"a": 2, "b": 1, "c": 1}
    refs.drop_counts({"a": 1, "b": 1})
    assert refs.as_dict() == {"a": 1, "c": 1}


# --- property: synthetic states ---------------------------------------------------------------------------------------

NODES = [f"0x{i:040x}" for i in range(8)]


def synthetic(seed: int, size: int) -> State:
    """``size`` stubs over epochs 0-4, closed in a random order (``closed_tasks``' order), each naming 1-3 miners, 0-4
    validators and maybe a router of 8 nodes; ``node_refs`` counts them and some live tasks' names besides."""
    rng = random.Random(seed)
    state = State()
    ids = rng.sample(range(1, 4 * size + 2), size)
    for tid in ids:
        s = stub(
            tid,
            rng.randrange(5),
            tuple(rng.choices(NODES, k=rng.randint(1, 3))),
            tuple(rng.choices(NODES, k=rng.randint(0, 4))),
            rng.choice([None, *NODES]),
        )
        state.closed_tasks[tid] = s
        state.stub_epochs.push(s)
        state.node_refs.add(task_names(s))
    state.node_refs.add(rng.choices(NODES, k=rng.randint(0, 10)))  # (live tasks and open sessions naming nodes)
    return state


def extras(seed: int, size: int) -> dict[str, int]:
    """The counts ``synthetic`` added for names besides the stubs'."""
    state = synthetic(seed, size)
    refs = dict(state.node_refs.counts)
    for name, n in NodeRefs.of({}, {}, state.closed_tasks).counts.items():
        refs[name] -= n
    return {k: v for k, v in refs.items() if v}


def check_indexes(state: State, others: dict[str, int]) -> None:
    """``stub_epochs`` and ``node_refs`` equal a rebuild from the stubs (with the names ``synthetic`` added besides)."""
    rebuilt = StubEpochs.of(state.closed_tasks)
    assert state.stub_epochs.entries() == rebuilt.entries() and state.stub_epochs.counts() == rebuilt.counts()
    refs = NodeRefs.of({}, {}, state.closed_tasks).counts
    for name, n in others.items():
        refs[name] = refs.get(name, 0) + n
    assert state.node_refs.as_dict() == dict(sorted(refs.items()))


def view(state: State) -> tuple:
    return encode_state(state), list(state.closed_tasks.items()), state.entry_indexes()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([0, 1, 40, 300, 600]), st.integers(-1, 5))
def test_property_the_bulk_drop_leaves_the_state_the_old_drop_left(seed, size, horizon):
    new, old = synthetic(seed, size), synthetic(seed, size)
    before = view(new)
    assert before == view(old)
    n = prune.drop_stubs(new, horizon)
    assert n == old_drop(old, horizon) == sum(1 for s in before[1] if s[1].created_epoch <= horizon)
    assert view(new) == view(old)
    assert all(s.created_epoch > horizon for s in new.closed_tasks.values())
    others = extras(seed, size)
    check_indexes(new, others)
    check_indexes(old, others)
    again = synthetic(seed, size)
    with pytest.raises(Refused), journal():
        prune.drop_stubs(again, horizon)
        assert view(again) == view(new)
        raise Refused
    assert view(again) == before
    check_indexes(again, others)
    event(f"dropped: {'none' if not n else 'all' if n == size else 'some'}")


# --- property: random lives through the engine ----------------------------------------------------------------------


def chain(unbonding: int):
    p = {"prune_closed_records": 1, "epoch_length_ticks": 20, "unbonding_period_epochs": unbonding, "rule_version": RULES_TASK_STUB}
    return market(n_miners=4, n_validators=3, beacon=True, params=p)


@contextmanager
def refusing():
    """The event applied inside is refused at its very end, after its handler and the retire of the tasks it closed."""

    def refuse(state, actor, accounts):
        raise Conflict("refused at the end", code="test_refusal")

    with patch.object(apply_module, "note_accounts", refuse):
        yield


@contextmanager
def dropping(old: bool):
    if old:
        with patch.object(prune, "drop_stubs", old_drop):
            yield
    else:
        yield


def counting(drops: list[int]):
    """``drop_stubs`` noting how many stubs each call dropped."""

    def drop(state: State, horizon: int) -> int:
        drops.append(real_drop(state, horizon))
        return drops[-1]

    return drop


STEP = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 1)),
    st.tuples(st.just("submit"), st.integers(0, 1)),
    st.tuples(st.just("settle"), st.integers(0, 9)),
    st.tuples(st.just("settle"), st.integers(0, 9)),
    st.tuples(st.just("cancel"), st.integers(0, 9)),
    st.tuples(st.just("refused_cancel"), st.integers(0, 9)),
    st.tuples(st.just("tick"), st.sampled_from([1, 7, 19])),
    st.tuples(st.just("close"), st.just(0)),
    st.tuples(st.just("close"), st.just(0)),
    st.tuples(st.just("refused_close"), st.just(0)),
    st.tuples(st.just("snapshot"), st.just(0)),
)


def act(c, step: tuple) -> str | None:
    """One step on ``c``: the refusal's code, or None."""
    name, n = step
    live = sorted(c.state.tasks)
    tid = live[n % len(live)] if live else None
    try:
        if name == "submit":
            submit(c, **({"router": addr("router")} if n else {}))
        elif name == "settle" and tid is not None:
            draw_now(c, tid)
            commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners})
            draw_now(c, tid)
            validate_all(c, tid, lambda v, m: (0, 900_000_000))
        elif name == "cancel" and tid is not None:
            c.as_("user", "task.cancel", {"task": tid})
        elif name == "refused_cancel" and tid is not None:
            with refusing():
                c.as_("user", "task.cancel", {"task": tid})
        elif name == "tick":
            c.oracle("tick", {"ticks": n})
        elif name == "close":
            c.oracle("epoch.close", {})
        elif name == "refused_close":
            with refusing():
                c.oracle("epoch.close", {})
    except EngineError as e:
        return e.code
    return None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, 2), st.lists(STEP, min_size=10, max_size=45))
def test_property_lives_dropping_stubs_in_bulk_and_one_by_one_hold_the_same_state(unbonding, steps):
    """After every step the world whose closes drop with ``old_drop`` and the one with ``drop_stubs`` answer alike and
    hold the same state bytes (``closed_tasks``' order with them), the same ``entry_indexes()``, each equal to a rebuild;
    a refused close or cancel leaves the bytes and the indexes as they were. A snapshot of the new world decoded mid-way
    rebuilds the same indexes and applies the rest to the same state; both logs replay to their state."""
    old, new = chain(unbonding), chain(unbonding)
    snapshot = None
    dropped = 0
    for step in steps:
        if step[0] == "snapshot":
            snapshot = (encode_state(new.state), len(new.events))
            continue
        before = (encode_state(new.state), new.state.entry_indexes())
        with dropping(old=True):
            expected = act(old, step)
        drops: list[int] = []
        with patch.object(prune, "drop_stubs", counting(drops)):
            got = act(new, step)
        assert got == expected, step
        assert encode_state(new.state) == encode_state(old.state), step
        assert new.state.entry_indexes() == old.state.entry_indexes(), step
        if step[0].startswith("refused") and got == "test_refusal":
            assert (encode_state(new.state), new.state.entry_indexes()) == before
            event(f"{step[0]} refused{' after dropping stubs' if any(drops) else ''}")
        if step[0] == "close" and any(drops):
            dropped += 1
        new.state.check_entry_indexes()
        old.state.check_entry_indexes()
    event(f"closes that dropped stubs: {min(dropped, 3)}{'+' if dropped >= 3 else ''}")
    assert encode_state(replay(new.events, check_each=True)) == encode_state(new.state)
    if snapshot is not None:
        state = decode_state(snapshot[0])
        state.check_entry_indexes()
        for later in new.events[snapshot[1] :]:
            apply(state, later)
        assert encode_state(state) == encode_state(new.state) and state.entry_indexes() == new.state.entry_indexes()
