"""The epoch document: each input stated once (rule version 11 on, ``RULES_EPOCH_DOCUMENT``; docs/rewards.md, *Auditing*).

Concepts
--------
Before rule version 11 every node's ``<stream>:node`` line carried its stream's formula text, the
parameters, the stream-wide inputs (rate, claims, budget, ...) and one dict per user-task bonus row,
and its ``<stream>:commission`` line repeated all of it. At 100 k tasks × 10 k nodes that was 77 of
the document's 113 MB. From rule version 11 the same facts are written once:

``streams.<stream>`` (a work stream's account)
    ``formula`` and ``params`` (once per stream), the stream-wide inputs (``rate_units``,
    ``bonus_fee_bps``, ``claims``, ``budget``, ``budget_binding``, ``total_weighted``),
    ``line_formulas`` (of its commission, stake and dust lines) and ``bonus_rows``: the inputs of the
    user-task bonus rows as columns (``BONUS_COLUMNS``), grouped by node in the order of the node
    lines, each node's rows in the order its tasks closed.
``<stream>:node`` / ``<stream>:none``
    the node's own inputs (``NODE_INPUTS``), its ``tasks``, and ``bonus_rows_at``: ``[first, count]``,
    its rows in the stream's columns (left out when it has none).
``<stream>:commission``
    the commission's own inputs and ``node_line``: the name of the node line of the same address it
    was computed from (its ``node_reward`` is that line's ``reward``).
``<stream>:stake`` / ``<stream>:dust``
    their inputs, without the formula (in ``line_formulas``).
``staking``
    ``formula``, ``params`` and ``line_formulas`` of the APR, once; a ``staking_apr:node`` line keeps
    its own inputs (``stake_ticks``, ``due``, ``reward``).

``expand_detail`` gives a line of either format back in the old shape (what a per-address statement
shows: the formula, parameters and bonus rows next to the line), so readers of one address's lines
see the same facts under every rule version.

From rule version 28 (``RULES_SLIM_NODE_LINES``) a work node or none line carries no ``tasks``: the
node's tasks whose row is in consensus follow from the stream account's ``tasks`` (the order they
closed) and the tasks' records (``node_tasks``); a statement writes them back (``expand_detail``'s
``node_tasks``), so a node still reads which tasks its line counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .params import Params
from .records import EarningItem, Task, TaskState
from .rules import RULES_EPOCH_DOCUMENT, RULES_EXPOSED_STAKE, RULES_STAKE_TICKS_COMMISSION, rules_since
from .streams import EmissionStream, LinePart, Stream, line
from .work_pay import Bonus, StreamPay, compute_bonus_cap, compute_bonus_equivalent

BONUS_COLUMNS = ("task", "units", "quality_ppb", "fee_units")
"""The columns of ``streams.<stream>.bonus_rows``: a bonus row's inputs, one value per user-task row (its ``equivalent``,
``cap`` and ``bonus`` follow from them, the node's multiplier and the stream's rate and bonus share: *The user-task bonus*)."""

GATE_INPUTS = ("assignments", "precommit_rate_bps", "score_bps", "eligible", "reason", "work", "multiplier_ppb", "weighted")
"""A node's inputs from ``work_rewards`` (its gates and weighted work), on its node line under every rule version."""

NODE_PAY_INPUTS = ("network_claim", "bonus", "claim", "reward")
"""A node's own results from ``work_pay``, on its node line from rule version 11."""

NODE_INPUTS = GATE_INPUTS + NODE_PAY_INPUTS

STREAM_INPUTS = ("rate_units", "bonus_fee_bps", "claims", "budget", "budget_binding")
"""Stream-wide inputs a node line carried before rule version 11 (from 11: in the stream account only)."""

WORK_ACCOUNTS: Mapping[str, str] = {Stream.MINER_WORK: EmissionStream.MINERS, Stream.VALIDATOR_WORK: EmissionStream.VALIDATORS}
"""A work line's stream name -> its account in ``EpochRecord.streams``."""

APR_FORMULA = "stake_ticks × target_apr_bps // (10000 × epochs_per_year × epoch_length_ticks)"
EXPOSED_APR_FORMULA = "(stake_ticks − idle_stake_ticks) × target_apr_bps // (10000 × epochs_per_year × epoch_length_ticks)"
"""The APR's formula from rule version 14 (``RULES_EXPOSED_STAKE``: only stake × ticks while selectable earn it)."""


def apr_statement(p: Params, binding: bool) -> dict[str, Any]:
    """The APR's formula (with the budget guard's pro rata when it binds) and its parameters: on each ``staking_apr:node``
    line before rule version 11, once in ``staking`` from 11."""
    formula = EXPOSED_APR_FORMULA if rules_since(p, RULES_EXPOSED_STAKE) else APR_FORMULA
    return {
        "formula": formula + (" × budget // Σ due" if binding else ""),
        "params": {"epochs_per_year": p.epochs_per_year, "epoch_length_ticks": p.epoch_length_ticks, "max_epoch_drain_bps": p.max_epoch_drain_bps},
    }


