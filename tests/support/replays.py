"""The checks the stateful property tests end a step or a run with: a snapshot round trip keeps the state hash,
and a replay of the log from genesis reaches the live state's hash (tests/properties: node_refs, prune_walk,
attestation_index, no_internal_errors, draws_after_prune; and the snapshot steps of the core tests, tests/core);
and the two the rule tests of tests/core end with: a log replays (conservation after every event) to its live state,
to the hash main's code gave it when it was recorded, and a state decoded from a snapshot taken mid-run applies the
rest of the log to the live state (voter_power, task_stub, fine_tune_release, unearned_validator_fee); and the
seeded life whose old-rule log they replay."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from cor_incentives.core.apply import apply, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import Event
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import decode_state, encode_state, state_hash
from cor_incentives.sim.scenarios import ROUTER, NodeGroup, Scenario, miners


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


def replays_as_recorded(events: Iterable[Event], state: State, recorded_hash: str | None = None) -> State:
    """The replay of ``events`` from genesis, conservation checked after every event; fails unless it encodes to
    ``state`` and (given ``recorded_hash``, the hash main's code gave the log when it was recorded) both reach that
    hash. Returned for further checks."""
    again = replay(events, check_each=True)
    if recorded_hash is not None:
        assert state_hash(again) == state_hash(state) == recorded_hash
    assert encode_state(again) == encode_state(state)
    return again


def resumed_from_snapshot(snapshot: tuple[bytes, int], events: Sequence[Event], state: State, each: Callable[[State], object] | None = None) -> State:
    """The state decoded from ``snapshot[0]`` with ``events[snapshot[1]:]`` applied to it (``each`` called on it after
    every event); fails unless it encodes to ``state``. Returned for further checks."""
    resumed = decode_state(snapshot[0])
    for event in events[snapshot[1] :]:
        apply(resumed, event)
        if each is not None:
            each(resumed)
    assert encode_state(resumed) == encode_state(state)
    return resumed


def recorded_life(name: str, validators: tuple[NodeGroup, ...], rule_version: int) -> list[Event]:
    """The log of a seeded simulated life of two epochs under ``rule_version`` (seed 7, with ``validators``, 8 honest,
    a lazy and a garbage miner and a router; 4 user and 4 network tasks an epoch, 3 rounds): the old-rule logs whose
    replay hashes the rule tests record (slim_node_lines, escalation_share)."""
    from cor_incentives.sim.runner import World

    sc = Scenario(
        name=name,
        nodes=miners(("honest", 8), ("lazy", 1), ("garbage", 1)) + validators + ROUTER,
        epochs=2,
        user_tasks_per_epoch=4,
        network_tasks_per_epoch=4,
        rounds_per_epoch=3,
        seeds=(1,),
        params={"rule_version": rule_version},
    )
    w = World(sc, 7, keep_events=True)
    for e in range(sc.epochs):
        w.run_epoch(e)
    return w.chain.events
