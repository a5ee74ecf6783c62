"""`cor node`: register a node with its security deposit, unjail, change commission, list, show."""

from __future__ import annotations

from typing import Any

import typer

from ..app import views
from ..app.archive import NODE_STATES
from ..app.chooser import (
    DEFAULT_WINDOW_EPOCHS,
    MAX_NODE_PAGE,
    NODE_PAGE,
    SORT_KEYS,
    check_window,
    node_detail,
    node_table,
    registration_warnings,
)
from ..app.keys import Keystore
from ..core.errors import InvalidInput
from ..core.records import ROLES
from ..core.units import lookup_address
from .common import (
    ApiOption,
    DbOption,
    FromOption,
    JsonOption,
    KeysOption,
    Net,
    connect,
    cor_amount,
    emit,
    err_console,
    handle_errors,
    receipt_out,
    signer,
    table,
)
from .noderun import node_run
from .render import when

node_app = typer.Typer(help="Nodes: register with a security deposit, run, unjail, commission, list.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `cor node` to the `cor` app."""
    node_app.command("run")(node_run)
    app.add_typer(node_app, name="node")


@node_app.command("register")
@handle_errors
def node_register(
    role: str = typer.Option(..., "--role", help="miner, validator or router"),
    self_bond: str = typer.Option(..., "--self-bond", help="COR bonded as security deposit"),
    commission_bps: int = typer.Option(0, "--commission-bps"),
    model: list[str] = typer.Option([], "--model", help="Model id served (repeatable)"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Register the signing key as a node of a role, bonding its security deposit."""
    net = connect(db, api)
    key = signer(keys_dir, sender)
    r = net.submit(
        key,
        "node.register",
        {"role": role, "self_bond": str(cor_amount(self_bond, "self-bond")), "commission_bps": commission_bps, "models": list(model)},
    )
    warnings = _registration_warnings(net, key.address, role, list(model))
    receipt_out({**r, "warnings": warnings}, as_json, f"{key.address} registered as {role}")
    if not as_json:
        for w in warnings:
            err_console.print(f"[yellow]warning[/]: {w}")


def _registration_warnings(net: Net, address: str, role: str, models: list[str]) -> list[str]:
    """What a new miner should know about the models it serves (read after it registered: the others, not itself)."""
    if role != "miner" or not models:
        return []
    model_views = net.read(lambda s: [views.model(m, s.params) for _, m in sorted(s.models.items())], "/v1/models", field="models")
    miners = net.read(lambda s: [views.node(s, n) for n in sorted(s.nodes) if s.nodes[n].role == "miner"], "/v1/nodes", {"role": "miner"}, "nodes")
    redundancy = net.read(views.params_view, "/v1/params")["in_force"]["redundancy"]
    others = [n for n in miners if n["id"] != address]
    return registration_warnings(role, models, model_views, others, redundancy)


@node_app.command("unjail")
@handle_errors
def node_unjail(
    sender: str = FromOption, db: str | None = DbOption, api: str | None = ApiOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption
) -> None:
    """Leave jail after the cooldown (minimum bond restored)."""
    r = connect(db, api).submit(signer(keys_dir, sender), "node.unjail", {})
    receipt_out(r, as_json, "node unjailed")


@node_app.command("commission")
@handle_errors
def node_commission(
    commission_bps: int | None = typer.Option(None, "--commission-bps", help="The new commission in basis points (500 = 5 %)."),
    bps: int | None = typer.Option(None, "--bps", hidden=True, help="Old name of --commission-bps."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Change the node's commission (bounded, rate-limited)."""
    if (commission_bps is None) == (bps is None):
        raise InvalidInput("give the new commission with --commission-bps N", code="invalid_commission")
    value = commission_bps if commission_bps is not None else bps
    r = connect(db, api).submit(signer(keys_dir, sender), "node.set_commission", {"commission_bps": value})
    receipt_out(r, as_json, f"commission set to {value} bps")


WindowOption = typer.Option(DEFAULT_WINDOW_EPOCHS, "--window", help="The last N closed epochs a node's record is taken over.")


@node_app.command("list")
@handle_errors
def node_list(
    sort: str | None = typer.Option(None, "--sort", help="Best first: yield (delegator yield after commission), stake or consensus."),
    role: str | None = typer.Option(None, "--role", help="Only nodes of this role: miner, validator or router."),
    window: int = WindowOption,
    state: str = typer.Option(
        "live", "--state", help="live (the default), retired (rule 23: nodes that held nothing and left, read from the database) or all."
    ),
    limit: int | None = typer.Option(
        None,
        "--limit",
        min=1,
        max=MAX_NODE_PAGE,
        help=f"At most this many, by address (default: every live node; {NODE_PAGE} with --state retired or all).",
    ),
    after: str | None = typer.Option(None, "--after", help="Only nodes with a larger address: the last one of the page before."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    as_json: bool = JsonOption,
) -> None:
    """Every live node with its stake, state and record: realised delegator yield, consensus rate, missed deadlines, recent
    slashes. --state retired or all lists the retired nodes too, a page at a time by address (--limit, --after)."""
    if sort is not None and sort not in SORT_KEYS:
        raise InvalidInput(f"--sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}", code="invalid_sort")
    if role is not None and role not in ROLES:
        raise InvalidInput(f"--role must be one of {', '.join(ROLES)}, got {role!r}", code="invalid_role")
    if state not in NODE_STATES:
        raise InvalidInput(f"--state must be one of {', '.join(NODE_STATES)}, got {state!r}", code="invalid_node_state")
    check_window(window)
    start = lookup_address(after) if after is not None else None
    params = {"role": role, "sort": sort, "window": window, "state": state if state != "live" else None, "limit": limit, "after_id": start}
    page = connect(db, api).read(lambda s: node_table(s, role, sort, window, state, limit, start), "/v1/nodes", params=params)
    data = page["nodes"]
    emit(data, as_json, lambda: render_nodes(data, window, page["next_after_id"]))


def percent_bps(bps: int | None) -> str:
    """Basis points as a percentage with two decimals (integers only): 1234 → "12.34 %"."""
    if bps is None:
        return "–"
    return f"{'-' if bps < 0 else ''}{abs(bps) // 100}.{abs(bps) % 100:02d} %"


def render_nodes(data: list[dict[str, Any]], window: int, next_after: str | None = None) -> None:
    table(
        f"nodes (record over the last {window} closed epochs)",
        ["node", "role", "stake", "commission", "delegator APR", "consensus", "missed", "slashes", "state"],
        [
            [
                d["id"],
                d["role"],
                d["stake_total"],
                percent_bps(d["commission_bps"]),
                percent_bps(d["delegator_apr_bps"]),
                percent_bps(d["consensus_rate_bps"]),
                d["missed_deadlines"],
                f"{d['recent_slashes']} ({d['recent_slashed']} COR)" if d["recent_slashes"] else "0",
                ("⚠ " if d["warnings"] else "") + d["state"],
            ]
            for d in data
        ],
    )
    for d in data:
        for w in d["warnings"]:
            err_console.print(f"[yellow]warning[/] {d['id']}: {w}")
    if next_after is not None:
        err_console.print(f"more: the next page is --after {next_after}")


@node_app.command("show")
@handle_errors
def node_show(
    node: str,
    window: int = WindowOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """One node in detail: stake, positions, unbonding, slashes with their evidence, its record and offence counters."""
    address = Keystore(keys_dir).resolve_address(node)
    check_window(window)
    data = connect(db, api).read(lambda s: node_detail(s, address, window), f"/v1/nodes/{address}", params={"window": window})
    emit(data, as_json, lambda: render_node(data))


LISTS = ("delegations", "positions", "unbonding", "redelegated_away", "slashes", "offences", "warnings")


def render_node(d: dict[str, Any]) -> None:
    """A node's fields, then its stake positions (stake × ticks this epoch), unbonding entries and slashes with their reasons."""
    table(f"node {d['id']}", ["field", "value"], [[k, v] for k, v in d.items() if k not in LISTS])
    table(
        f"stake × time in epoch {d['stake_epoch']} (rewards split by it at the close)",
        ["staker", "kind", "stake COR", "stake × ticks (units)", "share"],
        [
            [p["address"], p["kind"], p["stake"], p["stake_ticks_units"], f"{p['share_ppb'] // 10**7}.{p['share_ppb'] // 10**5 % 100:02d} %"]
            for p in d["positions"]
        ],
    )
    if d["unbonding"]:
        table(
            "unbonding (slashable for offences dated before it started)",
            ["id", "address", "COR", "start tick", "mature epoch"],
            [[u["id"], u["address"], u["amount"], u["start_tick"], when(u, "mature_epoch")] for u in d["unbonding"]],
        )
    if d.get("redelegated_away"):
        table(
            "redelegated away (slashable for this node's offences before they moved)",
            ["id", "address", "to", "COR", "moved at tick", "mature epoch"],
            [[r["id"], r["address"], r["to"], r["amount"], r["start_tick"], when(r, "mature_epoch")] for r in d["redelegated_away"]],
        )
    table(
        "offence counters (the rules in force)",
        ["offence", "count", "tasks not slashed yet", "slashed in window"],
        [[o["text"], o["count"], ", ".join(map(str, o["pending_tasks"])), o["slashed_in_window"]] for o in d["offences"]],
    )
    if d["slashes"]:
        table(
            "slashes (evidence: cor slash show ID)",
            ["id", "offence", "COR", "evidence", "reason"],
            [[s["id"], s["offence"], s["total"], _evidence_ref(s), s["reason"]] for s in d["slashes"]],
        )
    for w in d["warnings"]:
        err_console.print(f"[yellow]warning[/]: {w}")


def _evidence_ref(s: dict[str, Any]) -> str:
    """Where a slash's evidence is: its tasks (cor task show N) or its signed statements, and the evidence hash."""
    ev = s["evidence"]
    tasks = ev.get("tasks", [ev["task"]] if "task" in ev else [])
    where = ", ".join(f"task {t}" for t in tasks) if tasks else ("2 signed statements" if "messages" in ev else "")
    return f"{where}\n{s['evidence_hash'][:18]}…" if where else f"{s['evidence_hash'][:18]}…"
