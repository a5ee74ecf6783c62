"""The beacon's draw queue as it was run until session 24 (``core.beacon.run_draws``: the head popped draw by draw), a
reference for the tests of the queue read in place (tests/core/test_run_draws.py). Not used by the core."""

from __future__ import annotations

from cor_incentives.core.beacon import HANDLERS, randomness
from cor_incentives.core.state import State


def run_draws_reference(state: State) -> None:
    """Run every queued draw with the value just revealed, in the order requested (popping the queue's head)."""
    b = state.beacon
    if b is None:
        return
    value = bytes.fromhex(b.value[2:])
    while b.pending:
        purpose, ident = b.pending.pop(0)
        HANDLERS[purpose](state, ident, randomness(value, purpose, ident))
