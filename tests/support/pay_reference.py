"""The close's per-node payments as they were before ``staking.NodePay`` and ``ledger.Transfers`` (main 0990fb9: core/ledger.py
``Ledger.transfer`` with a ``writes`` batch, core/staking.py ``accrue_*``, ``credit_node_reward``, ``settle_node_rewards``,
core/rewards.py ``_pay_stream``, ``process_staking_apr``), copied unchanged but for the names they import and rule 31's
"no stake" (no stake × ticks, ``has_stake_ticks``; its commission formula, ``line_formulas``): the reference
tests/core/test_node_pay.py compares the current code with (same postings in the same order, balances, lines, journal)."""

from __future__ import annotations

from typing import Any

from cor_incentives.core import ledger as acct
from cor_incentives.core.epoch_document import (
    DUST_FORMULA,
    GATE_INPUTS,
    STAKE_FORMULA,
    apr_statement,
    bonus_columns,
    cites_line_formulas,
    commission_detail,
    legacy_commission_detail,
    line_formulas,
)
from cor_incentives.core.errors import InsufficientFunds, InvalidInput, invariant
from cor_incentives.core.journal import Writes
from cor_incentives.core.ledger import NETWORK_INCENTIVES_POOL, SOURCES, STAKING_POOL, Ledger, Posting
from cor_incentives.core.records import Accrual, EarningItem, Node
from cor_incentives.core.rewards import apr_dues, apr_node, target_apr_bps
from cor_incentives.core.rules import RULES_EPOCH_DOCUMENT, RULES_EXPOSED_STAKE, RULES_STAKE_TICKS_COMMISSION, rules_since
from cor_incentives.core.staking import _add_line, _write, get_node, has_stake_ticks, stake_of
from cor_incentives.core.state import State
from cor_incentives.core.streams import LinePart, StakingAccount, Stream, line
from cor_incentives.core.units import BPS, cor_text
from cor_incentives.core.work_pay import StreamPay
from cor_incentives.core.work_rewards import WorkRewards


def _set_in(ledger: Ledger, writes: Writes, account: str, value: int) -> None:
    if value == 0:
        writes.pop_key(ledger.balances, account)
    else:
        writes.set_key(ledger.balances, account, value)


