"""The writer link in one process: a read worker's app forwards to a writer served on a real Unix socket
(two engines on one real SQLite file), through the ingress and through the declared FastAPI routes
(which serve the submit paths when the ingress steps aside, e.g. under a root path); with no writer
listening, an immediate `503 writer_unavailable`."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from fastapi.testclient import TestClient

from cor_incentives.api.app import create_app
from cor_incentives.api.service import ApiService
from cor_incentives.api.writer_link import SOCKET_NAME, ForwardedCommands, WriterLink, bind_writer_socket
from cor_incentives.app.signing import sign_command

from .conftest import make_network


def test_a_read_worker_forwards_both_routes_and_applies_nothing_itself(tmp_path):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    alice, bob = net.keys["alice"], net.keys["bob"]
    link_dir = tempfile.mkdtemp(prefix="cor-w-")  # short: a Unix socket path is at most 107 bytes
    server = None
    try:
        writer = ApiService.open(net.url)
        server = ForwardedCommands(writer, bind_writer_socket(link_dir)).start()
        reader = ApiService.open(net.url)
        reader.writer_link = WriterLink(os.path.join(link_dir, SOCKET_NAME))
        start = reader.engine.state.seq

        def transfer(nonce: int) -> dict[str, str]:
            payload, sig = sign_command(alice.private_key, net.chain_id, "transfer", nonce, {"to": bob.address, "amount": "7"})
            return {"payload": payload.decode(), "signature": sig}

        with TestClient(create_app(service=reader), root_path="/api") as client:
            r = client.post("/api/v1/commands", json=transfer(1))  # under a root path: the declared route serves it
            assert r.status_code == 200 and r.json()["seq"] == start + 1, r.text
            r = client.post("/api/v1/commands:batch", json={"commands": [transfer(2), transfer(2)]})
            assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == [200, 409], r.text
            assert writer.engine.state.seq == start + 2
            assert reader.engine.state.seq == start  # the read worker applied nothing to forward them
            r = client.post("/api/v1/commands", json={"payload": "x", "signature": "y"})
            assert (r.status_code, r.json()["error"]) == (400, "invalid_payload"), r.text  # the writer's refusal, passed on
            assert client.get("/api/v1/status").json()["seq"] == start + 2  # a read catches up from the log
        with TestClient(create_app(service=reader)) as client:  # the ingress forwards
            r = client.post("/v1/commands", json=transfer(3))
            assert r.status_code == 200 and r.json()["seq"] == start + 3, r.text
        server.close()
        nobody = ApiService.open(net.url)
        nobody.writer_link = WriterLink(os.path.join(link_dir, "none.sock"))
        for root, path in (("", "/v1/commands"), ("/api", "/api/v1/commands"), ("", "/v1/commands:batch")):
            with TestClient(create_app(service=nobody), root_path=root) as client:
                body = transfer(4) if "batch" not in path else {"commands": [transfer(4)]}
                r = client.post(path, json=body)
                assert r.status_code == 503 and r.json()["error"] == "writer_unavailable", (path, r.text)
        assert writer.engine.store.event_count() == start + 4
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(link_dir, ignore_errors=True)


def test_a_writer_that_never_answers_is_a_503_after_the_timeout_not_a_hang(tmp_path):
    """A writer that accepts and then says nothing (stuck, stopped): the read worker answers
    `503 writer_unavailable` once its timeout has passed (1 s here; 120 s in `cor serve`)."""
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    alice, bob = net.keys["alice"], net.keys["bob"]
    link_dir = tempfile.mkdtemp(prefix="cor-w-")
    mute = bind_writer_socket(link_dir)  # listens, never accepts: connections wait in its backlog
    try:
        reader = ApiService.open(net.url)
        reader.writer_link = WriterLink(os.path.join(link_dir, SOCKET_NAME), timeout=1.0)
        payload, sig = sign_command(alice.private_key, net.chain_id, "transfer", 1, {"to": bob.address, "amount": "7"})
        with TestClient(create_app(service=reader)) as client:
            t0 = time.monotonic()
            r = client.post("/v1/commands", json={"payload": payload.decode(), "signature": sig})
            waited = time.monotonic() - t0
        assert r.status_code == 503 and r.json()["error"] == "writer_unavailable" and "1 s" in r.json()["message"], r.text
        assert 1.0 <= waited < 30
        assert reader.engine.store.event_count() == reader.engine.state.seq + 1  # nothing appended
    finally:
        mute.close()
        shutil.rmtree(link_dir, ignore_errors=True)
