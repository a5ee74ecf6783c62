"""The command ingress: ``POST /v1/commands`` and ``POST /v1/commands:batch`` served as plain ASGI,
ahead of FastAPI's routing (docs/design.md §9).

Submitting is what a busy server does most, and FastAPI's per-request machinery (route matching over
every route, dependency solving, request and response objects, exception middleware) cost more CPU
than the engine's own work on a command. The ingress answers exactly what the routes in
``routes_commands`` answer, through the same functions (``submit_one``, ``submit_many``) and the same
error mapping (``api/errors.py``); those routes stay declared for the OpenAPI schema. Anything else
(another method or path) passes on to FastAPI untouched. The request observer still wraps it: the
ingress names the matched route in the scope (``route``) and the appended seq (``state.seq``), so the
metrics and the log line are those of the route.

In a read worker of ``cor serve --workers N`` (``service.writer_link`` set) the ingress forwards the
body to the one writer (api/writer_link.py) and sends back its answer, byte for byte; a single
command is parsed and its signer recovered here first (a body that does not parse gets the answer
the writer would give it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..app.engine import Receipt
from .errors import error_response
from .routes_commands import submit_many, submit_one
from .service import ApiService

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SINGLE_PATH = "/v1/commands"
BATCH_PATH = "/v1/commands:batch"
INGRESS_PATHS = (SINGLE_PATH, BATCH_PATH)


@dataclass(frozen=True)
class Answer:
    """A submit route's whole answer: status, header lines (content-length and content-type included),
    body bytes, and the seq it appended (the single route's receipt), for the observer's log line."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    seq: int | None = None


class CommandIngress:
    """Serves the two submit routes directly; passes every other request on to ``app``."""

    def __init__(self, app: ASGIApp, service: ApiService, routes: dict[str, Any]) -> None:
        self.app = app
        self.service = service
        self.routes = routes  # path -> the FastAPI route declared for it (named in the scope for the observer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or scope["method"] != "POST" or path not in INGRESS_PATHS or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.routes.get(path)
        try:
            raw = await _body(receive)
        except Exception as exc:  # noqa: BLE001 (a body over the size limit: the answer FastAPI's handlers give it)
            await send_answer(send, json_answer(*error_response(exc)))
            return
        if raw is None:  # the client went away before sending its body: nobody to answer
            return
        answer = await answer_submit(self.service, path, raw)
        if answer.seq is not None:
            scope.setdefault("state", {})["seq"] = answer.seq
        await send_answer(send, answer)


async def answer_submit(service: ApiService, path: str, raw: bytes) -> Answer:
    """The answer to a submit route's request body: from the writer when this process forwards its
    writes (a read worker), else from this process's own engine."""
    link = service.writer_link
    if link is not None:
        try:
            forwarded: Answer = await (link.forward_command(raw) if path == SINGLE_PATH else link.forward(path, raw))
        except Exception as exc:  # noqa: BLE001 (writer_unavailable, or a bug: answered like any other error)
            return json_answer(*error_response(exc))
        return forwarded
    return await local_answer(service, path, raw)


async def local_answer(service: ApiService, path: str, raw: bytes) -> Answer:
    """What this process's engine answers to a submit route's body (never raises: every error is its answer)."""
    try:
        if path == SINGLE_PATH:
            return single_answer(await submit_one(service, raw))
        return json_answer(200, await submit_many(service, raw), None)
    except Exception as exc:  # noqa: BLE001 (every exception gets the answer FastAPI's handlers give it)
        return json_answer(*error_response(exc))


def single_answer(outcome: Receipt | BaseException) -> Answer:
    """The single route's answer to a command's outcome: its receipt, or the error refusing it."""
    if isinstance(outcome, BaseException):
        return json_answer(*error_response(outcome))
    return json_answer(200, outcome.to_dict(), None, seq=outcome.seq)


async def _body(receive: Receive) -> bytes | None:
    """The whole request body (None when the client disconnected); the observer bounds its size."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def json_answer(status: int, content: Any, headers: dict[str, str] | None, *, seq: int | None = None) -> Answer:
    """What starlette's ``JSONResponse(content, status, headers)`` sends: the same bytes, the same headers."""
    body = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    names = {k for k, _ in raw}
    if b"content-length" not in names:
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
    if b"content-type" not in names:
        raw.append((b"content-type", b"application/json"))
    return Answer(status, raw, body, seq)


async def send_answer(send: Send, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})
