"""Network rewards at epoch close: emission, streams, work and validator rewards, staking APR (docs/design.md §6).

Emission (from ``pool:network_incentives``)
    emission_e = min(pool, emission_per_epoch_units × emission_decay_ppb^e // 10**(9e))
    (exponential decay; with the defaults 50 000 COR in epoch 0, −0.1 % per epoch). It is split by
    ``emission_split_bps`` into streams: miners, validators, marketplace, community, governance;
    the split's rounding stays in the pool. A stream pays only what its earners earn: a stream with
    no eligible earner, and every rounding floor, stays in ``pool:network_incentives``.

Miner and validator streams (``work_rewards``)
    The epoch's assignment rows (one per miner per settled or failed task; one per assigned
    validator) go through ``compute_work_rewards`` / ``compute_validator_rewards`` (numpy, exact):
    eligibility gates, work × bounded reputation multiplier, pro rata. A node's reward is credited
    to its stakers: commission to the operator, the rest through the reward-per-stake accumulator.

Staking APR (from ``pool:staking``)
    target_apr_bps by network age (months = epoch × 12 // epochs_per_year): 6000 for months 0–5,
    3000 for 6–8, 1500 for 9–11, then 1000 (Cortensor's plan). A node's due for the epoch is
        due_n = stake_ticks_n × target_apr_bps // (10 000 × epochs_per_year × epoch_length_ticks)
    where stake_ticks_n = Σ stake × ticks bonded during the epoch. Budget guard: at most
    ``max_epoch_drain_bps`` of ``pool:staking`` per epoch; when Σ due exceeds it every node is paid
    due_n × budget // Σ due. A node slashed or jailed in the epoch earns no APR for it. The
    effective APR (bps) = paid × epochs_per_year × epoch_length_ticks × 10 000 // Σ stake_ticks.
    A node's APR goes through ``credit_node_reward`` like its work reward: commission at the rate in
    force this epoch, the rest to its positions by their own stake × ticks (``staking``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from . import ledger as acct
from .errors import invariant
from .ledger import NETWORK_INCENTIVES_POOL, STAKING_POOL
from .records import EarningItem, ValidationRow, WorkRow
from .staking import accrue_stake_ticks, credit_node_reward, settle_node_rewards
from .state import State
from .streams import EmissionStream, EpochStreams, LinePart, StakingAccount, Stream, line
from .units import BPS, PPB
from .work_rewards import WorkRewardParams, WorkRewards, compute_validator_rewards, compute_work_rewards

# (first month of the band, target APR in bps)
APR_SCHEDULE_BPS = ((0, 6_000), (6, 3_000), (9, 1_500), (12, 1_000))


def emission_for_epoch(state: State, epoch: int) -> int:
    """The epoch's emission by the decay schedule, capped by the pool."""
    p = state.params
    scheduled: int = p.emission_per_epoch_units * p.emission_decay_ppb**epoch // PPB**epoch
    return min(scheduled, state.ledger.balance(NETWORK_INCENTIVES_POOL))


def target_apr_bps(state: State, epoch: int) -> int:
    """Target APR by network age."""
    months = epoch * 12 // state.params.epochs_per_year
    apr = APR_SCHEDULE_BPS[0][1]
    for first_month, bps in APR_SCHEDULE_BPS:
        if months >= first_month:
            apr = bps
    return apr


def _work_params(state: State) -> WorkRewardParams:
    p = state.params
    return WorkRewardParams(p.min_precommit_rate_bps, p.min_score_bps, p.reputation_multiplier_min_ppb, p.reputation_multiplier_max_ppb)


def process_emission(state: State) -> None:
    """Budget each stream for the epoch (nothing moves yet)."""
    total = emission_for_epoch(state, state.epoch)
    parts, _ = acct.split_by_bps(total, dict(state.params.emission_split_bps))
    state.epoch_streams = EpochStreams(emission=total, budgets=parts)
    invariant(sum(parts.values()) <= total <= state.ledger.balance(NETWORK_INCENTIVES_POOL), "emission exceeds the pool")


