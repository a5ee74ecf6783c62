"""One writer for ``cor serve --workers N``: read workers forward the submit routes to it (docs/design.md §9).

Exactly one worker (the writer) applies and appends events; the others (read workers) serve every
read themselves, refreshing their state from the log as a lone server does, and send the raw body of
``POST /v1/commands`` and ``POST /v1/commands:batch`` to the writer over a Unix socket. The writer
answers it with the routes' own parsing, the same group commit as a request it took itself and the
same answer encoding and error mapping (``ingress.single_answer``, ``json_answer``, ``api/errors.py``),
and the read worker sends that answer back unchanged: status, headers, body bytes. A read worker never applies a command, so it never contends for the
database's writer lock and applies the log only when a read needs it.

The socket is bound by the supervising process just before it forks the writer
(``bind_writer_socket``: read workers that connect before the writer's loop runs wait in its backlog),
in a directory only this user can enter, and only the writer keeps it open: a writer that dies leaves
no listener, so a command forwarded before its replacement is up is answered ``503
writer_unavailable`` at once, never left waiting.

A read worker parses a single command's body itself and recovers its signer (libsecp256k1, on the
read worker's core) before forwarding it: the writer's one committer thread, which bounds the
single-command path, then only decodes the payload and checks that signer against its actor
(``app.signing.authenticate_recovered``). The writer trusts that signer because the read worker is a
process of the same server, run by the same user from the same code, reached over a socket only that
user can open: whoever can write on it could write the database itself. It is not the submitter's
word: the submitter's signature is appended unchanged, and ``cor verify`` recovers every one again.
A body that does not parse is answered by the read worker with the error the writer would have
given; a signature that does not recover is forwarded without a signer, and the writer refuses it
itself (the same error as before).

Wire: each read worker keeps one stream to the writer, its requests multiplexed by id; the requests
forwarded in one turn of its event loop go in one write (one wake-up of the writer's link thread,
which shares the writer's GIL with the committer, instead of one per command).
  request: ``>IBI`` (id, route: 0 single / 1 batch / 2 single recovered, body length), then the body;
           route 2's body is ``>BI`` (signer length: 42, or 0 when it did not recover; signature
           length), the signer (ASCII), the signature (UTF-8) and the payload bytes;
  answer:  ``>IHqII`` (id, status, appended seq or -1, header bytes length, body length), then the
           header lines (``name: value`` joined by CRLF) and the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import threading
import time

from ..core.errors import EngineError, Unauthorized
from ..core.signatures import recover_signer
from .errors import error_response
from .ingress import BATCH_PATH, SINGLE_PATH, Answer, json_answer, single_answer
from .routes_commands import batch_results, parse_batch_request, parse_command_request
from .service import ApiService

logger = logging.getLogger("cor.api")

REQUEST = struct.Struct(">IBI")
ANSWER = struct.Struct(">IHqII")
RECOVERED = struct.Struct(">BI")
ROUTES = (SINGLE_PATH, BATCH_PATH)
ROUTE_RECOVERED = 2  # a single command, parsed and its signer recovered by the read worker
SOCKET_NAME = "writer.sock"
FORWARD_TIMEOUT_SECONDS = 120.0
"""How long a read worker waits for the writer's answer (a batch of commands waiting for a busy
database's writer lock takes up to the lock timeout, 60 s by default, then is answered 503)."""
SEND_TIMEOUT_SECONDS = 10  # a read worker that takes no answer for this long is cut off
ACCEPT_RETRY_SECONDS = 0.5


class WriterUnavailable(EngineError):
    """The writer process is not running (being restarted) or did not answer: nothing is known to be appended."""

    code = "writer_unavailable"
    http_status = 503


def bind_writer_socket(directory: str) -> socket.socket:
    """The listening Unix socket the writer accepts read workers on (a stale file of a dead one is replaced)."""
    path = os.path.join(directory, SOCKET_NAME)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


# --- the writer's side ----------------------------------------------------------------------------


