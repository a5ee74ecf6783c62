"""`cor node`: register a node with its security deposit, unjail, change commission, list, show."""

from __future__ import annotations

import typer

from ..app import views
from ..app.keys import Keystore
from ..core.staking import get_node
from .common import DbOption, FromOption, JsonOption, KeysOption, cor_amount, emit, handle_errors, open_network, receipt_out, signer, table

node_app = typer.Typer(help="Nodes: register with a security deposit, unjail, commission, list.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `cor node` to the `cor` app."""
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
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Register the signing key as a node of a role, bonding its security deposit."""
    engine = open_network(db)
    key = signer(keys_dir, sender)
    r = engine.submit_as(
        key,
        "node.register",
        {"role": role, "self_bond": str(cor_amount(self_bond, "self-bond")), "commission_bps": commission_bps, "models": list(model)},
    )
    receipt_out(r, as_json, f"{key.address} registered as {role}")


@node_app.command("unjail")
@handle_errors
def node_unjail(sender: str = FromOption, db: str | None = DbOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """Leave jail after the cooldown (minimum bond restored)."""
    engine = open_network(db)
    r = engine.submit_as(signer(keys_dir, sender), "node.unjail", {})
    receipt_out(r, as_json, "node unjailed")


@node_app.command("commission")
@handle_errors
def node_commission(
    bps: int = typer.Option(..., "--bps"),
    sender: str = FromOption,
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Change the node's commission (bounded, rate-limited)."""
    engine = open_network(db)
    r = engine.submit_as(signer(keys_dir, sender), "node.set_commission", {"commission_bps": bps})
    receipt_out(r, as_json, f"commission set to {bps} bps")


@node_app.command("list")
@handle_errors
def node_list(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Every node with its stake and state."""
    engine = open_network(db)
    data = [views.node(engine.state, n) for n in sorted(engine.state.nodes)]
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
def node_show(node: str, db: str | None = DbOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """One node in detail."""
    engine = open_network(db)
    address = Keystore(keys_dir).resolve_address(node)
    data = views.node(engine.state, get_node(engine.state, address).id, detail=True)
    emit(data, as_json, lambda: table(f"node {address}", ["field", "value"], [[k, v] for k, v in data.items()]))
