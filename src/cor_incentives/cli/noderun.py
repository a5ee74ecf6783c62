"""`cor node run`: the supported way to run a node — checks the key and the registration, then becomes the node agent.

It resolves the key (decrypting it once to check the passphrase), asks the API whether the key is a
registered node of that role (and says so if it is jailed or under-bonded), then replaces itself with
``python -m cor_incentives.nodes.agent`` (the same process id, so a supervisor's SIGTERM reaches the
agent, which stops cleanly). The passphrase reaches the agent through ``$COR_KEY_PASSPHRASE`` in its
environment only. docs/operators.md is the operator's guide.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from ..app.keys import PASSPHRASE_ENV, Keystore, passphrase_for, read_keyfile, unlock
from ..client import ApiError, CorClient
from ..core.errors import Conflict, InvalidInput, NotFound
from .common import KeysOption, connect, err_console, handle_errors

RUN_ROLES = ("miner", "validator", "router")
BACKENDS = ("llama", "openai", "scripted")


@handle_errors
def node_run(
    role: str = typer.Option(..., "--role", help="miner, validator or router (the role the key registered with)."),
    key: str = typer.Option(..., "--key", help="Local key name (or address) of the node."),
    api: str | None = typer.Option(None, "--api", envvar="COR_API_URL", help="Base URL of the network's API (or $COR_API_URL)."),
    backend: str = typer.Option("llama", "--backend", help="llama (the bundled model), openai (an OpenAI-compatible server) or scripted."),
    openai_url: str | None = typer.Option(None, "--openai-url", help="With --backend openai: the server's base URL."),
    openai_model: str = typer.Option("default", "--openai-model"),
    threads: int = typer.Option(1, "--threads", min=1, max=256, help="Inference threads."),
    log_file: str | None = typer.Option(None, "--log-file", help="One line per action (default: cor-data/node-logs/<key>.log)."),
    ready_file: str | None = typer.Option(None, "--ready-file", help="Written (JSON) once the agent is ready."),
    poll_seconds: float = typer.Option(0.5, "--poll-seconds", min=0.05, max=60.0),
    api_wait_seconds: float = typer.Option(60.0, "--api-wait-seconds", min=0.0, max=3600.0, help="How long to wait for the API at start."),
    keys_dir: str | None = KeysOption,
) -> None:
    """Run a node: the agent answers (miner) or scores (validator) its tasks until SIGTERM/SIGINT."""
    if role not in RUN_ROLES:
        raise InvalidInput(f"--role must be one of {', '.join(RUN_ROLES)}, got {role!r}", code="invalid_role")
    if backend not in BACKENDS:
        raise InvalidInput(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}", code="invalid_backend")
    if backend == "openai" and not openai_url:
        raise InvalidInput("--backend openai needs --openai-url", code="missing_openai_url")
    if not api:
        raise InvalidInput("give the network's API with --api URL (or $COR_API_URL)", code="missing_api")
    connect(None, api)  # the URL's shape (invalid_api_url)
    k = Keystore(keys_dir).get(key)
    env = dict(os.environ)
    if k.encrypted:
        passphrase = passphrase_for(k.name)
        unlock(read_keyfile(k.path), passphrase, k.name)  # a wrong passphrase is said here, before anything starts
        env[PASSPHRASE_ENV] = passphrase
    else:
        err_console.print(f"[yellow]![/] key {k.name} is stored unencrypted; `cor keys encrypt {k.name}` encrypts it", highlight=False)
    check_registration(api, k.address, role, k.name)
    log = log_file or str(Path("cor-data") / "node-logs" / f"{k.name}.log")
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "cor_incentives.nodes.agent", "--role", role, "--key-file", str(k.path), "--api", api, "--name", k.name]
    argv += ["--backend", backend, "--threads", str(threads), "--log-file", log, "--poll-seconds", str(poll_seconds)]
    argv += ["--api-wait-seconds", str(api_wait_seconds)]
    if openai_url:
        argv += ["--openai-url", openai_url, "--openai-model", openai_model]
    if ready_file:
        argv += ["--ready-file", ready_file]
    err_console.print(f"[green]✓[/] {role} {k.address} ({k.name}) on {api}, backend {backend}; log {log}", highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def check_registration(api: str, address: str, role: str, name: str) -> None:
    """The key must be a registered node of ``role``; a jailed or under-bonded node is told how to recover, and still runs."""
    try:
        with CorClient(api) as c:
            node = c.get(f"/v1/nodes/{address}")
    except ApiError as exc:
        if exc.status == 404:
            raise NotFound(
                f"{address} ({name}) is not a registered node: `cor node register --from {name} --role {role} --self-bond COR --api {api}` first",
                code="node_not_registered",
            ) from None
        raise
    if node["role"] != role:
        raise Conflict(f"{name} is registered as a {node['role']}, not a {role}", code="role_mismatch")
    if node["state"] == "jailed":
        err_console.print(
            f"[yellow]![/] {name} is jailed until tick {node['jailed_until_tick']}: it is not drawn until `cor node unjail --from {name}` "
            "(after that tick, with its minimum self-bond)",
            highlight=False,
        )
    elif node["state"] != "active":
        err_console.print(f"[yellow]![/] {name} is {node['state']}: bond at least the role's minimum (`cor stake bond`) to be drawn", highlight=False)
