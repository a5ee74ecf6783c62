"""Per-request plumbing (plain ASGI, no per-request task): a body size limit, latency metrics, and
one structured log line per request on the ``cor.api`` logger.

The log line is one JSON object: ``method``, ``path``, ``route`` (the matched path template),
``status``, ``ms``, ``pid``, and ``seq`` when the request appended a command to the log.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException

from .metrics import Metrics

MAX_BODY_BYTES = 512 * 1024  # a command payload is at most 256 KiB; JSON string escaping may double it

logger = logging.getLogger("cor.api")

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class RequestObserver:
    """Refuses oversized bodies (413), times every HTTP request, counts it and logs it."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.pid = os.getpid()

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:  # a chunked body that never said its length
                    raise HTTPException(413, f"request body is larger than {self.max_body_bytes} bytes")
            return message

        try:
            if _content_length(scope) > self.max_body_bytes:
                await _too_large(observed_send, self.max_body_bytes)
            else:
                await self.app(scope, bounded_receive, observed_send)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], template, status, seconds)
            if logger.isEnabledFor(logging.INFO):
                line: dict[str, Any] = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": template,
                    "status": status,
                    "ms": round(seconds * 1000, 3),
                    "pid": self.pid,
                }
                seq = scope.get("state", {}).get("seq")
                if seq is not None:
                    line["seq"] = seq
                logger.info(json.dumps(line, separators=(",", ":")))


def _content_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _too_large(send: Callable[[Message], Awaitable[None]], limit: int) -> None:
    body = json.dumps({"error": "request_too_large", "message": f"request body is larger than {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