def _pay_stream(
    state: State,
    stream: Stream,
    nodes: list[str],
    result: WorkRewards,
    params_used: dict[str, Any],
    formula: str,
    tasks: dict[str, list[int]] | None = None,
) -> int:
    paid = 0
    for i, node_id in enumerate(nodes):
        inputs = result.for_node(i)
        reward = result.reward[i]
        detail = {"stream": stream, "formula": formula, "inputs": inputs, "params": params_used, "tasks": (tasks or {}).get(node_id, [])}
        if reward:
            credit_node_reward(state, node_id, NETWORK_INCENTIVES_POOL, reward, stream, detail)
            paid += reward
        else:
            state.earnings.append(EarningItem(node_id, line(stream, LinePart.NONE), 0, {**detail, "why": inputs["reason"] or "no weighted work"}))
    for node_id in nodes:
        settle_node_rewards(state, node_id, line(stream, LinePart.STAKE))
    return paid


def _gate_params(state: State) -> dict[str, Any]:
    p = state.params
    return {
        "min_precommit_rate_bps": p.min_precommit_rate_bps,
        "min_score_bps": p.min_score_bps,
        "reputation_multiplier_min_ppb": p.reputation_multiplier_min_ppb,
        "reputation_multiplier_max_ppb": p.reputation_multiplier_max_ppb,
    }


Row = TypeVar("Row", WorkRow, ValidationRow)
Column = Callable[..., npt.NDArray[Any]]  # (row -> value[, dtype]) -> one column of the epoch's rows
# (column, row -> node index, reputation per node, budget) -> the kernel's result
Settle = Callable[[Column, Callable[[Row], int], npt.NDArray[np.int64], int], WorkRewards]


def _work_stream(
    state: State,
    stream_key: EmissionStream,
    rows: list[Row],
    empty_note: str,
    settle: Settle[Row],
    counted: Callable[[Row], bool],
    stream: Stream,
    formula: str,
) -> None:
    """One work stream: the kernel over the epoch's rows, paid through commission and stakers, recorded."""
    budget = state.epoch_streams.budget(stream_key)
    nodes = sorted({r.node for r in rows if r.node in state.nodes})
    if not nodes or budget == 0:
        state.epoch_streams.record(stream_key, budget, 0, 0, empty_note if not nodes else None)
        return
    index = {n: i for i, n in enumerate(nodes)}
    rows = [r for r in rows if r.node in index]

    def column(value: Callable[[Row], Any], dtype: Any = np.int64) -> npt.NDArray[Any]:
        return np.fromiter((value(r) for r in rows), dtype=dtype, count=len(rows))

    result = settle(column, lambda r: index[r.node], np.array([state.nodes[n].reputation_ppb for n in nodes], dtype=np.int64), budget)
    behind: dict[str, list[int]] = {}
    for r in rows:
        if counted(r):
            behind.setdefault(r.node, []).append(r.task)
    paid = _pay_stream(state, stream, nodes, result, _gate_params(state), formula, behind)
    state.epoch_streams.record(stream_key, budget, paid, sum(1 for r in result.reward if r))


def process_miner_rewards(state: State) -> None:
    """The miners stream, by weighted PoI/PoUW work."""

    def settle(column: Column, node: Callable[[WorkRow], int], reputation: npt.NDArray[np.int64], budget: int) -> WorkRewards:
        return compute_work_rewards(
            node_index=column(node),
            complexity_units=column(lambda r: min(r.complexity_units, 10**6)),
            quality_ppb=column(lambda r: r.quality_ppb),
            in_consensus=column(lambda r: r.in_consensus, bool),
            precommitted=column(lambda r: r.precommitted, bool),
            reputation_ppb=reputation,
            stream_amount=budget,
            params=_work_params(state),
        )

    _work_stream(
        state,
        EmissionStream.MINERS,
        state.epoch_work,
        "no miner work this epoch",
        settle,
        lambda r: r.in_consensus,
        Stream.MINER_WORK,
        "stream × weighted // total_weighted; weighted = work × multiplier // 1e9 if eligible; work = Σ units × quality_ppb over in-consensus tasks",
    )


def process_validator_rewards(state: State) -> None:
    """The validators stream, by agreement-weighted on-time validations."""

    def settle(column: Column, node: Callable[[ValidationRow], int], reputation: npt.NDArray[np.int64], budget: int) -> WorkRewards:
        return compute_validator_rewards(
            node_index=column(node),
            agreement_ppb=column(lambda r: r.agreement_ppb),
            on_time=column(lambda r: r.on_time, bool),
            reputation_ppb=reputation,
            stream_amount=budget,
            params=_work_params(state),
        )

    _work_stream(
        state,
        EmissionStream.VALIDATORS,
        state.epoch_validations,
        "no validations this epoch",
        settle,
        lambda r: r.on_time,
        Stream.VALIDATOR_WORK,
        "stream × weighted // total_weighted; weighted = Σ agreement_ppb over on-time validations × multiplier // 1e9 if eligible",
    )


