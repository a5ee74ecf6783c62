"""The close's batched writes (``journal.Writes``: the miner, validator, APR and stake-epoch steps journal thousands of
balances, stake counts and statement lines as a few entries) change nothing but the journaling.

- The same epoch closed with the batch and with plain journaled writes (one entry per write, as every
  other event) gives the same state hash, balances in the same order, the same record and root, the
  same postings in the same order.
- A close that fails after the batched steps leaves the state exactly as it was (state hash, balances
  with their order, every node's positions): the batches undo with the rest of the event; the same
  close applied afterwards gives what it gives on a fresh replay.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from cor_incentives.core import epoch, journal, rewards
from cor_incentives.core import ledger as acct
from cor_incentives.core.apply import apply, replay
from cor_incentives.core.journal import on_undo
from cor_incentives.core.staking import process_delegate
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import state_hash
from support.epochs import epoch_events

CASES = [("honest_only", 1), ("honest_only", 2), ("lazy_miners", 3), ("sybil_split", 4)]


class PlainWrites:
    """Every write journaled on its own, as outside the close (what the batch replaces)."""

    def set_key(self, d: dict[Any, Any], key: Any, value: Any) -> None:
        d[key] = value

    def pop_key(self, d: dict[Any, Any], key: Any) -> None:
        d.pop(key, None)

    def set_attr(self, obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)

    def append(self, lst: list[Any], item: Any) -> None:
        lst.append(item)

    def key_log(self, d: dict[Any, Any]) -> list[tuple[Any, Any]]:
        """(``ledger.Transfers`` writes the balances itself) each write's undo its own journal entry."""
        return PerWriteUndo(d)

    def attr_log(self) -> list[tuple[Any, str, Any]]:
        """(``staking.accrue_nodes`` writes the counts itself) each write's undo its own journal entry."""
        return PerAttrUndo()

    def appending(self, lst: list[Any]) -> None:
        on_undo(journal._undo_append, lst, len(lst))  # every append after this point is undone by it

    def deleting(self, d: dict[Any, Any], key: Any) -> None:
        """(``ledger.Transfers`` deletes a balance itself) keep the key order, as a plain deletion does."""
        entries = journal._current.get()
        if entries is not None:
            journal.keep_order(entries, d, key)


class PerAttrUndo(list[tuple[Any, str, Any]]):
    """The undo list ``staking.accrue_nodes`` appends each attribute write's ``(record, name, value before)`` to: one journal
    entry each."""

    def append(self, write: tuple[Any, str, Any]) -> None:
        on_undo(journal._undo_attr, *write)


class PerWriteUndo(list[tuple[Any, Any]]):
    """The undo list ``ledger.Transfers`` appends each balance write's ``(key, value before)`` to: one journal entry each."""

    def __init__(self, d: dict[Any, Any]) -> None:
        super().__init__()
        self.d = d

    def append(self, key_old: tuple[Any, Any]) -> None:
        on_undo(journal._undo_key, self.d, *key_old)


def before_close(events: list[Any], seed: int) -> State:
    """The state before the close, with a few delegations added so nodes have several positions."""
    state = replay(events[:-1])
    rng = random.Random(seed)
    for i, node_id in enumerate(sorted(state.nodes)):
        for j in range(rng.randrange(0, 3)):
            addr = f"0x{(seed * 1000 + i * 10 + j):040x}"
            amount = rng.randrange(1, 10**21)
            state.ledger.transfer("treasury", acct.wallet(addr), amount, "test_fund")
            process_delegate(state, addr, {"node": node_id, "amount": str(amount)})
    state.ledger.commit()
    state.touched.clear()
    return state


def balances_in_order(state: State) -> list[tuple[str, int]]:
    return list(state.ledger.balances.items())


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_batched_close_equals_plain_writes(name: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    events = epoch_events(name, seed)
    batched, plain = before_close(events, seed), before_close(events, seed)
    assert state_hash(batched) == state_hash(plain)
    applied = apply(batched, events[-1])
    monkeypatch.setattr(rewards, "Writes", PlainWrites)
    monkeypatch.setattr(epoch, "Writes", PlainWrites)
    applied_plain = apply(plain, events[-1])
    closed = batched.epoch - 1
    record = batched.epochs[closed]
    assert record.leaves and record.items, "the close paid nobody: the comparison would be empty"
    assert any(i.stream.endswith(":stake") for i in record.items)
    assert state_hash(batched) == state_hash(plain)
    assert balances_in_order(batched) == balances_in_order(plain)
    assert record == plain.epochs[closed] and record.root == plain.epochs[closed].root
    assert applied.postings == applied_plain.postings


@pytest.mark.parametrize(("name", "seed"), CASES[:2])
def test_close_failing_after_the_batched_steps_changes_nothing(name: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    events = epoch_events(name, seed)
    state = before_close(events, seed)
    hash_before, balances_before = state_hash(state), balances_in_order(state)
    positions_before = {n: {a: (p.stake_ticks, p.mark) for a, p in node.positions.items()} for n, node in state.nodes.items()}
    earnings_before = list(state.earnings)

    index = epoch.EPOCH_STEPS.index(epoch.process_stake_epoch)
    ran: list[str] = []

    def fail_after(state: State) -> None:
        epoch.process_stake_epoch(state)
        ran.append("stake_epoch")
        raise RuntimeError("the close fails after the miner, validator and APR steps wrote")

    steps = list(epoch.EPOCH_STEPS)
    steps[index] = fail_after
    monkeypatch.setattr(epoch, "EPOCH_STEPS", steps)
    with pytest.raises(RuntimeError):
        apply(state, events[-1])
    assert ran == ["stake_epoch"]
    assert state_hash(state) == hash_before
    assert balances_in_order(state) == balances_before
    assert {n: {a: (p.stake_ticks, p.mark) for a, p in node.positions.items()} for n, node in state.nodes.items()} == positions_before
    assert list(state.earnings) == earnings_before

    monkeypatch.undo()
    fresh = before_close(events, seed)
    apply(state, events[-1])
    apply(fresh, events[-1])
    assert state_hash(state) == state_hash(fresh)
    assert balances_in_order(state) == balances_in_order(fresh)


def test_a_failure_inside_a_skippable_step_undoes_that_step_too() -> None:
    """``attempt`` undoes its own writes when what it runs fails with anything, not only an EngineError
    (an invariant broken inside a close step): the event's journal cannot undo them otherwise."""
    from cor_incentives.core.journal import JDict, attempt, journal

    d: JDict[str, int] = JDict({"a": 1})

    def step() -> None:
        d["a"] = 2
        d["b"] = 3
        raise RuntimeError("broken inside the step")

    with pytest.raises(RuntimeError), journal():
        d["c"] = 4
        attempt(step)
    assert dict(d) == {"a": 1}


def test_values_before_reads_a_batch_of_key_writes() -> None:
    """The incremental conservation check reads each balance's value before the event from the journal:
    a batch's entry gives the oldest value of each key it wrote, as per-write entries do."""
    from cor_incentives.core.journal import MISSING, JDict, Writes, journal, values_before

    d: JDict[str, int] = JDict({"a": 1, "b": 2})
    with journal() as entries:
        d["a"] = 5
        writes = Writes()
        writes.set_key(d, "a", 6)
        writes.set_key(d, "c", 7)
        writes.pop_key(d, "b")
        writes.set_key(d, "c", 8)
        assert values_before(entries, d) == {"a": 1, "c": MISSING, "b": 2}
        assert dict(d) == {"a": 6, "c": 8}