COMMISSION_FORMULA = "node_reward × commission_bps // 10000 (all of it when the node has no stake)"
STAKE_FORMULA = "node_reward × stake_ticks // node_stake_ticks (your stake × ticks this epoch, of the node's)"
DUST_FORMULA = "node_reward − Σ node_reward × stake_ticks // node_stake_ticks (all of node_reward when node_stake_ticks = 0)"
LINE_FORMULAS: Mapping[str, str] = {LinePart.COMMISSION: COMMISSION_FORMULA, LinePart.STAKE: STAKE_FORMULA, LinePart.DUST: DUST_FORMULA}
"""The formulas of a node reward's commission, stake and dust lines: from rule version 11 once per stream
(``line_formulas`` in its account, ``streams.<stream>`` or ``staking``), not on each line."""
COMMISSION_TICKS_FORMULA = "node_reward × commission_bps // 10000 (all of it when node_stake_ticks = 0)"
"""The commission line's formula from ``RULES_STAKE_TICKS_COMMISSION`` (31): "no stake" is no stake × ticks this epoch."""


def line_formulas(p: Params) -> dict[str, str]:
    """``LINE_FORMULAS`` under the rules of ``p``: from rule 31 the commission's "no stake" is ``node_stake_ticks = 0``."""
    if rules_since(p, RULES_STAKE_TICKS_COMMISSION):
        return {**LINE_FORMULAS, LinePart.COMMISSION: COMMISSION_TICKS_FORMULA}
    return dict(LINE_FORMULAS)


CITING_STREAMS = frozenset({Stream.MINER_WORK, Stream.VALIDATOR_WORK, Stream.STAKING_APR})
"""The streams paid at the close whose lines cite their account (a ``stake_reward`` line, paid outside them, does not)."""


def cites_line_formulas(p: Params, stream: str) -> bool:
    """Whether a commission, stake or dust line of ``stream`` leaves its formula to its stream's account (rule 11 on)."""
    return rules_since(p, RULES_EPOCH_DOCUMENT) and stream.partition(":")[0] in CITING_STREAMS


def bonus_columns(pay: StreamPay) -> tuple[dict[str, Sequence[int]], list[tuple[int, int]]]:
    """The stream's bonus rows as columns (node after node, in node order) and each node's ``(first, count)``."""
    return {name: pay.bonus_table[name] for name in BONUS_COLUMNS}, list(pay.bonus_at)


def commission_detail(node_id: str, stream: str, commission_bps: int, node_reward: int, has_stake: bool) -> dict[str, Any]:
    """A commission line's detail from rule version 11: its own inputs, citing the node line it was computed from."""
    return {
        "node": node_id,
        "commission_bps": commission_bps,
        "node_reward": node_reward,
        "has_stake": has_stake,
        "node_line": line(stream, LinePart.NODE),
    }


def legacy_commission_detail(
    detail: Mapping[str, Any], node_id: str, commission_bps: int, node_reward: int, has_stake: bool, formula: str = COMMISSION_FORMULA
) -> dict[str, Any]:
    """A commission line's detail before rule version 11: the node line's detail repeated, then its own inputs."""
    return {
        **detail,
        "node": node_id,
        "commission_bps": commission_bps,
        "node_reward": node_reward,
        "has_stake": has_stake,
        "formula": formula,
        "node_reward_formula": detail.get("formula"),  # how node_reward itself was computed (the work or APR formula)
    }


# --- reading: a line in the old shape --------------------------------------------------------------


TaskReader = Callable[[int], Task]
"""A task's whole record by id (live, or the database's copy once it left the live state: ``app/archive.get_task``)."""


def node_tasks(streams: Mapping[str, Any], item: EarningItem, task: TaskReader) -> list[int]:
    """The tasks a work node or none line counted (what it listed in ``tasks`` before rule version 28): the tasks of its
    stream's account (``streams.<stream>.tasks``, in the order they closed) on which its node has a row in consensus, as
    the close wrote the rows (``tasks._record_work``): a miner's assignment in consensus and not planted, or the one paid
    planter of a settled canary (``RULES_PAID_PLANTER``); a validator's validation reported (on time). One id a row."""
    base = item.stream.rpartition(":")[0]
    account = streams.get(WORK_ACCOUNTS[base]) or {}
    node, out = item.address, []
    for tid in account.get("tasks") or ():
        t = task(int(tid))
        if base == Stream.VALIDATOR_WORK:
            out += [t.id for v in t.validators if v == node and v in t.reports]
            continue
        planted = [a for a in t.miners if a.planted]
        paid = planted[0] if t.canary == "planted" and t.state == TaskState.SETTLED and len(planted) == 1 else None
        out += [t.id for a in t.miners if a.miner == node and (a is paid or (a.in_consensus and not a.planted))]
    return out


