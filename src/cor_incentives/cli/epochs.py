"""`cor tick`, `cor epoch`, `cor statement`, `cor proof`, `cor claim`: time, epoch closes and what each address earned."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ..app import views
from ..app.anchors import checkpoint_for
from ..app.export import rewards_csv, why
from ..app.keys import Keystore
from ..core.errors import InvalidInput
from .chain import resolve as resolve_chain
from .common import (
    ApiOption,
    DbOption,
    JsonOption,
    KeysOption,
    Net,
    connect,
    console,
    cor,
    emit,
    err_console,
    handle_errors,
    receipt_out,
    signer,
    table,
)

epoch_app = typer.Typer(help="Epochs: close, show.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the epoch and reward commands to the `cor` app."""
    app.command()(tick)
    app.add_typer(epoch_app, name="epoch")
    app.command()(statement)
    app.command()(rewards)
    app.command("proof")(proof_cmd)
    app.command()(claim)


@handle_errors
def tick(
    ticks: int = typer.Option(1, "--ticks", help="How many ticks to advance."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Advance logical time (oracle) and reveal the next beacon value, which draws the nodes tasks wait for; epochs close at their boundary."""
    net = connect(db, api)
    key = net.oracle(keys_dir)
    r = net.submit(key, "tick", {"ticks": ticks, "checkpoint": checkpoint_for(net.local_engine.state)})
    receipt_out(r, as_json, f"advanced {ticks} tick(s)")


@epoch_app.command("close")
@handle_errors
def epoch_close(db: str | None = DbOption, api: str | None = ApiOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """Advance to the end of the current epoch and settle it (oracle)."""
    net = connect(db, api)
    key = net.oracle(keys_dir)
    closing = net.local_engine.state.epoch
    r = net.submit(key, "epoch.close", {"checkpoint": checkpoint_for(net.local_engine.state, with_state=True)})
    receipt_out(r, as_json, f"epoch {closing} closed")


@epoch_app.command("show")
@handle_errors
def epoch_show(epoch: int, db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """Totals per stream, effective APR, Merkle root and leaves of a closed epoch."""
    data = connect(db, api).read(lambda s: views.epoch(s, epoch), f"/v1/epochs/{epoch}")

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
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Line items of one address in one epoch: stream, amount, formula, inputs, parameters."""
    address = Keystore(keys_dir).resolve_address(who)
    data = connect(db, api).read(lambda s: views.statement(s, address, epoch), f"/v1/statements/{address}/{epoch}")

    def render() -> None:
        table(
            f"statement of {address}, epoch {epoch}",
            ["stream", "COR", "claimable", "why"],
            [
                [
                    i["stream"],
                    i["amount"],
                    "yes" if i["claimable"] else "",
                    why(i),
                ]
                for i in data["items"]
            ],
        )
        console.print(f"total {data['total']} COR · claimable {data['claimable']} COR{' (claimed)' if data['claimed'] else ''}")
        print_warnings(data)

    emit(data, as_json, render)


def print_warnings(data: dict[str, Any]) -> None:
    for w in data.get("warnings", []):
        err_console.print(f"[yellow]warning[/]: {w}")


@handle_errors
def rewards(
    who: str = typer.Argument(..., help="Address or local key name."),
    from_epoch: int = typer.Option(0, "--from-epoch", min=0, help="Only epochs from this one on."),
    as_csv: bool = typer.Option(False, "--csv", help="Every line item as CSV on stdout (one row per item; amounts in COR and base units)."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Rewards across epochs: each epoch's total and claimable leaf, the unclaimed epochs, every line item."""
    address = Keystore(keys_dir).resolve_address(who)
    data = connect(db, api).read(lambda s: views.rewards(s, address, from_epoch), f"/v1/statements/{address}", {"from_epoch": from_epoch})
    if as_csv:
        sys.stdout.write(rewards_csv(data))
        return

    def render() -> None:
        table(
            f"rewards of {address} (epochs {from_epoch}–{data['closed_epochs'] - 1})",
            ["epoch", "ticks", "earned COR", "claimable COR", "claim"],
            [
                [
                    e["epoch"],
                    f"{e['start_tick']}–{e['end_tick']}",
                    e["total"],
                    e["claimable"],
                    "claimed" if e["claimed"] else ("[yellow]unclaimed[/]" if e["unclaimed"] else ("on chain" if e["payout"] == "evm" else "")),
                ]
                for e in data["epochs"]
            ],
        )
        console.print(f"total {data['total']} COR · unclaimed {data['unclaimed']} COR in epochs {data['unclaimed_epochs'] or 'none'}")
        if data["unclaimed_epochs"]:
            console.print(f"claim them all: cor claim {who} --all")
        if data["claim_on_chain_epochs"]:
            console.print(f"on chain (cor claim {who} --epoch N --onchain 0x…): epochs {data['claim_on_chain_epochs']}")
        print_warnings(data)

    emit(data, as_json, render)


@handle_errors
def claim(
    who: str = typer.Argument(..., help="Address or local key name."),
    epoch: int | None = typer.Option(None, "--epoch", help="The closed epoch to claim."),
    claim_all: bool = typer.Option(False, "--all", help="Claim every epoch still unclaimed in the engine (see `cor rewards`)."),
    sender: str | None = typer.Option(None, "--from", help="Signer (default: the address's own key, else the oracle)."),
    onchain: str | None = typer.Option(
        None, "--onchain", help="Claim on the EVM chain from this RewardsDistributor address (an epoch the publisher posted)."
    ),
    rpc: str | None = typer.Option(None, "--rpc", help="JSON-RPC URL for --onchain (default: from the chain file)."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Pay a claimable epoch reward to its address with its Merkle proof (once): in the engine, or on chain with --onchain."""
    if (epoch is None) == (not claim_all):
        raise InvalidInput("give --epoch N or --all", code="invalid_claim")
    if claim_all and onchain is not None:
        raise InvalidInput("--all claims in the engine; claim on chain one epoch at a time with --epoch N --onchain", code="invalid_claim")
    net = connect(db, api)
    ks = Keystore(keys_dir)
    address = ks.resolve_address(who)
    key = signer(keys_dir, sender) if sender else next((k for k in ks.list() if k.address == address), None) or net.oracle(keys_dir)
    if epoch is None:
        _claim_all(net, key, address, as_json)
        return
    p = net.read(lambda s: views.proof(s, address, epoch), f"/v1/proofs/{address}/{epoch}")
    if onchain is not None:
        claim_on_chain(rpc, onchain, key, address, epoch, p, as_json)
        return
    r = net.submit(key, "reward.claim", {"address": address, "epoch": epoch, "amount": p["amount_units"], "proof": p["proof"]})
    emit(
        {"ok": True, **r, "amount": p["amount"], "proof": p["proof"], "root": p["root"]},
        as_json,
        lambda: console.print(f"[green]✓[/] claimed {p['amount']} COR for {address} (epoch {epoch}, proof of {len(p['proof'])} hashes)"),
    )


def _claim_all(net: Net, key: Any, address: str, as_json: bool) -> None:
    """``reward.claim`` for every epoch still unclaimed in the engine, oldest first; stops at the first refusal."""
    todo = net.read(lambda s: views.rewards(s, address), f"/v1/statements/{address}")["unclaimed_epochs"]
    claimed: list[dict[str, Any]] = []
    total = 0
    for e in todo:
        p = net.read(lambda s, e=e: views.proof(s, address, e), f"/v1/proofs/{address}/{e}")
        r = net.submit(key, "reward.claim", {"address": address, "epoch": e, "amount": p["amount_units"], "proof": p["proof"]})
        claimed.append({"epoch": e, "amount": p["amount"], "amount_units": p["amount_units"], "seq": r["seq"]})
        total += int(p["amount_units"])
    data = {"ok": True, "address": address, "claimed": claimed, "total": cor(total), "total_units": str(total)}
    emit(
        data,
        as_json,
        lambda: console.print(
            f"[green]✓[/] claimed {cor(total)} COR for {address} in {len(claimed)} epoch(s): {[c['epoch'] for c in claimed]}"
            if claimed
            else f"nothing to claim for {address}"
        ),
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
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """The Merkle proof of an address's claimable leaf (for an EVM claim contract)."""
    address = Keystore(keys_dir).resolve_address(who)
    data = connect(db, api).read(lambda s: views.proof(s, address, epoch), f"/v1/proofs/{address}/{epoch}")
    emit(data, as_json, lambda: table("proof", ["field", "value"], [[k, v] for k, v in data.items()]))
