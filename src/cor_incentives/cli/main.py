"""``cor``: the command line (Typer + Rich). Thin: parse, call one service function, print."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..app import views
from ..app.genesis import DEVNET, check_genesis_spec, genesis_body, load_genesis_file
from ..app.keys import Keystore
from ..app.verify import verify_store
from ..core.errors import Conflict, InvalidInput
from ..core.slashing import OFFENCES
from .chain import register as register_chain
from .chain import resolve as resolve_chain
from .common import (
    DbOption,
    FromOption,
    JsonOption,
    KeysOption,
    console,
    cor,
    cor_amount,
    emit,
    handle_errors,
    open_engine,
    open_network,
    oracle,
    receipt_out,
    signer,
    table,
)
from .community import register as register_community
from .devnet import register as register_devnet
from .gov import register as register_gov
from .market import register as register_market
from .render import render_status, render_verify
from .serve import register as register_serve
from .simulate import register as register_simulate

app = typer.Typer(
    help="cor-incentives: the incentive and reward engine of a COR inference network.", no_args_is_help=True, pretty_exceptions_enable=False
)
keys_app = typer.Typer(help="Local Ethereum keys for signing.", no_args_is_help=True)
node_app = typer.Typer(help="Nodes: register with a security deposit, unjail, commission, list.", no_args_is_help=True)
stake_app = typer.Typer(help="Staking: bond, unbond, withdraw, delegate, undelegate.", no_args_is_help=True)
slash_app = typer.Typer(help="Slashing: report offences with evidence; list slashes.", no_args_is_help=True)
epoch_app = typer.Typer(help="Epochs: close, show.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(node_app, name="node")
app.add_typer(stake_app, name="stake")
app.add_typer(slash_app, name="slash")
app.add_typer(epoch_app, name="epoch")
register_market(app)
register_community(app)
register_gov(app)
register_serve(app)
register_devnet(app)
register_simulate(app)
register_chain(app)


# --- init, keys ------------------------------------------------------------------------------


@app.command()
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
    made = {n: existing[n] if n in existing else store.new(n, seed=seed) for n in names}
    body = genesis_body(spec, made["oracle"].address, {n: k.address for n, k in made.items()})
    receipt = engine.submit_as(made["oracle"], "genesis", body)
    if "modeldev" in made:
        from ..app.bundled import bundled_model_body

        engine.submit_as(made["modeldev"], "model.register", bundled_model_body())
    data = {
        "ok": True,
        "chain_id": spec["chain_id"],
        "database": engine.store.url,
        "keys_dir": str(store.path),
        "oracle": made["oracle"].address,
        "keys": {n: k.address for n, k in made.items()},
        "supply": body["supply"],
        "seq": receipt.seq,
    }
    emit(
        data,
        as_json,
        lambda: (
            console.print(f"[green]✓[/] network [bold]{spec['chain_id']}[/] created in {engine.store.url}"),
            table("genesis keys", ["name", "address"], [[n, k.address] for n, k in made.items()]),
        ),
    )


@keys_app.command("new")
@handle_errors
def keys_new(name: str, seed: str | None = typer.Option(None, "--seed"), keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """Create a local key."""
    k = Keystore(keys_dir).new(name, seed=seed)
    emit({"name": k.name, "address": k.address}, as_json, lambda: console.print(f"[green]✓[/] key {k.name}: {k.address}"))


@keys_app.command("list")
@handle_errors
def keys_list(keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """List local keys (names and addresses; never private keys)."""
    ks = Keystore(keys_dir).list()
    emit(
        [{"name": k.name, "address": k.address} for k in ks],
        as_json,
        lambda: table("local keys", ["name", "address"], [[k.name, k.address] for k in ks]),
    )


# --- reads -----------------------------------------------------------------------------------


@app.command()
@handle_errors
def status(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Network summary: supply, pools, epoch, nodes."""
    engine = open_network(db)
    data = views.status(engine.state)
    emit(data, as_json, lambda: render_status(data))


