"""A refused event leaves every journaled dict's keys in the order they had (``core.journal``, ``Entries.orders``).

The core iterates dicts in insertion order, and the state's encoding and hash keep it (``state_codec``). Undoing a
deletion re-inserts its key at the end, so without the kept order a command the live engine refuses after emptying
an account would leave the live state in another order than a replay of the log: another state hash, and an oracle
checkpoint citing the live hash refused on replay (``checkpoint_state_mismatch``).

These tests compare key order itself (``list(d)``) and the order-sensitive state hash, never ``==`` of dicts, which
ignores order.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cor_incentives.core import apply as apply_module
from cor_incentives.core import journal as journal_module
from cor_incentives.core import ledger as acct
from cor_incentives.core.apply import replay
from cor_incentives.core.errors import Conflict, EngineError
from cor_incentives.core.journal import JDict, LoggedDict, Writes, attempt, journal, write_log
from cor_incentives.core.ledger import Ledger, Transfers
from cor_incentives.core.state_codec import encode_state, state_hash
from support.chain import addr
from support.market import market


def test_a_transfer_refused_after_emptying_a_wallet_keeps_the_balances_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live engine refuses a transfer after it moved the sender's whole balance (its key deleted); the state, its
    key order and its hash are what they were, and after the transfer is accepted the replay's hash is the live one."""
    c = market(n_miners=3, n_validators=3)
    balances = c.state.ledger.balances
    sender = acct.wallet(addr("m0"))
    keys = list(balances)
    assert sender in keys and keys.index(sender) < len(keys) - 1  # not the last key: a re-insertion would move it
    before_order, before_hash, before_bytes = list(balances.items()), state_hash(c.state), encode_state(c.state)
    amount = balances[sender]
    real = apply_module.note_accounts

    def refuses_after_the_postings(state: Any, actor: str, postings: Any) -> None:
        assert sender not in state.ledger.balances  # the wallet was emptied, its key deleted
        raise Conflict("refused after the postings", code="late_refusal")

    monkeypatch.setattr(apply_module, "note_accounts", refuses_after_the_postings)
    with pytest.raises(EngineError) as err:
        c.as_("m0", "transfer", {"to": addr("user"), "amount": str(amount)})
    assert err.value.code == "late_refusal"
    assert list(c.state.ledger.balances.items()) == before_order
    assert state_hash(c.state) == before_hash
    assert encode_state(c.state) == before_bytes

    monkeypatch.setattr(apply_module, "note_accounts", real)
    c.as_("m0", "transfer", {"to": addr("user"), "amount": str(amount)})
    replayed = replay(c.events)
    assert list(replayed.ledger.balances) == list(c.state.ledger.balances)
    assert state_hash(replayed) == state_hash(c.state)


# --- the journal alone, by random programs ------------------------------------------------------------------------

KEYS = [f"k{i}" for i in range(8)]

op = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(KEYS), st.integers(0, 3)),
    st.tuples(st.just("del"), st.sampled_from(KEYS), st.just(0)),
    st.tuples(st.just("pop"), st.sampled_from(KEYS), st.just(0)),
    st.tuples(st.just("clear"), st.just(""), st.just(0)),
    st.tuples(st.just("batch_set"), st.sampled_from(KEYS), st.integers(0, 3)),
    st.tuples(st.just("batch_pop"), st.sampled_from(KEYS), st.just(0)),
    st.tuples(st.just("move"), st.sampled_from(KEYS), st.integers(0, 3)),
)
MODES = ("plain", "held", "failed")  # the op written directly, or inside a savepoint (``attempt``) that holds or fails
programs = st.lists(st.tuples(op, st.sampled_from(MODES)), max_size=24)


def run(d: dict[str, int], ledger: Ledger, program: list[tuple[tuple[str, str, int], str]]) -> None:
    """Each op, written directly or inside a savepoint (``attempt``) that holds or fails after writing; the ledger's
    balances are ``d``. A batch (``Writes``) is made per op, inside the journal in force, as a close step makes one."""
    for (kind, key, value), mode in program:
        fails = mode == "failed"

        def step(kind: str = kind, key: str = key, value: int = value, fails: bool = fails) -> None:
            writes = Writes()
            if kind == "set":
                d[key] = value
            elif kind == "del":
                if key in d:
                    del d[key]
            elif kind == "pop":
                d.pop(key, None)
            elif kind == "clear":
                d.clear()
            elif kind == "batch_set":
                writes.set_key(d, key, value)
            elif kind == "batch_pop":
                writes.pop_key(d, key)
            elif kind == "move":  # a source's whole balance to the key (empties a key of d, or credits one)
                src = KEYS[(KEYS.index(key) + 1) % len(KEYS)]
                Transfers(ledger, writes).move(src, key, d.get(src, 0), "test")
            if fails:
                raise Conflict("the savepoint fails", code="savepoint")

        if mode == "failed":
            snapshot = dict(d)
            assert attempt(step) is not None
            assert dict(d) == snapshot, "a failed savepoint left a write"  # (its keys' places: see the test below)
        elif mode == "held":
            assert attempt(step) is None
        else:
            step()


