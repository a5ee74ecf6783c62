"""Network rewards at epoch close: emission, streams, work and validator rewards, staking APR (docs/design.md §6).

Emission (from ``pool:network_incentives``)
    emission_e = min(pool, emission_per_epoch_units × emission_decay_ppb^e // 10**(9e))
    (exponential decay; with the defaults 50 000 COR in epoch 0, −0.1 % per epoch). It is split by
    ``emission_split_bps`` into streams: miners, validators, marketplace, community, governance;
    the split's rounding stays in the pool. A stream pays only what its earners earn: a stream with
    no eligible earner, and every rounding floor, stays in ``pool:network_incentives``.

Miner and validator streams (``work_rewards``, then ``work_pay``)
    The epoch's assignment rows (one per miner per settled or failed task; one per assigned
    validator) go through ``compute_work_rewards`` (numpy, exact): eligibility gates over all rows,
    work × bounded reputation multiplier over the rows of *network* tasks. ``work_pay.settle_stream``
    turns that into claims at a governed rate (``network_work_rate_units`` per work unit,
    ``network_validation_rate_units`` per agreement-weighted validation), adds the miners' bounded
    bonus on user tasks (at most ``user_task_bonus_fee_bps`` of their fee, at most the network
    rate's worth), and pays the claims in full, or pro rata when they exceed the stream's budget.
    What is not earned stays in the pool. A node's reward is credited to its stakers: commission to
    the operator, the rest to its positions by stake × ticks, the floors to a ``<stream>:dust`` line
    (docs/rewards.md, *Stakers' rewards*; every input is published for ``cor audit``).

Marketplace stream
    Split among models by their useful usage in *network* tasks (units × quality in consensus): user
    tasks pay their models' owners a royalty from the fee, and usage anyone can buy for themselves
    earns no emission. From rule version 31 a model earns ``marketplace_usage_rate_units`` per unit of
    usage, pro rata only when the claims exceed the stream's budget (what is not earned stays in the pool);
    rule versions 1-30 split the whole stream by usage, so one task took it all.
    Before the validators stream, every row of a validator that failed more than
    ``canary_failures_max`` canaries this epoch counts at agreement 0 (``canary_forfeits``).


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

from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from . import ledger as acct
from .epoch_columns import ValidationColumns
from .epoch_document import GATE_INPUTS, NODE_INPUTS, NODE_PAY_INPUTS, apr_statement, bonus_columns, line_formulas
from .epoch_rows import (
    NO_CUT,
    RowColumns,
    escalation_paid,
    escalation_shared,
    first_seen,
    grouped_order,
    task_runs,
    tasks_by_node,
    validation_columns,
    work_columns,
)
from .errors import invariant
from .journal import Writes
from .ledger import NETWORK_INCENTIVES_POOL, STAKING_POOL
from .params import Params
from .records import EarningItem, Node, TaskKind, Unbonding, ValidationRow, WorkRow, new_earning
from .rules import (
    RULES_EPOCH_DOCUMENT,
    RULES_ESCALATION_FUNDED,
    RULES_ESCALATION_PAY,
    RULES_ESCALATION_PRICED,
    RULES_ESCALATION_SHARE,
    RULES_ESCALATION_UNBONDING,
    RULES_EXPOSED_STAKE,
    RULES_MARKETPLACE_RATE,
    RULES_SLIM_NODE_LINES,
    rules_since,
)
from .staking import NodePay, accrue_nodes, change_stake, stake_account
from .state import State
from .streams import NOT_DRAWN_MODELS, NOT_DRAWN_ROUTER, NOT_DRAWN_UNSELECTABLE, EmissionStream, EpochStreams, LinePart, StakingAccount, Stream, line
from .units import BPS, PPB
from .work_pay import BonusColumns, StreamPay, compute_network_claim, compute_reward_from_claim, settle_stream
from .work_rewards import WorkRewardParams, WorkRewards, compute_work_rewards

# (first month of the band, target APR in bps)
APR_SCHEDULE_BPS = ((0, 6_000), (6, 3_000), (9, 1_500), (12, 1_000))


def scheduled_emission(state: State, epoch: int) -> int:
    """The epoch's emission by the decay schedule: emission_per_epoch_units × emission_decay_ppb^epoch // 10**(9 × epoch)."""
    p = state.params
    scheduled: int = p.emission_per_epoch_units * p.emission_decay_ppb**epoch // PPB**epoch
    return scheduled


def emission_for_epoch(state: State, epoch: int) -> int:
    """The epoch's emission by the decay schedule, capped by the pool."""
    return min(scheduled_emission(state, epoch), state.ledger.balance(NETWORK_INCENTIVES_POOL))


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
    return WorkRewardParams.in_force(p)


def process_emission(state: State) -> None:
    """Budget each stream for the epoch (nothing moves yet)."""
    p = state.params
    total = emission_for_epoch(state, state.epoch)
    parts, remainder = acct.split_by_bps(total, dict(p.emission_split_bps))
    inputs = {
        "epoch": state.epoch,
        "emission_per_epoch_units": p.emission_per_epoch_units,
        "emission_decay_ppb": p.emission_decay_ppb,
        "scheduled": scheduled_emission(state, state.epoch),
        "pool_balance": state.ledger.balance(NETWORK_INCENTIVES_POOL),
        "emission_split_bps": dict(p.emission_split_bps),
        "split_remainder": remainder,
    }
    state.epoch_streams = EpochStreams(emission=total, emission_inputs=inputs, budgets=parts)
    invariant(sum(parts.values()) <= total <= state.ledger.balance(NETWORK_INCENTIVES_POOL), "emission exceeds the pool")


