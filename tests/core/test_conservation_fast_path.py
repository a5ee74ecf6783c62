"""``Conservation.after_event``'s shortcut for one posting between the two balances an event wrote (``_one_posting_holds``)
against its general check (``Conservation.check_changes``, what every event ran before the shortcut), kept as the
reference: on any balances, values before, posting and change of supply + minted, the same outcome (the same
``InvariantViolation`` message, or none) and the same running total after."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.conservation import Conservation, _one_posting_holds
from cor_incentives.core.errors import InvariantViolation
from cor_incentives.core.journal import MISSING, WriteLog, logging_to
from cor_incentives.core.ledger import Posting
from cor_incentives.core.state import State

ACCOUNTS = ("genesis", "minted", "wallet:a", "wallet:b", "bonded:a")
values = st.integers(-3, 6)


def _outcome(check: Conservation, run) -> tuple[str | None, int]:
    try:
        run()
    except InvariantViolation as exc:
        return str(exc), check.issued
    return None, check.issued


@st.composite
def events(draw):
    """(values before, balances now, posting, supply + minted before and now): mostly the shortcut's shape (one posting
    between the two accounts written, each moved by about the amount), with every way off it drawn too."""
    src, dst = draw(st.sampled_from(ACCOUNTS)), draw(st.sampled_from(ACCOUNTS))
    amount = draw(st.integers(-2, 6))
    written = draw(st.one_of(st.just([src, dst]), st.lists(st.sampled_from(ACCOUNTS), max_size=3, unique=True)))
    before = {a: draw(st.one_of(values, st.just(MISSING))) for a in written}
    moves = {src: -amount, dst: amount} if src != dst else {}
    after = {}
    for a, was in before.items():
        new = (0 if was is MISSING else was) + moves.get(a, 0) + draw(st.sampled_from((0, 0, 0, 1, -1)))
        if new or draw(st.booleans()):  # (a zero balance is absent from the ledger, or stored as 0)
            after[a] = new
    issued_before = draw(st.integers(0, 3))
    issued_now = issued_before + draw(st.sampled_from((0, 0, 0, 1, -2)))
    return before, after, Posting(src, dst, amount, "transfer"), (issued_before, issued_now)


@settings(max_examples=3000, deadline=None)
@given(event=events())
def test_the_shortcut_decides_as_the_general_check(event):
    """The balances of the accounts written are ``after`` (absent: 0); ``issued``: supply + minted before and now."""
    before, after, p, issued = event
    state = State()
    state.ledger.balances.update(after)
    state.genesis_supply = issued[1]
    log = WriteLog(state.ledger.balances)
    log.before.update(before)

    fast = Conservation(issued=issued[0], balances=state.ledger.balances)
    reference = Conservation(issued=issued[0], balances=state.ledger.balances)
    got = _outcome(fast, lambda: fast.after_event(state, log, [p]))
    want = _outcome(reference, lambda: reference.check_changes(state.ledger.balances, dict(before), [p], issued[1]))
    assert got == want


def test_the_shortcut_takes_a_transfer_and_declines_what_it_cannot_vouch_for():
    """It answers True only for a clean transfer between two non-source accounts; a break, a source or a third account
    written goes to the general check (which names it: tests/core/test_conservation_transfer.py)."""
    clean = Posting("wallet:a", "wallet:b", 3, "transfer")
    assert _one_posting_holds(clean, {"wallet:a": 5, "wallet:b": MISSING}, {"wallet:a": 2, "wallet:b": 3})
    assert not _one_posting_holds(clean, {"wallet:a": 5, "wallet:b": MISSING}, {"wallet:a": 2, "wallet:b": 4})  # credited one more
    assert not _one_posting_holds(clean, {"wallet:a": 2, "wallet:b": MISSING}, {"wallet:a": -1, "wallet:b": 3})  # sender negative
    assert not _one_posting_holds(clean, {"wallet:a": 5, "wallet:c": 0}, {"wallet:a": 2, "wallet:b": 3})  # wrote another account
    mint = Posting("minted", "wallet:b", 3, "mint")
    assert not _one_posting_holds(mint, {"minted": 0, "wallet:b": MISSING}, {"minted": -3, "wallet:b": 3})  # a source
    same = Posting("wallet:a", "wallet:a", 3, "transfer")
    assert not _one_posting_holds(same, {"wallet:a": 5, "wallet:b": 1}, {"wallet:a": 5, "wallet:b": 1})


def test_a_transfer_that_moves_supply_is_still_refused():
    """Balances that agree with the posting while supply + minted moved: the shortcut does not apply (``issued`` changed)."""
    state = State()
    state.ledger.balances.update({"genesis": -100, "wallet:a": 5, "wallet:b": 95})
    state.genesis_supply = 100
    check = Conservation()
    check.start(state)
    log = WriteLog(state.ledger.balances)
    with logging_to(log):
        state.ledger.balances["wallet:a"] = 2
        state.ledger.balances["wallet:b"] = 98
    state.minted = 7
    with pytest.raises(InvariantViolation, match="conservation broken"):
        check.after_event(state, log, [Posting("wallet:a", "wallet:b", 3, "transfer")])
