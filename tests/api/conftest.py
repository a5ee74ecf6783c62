"""Fixtures for the API tests: a network in a temporary SQLite file, and real `cor serve` processes.

Servers are started as ``python -m cor_incentives.cli.serve`` subprocesses on free loopback ports
(real HTTP, real uvicorn), and stopped by their own process id at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from cor_incentives.app.engine import Engine
from cor_incentives.app.genesis import check_genesis_spec, genesis_body
from cor_incentives.app.keys import Key, Keystore
from support.server import Server, start_server, stop_server
from support.services import free_tcp_port as free_port

DEVNET_NAMES = ("faucet", "alice", "bob", "carol", "dave")


@dataclass
class Network:
    url: str
    db_path: Path
    keys: dict[str, Key]
    chain_id: str

    def engine(self) -> Engine:
        return Engine.open(self.url)


def make_network(
    directory: Path, allocations: dict[str, str], *, chain_id: str = "cor-api-test", seed: str = "api", url: str | None = None
) -> Network:
    """Keys for ``oracle`` and every name in ``allocations`` (COR), and the genesis event, in ``directory``
    (and in the database at ``url``, a SQLite file in ``directory`` by default)."""
    directory.mkdir(parents=True, exist_ok=True)
    ks = Keystore(directory / "keys")
    keys = {n: ks.new(n, seed=seed) for n in ["oracle", *allocations]}
    db_path = directory / "cor.db"
    url = url or f"sqlite:///{db_path}"
    engine = Engine.open(url)
    spec = check_genesis_spec(
        {
            "chain_id": chain_id,
            "allocations": {"pool:network_incentives": "250000000", "pool:staking": "100000000", "treasury": "150000000"},
            "key_allocations": allocations,
        }
    )
    engine.submit_as(keys["oracle"], "genesis", genesis_body(spec, keys["oracle"].address, {n: k.address for n, k in keys.items()}))
    engine.store.engine.dispose()
    return Network(url, db_path, keys, chain_id)


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
    return SimpleNamespace(
        make_network=make_network, start_server=start_server, stop_server=stop_server, event_count=event_count, free_port=free_port
    )
