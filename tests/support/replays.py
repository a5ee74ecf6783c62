"""The two checks the stateful property tests end a step or a run with: a snapshot round trip keeps the state hash,
and a replay of the log from genesis reaches the live state's hash (tests/properties: node_refs, prune_walk,
attestation_index, no_internal_errors, draws_after_prune; and the snapshot steps of the core tests, tests/core)."""

from __future__ import annotations

from collections.abc import Iterable

from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import Event
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import decode_state, encode_state, state_hash


def through_snapshot(state: State) -> State:
    """``state`` encoded as a snapshot and decoded again; fails (an ``AssertionError``) unless it decodes to a state with
    ``state``'s hash."""
    hashed = state_hash(state)
    try:
        back = decode_state(encode_state(state))
    except EngineError as exc:  # an AssertionError: a caller's ``except EngineError`` (for refusals) must not pass it
        raise AssertionError(f"the snapshot of a live state does not decode: {exc}") from exc
    assert state_hash(back) == hashed, "a snapshot round trip changed the state hash"
    return back


def replayed_to(events: Iterable[Event], state: State) -> State:
    """The replay of ``events`` from genesis; fails unless it reaches ``state``'s hash (returned for further checks)."""
    again = replay(events)
    assert state_hash(again) == state_hash(state), "the replay of the log from genesis reached another state hash"
    return again