class ForwardedCommands:
    """The writer's end: accepts read workers on ``sock``, one thread each. A forwarded body is parsed
    on that thread and joins the same group-commit queue as the writer's own requests; its answer is
    encoded by the committer thread as soon as the command is decided (no event loop between the read
    worker and the engine), and the single-command answers of one group commit go to each read worker
    in one write once the whole group is decided."""

    def __init__(self, service: ApiService, sock: socket.socket) -> None:
        self.service = service
        self.sock = sock
        self.closed = False

    def start(self) -> ForwardedCommands:
        threading.Thread(target=self._accept_forever, name="cor-writer-link", daemon=True).start()
        return self

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _accept_forever(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self.closed:
                    return
                logger.warning("the writer link could not accept a read worker; retrying", exc_info=True)
                time.sleep(ACCEPT_RETRY_SECONDS)  # (out of descriptors, say: no busy loop)
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", SEND_TIMEOUT_SECONDS, 0))
            threading.Thread(target=_Connection(self.service, conn).serve, name="cor-writer-link", daemon=True).start()


class _Connection:
    """One read worker's stream, on the writer: read requests, queue them, send each answer when decided."""

    def __init__(self, service: ApiService, conn: socket.socket) -> None:
        self.service = service
        self.conn = conn
        self.send_lock = threading.Lock()
        self.alive = True
        self.outbox: list[bytes] = []  # single-command answers of the group commit being decided (committer thread only)

    def serve(self) -> None:
        stream = self.conn.makefile("rb")
        try:
            while True:
                head = stream.read(REQUEST.size)
                if len(head) < REQUEST.size:
                    return  # the read worker went away
                rid, route, size = REQUEST.unpack(head)
                body = stream.read(size)
                if len(body) < size or route > ROUTE_RECOVERED:
                    return
                if route == ROUTE_RECOVERED:
                    self._take_recovered(rid, body)
                else:
                    self._take(rid, ROUTES[route], body)
        except OSError:
            return
        finally:
            self.alive = False
            stream.close()
            with contextlib.suppress(OSError):
                self.conn.close()

    def _take(self, rid: int, path: str, body: bytes) -> None:
        try:
            if path == SINGLE_PATH:
                command = parse_command_request(body)
                self.service.submit_then(
                    command.payload.encode("utf-8"), command.signature, lambda result: self._hold(rid, single_answer(result)), flush=self._flush
                )
            else:
                batch = parse_batch_request(body)
                commands = [(c.payload.encode("utf-8"), c.signature) for c in batch.commands]
                self.service.submit_many_then(commands, lambda outcomes: self._send(rid, json_answer(200, batch_results(outcomes), None)))
        except Exception as exc:  # noqa: BLE001 (a body that does not parse: the answer the route gives it)
            self._send(rid, json_answer(*error_response(exc)))

    def _take_recovered(self, rid: int, body: bytes) -> None:
        """A single command the read worker parsed and whose signer it recovered (route 2)."""
        try:
            signer_size, signature_size = RECOVERED.unpack_from(body)
            at = RECOVERED.size + signer_size
            signer = body[RECOVERED.size : at].decode("ascii") or None
            signature = body[at : at + signature_size].decode("utf-8", "surrogatepass")
            payload = body[at + signature_size :]
            self.service.submit_then(payload, signature, lambda result: self._hold(rid, single_answer(result)), flush=self._flush, signer=signer)
        except Exception as exc:  # noqa: BLE001 (a malformed frame: a bug in the read worker, answered like any other)
            self._send(rid, json_answer(*error_response(exc)))

    def _send(self, rid: int, answer: Answer) -> None:
        """Send one answer (on the committer thread, or this connection's): never raises; a read worker
        that stopped reading for SEND_TIMEOUT_SECONDS is cut off (its requests are answered 503 there)."""
        self._write(_frame(rid, answer))

    def _hold(self, rid: int, answer: Answer) -> None:
        """Keep a single command's answer until the group commit that decided it is told (``_flush``);
        never raises (on the committer thread)."""
        try:
            self.outbox.append(_frame(rid, answer))
        except Exception:  # noqa: BLE001 (a bug: logged; the committer thread must go on)
            logger.exception("could not answer a forwarded command")

    def _flush(self) -> None:
        """Send every answer held for this read worker by the group commit just decided, in one write
        (one system call and one wake-up of the read worker per group commit, not one per command)."""
        frames, self.outbox = self.outbox, []
        if frames:
            self._write(b"".join(frames))

    def _write(self, data: bytes) -> None:
        try:
            with self.send_lock:
                if self.alive:
                    self.conn.sendall(data)
        except OSError:
            self.alive = False
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)
        except Exception:  # noqa: BLE001 (a bug: logged; the committer thread must go on)
            logger.exception("could not answer a forwarded command")


