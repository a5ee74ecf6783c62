"""Epoch close (docs/design.md §6): one deterministic, ordered list of steps, run when logical time crosses a boundary.

Steps (read top to bottom, as in the consensus spec's ``process_epoch``):
    1. ``process_emission``             — the epoch's emission from pool:network_incentives, split into streams
    2. ``process_miner_rewards``        — miner work (PoI/PoUW) rewards, through commission and stakers
    3. ``process_validator_rewards``    — validator rewards by agreement-weighted validations
    4. ``process_marketplace_rewards``  — the marketplace stream by each model's useful usage
    5. ``process_community_rewards``    — the community stream by attested points
    6. ``process_voter_rewards``        — the governance stream to this epoch's voters
    7. ``process_staking_apr``          — staking APR from pool:staking under the budget guard
    8. ``process_stake_rewards``        — pay any staker reward still waiting, by stake × ticks; rounding to dust
    9. ``process_stake_epoch``          — stake × ticks start again; commission changes made this epoch take effect
   10. ``process_offence_windows``      — forget offence counts that left the window
   11. ``process_governance``           — execute passed proposals whose timelock is over
   12. ``process_controller_step``      — bounded controller adjustments for the next epoch
   13. ``process_epoch_record``         — statement items, totals, Merkle leaves and root, APR, streams
   14. ``process_epoch_advance``        — start the next epoch
   15. ``process_position_starts``      — record every stake position at the new epoch's start (voting power)
   16. ``process_community_snapshot``   — who may be attested for community points during the new epoch
Unbonding entries mature by epoch number; ``stake.withdraw`` pays them (no step needed).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from . import ledger as acct
from .claims import epoch_leaves, merkle_root
from .community import process_community_rewards, process_community_snapshot
from .controllers import process_controllers
from .epoch_columns import ValidationColumns, WorkColumns
from .epoch_document import apr_statement, line_formulas
from .errors import invariant
from .governance import process_governance_execution, process_voter_rewards
from .journal import Writes, attempt
from .records import EpochRecord
from .rewards import (
    process_emission,
    process_marketplace_rewards,
    process_miner_rewards,
    process_staking_apr,
    process_validator_rewards,
)
from .rules import RULES_EPOCH_DOCUMENT, rules_since
from .slashing import process_offence_windows
from .snapshots import process_position_starts
from .staking import settle_node_rewards, start_stake_epochs
from .state import State
from .streams import EpochStreams, Stream


def process_stake_rewards(state: State) -> None:
    """Pay every node's stakers what still waits in ``rewards:<node>``, by stake × ticks in the epoch."""
    for node_id in sorted(state.nodes):
        if state.ledger.balance(acct.rewards(node_id)):
            settle_node_rewards(state, node_id)


def process_stake_epoch(state: State) -> None:
    """Every node's stake × ticks start again from now; a commission change made this epoch applies from the next."""
    writes = Writes()  # every node's counts and positions: journaled as a few entries
    start_stake_epochs(state, [state.nodes[node_id] for node_id in sorted(state.nodes)], writes)


def process_governance(state: State) -> None:
    """Execute passed proposals whose timelock is over (their effects apply from the next epoch)."""
    state.epoch_streams.governance = process_governance_execution(state)


def process_controller_step(state: State) -> None:
    """The regular review: bounded, rate-limited parameter adjustments toward targets."""
    state.epoch_streams.controllers = process_controllers(state)