@settings(max_examples=1000, deadline=None)
@given(start=st.lists(st.sampled_from(KEYS), unique=True), program=programs, logged=st.booleans(), walk=st.sampled_from([1, 2, 3, 256]))
@example(
    start=["k0", "k1", "k2"], program=[(("clear", "", 0), "plain"), (("set", "k2", 1), "plain"), (("del", "k2", 0), "plain")], logged=False, walk=256
)
@example(start=["k0", "k1", "k2"], program=[(("del", "k0", 0), "held")], logged=False, walk=256)
@example(start=["k0", "k1", "k2"], program=[(("del", "k0", 0), "plain"), (("del", "k2", 0), "plain")], logged=False, walk=1)
def test_a_rolled_back_journal_leaves_every_key_in_its_place(start: list[str], program: Any, logged: bool, walk: int) -> None:
    """Whatever a refused event wrote to a journaled dict (plain writes, a ``Writes`` batch, ``Transfers``, savepoints
    that failed or held), the dict's items after the rollback are its items before, in their order; whether the first
    deletion kept a tail or, further than ``TAIL_WALK`` keys from the end, the whole order (``walk``: small values make
    the small dicts here take both paths)."""
    saved = journal_module.TAIL_WALK
    journal_module.TAIL_WALK = walk
    try:
        _roll_back_a_program(start, program, logged)
    finally:
        journal_module.TAIL_WALK = saved


def _roll_back_a_program(start: list[str], program: Any, logged: bool) -> None:
    d: dict[str, int] = (LoggedDict if logged else JDict)({k: i + 1 for i, k in enumerate(start)})
    ledger = Ledger(balances=d)
    before = list(d.items())
    with pytest.raises(RuntimeError), journal():
        ledger.begin()
        if logged:
            with write_log(d):
                run(d, ledger, program)
        else:
            run(d, ledger, program)
        raise RuntimeError("refused")
    assert list(d.items()) == before


def test_a_failed_savepoint_still_puts_a_restored_key_last_and_the_refusal_puts_it_back() -> None:
    """A savepoint (``attempt``) is part of an accepted event: its undo re-inserts a deleted key at the end, as it always
    did, the same way live and in a replay, and the state hashes anchored in logs hold that order. Only a refused event's
    rollback restores places, those the savepoint moved included."""
    d = JDict({"a": 1, "b": 2, "c": 3})

    def deletes_then_fails() -> None:
        del d["a"]
        raise Conflict("cannot", code="cannot")

    with pytest.raises(RuntimeError), journal():
        assert attempt(deletes_then_fails) is not None
        assert list(d) == ["b", "c", "a"]
        raise RuntimeError("refused")
    assert list(d.items()) == [("a", 1), ("b", 2), ("c", 3)]

    with journal():  # the event is accepted: the savepoint's order stays
        assert attempt(deletes_then_fails) is not None
    assert list(d) == ["b", "c", "a"]


def test_a_deletion_near_the_end_keeps_only_the_tail_and_one_before_it_the_whole_order() -> None:
    """What ``keep_order`` costs: deleting a key near the end of a big dict (an escrow emptied in a large ledger) keeps
    the keys from it to the end, not the whole order; a later deletion before that tail takes the rest once. Both
    rollbacks put every key back in its place."""
    d = JDict({f"k{i}": i + 1 for i in range(10_000)})
    before = list(d.items())
    with pytest.raises(RuntimeError), journal() as entries:
        d["new"] = 1
        del d["k9998"]
        kept = entries.orders[id(d)]  # type: ignore[attr-defined]
        assert kept[1] == ["k9998", "k9999", "new"] and kept[2] == {"k9998", "k9999", "new"}
        del d["k9999"]  # inside the tail: nothing more kept
        assert entries.orders[id(d)] is kept  # type: ignore[attr-defined]
        raise RuntimeError("refused")
    assert list(d.items()) == before
    with pytest.raises(RuntimeError), journal() as entries:
        del d["k9990"]
        del d["k5"]  # before the tail: the whole order
        order, keys = entries.orders[id(d)][1:]  # type: ignore[attr-defined]
        assert keys is None and order[:5] == ["k0", "k1", "k2", "k3", "k4"] and order[-10:] == [f"k{i}" for i in range(9990, 10_000)]
        d["k5"] = 0  # re-added: it goes last until the rollback
        raise RuntimeError("refused")
    assert list(d.items()) == before


def test_a_deletion_far_from_the_end_keeps_the_whole_order_without_a_walk() -> None:
    """The close retires the oldest of many live tasks: the deleted key is more than ``TAIL_WALK`` keys from the end, so
    ``keep_order`` stops walking there and keeps the whole order at once (no set of every key); later deletions keep
    nothing more, and the rollback puts every key back in its place."""
    n = journal_module.TAIL_WALK * 4
    d = JDict({i: i for i in range(n)})
    before = list(d.items())
    with pytest.raises(RuntimeError), journal() as entries:
        del d[3]
        order, keys = entries.orders[id(d)][1:]  # type: ignore[attr-defined]
        assert keys is None and order == list(range(n))
        kept = entries.orders[id(d)]  # type: ignore[attr-defined]
        del d[0]
        del d[n - 1]
        assert entries.orders[id(d)] is kept  # type: ignore[attr-defined]
        d[3] = 0  # re-added: last until the rollback
        raise RuntimeError("refused")
    assert list(d.items()) == before
    with pytest.raises(RuntimeError), journal() as entries:  # exactly TAIL_WALK keys from the end: still a tail
        del d[n - journal_module.TAIL_WALK]
        order, keys = entries.orders[id(d)][1:]  # type: ignore[attr-defined]
        assert order == list(range(n - journal_module.TAIL_WALK, n)) and keys == set(order)
        raise RuntimeError("refused")
    assert list(d.items()) == before


def test_a_savepoint_in_a_replay_keeps_no_order() -> None:
    """Without a journal (a replay) a savepoint's deletions keep nothing: nothing would restore it."""
    d = JDict({"a": 1, "b": 2})
    seen: list[Any] = []

    def deletes_then_fails() -> None:
        del d["a"]
        seen.append(journal_module._current.get())
        raise Conflict("cannot", code="cannot")

    assert attempt(deletes_then_fails) is not None
    assert seen[0].orders is None and list(d) == ["b", "a"]
