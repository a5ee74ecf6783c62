"""The oracle's tick reading every open proposal and bounty at each step, as until session 24 (``apply.next_due_tick``,
``governance.process_governance_tallies``, ``bounties.process_bounty_deadlines`` over ``State.voting_proposals`` and
``State.undrawn_bounties`` whole): a reference for the tests of the items read by due tick (``State.proposal_ends``,
``State.bounty_deadlines``: tests/core/test_due_ids.py and test_due_ids_attack.py), and the network they build. Not
used by the core."""

from __future__ import annotations

from typing import Any

from cor_incentives.core import apply as apply_module
from cor_incentives.core.beacon import request_draw
from cor_incentives.core.bounties import REVIEWER_DRAW
from cor_incentives.core.errors import invariant
from cor_incentives.core.governance import _settle_deposit, count_votes, decide, timelock_ticks
from cor_incentives.core.records import BountyStatus, ProposalStatus
from cor_incentives.core.state import State, ticks_to_epoch_end
from cor_incentives.core.units import COR
from support.chain import Chain

PARAMS = {
    "min_self_bond_miner_units": "1",
    "gov_voting_period_ticks": 10,
    "epoch_length_ticks": 40,
    "gov_min_deposit_units": str(COR),
    "bounty_min_prize_units": "1",  # (rule 21) the tests' bounties of one base unit: many, cheaply
}


def network() -> Chain:
    """Two validators bonded for a whole epoch (so proposals can be voted on and reviewers drawn): the network of the
    tests of the items read by due tick."""
    c = Chain(wallets={"n1": 10_000 * COR, "n2": 10_000 * COR, "p": 10_000 * COR, "s": 10_000 * COR}, params=PARAMS, beacon=4096)
    for n in ("n1", "n2"):
        c.as_(n, "node.register", {"role": "validator", "self_bond": str(5_000 * COR)})
    for _ in range(2):
        c.oracle("epoch.close", {})
    return c


def use_reference(monkeypatch: Any) -> None:
    """Have the oracle's tick read every open item at each step, as until session 24 (the functions below)."""
    monkeypatch.setattr(apply_module, "next_due_tick", next_due_tick_reference)
    monkeypatch.setattr(apply_module, "process_governance_tallies", process_governance_tallies_reference)
    monkeypatch.setattr(apply_module, "process_bounty_deadlines", process_bounty_deadlines_reference)


def next_due_tick_reference(state: State) -> int:
    due = [state.tick + max(1, ticks_to_epoch_end(state))]
    due += [t for t in state.deadlines if t > state.tick]
    due += [p.end_tick for p in map(state.proposals.__getitem__, state.voting_proposals) if p.end_tick > state.tick]
    due += [b.deadline_tick for b in map(state.bounties.__getitem__, state.undrawn_bounties) if b.deadline_tick > state.tick]
    return min(due)


def process_governance_tallies_reference(state: State) -> None:
    p = state.params
    for pid in sorted(state.voting_proposals):
        prop = state.proposals[pid]
        if prop.status != ProposalStatus.VOTING or state.tick < prop.end_tick:
            continue
        prop.tally, prop.voter_power = count_votes(state, prop)
        prop.tallied_tick, prop.tallied_epoch = state.tick, state.epoch
        prop.status, prop.result = decide(p, prop.tally, prop.total_power)
        state.voting_proposals.discard(pid)
        prop.quorum_met = prop.result != "quorum not met"
        if prop.status == ProposalStatus.PASSED:
            prop.executable_tick = prop.end_tick + timelock_ticks(p, prop.kind)
        _settle_deposit(state, prop)
        invariant(sum(prop.tally.values()) <= prop.total_power, f"proposal {pid}: more votes than the snapshot's power")


def process_bounty_deadlines_reference(state: State) -> None:
    for bid in sorted(state.undrawn_bounties):
        b = state.bounties[bid]
        if b.drawn and b.drawn_tick is None and b.status == BountyStatus.OPEN and state.tick >= b.deadline_tick:
            b.drawn_tick = state.tick
            state.undrawn_bounties.discard(bid)
            request_draw(state, REVIEWER_DRAW, bid)
