"""`cor serve` itself: uvicorn worker processes, failing fast on a bad database, and the 503 mapping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from cor_incentives.api.app import create_app
from cor_incentives.api.service import ApiService
from cor_incentives.client import CorClient


def test_two_uvicorn_workers_serve_one_database(tmp_path, api_helpers):
    net = api_helpers.make_network(tmp_path / "net", {"alice": "100", "bob": "100"})
    server = api_helpers.start_server(net.url, tmp_path / "serve.log", workers=2)
    try:
        with CorClient(server.base_url, net.keys["alice"].private_key) as alice:
            for _ in range(20):
                alice.transfer(net.keys["bob"].address, 1)
            assert alice.balance(net.keys["bob"].address)["accounts_units"][f"wallet:{net.keys['bob'].address}"] == str(100 * 10**18 + 20)
            assert alice.verify()["ok"]
    finally:
        api_helpers.stop_server(server)
    assert "Started parent process" in server.log()
    assert api_helpers.event_count(net) == 21


def test_serve_runs_httptools_and_uvloop():
    """`cor serve`'s uvicorn parses HTTP with httptools and runs uvloop's event loop (pinned dependencies;
    with h11 and asyncio's loop the single-command path costs ~25 % more CPU: bench/README.md)."""
    import uvloop

    from cor_incentives.cli.serve import server_config

    async def app(scope, receive, send):  # pragma: no cover (never called)
        raise AssertionError

    config = server_config(app, "127.0.0.1", 0, "warning")
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    loop = config.get_loop_factory()()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_forked_workers_connections_get_tcp_nodelay_on_asyncio_s_own_loop(tmp_path, api_helpers, monkeypatch):
    """The socket `cor serve --workers N` binds for its forked workers says it is TCP, so asyncio's own loop
    (uvloop missing, another platform) sets TCP_NODELAY on every connection accepted from it, as uvloop
    does: without it each answer's body waited for the client's delayed ACK, ~40 ms a request (bench/README.md)."""
    import asyncio
    import socket

    from cor_incentives.app.engine import Engine
    from cor_incentives.cli import serve

    net = api_helpers.make_network(tmp_path / "net", {"alice": "100"})
    handed: list[socket.socket] = []

    class Supervisor:  # what run_app hands ForkedWorkers, without forking anything
        def __init__(self, config, sock, *_args) -> None:
            handed.append(sock)

        def run(self) -> None:
            pass

    monkeypatch.setattr(serve, "ForkedWorkers", Supervisor)
    serve.run_app(Engine.open(net.url), net.url, "127.0.0.1", 0, 2, "warning")
    (sock,) = handed

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        assert type(loop) is asyncio.SelectorEventLoop  # asyncio's own transport code, not uvloop's
        seen: asyncio.Future[int] = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport) -> None:  # type: ignore[override]
                seen.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await loop.create_server(Probe, sock=sock)  # as uvicorn's Server.startup(sockets=...) does
        try:
            _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            try:
                return await asyncio.wait_for(seen, 30)
            finally:
                writer.close()
        finally:
            server.close()

    try:
        with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
            assert runner.run(accepted_nodelay()) != 0
    finally:
        sock.close()


def test_serve_fails_fast_on_a_bad_database(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "cor_incentives.cli.serve", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode != 0
    assert "database_unavailable" in p.stderr and "Traceback" not in p.stderr


def test_a_busy_database_is_a_json_503(tmp_path, api_helpers):
    net = api_helpers.make_network(tmp_path / "net", {"alice": "100"})
    svc = ApiService.open(net.url)

    def locked() -> None:
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    svc.engine.refresh = locked  # type: ignore[method-assign]
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as client:
        r = client.get("/v1/status")
    assert r.status_code == 503 and r.json()["error"] == "database_unavailable" and r.json()["message"]


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_count_every_worker_s_requests(tmp_path, api_helpers):
    """With two workers each scrape, whichever worker answers it, reports every worker's counts (not its own share)."""
    net = api_helpers.make_network(tmp_path / "net", {"alice": "100", "bob": "100"})
    server = api_helpers.start_server(net.url, tmp_path / "serve.log", workers=2)
    try:
        with CorClient(server.base_url, net.keys["alice"].private_key) as alice:
            for _ in range(12):
                alice.transfer(net.keys["bob"].address, 1)
        for _ in range(10):  # a new connection each
            assert httpx.get(server.base_url + "/v1/status", timeout=30).status_code == 200
        status = 'cor_http_requests_total{method="GET",route="/v1/status",status="200"}'
        scrapes = [_samples(httpx.get(server.base_url + "/metrics", timeout=30).text) for _ in range(8)]
        for s in scrapes:
            assert s["cor_commands_accepted_total"] == 12 and s[status] == 10, s
            assert s["cor_events_total"] == 13
        served = [s['cor_http_requests_total{method="GET",route="/metrics",status="200"}'] for s in scrapes[1:]]
        assert served == sorted(served) and served[-1] >= 6  # each scrape counts the ones before it
    finally:
        api_helpers.stop_server(server)
    assert server.log().count("Started server process") == 2


def _children(pid: int) -> set[int]:
    return {int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()}


def test_forked_workers_share_the_start_are_replaced_when_they_die_and_stop_with_the_parent(tmp_path, api_helpers):
    """`cor serve --workers 2` forks its workers from the process that opened the database: one start, two
    servers on one socket; a killed worker is replaced by one that re-opens the database (it serves
    the state written since), and SIGTERM to the parent alone stops every worker."""
    net = api_helpers.make_network(tmp_path / "net", {"alice": "100", "bob": "100"})
    server = api_helpers.start_server(net.url, tmp_path / "serve.log", workers=2)
    try:
        parent = server.proc.pid
        first = _children(parent)
        assert len(first) == 2
        with CorClient(server.base_url, net.keys["alice"].private_key) as alice:
            for _ in range(5):
                alice.transfer(net.keys["bob"].address, 1)
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (victim in _children(parent) or len(_children(parent)) < 2):
            time.sleep(0.2)
        now = _children(parent)
        assert len(now) == 2 and victim not in now and len(now & first) == 1
        for _ in range(20):  # new connections: the replacement sees all 6 events
            assert httpx.get(server.base_url + "/v1/status", timeout=30).json()["seq"] == 5
        os.kill(parent, signal.SIGTERM)  # the parent only, not its process group
        server.proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in now):
            time.sleep(0.2)
        assert not any(os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in now)
    finally:
        api_helpers.stop_server(server)
    log = server.log()
    assert log.count("Started server process") == 3 and "starting another" in log


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