@app.command()
@handle_errors
def balance(
    who: str = typer.Argument(..., help="Address or local key name."),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Every account of an address."""
    engine = open_network(db)
    address = Keystore(keys_dir).resolve_address(who)
    data = views.balance(engine.state, address)
    emit(
        data,
        as_json,
        lambda: table(f"accounts of {address}", ["account", "COR"], [[a, v] for a, v in data["accounts"].items()] + [["total", data["total"]]]),
    )


# --- transfers -------------------------------------------------------------------------------


@app.command()
@handle_errors
def transfer(
    to: str = typer.Option(..., "--to"),
    amount: str = typer.Option(..., "--amount", help="COR, e.g. 12.5"),
    sender: str = FromOption,
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Send COR from a wallet to another."""
    engine = open_network(db)
    key = signer(keys_dir, sender)
    dest = Keystore(keys_dir).resolve_address(to)
    r = engine.submit_as(key, "transfer", {"to": dest, "amount": str(cor_amount(amount))})
    receipt_out(r, as_json, f"sent {amount} COR to {dest}")


# --- nodes -----------------------------------------------------------------------------------


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
    from ..core.staking import get_node

    data = views.node(engine.state, get_node(engine.state, address).id, detail=True)
    emit(data, as_json, lambda: table(f"node {address}", ["field", "value"], [[k, v] for k, v in data.items()]))


# --- staking ---------------------------------------------------------------------------------


def _stake_cmd(kind: str, body: dict[str, Any], sender: str, db: str | None, keys_dir: str | None, as_json: bool, message: str) -> None:
    engine = open_network(db)
    r = engine.submit_as(signer(keys_dir, sender), kind, body)
    receipt_out(r, as_json, message)


@stake_app.command("bond")
@handle_errors
def stake_bond(
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Add to the signing node's self-bond."""
    _stake_cmd("stake.bond", {"amount": str(cor_amount(amount))}, sender, db, keys_dir, as_json, f"bonded {amount} COR")


@stake_app.command("unbond")
@handle_errors
def stake_unbond(
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Start unbonding part of the signing node's self-bond."""
    _stake_cmd("stake.unbond", {"amount": str(cor_amount(amount))}, sender, db, keys_dir, as_json, f"unbonding {amount} COR")


@stake_app.command("withdraw")
@handle_errors
def stake_withdraw(sender: str = FromOption, db: str | None = DbOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """Withdraw every matured unbonding entry to the wallet."""
    _stake_cmd("stake.withdraw", {}, sender, db, keys_dir, as_json, "withdrawn matured unbonding")


@stake_app.command("delegate")
@handle_errors
def stake_delegate(
    node: str = typer.Option(..., "--node"),
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Delegate COR to a node."""
    target = Keystore(keys_dir).resolve_address(node)
    _stake_cmd(
        "stake.delegate", {"node": target, "amount": str(cor_amount(amount))}, sender, db, keys_dir, as_json, f"delegated {amount} COR to {target}"
    )


@stake_app.command("undelegate")
@handle_errors
def stake_undelegate(
    node: str = typer.Option(..., "--node"),
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
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
        keys_dir,
        as_json,
        f"undelegating {amount} COR from {target}",
    )


# --- slashing --------------------------------------------------------------------------------


@slash_app.command("report")
@handle_errors
def slash_report(
    node: str = typer.Option(..., "--node"),
    offence: str = typer.Option(..., "--offence", help=", ".join(OFFENCES)),
    evidence: str = typer.Option(..., "--evidence", help="Evidence as a JSON object (or @file.json)."),
    offence_tick: int | None = typer.Option(None, "--offence-tick"),
    reporter: str | None = typer.Option(None, "--reporter", help="Address credited as reporter (oracle reports)."),
    sender: str | None = typer.Option(None, "--from", help="Signer (default: the oracle key)."),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Report an offence with its evidence."""
    engine = open_network(db)
    if evidence.startswith("@"):
        from pathlib import Path

        evidence = Path(evidence[1:]).read_text()
    try:
        ev = json.loads(evidence)
    except ValueError as exc:
        raise InvalidInput(f"--evidence is not valid JSON: {exc}", code="invalid_evidence") from None
    ks = Keystore(keys_dir)
    body: dict[str, Any] = {"node": ks.resolve_address(node), "offence": offence, "evidence": ev}
    if offence_tick is not None:
        body["offence_tick"] = offence_tick
    if reporter:
        body["reporter"] = ks.resolve_address(reporter)
    key = signer(keys_dir, sender) if sender else oracle(engine, keys_dir)
    r = engine.submit_as(key, "slash.report", body)
    receipt_out(r, as_json, f"{offence} reported against {body['node']}")


@slash_app.command("list")
@handle_errors
def slash_list(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Every slash with its evidence hash and split."""
    engine = open_network(db)
    data = [views.slash(s) for s in engine.state.slashes]
    emit(
        data,
        as_json,
        lambda: table(
            "slashes",
            ["id", "node", "offence", "total COR", "burned", "reporter", "treasury", "jailed until"],
            [[d["id"], d["node"], d["offence"], d["total"], d["burned"], d["to_reporter"], d["to_treasury"], d["jailed_until_tick"]] for d in data],
        ),
    )


# --- time ------------------------------------------------------------------------------------


@app.command()
@handle_errors
def tick(
    ticks: int = typer.Option(1, "--ticks", help="How many ticks to advance."),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Advance logical time (oracle); epochs close when their boundary is crossed."""
    engine = open_network(db)
    r = engine.submit_as(oracle(engine, keys_dir), "tick", {"ticks": ticks})
    receipt_out(r, as_json, f"advanced {ticks} tick(s)")


@epoch_app.command("close")
@handle_errors
def epoch_close(db: str | None = DbOption, keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """Advance to the end of the current epoch and settle it (oracle)."""
    engine = open_network(db)
    closing = engine.state.epoch
    r = engine.submit_as(oracle(engine, keys_dir), "epoch.close", {})
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


@app.command()
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


@app.command()
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


@app.command("proof")
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


# --- verify ----------------------------------------------------------------------------------


@app.command()
@handle_errors
def verify(
    db: str | None = DbOption,
    chain_rpc: str | None = typer.Option(
        None, "--chain", help="Also check the log against an EVM chain at this JSON-RPC URL: every posted root, total and log anchor."
    ),
    distributor: str | None = typer.Option(None, "--distributor", help="The RewardsDistributor address for --chain."),
    as_json: bool = JsonOption,
) -> None:
    """Replay the whole log: hash chain, signatures, conservation, projections, epoch roots; with --chain, the posted anchors."""
    if (chain_rpc is None) != (distributor is None):
        raise InvalidInput("--chain and --distributor go together", code="invalid_option")
    engine = open_engine(db)
    total = engine.store.event_count()
    if as_json or total < 2_000:
        report, state = verify_store(engine.store)
    else:
        with Progress(
            TextColumn("verifying"), BarColumn(), TextColumn("{task.completed}/{task.total} events"), TimeElapsedColumn(), console=console
        ) as bar:
            t = bar.add_task("verify", total=total)
            report, state = verify_store(engine.store, progress=lambda seq: bar.update(t, completed=seq + 1))
    if chain_rpc is not None and distributor is not None:
        from ..chain.rpc import Chain, chain_errors
        from ..chain.verify import check_against_chain

        with chain_errors("cor verify --chain"):
            check_against_chain(engine.store, state, Chain(chain_rpc), distributor, report)
    data = report.to_dict()
    emit(data, as_json, lambda: render_verify(data))
    if not report.ok:
        raise typer.Exit(1)
