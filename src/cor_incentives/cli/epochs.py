"""`cor tick`, `cor epoch`, `cor statement`, `cor proof`, `cor claim`: time, epoch closes and what each address earned."""

from __future__ import annotations

from typing import Any

import typer

from ..app import views
from ..app.anchors import checkpoint_for
from ..app.keys import Keystore
from .chain import resolve as resolve_chain
from .common import DbOption, JsonOption, KeysOption, console, cor, emit, handle_errors, open_network, oracle, receipt_out, signer, table

epoch_app = typer.Typer(help="Epochs: close, show.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the epoch and reward commands to the `cor` app."""
    app.command()(tick)
    app.add_typer(epoch_app, name="epoch")
    app.command()(statement)
    app.command("proof")(proof_cmd)
    app.command()(claim)


@handle_errors
def tick(
    ticks: int = typer.Option(1, "--ticks", help="How many ticks to advance."),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Advance logical time (oracle) and reveal the next beacon value, which draws the nodes tasks wait for; epochs close at their boundary."""
    engine = open_network(db)
    r = engine.submit_as(oracle(engine, keys_dir), "tick", {"ticks": ticks, "checkpoint": checkpoint_for(engine.state)})
    receipt_out(r, as_json, f"advanced {ticks} tick(s)")


@epoch_app.command("close")
@handle_errors
def epoch_close(db: str | None = DbOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """Advance to the end of the current epoch and settle it (oracle)."""
    engine = open_network(db)
    closing = engine.state.epoch
    r = engine.submit_as(oracle(engine, keys_dir), "epoch.close", {"checkpoint": checkpoint_for(engine.state)})
    receipt_out(r, as_json, f"epoch {closing} closed")


@epoch_app.command("show")
@handle_errors
def epoch_show(epoch: int, db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Totals per stream, effective APR, Merkle root and leaves of a closed epoch."""
    engine = open_network(db)
    data = views.epoch(engine.state, epoch)

    def render() -> None:
        st = data["staking"]
        console.print(f"epoch {epoch} · ticks {data['start_tick']}–{data['end_tick']} · root {data['root']}")
        if st:
            binding = "binding" if st["budget_binding"] else "not binding"
            target, effective = int(st["target_apr_bps"]) / 100, int(st["effective_apr_bps"]) / 100
            console.print(f"staking APR: target {target:.2f}% · effective {effective:.2f}% · budget {binding}")
        table(
            "streams",
            ["stream", "budget", "paid", "back to pool", "earners"],
            [
                [k, cor(int(v.get("budget", 0))), cor(int(v.get("paid", 0))), cor(int(v.get("back_to_pool", 0))), v.get("earners", "")]
                for k, v in data["streams"].items()
            ],
        )
        table("totals by line item", ["stream", "COR"], [[k, v] for k, v in data["totals"].items()])
        table(f"claimable leaves ({len(data['leaves'])})", ["address", "COR"], [[x["address"], x["amount"]] for x in data["leaves"][:50]])

    emit(data, as_json, render)


@handle_errors
def statement(
    who: str = typer.Argument(..., help="Address or local key name."),
    epoch: int = typer.Option(..., "--epoch"),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Line items of one address in one epoch: stream, amount, formula, inputs, parameters."""
    engine = open_network(db)
    address = Keystore(keys_dir).resolve_address(who)
    data = views.statement(engine.state, address, epoch)

    def render() -> None:
        table(
            f"statement of {address}, epoch {epoch}",
            ["stream", "COR", "claimable", "why"],
            [
                [
                    i["stream"],
                    i["amount"],
                    "yes" if i["claimable"] else "",
                    str(i["detail"].get("formula") or i["detail"].get("why") or i["detail"].get("task", ""))[:60],
                ]
                for i in data["items"]
            ],
        )
        console.print(f"total {data['total']} COR · claimable {data['claimable']} COR{' (claimed)' if data['claimed'] else ''}")

    emit(data, as_json, render)


@handle_errors
def claim(
    who: str = typer.Argument(..., help="Address or local key name."),
    epoch: int = typer.Option(..., "--epoch"),
    sender: str | None = typer.Option(None, "--from", help="Signer (default: the address's own key, else the oracle)."),
    onchain: str | None = typer.Option(
        None, "--onchain", help="Claim on the EVM chain from this RewardsDistributor address (an epoch the publisher posted)."
    ),
    rpc: str | None = typer.Option(None, "--rpc", help="JSON-RPC URL for --onchain (default: from the chain file)."),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Pay a claimable epoch reward to its address with its Merkle proof (once): in the engine, or on chain with --onchain."""
    engine = open_network(db)
    ks = Keystore(keys_dir)
    address = ks.resolve_address(who)
    p = views.proof(engine.state, address, epoch)
    key = signer(keys_dir, sender) if sender else next((k for k in ks.list() if k.address == address), None) or oracle(engine, keys_dir)
    if onchain is not None:
        claim_on_chain(rpc, onchain, key, address, epoch, p, as_json)
        return
    r = engine.submit_as(key, "reward.claim", {"address": address, "epoch": epoch, "amount": p["amount_units"], "proof": p["proof"]})
    emit(
        {"ok": True, **r.to_dict(), "amount": p["amount"], "proof": p["proof"], "root": p["root"]},
        as_json,
        lambda: console.print(f"[green]✓[/] claimed {p['amount']} COR for {address} (epoch {epoch}, proof of {len(p['proof'])} hashes)"),
    )


def claim_on_chain(rpc: str | None, distributor_address: str, key: Any, address: str, epoch: int, p: dict[str, Any], as_json: bool) -> None:
    """``claim(epoch, address, amount, proof)`` on the distributor, signed with ``key`` (anyone may send it)."""
    from ..chain.claims import claim_onchain, token_balance
    from ..chain.rpc import Chain, chain_errors

    rpc_url, distributor = resolve_chain(None, rpc, distributor_address)
    with chain_errors("cor claim --onchain"):
        chain = Chain(rpc_url)
        result = claim_onchain(chain, distributor, key.private_key, epoch, address, int(p["amount_units"]), p["proof"])
        balance = token_balance(chain, distributor, address)
    data = {
        "ok": True,
        "onchain": True,
        **result.to_dict(),
        "epoch": epoch,
        "address": address,
        "amount": p["amount"],
        "amount_units": p["amount_units"],
        "distributor": distributor.lower(),
        "token_balance_units": str(balance),
    }
    emit(
        data,
        as_json,
        lambda: console.print(
            f"[green]✓[/] claimed {p['amount']} COR on chain for {address} (epoch {epoch}, tx {result.tx_hash}, block {result.block}, "
            f"gas {result.gas_used}); token balance {cor(balance)} COR"
        ),
    )


@handle_errors
def proof_cmd(
    who: str = typer.Argument(...),
    epoch: int = typer.Option(..., "--epoch"),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """The Merkle proof of an address's claimable leaf (for an EVM claim contract)."""
    engine = open_network(db)
    data = views.proof(engine.state, Keystore(keys_dir).resolve_address(who), epoch)
    emit(data, as_json, lambda: table("proof", ["field", "value"], [[k, v] for k, v in data.items()]))
