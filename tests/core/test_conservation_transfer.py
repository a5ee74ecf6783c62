"""``Conservation.after_event`` on the commonest event: one posting between the two balances it wrote (a transfer).

Every invariant of the per-event check is checked on that shape, including those a replayed log cannot easily be made
to break (a sender left negative by exactly the amount posted)."""

from __future__ import annotations

import pytest

from cor_incentives.core.conservation import Conservation
from cor_incentives.core.errors import InvariantViolation
from cor_incentives.core.journal import WriteLog, logging_to
from cor_incentives.core.ledger import Posting
from cor_incentives.core.state import State


def _state() -> State:
    state = State()
    for account, value in (("genesis", -100), ("wallet:a", 5), ("wallet:b", 95)):
        state.ledger.balances[account] = value
    state.genesis_supply = 100
    return state


def _event(state: State, check: Conservation, writes: dict[str, int], posting: Posting, minted: int = 0) -> None:
    """Write ``writes`` into the balances under a write log (as ``cor verify`` replays), then check the event."""
    log = WriteLog(state.ledger.balances)
    with logging_to(log):
        for account, value in writes.items():
            state.ledger.balances[account] = value
    state.minted += minted
    check.after_event(state, log, [posting])


def test_an_honest_transfer_passes_and_moves_the_totals():
    state, check = _state(), Conservation()
    check.start(state)
    _event(state, check, {"wallet:a": 2, "wallet:b": 98}, Posting("wallet:a", "wallet:b", 3, "transfer"))
    _event(state, check, {"minted": -10, "wallet:b": 108}, Posting("minted", "wallet:b", 10, "mint"), minted=10)  # a source goes negative
    check.full(state)


@pytest.mark.parametrize(
    ("writes", "posting", "minted", "message"),
    [
        # the sender ends negative, by exactly the amount posted (the changes agree with the posting)
        ({"wallet:a": -5, "wallet:b": 105}, Posting("wallet:a", "wallet:b", 10, "transfer"), 0, "negative balance wallet:a=-5"),
        # the receiver is credited one more than posted
        ({"wallet:a": 2, "wallet:b": 99}, Posting("wallet:a", "wallet:b", 3, "transfer"), 0, "balance of wallet:b changed by 4"),
        # both moved by the posting's amount, but the other way
        ({"wallet:a": 8, "wallet:b": 92}, Posting("wallet:a", "wallet:b", 3, "transfer"), 0, "balance of wallet:a changed by 3"),
        # the balances agree with the posting, but supply + minted moved
        ({"wallet:a": 2, "wallet:b": 98}, Posting("wallet:a", "wallet:b", 3, "transfer"), 7, "conservation broken"),
        # minted from a source into a wallet without the minted total rising
        ({"minted": -4, "wallet:b": 99}, Posting("minted", "wallet:b", 4, "mint"), 0, "conservation broken"),
    ],
)
def test_a_break_in_a_transfer_is_named(writes, posting, minted, message):
    state, check = _state(), Conservation()
    check.start(state)
    with pytest.raises(InvariantViolation, match=message):
        _event(state, check, writes, posting, minted)
