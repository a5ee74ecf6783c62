"""The stake × time accrual and the stakers' settlement in one pass per node (core/staking.py: counts that do not move are
not written, each position's stake read once from the balances) pay exactly what the previous code paid, in the same order.

The previous code is kept as a reference (tests/support/stake_reference.py). On random epochs (simulated worlds with
random delegations, undelegations and ticks between them, so positions join and leave mid-epoch and some end with no
stake):
- the whole close gives the same state hash, balances in the same order, the same record and root, the same postings;
- each node's settlement alone (a random reward credited through commission) gives the same lines, balances and
  positions, and the next epoch starts from the same counts.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from cor_incentives.core import epoch, rewards, staking
from cor_incentives.core import ledger as acct
from cor_incentives.core.apply import apply, replay
from cor_incentives.core.journal import Writes
from cor_incentives.core.records import EarningItem
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import state_hash
from support import stake_reference
from support.epochs import epoch_events
from support.stake_moves import move_stake_at_random

CASES = [("honest_only", 11), ("lazy_miners", 12), ("sybil_split", 13), ("honest_only", 14), ("lazy_miners", 15)]


def use_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The previous accrual and settlement everywhere the core calls them."""
    for name in ("accrue_stake_ticks", "accrue_position", "accrue_all", "settle_node_rewards", "start_stake_epoch"):
        monkeypatch.setattr(staking, name, getattr(stake_reference, name))
    monkeypatch.setattr(
        staking.NodePay, "settle", lambda pay, node_id, stream: stake_reference.settle_node_rewards(pay.state, node_id, stream, pay.writes)
    )
    monkeypatch.setattr(epoch, "settle_node_rewards", stake_reference.settle_node_rewards)
    # the steps' bulk calls (``staking.accrue_nodes``, ``NodePay.settle_all``, ``start_stake_epochs``): the reference node by node

    def accrue_nodes(state: State, nodes: Any, writes: Writes | None = None, *, positions: bool = True) -> None:
        for node in nodes:
            (stake_reference.accrue_all if positions else stake_reference.accrue_stake_ticks)(state, node, writes)

    for module in (staking, rewards):
        monkeypatch.setattr(module, "accrue_nodes", accrue_nodes)
    monkeypatch.setattr(
        staking.NodePay,
        "settle_all",
        lambda pay, node_ids, stream: [stake_reference.settle_node_rewards(pay.state, n, stream, pay.writes) for n in node_ids],
    )

    def credit_all(pay: staking.NodePay, src: str, stream: str, pays: Any, node_line: str, stake_line: str) -> None:
        for node_id, amount, detail in pays:  # (the APR step's: each node's line, credit, then its stakers' settlement)
            pay.writes.append(pay.state.earnings, EarningItem(node_id, node_line, 0, detail))
            pay.credit(node_id, src, amount, stream, detail)
            stake_reference.settle_node_rewards(pay.state, node_id, stake_line, pay.writes)

    monkeypatch.setattr(staking.NodePay, "credit_all", credit_all)
    monkeypatch.setattr(
        epoch, "start_stake_epochs", lambda state, nodes, writes=None: [stake_reference.start_stake_epoch(state, n, writes) for n in nodes]
    )


def with_stake_moves(events: list[Any], seed: int) -> State:
    """The state before the close with random delegations and undelegations spread over the epoch's ticks."""
    state = replay(events[:-1])
    move_stake_at_random(state, random.Random(seed), seed)
    state.ledger.commit()
    state.touched.clear()
    return state


def balances_in_order(state: State) -> list[tuple[str, int]]:
    return list(state.ledger.balances.items())


def positions(state: State) -> dict[str, Any]:
    return {
        n: (node.stake_ticks, node.stake_tick_mark, [(a, p.stake_ticks, p.mark) for a, p in node.positions.items()])
        for n, node in state.nodes.items()
    }


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_the_close_pays_what_the_reference_paid(name: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    events = epoch_events(name, seed)
    current = with_stake_moves(events, seed)
    applied = apply(current, events[-1])
    use_reference(monkeypatch)
    reference = with_stake_moves(events, seed)
    applied_reference = apply(reference, events[-1])
    closed = current.epoch - 1
    record = current.epochs[closed]
    assert any(i.stream.endswith(":stake") and i.address not in current.nodes for i in record.items), "no delegator was paid"
    assert any(i.stream.endswith(":dust") for i in record.items)
    assert state_hash(current) == state_hash(reference)
    assert balances_in_order(current) == balances_in_order(reference)
    assert record == reference.epochs[closed] and record.root == reference.epochs[closed].root
    assert applied.postings == applied_reference.postings
    assert positions(current) == positions(reference)


@pytest.mark.parametrize("seed", range(6))
def test_each_node_settles_like_the_reference(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    events = epoch_events("honest_only", 100 + seed)

    def settle_all(state: State) -> list[Any]:
        rng = random.Random(seed)
        writes = Writes()
        dust = []
        for node_id in sorted(state.nodes):
            reward = rng.choice([0, 1, 7, rng.randrange(1, 10**24)])
            staking.credit_node_reward(state, node_id, acct.NETWORK_INCENTIVES_POOL, reward, "test", {"formula": "f"}, writes)
            dust.append(staking.settle_node_rewards(state, node_id, "test:stake", writes))
        for node_id in sorted(state.nodes):
            staking.start_stake_epoch(state, state.nodes[node_id], writes)
        return dust

    current = with_stake_moves(events, seed)
    dust = settle_all(current)
    use_reference(monkeypatch)
    reference = with_stake_moves(events, seed)
    assert settle_all(reference) == dust
    assert current.earnings == reference.earnings and any(i.stream == "test:stake" for i in current.earnings)
    assert balances_in_order(current) == balances_in_order(reference)
    assert current.ledger.postings == reference.ledger.postings
    assert positions(current) == positions(reference)
    assert state_hash(current) == state_hash(reference)
