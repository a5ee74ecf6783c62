"""The writer link in one process: a read worker's app forwards to a writer served on a real Unix socket
(two engines on one real SQLite file), through the ingress and through the declared FastAPI routes
(which serve the submit paths when the ingress steps aside, e.g. under a root path); with no writer
listening, an immediate `503 writer_unavailable`."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time

from fastapi.testclient import TestClient

from cor_incentives.api.app import create_app
from cor_incentives.api.service import ApiService
from cor_incentives.api.writer_link import ANSWER, RECOVERED, REQUEST, SOCKET_NAME, ForwardedCommands, WriterLink, _Connection, bind_writer_socket
from cor_incentives.app.signing import sign_bytes, sign_command

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


class _RecordingSocket:
    """The writer's end of a read worker's stream, recording each write the writer makes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.lock = threading.Lock()

    def sendall(self, data: bytes) -> None:
        with self.lock:
            self.writes.append(bytes(data))


def _frames(data: bytes) -> list[tuple[int, int, int, dict]]:
    """(id, status, seq, JSON body) of each answer frame in ``data``."""
    out = []
    while data:
        rid, status, seq, head_size, body_size = ANSWER.unpack_from(data)
        start = ANSWER.size + head_size
        out.append((rid, status, seq, json.loads(data[start : start + body_size])))
        data = data[start + body_size :]
    return out


def _writer_link(tmp_path):
    """A network of alice and bob, its writer, and one read worker's link to it over a socket that records each write."""
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    writer = ApiService.open(net.url)
    sock = _RecordingSocket()
    return net, writer, sock, _Connection(writer, sock)  # type: ignore[arg-type]


def test_one_group_commit_answers_a_read_worker_in_one_write_each_command_its_own_outcome(tmp_path):
    """Forwarded single commands decided by one group commit: every answer goes back in one write (not one
    per command), a refused command among them gets its own error and changes nothing, and each receipt is
    the logged event's."""
    net, writer, sock, conn = _writer_link(tmp_path)
    alice, bob = net.keys["alice"], net.keys["bob"]
    start = writer.engine.state.seq

    def body(nonce: int, amount: str = "7", signer: str | None = None) -> bytes:
        payload, sig = sign_command(alice.private_key, net.chain_id, "transfer", nonce, {"to": bob.address, "amount": amount})
        return json.dumps({"payload": payload.decode(), "signature": sign_bytes(signer, payload) if signer else sig}).encode()

    bodies = {10 + i: body(1 + i) for i in range(6)}
    bodies[30] = body(3)  # nonce 3 again: refused, the others go on
    bodies[31] = body(7, signer=bob.private_key)  # alice's command signed by bob
    bodies[32] = body(7, amount=str(10**30))  # more than alice has
    with writer._queue_ready:  # the committer waits until every command is queued: one group commit takes them all
        for rid in (10, 11, 12, 30, 13, 31, 14, 32, 15):
            conn._take(rid, "/v1/commands", bodies[rid])
    deadline = time.monotonic() + 60
    while sum(len(_frames(w)) for w in sock.writes) < len(bodies) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sock.writes) == 1, [len(_frames(w)) for w in sock.writes]  # one write for the whole group commit
    answers = {rid: (status, seq, out) for rid, status, seq, out in _frames(sock.writes[0])}
    assert sorted(answers) == sorted(bodies)
    refused = {rid: (answers[rid][0], answers[rid][2]["error"]) for rid in (30, 31, 32)}
    assert refused == {30: (409, "nonce_already_used"), 31: (401, "signer_is_not_actor"), 32: (409, "insufficient_funds")}
    assert all(answers[rid][1] == -1 for rid in refused)
    receipts = [answers[rid] for rid in (10, 11, 12, 13, 14, 15)]
    assert [r[0] for r in receipts] == [200] * 6
    assert [r[1] for r in receipts] == [r[2]["seq"] for r in receipts] == list(range(start + 1, start + 7))  # in arrival order
    logged = writer.events(start, 100)["events"]
    assert [e["hash"] for e in logged] == [r[2]["hash"] for r in receipts]  # each receipt is its logged event
    assert writer.engine.store.event_count() == start + 7


def _recovered_frame(payload: bytes, signature: str, signer: str) -> bytes:
    """A route-2 body as a read worker sends it: signer and signature lengths, signer, signature, payload."""
    sig = signature.encode()
    return RECOVERED.pack(len(signer), len(sig)) + signer.encode() + sig + payload


