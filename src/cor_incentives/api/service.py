"""The API's one service object: one Engine per process, and the lock that guards its state.

Routes call exactly one method here. Every read first applies what other processes appended
(``Engine.refresh``), then builds its view, both under ``lock``; every write goes through
``Engine.submit`` under the same lock. The lock serialises this process's threads (the engine's state
is not thread-safe); the store's writer lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL advisory lock)
serialises processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..app import chooser, views
from ..app.archive import get_session, get_task
from ..app.beacon import beacon_view
from ..app.engine import Engine, InternalError, Receipt
from ..app.eta import add_etas, tick_seconds_setting
from ..app.prompts import network_prompt_view
from ..app.proofs import TREES
from ..app.verify import verify_store
from ..core.apply import HANDLERS
from ..core.commands import schema_doc
from ..core.errors import EngineError, InvalidInput, NotFound, invariant
from ..core.events import content_hash
from ..core.records import ROLES
from ..core.state import State
from ..core.units import lookup_address as parse_address  # reads: any case (commands are strict)
from ..store import db
from . import readviews
from .metrics import Metrics

if TYPE_CHECKING:
    from .writer_link import WriterLink

T = TypeVar("T")
logger = logging.getLogger("cor.api")

MAX_EVENTS_PER_PAGE = 1_000
MAX_TASKS_PER_PAGE = 1_000
MAX_BOUNTIES_PER_PAGE = 1_000
MAX_BLOB_BYTES = 256 * 1024  # like a command payload: an output or a prompt, not a model
SIGNING_DOCS = "docs/signing.md"


class TooLarge(EngineError):
    """A request body above a documented size limit."""

    code = "request_too_large"
    http_status = 413


class Busy(EngineError):
    """A bounded resource is in use; retry later."""

    code = "busy"
    http_status = 429


def signing_scheme(chain_id: str) -> dict[str, Any]:
    """How a client builds and signs a command for this chain (the short form of docs/signing.md)."""
    return {
        "scheme": "eip191_personal_sign",
        "command": {"chain_id": chain_id, "kind": "<kind>", "actor": "<lower-case 0x address>", "nonce": "<integer>", "body": {}},
        "encoding": "canonical JSON: keys sorted, no whitespace, ASCII only (\\u-escaped), integers below 2**53, "
        "amounts as decimal strings of base units (1 COR = 10**18)",
        "signature": "personal_sign (EIP-191) of exactly the payload bytes, by actor; 65 bytes r||s||v as lower-case hex, "
        "low s, v = 27 or 28 (the one canonical encoding)",
        "nonce": "above the actor's last accepted nonce by at most 1000000 (GET /v1/nonce/{address} gives the next one)",
        "bodies": "each kind has one exact body schema (`commands`): unknown fields, wrong types, leading zeros, "
        "non-ASCII digits, bad EIP-55 checksums and nesting deeper than 8 levels are refused",
        "request": {"method": "POST", "path": "/v1/commands", "body": {"payload": "<the canonical JSON as a string>", "signature": "0x..."}},
        "docs": SIGNING_DOCS,
    }


MAX_BATCH = 256  # commands in one group commit


class _Group:
    """The commands of one batch request: its one future is resolved (or ``then`` called, on the
    committer thread) when the last of them is done (one wake-up per request, not one per command)."""

    __slots__ = ("future", "loop", "remaining", "then")

    def __init__(self, future: asyncio.Future[Any] | None, size: int, then: Callable[[], None] | None = None) -> None:
        self.future = future
        self.loop = future.get_loop() if future is not None else None
        self.remaining = size  # only the committer thread counts down
        self.then = then

    def one_done(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            if self.then is not None:
                self.then()
            elif self.loop is not None and self.future is not None:
                self.loop.call_soon_threadsafe(_resolve, self.future, None)


class _Pending:
    """A command waiting for the group commit, and how its outcome reaches the one who waits:
    an asyncio future resolved on its event loop (``loop``), its batch request's ``_Group``, a
    thread event, or ``then`` called on the committer thread."""

    __slots__ = ("payload", "signature", "signer", "done", "future", "loop", "group", "then", "flush", "result")

    def __init__(
        self,
        payload: bytes,
        signature: str,
        *,
        done: threading.Event | None = None,
        future: asyncio.Future[Any] | None = None,
        group: _Group | None = None,
        then: Callable[[Any], None] | None = None,
        flush: Callable[[], None] | None = None,
        signer: str | None = None,
    ) -> None:
        self.payload = payload
        self.signature = signature
        self.signer = signer  # recovered already by a read worker of this server (None: the engine recovers it)
        self.future = future
        self.loop = future.get_loop() if future is not None else None
        self.done = done
        self.group = group
        self.then = then
        self.flush = flush  # called once per group commit, after every ``then`` of it (see ``submit_then``)
        self.result: Any = None

    def finish(self, result: Any, wake: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]]) -> None:
        """Record the outcome and tell whoever waits. A request awaiting its future is not woken here:
        its (future, result) joins ``wake`` under its event loop, and the committer wakes each loop once
        for the whole batch (``_resolve_all``): one thread-safe call per loop and batch, not per command."""
        self.result = result
        if self.done is not None:
            self.done.set()
        elif self.group is not None:
            self.group.one_done()
        elif self.then is not None:
            self.then(result)
        elif self.loop is not None and self.future is not None:
            wake.setdefault(self.loop, []).append((self.future, result))


def _resolve(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # the request may have been cancelled (client gone): nothing to tell
        future.set_result(result)


def _resolve_all(outcomes: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in outcomes:
        _resolve(future, result)


class ApiService:
    """What the routes call: reads of the engine's state, command submission, the raw log, verify."""

    def __init__(self, engine: Engine, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.lock = threading.Lock()  # the engine's in-memory state
        self._verify_lock = threading.Lock()
        self._queue_ready = threading.Condition()  # guards _queue and _committer
        self._queue: list[_Pending] = []
        self._committer: threading.Thread | None = None
        self._committer_pid = 0  # the process it runs in (a forked worker starts its own)
        self.tick_seconds = tick_seconds_setting()  # the oracle's cadence ($COR_TICK_SECONDS, cor serve --tick-seconds)
        self.writer_link: WriterLink | None = None  # a read worker of `cor serve --workers N`: submits go to the writer

    @classmethod
    def open(cls, db_url: str | None) -> ApiService:
        return cls(Engine.open(db_url))

    # --- reads of the state ------------------------------------------------------------------

    def read(self, view: Callable[[State], T], *, genesis: bool = True) -> T:
        """``view(state)`` on a state that includes every event committed so far by any process."""
        with self.lock:
            self.engine.refresh()
            if genesis:
                self.engine.require_genesis()
            out: T = add_etas(self.engine.state, view(self.engine.state), self.tick_seconds)  # wall-clock ETAs when the tick length is known
            return out

    def status(self) -> dict[str, Any]:
        return self.read(lambda s: {**views.status(s), "chain": self.engine.chain_report()})

    def balance(self, address: str) -> dict[str, Any]:
        who = parse_address(address)
        return self.read(lambda s: views.balance(s, who))

    def nodes(
        self,
        role: str | None = None,
        sort: str | None = None,
        window: int = chooser.DEFAULT_WINDOW_EPOCHS,
        which: str = "live",
        limit: int | None = None,
        after_id: str | None = None,
    ) -> dict[str, Any]:
        after = parse_address(after_id) if after_id is not None else None
        return self.read(lambda s: chooser.node_table(s, role, sort, window, which, limit, after))

    def node(self, node_id: str, window: int = chooser.DEFAULT_WINDOW_EPOCHS) -> dict[str, Any]:
        nid = parse_address(node_id)
        return self.read(lambda s: chooser.node_detail(s, nid, window))

    def estimate_operator(self, role: str, self_bond: int, window: int) -> dict[str, Any]:
        return self.read(lambda s: chooser.estimate_operator(s, role, self_bond, window))

    def estimate_delegation(self, node_id: str, amount: int, window: int) -> dict[str, Any]:
        nid = parse_address(node_id)
        return self.read(lambda s: chooser.estimate_delegation(s, nid, amount, window))

    def slashes(self) -> dict[str, Any]:
        return self.read(lambda s: {"slashes": [views.slash(r) for r in s.slashes]})

    def slash(self, slash_id: int) -> dict[str, Any]:
        return self.read(lambda s: views.slash(views.get_slash(s, slash_id)))

    def epoch(self, n: int) -> dict[str, Any]:
        return self.read(lambda s: views.epoch(s, n))

    def chain_epochs(self) -> dict[str, Any]:
        return self.read(lambda s: {"epochs": views.chain_epochs(s)})

    def tasks(
        self,
        state: str | None = None,
        assigned: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> dict[str, Any]:
        who = parse_address(assigned) if assigned is not None else None
        limit = max(1, min(limit, MAX_TASKS_PER_PAGE))
        return self.read(lambda s: readviews.task_list(s, state, who, kind, limit, after_id, before_id))

    def task(self, task_id: int) -> dict[str, Any]:
        return self.read(lambda s: views.task(s, get_task(s, task_id)))

    def models(self, which: str = "live", limit: int | None = None, after: str | None = None) -> dict[str, Any]:
        return self.read(lambda s: readviews.model_list(s, which, limit, after))

    def model(self, model_id: str, at_tick: int | None = None) -> dict[str, Any]:
        return self.read(lambda s: readviews.model_view(s, model_id, at_tick))

    def quote(self, model: str, input_tokens: int, max_output_tokens: int, redundancy: int | None) -> dict[str, Any]:
        return self.read(lambda s: readviews.quote_view(s, model, input_tokens, max_output_tokens, redundancy))

    def session(self, session_id: int) -> dict[str, Any]:
        return self.read(lambda s: views.session(s, get_session(s, session_id)))

    def statement(self, address: str, epoch: int) -> dict[str, Any]:
        who = parse_address(address)
        return self.read(lambda s: views.statement(s, who, epoch))

    def rewards(self, address: str, from_epoch: int) -> dict[str, Any]:
        who = parse_address(address)
        return self.read(lambda s: views.rewards(s, who, from_epoch))

    def proof(self, address: str, epoch: int) -> dict[str, Any]:
        """The epoch's tree is built (once per process) outside the lock on the state: a first proof of
        a big epoch never holds up other requests; then the proof is O(log n) under the lock."""
        who = parse_address(address)
        chain_id, record = self.read(lambda s: (s.chain_id, views.proof_leaf(s, who, epoch)[0]))
        TREES.tree(chain_id, epoch, record.root, record.leaves)  # a closed epoch's leaves never change
        return self.read(lambda s: views.proof(s, who, epoch))

    def proposals(self) -> dict[str, Any]:
        return self.read(readviews.proposal_list)

    def proposal(self, proposal_id: int) -> dict[str, Any]:
        return self.read(lambda s: readviews.proposal_detail(s, proposal_id))

    def params(self) -> dict[str, Any]:
        return self.read(readviews.params_view)

    def bounties(self, limit: int = 100, after_id: int | None = None, before_id: int | None = None) -> dict[str, Any]:
        limit = max(1, min(limit, MAX_BOUNTIES_PER_PAGE))
        return self.read(lambda s: readviews.bounty_list(s, limit, after_id, before_id))

    def bounty(self, bounty_id: int) -> dict[str, Any]:
        return self.read(lambda s: readviews.bounty_detail(s, bounty_id))

    def next_nonce(self, address: str) -> dict[str, Any]:
        who = parse_address(address)
        return self.read(lambda s: {"address": who, "nonce": self.engine.next_nonce(who)})

    def chain(self) -> dict[str, Any]:
        return self.read(
            lambda s: {
                "chain_id": s.chain_id,
                "oracle": s.oracle,
                "head_seq": s.seq,
                "head_hash": s.head_hash,
                "tick": s.tick,
                "epoch": s.epoch,
                "kinds": sorted(HANDLERS),
                "signing": signing_scheme(s.chain_id),
                "commands": {k: schema_doc(k)["body"] for k in sorted(HANDLERS)},
                "beacon": beacon_view(s),
                "network_prompt": network_prompt_view(s),  # what the next network task must ask (rule 9), or None
            }
        )

    def health(self) -> dict[str, Any]:
        return self.read(lambda s: {"ok": True, "chain_id": s.chain_id or None, "head_seq": s.seq}, genesis=False)

    def metrics_text(self) -> str:
        def gauges(s: State) -> dict[str, Any]:
            roles = {r: 0 for r in ROLES}
            for n in s.nodes.values():
                roles[n.role] = roles.get(n.role, 0) + 1
            return {"events": s.seq + 1, "epoch": s.epoch, "tick": s.tick, "nodes": roles}

        return self.metrics.render(self.read(gauges, genesis=False))

    # --- writes ------------------------------------------------------------------------------

    def submit(self, payload: str, signature: str) -> Receipt:
        """Authenticate, apply and append one signed command (EngineError: rejected, nothing changed).

        For callers on a thread; blocks until the group commit that takes it has finished (see
        ``submit_async``)."""
        done = threading.Event()
        item = _Pending(payload.encode("utf-8"), signature, done=done)
        self._enqueue(item)
        done.wait()
        return self._outcome(item.result)

    async def submit_async(self, payload: str, signature: str) -> Receipt:
        """``submit`` for the event loop: no worker thread per request, the request awaits a future.

        Group commit: requests queue up; one committer thread takes every queued command (up to
        ``MAX_BATCH``) into one writer transaction (``Engine.submit_batch``), each command accepted or
        refused on its own, in arrival order, with one commit for all of them, and resolves each
        request's future. A queue with a condition: nobody polls, and the committer sleeps when
        there is nothing to write."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(_Pending(payload.encode("utf-8"), signature, future=future))
        return self._outcome(await future)

    async def submit_many_async(self, commands: list[tuple[str, str]]) -> list[Receipt | EngineError]:
        """Several signed commands from one request (``POST /v1/commands:batch``), each accepted or
        refused on its own, as if each had been posted alone, in the order given.

        They join the group-commit queue together and in order, so one actor's consecutive nonces
        keep their order; a refused command (its ``EngineError`` in its place) never fails the
        others. A command whose writer transaction failed outright (database unavailable) gets
        ``database_unavailable``; one hit by a bug in the server, ``internal_error``: nothing of it
        was appended either way."""
        group = _Group(asyncio.get_running_loop().create_future(), len(commands))
        items = [_Pending(p.encode("utf-8"), s, group=group) for p, s in commands]
        self._enqueue(*items)
        await group.future
        return self._batch_outcomes(items)

    def submit_then(
        self,
        payload: bytes,
        signature: str,
        then: Callable[[Receipt | BaseException], None],
        flush: Callable[[], None] | None = None,
        signer: str | None = None,
    ) -> None:
        """Queue one command for the group commit; ``then(receipt or the exception refusing it)`` runs
        on the committer thread once it is decided (the writer's side of api/writer_link.py: no event
        loop between the command and its answer). ``flush()``, when given, runs on the committer thread
        once per group commit after every ``then`` of it, once for all the commands sharing that
        ``flush``: where a read worker's answers are buffered by ``then`` and written together by
        ``flush``. ``then`` and ``flush`` must be quick and must not raise. ``signer``: the address a
        read worker of this server recovered the signature to (``Engine.submit_batch``'s ``signers``)."""

        def counted(result: Any) -> None:
            then(self._counted(result))

        self._enqueue(_Pending(payload, signature, then=counted, flush=flush, signer=signer))

    def submit_many_then(self, commands: list[tuple[bytes, str]], then: Callable[[list[Receipt | EngineError]], None]) -> None:
        """``submit_many_async`` with ``then(outcomes)`` called on the committer thread instead of an await."""
        items: list[_Pending] = []
        group = _Group(None, len(commands), then=lambda: then(self._batch_outcomes(items)))
        items.extend(_Pending(p, s, group=group) for p, s in commands)
        self._enqueue(*items)

    def _batch_outcomes(self, items: list[_Pending]) -> list[Receipt | EngineError]:
        out: list[Receipt | EngineError] = []
        for result in (i.result for i in items):
            if isinstance(result, Receipt):
                self.metrics.command_accepted()
                out.append(result)
                continue
            error = result if isinstance(result, EngineError) else _transaction_failure(result)
            self.metrics.command_rejected(error.code)
            out.append(error)
        return out

    def _counted(self, result: Any) -> Receipt | BaseException:
        """A command's outcome, counted in the metrics (an exception is the refusal or the transaction's failure)."""
        if isinstance(result, EngineError):
            self.metrics.command_rejected(result.code)
        elif not isinstance(result, BaseException):
            self.metrics.command_accepted()
        return result  # type: ignore[no-any-return]

    def _outcome(self, result: Any) -> Receipt:
        counted = self._counted(result)
        if isinstance(counted, BaseException):
            raise counted
        return counted

    def _enqueue(self, *items: _Pending) -> None:
        with self._queue_ready:
            self._queue.extend(items)
            if self._committer is None or self._committer_pid != os.getpid():  # (cheaper than Thread.is_alive per command)
                self._committer = threading.Thread(target=self._commit_forever, name="cor-group-commit", daemon=True)
                self._committer_pid = os.getpid()
                self._committer.start()
            self._queue_ready.notify()

    def _commit_forever(self) -> None:
        """The committer thread: wait for queued commands, submit them in batches, tell each waiter.
        Should it ever stop, it says so first: the next command starts another."""
        try:
            self._commit_batches()
        finally:
            with self._queue_ready:
                if self._committer is threading.current_thread():
                    self._committer = None

    def _commit_batches(self) -> None:
        while True:
            with self._queue_ready:
                while not self._queue:
                    self._queue_ready.wait()
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                commands = [(i.payload, i.signature) for i in batch]
                signers = [i.signer for i in batch]
                if any(signers):  # some recovered by a read worker (api/writer_link.py)
                    results: list[Any] = self.engine.submit_batch(commands, hold=self.lock, signers=signers)
                else:
                    results = self.engine.submit_batch(commands, hold=self.lock)
            except BaseException as exc:  # the transaction failed: every command in it fails alike
                results = [exc] * len(batch)
            wake: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
            flushes: dict[Callable[[], None], None] = {}  # each distinct flush once, in batch order
            for i, r in zip(batch, results):
                if i.flush is not None:
                    flushes[i.flush] = None
                try:
                    i.finish(r, wake)
                except RuntimeError:  # that request's event loop has closed: nobody is waiting
                    pass
            for flush in flushes:
                try:
                    flush()
                except Exception:  # noqa: BLE001 (a bug in a flush: logged; the committer must go on)
                    logger.exception("a group commit's flush failed")
            for loop, outcomes in wake.items():  # in batch order within each loop
                try:
                    loop.call_soon_threadsafe(_resolve_all, outcomes)
                except RuntimeError:  # that event loop has closed: nobody is waiting
                    pass

    # --- content-addressed blobs (prompts, outputs) -----------------------------------------

    def put_blob(self, data: bytes) -> dict[str, Any]:
        """Store ``data`` under its sha256 (idempotent; unsigned: the hash is the identity)."""
        if not data:
            raise InvalidInput("the blob is empty", code="empty_blob")
        if len(data) > MAX_BLOB_BYTES:
            raise TooLarge(f"a blob is at most {MAX_BLOB_BYTES} bytes, got {len(data)}", code="blob_too_large", limit=MAX_BLOB_BYTES)
        h = self.engine.store.put_blob(data)
        invariant(h == content_hash(data), "the store keyed a blob by something other than its sha256")
        return {"hash": h, "size": len(data)}

    def get_blob(self, blob_hash: str) -> bytes:
        data = self.engine.store.get_blob(blob_hash.lower())
        if data is None:
            raise NotFound(f"no blob {blob_hash.lower()}", code="blob_not_found")
        return data

    # --- the raw log, verify -----------------------------------------------------------------

    def events(self, after: int, limit: int) -> dict[str, Any]:
        """A page of the raw log, exactly as stored (what an auditor re-hashes and re-verifies)."""
        limit = max(1, min(limit, MAX_EVENTS_PER_PAGE))
        store = self.engine.store
        with store.reader() as conn:
            rows = conn.execute(select(db.events).where(db.events.c.seq > after).order_by(db.events.c.seq).limit(limit)).all()
            head = store.head_seq(conn)
        out = [
            {
                "seq": int(r.seq),
                "tick": int(r.tick),
                "kind": r.kind,
                "actor": r.actor,
                "nonce": int(r.nonce),
                "payload": r.payload,
                "signature": r.signature,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            }
            for r in rows
        ]
        last = out[-1]["seq"] if out else None
        return {"events": out, "head_seq": head, "next_after": last if last is not None and last < head else None}

    def verify(self) -> dict[str, Any]:
        """Replay the whole log and check it (one verify at a time per process)."""
        if not self._verify_lock.acquire(blocking=False):
            raise Busy("a verify is already running in this process; retry when it has finished", code="verify_in_progress")
        try:
            report, _ = verify_store(self.engine.store)
        finally:
            self._verify_lock.release()
        return report.to_dict()


class DatabaseUnavailable(EngineError):
    """The writer transaction that held a command failed (locked, unreachable, connection lost)."""

    code = "database_unavailable"
    http_status = 503


def _transaction_failure(exc: BaseException) -> EngineError:
    """What one command of a batch reports when its whole writer transaction failed (the route that
    takes one command lets the app's exception handlers answer 503 / 500 instead)."""
    if isinstance(exc, (OperationalError, PoolTimeout)):
        return DatabaseUnavailable("the database is unavailable or busy; retry", code="database_unavailable")
    logger.error("a batch command failed in the server: %s", type(exc).__name__, exc_info=exc)
    return InternalError("internal error; see the server log; nothing of this command was appended", code="internal_error")


def _existing_node(state: State, node_id: str) -> str:
    if node_id not in state.nodes:
        raise NotFound(f"no node {node_id}", code="node_not_found", node=node_id)
    return node_id