def transfer(ledger: Ledger, src: str, dst: str, amount: int, reason: str, writes: Writes) -> None:
    """``Ledger.transfer`` with a ``writes`` batch."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidInput(f"posting amount must be a non-negative integer, got {amount!r}", code="invalid_amount")
    if amount == 0 or src == dst:
        return
    balances = ledger.balances
    have = balances.get(src, 0)
    if src not in SOURCES and have < amount:
        raise InsufficientFunds(
            f"{src} holds {cor_text(have)}, {cor_text(amount)} needed",
            code="insufficient_funds",
            account=src,
            balance=str(have),
            needed=str(amount),
        )
    received = balances.get(dst, 0) + amount
    _set_in(ledger, writes, src, have - amount)
    _set_in(ledger, writes, dst, received)
    writes.append(ledger.postings, Posting(src, dst, amount, reason))
    if not (src in SOURCES or balances.get(src, 0) >= 0):
        invariant(False, f"posting left {src} negative")
    if not (balances.get(dst, 0) == received and received >= amount):
        invariant(False, f"posting did not credit {dst} with {amount}")


def _transfer(ledger: Ledger, src: str, dst: str, amount: int, reason: str, writes: Writes | None = None) -> None:
    if writes is None:
        ledger.transfer(src, dst, amount, reason)
    else:
        transfer(ledger, src, dst, amount, reason, writes)


def accrue_stake_ticks(state: State, node: Node, writes: Writes | None = None) -> None:
    """Count the node's stake × ticks up to now (journaled through ``writes`` when given, as everything below).
    Counted up to now already (the close's steps accrue a node several times at one tick): nothing is written."""
    elapsed = state.tick - node.stake_tick_mark
    invariant(elapsed >= 0 and node.stake_ticks >= 0, f"node {node.id}: stake × ticks went back in time")
    if elapsed:
        _write(writes, node, "stake_ticks", node.stake_ticks + node.stake_total * elapsed)
        _write(writes, node, "stake_tick_mark", state.tick)


def accrue_position(state: State, node: Node, addr: str, writes: Writes | None = None) -> Accrual:
    """Count ``addr``'s stake × ticks in ``node`` up to now (a new position starts counting now)."""
    pos = node.positions.get(addr)
    if pos is None:
        pos = node.positions.setdefault(addr, Accrual(0, state.tick))
    elapsed = state.tick - pos.mark
    invariant(elapsed >= 0, f"{addr} in {node.id}: stake × ticks went back in time")
    if elapsed:
        _write(writes, pos, "stake_ticks", pos.stake_ticks + stake_of(state, node.id, addr) * elapsed)
        _write(writes, pos, "mark", state.tick)
    return pos


def accrue_all(state: State, node: Node, writes: Writes | None = None) -> None:
    """Bring the node and every position of the epoch up to now; they must agree. Only the counts that move are
    written (the close's steps accrue a node several times at one tick)."""
    accrue_stake_ticks(state, node, writes)
    counted = sum(accrue_position(state, node, addr, writes).stake_ticks for addr in sorted(node.positions))
    invariant(node.stake_ticks == counted, f"node {node.id}: its stake × ticks differ from the sum of its positions'")


def credit_node_reward(state: State, node_id: str, src: str, amount: int, stream: str, detail: dict[str, Any], writes: Writes | None = None) -> int:
    """Credit ``amount`` from ``src`` to a node: commission to its operator, the rest to ``rewards:<node>`` for its stakers.

    Returns the part for the stakers (paid by ``settle_node_rewards``). With no stake at all,
    everything is commission. A close step crediting many nodes passes one ``writes`` batch
    (``journal.Writes``): the same writes, journaled as a few entries.
    """
    node = get_node(state, node_id)
    # rule 31 (RULES_STAKE_TICKS_COMMISSION, after this copy): "no stake" is no stake × ticks this epoch
    has_stake = has_stake_ticks(state, node) if rules_since(state.params, RULES_STAKE_TICKS_COMMISSION) else node.stake_total > 0
    commission = amount * node.commission_bps // BPS if has_stake else amount
    rest = amount - commission
    if commission:
        _transfer(state.ledger, src, acct.claimable(node_id), commission, line(stream, LinePart.COMMISSION), writes)
        if rules_since(state.params, RULES_EPOCH_DOCUMENT):  # cites the node line (core/epoch_document.py)
            cited = commission_detail(node_id, stream, node.commission_bps, amount, has_stake)
        else:
            cited = legacy_commission_detail(detail, node_id, node.commission_bps, amount, has_stake)
        _add_line(state, EarningItem(node_id, line(stream, LinePart.COMMISSION), commission, cited, True), writes)
    if rest:
        _transfer(state.ledger, src, acct.rewards(node_id), rest, line(stream, LinePart.STAKERS), writes)
    invariant(0 <= commission <= amount and commission + rest == amount, f"node {node_id}: commission split does not add up")
    return rest


def settle_node_rewards(state: State, node_id: str, stream: str = Stream.STAKE_REWARD, writes: Writes | None = None) -> int:
    """Pay ``rewards:<node>`` to every position of the epoch by its stake × ticks; the floors go to ``dust``. Returns the dust.

    ``writes``: as for ``credit_node_reward``."""
    state.touch(node_id)
    node = state.nodes[node_id]
    ledger = state.ledger
    pot = acct.rewards(node_id)
    reward = ledger.balance(pot)
    if reward == 0:
        return 0
    accrue_all(state, node, writes)
    total = node.stake_ticks
    cited = cites_line_formulas(state.params, stream)  # rule version 11 on: the formula once, in the stream's account
    formula = {} if cited else {"formula": STAKE_FORMULA}
    if total:
        positions = node.positions
        for addr in sorted(positions, key=lambda a: (a != node_id, a)):
            ticks = positions[addr].stake_ticks
            share = reward * ticks // total
            if share:
                _transfer(ledger, pot, acct.claimable(addr), share, stream, writes)
                stake = stake_of(state, node_id, addr)
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
                            "stake": stake,
                            **formula,
                        },
                        True,
                    ),
                    writes,
                )
    leftover = ledger.balance(pot)  # the floors; all of it if no stake was bonded for a tick
    if leftover:
        _transfer(ledger, pot, "dust", leftover, "stake_reward_rounding", writes)
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
    invariant(ledger.balance(pot) == 0, f"rewards:{node_id} not empty after settling its stakers")
    return leftover


