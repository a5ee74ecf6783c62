"""Reading a devnet back through the API: the live view while it runs and the end table after it.

Every number comes from the service (statements per address and epoch, task and node views), never
from the devnet's own bookkeeping: rewards = claimable items, fees = ``task_fee:*``, slashes =
``slash``, payments = ``task_payment``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from ..core.records import TaskState
from ..core.streams import TASK_FEE_PREFIX, Stream
from ..core.units import format_cor
from .devnet import Devnet
from .link import Link
from .processes import sqlite_path


def live_view(net: Devnet) -> dict[str, Any]:
    """What the live view shows: time, tasks by state, recent events, each node's change in holdings."""
    reader = net.reader
    if reader is None:
        raise RuntimeError("the devnet is not started")
    tasks = reader.tasks(limit=1000)
    by_state = Counter(t["state"] for t in tasks)
    names = net.by_address
    ev = reader.retry("events", lambda: reader.client.events(max(-1, reader.head_seq() - 8), 8))
    events = []
    for e in ev.get("events", []):
        body = json.loads(e["payload"]).get("body", {})
        what = f" task {body['task']}" if "task" in body else ""
        events.append(f"#{e['seq']} t{e['tick']} {e['kind']}{what} by {names.get(e['actor'], e['actor'][:10])}")
    rows = []
    for s in net.specs:
        delta = net.holdings(s.name) - net.initial_totals.get(s.name, 0)
        rows.append(
            {"name": s.name, "role": s.role, "strategy": s.strategy, "alive": net.live(s.name) or s.strategy == "offline", "delta_units": delta}
        )
    return {
        "tick": net.tick,
        "epoch": net.epoch,
        "epochs": net.config.epochs,
        "elapsed": time.monotonic() - net.started_at,
        "tasks_by_state": dict(sorted(by_state.items())),
        "tasks": len(tasks),
        "events": events,
        "notes": list(net.recent),
        "nodes": rows,
    }


def end_table(net: Devnet) -> dict[str, Any]:
    """The end table (per node and per other participant) from statements, task and node views."""
    if net.reader is None:
        raise RuntimeError("the devnet is not started")
    r = net.reader
    epochs = list(range(net.config.epochs))
    end_tick = int(r.retry("epoch", lambda: r.client.epoch(epochs[-1]))["end_tick"])
    every = r.all_tasks()
    closed = [t for t in every if t.get("closed_tick") is not None and t["closed_tick"] <= end_tick]
    nodes = {n["id"]: n for n in r.retry("nodes", r.client.nodes)}
    people = [(s.name, s.role, s.strategy) for s in net.specs] + [(d, "delegator", f"delegates to {n}") for d, n in net.delegations()]
    rows = []
    for name, role, strategy in people:
        addr = net.keys[name].address
        row: dict[str, Any] = {
            "name": name,
            "address": addr,
            "role": role,
            "strategy": strategy,
            **task_counts(role, addr, closed),
        }
        n = nodes.get(addr)
        if n is not None:
            row.update({k: n[k] for k in ("reputation_ppb", "state", "slash_count", "stake_total")})
        row.update(money_columns(statement_sums(r, addr, epochs), row.get("tasks")))
        rows.append(row)
    c = net.config
    return {
        "ok": True,
        "epochs": c.epochs,
        "seed": c.seed,
        "backend": c.backend,
        "clock": c.clock_mode,
        "tick_seconds": c.tick_interval,
        "max_output_tokens": c.max_output_tokens,
        "db": c.url,
        "db_path": str(sqlite_path(c.url)) if sqlite_path(c.url) else None,
        "keys_dir": c.keys_dir,
        "log_dir": str(net.log_dir),
        "api": net.api_url,
        "wall_seconds": round(time.monotonic() - net.created_at, 1),
        "clock_seconds": round(sum(net.epoch_seconds), 1),
        "epoch_seconds": [round(x, 1) for x in net.epoch_seconds],
        "ticks": net.tick,
        "forced_ticks": net.forced_ticks,
        "network_tasks": net.network_tasks,
        "canaries_opened": net.canaries_opened,  # network tasks whose planted output the oracle opened (task.canary)
        "params": net.params,
        "miner_sampling": c.miner_sampling(net.specs),
        "tasks": {
            "closed_in_report": len(closed),
            "by_state": dict(sorted(Counter(t["state"] for t in every).items())),
            "canary": dict(sorted(Counter(t["canary"] for t in every if t.get("canary")).items())),  # planted, void, none; unopened (rule 36)
        },
        "nodes": [x for x in rows if x["role"] in ("miner", "validator", "router")],
        "users": [x for x in rows if x["role"] == "user"],
        "delegators": [x for x in rows if x["role"] == "delegator"],
        "slashes": [
            {"node": net.by_address.get(x["node"], x["node"]), "offence": x["offence"], "epoch": x["epoch"], "total": x["total"]}
            for x in r.retry("slashes", r.client.slashes)
        ],
    }


