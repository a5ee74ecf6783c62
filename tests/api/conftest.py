"""Fixtures for the API tests: a network in a temporary SQLite file, and real `cor serve` processes.

Servers are started as ``python -m cor_incentives.cli.serve`` subprocesses on free loopback ports
(real HTTP, real uvicorn), and stopped by their own process id at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

import httpx
import pytest

from cor_incentives.app.engine import Engine
from cor_incentives.app.genesis import check_genesis_spec, genesis_body
from cor_incentives.app.keys import Key, Keystore

SERVER_START_TIMEOUT_SECONDS = 60
DEVNET_NAMES = ("faucet", "alice", "bob", "carol", "dave")


@dataclass
class Network:
    url: str
    db_path: Path
    keys: dict[str, Key]
    chain_id: str

    def engine(self) -> Engine:
        return Engine.open(self.url)


@dataclass
class Server:
    base_url: str
    proc: subprocess.Popen
    log_path: Path
    lines: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_network(directory: Path, allocations: dict[str, str], *, chain_id: str = "cor-api-test", seed: str = "api",
                 url: str | None = None) -> Network:
    """Keys for ``oracle`` and every name in ``allocations`` (COR), and the genesis event, in ``directory``
    (and in the database at ``url``, a SQLite file in ``directory`` by default)."""
    directory.mkdir(parents=True, exist_ok=True)
    ks = Keystore(directory / "keys")
    keys = {n: ks.new(n, seed=seed) for n in ["oracle", *allocations]}
    db_path = directory / "cor.db"
    url = url or f"sqlite:///{db_path}"
    engine = Engine.open(url)
    spec = check_genesis_spec({
        "chain_id": chain_id,
        "allocations": {"pool:network_incentives": "250000000", "pool:staking": "100000000", "treasury": "150000000"},
        "key_allocations": allocations,
    })
    engine.submit_as(keys["oracle"], "genesis", genesis_body(spec, keys["oracle"].address, {n: k.address for n, k in keys.items()}))
    engine.store.engine.dispose()
    return Network(url, db_path, keys, chain_id)


def start_server(url: str, log_path: Path, *, workers: int = 1, port: int | None = None) -> Server:
    """Start ``cor serve`` in a subprocess and wait until /healthz answers."""
    port = port or free_port()
    log = open(log_path, "w")
    cmd = [sys.executable, "-m", "cor_incentives.cli.serve", "--host", "127.0.0.1", "--port", str(port), "--db", url,
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cor serve exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return Server(base, proc, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(Server(base, proc, log_path))
    raise RuntimeError(f"cor serve did not answer within {SERVER_START_TIMEOUT_SECONDS}s:\n{log_path.read_text()}")


def stop_server(server: Server) -> None:
    """Stop the server we started (its own process group: uvicorn and its workers)."""
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    """A devnet-like network: oracle, faucet (400 M COR), alice, bob, carol, dave (25 M each)."""
    alloc = {"faucet": "400000000", **{n: "25000000" for n in DEVNET_NAMES[1:]}}
    return make_network(tmp_path_factory.mktemp("net"), alloc)


@pytest.fixture(scope="module")
def server(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(network.url, tmp_path_factory.mktemp("srv") / "serve.log")
    yield s
    stop_server(s)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start extra servers inside one test; all are stopped at its end."""
    started: list[Server] = []

    def start(url: str, **kw: object) -> Server:
        s = start_server(url, tmp_path / f"serve-{len(started)}.log", **kw)  # type: ignore[arg-type]
        started.append(s)
        return s

    yield start
    for s in started:
        stop_server(s)


def event_count(network: Network) -> int:
    from cor_incentives.store.db import Store

    store = Store(network.url)
    try:
        return store.event_count()
    finally:
        store.engine.dispose()


@pytest.fixture(scope="session")
def api_helpers() -> SimpleNamespace:
    """The helpers above, for tests (test modules cannot import a conftest by name)."""
    return SimpleNamespace(make_network=make_network, start_server=start_server, stop_server=stop_server,
                           event_count=event_count, free_port=free_port)
