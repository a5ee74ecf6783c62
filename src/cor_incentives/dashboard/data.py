"""What each dashboard page shows, as JSON-ready dicts built from the state (pure; no I/O).

Every page is rendered from exactly one of these dicts, and the same dict is served as JSON
(``?format=json``), which is also where the charts get their data. Amounts follow the API's
conventions: COR decimal strings, ``*_units`` for exact base units; charts parse the strings.
Lists are bounded (``MAX_*``): the dashboard shows the most recent part of a large network.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..api import readviews
from ..app import archive, chooser, views
from ..app.archive import bounty_count, closed_epochs, epoch_record, epoch_records, get_task, param_versions, retired_node_count, task_count
from ..core.errors import EngineError, NotFound
from ..core.governance import tally
from ..core.params import EMISSION_SPLIT_DEFAULT
from ..core.records import CLOSED_TASK_STATES, OPEN_TASK_STATES, EpochRecord, TaskState
from ..core.state import State, json_ready
from ..core.streams import LinePart, Stream
from ..core.units import BPS, format_cor, lookup_address, parse_cor

MAX_SERIES_EPOCHS = 200  # epochs on the overview's and a node's charts
MAX_TABLE_EPOCHS = 12  # rows of "latest epochs" on the overview
MAX_EPOCH_ROWS = 500  # rows of the epochs page
MAX_NODE_ROWS = 2_000  # rows of the nodes page
MAX_TASK_ROWS = 200  # rows of the tasks page
MAX_BOUNTY_ROWS = 200  # rows of the bounties page
MAX_LEAF_ROWS = 500  # leaves on an epoch page
MAX_ADDRESS_EPOCHS = 20  # closed epochs with a statement on an address page
TASK_PHASES = tuple(s for s in TaskState if s not in (TaskState.REQUESTED, TaskState.CANCELLED, TaskState.FAILED))  # the happy path after creation
TASK_EXITS = (TaskState.CANCELLED, TaskState.FAILED)
STAKING_STREAM = "staking"
NODE_REWARD_SUFFIXES = (f":{LinePart.STAKE}", f":{LinePart.COMMISSION}")  # statement lines of a reward that passed through a node to its stakers


def _units(value: Any) -> int:
    """An amount stored in a record (int, or a decimal string once above 2**53) as an int."""
    return int(value or 0)


def _cor(value: Any) -> str:
    return format_cor(_units(value))


def _recent_epochs(s: State, n: int) -> list[EpochRecord]:
    """The last ``n`` closed epochs, oldest first."""
    return [r for _, r in epoch_records(s, s.epoch - n)]


def stream_names(s: State) -> list[str]:
    """The emission streams, in the order of the split in force."""
    return list(s.params.emission_split_bps) if s.params_history else list(EMISSION_SPLIT_DEFAULT)


# --- overview --------------------------------------------------------------------------------


def epoch_series(s: State, records: Iterable[EpochRecord]) -> dict[str, Any]:
    """Per epoch: emission, paid per stream (plus staking APR), target and effective APR."""
    names = stream_names(s)
    out: dict[str, Any] = {
        "epochs": [],
        "emission": [],
        "paid": {n: [] for n in [*names, STAKING_STREAM]},
        "target_apr_bps": [],
        "effective_apr_bps": [],
    }
    for r in records:
        out["epochs"].append(r.epoch)
        out["emission"].append(_cor(r.streams.get("emission", {}).get("budget")))
        for n in names:
            out["paid"][n].append(_cor(r.streams.get(n, {}).get("paid")))
        out["paid"][STAKING_STREAM].append(_cor(r.staking.get("paid")))
        out["target_apr_bps"].append(r.staking.get("target_apr_bps"))
        out["effective_apr_bps"].append(r.staking.get("effective_apr_bps"))
    return out


def epoch_row(r: EpochRecord, onchain: dict[str, Any] | None = None) -> dict[str, Any]:
    """One line of an epochs table (``onchain``: the epoch's on-chain record, ``views.onchain``)."""
    paid = sum(_units(v.get("paid")) for k, v in r.streams.items() if k != "emission")
    return {
        "epoch": r.epoch,
        "start_tick": r.start_tick,
        "end_tick": r.end_tick,
        "root": r.root,
        "emission": _cor(r.streams.get("emission", {}).get("budget")),
        "network_paid": format_cor(paid),
        "staking_paid": _cor(r.staking.get("paid")),
        "effective_apr_bps": r.staking.get("effective_apr_bps"),
        "claimable_total": format_cor(sum(r.leaves.values())),
        "leaves": len(r.leaves),
        "onchain": onchain,
    }


def task_counts(s: State) -> dict[str, int]:
    """Tasks in all, live and pruned (``archive.task_count``: a closed task leaves the live state from ``RULES_PRUNE``;
    the pruned ones counted in the database, none read), open, ``pruned``, and the live ones by state (every state,
    zeros included: a pruned task's state is in its record, which is not read; a stub's is counted, and not as pruned)."""
    counts = dict.fromkeys(readviews.TASK_STATES, 0)
    for t in s.tasks.values():
        counts[t.state] = counts.get(t.state, 0) + 1
    for stub in s.closed_tasks.values():  # a closed task's stub inside the window (RULES_TASK_STUB) keeps its state
        counts[stub.state] = counts.get(stub.state, 0) + 1
    total = task_count(s)
    return {"total": total, "open": sum(counts[x] for x in OPEN_TASK_STATES), "pruned": total - len(s.tasks) - len(s.closed_tasks), **counts}


_overview_cache: dict[str, Any] = {"key": None, "value": None}


def overview(s: State) -> dict[str, Any]:
    """The network at a glance (recomputed only when the log has moved: every open page polls it)."""
    key = (id(s), s.seq, s.head_hash)
    if _overview_cache["key"] != key:
        _overview_cache["value"] = build_overview(s)
        _overview_cache["key"] = key
    return _overview_cache["value"]


def build_overview(s: State) -> dict[str, Any]:
    """Supply, pools, streams over epochs, APR, bonded ratio, counts, latest epochs."""
    status = views.status(s)
    records = _recent_epochs(s, MAX_SERIES_EPOCHS)
    return {
        "status": status,
        "counts": {
            "nodes": len(s.nodes),  # live
            "nodes_retired": retired_node_count(s),  # records that left the live state (rule 23)
            "tasks": task_counts(s),
            "models": len(s.models),
            "proposals": len(s.proposals),
            "bounties": bounty_count(s),  # live and retired (rule 22)
            "slashes": len(s.slashes),
            "events": s.seq + 1,
        },
        "series": epoch_series(s, records),
        "latest_epochs": [epoch_row(r, views.onchain(s, r.epoch)) for r in reversed(records[-MAX_TABLE_EPOCHS:])],
    }


# --- nodes -----------------------------------------------------------------------------------


def node_list(s: State, role: str | None = None, sort: str | None = None, state: str = "live", after: str | None = None) -> dict[str, Any]:
    """Every live node with its record (``chooser``), best first by ``sort`` (yield, stake, consensus) or by id; with
    ``state`` retired or all (rule 23: retired nodes read from the database) or ``after``, a page of ``MAX_NODE_PAGE``
    by address (no sort, no total: the retired ones are not all read) and the ``after`` of the next page."""
    if state != "live" or after is not None:
        page = chooser.node_table(s, role, None, chooser.DEFAULT_WINDOW_EPOCHS, state, chooser.MAX_NODE_PAGE, after)
        return {"role": role, "sort": None, "state": state, "window_epochs": page["window_epochs"], "total": None, **page}
    table = chooser.node_table(s, role, sort)
    return {
        "role": role,
        "sort": sort,
        "state": state,
        "window_epochs": table["window_epochs"],
        "total": len(table["nodes"]),
        "nodes": table["nodes"][:MAX_NODE_ROWS],
        "next_after_id": None,
    }


def node_rewards_by_epoch(s: State, node_id: str, records: Iterable[EpochRecord]) -> list[dict[str, Any]]:
    """Per epoch: what the node earned by stream (its commission and its stakers' shares, wherever they
    went, plus what was paid to its operator address directly), and the operator address's own part."""
    out = []
    for r in records:
        by_stream: dict[str, int] = defaultdict(int)
        operator = 0
        for i in r.items:
            if i.amount <= 0:
                continue
            through_node = i.stream.endswith(NODE_REWARD_SUFFIXES) and isinstance(i.detail, dict) and i.detail.get("node") == node_id
            if through_node or (i.address == node_id and not i.stream.endswith(NODE_REWARD_SUFFIXES)):
                by_stream[i.stream.split(":", 1)[0]] += i.amount
            if i.address == node_id:
                operator += i.amount
        out.append(
            {
                "epoch": r.epoch,
                "total": format_cor(sum(by_stream.values())),
                "total_units": str(sum(by_stream.values())),
                "operator": format_cor(operator),
                "by_stream": {k: format_cor(v) for k, v in sorted(by_stream.items())},
            }
        )
    return out


def node_detail(s: State, node_id: str) -> dict[str, Any]:
    """A node: stake, self-bond, delegators, commission, reputation and its history, rewards, slashes, jail."""
    detail = chooser.node_detail(s, node_id)  # (node_not_found; a retired node from the record it left, rule 23)
    records = _recent_epochs(s, MAX_SERIES_EPOCHS)
    n = s.nodes.get(node_id) or archive.retired_node(s, node_id)
    if n is None:
        raise NotFound(f"no node {node_id}", code="node_not_found", node=node_id)
    rewards = node_rewards_by_epoch(s, node_id, records)
    earned = sum(_units(r["total_units"]) for r in rewards)
    first = records[0].epoch if records else s.epoch
    slashed = sum(x.total for x in s.slashes if x.node == node_id and x.epoch >= first)
    return {
        "node": detail,
        "net": {
            "epochs": len(rewards),
            "from_epoch": first,
            "rewards": format_cor(earned),
            "slashed": format_cor(slashed),
            "net": format_cor(earned - slashed),
            "net_units": str(earned - slashed),
        },
        "jail": {
            "jailed": n.jailed,
            "until_tick": n.jailed_until_tick,
            "tick": s.tick,
            "slashes": n.slash_count,
            "ticks_left": max(0, n.jailed_until_tick - s.tick) if n.jailed_until_tick is not None else None,
        },
        "reputation_history": [{"epoch": r.epoch, "reputation_ppb": r.reputation[node_id]} for r in records if node_id in r.reputation],
        "rewards": rewards,
        "tasks": [{"id": t.id, "state": t.state, "kind": t.kind, "created_tick": t.created_tick} for t in _tasks_of(s, node_id, 10)],
    }


def _tasks_of(s: State, node_id: str, limit: int) -> list[Any]:
    out = []
    for t in readviews.newest_tasks(s, None):
        if len(out) >= limit:
            break
        if readviews.task_matches(t, None, node_id, None):
            out.append(t)
    return out


# --- tasks -----------------------------------------------------------------------------------


def task_list(s: State, state: str | None = None, kind: str | None = None) -> dict[str, Any]:
    listed = readviews.task_list(s, state, None, kind, MAX_TASK_ROWS, None)["tasks"]
    return {"state": state, "kind": kind, "counts": task_counts(s), "tasks": listed}


def task_phase(state: str) -> dict[str, Any]:
    """Where a task is in the state machine: the phases reached, and how it ended."""
    if state in TASK_PHASES:
        reached = TASK_PHASES.index(state)
    else:  # CANCELLED or FAILED: count the phases a task must have passed to be in the failed part
        reached = -1
    return {
        "phases": list(TASK_PHASES),
        "reached": reached,
        "final": state in CLOSED_TASK_STATES,
        "exit": state if state in TASK_EXITS else None,
    }


def task_detail(s: State, task_id: int) -> dict[str, Any]:
    t = get_task(s, task_id)
    view = views.task(s, t)
    phase = task_phase(t.state)
    if phase["exit"]:
        phase["reached"] = _phase_before_exit(t)
    reported = [v for v in view["validators"] if v["reported"]]
    agreement = [v["agreement_ppb"] for v in reported if v["agreement_ppb"] is not None]
    return {
        "task": view,
        "phase": phase,
        "poi_max_distance_ppb": s.params.poi_max_distance_ppb,
        "agreement": {
            "validators": len(view["validators"]),
            "reported": len(reported),
            "mean_ppb": sum(agreement) // len(agreement) if agreement else None,
        },
    }


def _phase_before_exit(t: Any) -> int:
    """The last phase a failed or cancelled task reached (from what its miners and validators did)."""
    if t.reports:
        return TASK_PHASES.index(TaskState.REPORTING)
    if t.report_commits:
        return TASK_PHASES.index(TaskState.COMMITTED)
    if any(a.reveal_tick is not None for a in t.miners):
        return TASK_PHASES.index(TaskState.PRECOMMITTED)
    if any(a.commit is not None for a in t.miners):
        return TASK_PHASES.index(TaskState.STARTED)
    return TASK_PHASES.index(TaskState.PREPARED)


# --- epochs ----------------------------------------------------------------------------------


def epoch_list(s: State) -> dict[str, Any]:
    records = _recent_epochs(s, MAX_EPOCH_ROWS)
    return {
        "current": {"epoch": s.epoch, "tick": s.tick},
        "total": closed_epochs(s),
        "epochs": [epoch_row(r, views.onchain(s, r.epoch)) for r in reversed(records)],
    }


def epoch_detail(s: State, e: int) -> dict[str, Any]:
    """Totals per stream, the streams' budgets and payouts, APR, root, leaves."""
    view = views.epoch(s, e)
    record = epoch_record(s, e)
    if record is None:  # views.epoch found it, so only a database that lost the pruned row gets here
        raise NotFound(f"epoch {e}'s record is not in the database", code="epoch_not_found")
    streams = [
        {
            "stream": k,
            "budget": _cor(v.get("budget")),
            "paid": _cor(v.get("paid")),
            "back_to_pool": _cor(v.get("back_to_pool")),
            "earners": v.get("earners"),
            "note": v.get("note"),
        }
        for k, v in record.streams.items()
        if k != "emission"
    ]
    leaves = view.pop("leaves")
    staking = {
        "budget": _cor(record.staking.get("budget")),
        "paid": _cor(record.staking.get("paid")),
        "due": _cor(record.staking.get("due")),
        "earners": len({i.address for i in record.items if i.stream.startswith(Stream.STAKING_APR) and i.amount > 0 and i.claimable}),
    }
    return {
        **view,
        "stream_rows": streams,
        "staking_row": staking,
        "emission": _cor(record.streams.get("emission", {}).get("budget")),
        "leaves_total": len(leaves),
        "leaves": leaves[:MAX_LEAF_ROWS],
        "controllers": json_ready(record.controllers),
        "governance": json_ready(record.governance),
        "payout": views.chain_status(s, e),
        "previous": e - 1 if 0 <= e - 1 < s.epoch else None,
        "next": e + 1 if e + 1 < s.epoch else None,
    }


# --- an address ------------------------------------------------------------------------------


def address_detail(s: State, address: str) -> dict[str, Any]:
    """Balances, and for each recent closed epoch its statement and (when claimable) its claim proof."""
    epochs = []
    for e in range(s.epoch - 1, -1, -1):
        if len(epochs) >= MAX_ADDRESS_EPOCHS:
            break
        statement = views.statement(s, address, e)
        if not statement["items"] and statement["claimable_units"] == "0":
            continue
        proof = views.proof(s, address, e) if statement["claimable_units"] != "0" else None
        epochs.append({"epoch": e, "statement": statement, "proof": proof})
    node = views.node(s, address) if address in s.nodes else None
    return {
        "address": address,
        "balance": views.balance(s, address),
        "node": node,
        "epochs": epochs,
        "closed_epochs": closed_epochs(s),
        "warnings": views.staking_warnings(s, address),
        "csv_url": f"/address/{address}/rewards.csv",
    }


# --- governance and bounties -----------------------------------------------------------------


def param_changes(s: State) -> list[dict[str, Any]]:
    """Every parameter version after the first, with only what it changed."""
    versions = param_versions(s)
    out = []
    for (_, before), (e, after) in zip(versions, versions[1:]):
        old, new = before.to_dict(), after.to_dict()
        out.append({"from_epoch": e, "changes": {k: {"from": old.get(k), "to": v} for k, v in new.items() if old.get(k) != v}})
    return out


def quorum(s: State, prop: Any) -> dict[str, Any]:
    """How far a proposal's turnout is toward quorum (``gov_quorum_bps`` of its snapshot power), and why it ended as it did."""
    p = s.params
    turnout = sum(tally(s, prop).values())
    needed = -(-prop.total_power * p.gov_quorum_bps // BPS)  # the smallest turnout with turnout × 10 000 ≥ power × quorum_bps
    met = prop.quorum_met if prop.tallied_tick is not None else turnout >= needed
    return {
        "turnout": format_cor(turnout),
        "needed": format_cor(needed),
        "quorum_bps": p.gov_quorum_bps,
        "progress_bps": min(BPS, turnout * BPS // needed) if needed else BPS,
        "turnout_bps": turnout * BPS // prop.total_power if prop.total_power else 0,
        "met": bool(met),
        "reason": prop.result,
    }


def governance(s: State) -> dict[str, Any]:
    params = readviews.params_view(s)
    return {
        "proposals": [readviews.proposal_view(s, p) | {"quorum": quorum(s, p)} for _, p in sorted(s.proposals.items(), reverse=True)],
        "param_changes": param_changes(s),
        "in_force": params["in_force"],
        "schema": params["schema"],
        "controllers": params["controllers"],
        "epoch": s.epoch,
    }


def bounties(s: State) -> dict[str, Any]:
    """The newest bounties (live or retired) and how many there are in all."""
    listed = readviews.bounty_list(s, MAX_BOUNTY_ROWS)["bounties"]
    return {"tick": s.tick, "total": bounty_count(s), "bounties": listed}


# --- the estimator ---------------------------------------------------------------------------


def estimate(s: State, role: str | None, self_bond: str | None, node: str | None, amount: str | None) -> dict[str, Any]:
    """The estimator page: the form's choices (nodes to delegate to, best yield first) and, when asked, the estimate or its error."""
    choices = [
        {"id": d["id"], "role": d["role"], "delegator_apr_bps": d["delegator_apr_bps"], "jailed": d["jailed"]}
        for d in chooser.node_table(s, sort="yield")["nodes"]
        if d["role"] != "router"
    ][:MAX_NODE_ROWS]
    out: dict[str, Any] = {"role": role, "self_bond": self_bond, "node": node, "amount": amount, "nodes": choices, "result": None, "error": None}
    try:
        if node and amount:
            out["result"] = chooser.estimate_delegation(s, lookup_address(node), parse_cor(amount))
        elif role and self_bond:
            out["result"] = chooser.estimate_operator(s, role, parse_cor(self_bond))
    except EngineError as exc:
        out["error"] = exc.to_dict()
    return out