def _frame(rid: int, answer: Answer) -> bytes:
    head = b"\r\n".join(k + b": " + v for k, v in answer.headers)
    seq = -1 if answer.seq is None else answer.seq
    return ANSWER.pack(rid, answer.status, seq, len(head), len(answer.body)) + head + answer.body


# --- a read worker's side -------------------------------------------------------------------------


class WriterLink:
    """A read worker's stream to the writer: ``forward`` sends a submit route's body, returns the answer."""

    def __init__(self, path: str, timeout: float = FORWARD_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.timeout = timeout
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        self._next_id = 0
        self._connecting: asyncio.Lock | None = None
        self._reading: asyncio.Task[None] | None = None
        self._out: list[bytes] = []  # frames for _out_writer not yet written (sent once per turn of the loop)
        self._out_writer: asyncio.StreamWriter | None = None

    async def forward(self, path: str, raw: bytes) -> Answer:
        """The writer's answer to ``raw`` posted at ``path`` (WriterUnavailable when there is no writer to ask)."""
        return await self._request(ROUTES.index(path), raw)

    async def forward_command(self, raw: bytes) -> Answer:
        """The writer's answer to ``raw`` posted at ``POST /v1/commands``, parsed here and its signer
        recovered here (route 2); raises what parsing it raises (the error the writer would answer)."""
        command = parse_command_request(raw)
        payload = command.payload.encode("utf-8")
        try:
            signer = recover_signer(payload, command.signature)
        except Unauthorized:
            signer = ""  # the writer recovers it again and refuses it with its own error
        signature = command.signature.encode("utf-8", "surrogatepass")
        body = RECOVERED.pack(len(signer), len(signature)) + signer.encode("ascii") + signature + payload
        return await self._request(ROUTE_RECOVERED, body)

    async def _request(self, route: int, raw: bytes) -> Answer:
        writer = await self._connected()
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        rid = self._next_id
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._pending[rid] = future
        timer = loop.call_later(self.timeout, _time_out, future)  # (cheaper than asyncio.wait_for, which wraps the future in a task)
        try:
            self._queue_frame(writer, REQUEST.pack(rid, route, len(raw)) + raw)
            try:
                return await future
            except TimeoutError:
                raise WriterUnavailable(
                    f"the writer did not answer within {self.timeout:g} s; the command may still be appended (GET /v1/nonce/<address> tells)",
                    code="writer_unavailable",
                ) from None
        finally:
            timer.cancel()
            self._pending.pop(rid, None)

    def _queue_frame(self, writer: asyncio.StreamWriter, frame: bytes) -> None:
        """Send ``frame`` with every other frame queued in this turn of the event loop: one write."""
        if self._out_writer is not writer:
            self._out, self._out_writer = [], writer
        self._out.append(frame)
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._send_out, writer)

    def _send_out(self, writer: asyncio.StreamWriter) -> None:
        if self._out_writer is not writer:  # reconnected since: those frames' requests were failed with the old stream
            return
        frames, self._out = self._out, []
        if frames and not writer.is_closing():
            writer.write(b"".join(frames))

    async def _connected(self) -> asyncio.StreamWriter:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            try:
                reader, writer = await asyncio.open_unix_connection(self.path)
            except OSError:
                raise WriterUnavailable(
                    "the writer process is not running (it is being restarted); nothing was appended: retry", code="writer_unavailable"
                ) from None
            self._writer = writer
            self._reading = asyncio.create_task(self._read_answers(reader, writer))  # (referenced: a bare task may be collected)
            return writer

    async def _read_answers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Resolve each waiting request with its answer; when the stream ends, fail every one still waiting."""
        try:
            while True:
                rid, status, seq, head_size, body_size = ANSWER.unpack(await reader.readexactly(ANSWER.size))
                head = await reader.readexactly(head_size)
                body = await reader.readexactly(body_size)
                headers = [_header(line) for line in head.split(b"\r\n")] if head else []
                future = self._pending.get(rid)
                if future is not None and not future.done():
                    future.set_result(Answer(status, headers, body, None if seq < 0 else seq))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            lost = WriterUnavailable(
                "the writer process stopped before answering; the command may or may not be appended "
                "(GET /v1/nonce/<address> tells): retry with the same nonce is safe",
                code="writer_unavailable",
            )
            for future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(lost)


def _time_out(future: asyncio.Future[Answer]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b": ")
    return name, value
