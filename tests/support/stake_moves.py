"""Random delegations and undelegations spread over an epoch's ticks, for the settlement tests that compare the
core's stake accounting with a reference (tests/core/test_stake_settle.py, tests/core/test_node_pay.py)."""

from __future__ import annotations

import random

from cor_incentives.core import ledger as acct
from cor_incentives.core.rules import RULES_MIN_POSITION, rules_since
from cor_incentives.core.staking import process_delegate, process_undelegate
from cor_incentives.core.state import State


def move_stake_at_random(state: State, rng: random.Random, seed: int, *, commissions: bool = False) -> None:
    """Up to 3 delegations a node, at random ticks between the node's last counted tick and ``state.tick`` (the close's),
    40 % of them followed by an undelegation of part or all of it, at once or later; with ``commissions``, each node's
    commission drawn first (0, 1, 500, 9 999 or 10 000 bps). Applied in tick order; ``state.tick`` is the close's after."""
    close_tick = state.tick
    least = state.params.min_position_units if rules_since(state.params, RULES_MIN_POSITION) else 1  # rule 20's minimum
    moves: list[tuple[int, int, str, str, int]] = []  # (tick, order, node, address, amount: > 0 delegate, < 0 undelegate)
    for i, node_id in enumerate(sorted(state.nodes)):
        node = state.nodes[node_id]
        if commissions:
            node.commission_bps = rng.choice([0, 1, 500, 9_999, 10_000])
        start = max([node.stake_tick_mark, *(p.mark for p in node.positions.values())])  # counted up to there already
        for j in range(rng.randrange(0, 4)):
            addr, amount, tick = f"0x{(seed * 10_000 + i * 10 + j):040x}", rng.randrange(least, 10**21), rng.randrange(start, close_tick + 1)
            moves.append((tick, len(moves), node_id, addr, amount))
            if rng.random() < 0.4:  # part or all of it leaves again, at once or later in the epoch
                part = rng.randrange(1, amount - least + 2)  # (leaves at least the minimum position, or nothing)
                moves.append((rng.randrange(tick, close_tick + 1), len(moves), node_id, addr, -rng.choice([amount, part])))
    for tick, _, node_id, addr, amount in sorted(moves):
        state.tick = tick
        if amount > 0:
            state.ledger.transfer("treasury", acct.wallet(addr), amount, "test_fund")
            process_delegate(state, addr, {"node": node_id, "amount": str(amount)})
        else:
            process_undelegate(state, addr, {"node": node_id, "amount": str(-amount)})
    state.tick = close_tick
