"""Epoch close: one deterministic, ordered list of steps, run when logical time crosses a boundary.

Steps (read top to bottom, as in the consensus spec's ``process_epoch``):
    1. ``process_stake_rewards`` — harvest every node's stakers, sweep rounding to ``dust``.
    2. ``process_epoch_record`` — freeze the epoch's statement items and totals.
    3. ``process_epoch_advance`` — start the next epoch.
Later parts insert their steps (emission, work rewards, APR, Merkle root) into ``EPOCH_STEPS``.
"""

from __future__ import annotations

from collections import defaultdict

from .staking import settle_node_rewards
from .state import EpochRecord, State


def process_stake_rewards(state: State) -> None:
    """Harvest every staker of every node that holds undistributed rewards."""
    for node_id in sorted(state.nodes):
        if state.ledger.balance(f"rewards:{node_id}") or state.nodes[node_id].reward_acc:
            settle_node_rewards(state, node_id)


def process_epoch_record(state: State) -> None:
    """Record the closing epoch with its statement items and totals per stream."""
    totals: dict[str, int] = defaultdict(int)
    for item in state.earnings:
        totals[item.stream] += item.amount
    state.epochs[state.epoch] = EpochRecord(
        epoch=state.epoch, start_tick=state.epoch_start_tick, end_tick=state.tick,
        totals=dict(sorted(totals.items())), items=list(state.earnings),
    )
    state.earnings = []


def process_epoch_advance(state: State) -> None:
    """Begin the next epoch at the current tick."""
    state.epoch += 1
    state.epoch_start_tick = state.tick


EPOCH_STEPS = [process_stake_rewards, process_epoch_record, process_epoch_advance]


def process_epoch(state: State) -> None:
    """Close the current epoch."""
    for step in EPOCH_STEPS:
        step(state)


def ticks_to_epoch_end(state: State) -> int:
    """Ticks left until the current epoch closes."""
    return state.epoch_start_tick + state.params.epoch_length_ticks - state.tick