def process_epoch_record(state: State) -> None:
    """Record the closing epoch: items, totals per stream, leaves and root, streams, APR, reputation."""
    totals: dict[str, int] = defaultdict(int)
    for item in state.earnings:
        totals[item.stream] += item.amount
    leaves = epoch_leaves(state.earnings)
    close = state.epoch_streams
    streams = {name: payout.to_dict() for name, payout in close.payouts.items()}
    for name in state.params.emission_split_bps:
        if name not in streams:  # a stream no step paid out this epoch stays in the pool
            budget = close.budget(name)
            streams[name] = {"budget": budget, "paid": 0, "back_to_pool": budget, "earners": 0, "note": "no eligible earner"}
    streams["emission"] = {"budget": close.emission, **close.emission_inputs}
    state.epochs[state.epoch] = EpochRecord(
        epoch=state.epoch,
        start_tick=state.epoch_start_tick,
        end_tick=state.tick,
        totals=dict(sorted(totals.items())),
        items=list(state.earnings),
        root=merkle_root(state.epoch, leaves),
        leaves=leaves,
        streams=streams,
        staking=_staking_account(state),
        reputation={n: state.nodes[n].reputation_ppb for n in sorted(state.nodes)},
        controllers=dict(close.controllers),
        governance=list(close.governance),
        checkpoint=state.last_checkpoint,
        skipped=list(state.skipped),
    )
    state.skipped = []
    state.earnings = []
    state.epoch_work = WorkColumns()
    state.epoch_validations = ValidationColumns()
    state.epoch_streams = EpochStreams()


def _staking_account(state: State) -> dict[str, Any]:
    """The APR step's account; from rule version 11 with the APR's formula and parameters (its node lines cite them)."""
    staking = state.epoch_streams.staking
    if staking is None:
        return {}
    out = staking.to_dict()
    if rules_since(state.params, RULES_EPOCH_DOCUMENT):
        out |= apr_statement(state.params, staking.budget_binding) | {"line_formulas": line_formulas(state.params)}
    return out


def process_epoch_advance(state: State) -> None:
    """Begin the next epoch at the current tick."""
    state.epoch += 1
    state.epoch_start_tick = state.tick


EPOCH_STEPS = [
    process_emission,
    process_miner_rewards,
    process_validator_rewards,
    process_marketplace_rewards,
    process_community_rewards,
    process_voter_rewards,
    process_staking_apr,
    process_stake_rewards,
    process_stake_epoch,
    process_offence_windows,
    process_governance,
    process_controller_step,
    process_epoch_record,
    process_epoch_advance,
    process_position_starts,
    process_community_snapshot,
]
ALWAYS = (process_epoch_record, process_epoch_advance)  # the record of the close and the next epoch: never skipped


def process_epoch(state: State) -> None:
    """Close the current epoch. A step that cannot happen is skipped with its writes undone and
    recorded in the epoch record (its stream stays in its pool): an epoch always closes."""
    closing = state.epoch
    pools_before = {pool: state.ledger.balance(pool) for pool in (acct.NETWORK_INCENTIVES_POOL, acct.STAKING_POOL)}
    for step in EPOCH_STEPS:
        if step in ALWAYS:
            step(state)
            continue
        error = attempt(lambda: step(state))  # noqa: B023 (called at once)
        if error is not None:  # after the record, it is listed in the next epoch's record
            state.skip(f"epoch {closing} close: {step.__name__}", error)
    invariant(state.epoch == closing + 1 and state.epoch_start_tick == state.tick, f"epoch {closing} did not advance to the next")
    record = state.epochs[closing]
    # the one inflow a close makes into a pool: escalation debts charged to bonds (rules 33-34, core/rewards.py
    # charge_unfunded: bond and unbonding entries -> pool:network_incentives), on the closing epoch's items
    charged = sum(-i.amount for i in record.items if i.stream == Stream.ESCALATION_UNFUNDED)
    pools_before[acct.NETWORK_INCENTIVES_POOL] += charged
    invariant(all(state.ledger.balance(p) <= before for p, before in pools_before.items()), f"a pool grew while epoch {closing} closed")
    unclaimed = sum(v for account, v in state.ledger.balances.items() if account.startswith("claimable:"))
    invariant(sum(record.leaves.values()) <= unclaimed, f"epoch {closing}: the leaves promise more than the claimable accounts hold")
    invariant((record.root is None) == (not record.leaves), f"epoch {closing}: a root without leaves or leaves without a root")
