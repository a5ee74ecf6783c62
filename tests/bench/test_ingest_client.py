"""``bench/ingest.py``'s load generator (``run_http``): one thread, pre-built keep-alive requests. It must
count every answer exactly (a refused command as refused, under its error code), reconnect when a
server closes after answering, and stop on an answer it cannot count rather than guess."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest

from cor_incentives.app.signing import sign_command

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import ingest  # noqa: E402


def test_answer_is_read_only_once_whole_and_says_how_many_bytes_it_used() -> None:
    head = b"HTTP/1.1 409 Conflict\r\ncontent-length: 13\r\ncontent-type: application/json\r\n\r\n"
    body = b'{"error":"x"}'
    assert ingest._answer(bytearray(head[:20])) is None  # the head is not complete
    assert ingest._answer(bytearray(head + body[:5])) is None  # nor the body
    assert ingest._answer(bytearray(head + body + b"HTTP/1.1 2")) == (409, body, False, len(head) + len(body))
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    assert ingest._answer(bytearray(closing)) == (200, b"{}", True, len(closing))
    with pytest.raises(ingest.ResponseError, match="chunked"):
        ingest._answer(bytearray(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))
    with pytest.raises(ingest.ResponseError, match="content-length"):
        ingest._answer(bytearray(b"HTTP/1.1 200 OK\r\nserver: x\r\n\r\n"))
    with pytest.raises(ingest.ResponseError, match="HTTP/1.1"):
        ingest._answer(bytearray(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"))


class CannedServer:
    """Answers each request on a connection with the next of ``answers``; after an answer with
    ``Connection: close`` it closes that connection. Records how many connections it accepted."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            conn, _ = self.sock.accept()
            self.connections += 1
            with conn:
                buf = b""
                while self.answers:
                    while b"\r\n\r\n" not in buf or len(buf) < _request_size(buf):
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    buf = buf[_request_size(buf) :]
                    answer = self.answers.pop(0)
                    conn.sendall(answer)
                    if b"Connection: close" in answer:
                        break

    def close(self) -> None:
        self.sock.close()


def _request_size(buf: bytes) -> int:
    head, _, _ = buf.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    return len(head) + 4 + length


def _http(status: str, body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


def test_counts_canned_answers_and_reconnects_after_a_close() -> None:
    server = CannedServer(
        [
            _http("200 OK", b'{"seq":3,"kind":"transfer"}', "Connection: close\r\n"),
            _http("409 Conflict", b'{"error":"nonce_already_used","message":"m"}'),
            _http("500 Internal Server Error", b"oops"),  # not JSON: counted under its status
            _http("200 OK", b'{"seq":4}'),
        ]
    )
    try:
        commands = [(b'{"n":%d}' % i, "0xsig") for i in range(4)]
        out = ingest.run_http([commands], [server.base])
    finally:
        server.close()
    assert out["accepted"] == 2 and out["rejected"] == {"nonce_already_used": 1, "500": 1}
    assert server.connections == 2  # a new connection after the server said it closes
    assert out["client"] == "raw" and out["client_cpu_ms_per_request"] >= 0


def test_a_200_that_is_not_a_receipt_stops_the_run() -> None:
    server = CannedServer([_http("200 OK", b'{"ok":true}')])
    try:
        with pytest.raises(ingest.ResponseError, match="not a receipt"):
            ingest.run_http([[(b"{}", "0xsig")]], [server.base])
    finally:
        server.close()


@pytest.mark.slow
def test_counts_accepted_and_refused_commands_exactly_against_cor_serve(tmp_path: Path) -> None:
    """Two clients on two ``cor serve`` processes: each client's good commands are accepted, a replayed
    nonce and an unfunded transfer are refused and counted as such, and the log holds exactly the accepted."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    engine, keys, nodes = ingest.make_network(url, tmp_path / "keys", 2)
    chain_id = engine.state.chain_id
    clients = [keys["client000"], keys["client001"]]
    batches = ingest.signed_commands(clients, chain_id, nodes, 6, first_nonce=1)
    batches[0].insert(3, batches[0][1])  # the same signed command again: its nonce is used
    broke = sign_command(clients[1].private_key, chain_id, "transfer", 7, {"to": nodes[0], "amount": str(10**30)})
    batches[1].append(broke)
    head = engine.state.seq
    engine.store.dispose()
    servers = ingest.start_servers(url, 2, 1, tmp_path)
    try:
        out = ingest.run_http(batches, [b for b, _ in servers])
    finally:
        ingest.stop_servers(servers)
    assert out["accepted"] == 12
    assert out["rejected"] == {"nonce_already_used": 1, "insufficient_funds": 1}
    engine.refresh()
    assert engine.state.seq == head + 12
    engine.store.dispose()
