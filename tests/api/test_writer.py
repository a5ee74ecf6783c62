"""`cor serve --workers 2`: one writer, which takes no HTTP connection, and one read worker that takes
them all and forwards the submit routes to it.

Real `cor serve` processes on a SQLite file and on PostgreSQL, real HTTP (a fresh connection per
request, so the kernel would hand requests to any worker that listened), real keys and signatures. Each worker's role
and every request's serving pid come from the server's own log."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import httpx

from cor_incentives.app.engine import Engine
from cor_incentives.app.signing import sign_command
from cor_incentives.app.verify import verify_store

from .conftest import event_count, make_network

UNIT = 10**18
ROLE = re.compile(r"Worker process \[(\d+)\] is the (writer|read worker)")


def _roles(log: str) -> dict[str, int]:
    return {role: int(pid) for pid, role in ROLE.findall(log)}


def _served(log: str, route: str) -> list[dict]:
    """The request log lines (JSON) of one route, in order."""
    out = []
    for line in log.splitlines():
        if line.startswith("{") and f'"route":"{route}"' in line:
            out.append(json.loads(line))
    return out


def _served_once_logged(server, route: str, count: int) -> list[dict]:
    """The request log lines of one route once ``count`` of them are written (or after 30 s, whatever is there): the
    worker writes a request's log line after it sent the answer, so the last answer can arrive before its line does."""
    deadline = time.monotonic() + 30
    while True:
        served = _served(server.log(), route)
        if len(served) >= count or time.monotonic() > deadline:
            return served
        time.sleep(0.05)