def expand_detail(
    streams: Mapping[str, Any], staking: Mapping[str, Any], item: EarningItem, node_lines: Iterable[EarningItem], task: TaskReader | None = None
) -> dict[str, Any]:
    """``item``'s detail with what it cites written out (the shape of rule versions 1-10); a line that cites nothing
    is returned as it is. ``node_lines``: lines where a commission line's node line is found (the epoch's, or the
    address's own). ``task``: reads a task's record, for the ``tasks`` a work node line no longer carries (rule version
    28: ``node_tasks``); without it such a line is written out without them."""
    d = item.detail
    base, _, part = item.stream.rpartition(":")
    account = _account(streams, staking, base)
    if account is None or "formula" not in account or "formula" in d:
        return d
    if part == LinePart.COMMISSION and "node_line" in d:
        cited = next((x for x in node_lines if x.address == item.address and x.stream == d["node_line"]), None)
        node_detail = expand_detail(streams, staking, cited, (), task) if cited is not None else {}
        formula = account["line_formulas"][LinePart.COMMISSION]
        return legacy_commission_detail(node_detail, d["node"], d["commission_bps"], d["node_reward"], d["has_stake"], formula)
    if part in (LinePart.STAKE, LinePart.DUST):
        return {**d, "formula": account["line_formulas"][part]}
    if part not in (LinePart.NODE, LinePart.NONE) or "inputs" not in d:
        return d
    if base == Stream.STAKING_APR:
        inputs = d["inputs"]
        old_inputs = {
            "stake_ticks": inputs["stake_ticks"],
            "target_apr_bps": account["target_apr_bps"],
            "due": inputs["due"],
            "due_total": account["due"],
            "budget": account["budget"],
            "pool_balance": account["pool_balance"],
            "reward": inputs["reward"],
        }
        return {"formula": account["formula"], "inputs": old_inputs, "params": account["params"]}
    tasks = d["tasks"] if "tasks" in d else node_tasks(streams, item, task) if task is not None else None
    return _work_line(account, d, tasks)


def _account(streams: Mapping[str, Any], staking: Mapping[str, Any], base: str) -> Mapping[str, Any] | None:
    """The account a line of stream ``base`` cites: ``streams.<stream>`` of a work stream, ``staking`` of the APR."""
    if base == Stream.STAKING_APR:
        return staking
    name = WORK_ACCOUNTS.get(base)
    return streams.get(name) if name is not None else None


def _work_line(account: Mapping[str, Any], d: Mapping[str, Any], tasks: Sequence[int] | None = None) -> dict[str, Any]:
    inputs = d["inputs"]
    first, count = d.get("bonus_rows_at", (0, 0))
    columns = account.get("bonus_rows") or {}
    rate, bonus_bps, multiplier = account["rate_units"], account["bonus_fee_bps"], inputs["multiplier_ppb"]
    rows = []
    for i in range(first, first + count):
        task, units, quality, fee = (columns[name][i] for name in BONUS_COLUMNS)
        equivalent = compute_bonus_equivalent(units, quality, multiplier, rate)
        cap = compute_bonus_cap(fee, bonus_bps)
        rows.append(Bonus(task, units, quality, fee, equivalent, cap, min(equivalent, cap)).to_dict())
    old_inputs = {
        **{k: inputs[k] for k in GATE_INPUTS},
        "rate_units": rate,
        "network_claim": inputs["network_claim"],
        "bonus_fee_bps": bonus_bps,
        "bonus": inputs["bonus"],
        "bonus_rows": rows,
        "claim": inputs["claim"],
        "claims": account["claims"],
        "budget": account["budget"],
        "budget_binding": account["budget_binding"],
        "reward": inputs["reward"],
    }
    out = {"stream": d["stream"], "formula": account["formula"], "inputs": old_inputs, "params": account["params"]}
    if tasks is not None:
        out["tasks"] = tasks
    if "why" in d:
        out["why"] = d["why"]
    return out


def bonus_rows_of(streams: Mapping[str, Any], item: EarningItem) -> list[dict[str, Any]]:
    """The bonus rows a work node line's reward read, under either format (one dict per user-task row)."""
    d = item.detail
    if "bonus_rows_at" not in d:
        return list(d.get("inputs", {}).get("bonus_rows", []))
    return list(_work_line(streams[WORK_ACCOUNTS[item.stream.rpartition(":")[0]]], d)["inputs"]["bonus_rows"])
