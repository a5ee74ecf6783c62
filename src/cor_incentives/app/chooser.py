"""What a delegator (or an operator-to-be) looks at before staking: each node's record, and an estimate.

Read-only views of the state, the same for the CLI, the API and the dashboard. Everything is taken
from the closed epochs' statement lines and the task records; nothing here changes consensus.
Integers only: yields are parts per billion of the stake per epoch (``*_ppb``), rates basis points.

A node's record over the last ``window`` closed epochs (``node_record``)
    ``delegator_yield_ppb``: what one unit of stake bonded the whole epoch earned its staker after
    the node's commission, averaged over the epochs counted (the epochs of the window the node was
    registered in; an epoch whose stakers were paid nothing counts as 0). Per epoch: the stakers'
    part of every node reward (``<stream>:stake`` lines) × the epoch's ticks ÷ the node's
    stake × ticks. ``delegator_apr_bps`` = that × ``epochs_per_year``.
    ``consensus_rate_bps``: a miner's outputs judged in consensus ÷ judged (a reveal that does not
    match its precommit counts as judged, out of consensus), a validator's
    mean agreement with the consensus, over the tasks created in the window.
    ``missed_deadlines``, ``recent_slashes``: from the core's own offence records (the slashes of the
    window, each with the tasks it stands for, and the counts not yet slashed).

The estimate (``estimate``) applies a node's or a role's realised gross rates to a new stake; the
assumptions are part of its output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from ..core import rules
from ..core.errors import InvalidInput, NotFound
from ..core.params import SLASH_FRACTION_DEFAULT
from ..core.records import ROLES, EpochRecord, Node, SlashRecord
from ..core.state import State
from ..core.streams import LinePart, Stream
from ..core.units import BPS, PPB, cor_text, format_cor
from . import archive, views
from .archive import epoch_records, newest_tasks

DEFAULT_WINDOW_EPOCHS = 7
MAX_WINDOW_EPOCHS = 1_000
SORT_KEYS = ("yield", "stake", "consensus")
NODE_PAGE = 100  # nodes a page of retired or all nodes holds by default
MAX_NODE_PAGE = 1_000
COUNTED = ("missed_deadline", "poi_divergence", "validator_deviation")
"""Offences counted over a window (or, under later rules, slashed one by one): the counters a node page shows."""
STAKER_PARTS = (f":{LinePart.STAKE}", f":{LinePart.DUST}")
APR_STREAM = str(Stream.STAKING_APR)


# --- what the closed epochs say about each node ------------------------------------------------


@dataclass
class EpochOfNode:
    """One node in one closed epoch: its stake × ticks and its rewards, gross (before commission) and to its stakers."""

    stake_ticks: int = 0
    apr_stake_ticks: int = 0  # the stake × ticks its staking APR was paid on (0: no APR, e.g. jailed or slashed that epoch)
    gross: dict[str, int] = field(default_factory=dict)  # stream -> the node's reward before commission
    stakers: dict[str, int] = field(default_factory=dict)  # stream -> the part for its stakers (after commission)
    fees: int = 0  # task fees paid to the node's address directly (not shared with its stakers)


def epoch_of_nodes(record: EpochRecord) -> dict[str, EpochOfNode]:
    """Every node that earned or held stake in ``record``, from its statement lines."""
    out: dict[str, EpochOfNode] = defaultdict(EpochOfNode)
    for i in record.items:
        d = i.detail if isinstance(i.detail, dict) else {}
        stream, _, part = i.stream.partition(":")
        if i.stream.endswith(STAKER_PARTS) or i.stream == Stream.STAKE_REWARD:
            node = d.get("node")
            if isinstance(node, str):
                e = out[node]
                e.stakers[stream] = int(d.get("node_reward", 0))
                e.stake_ticks = max(e.stake_ticks, int(d.get("node_stake_ticks", 0)))
        elif part == LinePart.COMMISSION and isinstance(d.get("node"), str):
            out[d["node"]].gross[stream] = int(d.get("node_reward", 0))
        elif i.stream == f"{APR_STREAM}:{LinePart.NODE}":
            e = out[i.address]
            inputs = d.get("inputs", {})
            e.stake_ticks = max(e.stake_ticks, int(inputs.get("stake_ticks", 0)))
            # the stake × ticks the APR paid: from rule version 14 less those the node was not selectable for
            e.apr_stake_ticks = int(inputs.get("stake_ticks", 0)) - int(inputs.get("idle_stake_ticks", 0))
        elif i.stream in (Stream.TASK_FEE_MINER, Stream.TASK_FEE_VALIDATOR) and i.amount > 0:
            out[i.address].fees += i.amount
    for e in out.values():
        for stream, paid in e.stakers.items():
            e.gross.setdefault(stream, paid)  # no commission line: the stakers had all of it
    return out


def recent_records(state: State, window: int) -> list[EpochRecord]:
    """The last ``window`` closed epochs, oldest first."""
    return [r for _, r in epoch_records(state, state.epoch - window)] if window > 0 else []


def _per_epoch_ppb(amount: int, ticks: int, stake_ticks: int) -> int:
    """``amount`` earned by ``stake_ticks`` as parts per billion of the stake per epoch of ``ticks`` ticks."""
    return amount * ticks * PPB // stake_ticks if stake_ticks else 0


@dataclass
class TaskRecord:
    judged: int = 0
    in_consensus: int = 0
    agreement_sum_ppb: int = 0
    reports: int = 0


def task_records(state: State, first_epoch: int) -> dict[str, TaskRecord]:
    """Per node, over the tasks created since ``first_epoch`` (newest first, stopping at the first older one)."""
    out: dict[str, TaskRecord] = defaultdict(TaskRecord)
    for t in newest_tasks(state):  # live and pruned (core/prune.py)
        if t.created_epoch < first_epoch:
            break
        for a in t.miners:
            if (a.distance_ppb is not None or a.mismatch) and not a.planted:  # judged, or revealed something else than it committed to
                r = out[a.miner]
                r.judged += 1
                r.in_consensus += int(a.in_consensus and not a.mismatch)
        for v, agreement in t.agreement_ppb.items():
            r = out[v]
            r.reports += 1
            r.agreement_sum_ppb += agreement
    return out


def _tasks_in(evidence: dict[str, Any]) -> int:
    """How many task offences one slash stands for (a window's worth under the first rules, one under later ones)."""
    tasks = evidence.get("tasks")
    return len(tasks) if isinstance(tasks, list) else 1


def counted_over_a_window(state: State) -> bool:
    """Whether the rules in force count offences toward a threshold (the first rules) rather than slash each one when it is
    found (the rule version named ``RULES_SLASHING`` in ``core/rules.py``, once a network runs it)."""
    per_offence = getattr(rules, "RULES_SLASHING", None)
    return not (isinstance(per_offence, int) and rules.rules_since(state.params, per_offence))


def offence_counters(state: State, node_id: str) -> list[dict[str, Any]]:
    """Per counted offence: how close the node is to a slash under the rules in force, in words and numbers.

    Where the parameters name a threshold (``<offence>_threshold`` within ``offence_window_epochs``),
    ``count`` is the offences counted toward the next slash (``state.offence_log``), e.g.
    "missed_deadline 2/3 in this window"; where they don't, every offence is slashed when it is found,
    and ``count`` is the offences slashed in the window.
    """
    p = state.params
    window = int(getattr(p, "offence_window_epochs", 1))
    first = state.epoch - window + 1
    log: dict[str, list[tuple[int, int]]] = getattr(state, "offence_log", {}) or {}
    out = []
    for offence in COUNTED:
        threshold = getattr(p, f"{offence}_threshold", None) if counted_over_a_window(state) else None
        pending = [t for e, t in log.get(f"{node_id}|{offence}", []) if e >= first]
        slashed = [s for s in state.slashes if s.node == node_id and s.offence == offence and s.epoch >= first]
        fraction = p.slash_fraction_bps.get(offence, SLASH_FRACTION_DEFAULT.get(offence, 0))
        count = len(pending) if isinstance(threshold, int) else len(pending) + sum(_tasks_in(s.evidence) for s in slashed)
        if isinstance(threshold, int):
            text = f"{offence} {len(pending)}/{threshold} in this window ({window} epoch{'s' if window != 1 else ''}, from epoch {first})"
            text += f": at {threshold} the node is slashed {fraction} bps of its slashable stake and the count starts again"
        else:
            text = f"{offence} {count} in this window (from epoch {first}): each one is slashed when found"
            if rules.rules_since(p, rules.RULES_OFFENCE_ALLOWANCE):
                text += ", unless the node's offence_allowance for tasks served well forgives it"
        out.append(
            {
                "offence": offence,
                "count": count,
                "threshold": threshold if isinstance(threshold, int) else None,
                "window_epochs": window,
                "from_epoch": first,
                "pending_tasks": pending,
                "slashed_in_window": len(slashed),
                "fraction_bps": fraction,
                "text": text,
            }
        )
    return out


def _slash_summary(slashes: list[SlashRecord]) -> dict[str, Any]:
    total = sum(s.total for s in slashes)
    return {"recent_slashes": len(slashes), "recent_slashed": format_cor(total), "recent_slashed_units": str(total)}


def warnings(state: State, node_id: str, recent: list[SlashRecord], worked: frozenset[str] | None = None, record: Node | None = None) -> list[str]:
    """What a delegator should know before (or while) staking with the node: jail, recent slashes, and (rule version 14
    on) that its stake would earn no staking APR if the epoch closed now. ``record``: a retired node's record."""
    if record is not None and node_id not in state.nodes:
        return ["retired: it held nothing and left the live state at an epoch close (rule 23); its key may register again as a new node"]
    n = state.nodes[node_id]
    out = []
    apr = views.apr_exposure_warning(state, n, "node", worked)
    if apr:
        out.append(apr)
    if n.jailed_until_tick is not None:
        left = n.jailed_until_tick - state.tick
        out.append(
            f"jailed until tick {n.jailed_until_tick} ({left} ticks from now): not selected and earns nothing until it unjails"
            if left > 0
            else f"jailed (may unjail since tick {n.jailed_until_tick}): not selected and earns nothing until it unjails"
        )
    if recent:
        by: dict[str, int] = defaultdict(int)
        for s in recent:
            by[s.offence] += 1
        what = ", ".join(f"{k} ×{v}" for k, v in sorted(by.items()))
        times = f"{len(recent)} time{'s' if len(recent) != 1 else ''}"
        out.append(f"slashed {times} since epoch {recent[0].epoch} ({what}): delegations lose their share of each slash")
    return out


def node_records(state: State, window: int = DEFAULT_WINDOW_EPOCHS, nodes: Mapping[str, Node] | None = None) -> dict[str, dict[str, Any]]:
    """Every node's record over the last ``window`` closed epochs (see the module docstring); ``nodes``: those nodes
    instead of the live ones (a retired node's record, ``archive.retired_node``)."""
    records = recent_records(state, window)
    per_epoch = [(r, epoch_of_nodes(r)) for r in records]
    first_epoch = records[0].epoch if records else state.epoch
    tasks = task_records(state, first_epoch)
    slashes_since: dict[str, list[SlashRecord]] = defaultdict(list)  # one pass over the slashes, not one per node
    for s in state.slashes:
        if s.epoch >= first_epoch:
            slashes_since[s.node].append(s)
    worked = views.worked_models(state)
    out: dict[str, dict[str, Any]] = {}
    for node_id, n in (nodes if nodes is not None else state.nodes).items():
        counted = [(r, nodes.get(node_id)) for r, nodes in per_epoch if n.registered_tick < r.end_tick]
        yields = [_per_epoch_ppb(sum(e.stakers.values()), r.end_tick - r.start_tick, e.stake_ticks) if e else 0 for r, e in counted]
        mean_ppb = sum(yields) // len(yields) if yields else 0
        t = tasks.get(node_id, TaskRecord())
        if n.role == "validator":
            rate = t.agreement_sum_ppb // t.reports // (PPB // BPS) if t.reports else None
            judged = t.reports
        else:
            rate = t.in_consensus * BPS // t.judged if t.judged else None
            judged = t.judged
        recent = slashes_since.get(node_id, [])
        missed = sum(_tasks_in(s.evidence) for s in recent if s.offence == "missed_deadline")
        missed += sum(1 for e, _ in (getattr(state, "offence_log", {}) or {}).get(f"{node_id}|missed_deadline", []) if e >= first_epoch)
        out[node_id] = {
            "stake_total_units": str(n.stake_total),
            "window_epochs": window,
            "epochs_counted": len(counted),
            "delegator_yield_ppb": mean_ppb,
            "delegator_apr_bps": mean_ppb * state.params.epochs_per_year // (PPB // BPS),
            "consensus_rate_bps": rate,
            "judged": judged,
            "missed_deadlines": missed,
            **_slash_summary(recent),
            "jailed": n.jailed,
            "warnings": warnings(state, node_id, recent, worked, n),
        }
    return out


def sort_nodes(rows: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    """Best first: highest delegator yield, highest stake, or highest consensus rate (nodes without one last); ties by id."""
    if sort is None:
        return rows
    if sort not in SORT_KEYS:
        raise InvalidInput(f"sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}", code="invalid_sort")
    if sort == "yield":
        return sorted(rows, key=lambda d: (-d["delegator_yield_ppb"], d["id"]))
    if sort == "stake":
        return sorted(rows, key=lambda d: (-int(d["stake_total_units"]), d["id"]))
    return sorted(rows, key=lambda d: (d["consensus_rate_bps"] is None, -(d["consensus_rate_bps"] or 0), d["id"]))


def check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW_EPOCHS:
        raise InvalidInput(f"window must be a whole number of epochs in [1, {MAX_WINDOW_EPOCHS}], got {window!r}", code="invalid_window")
    return window


# --- the estimate ---------------------------------------------------------------------------------


def _role_totals(state: State, role: str, window: int) -> dict[str, int]:
    """Over the window: Σ gross work rewards, Σ gross APR rewards, Σ task fees, Σ stake × ticks of the role's nodes, and Σ ticks."""
    totals = {"work": 0, "apr": 0, "fees": 0, "stake_ticks": 0, "apr_stake_ticks": 0, "ticks": 0, "epochs": 0}
    for r in recent_records(state, window):
        totals["ticks"] += r.end_tick - r.start_tick
        totals["epochs"] += 1
        for node_id, e in epoch_of_nodes(r).items():
            n = state.nodes.get(node_id)
            if n is None or n.role != role:
                continue
            totals["work"] += sum(v for k, v in e.gross.items() if k != APR_STREAM)
            totals["apr"] += e.gross.get(APR_STREAM, 0)
            totals["fees"] += e.fees
            totals["stake_ticks"] += e.stake_ticks
            totals["apr_stake_ticks"] += e.apr_stake_ticks
    return totals


def _node_totals(state: State, node_id: str, window: int) -> dict[str, int]:
    totals = {"work": 0, "apr": 0, "stake_ticks": 0, "apr_stake_ticks": 0, "ticks": 0, "epochs": 0}
    for r in recent_records(state, window):
        if state.nodes[node_id].registered_tick >= r.end_tick:
            continue
        totals["ticks"] += r.end_tick - r.start_tick
        totals["epochs"] += 1
        e = epoch_of_nodes(r).get(node_id)
        if e is not None:
            totals["work"] += sum(v for k, v in e.gross.items() if k != APR_STREAM)
            totals["apr"] += e.gross.get(APR_STREAM, 0)
            totals["stake_ticks"] += e.stake_ticks
            totals["apr_stake_ticks"] += e.apr_stake_ticks
    return totals


def _share(amount: int, part: int, whole: int) -> int:
    return amount * part // whole if whole else 0


def estimate_operator(state: State, role: str, self_bond: int, window: int = DEFAULT_WINDOW_EPOCHS) -> dict[str, Any]:
    """Expected COR per epoch for a new node of ``role`` bonding ``self_bond`` (no delegations), from the role's recent epochs.

    Per epoch, with W and F the role's gross work rewards and task fees per epoch, S its mean stake
    (Σ stake × ticks ÷ Σ ticks), a the APR paid per unit of stake per epoch (Σ APR ÷ the Σ stake ×
    ticks it was paid on × the epoch's ticks):
    work = W × X ÷ (S + X) (selection and work are in proportion to stake; X joins S);
    apr = X × a (a rate on stake); fees = F × X ÷ (S + X); total = work + apr + fees.
    """
    if role not in ROLES or role == "router":
        raise InvalidInput(f"role must be miner or validator, got {role!r}", code="invalid_role")
    minimum = state.params.min_self_bond(role)
    if self_bond < minimum:
        raise InvalidInput(f"self-bond {cor_text(self_bond)} is below the {role} minimum {cor_text(minimum)}", code="below_min_self_bond")
    t = _role_totals(state, role, window)
    epochs = t["epochs"]
    stake = t["stake_ticks"] // t["ticks"] if t["ticks"] else 0  # the role's mean stake
    work = _share(t["work"] // epochs, self_bond, stake + self_bond) if epochs else 0
    apr = _share(self_bond, t["apr"] * (t["ticks"] // epochs), t["apr_stake_ticks"]) if epochs else 0
    fees = _share(t["fees"] // epochs, self_bond, stake + self_bond) if epochs else 0
    total = work + apr + fees
    return {
        "kind": "operator",
        "role": role,
        "self_bond": format_cor(self_bond),
        "self_bond_units": str(self_bond),
        "window_epochs": window,
        "epochs_used": epochs,
        "role_mean_stake": format_cor(stake),
        "per_epoch": {"work": format_cor(work), "staking_apr": format_cor(apr), "task_fees": format_cor(fees), "total": format_cor(total)},
        "per_epoch_units": {"work": str(work), "staking_apr": str(apr), "task_fees": str(fees), "total": str(total)},
        "per_year": format_cor(total * state.params.epochs_per_year),
        "apr_bps": total * state.params.epochs_per_year * BPS // self_bond,
        "formula": "work = W × X // (S + X); staking_apr = X × a; task_fees = F × X // (S + X) "
        "(W, F: the role's gross work rewards and task fees per epoch; S: its mean stake; a: the staking APR paid per unit of stake "
        "per epoch; X: the self-bond)",
        "assumptions": _assumptions(state, window, epochs)
        + [
            f"the {role}s' work rewards and task fees per epoch stay as in those epochs, and the new node takes a share in proportion to its stake "
            "(miners and validators are drawn in proportion to stake)",
            "the staking APR per COR stays as realised (the APR schedule, the pool's drain bound)",
            f"the node starts at reputation {state.params.reputation_initial_ppb * 100 // PPB} % (the multiplier of its work reward may be lower "
            "than the role's average at first), serves every task on time and in consensus, and is never slashed",
            "no delegations: the operator takes the whole reward (commission is paid by delegators only)",
        ],
    }


def estimate_delegation(state: State, node_id: str, amount: int, window: int = DEFAULT_WINDOW_EPOCHS) -> dict[str, Any]:
    """Expected COR per epoch for delegating ``amount`` to ``node_id``, from the node's recent epochs.

    Per epoch, with w the node's gross work reward per unit of stake (Σ ÷ its Σ stake × ticks × the
    epoch's ticks), a its staking APR per unit of stake in the epochs it was paid (not jailed), S the
    role's mean stake, c the commission the delegation will pay:
    work = X × w × S ÷ (S + X); apr = X × a; total = (work + apr) × (10 000 − c) ÷ 10 000.
    """
    n = state.nodes.get(node_id)
    if n is None:
        raise NotFound(f"no node {node_id}", code="node_not_found", node=node_id)
    if amount <= 0:
        raise InvalidInput("the amount must be above 0 COR", code="zero_amount")
    t = _node_totals(state, node_id, window)
    role = _role_totals(state, n.role, window)
    role_stake = role["stake_ticks"] // role["ticks"] if role["ticks"] else 0
    epoch_ticks = t["ticks"] // t["epochs"] if t["epochs"] else state.params.epoch_length_ticks
    work_gross = _share(_share(amount, t["work"] * epoch_ticks, t["stake_ticks"]), role_stake, role_stake + amount)
    apr_gross = _share(amount, t["apr"] * epoch_ticks, t["apr_stake_ticks"])
    commission = n.commission_next_bps if n.commission_next_bps is not None else n.commission_bps
    work = work_gross * (BPS - commission) // BPS
    apr = apr_gross * (BPS - commission) // BPS
    total = work + apr
    recent = [s for s in state.slashes if s.node == node_id and s.epoch >= (state.epoch - window)]
    return {
        "kind": "delegation",
        "node": node_id,
        "role": n.role,
        "amount": format_cor(amount),
        "amount_units": str(amount),
        "window_epochs": window,
        "epochs_used": t["epochs"],
        "commission_bps": commission,
        "per_epoch": {"work": format_cor(work), "staking_apr": format_cor(apr), "total": format_cor(total)},
        "per_epoch_units": {"work": str(work), "staking_apr": str(apr), "total": str(total)},
        "per_year": format_cor(total * state.params.epochs_per_year),
        "apr_bps": total * state.params.epochs_per_year * BPS // amount,
        "formula": "work = X × w × S // (S + X); staking_apr = X × a; each × (10000 − commission_bps) // 10000 "
        "(w: the node's gross work reward per unit of stake per epoch; a: the staking APR paid per unit of stake per epoch in the "
        "epochs it was paid; S: the role's mean stake; X: the amount)",
        "assumptions": _assumptions(state, window, t["epochs"])
        + [
            "the node earns per COR of stake as it did in those epochs (its reputation, quality and uptime unchanged); "
            f"its work grows with the added stake, diluted by the {n.role}s' stake",
            f"commission {commission} bps ({'the change in force from the next epoch' if n.commission_next_bps is not None else 'as now'})",
            "no slash and no jail: a slash takes its fraction of every delegation to the node",
        ],
        "warnings": warnings(state, node_id, recent),
    }


def _assumptions(state: State, window: int, used: int) -> list[str]:
    out = [f"from the last {used} closed epoch{'s' if used != 1 else ''} (asked for {window}); an estimate, not a promise"]
    if used == 0:
        out.append("no closed epoch to learn from: every figure is 0")
    out.append(f"{state.params.epochs_per_year} epochs per year")
    return out


# --- the views the CLI, the API and the dashboard print -------------------------------------------


def node_table(
    state: State,
    role: str | None = None,
    sort: str | None = None,
    window: int = DEFAULT_WINDOW_EPOCHS,
    which: str = "live",
    limit: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    """Every live node (of ``role``) with its record, sorted best first by ``sort`` (by id without); or, with ``which``
    retired or all, or a ``limit`` or ``after``, one page of them (``node_page``); ``next_after_id`` names the next."""
    if which != "live" or limit is not None or after is not None:
        return node_page(state, role, sort, window, which, NODE_PAGE if limit is None else limit, after)
    records = node_records(state, check_window(window))
    rows = [views.node(state, n) | records[n] for n in sorted(state.nodes) if role is None or state.nodes[n].role == role]
    return {"window_epochs": window, "sort": sort, "state": which, "nodes": sort_nodes(rows, sort), "next_after_id": None}


def node_page(state: State, role: str | None, sort: str | None, window: int, which: str, limit: int, after: str | None = None) -> dict[str, Any]:
    """At most ``limit`` nodes, live, retired (rule 23: each retired key's last record, read from the database) or all,
    of ``role``, by address above ``after``, with their records, and ``next_after_id`` (the ``after`` of the next page,
    None when no node is left). Reads at most ``limit + 1`` nodes: the cost is the page's, not the history's. A page
    is in address order: ``sort`` (which ranks every node) is refused."""
    if sort is not None:
        raise InvalidInput(
            f"sort ranks every live node in one answer; a page (state {which}, a limit or an after) is in address order: drop sort={sort!r}",
            code="invalid_sort",
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_NODE_PAGE:
        raise InvalidInput(f"limit must be a whole number in [1, {MAX_NODE_PAGE}], got {limit!r}", code="invalid_limit")
    check_window(window)
    stream = archive.nodes_by_address(state, which, after, min(limit + 1, 200))
    page = list(islice(((n, r) for n, r in stream if role is None or n.role == role), limit + 1))
    shown = page[:limit]
    records = node_records(state, window, {n.id: n for n, _ in shown})
    rows = [views.node(state, n.id, retired=n if retired else None) | records[n.id] for n, retired in shown]
    return {"window_epochs": window, "sort": None, "state": which, "nodes": rows, "next_after_id": shown[-1][0].id if len(page) > limit else None}


def node_detail(state: State, node_id: str, window: int = DEFAULT_WINDOW_EPOCHS) -> dict[str, Any]:
    """One node in detail (``views.node``), its record and its offence counters; a retired node (rule 23) from the record
    it left in the database, with state ``retired``."""
    retired = archive.retired_node(state, node_id) if node_id not in state.nodes else None
    if node_id not in state.nodes and retired is None:
        raise NotFound(f"no node {node_id}", code="node_not_found", node=node_id)
    records = node_records(state, check_window(window), {node_id: retired} if retired is not None else None)
    return views.node(state, node_id, detail=True, retired=retired) | records[node_id] | {"offences": offence_counters(state, node_id)}


# --- registering a miner: what it is told before it waits for work that never comes -------------


def registration_warnings(
    role: str, models: list[str], model_views: list[dict[str, Any]], miner_views: list[dict[str, Any]], redundancy: int
) -> list[str]:
    """For a miner about to register: each model that is not in the marketplace, not listed by governance, or that too
    few other miners serve for a task to be drawn (``redundancy`` miners are needed). From the public views only
    (``views.model``, ``views.node``), so the CLI gives the same warnings locally and through the API."""
    if role != "miner":
        return []
    known = {m["id"]: m for m in model_views}
    out = []
    for model in models:
        card = known.get(model)
        if card is None:
            out.append(
                f"model {model!r} is not registered in the marketplace: no task can name it, so the node would never be drawn for it "
                "(and, from rule version 14, its stake earns no staking APR for it)"
            )
            continue
        if card.get("retired_tick") is not None:
            out.append(
                f"model {model!r} is retired (rule 25, at tick {card['retired_tick']}): no new task can name it, so the node would never be "
                "drawn for it"
            )
            continue
        if not card.get("listed"):
            out.append(f"model {model!r} is not listed by governance: its work counts at the lowest work tier ({card.get('work_tier')})")
        others = sum(1 for n in miner_views if n.get("role") == "miner" and model in n.get("models", []) and n.get("state") == "active")
        if others + 1 < redundancy:
            who = (
                "nobody else serves it"
                if others == 0
                else f"only {others} other active miner{'s' if others != 1 else ''} serve{'s' if others == 1 else ''} it"
            )
            out.append(f"model {model!r}: {who}, and a task needs {redundancy} miners: none can be drawn until more miners serve it")
    return out
