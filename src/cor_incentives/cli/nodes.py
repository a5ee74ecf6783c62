"""`cor node`: register a node with its security deposit, unjail, change commission, list, show."""

from __future__ import annotations

from typing import Any

import typer

from ..app import views
from ..app.keys import Keystore
from ..core.errors import InvalidInput
from ..core.staking import get_node
from ..core.state import State
from .common import ApiOption, DbOption, FromOption, JsonOption, KeysOption, connect, cor_amount, emit, handle_errors, receipt_out, signer, table
from .noderun import node_run

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
    receipt_out(r, as_json, f"{key.address} registered as {role}")


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


@node_app.command("list")
@handle_errors
def node_list(db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """Every node with its stake and state."""
    data = connect(db, api).read(lambda s: [views.node(s, n) for n in sorted(s.nodes)], "/v1/nodes", field="nodes")
    emit(
        data,
        as_json,
        lambda: table(
            "nodes",
            ["node", "role", "self-bond", "stake", "delegators", "commission", "state"],
            [[d["id"], d["role"], d["self_bond"], d["stake_total"], d["delegators"], f"{d['commission_bps']} bps", d["state"]] for d in data],
        ),
    )


@node_app.command("show")
@handle_errors
def node_show(
    node: str, db: str | None = DbOption, api: str | None = ApiOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption
) -> None:
    """One node in detail."""
    address = Keystore(keys_dir).resolve_address(node)
    data = connect(db, api).read(lambda s: _node_detail(s, address), f"/v1/nodes/{address}")
    emit(data, as_json, lambda: render_node(data))


LISTS = ("delegations", "positions", "unbonding", "slashes")


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
            [[u["id"], u["address"], u["amount"], u["start_tick"], u["mature_epoch"]] for u in d["unbonding"]],
        )
    if d["slashes"]:
        table("slashes", ["id", "offence", "COR", "reason"], [[s["id"], s["offence"], s["total"], s["reason"]] for s in d["slashes"]])


def _node_detail(state: State, address: str) -> dict[str, Any]:
    return views.node(state, get_node(state, address).id, detail=True)
