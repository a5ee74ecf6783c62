"""One writer for ``cor serve --workers N``: read workers forward the submit routes to it (docs/design.md §9).

Exactly one worker (the writer) applies and appends events; the others (read workers) serve every
read themselves, refreshing their state from the log as a lone server does, and send the raw body of
``POST /v1/commands`` and ``POST /v1/commands:batch`` to the writer over a Unix socket. The writer
answers it with the ingress's own function (``ingress.local_answer``: the same parsing, group commit
and error mapping as a request it took itself) and the read worker sends that answer back unchanged:
status, headers, body bytes. A read worker never applies a command, so it never contends for the
database's writer lock and applies the log only when a read needs it.

The socket is bound by the supervising process just before it forks the writer
(``bind_writer_socket``: read workers that connect before the writer's loop runs wait in its backlog),
in a directory only this user can enter, and only the writer keeps it open: a writer that dies leaves
no listener, so a command forwarded before its replacement is up is answered ``503
writer_unavailable`` at once, never left waiting.

Wire: each read worker keeps one stream to the writer, its requests multiplexed by id.
  request: ``>IBI`` (id, route: 0 single / 1 batch, body length), then the body;
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

from ..core.errors import EngineError
from .ingress import BATCH_PATH, SINGLE_PATH, Answer, local_answer
from .service import ApiService

logger = logging.getLogger("cor.api")

REQUEST = struct.Struct(">IBI")
ANSWER = struct.Struct(">IHqII")
ROUTES = (SINGLE_PATH, BATCH_PATH)
SOCKET_NAME = "writer.sock"
FORWARD_TIMEOUT_SECONDS = 120.0
"""How long a read worker waits for the writer's answer (a batch of commands waiting for a busy
database's writer lock takes up to the lock timeout, 60 s by default, then is answered 503)."""


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


async def serve_forwarded(service: ApiService, sock: socket.socket) -> asyncio.AbstractServer:
    """Accept read workers on ``sock`` and answer each forwarded request (concurrently: they join the
    same group commit as the writer's own requests)."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                rid, route, size = REQUEST.unpack(await reader.readexactly(REQUEST.size))
                body = await reader.readexactly(size)
                if route >= len(ROUTES):
                    logger.error("a read worker forwarded an unknown route %s; closing its link", route)
                    break
                task = asyncio.create_task(_answer(service, writer, rid, ROUTES[route], body))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the read worker went away (its requests' answers have nobody to reach)
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()

    return await asyncio.start_unix_server(connection, sock=sock)


async def _answer(service: ApiService, writer: asyncio.StreamWriter, rid: int, path: str, body: bytes) -> None:
    answer = await local_answer(service, path, body)
    head = b"\r\n".join(k + b": " + v for k, v in answer.headers)
    seq = -1 if answer.seq is None else answer.seq
    if writer.is_closing():
        return
    writer.write(ANSWER.pack(rid, answer.status, seq, len(head), len(answer.body)) + head + answer.body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()


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

    async def forward(self, path: str, raw: bytes) -> Answer:
        """The writer's answer to ``raw`` posted at ``path`` (WriterUnavailable when there is no writer to ask)."""
        writer = await self._connected()
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        rid = self._next_id
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            writer.write(REQUEST.pack(rid, ROUTES.index(path), len(raw)) + raw)
            try:
                return await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                raise WriterUnavailable(
                    f"the writer did not answer within {self.timeout:g} s; the command may still be appended (GET /v1/nonce/<address> tells)",
                    code="writer_unavailable",
                ) from None
        finally:
            self._pending.pop(rid, None)

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


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b": ")
    return name, value