def process_staking_apr(state: State) -> None:
    """Staking APR from pool:staking, pro rata to stake × time, under the budget guard."""
    p = state.params
    apr = target_apr_bps(state, state.epoch)
    slashed = {s.node for s in state.slashes if s.epoch == state.epoch}
    denominator = BPS * p.epochs_per_year * p.epoch_length_ticks
    due: dict[str, int] = {}
    stake_ticks_total = 0
    excluded: dict[str, str] = {}
    for node_id in sorted(state.nodes):
        node = state.nodes[node_id]
        accrue_stake_ticks(state, node)
        stake_ticks_total += node.stake_ticks
        if node_id in slashed or node.jailed:
            excluded[node_id] = "slashed this epoch" if node_id in slashed else "jailed"
        elif node.stake_ticks:
            due[node_id] = node.stake_ticks * apr // denominator
    due_total = sum(due.values())
    budget = state.ledger.balance(STAKING_POOL) * p.max_epoch_drain_bps // BPS
    binding = due_total > budget
    paid_total = 0
    for node_id, d in due.items():
        pay = d * budget // due_total if binding else d
        if pay:
            node = state.nodes[node_id]
            credit_node_reward(
                state,
                node_id,
                STAKING_POOL,
                pay,
                Stream.STAKING_APR,
                {
                    "formula": "stake_ticks × target_apr_bps // (10000 × epochs_per_year × epoch_length_ticks)"
                    + (" × budget // Σ due" if binding else ""),
                    "inputs": {"stake_ticks": node.stake_ticks, "target_apr_bps": apr, "due": d, "due_total": due_total, "budget": budget},
                    "params": {
                        "epochs_per_year": p.epochs_per_year,
                        "epoch_length_ticks": p.epoch_length_ticks,
                        "max_epoch_drain_bps": p.max_epoch_drain_bps,
                    },
                },
            )
            paid_total += pay
            settle_node_rewards(state, node_id, line(Stream.STAKING_APR, LinePart.STAKE))
    for node_id, why in excluded.items():
        state.earnings.append(EarningItem(node_id, line(Stream.STAKING_APR, LinePart.NONE), 0, {"why": why}))
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
    )
    state.touched.update(state.nodes)


def process_marketplace_rewards(state: State) -> None:
    """The marketplace stream, by each model's useful usage (units × quality in consensus this epoch).

    A model's share goes to its owner; for a fine-tune, ``parent_royalty_bps`` of it goes to the
    parent model's owner. Floors stay in the pool.
    """
    budget = state.epoch_streams.budget(EmissionStream.MARKETPLACE)
    usage: dict[str, int] = {}
    for r in state.epoch_work:
        if r.in_consensus and r.model in state.models:
            usage[r.model] = usage.get(r.model, 0) + r.complexity_units * r.quality_ppb
    total = sum(usage.values())
    if not total or not budget:
        state.epoch_streams.record(EmissionStream.MARKETPLACE, budget, 0, 0, "no useful usage this epoch" if not total else None)
        return
    paid = 0
    p = state.params
    for model_id in sorted(usage):
        share = budget * usage[model_id] // total
        model = state.models[model_id]
        parts = [(model.owner, share, "owner")]
        if model.parent and model.parent in state.models:
            to_parent = share * p.parent_royalty_bps // BPS
            parts = [(model.owner, share - to_parent, "owner"), (state.models[model.parent].owner, to_parent, "parent_owner")]
        for who, amount, role in parts:
            if amount:
                state.ledger.transfer(NETWORK_INCENTIVES_POOL, acct.claimable(who), amount, Stream.MARKETPLACE)
                state.earnings.append(
                    EarningItem(
                        who,
                        Stream.MARKETPLACE,
                        amount,
                        {
                            "formula": "stream × usage // total_usage (parent_royalty_bps of a fine-tune's share to its parent)",
                            "inputs": {
                                "model": model_id,
                                "role": role,
                                "usage": usage[model_id],
                                "total_usage": total,
                                "stream": budget,
                                "parent_royalty_bps": p.parent_royalty_bps,
                            },
                        },
                        True,
                    )
                )
                paid += amount
    state.epoch_streams.record(EmissionStream.MARKETPLACE, budget, paid, len(usage))
