"""A node agent's link to the service: the HTTP API only, signed with the agent's own key.

``Link`` wraps ``CorClient`` with what a long-running agent needs:

* **Retries on transient errors** — connection refused or reset, timeouts, and the answers that say
  "try again" (429, 500, 502, 503, 504) — with exponential backoff, bounded by ``attempts``.
* **Idempotent writes**: a command is signed once, with the signer's next nonce, and the very same
  signed bytes are re-posted on a transient error (docs/signing.md §4). A ``409 nonce_already_used``
  on a re-post means the first post went through: the agent is the only signer of its key.
* **Stops promptly**: ``interrupt()``, called from the agent's SIGTERM handler, ends a request the main
  thread is blocked in (a loaded server may hold it up to ``timeout``) by raising ``Stopped``.
* **A cheap change detector**: ``head_seq()`` reads ``/healthz``; an agent looks at tasks again
  only when the log has grown.

Every rejection the engine gives (4xx other than 429) is final and raised as ``ApiError``.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from ..app.signing import sign_command
from ..client import ApiError, CorClient

T = TypeVar("T")

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_ATTEMPTS = 8
BACKOFF_FIRST_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0


class Stopped(Exception):
    """The agent was asked to stop while waiting to retry."""


class StopSignal:
    """A stop flag that a signal handler may set: ``set`` takes no lock.

    ``threading.Event.set`` takes the condition lock that ``Event.wait`` holds on its way in and out, and a
    signal handler runs on the main thread between two of its bytecodes: a SIGTERM that lands while the main
    thread is inside ``stop.wait(poll)`` then blocks forever on a lock its own thread holds. (Seen in CI: an
    agent of a devnet, SIGKILLed 20 s after its SIGTERM, never logged "stopped".) Here ``set`` writes one byte
    to a pipe (async-signal-safe) and ``wait`` sleeps in ``select`` on it, which the byte ends at once."""

    def __init__(self) -> None:
        self._flag = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def set(self) -> None:
        self._flag = True
        try:
            os.write(self._write, b"x")
        except BlockingIOError:  # the pipe is full: it is readable already, every wait returns
            pass

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until set or ``timeout`` seconds pass; True when set (as ``threading.Event.wait``)."""
        if not self._flag:
            select.select([self._read], [], [], timeout)
        return self._flag

    def close(self) -> None:
        for fd in (self._read, self._write):
            os.close(fd)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same request may succeed."""
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, ApiError) and exc.status in TRANSIENT_STATUSES


class Link:
    """Reads and signed writes against one API base URL, with retries."""

    def __init__(
        self,
        base_url: str,
        private_key: str | None,
        *,
        log: logging.Logger | None = None,
        stop: StopSignal | threading.Event | None = None,
        timeout: float = 30.0,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self.client = CorClient(base_url, private_key, timeout=timeout)
        self.address = self.client.address
        self.log = log or logging.getLogger("cor.node")
        self.stop = stop or threading.Event()
        self.attempts = attempts
        self.waiting = False  # the main thread is blocked in a request (what ``interrupt`` may end)

    def interrupt(self) -> None:
        """From a signal handler (which runs on the main thread): end the request the main thread waits in.

        Python retries a socket wait that a signal interrupts (PEP 475) unless the handler raises, so without
        this a stopping agent stays in its request until the server answers or the timeout passes."""
        if self.waiting:
            self.waiting = False
            raise Stopped("interrupted")

    def _call(self, fn: Callable[[], T]) -> T:
        if threading.current_thread() is not threading.main_thread():
            return fn()
        if self.stop.is_set():
            raise Stopped("stopping")
        self.waiting = True
        try:
            return fn()
        finally:
            self.waiting = False

    def close(self) -> None:
        self.client.close()

    # --- retrying ------------------------------------------------------------------------------

    def retry(self, what: str, fn: Callable[[], T]) -> T:
        """Call ``fn`` until it succeeds, raises a final error, or ``attempts`` transient failures."""
        delay = BACKOFF_FIRST_SECONDS
        for attempt in range(1, self.attempts + 1):
            try:
                return self._call(fn)
            except Stopped:
                raise
            except Exception as exc:  # noqa: BLE001 - classified just below
                if not is_transient(exc) or attempt == self.attempts:
                    raise
                self.log.info("retry %s after %s (attempt %d/%d)", what, _short(exc), attempt, self.attempts)
                if self.stop.wait(delay):
                    raise Stopped(what) from exc
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- writes --------------------------------------------------------------------------------

    def submit(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Sign ``kind``/``body`` once with the next nonce and post it until it is accepted or refused."""
        if not self.client.private_key:
            raise ValueError("this link has no key")
        body = self.retry("beacon", lambda: self.client.with_beacon(kind, body))
        nonce = self.retry("nonce", lambda: self.client.next_nonce(self.address or ""))
        chain_id = self.retry("chain", self.client.chain_id)
        payload, signature = sign_command(self.client.private_key, chain_id, kind, nonce, body)
        posted = [0]

        def post() -> dict[str, Any]:
            posted[0] += 1
            try:
                return self.client.submit_signed(payload, signature)
            except ApiError as exc:
                if exc.code == "nonce_already_used" and posted[0] > 1:
                    return {"kind": kind, "nonce": nonce, "note": "accepted by an earlier attempt"}
                raise

        return self.retry(kind, post)

    def submit_signed(self, payload: str, signature: str) -> dict[str, Any]:
        """Post a command someone else signed (a router carrying a user's request)."""
        return self.retry("forward", lambda: self.client.submit_signed(payload, signature))

    # --- reads ---------------------------------------------------------------------------------

    def get_json(self, path: str) -> Any:
        """GET any JSON path of the base URL (e.g. a router's ``/router``)."""

        def get() -> Any:
            r = self.client.http.get(path)
            if r.status_code >= 400:
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                raise ApiError(str(body.get("error", "http_error")), str(body.get("message", r.text[:200])), r.status_code)
            return r.json()

        return self.retry(path, get)

    def head_seq(self) -> int:
        return int(self.retry("healthz", self.client.health)["head_seq"])

    def chain(self) -> dict[str, Any]:
        return self.retry("chain", self.client.chain)

    def tasks(
        self,
        *,
        state: str | None = None,
        assigned: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Tasks newest first (``state="open"``: every state in which nodes still owe work), ids in (after_id, before_id)."""
        return self.retry(
            "tasks",
            lambda: self.client.tasks(state=state, assigned=assigned, kind=kind, limit=limit, after_id=after_id, before_id=before_id),
        )

    def tasks_above(self, after_id: int | None = None, *, kind: str | None = None, page: int = 1_000) -> list[dict[str, Any]]:
        """Every task with an id above ``after_id`` (None: every task), of ``kind`` when given, oldest first. ``GET /v1/tasks``
        answers newest first: each next page is asked ``before_id`` the smallest id of the one before, until a page
        comes back short, so ``n`` tasks take ``n // page + 1`` requests (``page``: at most the API's 1 000)."""
        out: list[dict[str, Any]] = []
        before: int | None = None
        while True:
            got = self.tasks(kind=kind, after_id=after_id, before_id=before, limit=page)
            out += got
            if len(got) < page:
                return sorted(out, key=lambda t: t["id"])
            before = min(t["id"] for t in got)

    def all_tasks(self, page: int = 1_000) -> list[dict[str, Any]]:
        """Every task, oldest first (``tasks_above``)."""
        return self.tasks_above(page=page)

    def task(self, task_id: int) -> dict[str, Any]:
        return self.retry("task", lambda: self.client.task(task_id))

    def get_blob(self, content_hash: str) -> bytes:
        return self.retry("get_blob", lambda: self.client.get_blob(content_hash))

    def put_blob(self, data: bytes) -> str:
        return self.retry("put_blob", lambda: self.client.put_blob(data))

    def session(self, session_id: int) -> dict[str, Any]:
        return self.retry("session", lambda: self.client.session(session_id))

    def params(self) -> dict[str, Any]:
        """The network's parameters in force (``/v1/params``: ``in_force``, ``history`` by epoch, ``schema``)."""
        return self.retry("params", self.client.params)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:120]}"


def wait_for_api(base_url: str, timeout_seconds: float, stop: StopSignal | threading.Event | None = None) -> None:
    """Block until ``/healthz`` answers 200 (or raise TimeoutError)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url.rstrip("/") + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if stop is not None and stop.wait(0.1):
            raise Stopped("wait_for_api")
        time.sleep(0.05)
    raise TimeoutError(f"the API at {base_url} did not answer within {timeout_seconds:g}s")
