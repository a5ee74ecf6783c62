"""The stake × time accrual and staker settlement as they were before the close's one-pass versions (core/staking.py at
main 7c4cd63): a reference the property tests compare the current code with (same writes, same order, same lines)."""

from __future__ import annotations

from cor_incentives.core import ledger as acct
from cor_incentives.core.epoch_document import DUST_FORMULA, STAKE_FORMULA, cites_line_formulas
from cor_incentives.core.errors import invariant
from cor_incentives.core.journal import Writes
from cor_incentives.core.records import Accrual, EarningItem, Node
from cor_incentives.core.staking import _add_line, _write, stake_of
from cor_incentives.core.state import State
from cor_incentives.core.streams import LinePart, Stream, line


def accrue_stake_ticks(state: State, node: Node, writes: Writes | None = None) -> None:
    """Count the node's stake × ticks up to now (journaled through ``writes`` when given, as everything below)."""
    elapsed = state.tick - node.stake_tick_mark
    _write(writes, node, "stake_ticks", node.stake_ticks + node.stake_total * elapsed)
    _write(writes, node, "stake_tick_mark", state.tick)
    invariant(elapsed >= 0 and node.stake_ticks >= 0, f"node {node.id}: stake × ticks went back in time")


def accrue_position(state: State, node: Node, addr: str, writes: Writes | None = None) -> Accrual:
    """Count ``addr``'s stake × ticks in ``node`` up to now (a new position starts counting now)."""
    pos = node.positions.get(addr)
    if pos is None:
        pos = node.positions.setdefault(addr, Accrual(0, state.tick))
    elapsed = state.tick - pos.mark
    _write(writes, pos, "stake_ticks", pos.stake_ticks + stake_of(state, node.id, addr) * elapsed)
    _write(writes, pos, "mark", state.tick)
    invariant(elapsed >= 0, f"{addr} in {node.id}: stake × ticks went back in time")
    return pos


def accrue_all(state: State, node: Node, writes: Writes | None = None) -> None:
    """Bring the node and every position of the epoch up to now; they must agree."""
    accrue_stake_ticks(state, node, writes)
    for addr in sorted(node.positions):
        accrue_position(state, node, addr, writes)
    invariant(
        node.stake_ticks == sum(p.stake_ticks for p in node.positions.values()),
        f"node {node.id}: its stake × ticks differ from the sum of its positions'",
    )


def settle_node_rewards(state: State, node_id: str, stream: str = Stream.STAKE_REWARD, writes: Writes | None = None) -> int:
    """Pay ``rewards:<node>`` to every position of the epoch by its stake × ticks; the floors go to ``dust``. Returns the dust.

    ``writes``: as for ``credit_node_reward``."""
    state.touch(node_id)
    node = state.nodes[node_id]
    reward = state.ledger.balance(acct.rewards(node_id))
    if reward == 0:
        return 0
    accrue_all(state, node, writes)
    total = node.stake_ticks
    cited = cites_line_formulas(state.params, stream)  # rule version 11 on: the formula once, in the stream's account
    formula = {} if cited else {"formula": STAKE_FORMULA}
    if total:
        for addr in sorted(node.positions, key=lambda a: (a != node_id, a)):
            ticks = node.positions[addr].stake_ticks
            share = reward * ticks // total
            if share:
                state.ledger.transfer(acct.rewards(node_id), acct.claimable(addr), share, stream, writes)
                _add_line(
                    state,
                    EarningItem(
                        addr,
                        stream,
                        share,
                        {
                            "node": node_id,
                            "node_reward": reward,
                            "stake_ticks": ticks,
                            "node_stake_ticks": total,
                            "stake": stake_of(state, node_id, addr),
                            **formula,
                        },
                        True,
                    ),
                    writes,
                )
    leftover = state.ledger.balance(acct.rewards(node_id))  # the floors; all of it if no stake was bonded for a tick
    if leftover:
        state.ledger.transfer(acct.rewards(node_id), "dust", leftover, "stake_reward_rounding", writes)
        _add_line(
            state,
            EarningItem(
                "dust",
                line(stream.split(":")[0], LinePart.DUST),
                leftover,
                {"node": node_id, "node_reward": reward, "node_stake_ticks": total, **({} if cited else {"formula": DUST_FORMULA})},
            ),
            writes,
        )
    invariant(state.ledger.balance(acct.rewards(node_id)) == 0, f"rewards:{node_id} not empty after settling its stakers")
    return leftover


def start_stake_epoch(state: State, node: Node, writes: Writes | None = None) -> None:
    """After the close: counts start again from now, positions without stake are forgotten, a pending commission applies."""
    accrue_all(state, node, writes)
    _write(writes, node, "positions", {a: Accrual(0, state.tick) for a in sorted(node.positions) if stake_of(state, node.id, a) > 0})
    _write(writes, node, "stake_ticks", 0)
    _write(writes, node, "stake_tick_mark", state.tick)
    if node.commission_next_bps is not None:
        _write(writes, node, "commission_bps", node.commission_next_bps)
        _write(writes, node, "commission_next_bps", None)
    state.touch(node.id)