def test_the_writer_takes_the_signer_its_read_worker_recovered_and_recovers_none_itself(tmp_path):
    """Route 2: the writer checks the signer the read worker sent against the actor and does not recover
    the signature again (a valid signature of alice's command sent with bob as its signer is refused
    `signer_is_not_actor`: a writer recovering it itself would accept it); a frame without a signer is
    recovered by the writer (the error of a signature that does not recover is its own)."""
    net, writer, sock, conn = _writer_link(tmp_path)
    alice, bob = net.keys["alice"], net.keys["bob"]
    start = writer.engine.state.seq
    p1, s1 = sign_command(alice.private_key, net.chain_id, "transfer", 1, {"to": bob.address, "amount": "7"})
    p2, s2 = sign_command(alice.private_key, net.chain_id, "transfer", 2, {"to": bob.address, "amount": "7"})
    p3, _ = sign_command(alice.private_key, net.chain_id, "transfer", 3, {"to": bob.address, "amount": "7"})
    conn._take_recovered(1, _recovered_frame(p1, s1, alice.address))
    conn._take_recovered(2, _recovered_frame(p2, s2, bob.address))
    conn._take_recovered(3, _recovered_frame(p3, "0x" + "11" * 65, ""))
    deadline = time.monotonic() + 60
    while sum(len(_frames(w)) for w in sock.writes) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    answers = {rid: (status, out) for w in sock.writes for rid, status, _, out in _frames(w)}
    assert answers[1][0] == 200 and answers[1][1]["seq"] == start + 1, answers
    assert (answers[2][0], answers[2][1]["error"]) == (401, "signer_is_not_actor"), answers
    assert bob.address in answers[2][1]["message"]  # the signer it was told, not the one the signature recovers to
    assert (answers[3][0], answers[3][1]["error"]) == (401, "invalid_signature"), answers
    assert writer.engine.store.event_count() == start + 2


def test_a_read_worker_recovers_the_signer_and_answers_a_body_that_does_not_parse_as_the_writer_would(tmp_path, monkeypatch):
    """Through the ingress of a read worker: a single command reaches the writer with the signer the read
    worker recovered (None when its signature does not recover: the writer refuses it); a body that is not
    `{payload, signature}` is answered by the read worker with the writer's very answer (same status,
    headers, bytes as a lone server's) and never reaches the writer."""
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    alice, bob = net.keys["alice"], net.keys["bob"]
    link_dir = tempfile.mkdtemp(prefix="cor-w-")
    server = None
    try:
        writer = ApiService.open(net.url)
        told: list[str | None] = []
        submit_then = writer.submit_then

        def spy(payload, signature, then, flush=None, signer=None):
            told.append(signer)
            submit_then(payload, signature, then, flush, signer)

        monkeypatch.setattr(writer, "submit_then", spy)
        server = ForwardedCommands(writer, bind_writer_socket(link_dir)).start()
        reader = ApiService.open(net.url)
        reader.writer_link = WriterLink(os.path.join(link_dir, SOCKET_NAME))
        lone = ApiService.open(net.url)
        start = reader.engine.state.seq
        payload, sig = sign_command(alice.private_key, net.chain_id, "transfer", 1, {"to": bob.address, "amount": "7"})
        bad = {"payload": payload.decode(), "signature": "0x" + "11" * 65}
        with TestClient(create_app(service=reader)) as client, TestClient(create_app(service=lone)) as alone:
            r = client.post("/v1/commands", json={"payload": payload.decode(), "signature": sig})
            assert r.status_code == 200 and r.json()["seq"] == start + 1, r.text
            assert told == [alice.address]
            r = client.post("/v1/commands", json=bad)
            assert (r.status_code, r.json()["error"]) == (401, "invalid_signature") and told == [alice.address, None], r.text
            for body in (b'{"payload": "x"}', b"[1, 2", b'{"payload": 1, "signature": "y"}'):
                ours = client.post("/v1/commands", content=body, headers={"content-type": "application/json"})
                theirs = alone.post("/v1/commands", content=body, headers={"content-type": "application/json"})
                assert ours.status_code == 422 and ours.json()["error"] == "invalid_request", ours.text
                assert (ours.status_code, ours.headers["content-type"], ours.content) == (
                    theirs.status_code,
                    theirs.headers["content-type"],
                    theirs.content,
                )
            assert len(told) == 2  # the bodies that did not parse never reached the writer
        assert writer.engine.store.event_count() == start + 2
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(link_dir, ignore_errors=True)


class _FakeStream:
    """A read worker's stream to the writer, recording each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False


def test_a_read_worker_sends_the_commands_of_one_turn_of_its_event_loop_in_one_write():
    """Requests forwarded within one turn of the read worker's event loop reach the writer in one write
    (one system call and one wake-up of the writer's link thread, not one per command), in order, each
    frame whole; a request of a later turn goes in a write of its own."""
    import asyncio

    async def run() -> list[bytes]:
        link = WriterLink("/nonexistent/writer.sock", timeout=30)
        stream = _FakeStream()
        link._writer = stream  # type: ignore[assignment]
        first = [asyncio.ensure_future(link.forward("/v1/commands:batch", b"body%d" % i)) for i in range(5)]
        await asyncio.sleep(0)  # each request queues its frame
        await asyncio.sleep(0)  # and the loop's next turn writes them
        later = asyncio.ensure_future(link.forward("/v1/commands", b"alone"))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        for task in [*first, later]:
            task.cancel()
        await asyncio.gather(*first, later, return_exceptions=True)
        return stream.writes

    writes = asyncio.run(run())
    assert writes == [b"".join(REQUEST.pack(i + 1, 1, 5) + b"body%d" % i for i in range(5)), REQUEST.pack(6, 0, 5) + b"alone"], writes