def _pay_stream(
    state: State,
    stream: Stream,
    nodes: list[str],
    result: WorkRewards,
    pay: StreamPay,
    params_used: dict[str, Any],
    formula: str,
    tasks: Mapping[str, Sequence[int]] | None,
) -> dict[str, Any]:
    """Credit every node its reward and write its line; returns what the stream account adds (rule version 11 on:
    the formula, parameters and bonus rows the node lines cite, ``core/epoch_document.py``). ``tasks``: each node's
    in-consensus tasks for its line, None from ``RULES_SLIM_NODE_LINES`` (the lines carry none)."""
    writes = Writes()  # thousands of balances, stake counts and lines: journaled as a few entries
    payer = NodePay(state, writes)  # the step's lookups once, its postings through one ``Transfers``
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
    node_line, none_line = line(stream, LinePart.NODE), line(stream, LinePart.NONE)
    # each node's inputs (``WorkRewards.for_node``'s gates, then ``StreamPay.for_node_own``), read from the columns together
    own = zip(*(getattr(result, k) for k in GATE_INPUTS), *(getattr(pay, k) for k in NODE_PAY_INPUTS))
    credit, add, earnings = payer.credit, writes.append, state.earnings
    for i, node_id in enumerate(nodes):
        reward = pay.reward[i]
        if cited:
            inputs = dict(zip(NODE_INPUTS, next(own)))
            detail: dict[str, Any] = {"stream": stream, "inputs": inputs}
            if tasks is not None:
                detail["tasks"] = tasks.get(node_id, [])
            if rows_at[i][1]:
                detail["bonus_rows_at"] = list(rows_at[i])
        else:
            inputs = {k: v for k, v in result.for_node(i).items() if k in GATE_INPUTS} | pay.for_node(i)
            detail = {"stream": stream, "formula": formula, "inputs": inputs, "params": params_used, "tasks": (tasks or {}).get(node_id, [])}
        if reward:
            add(earnings, new_earning(node_id, node_line, 0, detail))
            credit(node_id, NETWORK_INCENTIVES_POOL, reward, stream, detail)
        else:
            why = {**detail, "why": inputs["reason"] or "no verified work"}
            add(earnings, new_earning(node_id, none_line, 0, why))
    payer.settle_all(nodes, line(stream, LinePart.STAKE))
    return account


def _gate_params(state: State) -> dict[str, Any]:
    p = state.params
    return {
        "min_precommit_rate_bps": p.min_precommit_rate_bps,
        "min_score_bps": p.min_score_bps,
        "reputation_multiplier_min_ppb": p.reputation_multiplier_min_ppb,
        "reputation_multiplier_max_ppb": p.reputation_multiplier_max_ppb,
    }


Row = TypeVar("Row", WorkRow, ValidationRow)


@dataclass(frozen=True)
class WorkStream(Generic[Row]):
    """How one work stream reads the epoch's rows (columns of ``compute_work_rewards``) and what it pays per unit."""

    key: EmissionStream
    line: Stream
    network: Callable[[Row], bool]  # a network task's row: its work earns at the rate (a user task's row may earn the bonus)
    units: Callable[[Row], int]
    quality: Callable[[Row], int]
    in_consensus: Callable[[Row], bool]
    precommitted: Callable[[Row], bool]
    rate_param: str  # the Params field of the rate
    bonus: Callable[[Row], int | None]  # a user row's fee share (its bonus cap's base), None: no bonus
    bonus_param: str | None  # the Params field of the bonus share (None: the stream pays no bonus)
    columns: Callable[[Any], RowColumns]  # the epoch's rows as columns: the values the accessors above give for each row
    empty_note: str
    formula: str
    shares_escalations: bool = False  # from RULES_ESCALATION_SHARE a task's escalation rows share what its first round left
    shared_formula: str = ""  # the formula from then on
    paid_formula: str = ""  # the formula from RULES_ESCALATION_PAY (the dissenters pay for an escalation)