def task_counts(role: str, addr: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """Assignments of ``addr`` in ``tasks`` (closed ones), and how many were in consensus."""
    out: dict[str, Any] = {}
    if role == "miner":
        mine = [(t, a) for t in tasks for a in t["miners"] if a["miner"] == addr]
        out["tasks"] = len(mine)
        # in consensus in a task that settled (the medoid of a failed task is not in consensus with anyone)
        out["in_consensus"] = sum(1 for t, a in mine if a["in_consensus"] and t["state"] == TaskState.SETTLED)
        out["mismatched_reveals"] = sum(1 for _, a in mine if a["mismatch"])
        out["missed_precommits"] = sum(1 for _, a in mine if not a["precommitted"])
    elif role == "validator":
        mine_v = [v for t in tasks for v in t["validators"] if v["validator"] == addr]
        agreements = [int(v["agreement_ppb"]) for v in mine_v if v.get("agreement_ppb") is not None]
        out["tasks"] = len(mine_v)
        out["reported"] = sum(1 for v in mine_v if v["reported"])
        out["mean_agreement_ppb"] = sum(agreements) // len(agreements) if agreements else None
        out["canaries_failed"] = sum(1 for v in mine_v if v.get("canary_failed"))
        # in consensus: reported within the agreement tolerance (agreement > 0) and let no planted output pass
        out["in_consensus"] = sum(1 for v in mine_v if v["reported"] and int(v["agreement_ppb"] or 0) > 0 and not v.get("canary_failed"))
    elif role in ("router", "user"):
        out["tasks"] = sum(1 for t in tasks if t.get(role) == addr)
    if role in ("miner", "validator"):
        out["in_consensus_rate_bps"] = out["in_consensus"] * 10_000 // out["tasks"] if out["tasks"] else None
    return out


def money_columns(sums: dict[str, int], tasks: int | None) -> dict[str, Any]:
    """COR strings and exact ``*_units`` per category, and net profit = rewards + fees − slashes."""
    net = sums["rewards"] + sums["fees"] - sums["slashes"]
    out: dict[str, Any] = {k: format_cor(v) for k, v in sums.items()}
    out.update({f"{k}_units": str(v) for k, v in sums.items()})
    out["net_profit"], out["net_profit_units"] = format_cor(net), str(net)
    if tasks:
        per_task = net // tasks if net >= 0 else -(-net // tasks)  # toward zero
        out["net_per_task"], out["net_per_task_units"] = format_cor(per_task), str(per_task)
    return out


# --- statements -----------------------------------------------------------------------------

CATEGORIES = ("rewards", "fees", "slashes", "payments", "other")


def item_category(item: dict[str, Any]) -> str:
    """Which column of the end table a statement line item adds to."""
    stream = item["stream"]
    if stream == Stream.SLASH:
        return "slashes"
    if stream.startswith(TASK_FEE_PREFIX):
        return "fees"
    if stream == Stream.TASK_PAYMENT:
        return "payments"
    if item.get("claimable"):
        return "rewards"
    return "other"


def statement_sums(link: Link, address: str, epochs: list[int]) -> dict[str, int]:
    """Σ statement amounts per category over ``epochs`` (slashes and payments as positive numbers)."""
    sums = dict.fromkeys(CATEGORIES, 0)
    for e in epochs:
        st = link.retry("statement", lambda e=e: link.client.statement(address, e))
        for item in st["items"]:
            sums[item_category(item)] += int(item["amount_units"])
    sums["slashes"] = -sums["slashes"]
    sums["payments"] = -sums["payments"]
    return sums
