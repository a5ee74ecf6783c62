"""``cor devnet``: a whole local network with real node agents (``nodes/devnet.py`` does the work).

Thin: parse the options into a ``DevnetConfig``, run the devnet, show it (a Rich live view on a
terminal; the end table; or exactly one JSON document with ``--json``).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from ..core.errors import InvalidInput
from ..nodes.devnet_config import (
    DEFAULT_DB_PATH,
    DEFAULT_KEYS_DIR,
    DEFAULT_LOG_DIR,
    DEFAULT_MINER_TEMPERATURE,
    DEFAULT_MINERS,
    DEFAULT_VALIDATORS,
    USER_DEPOSIT_COR,
    DevnetConfig,
)
from .common import JsonOption, console, emit, err_console, handle_errors

if TYPE_CHECKING:
    from ..nodes.devnet import Devnet


def _params(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise InvalidInput(f"--param takes NAME=INTEGER, got {pair!r}", code="invalid_parameter")
        out[name.strip()] = int(value)
    return out


def _logger(log_dir: str) -> logging.Logger:
    from pathlib import Path

    Path(log_dir).mkdir(parents=True, exist_ok=True)
    log = logging.getLogger("cor.devnet")
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
    handler = logging.FileHandler(Path(log_dir) / "devnet.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s devnet %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    return log


# --- rendering -------------------------------------------------------------------------------


def live_view(snap: dict[str, Any], config: DevnetConfig) -> Group:
    head = (
        f"[bold]cor devnet[/] · epoch [bold]{snap['epoch']}[/]/{snap['epochs']} · tick [bold]{snap['tick']}[/] · "
        f"{snap['elapsed']:.0f}s · miners {config.backend} · clock {config.clock_mode} ({config.tick_interval:g}s)"
    )
    tasks = Table(title=f"tasks ({snap['tasks']})", show_edge=False)
    for state in snap["tasks_by_state"]:
        tasks.add_column(state)
    tasks.add_row(*[str(v) for v in snap["tasks_by_state"].values()])
    nodes = Table(title="holdings change since start (COR)", show_edge=False)
    for col in ("node", "role", "strategy", "Δ"):
        nodes.add_column(col, justify="right" if col == "Δ" else "left")
    for r in snap["nodes"]:
        delta = r["delta_units"]
        colour = "green" if delta > 0 else "red" if delta < 0 else "dim"
        nodes.add_row(r["name"] + ("" if r["alive"] else " [red](down)[/]"), r["role"], r["strategy"], f"[{colour}]{short_cor(delta, 4)}[/]")
    events = Panel("\n".join(snap["events"][-8:]) or "-", title="recent events", expand=True)
    notes = Panel("\n".join(snap["notes"][-6:]) or "-", title="clock", expand=True)
    return Group(head, tasks, nodes, events, notes)


def _pct(bps: int | None) -> str:
    return "-" if bps is None else f"{bps / 100:.0f}%"


def short_cor(units: int | str, decimals: int = 2) -> str:
    """Base units as COR with a few decimals, rounded toward zero (display only; exact values are in --json)."""
    v = int(units)
    whole, frac = divmod(abs(v), 10**18)
    digits = str(frac * 10**decimals // 10**18).rjust(decimals, "0")
    return f"{'-' if v < 0 else ''}{whole:,}.{digits}"


def slash_summary(data: dict[str, Any]) -> str:
    """The slashes line under the tables: the offences slashed in the reported epochs (the ``slashes`` columns sum
    exactly these), then apart those slashed after them (tasks still settling when the run stopped, in the epoch it left
    open), which no column above counts."""

    def counts(slashes: list[dict[str, Any]]) -> str:
        offences = Counter(f"{x['node']} {x['offence']}" for x in slashes)
        return ", ".join(f"{k} ×{v}" for k, v in sorted(offences.items())) or "none"

    reported = int(data["epochs"])
    inside = [x for x in data["slashes"] if int(x["epoch"]) < reported]
    after = [x for x in data["slashes"] if int(x["epoch"]) >= reported]
    line = f"slashes in the {reported} epoch(s) above: {counts(inside)}"
    if after:
        line += f"; after them (epoch {reported}, left open, not in the columns): {counts(after)}"
    return line


def render_results(data: dict[str, Any]) -> None:
    ms = data.get("miner_sampling") or {}
    sampling = (
        ("greedy" if ms.get("greedy") else f"sampling at temperature {ms['temperature']:g}, a seed per node")
        if ms.get("applies")
        else "canned answers"
    )
    t = Table(title=f"devnet: {data['epochs']} epoch(s), miners {data['backend']} ({sampling}), clock {data['clock']}, {data['wall_seconds']}s")
    right = ("tasks", "cons.", "rep.", "rewards", "fees", "slashes", "net profit")
    for col in ("node", "strategy", *right):
        t.add_column(col, justify="right" if col in right else "left", no_wrap=col in ("node", "net profit"))
    for r in data["nodes"]:
        rep = f"{r['reputation_ppb'] / 1e9:.2f}" if r.get("reputation_ppb") is not None else "-"
        net = int(r["net_profit_units"])
        name = r["name"] + (" [red](jailed)[/]" if r.get("state") == "jailed" else "")
        t.add_row(
            name,
            r["strategy"],
            str(r.get("tasks", "-")),
            _pct(r.get("in_consensus_rate_bps")),
            rep,
            short_cor(r["rewards_units"]),
            short_cor(r["fees_units"], 4),
            short_cor(r["slashes_units"]),
            f"[bold {'green' if net > 0 else 'red'}]{short_cor(net)}[/]",
        )
    console.print(t)
    o = Table(title="users and delegators")
    for col in ("who", "note", "tasks", "paid", "rewards", "slashes", "net"):
        o.add_column(col, justify="left" if col in ("who", "note") else "right")
    for r in data["users"]:
        o.add_row(
            r["name"], "user (pays for tasks)", str(r.get("tasks", "")), short_cor(r["payments_units"]), "", "", short_cor(-int(r["payments_units"]))
        )
    for r in data["delegators"]:
        o.add_row(r["name"], r["strategy"], "", "", short_cor(r["rewards_units"]), short_cor(r["slashes_units"]), short_cor(r["net_profit_units"]))
    console.print(o)
    s = data["tasks"]["by_state"]
    console.print(slash_summary(data))
    if data.get("chain"):
        _render_chain(data["chain"])
    if data.get("audit"):
        console.print(
            "audit (every payout recomputed from the published JSON and docs/rewards.md): "
            + ", ".join(
                f"epoch {a['epoch']} {a['matched']}/{a['total']} "
                + ("[green]ok[/]" if a["ok"] else f"[red]MISMATCH[/] in {', '.join(a['mismatched'])}")
                for a in data["audit"]
            )
        )
    console.print(
        "tasks: "
        + ", ".join(f"{k} {v}" for k, v in s.items())
        + f" · verify: {'[green]ok[/]' if data.get('verify', {}).get('ok') else '[red]FAILED[/]'}"
        f" · db {data['db']} · logs {data['log_dir']}"
    )


def _render_chain(c: dict[str, Any]) -> None:
    t = Table(title=f"on chain: RewardsDistributor {c['distributor']} (EVM chain {c['evm_chain_id']}, {c['rpc_url']})")
    for col in ("epoch", "COR posted", "leaves", "tx", "block", "gas"):
        t.add_column(col, justify="left" if col == "tx" else "right")
    for p in c["posted"]:
        t.add_row(str(p["epoch"]), short_cor(p["total_units"]), str(p["leaves"]), p["tx_hash"], str(p["block"]), str(p["gas_used"] or ""))
    console.print(t)
    cl = c.get("claim")
    if cl:
        console.print(
            f"claimed on chain by {cl['wallet']} ({cl['address']}): {cl['amount']} COR of epoch {cl['epoch']} "
            f"in tx {cl['tx_hash']} (block {cl['block']}, gas {cl['gas_used']}); token balance {short_cor(cl['token_balance_units'], 4)} COR"
        )
    v = c.get("verify") or {}
    console.print(f"verify --chain: {'[green]ok[/]' if v.get('ok') else '[red]FAILED[/]'} ({v.get('chain_epochs_checked')} posted epochs)")


# --- the command -----------------------------------------------------------------------------


def devnet(
    epochs: int = typer.Option(3, "--epochs", min=1, max=1000, help="Epochs to run."),
    seed: str = typer.Option("devnet", "--seed", help="Seed of the keys and of the user's prompt choice."),
    miners_backend: str = typer.Option("llama", "--miners-backend", help="llama (bundled SmolLM2), openai or scripted."),
    openai_url: str | None = typer.Option(None, "--openai-url", help="Base URL of an OpenAI-compatible endpoint (…/v1)."),
    openai_model: str = typer.Option("default", "--openai-model"),
    prompts: str | None = typer.Option(None, "--prompts", help="JSONL prompt set (default: the bundled one)."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Stop the API when the run ends (no dashboard afterwards)."),
    as_json: bool = JsonOption,
    db: str | None = typer.Option(None, "--db", help=f"Database URL (default sqlite:///{DEFAULT_DB_PATH}; recreated each run)."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="API port (default: a free loopback port)."),
    linger: float | None = typer.Option(
        None, "--linger", min=0, max=7 * 86_400, help="Seconds to keep serving after the run (default: until Ctrl-C on a terminal, else 0)."
    ),
    miners: str = typer.Option(DEFAULT_MINERS, "--miners", help="Miner mix: strategy[:count],… (honest lazy garbage copier mismatch offline)."),
    validators: str = typer.Option(DEFAULT_VALIDATORS, "--validators", help="Validator mix: strategy[:count],… (honest copier offline)."),
    routers: int = typer.Option(1, "--routers", min=0, max=8),
    users: int = typer.Option(1, "--users", min=0, max=8),
    clock: str | None = typer.Option(
        None,
        "--clock",
        help="deadline (default: the clock waits only at a deadline with work owed), lockstep (waits for all owed work) or wall (fixed cadence).",
    ),
    tick_seconds: float | None = typer.Option(
        None, "--tick-seconds", min=0.0, max=3_600.0, help="Seconds between ticks (deadline/lockstep: at least)."
    ),
    max_tick_wait: float | None = typer.Option(
        None, "--max-tick-wait", min=0.0, max=3_600.0, help="deadline/lockstep: tick anyway after waiting this many seconds."
    ),
    max_output_tokens: int = typer.Option(48, "--max-output-tokens", min=1, max=4096, help="Cap on every task's max_output_tokens."),
    user_every_ticks: int | None = typer.Option(None, "--user-every-ticks", min=1, help="The user submits a task every N ticks."),
    user_topup_below: str = typer.Option(
        "0.04", "--user-topup-below", help=f"The user tops its {USER_DEPOSIT_COR} COR session deposit back up when it falls below this many COR."
    ),
    param: list[str] = typer.Option([], "--param", help="Genesis parameter override NAME=INTEGER (repeatable)."),
    keys_dir: str = typer.Option(DEFAULT_KEYS_DIR, "--keys-dir", help="Where the devnet's seeded keys are written."),
    log_dir: str = typer.Option(DEFAULT_LOG_DIR, "--log-dir", help="Per-agent log files."),
    llama_threads: int = typer.Option(1, "--llama-threads", min=1, max=64, help="llama.cpp threads per miner process."),
    chain: bool = typer.Option(
        False, "--chain", help="Start a local EVM chain (Hardhat), deploy COR and the RewardsDistributor, post every epoch, claim from a wallet."
    ),
    chain_rpc: str | None = typer.Option(None, "--chain-rpc", help="As --chain, on an EVM chain already running at this JSON-RPC URL."),
    miner_temperature: float = typer.Option(
        DEFAULT_MINER_TEMPERATURE,
        "--miner-temperature",
        help="Sampling temperature of every model-running miner, each with its own seed (0: greedy decoding).",
    ),
    canary_rate: float = typer.Option(
        0.25,
        "--canary-rate",
        min=0.0,
        max=1.0,
        help="Share of network tasks the oracle makes canaries (a planted answer to another prompt; scripted: random letters).",
    ),
) -> None:
    """A whole local network: the API, node agents as processes, an oracle clock; N epochs, then the results."""
    config = DevnetConfig(
        epochs=epochs,
        seed=seed,
        backend=miners_backend,
        openai_url=openai_url,
        openai_model=openai_model,
        prompts=prompts,
        db_url=db,
        port=port,
        keys_dir=keys_dir,
        log_dir=log_dir,
        miners=miners,
        validators=validators,
        routers=routers,
        users=users,
        clock=clock,
        tick_seconds=tick_seconds,
        max_tick_wait_seconds=max_tick_wait,
        max_output_tokens=max_output_tokens,
        user_every_ticks=user_every_ticks,
        user_topup_below=user_topup_below,
        params=_params(param),
        llama_threads=llama_threads,
        miner_temperature=miner_temperature,
        canary_rate=canary_rate,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # stop the agents and the API on SIGTERM as on Ctrl-C
    interactive = err_console.is_terminal and not as_json
    say = (lambda msg: err_console.print(f"[dim]{msg}[/]")) if interactive else (lambda msg: None)
    from ..nodes import devnet_results  # the agents' client (httpx) loads when a devnet runs
    from ..nodes.devnet import Devnet

    net = Devnet(config, _logger(log_dir))
    evm = None
    try:
        say(f"creating a fresh network in {config.url}")
        net.prepare()
        url = net.start_api()
        if chain or chain_rpc:
            evm = _start_chain(net, chain_rpc, say)
        say(f"API on {url}; starting {len(net.specs)} agents")
        net.start_agents(say)
        if interactive:
            with Live(console=err_console, refresh_per_second=4, transient=False) as live:
                net.run_clock(lambda n: live.update(live_view(devnet_results.live_view(n), config)))
        else:
            net.run_clock()
        net.stop_agents()
        data = devnet_results.end_table(net)
        data["verify"] = _verify(net)
        data["audit"] = _audit(net)
        if evm is not None:
            say("posting the last epochs and claiming from a wallet on chain")
            evm.finish([net.keys[n] for n in ("alice", "bob", "carol")], config.url)
            data["chain"] = evm.results()
        emit(data, as_json, lambda: render_results(data))
        if not no_serve:
            _linger(url, linger, as_json)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: stopping the agents and the API")
        raise typer.Exit(130) from None
    except (RuntimeError, TimeoutError) as exc:  # a process did not start or died: say which, with its log tail
        if as_json:
            print(json.dumps({"ok": False, "error": "devnet_failed", "message": str(exc)}))
        else:
            err_console.print(f"[bold red]error[/] (devnet_failed): {exc}")
        raise typer.Exit(2) from None
    finally:
        net.stop_agents()
        net.stop_api()
        if evm is not None:
            evm.stop()
    if not data["verify"].get("ok") or not all(a["ok"] for a in data["audit"]) or (evm is not None and not (data["chain"]["verify"] or {}).get("ok")):
        raise typer.Exit(1)


def _start_chain(net: Devnet, rpc_url: str | None, say: Any) -> Any:
    """Deploy on a new (or the given) chain and post each epoch as it closes (``chain.devnet``)."""
    from pathlib import Path

    from ..chain.devnet import DevnetChain

    if net.oracle is None or net.reader is None:
        raise RuntimeError("the API is not started")
    reader = net.reader
    supply = int(reader.retry("status", reader.client.status)["supply_units"])
    say("starting a Hardhat chain" if rpc_url is None else f"using the chain at {rpc_url}")
    evm = DevnetChain.start(rpc_url, net.keys["oracle"], net.oracle, supply, Path(net.config.log_dir))
    say(f"COR {evm.deployment.token}, RewardsDistributor {evm.deployment.distributor} on {evm.deployment.rpc_url}")
    net.epoch_hooks.append(evm.on_epoch_closed)
    return evm


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _verify(net: Devnet) -> dict[str, Any]:
    if net.reader is None:
        raise RuntimeError("reader is not set up yet")
    r = net.reader.retry("verify", net.reader.client.verify)
    return {k: r.get(k) for k in ("ok", "events", "hash_chain", "conservation", "epochs_checked", "roots_match", "errors")}


def _audit(net: Devnet) -> list[dict[str, Any]]:
    """Every closed epoch recomputed by the independent auditor (``cor audit --api``) from the API's published JSON."""
    from .. import auditor

    out = []
    for epoch in range(net.config.epochs):
        report = auditor.audit_epoch(auditor.fetch_bundle(auditor.api_getter(net.api_url), epoch)).to_dict()
        bad = sorted(name for name, q in report["quantities"].items() if q["matched"] != q["total"])
        out.append({"epoch": epoch, "matched": report["matched"], "total": report["total"], "ok": report["ok"], "mismatched": bad})
    return out


def _linger(url: str, linger: float | None, as_json: bool) -> None:
    forever = linger is None and sys.stdin.isatty()
    seconds = 0.0 if linger is None else linger
    if not forever and seconds <= 0:
        return
    out = err_console if as_json else console
    out.print(f"dashboard: [bold]{url}/[/]  (API docs {url}/docs) — " + ("Ctrl-C to stop" if forever else f"serving for {seconds:g}s"))
    try:
        if forever:
            while True:
                time.sleep(3600)
        time.sleep(seconds)
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    """Add ``devnet`` to a Typer app (``cor devnet``)."""
    app.command("devnet")(handle_errors(devnet))


def main() -> None:
    standalone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(standalone)
    standalone()


if __name__ == "__main__":
    main()
