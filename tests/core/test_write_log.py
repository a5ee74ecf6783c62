"""``journal.write_log``: a replay without an undo journal still learns which balances an event wrote and
what they held before, exactly what the undo journal would have told (``values_before``), and nothing
else is recorded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import journal as jmod
from cor_incentives.core.errors import EngineError
from cor_incentives.core.journal import MISSING, JDict, LoggedDict, Writes, attempt, journal, values_before, write_log
from cor_incentives.core.ledger import Ledger

ACCOUNTS = [f"wallet:0x{i:040x}" for i in range(6)] + ["genesis", "treasury"]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["transfer", "transfer_batched", "set", "pop", "setdefault", "update", "failed_attempt", "other_dict"]),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(ACCOUNTS),
        st.integers(min_value=0, max_value=50),
    ),
    max_size=40,
)


def _ledger() -> Ledger:
    ledger = Ledger()
    ledger.balances["genesis"] = -1_000
    for a in ACCOUNTS[:6]:
        ledger.balances[a] = 100
    ledger.balances["treasury"] = 400
    return ledger


def _run(ledger: Ledger, ops: list[tuple[str, str, str, int]], other: dict[str, int]) -> None:
    """The writes a handler makes: through the ledger, batched (``Writes``), straight to the dict, a
    savepoint that fails and is rolled back, and writes to some other journaled dict."""
    b = ledger.balances
    for op, src, dst, amount in ops:
        if op == "transfer":
            if dst != "genesis" and (src == "genesis" or b.get(src, 0) >= amount):
                ledger.transfer(src, dst, amount, "t")
        elif op == "transfer_batched":
            if dst != "genesis" and (src == "genesis" or b.get(src, 0) >= amount):
                # a batch of its own: a key a batch wrote is written only through it while it is in use (journal.Writes)
                ledger.transfer(src, dst, amount, "t", writes=Writes())
        elif op == "set":
            b[src] = amount
        elif op == "pop":
            b.pop(src, None)
        elif op == "setdefault":
            b.setdefault(src, amount)
        elif op == "update":
            b.update({src: amount, dst: amount + 1})
        elif op == "failed_attempt":

            def fail(src: str = src, amount: int = amount) -> None:
                b[src] = amount + 7
                raise EngineError("skipped")

            attempt(fail)
        else:
            other[src] = amount


def _changes(before: dict[str, object], balances: dict[str, int]) -> dict[str, tuple[object, int]]:
    olds = {k: 0 if v is MISSING else v for k, v in before.items()}
    return {k: (v, balances.get(k, 0)) for k, v in olds.items() if v != balances.get(k, 0)}


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_write_log_tells_what_the_undo_journal_tells(ops):
    journaled, logged = _ledger(), _ledger()
    with journal() as entries:
        _run(journaled, ops, JDict())
    other = JDict()
    with write_log(logged.balances) as log:
        _run(logged, ops, other)
    assert dict(logged.balances) == dict(journaled.balances)
    by_log, by_journal = log.values_before(), values_before(entries, journaled.balances)
    assert by_log is not None and by_journal is not None
    # the same balances changed, from the same values; the log may also name a key a failed savepoint wrote
    # and put back (unchanged, so it adds nothing to the conservation check)
    assert _changes(by_log, logged.balances) == _changes(by_journal, journaled.balances)
    assert set(by_journal) <= set(by_log)
    assert all(_changes({k: by_log[k]}, logged.balances) == {} for k in set(by_log) - set(by_journal))
    assert type(logged.balances) is LoggedDict


def test_no_undo_journal_is_kept():
    ledger = _ledger()
    with write_log(ledger.balances) as log:
        assert jmod._current.get() is None  # nothing journaled: a write costs one lookup
        ledger.transfer(ACCOUNTS[0], ACCOUNTS[1], 5, "t")
        with pytest.raises(EngineError):  # and nothing undone: the replay stops at a refused event
            ledger.transfer(ACCOUNTS[2], ACCOUNTS[3], 10**9, "t")
    assert log.values_before() == {ACCOUNTS[0]: 100, ACCOUNTS[1]: 100}
    assert ledger.balances[ACCOUNTS[0]] == 95


def test_a_new_key_and_a_cleared_dict():
    ledger = _ledger()
    with write_log(ledger.balances) as log:
        ledger.transfer("genesis", "wallet:new", 3, "t")
    assert log.values_before() == {"genesis": -1_000, "wallet:new": MISSING}
    with write_log(ledger.balances) as log:
        ledger.balances.clear()
    assert log.values_before() is None  # no per-key record: the caller scans all of it


def test_only_the_watched_dict_and_only_inside_the_block():
    ledger, twin = _ledger(), _ledger()
    with write_log(twin.balances):
        pass  # twin's balances are a LoggedDict from now on
    with write_log(ledger.balances) as log:
        twin.balances["treasury"] = 2  # not the watched dict
    ledger.balances["treasury"] = 3  # after the block
    assert log.values_before() == {}
    with pytest.raises(TypeError):
        with write_log({}):  # a plain dict is not the state's
            pass


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_a_logged_dict_under_an_undo_journal_is_journaled_and_undone_as_a_journaled_one(ops):
    """A ``LoggedDict`` (the balances after a verify) written under an undo journal and a write log at once: the
    journal records what it records for a ``JDict``, rolling it back restores the start, and the log agrees."""
    journaled, logged = _ledger(), _ledger()
    with journal() as j_entries:
        _run(journaled, ops, JDict())
    with journal() as l_entries, write_log(logged.balances) as log:
        _run(logged, ops, JDict())
    assert type(logged.balances) is LoggedDict
    assert dict(logged.balances) == dict(journaled.balances)
    assert values_before(l_entries, logged.balances) == values_before(j_entries, journaled.balances)
    by_log = log.values_before()
    assert by_log is not None and set(values_before(l_entries, logged.balances) or {}) <= set(by_log)
    jmod.rollback(j_entries)
    jmod.rollback(l_entries)
    assert dict(logged.balances) == dict(journaled.balances) == dict(_ledger().balances)
