"""`cor init`, `cor keys`, `cor status`, `cor balance`, `cor transfer`: a network, its keys and its books."""

from __future__ import annotations

import json
import os

import typer

from ..ai.bundled import bundled_model_body
from ..app import views
from ..app.genesis import DEVNET, check_genesis_spec, genesis_body, load_genesis_file
from ..app.keys import PASSPHRASE_ENV, Keystore
from ..core.errors import Conflict
from .common import (
    ApiOption,
    DbOption,
    FromOption,
    JsonOption,
    KeysOption,
    connect,
    console,
    cor_amount,
    emit,
    handle_errors,
    open_engine,
    receipt_out,
    signer,
    table,
)
from .keys import keys_app
from .render import render_status, when


def register(app: typer.Typer) -> None:
    """Add the network commands to the `cor` app."""
    app.command()(init)
    app.command()(status)
    app.command()(balance)
    app.add_typer(keys_app, name="keys")
    app.command()(transfer)


@handle_errors
def init(
    genesis: str | None = typer.Option(None, "--genesis", help="Genesis file (TOML or JSON); built-in devnet genesis without it."),
    seed: str | None = typer.Option(None, "--seed", help="Derive the genesis keys from this seed (reproducible devnets)."),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a network: keys for the oracle and genesis wallets, and the genesis event."""
    spec = load_genesis_file(genesis) if genesis else check_genesis_spec(json.loads(json.dumps(DEVNET)))
    engine = open_engine(db)
    if engine.state.params_history is not None:
        raise Conflict(f"{engine.store.url} already holds network {engine.state.chain_id}", code="genesis_exists")
    store = Keystore(keys_dir)
    existing = {k.name: k for k in store.list()}
    names = ["oracle", *spec["key_allocations"]]
    passphrase = os.environ.get(PASSPHRASE_ENV) or None  # without one: plaintext development keys (said below)
    made = {n: existing[n] if n in existing else store.new(n, seed=seed, passphrase=passphrase) for n in names}
    body = genesis_body(spec, made["oracle"].address, {n: k.address for n, k in made.items()})
    receipt = engine.submit_as(made["oracle"], "genesis", body)
    if "modeldev" in made:
        engine.submit_as(made["modeldev"], "model.register", bundled_model_body())
    data = {
        "ok": True,
        "chain_id": spec["chain_id"],
        "database": engine.store.url,
        "keys_dir": str(store.path),
        "oracle": made["oracle"].address,
        "keys": {n: k.address for n, k in made.items()},
        "keys_encrypted": all(k.encrypted for k in made.values()),
        "supply": body["supply"],
        "seq": receipt.seq,
    }
    emit(
        data,
        as_json,
        lambda: (
            console.print(f"[green]✓[/] network [bold]{spec['chain_id']}[/] created in {engine.store.url}"),
            table("genesis keys", ["name", "address", "encrypted"], [[n, k.address, k.encrypted] for n, k in made.items()]),
            None
            if all(k.encrypted for k in made.values())
            else console.print(f"[yellow]![/] plaintext development keys in {store.path} (set ${PASSPHRASE_ENV} to encrypt)"),
        ),
    )


@handle_errors
def status(db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """Network summary: supply, pools, epoch, nodes."""
    net = connect(db, api)
    data = net.read(lambda s: {**views.status(s), "chain": net.engine.chain_report() if net.engine else None}, "/v1/status")
    emit(data, as_json, lambda: render_status(data))


@handle_errors
def balance(
    who: str = typer.Argument(..., help="Address or local key name."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Every account of an address."""
    address = Keystore(keys_dir).resolve_address(who)
    data = connect(db, api).read(lambda s: views.balance(s, address), f"/v1/balances/{address}")
    emit(
        data,
        as_json,
        lambda: (
            table(f"accounts of {address}", ["account", "COR"], [[a, v] for a, v in data["accounts"].items()] + [["total", data["total"]]]),
            data.get("unbonding_entries")
            and table(
                "unbonding (cor stake cancel-unbond --entry ID)",
                ["entry", "node", "COR", "matures at epoch"],
                [[u["id"], u["node"], u["amount"], when(u, "mature_epoch")] for u in data["unbonding_entries"]],
            ),
            data.get("redelegations")
            and table(
                "redelegations (slashable at their source until they mature)",
                ["id", "from", "to", "COR", "matures at epoch"],
                [[r["id"], r["from"], r["to"], r["amount"], when(r, "mature_epoch")] for r in data["redelegations"]],
            ),
        ),
    )


@handle_errors
def transfer(
    to: str = typer.Option(..., "--to"),
    amount: str = typer.Option(..., "--amount", help="COR, e.g. 12.5"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Send COR from a wallet to another."""
    net = connect(db, api)
    key = signer(keys_dir, sender)
    dest = Keystore(keys_dir).resolve_address(to)
    r = net.submit(key, "transfer", {"to": dest, "amount": str(cor_amount(amount))})
    receipt_out(r, as_json, f"sent {amount} COR to {dest}")
