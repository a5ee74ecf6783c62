"""`cor verify` checks conservation from what each event wrote and its postings (core.conservation), not by
scanning every balance after every event: a break is still reported at the event that causes it.

The log is real (SQLite file, real keys, the engine: transfers, delegations, checkpointed ticks, an
epoch close that pays rewards). The break is injected into the replay of one event (Hypothesis picks
the event and the kind of break), exactly as a bug in a handler would make it: inside the event, through
the state the core writes."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.app import verify as verify_mod
from cor_incentives.app.anchors import checkpoint_for
from cor_incentives.core import apply as apply_mod
from cor_incentives.core.conservation import Conservation
from cor_incentives.core.errors import InvariantViolation
from cor_incentives.core.journal import journal
from cor_incentives.core.ledger import Posting
from cor_incentives.core.units import COR
from cor_incentives.store.db import Store
from support.network import make_network

BREAKS = ("mint", "burn", "move_unposted", "phantom_posting", "minted_unbacked", "negative")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("verify-conservation")
    eng, keys = make_network(f"sqlite:///{d / 'cor.db'}", d / "keys")
    oracle = keys["oracle"]
    for i in range(6):
        eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": str(i + 1)})
        eng.submit_as(keys["bob"], "stake.delegate", {"node": keys["miner0"].address, "amount": str((i + 1) * COR)})
        eng.submit_as(oracle, "tick", {"ticks": 1, "checkpoint": checkpoint_for(eng.state)})
    eng.submit_as(oracle, "epoch.close", {"checkpoint": checkpoint_for(eng.state)})
    eng.submit_as(keys["dave"], "transfer", {"to": keys["carol"].address, "amount": "7"})
    n = eng.state.seq + 1
    eng.store.dispose()
    return d / "cor.db", n


def _break(kind: str, state, applied):
    """Write what a buggy handler would, inside the event being applied (so through the journaled state)."""
    ledger = state.ledger
    holder = next(a for a, v in sorted(ledger.balances.items()) if a.startswith("wallet:") and v > 10)
    other = next(a for a in sorted(ledger.balances) if a.startswith("wallet:") and a != holder)
    if kind == "mint":
        ledger.balances[holder] = ledger.balances[holder] + 1
    elif kind == "burn":
        ledger.balances[holder] = ledger.balances[holder] - 1
    elif kind == "move_unposted":  # nets to zero: only the postings can tell
        ledger.balances[holder] = ledger.balances[holder] - 3
        ledger.balances[other] = ledger.balances.get(other, 0) + 3
    elif kind == "phantom_posting":  # a posting published that moved nothing
        return replace(applied, postings=[*applied.postings, Posting(holder, other, 5, "phantom")])
    elif kind == "minted_unbacked":
        state.minted = state.minted + 9
    elif kind == "negative":
        v = ledger.balances[holder]
        ledger.balances[holder] = -v
        ledger.balances[other] = ledger.balances.get(other, 0) + 2 * v
    return applied


def _verify_with_break(db, monkeypatch, at: int, kind: str):
    real = apply_mod.apply

    def broken_apply(state, event, **kw):
        applied = real(state, event, **kw)
        return _break(kind, state, applied) if event.seq == at else applied

    monkeypatch.setattr(verify_mod, "apply", broken_apply)
    store = Store(f"sqlite:///{db}", create=False)
    try:
        return verify_mod.verify_store(store)[0]
    finally:
        store.dispose()


def test_clean_log_verifies(built):
    store = Store(f"sqlite:///{built[0]}", create=False)
    report, state = verify_mod.verify_store(store)
    store.dispose()
    assert report.ok and report.conservation and report.events == built[1], report.errors
    assert state.epochs, "the log closes an epoch (rewards, postings from pools)"


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_break_is_caught_at_its_event(built, tmp_path_factory, monkeypatch, data):
    db_src, n = built
    at = data.draw(st.integers(min_value=1, max_value=n - 1), label="event")
    kind = data.draw(st.sampled_from(BREAKS), label="break")
    db = tmp_path_factory.mktemp("copy") / "cor.db"
    shutil.copyfile(db_src, db)
    with monkeypatch.context() as m:
        report = _verify_with_break(db, m, at, kind)
    assert not report.ok and not report.conservation, (at, kind, report.errors)
    assert report.first_bad_seq == at, (at, kind, report.errors)
    assert any(e.startswith(f"seq {at}:") and ("conservation" in e or "balance" in e or "postings" in e) for e in report.errors), report.errors


def test_write_around_the_journal_is_caught_at_the_end(built, tmp_path, monkeypatch):
    """A write that bypasses the journal (dict.__setitem__) is invisible per event; the full scan at the end catches it."""
    db = tmp_path / "cor.db"
    shutil.copyfile(built[0], db)
    real = apply_mod.apply

    def sneaky(state, event, **kw):
        applied = real(state, event, **kw)
        if event.seq == 3:
            account = next(a for a, v in sorted(state.ledger.balances.items()) if a.startswith("wallet:") and v > 0)
            dict.__setitem__(state.ledger.balances, account, state.ledger.balances[account] + 1)
        return applied

    monkeypatch.setattr(verify_mod, "apply", sneaky)
    store = Store(f"sqlite:///{db}", create=False)
    report = verify_mod.verify_store(store)[0]
    store.dispose()
    assert not report.conservation and any("at the end of the log" in e for e in report.errors), report.errors


def test_whole_dict_rewrite_falls_back_to_the_full_scan(built):
    """Clearing or replacing the balances leaves no per-account record: the event gets the full scan."""
    store = Store(f"sqlite:///{built[0]}", create=False)
    _, state = verify_mod.verify_store(store)
    store.dispose()
    check = Conservation()
    check.start(state)
    with journal() as writes:
        saved = dict(state.ledger.balances)
        state.ledger.balances.clear()
        state.ledger.balances.update(saved)
    check.after_event(state, writes, [])  # same balances: the full scan passes
    with journal() as writes:
        state.ledger.balances.clear()
        state.ledger.balances.update({**saved, "treasury": saved.get("treasury", 0) + 1})
    with pytest.raises(InvariantViolation):
        check.after_event(state, writes, [])


def _transfer_break(kind: str, state, applied):
    """A break that keeps a one-posting transfer's shape (the same two balances written), for the check's short path."""
    (p,) = applied.postings
    balances = state.ledger.balances
    if kind == "dst_plus":
        balances[p.dst] = balances[p.dst] + 1
    elif kind == "src_minus":
        balances[p.src] = balances[p.src] - 1
    elif kind == "shifted":  # nets to zero: only the posting's amount can tell
        balances[p.src] = balances[p.src] - 3
        balances[p.dst] = balances[p.dst] + 3
    elif kind == "reversed":  # the posting's amount moved the other way
        balances[p.src] = balances[p.src] + 2 * p.amount
        balances[p.dst] = balances[p.dst] - 2 * p.amount
    elif kind == "negative":  # the sender left negative, the receiver credited what the posting says plus the rest
        v = balances[p.src]
        balances[p.src] = -1
        balances[p.dst] = balances[p.dst] + v + 1
    elif kind == "minted_unbacked":  # no balance moved beyond the posting, but supply + minted did
        state.minted = state.minted + 9
    return applied


@pytest.mark.parametrize("kind", ("dst_plus", "src_minus", "shifted", "reversed", "negative", "minted_unbacked"))
def test_break_in_a_one_posting_transfer_is_caught(built, tmp_path, monkeypatch, kind):
    """A transfer writes two balances and posts one movement between them: the shape the check decides without
    building its per-account sums (``Conservation.after_event``'s first branch). A break that keeps that shape is
    still named at its event (not only by the full scan at the end)."""
    db_src, n = built
    db = tmp_path / "cor.db"
    shutil.copyfile(db_src, db)
    shapes: dict[int, tuple[int, int]] = {}
    real_check = Conservation.after_event

    def spy(self, state, writes, postings):
        shapes[state.seq] = (len(postings), len(writes.values_before() or ()))
        return real_check(self, state, writes, postings)

    monkeypatch.setattr(Conservation, "after_event", spy)
    clean = _verify_with_break(db, monkeypatch, -1, "mint")  # no event is broken
    assert clean.ok, clean.errors
    at = min(seq for seq, shape in shapes.items() if shape == (1, 2) and 0 < seq < n - 1)  # the first such transfer
    real = apply_mod.apply

    def broken_apply(state, event, **kw):
        applied = real(state, event, **kw)
        return _transfer_break(kind, state, applied) if event.seq == at else applied

    monkeypatch.setattr(verify_mod, "apply", broken_apply)
    store = Store(f"sqlite:///{db}", create=False)
    try:
        report = verify_mod.verify_store(store)[0]
    finally:
        store.dispose()
    assert shapes[at] == (1, 2), shapes[at]  # the broken event kept the shape
    assert not report.ok and not report.conservation, (kind, report.errors)
    assert report.first_bad_seq == at, (kind, report.errors)
    assert any(e.startswith(f"seq {at}:") and ("conservation" in e or "balance" in e) for e in report.errors), report.errors