def _pay_stream(
    state: State,
    stream: Stream,
    nodes: list[str],
    result: WorkRewards,
    pay: StreamPay,
    params_used: dict[str, Any],
    formula: str,
    tasks: dict[str, list[int]] | None,
) -> dict[str, Any]:
    """Credit every node its reward and write its line; returns what the stream account adds (rule version 11 on:
    the formula, parameters and bonus rows the node lines cite, ``core/epoch_document.py``)."""
    writes = Writes()  # thousands of balances, stake counts and lines: journaled as a few entries
    cited = rules_since(state.params, RULES_EPOCH_DOCUMENT)
    account: dict[str, Any] = {}
    if cited:
        columns, rows_at = bonus_columns(pay)
        account = {
            "total_weighted": result.total_weighted,
            "formula": formula,
            "params": params_used,
            "line_formulas": line_formulas(state.params),
            "bonus_rows": columns,
        }
    for i, node_id in enumerate(nodes):
        gates = result.for_node(i)
        reward = pay.reward[i]
        if cited:
            inputs = {k: gates[k] for k in GATE_INPUTS} | pay.for_node_own(i)
            detail: dict[str, Any] = {"stream": stream, "inputs": inputs}
            if tasks is not None:  # RULES_SLIM_NODE_LINES: the lines carry no tasks (None)
                detail["tasks"] = tasks.get(node_id, [])
            if rows_at[i][1]:
                detail["bonus_rows_at"] = list(rows_at[i])
        else:
            inputs = {k: gates[k] for k in GATE_INPUTS} | pay.for_node(i)
            detail = {"stream": stream, "formula": formula, "inputs": inputs, "params": params_used, "tasks": (tasks or {}).get(node_id, [])}
        if reward:
            writes.append(state.earnings, EarningItem(node_id, line(stream, LinePart.NODE), 0, detail))
            credit_node_reward(state, node_id, NETWORK_INCENTIVES_POOL, reward, stream, detail, writes)
        else:
            why = {**detail, "why": gates["reason"] or "no verified work"}
            writes.append(state.earnings, EarningItem(node_id, line(stream, LinePart.NONE), 0, why))
    stake_line = line(stream, LinePart.STAKE)
    for node_id in nodes:
        settle_node_rewards(state, node_id, stake_line, writes)
    return account


def process_staking_apr(state: State) -> None:
    """Staking APR from pool:staking, pro rata to stake × time, under the budget guard."""
    p = state.params
    apr = target_apr_bps(state, state.epoch)
    denominator = BPS * p.epochs_per_year * p.epoch_length_ticks
    writes = Writes()  # every node's stake counts, balances and lines: journaled as a few entries
    cited = rules_since(p, RULES_EPOCH_DOCUMENT)  # the formula and parameters once, in the staking account
    exposed = rules_since(p, RULES_EXPOSED_STAKE)
    due, excluded, stake_ticks_total, _ = apr_dues(state, apr, denominator, writes)  # who is due what: not the path under test
    due_total = sum(due.values())
    pool_balance = state.ledger.balance(STAKING_POOL)  # before this step pays anything
    budget = pool_balance * p.max_epoch_drain_bps // BPS
    binding = due_total > budget
    paid_total = 0
    for node_id, d in due.items():
        pay = d * budget // due_total if binding else d
        if pay:
            node = state.nodes[node_id]
            if cited:  # the APR's formula, parameters and shared inputs are in the staking account
                detail: dict[str, Any] = {"inputs": {"stake_ticks": node.stake_ticks, "due": d, "reward": pay}}
                if exposed:
                    detail["inputs"]["idle_stake_ticks"] = node.idle_stake_ticks
            else:  # rule versions 1-10: the formula, every input and the parameters on every line
                statement = apr_statement(p, binding)
                inputs = {
                    "stake_ticks": node.stake_ticks,
                    "target_apr_bps": apr,
                    "due": d,
                    "due_total": due_total,
                    "budget": budget,
                    "pool_balance": pool_balance,
                    "reward": pay,
                }
                detail = {"formula": statement["formula"], "inputs": inputs, "params": statement["params"]}
            writes.append(state.earnings, EarningItem(node_id, line(Stream.STAKING_APR, LinePart.NODE), 0, detail))
            credit_node_reward(state, node_id, STAKING_POOL, pay, Stream.STAKING_APR, detail, writes)
            paid_total += pay
            settle_node_rewards(state, node_id, line(Stream.STAKING_APR, LinePart.STAKE), writes)
    for node_id, why in excluded.items():
        writes.append(state.earnings, EarningItem(node_id, line(Stream.STAKING_APR, LinePart.NONE), 0, {"why": why}))
    effective = paid_total * p.epochs_per_year * p.epoch_length_ticks * BPS // stake_ticks_total if stake_ticks_total else 0
    invariant(0 <= paid_total <= budget, f"staking APR paid {paid_total} of a budget of {budget}")
    state.epoch_streams.staking = StakingAccount(
        target_apr_bps=apr,
        effective_apr_bps=effective,
        budget=budget,
        due=due_total,
        paid=paid_total,
        budget_binding=binding,
        stake_ticks=stake_ticks_total,
        excluded=excluded,
        pool_balance=pool_balance,
        nodes={n: apr_node(state.nodes[n], exposed) for n in sorted(state.nodes)},
    )
    state.touched.update(state.nodes)
