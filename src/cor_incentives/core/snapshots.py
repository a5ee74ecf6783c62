"""Stake positions at epoch starts: how much of a position is old enough to vote.

Concepts
    A *position* is one staker's stake in one node: the operator's self-bond (``bonded:<node>``) or a
    delegation (``delegated:<node>:<addr>``). When an epoch starts, the stake of every position is
    recorded next to the one recorded when the previous epoch started. A position's *aged stake* is
    the least of the two and of its stake now:

        aged_stake = min(stake at the start of the previous epoch, stake at the start of this epoch, stake now)

    so stake counts only once it was bonded before the previous epoch began (at least one whole
    epoch), and only as long as it stays bonded. Governance snapshots aged stake when a proposal
    opens (governance.py); community eligibility reads the stake recorded at the epoch's start
    (community.py).

State
    ``state.position_starts[(node, staker)] = (stake at the previous epoch's start, at this epoch's start)``;
    a position with no stake at this epoch's start is dropped (its aged stake is 0 for two epochs).
"""

from __future__ import annotations

from .staking import stake_account, stake_of, stakers
from .state import State


def process_position_starts(state: State) -> None:
    """At an epoch's start: shift each position's recorded stake and record its stake now (the positions of ``stakers``,
    node by node in id order; each balance read from the ledger's dict)."""
    starts: dict[tuple[str, str], tuple[int, int]] = {}
    before, balances = state.position_starts, state.ledger.balances
    for node_id in sorted(state.nodes):
        for addr in stakers(state, node_id):
            now = balances.get(stake_account(node_id, addr), 0)
            if now:
                starts[(node_id, addr)] = (before.get((node_id, addr), (0, 0))[1], now)
    state.position_starts = starts


def aged_stake(state: State, node_id: str, addr: str) -> int:
    """min(stake at the previous epoch's start, at this epoch's start, now)."""
    previous, current = state.position_starts.get((node_id, addr), (0, 0))
    return min(previous, current, stake_of(state, node_id, addr))


def stake_at_epoch_start(state: State) -> dict[str, int]:
    """Each staker's total stake over its positions, as recorded when this epoch started."""
    out: dict[str, int] = {}
    for (_, addr), (_, current) in state.position_starts.items():
        out[addr] = out.get(addr, 0) + current
    return out