def _work_stream(state: State, spec: WorkStream[Row], columns: RowColumns) -> None:
    """One work stream: gates and weights (``work_rewards``), claims at the rate and the budget (``work_pay``), paid and recorded.

    The rows are the epoch's columns (``epoch_rows``): no row is read as a record."""
    p = state.params
    budget = state.epoch_streams.budget(spec.key)
    present = [columns.names[i] for i in np.flatnonzero(columns.rows_per_name).tolist()]
    nodes = sorted(n for n in present if n in state.nodes)
    rate = getattr(p, spec.rate_param)
    bonus_bps = getattr(p, spec.bonus_param) if spec.bonus_param else 0
    if not nodes or budget == 0:
        state.epoch_streams.record(spec.key, budget, 0, 0, spec.empty_note if not nodes else None, {"rate_units": rate, "claims": 0})
        return
    index = {n: i for i, n in enumerate(nodes)}
    # each row's node as int32 (node counts are bounded far below 2**31: ``work_rewards.MAX_NODES``): half the bytes of
    # int64 per row, fresh pages of the close (7.1 M validation rows: 28 MB instead of 57); the counts, sums and
    # groupings below read it as it is
    node_index = np.array([index.get(n, -1) for n in columns.names], dtype=np.int32)[columns.node]
    # RULES_ESCALATION_SHARE: an escalated network task's later rows share what its first validators_per_task left (over all
    # its rows, before the rows of unregistered nodes leave: theirs stays unpaid, nobody else's grows)
    sharing = spec.shares_escalations and rules_since(p, RULES_ESCALATION_SHARE)
    runs = task_runs(columns.task) if sharing else None  # each task's rows (read again by ``first_seen``)
    paying = sharing and rules_since(p, RULES_ESCALATION_PAY)  # from 31 the dissenters pay for the escalation instead
    funding = paying and rules_since(p, RULES_ESCALATION_FUNDED)  # from 33 what the rows cannot pay comes from the bond
    reachable: dict[int, list[Unbonding]] = {}  # RULES_ESCALATION_UNBONDING: the debtors' entries, read with their bonds
    price = EscalationPrice.in_force(p, rate)  # what a validation unit of the bond's funding costs it (rule 35: at the max)
    if paying:

        def debtors_bonds(which: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:  # only the nodes that owe (escalation_paid)
            capacity, entries = bond_reach(state, columns.names, price, which)
            reachable.update(entries)
            return capacity

        cut = escalation_paid(columns, runs, debtors_bonds if funding else None)
    else:
        cut = escalation_shared(columns, p.validators_per_task, runs) if sharing else NO_CUT
    if len(nodes) < len(present):  # rows of a node no longer registered earn nothing
        keep = node_index >= 0
        columns, node_index, runs = columns.take(keep), node_index[keep], None
        kept = keep[cut.rows]
        cut = cut._replace(rows=(np.cumsum(keep) - 1)[cut.rows[kept]], cut_ppb=cut.cut_ppb[kept])
    result = compute_work_rewards(
        node_index=node_index,
        complexity_units=columns.network_units(),
        quality_ppb=columns.quality,
        in_consensus=columns.in_consensus,
        precommitted=columns.precommitted,
        reputation_ppb=np.array([state.nodes[n].reputation_ppb for n in nodes], dtype=np.int64),
        stream_amount=budget,
        params=_work_params(state),
        work_cut=(cut.rows, cut.cut_ppb) if cut.rows.size else None,
    )
    bonus_rows = BonusColumns([], [], [], [], [])
    if spec.bonus_param is not None and columns.fee is not None:  # a stream without a bonus (validators) has no bonus row to read
        user = np.flatnonzero(~columns.network & columns.in_consensus)  # user rows in consensus, in row order
        bonus_rows = BonusColumns(
            task=columns.task[user],
            node_index=node_index[user],
            units=columns.units[user],
            quality_ppb=columns.quality[user],
            fee_units=columns.fees(user),
        )
    pay = settle_stream(
        weighted=result.weighted,
        multiplier_ppb=result.multiplier_ppb,
        eligible=result.eligible,
        bonus_rows=bonus_rows,
        rate_units=rate,
        bonus_fee_bps=bonus_bps,
        budget=budget,
    )
    # each node line's tasks (rule versions 1-27); from RULES_SLIM_NODE_LINES a statement derives them (epoch_document.node_tasks)
    behind = None if rules_since(p, RULES_SLIM_NODE_LINES) else tasks_by_node(columns, node_index, nodes)
    params_used = {**_gate_params(state), spec.rate_param: rate, **({spec.bonus_param: bonus_bps} if spec.bonus_param else {})}
    if paying:  # how many network tasks had rows of a later round
        shared = {"escalated_tasks": cut.tasks}
    else:
        shared = {"shared_tasks": cut.tasks} if sharing else {}  # how many network tasks had rows past validators_per_task
    if sharing and not paying:
        params_used["validators_per_task"] = p.validators_per_task
    formula = spec.paid_formula if paying else spec.shared_formula if sharing else spec.formula
    cited = _pay_stream(state, spec.line, nodes, result, pay, params_used, formula, behind)
    closed_in_order = first_seen(columns.task, runs)  # the epoch's tasks behind the rows, in the order they closed
    state.epoch_streams.record(
        spec.key, budget, pay.paid, sum(1 for r in pay.reward if r), None, {**pay.account(), "tasks": closed_in_order, **shared, **cited}
    )
    if funding and cut.from_bond is not None:
        charge_unfunded(state, columns.names, cut.from_bond, price, reachable)


CAPACITY_MAX = 2**63 - 1
"""The most validation units (ppb) a bond counts (int64): at a rate of a few base units a bond counts past it. Capping it
changes nothing a node can fund (its debts, in the same units, are far below) and keeps the charge within the bond."""


@dataclass(frozen=True)
class EscalationPrice:
    """What one validation unit (ppb of a whole validation) of unfunded escalation debt costs a dissenter's bond: a whole
    validation is ``rate_units × multiplier_ppb / 10**9`` base units. Before ``RULES_ESCALATION_PRICED`` the multiplier is
    1.0 (10**9): ``network_validation_rate_units`` per validation, what an honest row is paid at multiplier 1.0; from it
    ``reputation_multiplier_max_ppb``, the most the validators stream pays any row it funds (the payees' own multipliers
    are computed after ``escalation_paid`` runs, so the bound), so the pool never pays part of a funded escalation.

        capacity(stake) = min(stake × 10**18 // (rate × multiplier), CAPACITY_MAX)     (0 when rate × multiplier = 0)
        charge(units)   = ceil(units × rate × multiplier / 10**18)

    At multiplier 10**9 these are exactly rules 33-34's ``stake × 10**9 // rate`` and ``ceil(units × rate / 10**9)``
    (both sides scaled by 10**9), so an old log replays to the same state.

    The charge never exceeds the stake the capacity was counted from: with P = rate × multiplier > 0 and
    C = capacity(stake) ≤ stake × 10**18 // P, C × P ≤ stake × 10**18; for any units ≤ C, units × P ≤ stake × 10**18, so
    units × P / 10**18 ≤ stake and its ceiling, an integer no smaller than it by less than 1, is ≤ stake (stake is an
    integer). ``escalation_paid`` takes at most the capacity from the bond (``from_bond ≤ bond_units``), so
    ``charge_unfunded``'s invariant (charge ≤ bond + Σ entries) holds (property test: tests/core/test_escalation_priced.py)."""

    rate_units: int
    multiplier_ppb: int = PPB
    priced: bool = False  # RULES_ESCALATION_PRICED: the line names the multiplier (before it, rule 33's detail as it was)

    @classmethod
    def in_force(cls, p: Params, rate_units: int) -> EscalationPrice:
        """The price under the rules of ``p``: from ``RULES_ESCALATION_PRICED`` at ``reputation_multiplier_max_ppb``, before at 1.0."""
        if rules_since(p, RULES_ESCALATION_PRICED):
            return cls(rate_units, p.reputation_multiplier_max_ppb, True)
        return cls(rate_units)

    @property
    def per_validation(self) -> int:
        """rate × multiplier: base units × 10**9 per whole validation."""
        return self.rate_units * self.multiplier_ppb

    def capacity(self, stake: int) -> int:
        """Validation units (ppb) ``stake`` base units pay for, rounded down (so ``charge`` stays within the stake)."""
        price = self.per_validation
        return min(stake * PPB * PPB // price, CAPACITY_MAX) if price > 0 else 0

    def charge(self, units: int) -> int:
        """Base units charged for ``units`` validation units, rounded up (the round-up, under one base unit, is the
        dissenter's: the pool never funds a fraction it was not paid)."""
        return -(-units * self.per_validation // (PPB * PPB))

    def detail(self) -> dict[str, Any]:
        """What an ``escalation_unfunded`` line says of the price: the rate, and from ``RULES_ESCALATION_PRICED`` the multiplier."""
        if not self.priced:
            return {"rate_units": self.rate_units, "formula": "ceil(validation_units_ppb × rate_units / 1e9)"}
        return {"rate_units": self.rate_units, "multiplier_ppb": self.multiplier_ppb, "formula": PRICED_FORMULA}


PRICED_FORMULA = "ceil(validation_units_ppb × rate_units × multiplier_ppb / 1e18); multiplier_ppb = reputation_multiplier_max_ppb"


def bond_capacity(state: State, names: Sequence[str], rate: int | EscalationPrice) -> npt.NDArray[np.int64]:
    """Each named node's self-bond in validation units (``RULES_ESCALATION_FUNDED``): ``EscalationPrice.capacity`` of it
    (bond × 10**9 // rate before ``RULES_ESCALATION_PRICED``; rounded down, so the charge never exceeds the bond; at most
    ``CAPACITY_MAX``); from ``RULES_ESCALATION_UNBONDING`` of the bond + its ``reachable_unbonding`` entries; 0 for a name no
    longer registered, or at price 0. ``rate``: the price, or a rate priced under the rules in force."""
    return bond_reach(state, names, rate, np.arange(len(names)))[0]


def bond_reach(
    state: State, names: Sequence[str], rate: int | EscalationPrice, which: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.int64], dict[int, list[Unbonding]]]:
    """``bond_capacity`` of the names at the indices ``which`` (0 elsewhere: the close reads only the bonds and entries of
    the nodes that owe, ``escalation_paid``), and from ``RULES_ESCALATION_UNBONDING`` each of those registered names' ``reachable_unbonding``
    entries by index (``charge_unfunded`` takes them from there instead of reading them again)."""
    price = rate if isinstance(rate, EscalationPrice) else EscalationPrice.in_force(state.params, rate)
    capacity = np.zeros(len(names), dtype=np.int64)
    entries: dict[int, list[Unbonding]] = {}
    if price.per_validation <= 0:
        return capacity, entries
    reach = rules_since(state.params, RULES_ESCALATION_UNBONDING)  # from 34 its entries of the epoch count after the bond
    for i in which.tolist():
        n = names[i]
        if n not in state.nodes:
            continue
        bond = state.ledger.balance(stake_account(n, n))
        if reach:
            entries[i] = reachable_unbonding(state, n)
            bond += sum(u.amount for u in entries[i])
        capacity[i] = price.capacity(bond)
    return capacity, entries


def reachable_unbonding(state: State, node_id: str) -> list[Unbonding]:
    """``RULES_ESCALATION_UNBONDING``: the operator's own unbonding entries from its node that started in the epoch being
    closed (``start_tick >= epoch_start_tick``) and still hold something, by id (oldest first): the stake an escalation
    charge reaches after the self-bond."""
    start = state.epoch_start_tick
    return [u for u in state.unbondings_from(node_id) if u.address == node_id and u.start_tick >= start and u.amount > 0]


def unfunded_charge(units: int, rate: int | EscalationPrice) -> int:
    """Base units charged for ``units`` validation units of unfunded escalation debt: ``EscalationPrice.charge``; a bare
    rate is rules 33-34's price, ceil(units × rate / 10**9) (the round-up, under one base unit, is the dissenter's: the
    pool never funds a fraction it was not paid)."""
    return (rate if isinstance(rate, EscalationPrice) else EscalationPrice(rate)).charge(units)


def charge_unfunded(
    state: State, names: Sequence[str], from_bond: npt.NDArray[np.int64], price: EscalationPrice, reachable: Mapping[int, list[Unbonding]]
) -> None:
    """Move each node's unfunded escalation charge from its self-bond to pool:network_incentives, line ``escalation_unfunded``;
    from ``RULES_ESCALATION_UNBONDING`` what the bond cannot pay from its ``reachable_unbonding`` entries, oldest first (the
    line names each piece: ``from_bond_units``, ``from_unbonding``). ``reachable``: those entries by name index as
    ``bond_reach`` read them in the same step (nothing between moves an unbonding entry). ``price``: the one ``bond_reach``
    counted the capacity with (so the charge is within the bond and entries: ``EscalationPrice``)."""
    reach = rules_since(state.params, RULES_ESCALATION_UNBONDING)
    for i in np.flatnonzero(from_bond).tolist():
        node_id, units = names[i], int(from_bond[i])
        amount = price.charge(units)
        position = stake_account(node_id, node_id)
        bond = state.ledger.balance(position)
        entries = reachable[i] if reach else []
        invariant(0 < amount <= bond + sum(u.amount for u in entries), f"escalation charge of {node_id}: {amount} beyond its reach")
        taken = min(amount, bond)
        if taken:
            change_stake(state, node_id, node_id, position, NETWORK_INCENTIVES_POOL, taken, "escalation_unfunded")
        pieces: list[dict[str, int]] = []
        for u in entries:
            if taken == amount:
                break
            piece = min(amount - taken, u.amount)
            state.ledger.transfer(acct.unbonding(node_id), NETWORK_INCENTIVES_POOL, piece, "escalation_unfunded")
            u.amount -= piece
            taken += piece
            pieces.append({"unbonding_id": u.id, "unbonding_start_tick": u.start_tick, "amount_units": piece})
        invariant(taken == amount, f"escalation charge of {node_id}: {taken} taken of {amount}")
        detail: dict[str, Any] = {"validation_units_ppb": units, **price.detail(), "from": position}
        if reach:  # the bond's part and each unbonding entry's piece (rule 34)
            detail |= {"from_bond_units": min(amount, bond), "from_unbonding": pieces}
        state.earnings.append(EarningItem(node_id, Stream.ESCALATION_UNFUNDED, -amount, detail))


MINER_STREAM: WorkStream[WorkRow] = WorkStream(
    EmissionStream.MINERS,
    Stream.MINER_WORK,
    network=lambda r: r.kind == TaskKind.NETWORK,
    units=lambda r: r.complexity_units,
    quality=lambda r: r.quality_ppb,
    in_consensus=lambda r: r.in_consensus,
    precommitted=lambda r: r.precommitted,
    rate_param="network_work_rate_units",
    bonus=lambda r: r.fee_units,
    bonus_param="user_task_bonus_fee_bps",
    columns=work_columns,
    empty_note="no miner work this epoch",
    formula="claim = weighted × network_work_rate_units // 1e9 + Σ bonus over user tasks; bonus = min(units × quality_ppb × multiplier // 1e9 "
    "× rate // 1e9, fee × user_task_bonus_fee_bps // 10000); reward = claim, or budget × claim // claims when the claims exceed the "
    "budget; weighted = Σ units × quality_ppb over in-consensus network tasks × multiplier // 1e9 if eligible",
)

VALIDATOR_STREAM: WorkStream[ValidationRow] = WorkStream(
    EmissionStream.VALIDATORS,
    Stream.VALIDATOR_WORK,
    network=lambda r: r.kind == TaskKind.NETWORK,
    units=lambda r: 1,
    quality=lambda r: r.agreement_ppb,
    in_consensus=lambda r: r.on_time,
    precommitted=lambda r: r.on_time,
    rate_param="network_validation_rate_units",
    bonus=lambda r: None,
    bonus_param=None,
    columns=validation_columns,
    empty_note="no validations this epoch",
    formula="claim = weighted × network_validation_rate_units // 1e9; reward = claim, or budget × claim // claims when the claims exceed "
    "the budget; weighted = Σ agreement_ppb over on-time validations of network tasks × multiplier // 1e9 if eligible",
    shares_escalations=True,
    shared_formula="claim = weighted × network_validation_rate_units // 1e9; reward = claim, or budget × claim // claims when the claims "
    "exceed the budget; weighted = Σ counted over on-time validations of network tasks × multiplier // 1e9 if eligible; counted = "
    "agreement_ppb for a task's first validators_per_task validators (draw order), min(agreement_ppb, left // L) for the later ones; "
    "left = validators_per_task × 1e9 − Σ agreement_ppb of the first on time; L = the later ones on time",
    paid_formula="claim = weighted × network_validation_rate_units // 1e9; reward = claim, or budget × claim // claims when the claims "
    "exceed the budget; weighted = (Σ counted over on-time validations of network tasks − charge) × multiplier // 1e9 if eligible; "
    "on an escalated network task: counted = 0 for a validator whose report made it escalate (a dissenter), agreement_ppb for the "
    "first round's others, agreement_ppb × min(1, (left + funded) / Σ) for the later rounds' others; left = F × 1e9 − Σ agreement_ppb "
    "of the first round's others on time (F = its round-0 validators); Σ = Σ agreement_ppb of the later rounds' others on time; "
    "each dissenter owes (Σ − left) // D (D dissenters) and pays it from its other counted validations of the epoch as far as "
    "they reach (funded = what its dissenters paid; charge = what this validator paid)",
)


def process_miner_rewards(state: State) -> None:
    """The miners stream: network work at the rate, a bounded bonus on user tasks, under the budget."""
    _work_stream(state, MINER_STREAM, MINER_STREAM.columns(state.epoch_work))


def canary_forfeits(state: State, rows: ValidationColumns) -> RowColumns:
    """The epoch's validation rows as columns, with every row of a validator that failed more than ``canary_failures_max``
    canaries counted at agreement 0 (it earns nothing from the validators stream this epoch); a
    ``canary_forfeit`` statement line names the canaries it failed."""
    columns = VALIDATOR_STREAM.columns(rows)
    failed_rows = np.flatnonzero(rows.canary())
    if failed_rows.size == 0:  # the usual epoch: no row to look at
        return columns
    names = len(columns.names)
    failed_node = columns.node[failed_rows]  # each failed canary's validator (an index of ``columns.names``), in row order
    failures = np.bincount(failed_node, minlength=names)
    cap = state.params.canary_failures_max
    out = np.flatnonzero(failures > cap).tolist()  # the validators that forfeit
    if not out:
        return columns
    order = grouped_order(failed_node, names)  # each validator's failed canaries together, in row order
    failed_tasks = columns.task[failed_rows][order]
    ends = np.cumsum(failures)
    rows_of = columns.rows_per_name  # (counted once: the stream reads it again)
    for i in sorted(out, key=columns.names.__getitem__):
        state.earnings.append(
            EarningItem(
                columns.names[i],
                Stream.CANARY_FORFEIT,
                0,
                {
                    "failed_canaries": failed_tasks[int(ends[i] - failures[i]) : int(ends[i])].tolist(),
                    "canary_failures_max": cap,
                    "validations_forfeited": int(rows_of[i]),
                },
            )
        )
    np.putmask(columns.quality, rows_of_nodes(columns.node, out, names), 0)  # in place: the columns were made just above
    return columns


def rows_of_nodes(node: npt.NDArray[np.integer[Any]], chosen: list[int], names: int) -> npt.NDArray[np.bool_]:
    """Whether each row's node (an index below ``names``) is one of ``chosen``: one look-up per row in a flag per node
    (``np.isin`` against a short list compares every row with each listed node: 60 validators, 6.9 M rows ~0.15 s)."""
    flag = np.zeros(names, dtype=bool)
    flag[chosen] = True
    picked: npt.NDArray[np.bool_] = flag[node]
    return picked


def process_validator_rewards(state: State) -> None:
    """The validators stream: on-time, agreement-weighted validations of network tasks at the rate, under the budget
    (after the canary forfeits)."""
    _work_stream(state, VALIDATOR_STREAM, canary_forfeits(state, state.epoch_validations))


def apr_due(stake_ticks: int, idle_stake_ticks: int, target_apr_bps: int, denominator: int) -> int:
    """A node's staking APR due (docs/rewards.md, *Staking APR*): from rule version 14 on its stake × ticks while
    selectable, ``(stake_ticks − idle_stake_ticks) × target_apr_bps // (10000 × epochs_per_year × epoch_length_ticks)``
    (``denominator``); before it ``idle_stake_ticks`` is 0."""
    return (stake_ticks - idle_stake_ticks) * target_apr_bps // denominator


def apr_dues(state: State, apr: int, denominator: int, writes: Writes) -> tuple[dict[str, int], dict[str, str], int, dict[str, dict[str, int]]]:
    """Each node's staking APR due at the close (every node's stake × ticks counted up to now first), why each node left
    out earned none, Σ stake × ticks, and each node's entry in the staking account (``apr_node``, in node order: what
    it reads, the node's counts, stake and commission, the step's payments leave as they are): a node slashed this
    epoch or jailed earns none; from rule version 14 (``RULES_EXPOSED_STAKE``) neither does a router (never drawn) nor
    a miner none of whose models has a task settled this epoch, and only the stake × ticks while the node was
    selectable count (``apr_due``)."""
    slashed = {s.node for s in state.slashes if s.epoch == state.epoch}
    exposed = rules_since(state.params, RULES_EXPOSED_STAKE)
    worked = set(state.epoch_work.models.names) if exposed else set()  # the models with a task settled this epoch
    due: dict[str, int] = {}
    excluded: dict[str, str] = {}
    stake_ticks_total = 0
    entries: dict[str, dict[str, int]] = {}
    order = sorted(state.nodes)
    accrue_nodes(state, [state.nodes[node_id] for node_id in order], writes, positions=False)
    for node_id in order:
        node = state.nodes[node_id]
        entries[node_id] = apr_node(node, exposed)
        stake_ticks_total += node.stake_ticks
        if node_id in slashed or node.jailed:
            excluded[node_id] = "slashed this epoch" if node_id in slashed else "jailed"
        elif not node.stake_ticks:
            pass
        elif not exposed:  # rule versions 1-13: on every stake × tick
            due[node_id] = apr_due(node.stake_ticks, 0, apr, denominator)
        elif node.role == "router":
            excluded[node_id] = NOT_DRAWN_ROUTER
        elif node.role == "miner" and worked.isdisjoint(node.models):
            excluded[node_id] = NOT_DRAWN_MODELS
        elif node.idle_stake_ticks >= node.stake_ticks:
            excluded[node_id] = NOT_DRAWN_UNSELECTABLE
        else:
            due[node_id] = apr_due(node.stake_ticks, node.idle_stake_ticks, apr, denominator)
    return due, excluded, stake_ticks_total, entries


def apr_node(node: Node, exposed: bool) -> dict[str, int]:
    """A node's entry in the staking account: its stake × ticks, stake at the close and commission in force; from rule
    version 14 also its idle stake × ticks."""
    out = {"stake_ticks": node.stake_ticks, "stake": node.stake_total, "commission_bps": node.commission_bps}
    if exposed:
        out["idle_stake_ticks"] = node.idle_stake_ticks
    return out


def process_staking_apr(state: State) -> None:
    """Staking APR from pool:staking, pro rata to stake × time, under the budget guard."""
    p = state.params
    apr = target_apr_bps(state, state.epoch)
    denominator = BPS * p.epochs_per_year * p.epoch_length_ticks
    writes = Writes()  # every node's stake counts, balances and lines: journaled as a few entries
    payer = NodePay(state, writes)  # the step's lookups once, its postings through one ``Transfers``
    cited = rules_since(p, RULES_EPOCH_DOCUMENT)  # the formula and parameters once, in the staking account
    exposed = rules_since(p, RULES_EXPOSED_STAKE)
    due, excluded, stake_ticks_total, entries = apr_dues(state, apr, denominator, writes)
    due_total = sum(due.values())
    pool_balance = state.ledger.balance(STAKING_POOL)  # before this step pays anything
    budget = pool_balance * p.max_epoch_drain_bps // BPS
    binding = due_total > budget
    pays = {node_id: d * budget // due_total if binding else d for node_id, d in due.items()}
    paid_total = sum(pays.values())

    def paid() -> Iterator[tuple[str, int, dict[str, Any]]]:
        """Each paid node, its reward and its line's detail, in node order (made as it is paid)."""
        nodes = state.nodes
        for node_id, pay in pays.items():
            if pay:
                node, d = nodes[node_id], due[node_id]
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
                yield node_id, pay, detail

    # each node's line, credit and stakers' settlement, node after node
    payer.credit_all(STAKING_POOL, Stream.STAKING_APR, paid(), line(Stream.STAKING_APR, LinePart.NODE), line(Stream.STAKING_APR, LinePart.STAKE))
    none_line, earnings = line(Stream.STAKING_APR, LinePart.NONE), state.earnings
    for node_id, why in excluded.items():
        writes.append(earnings, new_earning(node_id, none_line, 0, {"why": why}))
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
        nodes=entries,
    )
    state.touched.update(state.nodes)


def model_usage_by_row(
    model_index: npt.NDArray[np.int64], units: npt.NDArray[np.int64], quality: npt.NDArray[np.int64], names: Sequence[str], known: Container[str]
) -> dict[str, int]:
    """Σ units × quality per model over the rows, in Python integers row by row (the reference of ``model_usage``):
    a model with a row is keyed (its usage may be 0); a model not ``known`` is left out."""
    usage: dict[str, int] = {}
    for m, u, q in zip(model_index.tolist(), units.tolist(), quality.tolist(), strict=True):
        model = names[m]
        if model in known:
            usage[model] = usage.get(model, 0) + u * q
    return usage


def model_usage(
    model_index: npt.NDArray[np.int64], units: npt.NDArray[np.int64], quality: npt.NDArray[np.int64], names: Sequence[str], known: Container[str]
) -> dict[str, int]:
    """``model_usage_by_row``, the same keys and sums (in model index order, not first-row order: the callers read it
    by key, sorted and as a total), by int64 group sums when a bound proves them exact: every value non-negative,
    max(units) × max(quality) < 2**63 (each product exact) and fewer than 2**31 rows; each product is split as
    hi × 2**32 + lo (hi < 2**31, lo < 2**32), so Σ hi < 2**31 × 2**31 and Σ lo < 2**31 × 2**32 stay in int64, and
    a model's usage is Σ hi × 2**32 + Σ lo in Python integers. Otherwise row by row."""
    n = units.size
    if n == 0 or n >= 2**31 or min(int(units.min()), int(quality.min())) < 0 or int(units.max()) * int(quality.max()) >= 2**63:
        return model_usage_by_row(model_index, units, quality, names, known)
    product = units * quality
    count = np.bincount(model_index, minlength=len(names))
    hi = np.zeros(count.size, dtype=np.int64)
    lo = np.zeros(count.size, dtype=np.int64)
    np.add.at(hi, model_index, product >> 32)
    np.add.at(lo, model_index, product & 0xFFFFFFFF)
    present = np.flatnonzero(count).tolist()
    return {names[m]: h * 2**32 + low for m, h, low in zip(present, hi[present].tolist(), lo[present].tolist(), strict=True) if names[m] in known}


MARKETPLACE_FORMULA = "stream × usage // total_usage (parent_royalty_bps of a fine-tune's share to its parent)"  # rule versions 1-30
MARKETPLACE_RATE_FORMULA = (
    "claim = usage × marketplace_usage_rate_units // 1e9; share = claim, or stream × claim // claims when the claims exceed "
    "the stream's budget; parent_royalty_bps of a fine-tune's share to its parent; usage = Σ units × quality_ppb over the "
    "model's in-consensus rows of network tasks"
)


def marketplace_shares(usage: Mapping[str, int], budget: int, rate_units: int | None) -> tuple[dict[str, int], dict[str, int], int]:
    """Each model's share of the marketplace stream, its claim and the sum of the claims (docs/rewards.md, *Marketplace stream*).

    ``rate_units`` None (rule versions 1-30): the whole stream by usage, ``budget × usage // Σ usage`` (a claim is the
    usage itself). From ``RULES_MARKETPLACE_RATE``: claim = usage × rate_units // 1e9 (usage is in units × 10**9, as a
    work stream's weighted work: ``work_pay.compute_network_claim``), paid in full, or ``budget × claim // claims``
    when the claims exceed the budget (``work_pay.compute_reward_from_claim``); what is not paid stays in the pool."""
    if rate_units is None:
        total = sum(usage.values())
        return {m: budget * u // total for m, u in usage.items()}, dict(usage), total
    claim = {m: compute_network_claim(u, rate_units) for m, u in usage.items()}
    claims = sum(claim.values())
    return {m: compute_reward_from_claim(c, claims, budget) for m, c in claim.items()}, claim, claims


def process_marketplace_rewards(state: State) -> None:
    """The marketplace stream, by each model's useful usage in network tasks (units × quality in consensus this epoch).

    A model's share goes to its owner; for a fine-tune, ``parent_royalty_bps`` of it goes to the
    parent model's owner. Floors stay in the pool. Rule versions 1-30: the whole stream by usage; from
    ``RULES_MARKETPLACE_RATE`` at ``marketplace_usage_rate_units`` per unit of usage, pro rata only when the claims
    exceed the budget, the rest staying in ``pool:network_incentives`` (``marketplace_shares``).
    """
    budget = state.epoch_streams.budget(EmissionStream.MARKETPLACE)
    rows = state.epoch_work
    p = state.params
    rated = rules_since(p, RULES_MARKETPLACE_RATE)
    rate = p.marketplace_usage_rate_units if rated else None
    useful = np.flatnonzero(rows.consensus() & rows.network())  # in-consensus rows of network tasks, in row order
    usage = model_usage(rows.model_index(useful), rows.units(useful), rows.quality(useful), rows.models.names, state.models)
    total = sum(usage.values())
    if not total or not budget:
        note = "no useful usage in network tasks this epoch" if not total else None
        state.epoch_streams.record(EmissionStream.MARKETPLACE, budget, 0, 0, note, {"rate_units": rate, "claims": 0} if rated else None)
        return
    shares, claim, claims = marketplace_shares(usage, budget, rate)
    paid = 0
    for model_id in sorted(usage):
        share = shares[model_id]
        model = state.models[model_id]
        parts = [(model.owner, share, "owner")]
        if model.parent:  # (its parent is live: a fine-tune names a listed parent at its register; rule 25 refuses the
            # parent's retire while it has live fine-tunes, rule 26 keeps a retired parent live until they leave; before 25
            # no model leaves: core/models.py, core/prune.py retire_models)
            invariant(model.parent in state.models, f"fine-tune {model.id!r} is live but its parent {model.parent!r} is not")
            to_parent = share * p.parent_royalty_bps // BPS
            parts = [(model.owner, share - to_parent, "owner"), (state.models[model.parent].owner, to_parent, "parent_owner")]
        for who, amount, role in parts:
            if amount:
                state.ledger.transfer(NETWORK_INCENTIVES_POOL, acct.claimable(who), amount, Stream.MARKETPLACE)
                inputs: dict[str, Any] = {
                    "model": model_id,
                    "role": role,
                    "usage": usage[model_id],
                    "total_usage": total,
                    "stream": budget,
                    "parent_royalty_bps": p.parent_royalty_bps,
                }
                if rated:
                    inputs |= {"marketplace_usage_rate_units": rate, "claim": claim[model_id], "claims": claims, "share": share}
                state.earnings.append(
                    EarningItem(
                        who,
                        Stream.MARKETPLACE,
                        amount,
                        {"formula": MARKETPLACE_RATE_FORMULA if rated else MARKETPLACE_FORMULA, "inputs": inputs},
                        True,
                    )
                )
                paid += amount
    account = {"rate_units": rate, "claims": claims, "budget_binding": claims > budget} if rated else None
    state.epoch_streams.record(EmissionStream.MARKETPLACE, budget, paid, len(usage), None, account)
