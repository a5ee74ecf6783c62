"""``cor chain``: a local EVM chain with the COR token and the RewardsDistributor, and the publisher.

    cor chain up [--port P]          start a Hardhat node (in the background), deploy, write the chain file
    cor chain deploy --rpc URL       deploy on a chain that is already running
    cor chain status                 addresses, last posted epoch, each epoch's payout path
    cor chain publish [--watch S]    post every closed epoch (root, total, anchor) and fund it
    cor chain down                   stop the node ``cor chain up`` started

Thin: parse, call ``chain/``, print. web3 is imported inside the commands that use it (it costs
a second at start-up). The chain file (``--chain-file``, default ``$COR_CHAIN_FILE`` or
``cor-data/chain.json``) remembers the RPC URL and the addresses, so the other commands need no flags.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from ..app import views
from ..app.engine import oracle_key
from ..app.keys import Keystore
from ..chain.config import DEV_ETH_WEI, Deployment, chain_file
from ..chain.node import project_root, start_node, stop_pid
from ..core.errors import InvalidInput
from ..core.units import COR, format_cor
from .common import DbOption, JsonOption, KeysOption, console, emit, handle_errors, open_engine, open_network, table

ChainFileOption = typer.Option(None, "--chain-file", help="Where the chain's addresses are kept (default: $COR_CHAIN_FILE or cor-data/chain.json).")
RpcOption = typer.Option(None, "--rpc", help="JSON-RPC URL (default: from the chain file).")
DistributorOption = typer.Option(None, "--distributor", help="RewardsDistributor address (default: from the chain file).")
DEFAULT_SUPPLY = 1_000_000_000 * COR

chain_app = typer.Typer(help="EVM chain: the COR token and the RewardsDistributor; post epochs; claims on chain.", no_args_is_help=True)


F = TypeVar("F", bound=Callable[..., Any])


def chain_errors(fn: F) -> F:
    """A dropped JSON-RPC connection or an unexpected node answer becomes a ChainError (a code, no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..chain.rpc import chain_errors as guard

        with guard(f"cor chain {fn.__name__.removeprefix('chain_')}"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def register(app: typer.Typer) -> None:
    app.add_typer(chain_app, name="chain")


def resolve(chain_file_opt: str | None, rpc: str | None, distributor: str | None) -> tuple[str, str]:
    """The RPC URL and distributor: from the flags, else from the chain file."""
    if rpc and distributor:
        return rpc, distributor
    d = Deployment.load(chain_file(chain_file_opt))
    return rpc or d.rpc_url, distributor or d.distributor


def _publisher_key(db: str | None, keys_dir: str | None, publisher: str | None) -> Any:
    ks = Keystore(keys_dir)
    if publisher:
        return ks.get(publisher)
    engine = open_engine(db)
    if engine.state.params_history is None:
        raise InvalidInput("no network to publish for: run `cor init` first, or pass --publisher KEY", code="no_genesis")
    return oracle_key(engine, ks)


def _supply(db: str | None) -> int:
    try:
        engine = open_engine(db)
    except Exception:
        return DEFAULT_SUPPLY
    return engine.state.genesis_supply + engine.state.minted if engine.state.params_history is not None else DEFAULT_SUPPLY


def up(port: int | None, db: str | None, keys_dir: str | None, publisher: str | None, path: Path) -> Deployment:
    """Start a detached Hardhat node, give the publisher and local keys gas money, deploy, save the chain file."""
    from ..chain.deploy import deploy
    from ..chain.rpc import Chain

    key = _publisher_key(db, keys_dir, publisher)
    supply = _supply(db)
    node = start_node(port, log_path=path.parent / f"hardhat-{port or 'auto'}.log", detach=True)
    try:
        chain = Chain(node.rpc_url)
        for k in {key.address, *(k.address for k in Keystore(keys_dir).list())}:
            chain.set_balance(k, DEV_ETH_WEI)
        d = deploy(chain, key.private_key, key.address, supply)
    except BaseException:
        node.stop()
        raise
    d.node_pid, d.node_log = node.pid, str(node.log_path)
    d.save(path)
    return d


@chain_app.command("up")
@handle_errors
@chain_errors
def chain_up(
    port: int | None = typer.Option(None, "--port", help="Port for the JSON-RPC node (default: a free one)."),
    publisher: str | None = typer.Option(None, "--publisher", help="Key that owns the distributor and posts (default: the network's oracle)."),
    chain_file_opt: str | None = ChainFileOption,
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Start a local Hardhat chain in the background and deploy the COR token and the RewardsDistributor."""
    path = chain_file(chain_file_opt)
    if path.is_file():
        old = Deployment.load(path)
        if old.node_pid and _is_our_node(old.node_pid):
            raise InvalidInput(f"a chain is already up (pid {old.node_pid}, {old.rpc_url}); `cor chain down` first", code="chain_already_up")
    d = up(port, db, keys_dir, publisher, path)
    emit({"ok": True, **d.to_dict(), "chain_file": str(path)}, as_json, lambda: _render_deployment(d, path))


@chain_app.command("deploy")
@handle_errors
@chain_errors
def chain_deploy(
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of a running chain."),
    publisher: str | None = typer.Option(None, "--publisher", help="Key that owns the distributor and posts (default: the network's oracle)."),
    fund: bool = typer.Option(False, "--fund", help="Give the publisher and local keys gas money first (Hardhat nodes only)."),
    chain_file_opt: str | None = ChainFileOption,
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Deploy the COR token and the RewardsDistributor on a running chain (the publisher pays the gas)."""
    from ..chain.deploy import deploy
    from ..chain.rpc import Chain

    key = _publisher_key(db, keys_dir, publisher)
    chain = Chain(rpc)
    if fund:
        for k in {key.address, *(k.address for k in Keystore(keys_dir).list())}:
            chain.set_balance(k, DEV_ETH_WEI)
    d = deploy(chain, key.private_key, key.address, _supply(db))
    path = chain_file(chain_file_opt)
    d.save(path)
    emit({"ok": True, **d.to_dict(), "chain_file": str(path)}, as_json, lambda: _render_deployment(d, path))


def short(tx: str | None) -> str:
    """A transaction hash for a table (the JSON output has it whole)."""
    return f"{tx[:10]}…{tx[-6:]}" if tx else ""


def _render_deployment(d: Deployment, path: Path) -> None:
    table(
        "chain",
        ["", ""],
        [
            ["rpc_url", d.rpc_url],
            ["evm chain id", d.evm_chain_id],
            ["token (COR ERC-20)", d.token],
            ["distributor", d.distributor],
            ["publisher (owner)", d.publisher],
            ["deployed in block", d.block],
            ["node pid", d.node_pid or "-"],
            ["chain file", path],
        ],
    )


def _is_our_node(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return "hardhat" in cmdline and str(project_root()) in cmdline


@chain_app.command("down")
@handle_errors
def chain_down(chain_file_opt: str | None = ChainFileOption, as_json: bool = JsonOption) -> None:
    """Stop the Hardhat node that `cor chain up` started (only that process)."""
    path = chain_file(chain_file_opt)
    d = Deployment.load(path)
    stopped = None
    if d.node_pid and _is_our_node(d.node_pid):
        stop_pid(d.node_pid)
        stopped = d.node_pid
    d.node_pid = None
    d.save(path)
    emit(
        {"ok": True, "stopped_pid": stopped},
        as_json,
        lambda: console.print(f"[green]✓[/] stopped the chain node (pid {stopped})" if stopped else "no running chain node to stop"),
    )


@chain_app.command("status")
@handle_errors
@chain_errors
def chain_status(
    rpc: str | None = RpcOption,
    distributor: str | None = DistributorOption,
    chain_file_opt: str | None = ChainFileOption,
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Addresses, the last posted epoch, and each closed epoch's payout path (engine or chain) with tx and block."""
    from ..chain.rpc import Chain
    from ..chain.verify import read_posted

    rpc_url, dist_address = resolve(chain_file_opt, rpc, distributor)
    chain = Chain(rpc_url)
    dist = chain.contract("RewardsDistributor", dist_address)
    token = chain.contract("CorToken", chain.call(dist.functions.token(), "token()"))
    posted = read_posted(chain, dist)
    engine = open_engine(db)
    epochs = views.chain_epochs(engine.state) if engine.state.params_history is not None else []
    data = {
        "rpc_url": rpc_url,
        "evm_chain_id": chain.chain_id,
        "block": chain.block_number(),
        "distributor": dist_address.lower(),
        "token": str(token.address).lower(),
        "publisher": str(chain.call(dist.functions.owner(), "owner()")).lower(),
        "distributor_balance_units": str(chain.call(token.functions.balanceOf(dist.address), "balanceOf")),
        "posted_epochs": len(posted),
        "last_posted_epoch": max((p.epoch for p in posted), default=None),
        "epochs": epochs,
    }

    def render() -> None:
        table(
            "chain",
            ["", ""],
            [[k, data[k]] for k in ("rpc_url", "evm_chain_id", "block", "token", "distributor", "publisher", "posted_epochs", "last_posted_epoch")]
            + [["distributor holds", f"{format_cor(int(data['distributor_balance_units']))} COR"]],
        )
        table(
            "epochs",
            ["epoch", "payout", "claimable COR", "tx", "block", "anchor seq"],
            [
                [
                    e["epoch"],
                    e["status"],
                    format_cor(int(e["claimable_total_units"])),
                    short((e["onchain"] or {}).get("tx_hash")),
                    (e["onchain"] or {}).get("block") or "",
                    (e["onchain"] or {}).get("anchor_seq", ""),
                ]
                for e in epochs
            ],
        )

    emit(data, as_json, render)


@chain_app.command("publish")
@handle_errors
@chain_errors
def chain_publish(
    rpc: str | None = RpcOption,
    distributor: str | None = DistributorOption,
    chain_file_opt: str | None = ChainFileOption,
    watch: float | None = typer.Option(None, "--watch", min=0.1, max=86_400.0, help="Keep publishing, looking every this many seconds."),
    db: str | None = DbOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Post every closed epoch not yet on chain: log it (bridge.post), post and fund it, confirm it. Safe to re-run."""
    from ..chain.publisher import EngineLog, Publisher
    from ..chain.rpc import Chain

    rpc_url, dist_address = resolve(chain_file_opt, rpc, distributor)
    engine = open_network(db)
    key = oracle_key(engine, Keystore(keys_dir))
    publisher = Publisher(EngineLog(engine, key), Chain(rpc_url), dist_address, key)
    done = [p.to_dict() for p in publisher.publish()]
    try:
        while watch:
            time.sleep(watch)
            for p in publisher.publish():
                done.append(p.to_dict())
                if not as_json:
                    console.print(f"[green]✓[/] epoch {p.epoch} {p.action} in block {p.block} (tx {p.tx_hash})")
    except KeyboardInterrupt:  # stopping a watch is the normal way out; everything posted so far is reported
        pass
    emit(
        {"ok": True, "published": done},
        as_json,
        lambda: table(
            f"published {len(done)} epoch(s)",
            ["epoch", "action", "COR", "leaves", "claimed off-chain", "tx", "block", "gas"],
            [
                [
                    p["epoch"],
                    p["action"],
                    format_cor(int(p["total_units"])),
                    p["leaves"],
                    p["claimed_offchain"],
                    short(p["tx_hash"]),
                    p["block"],
                    p["gas_used"] or "",
                ]
                for p in done
            ],
        ),
    )