def _wait_for_roles(server) -> dict[str, int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        roles = _roles(server.log())
        if len(roles) == 2:
            return roles
        time.sleep(0.1)
    raise AssertionError(server.log())


def _post(base: str, path: str, body: object) -> httpx.Response:
    return httpx.post(base + path, json=body, timeout=60)  # a new connection: any worker that listens may take it


def test_the_read_worker_takes_every_request_and_one_writer_appends_the_commands(tmp_path, db_url, server_factory):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"}, url=db_url)
    srv = server_factory(net.url, workers=2)
    roles = _wait_for_roles(srv)
    alice, bob = net.keys["alice"], net.keys["bob"]
    start = httpx.get(srv.base_url + "/v1/status", timeout=30).json()["seq"]

    def transfer(key, nonce, to, cor):
        payload, sig = sign_command(key.private_key, net.chain_id, "transfer", nonce, {"to": to, "amount": str(cor * UNIT)})
        return {"payload": payload.decode(), "signature": sig}

    receipts = []
    nonce = 20
    for n in range(1, nonce + 1):  # each on a new connection: a writer that listened would be handed some of them
        r = _post(srv.base_url, "/v1/commands", transfer(alice, n, bob.address, 1))
        assert r.status_code == 200, r.text
        receipts.append(r.json())
    served = _served_once_logged(srv, "/v1/commands", nonce)
    assert len(served) == nonce and {x["pid"] for x in served} == {roles["read worker"]}, srv.log()  # the writer takes no HTTP
    assert [x["seq"] for x in receipts] == list(range(start + 1, start + 1 + nonce))  # one log, in order, no gap
    assert all(x["kind"] == "transfer" and x["actor"] == alice.address for x in receipts)
    logged = httpx.get(srv.base_url + "/v1/events", params={"after": start, "limit": 1000}, timeout=30).json()["events"]
    assert [e["hash"] for e in logged] == [x["hash"] for x in receipts]  # each receipt is the writer's, verbatim

    # a batch, over fresh connections too: each command its own outcome, from the one writer
    batch = {"commands": [transfer(bob, 1, alice.address, 2), transfer(bob, 1, alice.address, 3), transfer(alice, nonce + 1, bob.address, 4)]}
    r = _post(srv.base_url, "/v1/commands:batch", batch)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [x["status"] for x in out["results"]] == [200, 409, 200] and out["results"][1]["error"] == "nonce_already_used"
    assert [x["receipt"]["seq"] for x in out["results"] if x["status"] == 200] == [start + nonce + 1, start + nonce + 2]

    # refusals: the same status, headers and bytes every time
    bad_sig = {**transfer(alice, nonce + 2, bob.address, 1), "signature": "0x" + "11" * 65}
    for path, body in (
        ("/v1/commands", bad_sig),
        ("/v1/commands", transfer(alice, 1, bob.address, 1)),  # nonce used
        ("/v1/commands", {"payload": "x"}),  # not {payload, signature}
        ("/v1/commands:batch", {"commands": []}),
    ):
        answers = set()
        for _ in range(8):
            r = _post(srv.base_url, path, body)
            answers.add((r.status_code, r.headers["content-type"], r.headers["content-length"], r.content))
        assert len(answers) == 1 and next(iter(answers))[0] in (401, 409, 422), answers
    for _ in range(10):  # reads include every command
        status = httpx.get(srv.base_url + "/v1/status", timeout=30).json()
        assert status["seq"] == start + nonce + 2
    balances = httpx.get(f"{srv.base_url}/v1/balances/{bob.address}", timeout=30).json()["accounts_units"]
    assert int(balances[f"wallet:{bob.address}"]) == (1000 + nonce + 4 - 2) * UNIT
    assert event_count(net) == start + nonce + 3
    report, _ = verify_store(Engine.open(net.url, create=False).store)
    assert report.ok


def test_a_dead_writer_is_a_clear_503_and_its_replacement_takes_over(tmp_path, db_url, server_factory):
    """With the writer killed and its supervisor stopped (so no replacement comes), the read worker
    answers every command `503 writer_unavailable` at once and appends nothing itself; reads go on.
    Once the supervisor runs again, a new writer takes the same command."""
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"}, url=db_url)
    srv = server_factory(net.url, workers=2)
    roles = _wait_for_roles(srv)
    alice, bob = net.keys["alice"], net.keys["bob"]

    def transfer(nonce):
        payload, sig = sign_command(alice.private_key, net.chain_id, "transfer", nonce, {"to": bob.address, "amount": "5"})
        return {"payload": payload.decode(), "signature": sig}

    assert _post(srv.base_url, "/v1/commands", transfer(1)).status_code == 200
    before = event_count(net)
    parent = srv.proc.pid
    os.kill(parent, signal.SIGSTOP)
    try:
        os.kill(roles["writer"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _state(roles["writer"]) not in ("Z", "gone"):
            time.sleep(0.05)
        for nonce in (2, 2, 3):
            t0 = time.monotonic()
            r = _post(srv.base_url, "/v1/commands", transfer(nonce))
            assert time.monotonic() - t0 < 20  # answered, not left waiting
            assert r.status_code == 503 and r.json()["error"] == "writer_unavailable" and r.json()["message"], r.text
        r = _post(srv.base_url, "/v1/commands:batch", {"commands": [transfer(2)]})
        assert r.status_code == 503 and r.json()["error"] == "writer_unavailable", r.text
        for _ in range(3):
            assert httpx.get(srv.base_url + "/v1/status", timeout=30).json()["seq"] == before - 1
        assert event_count(net) == before  # the read worker appended nothing on its own
    finally:
        os.kill(parent, signal.SIGCONT)
    deadline = time.monotonic() + 90
    statuses = []
    while time.monotonic() < deadline:
        r = _post(srv.base_url, "/v1/commands", transfer(2))
        statuses.append(r.status_code)
        if r.status_code == 200:
            break
        assert r.status_code == 503 and r.json()["error"] == "writer_unavailable", r.text
        time.sleep(0.2)
    assert statuses[-1] == 200, statuses
    assert r.json()["seq"] == before
    assert event_count(net) == before + 1
    assert len(_roles(srv.log())) == 2 and f"writer {roles['writer']} exited" in srv.log()
    new_writer = [int(p) for p, role in ROLE.findall(srv.log()) if role == "writer"][-1]
    assert new_writer != roles["writer"]
    report, _ = verify_store(Engine.open(net.url, create=False).store)
    assert report.ok


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
