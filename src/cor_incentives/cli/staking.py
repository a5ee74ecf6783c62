"""`cor stake`: bond, unbond, withdraw, delegate, undelegate, redelegate, cancel-unbond."""

from __future__ import annotations

from typing import Any

import typer

from ..app.keys import Keystore
from .common import ApiOption, DbOption, FromOption, JsonOption, KeysOption, connect, cor_amount, handle_errors, receipt_out, signer

stake_app = typer.Typer(help="Staking: bond, unbond, withdraw, delegate, undelegate, redelegate, cancel-unbond.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `cor stake` to the `cor` app."""
    app.add_typer(stake_app, name="stake")


def _stake_cmd(
    kind: str, body: dict[str, Any], sender: str, db: str | None, api: str | None, keys_dir: str | None, as_json: bool, message: str
) -> None:
    r = connect(db, api).submit(signer(keys_dir, sender), kind, body)
    receipt_out(r, as_json, message)


@stake_app.command("bond")
@handle_errors
def stake_bond(
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Add to the signing node's self-bond."""
    _stake_cmd("stake.bond", {"amount": str(cor_amount(amount))}, sender, db, api, keys_dir, as_json, f"bonded {amount} COR")


@stake_app.command("unbond")
@handle_errors
def stake_unbond(
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Start unbonding part of the signing node's self-bond."""
    _stake_cmd("stake.unbond", {"amount": str(cor_amount(amount))}, sender, db, api, keys_dir, as_json, f"unbonding {amount} COR")


@stake_app.command("withdraw")
@handle_errors
def stake_withdraw(
    sender: str = FromOption, db: str | None = DbOption, api: str | None = ApiOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption
) -> None:
    """Withdraw every matured unbonding entry to the wallet."""
    _stake_cmd("stake.withdraw", {}, sender, db, api, keys_dir, as_json, "withdrawn matured unbonding")


@stake_app.command("delegate")
@handle_errors
def stake_delegate(
    node: str = typer.Option(..., "--node"),
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Delegate COR to a node."""
    target = Keystore(keys_dir).resolve_address(node)
    _stake_cmd(
        "stake.delegate",
        {"node": target, "amount": str(cor_amount(amount))},
        sender,
        db,
        api,
        keys_dir,
        as_json,
        f"delegated {amount} COR to {target}",
    )


@stake_app.command("undelegate")
@handle_errors
def stake_undelegate(
    node: str = typer.Option(..., "--node"),
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Start unbonding a delegation."""
    target = Keystore(keys_dir).resolve_address(node)
    _stake_cmd(
        "stake.undelegate",
        {"node": target, "amount": str(cor_amount(amount))},
        sender,
        db,
        api,
        keys_dir,
        as_json,
        f"undelegating {amount} COR from {target}",
    )


@stake_app.command("redelegate")
@handle_errors
def stake_redelegate(
    from_node: str = typer.Option(..., "--from-node", help="The node the delegation leaves (address or key name)."),
    to_node: str = typer.Option(..., "--to-node", help="The node it moves to."),
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Move a delegation to another node at once (it stays slashable for the old node's earlier offences for the unbonding period)."""
    ks = Keystore(keys_dir)
    source, dest = ks.resolve_address(from_node), ks.resolve_address(to_node)
    _stake_cmd(
        "stake.redelegate",
        {"from": source, "to": dest, "amount": str(cor_amount(amount))},
        sender,
        db,
        api,
        keys_dir,
        as_json,
        f"redelegated {amount} COR from {source} to {dest}",
    )


@stake_app.command("cancel-unbond")
@handle_errors
def stake_cancel_unbond(
    entry: int = typer.Option(..., "--entry", help="The unbonding entry's id (cor node show NODE, or cor balance)."),
    amount: str | None = typer.Option(None, "--amount", help="Part of the entry (default: all of it)."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Return an unbonding entry to its node before it matures (less any slash it was spared while away; no rewards for that time)."""
    body: dict[str, object] = {"id": entry}
    if amount is not None:
        body["amount"] = str(cor_amount(amount))
    _stake_cmd("stake.cancel_unbond", body, sender, db, api, keys_dir, as_json, f"unbonding entry {entry} returned to its node")
