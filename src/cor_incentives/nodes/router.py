"""The router node: an HTTP gateway that carries users' signed requests to the service.

A user talks to its router exactly as it would talk to the API (same paths, same ``CorClient``):
the router forwards every request to the API and returns the answer unchanged. It cannot alter a
request — a command is signed by the user, and the signature covers the body, including the
``router`` field that names who earns the routing share of the fee (``fee_split_bps["router"]``).
All a router can do is carry a request or drop it; so the honest router below carries everything,
and refuses only a ``task.submit`` that does not name it (it would carry that work for free, and a
user who wants no router can post to the API directly).

Extra route: ``GET /router`` → ``{"address", "role": "router", "api"}`` (how a user learns the
address to put in ``router``).

One log line per forwarded command: kind, actor, answer status.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

MAX_BODY_BYTES = 1 << 20  # the API refuses more than this anyway (413)
FORWARD_TIMEOUT_SECONDS = 30.0


class RouterGateway:
    """A threaded HTTP server on ``host:port`` forwarding to ``api_url`` (one per router node)."""

    def __init__(self, address: str, api_url: str, log: logging.Logger, host: str = "127.0.0.1", port: int = 0) -> None:
        self.address = address
        self.api_url = api_url.rstrip("/")
        self.log = log
        self.http = httpx.Client(base_url=self.api_url, timeout=FORWARD_TIMEOUT_SECONDS)
        self.carried = 0
        self.refused = 0
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="router-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever, which never ran otherwise
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()
        self.http.close()

    # --- the decision ----------------------------------------------------------------------

    def refusal(self, body: bytes) -> dict[str, str] | None:
        """Why this router will not carry a command (None: it will)."""
        try:
            outer = json.loads(body)
            cmd = json.loads(outer["payload"])
        except (ValueError, KeyError, TypeError):
            return None  # malformed: let the API give its precise error
        if isinstance(cmd, dict) and cmd.get("kind") == "task.submit":
            named = (cmd.get("body") or {}).get("router") if isinstance(cmd.get("body"), dict) else None
            if named != self.address:
                return {
                    "error": "router_not_named",
                    "message": f"this router ({self.address}) carries task.submit only when the task names it as router",
                }
        return None

    def forward(self, method: str, path: str, body: bytes | None, content_type: str | None) -> tuple[int, bytes, str]:
        headers = {"content-type": content_type} if content_type else {}
        try:
            r = self.http.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            msg = json.dumps({"error": "api_unreachable", "message": f"the router cannot reach the API: {type(exc).__name__}"})
            return 503, msg.encode(), "application/json"
        return r.status_code, r.content, r.headers.get("content-type", "application/json")

    def log_command(self, body: bytes, status: int) -> None:
        try:
            cmd = json.loads(json.loads(body)["payload"])
            kind, actor, detail = cmd.get("kind"), cmd.get("actor"), cmd.get("body", {})
        except (ValueError, KeyError, TypeError):
            kind, actor, detail = "?", "?", {}
        extra = f" prompt={str(detail.get('prompt_hash', ''))[:12]}" if kind == "task.submit" else ""
        self.log.info("carried %s from %s -> %d%s", kind, actor, status, extra)


def _handler(gw: RouterGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return  # one line per command is logged by the gateway itself

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes | None:
            n = int(self.headers.get("content-length") or 0)
            if n > MAX_BODY_BYTES:
                return None
            return self.rfile.read(n) if n else b""

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") == "/router":
                self._reply(200, json.dumps({"address": gw.address, "role": "router", "api": gw.api_url}).encode())
                return
            self._reply(*gw.forward("GET", self.path, None, None))

        def do_PUT(self) -> None:  # noqa: N802
            body = self._body()
            if body is None:
                self._reply(413, b'{"error":"request_too_large","message":"too large for this router"}')
                return
            self._reply(*gw.forward("PUT", self.path, body, self.headers.get("content-type")))

        def do_POST(self) -> None:  # noqa: N802
            body = self._body()
            if body is None:
                self._reply(413, b'{"error":"request_too_large","message":"too large for this router"}')
                return
            if self.path.rstrip("/") == "/v1/commands":
                why = gw.refusal(body)
                if why is not None:
                    gw.refused += 1
                    gw.log.info("refused a command: %s", why["error"])
                    self._reply(400, json.dumps(why).encode())
                    return
                status, out, ctype = gw.forward("POST", self.path, body, self.headers.get("content-type"))
                gw.carried += status < 400
                gw.log_command(body, status)
                self._reply(status, out, ctype)
                return
            self._reply(*gw.forward("POST", self.path, body, self.headers.get("content-type")))

    return Handler
