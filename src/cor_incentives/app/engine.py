"""The engine service: accepts signed commands, appends them to the log, keeps the projections (docs/design.md §9).

One writer at a time: ``submit`` takes the store's writer lock, first applies any events other
processes appended since (so several API processes can share one database), then authenticates,
applies and appends the new command, and writes its projections in the same transaction. A command
the core rejects is never appended and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ..core.apply import apply, conservation_holds
from ..core.errors import Conflict, EngineError, InvariantViolation, NotFound, invariant
from ..core.events import Command, Event, make_event
from ..core.state import State
from ..store import db
from ..store.connection import DEFAULT_LOCK_TIMEOUT_SECONDS, DatabaseMissing, database_error, database_url
from ..store.db import Columns, Store
from ..store.document_format import EPOCH_DOCUMENT_FORMAT_KEY, FORMATS, NARROW_FORMAT, TEXT_FORMAT
from ..store.projections import PROJECTION_LAYOUT, PROJECTION_LAYOUT_KEY, Projector, clear_projections, store_layout
from .anchors import checkpoint_for
from .archive import StoreHistory
from .beacon import beacon_view, renewal_from_view, with_beacon
from .collector import engine_memory
from .keys import Key, Keystore
from .logcheck import LogCorrupt, column_problems, link_problems
from .signing import authenticate, authenticate_recovered, seal_decoded, sign_command
from .snapshots import SNAPSHOTS_KEPT, SnapshotRefused, SnapshotReport, snapshot_interval, snapshot_row, state_from_row

logger = logging.getLogger("cor.engine")


@dataclass(frozen=True)
class Receipt:
    """What the log says about an accepted command."""

    seq: int
    hash: str
    kind: str
    actor: str
    tick: int
    epoch: int
    ids: tuple[int, ...] = ()  # the ids the command allocated (the session, task, proposal, bounty… it created)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "kind": self.kind,
            "actor": self.actor,
            "tick": self.tick,
            "epoch": self.epoch,
            "ids": list(self.ids),
        }


class Engine:
    """The in-memory state of one database's log, and the way to extend that log.

    Nothing loaded is trusted: every event read from the database (at start-up, on refresh, and
    before a write) is checked against the chain (``app.logcheck``) and applied by the core; the
    first bad event stops the engine with ``log_corrupt`` naming its seq. ``chain_checked_seq`` says
    how far the log has been checked.

    Opening starts from the newest stored state snapshot that checks out (``app.snapshots``) and
    replays only the events after it; ``snapshots=False`` replays the whole log. A refused snapshot
    is logged with its reason and the whole log is replayed (``snapshot_report``)."""

    def __init__(self, store: Store, *, check_conservation: bool = False, snapshots: bool = True) -> None:
        self.store = store
        self.history = StoreHistory(store)
        self.state = State()
        self.projector = Projector()
        self._layout_checked = False  # the projections' record layout, checked at the first writer transaction
        self.check_conservation = check_conservation
        self.use_snapshots = snapshots
        self.snapshot_report = SnapshotReport()
        self.snapshot_seq = -1  # the newest snapshot stored (or loaded) by this engine
        self.snapshot_size = 0  # and its bytes (the next one is due after ``snapshot_interval`` of them)
        self.chain_checked_seq = -1
        self._loaded = False

    @property
    def state(self) -> State:
        """The live state (closed records pruned from it are read back through ``state.history``: app/archive.py)."""
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        state.history = self.history
        self._state = state

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True, lock_timeout: float | None = None, **kw: Any) -> Engine:
        """Open and load a database; with ``create`` (default) make or migrate its schema first.

        ``create=False`` never creates or changes anything: a missing database is ``no_database``, and
        the database is only read until the first command is submitted."""
        try:
            store = Store(url, create=create, lock_timeout=lock_timeout)
            if create:
                store.create_schema()
            elif not store.has_schema():
                raise DatabaseMissing(f"{store.url} holds no cor network; run `cor init` to create one", code="no_database")
            engine = cls(store, **kw)
            engine.load()
        except SQLAlchemyError as exc:
            raise database_error(exc, database_url(url), lock_timeout or DEFAULT_LOCK_TIMEOUT_SECONDS) from None
        return engine

    # --- loading -------------------------------------------------------------------------------

    def load(self) -> None:
        """Check and replay the log; re-project what the projections lack (crash recovery), exactly once.

        The replay reads one consistent snapshot; if anything lies beyond ``projected_seq`` the
        catch-up runs under the writer lock (when the store is writable; a read-only open leaves it
        to the first write) and re-reads ``projected_seq`` there, so events another process
        projected in between are not projected twice.
        """
        with engine_memory():  # the replay and the catch-up allocate like a close: see app/collector.py
            self._load()

    def _load(self) -> None:
        self.state = State()
        self.chain_checked_seq = -1
        self.snapshot_report = SnapshotReport()
        self.snapshot_seq, self.snapshot_size = -1, 0
        with self.store.snapshot() as conn:
            projected_seq = self._projected_seq(conn)
            if self.use_snapshots:
                self._restore_snapshot(conn)
            for event, columns in self.store.iter_logged(conn=conn, after=self.state.seq):
                self._apply_logged(event, columns)
                self.snapshot_report.replayed += 1
        self.projector.reset_from(self.state)
        self.state.touched.clear()
        if self.store.writable and (self.state.seq > projected_seq or not self._layout_checked):
            with self.store.writer() as conn:
                self._catch_up_projections(conn)
        if self.use_snapshots and self.store.writable and self._snapshot_due():
            with self.store.engine.begin() as conn:  # the state of a logged prefix: true whenever it is written
                self._store_snapshot(conn)
        self._loaded = True

    def _restore_snapshot(self, conn: Any) -> None:
        """Start from the newest stored snapshot, when it checks out (``app.snapshots``); else from genesis."""
        newest = self.store.snapshot_rows(conn, limit=1)
        if not newest:
            return
        row = newest[0]
        try:
            self.state = state_from_row(self.store, conn, row)
        except SnapshotRefused as exc:
            logger.warning("snapshot refused, replaying the whole log: %s (%s)", exc.message, exc.code)
            self.snapshot_report.refused.append({"seq": row.seq, "code": exc.code, "message": exc.message})
            self.state = State()
            return
        self.snapshot_report.seq, self.snapshot_report.hash = row.seq, row.hash
        self.snapshot_seq, self.snapshot_size = row.seq, row.size
        self.chain_checked_seq = row.seq  # checked by the engine that replayed up to it and stored it

    def snapshot_head(self) -> bool:
        """Store a snapshot of the head unless there is one already (``cor serve``, before its workers
        open the database: each then loads it instead of replaying). Whether one was written."""
        if not self.use_snapshots or self.state.seq < 0 or self.snapshot_seq == self.state.seq or not self.store.has_snapshots():
            return False
        with self.store.engine.begin() as conn:
            self._store_snapshot(conn)
        return True

    def _store_snapshot(self, conn: Any) -> None:
        """Store a snapshot of the state now (inside ``conn``'s transaction: it commits with the events it follows)."""
        if self.store.has_snapshots(conn):
            row = snapshot_row(self.state)
            self.store.put_snapshot(conn, row, SNAPSHOTS_KEPT)
            self.snapshot_seq, self.snapshot_size = row.seq, row.size

    def _snapshot_due(self) -> bool:
        return self.state.seq - self.snapshot_seq >= snapshot_interval(self.snapshot_size)

    def _projected_seq(self, conn: Any) -> int:
        projected = self.store.get_meta(conn, "projected_seq")
        return int(projected) if projected is not None else -1

    def _document_format(self, conn: Any, *, fresh: bool) -> int:
        """How this database stores its epoch documents (store/document_format.py), chosen once: a database projected from
        its start by this engine on SQLite stores them compressed, each chunk of deltas as wide as it needs (format 3); one
        that chose format 2 keeps it; one whose projections were written before (no key) keeps the text (format 1), as does
        PostgreSQL (a ``text`` column, compressed by the server)."""
        stored = self.store.get_meta(conn, EPOCH_DOCUMENT_FORMAT_KEY)
        if stored is None:
            chosen = NARROW_FORMAT if fresh and conn.dialect.name == "sqlite" else TEXT_FORMAT
            db.upsert(conn, db.meta, {"key": EPOCH_DOCUMENT_FORMAT_KEY}, {"value": str(chosen)})
            stored = str(chosen)
        if not stored.isdigit() or int(stored) not in FORMATS or (int(stored) != TEXT_FORMAT and conn.dialect.name != "sqlite"):
            raise EngineError(f"this engine cannot write epoch documents in format {stored!r} here", code="database_format")
        # the format's codec (pyarrow, and numpy with it: ~0.2 s) is imported by the first close that packs a document,
        # not here: every writer opens through this (`cor serve` before it answers, each CLI command that writes),
        # and most never close an epoch
        return int(stored)

    def _catch_up_projections(self, conn: Any, projected_seq: int | None = None) -> None:
        """Inside a writer transaction: project every event beyond ``projected_seq`` (replaying to find them).
        ``projected_seq``: as this transaction read it already (``Store.writer_head``); None: read here."""
        if projected_seq is None:
            projected_seq = self._projected_seq(conn)
        if not self._layout_checked:  # once per process: projections written by an engine with other record fields are rebuilt
            self._layout_checked = True
            self.projector.document_format = self._document_format(conn, fresh=projected_seq < 0)
            stored = store_layout(conn)
            if projected_seq >= 0 and stored != PROJECTION_LAYOUT:
                logger.warning("projections written under record layout %s, this engine writes %s: re-projecting the log", stored, PROJECTION_LAYOUT)
                projected_seq = -1
            db.upsert(conn, db.meta, {"key": PROJECTION_LAYOUT_KEY}, {"value": PROJECTION_LAYOUT})
        if projected_seq >= self.state.seq:
            return
        seq = self.state.seq
        self.state = State()
        self.chain_checked_seq = -1
        if projected_seq == -1:
            clear_projections(conn)
        for event, columns in self.store.iter_logged(conn=conn):
            if event.seq == projected_seq + 1:  # the projector counts slashes and epochs from here
                self.projector.reset_from(self.state)
            applied = self._apply_logged(event, columns)
            if event.seq > projected_seq:
                self.projector.project(conn, self.state, applied)
        self.projector.flush(conn, self.state)
        self.state.touched.clear()
        invariant(self.state.seq >= seq, "the log shrank while loading")

    def _apply(self, event: Event) -> Any:
        applied = apply(self.state, event)
        if self.check_conservation:
            conservation_holds(self.state)
        return applied

    def _apply_logged(self, event: Event, columns: Columns) -> Any:
        """Check an event read from the log (chain link, hash, stored columns) and apply it.

        A failure is ``log_corrupt`` with the event's seq: the log is not what was appended (or a
        rule changed without a version), never a user error."""
        problems = link_problems(event, self.state.seq + 1, self.state.head_hash)
        if problems:
            raise LogCorrupt(event.seq, "; ".join(problems))
        try:
            applied = self._apply(event)
        except EngineError as exc:
            raise LogCorrupt(event.seq, f"the core refuses it on replay ({exc.code}: {exc.message})") from None
        except InvariantViolation as exc:
            raise LogCorrupt(event.seq, f"replaying it breaks an invariant: {exc}") from None
        problems = column_problems(applied, columns)
        if problems:
            raise LogCorrupt(event.seq, "; ".join(problems))
        self.chain_checked_seq = event.seq
        return applied

    def refresh(self, batch: int = 5_000) -> None:
        """Apply events appended by other processes since we last looked (in batches), checked like at start-up.

        An Engine is not thread-safe: callers serialise ``refresh`` and ``submit`` (the API holds a lock).
        """
        while True:
            with self.store.reader() as conn:
                logged = self.store.logged_after(conn, self.state.seq, batch)
            with engine_memory():
                for event, columns in logged:
                    self._apply_logged(event, columns)
            if len(logged) < batch:
                break
        self.projector.reset_from(self.state)
        self.state.touched.clear()

    # --- writing -------------------------------------------------------------------------------

    def submit(self, payload: bytes, signature: str) -> Receipt:
        """Authenticate, apply and append one signed command; EngineError leaves everything unchanged."""
        result = self.submit_batch([(payload, signature)])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def submit_batch(
        self,
        commands: list[tuple[bytes, str]],
        hold: AbstractContextManager[Any] | None = None,
        signers: Sequence[str | None] | None = None,
    ) -> list[Receipt | EngineError]:
        """Group commit: several signed commands in one writer transaction, each accepted or refused
        on its own (in order), one commit for all. Returns a receipt or the EngineError per command.

        ``hold`` (the API's lock on this engine's state) is taken only once the database's writer lock
        is held, so readers of the state never wait for another process's writer. A command that
        fails with anything but an EngineError (a bug) is refused alone with ``internal_error``: the
        state is rebuilt from the log as this transaction sees it, and the rest of the batch goes on.

        ``signers``, when given, holds per command the address its signature was already recovered to
        by a process of this same server (``app.signing.authenticate_recovered``), or None to recover
        it here: the writer of ``cor serve --workers N`` takes it from its read workers (docs/design.md §9)."""
        invariant(signers is None or len(signers) == len(commands), "one recovered signer (or None) per command")
        results: list[Receipt | EngineError] = []
        checked: list[tuple[int, Command | EngineError]] = []
        for i, (payload, signature) in enumerate(commands):
            signer = signers[i] if signers is not None else None
            try:
                checked.append((i, authenticate(payload, signature) if signer is None else authenticate_recovered(payload, signer)))
            except EngineError as exc:
                checked.append((i, exc))
        changed = False  # did our in-memory state move past the database's?
        epoch_at_start = self.state.epoch
        rows: list[dict[str, Any]] = []  # the accepted events' rows, appended with one statement before the commit
        try:
            with engine_memory(), self.store.writer_with_head(hold, lambda: self.state.seq, "projected_seq") as (conn, logged, projected):
                for event, columns in logged:
                    if event.seq <= self.state.seq:  # read from the log by a reader of this process before ``hold`` was ours
                        continue
                    changed = True
                    self._apply_logged(event, columns)
                    self.projector.reset_from(self.state)
                self.state.touched.clear()
                self._catch_up_projections(conn, int(projected) if projected is not None else -1)
                for i, cmd in checked:
                    if isinstance(cmd, EngineError):
                        results.append(cmd)
                        continue
                    payload, signature = commands[i]
                    if self.use_snapshots and self.snapshot_seq != self.state.seq and anchors_state(cmd):
                        self._store_snapshot(conn)  # the state the checkpoint's hash anchors (checked by the core next)
                    event = seal_decoded(make_event(self.state.seq + 1, self.state.tick, payload, signature, self.state.head_hash), cmd)
                    first_id = self.state.next_id
                    try:
                        applied = self._apply(event)
                    except EngineError as exc:
                        self.state.touched.clear()
                        results.append(exc)
                        continue
                    except Exception as exc:  # a bug in a handler: this command alone is refused
                        logger.exception("command %s (%s) failed inside the core", event.seq, cmd.kind)
                        changed = True
                        self.store.append_many(conn, rows)  # the reload reads the log as this transaction holds it
                        rows = []
                        self._reload(conn)
                        results.append(
                            InternalError(
                                f"the engine failed on this command ({type(exc).__name__}); nothing was "
                                "appended and the state was rebuilt from the log",
                                code="internal_error",
                            )
                        )
                        continue
                    changed = True
                    rows.append(db.event_row(event, cmd.kind, cmd.actor, cmd.nonce))
                    self.projector.project(conn, self.state, applied)
                    self.chain_checked_seq = event.seq
                    ids = tuple(range(first_id, self.state.next_id))
                    results.append(Receipt(event.seq, event.hash, cmd.kind, cmd.actor, self.state.tick, self.state.epoch, ids))
                # PostgreSQL: the events and the projections' rows in one round trip (a close's big flush keeps COPY)
                with self.store.pipelined(conn) if self.projector.buffered_rows(self.state) + len(rows) <= PIPELINED_ROWS else nullcontext():
                    self.store.append_many(conn, rows)
                    self.projector.flush(conn, self.state)
                if self.use_snapshots and (self.state.epoch != epoch_at_start or self._snapshot_due()):
                    self._store_snapshot(conn)
        except BaseException as exc:
            self.projector.discard()
            # the database did not take the events (or we were interrupted): the log is the truth.
            # Nothing to redo when we failed before touching the state (e.g. a lock timeout).
            if changed:
                self.load()
            if isinstance(exc, SQLAlchemyError):
                raise database_error(exc, self.store.url, self.store.lock_timeout) from None
            raise
        return results

    def _reload(self, conn: Any) -> None:
        """Rebuild the state from the log as ``conn``'s transaction sees it (its own appends included)."""
        self.state = State()
        self.chain_checked_seq = -1
        for event, columns in self.store.iter_logged(conn=conn):
            self._apply_logged(event, columns)
        self.state.touched.clear()

    def next_nonce(self, address: str) -> int:
        return self.state.nonces.get(address.lower(), 0) + 1

    def submit_as(self, key: Key, kind: str, body: Mapping[str, Any]) -> Receipt:
        """Sign with a local key and submit."""
        chain_id = self.state.chain_id or str(body.get("chain_id", ""))
        if kind == "genesis" or key.address == self.state.oracle:  # the oracle's genesis and ticks carry the beacon
            if kind in ("tick", "epoch.close") and (view := beacon_view(self.state)) is not None:
                renewal = renewal_from_view(view, key.private_key, chain_id)
                if renewal is not None:
                    cited = body.get("checkpoint")
                    self.submit_as(key, "beacon.anchor", renewal)
                    if isinstance(cited, dict) and "state" in cited:  # the renewal moved the head the state anchor cites
                        body = {**body, "checkpoint": checkpoint_for(self.state, with_state=True)}
            body = with_beacon(self.state, key.private_key, kind, dict(body))
        payload, sig = sign_command(key.private_key, chain_id, kind, self.next_nonce(key.address), body)
        return self.submit(payload, sig)

    # --- reading -------------------------------------------------------------------------------

    def require_genesis(self) -> None:
        if self.state.params_history is None:
            raise Conflict(f"no network in {self.store.url}; run `cor init` first", code="no_genesis")

    def chain_report(self) -> dict[str, Any]:
        """How far the log has been checked (hash chain, stored columns, replay) since it was opened, and
        from which snapshot (None: from genesis)."""
        return {
            "checked_to_seq": self.chain_checked_seq,
            "head_seq": self.state.seq,
            "head_hash": self.state.head_hash,
            "complete": self.chain_checked_seq == self.state.seq,
            # opened from a stored snapshot: the events before it were checked by the engine that stored it
            "from_snapshot": self.snapshot_report.seq,
            "snapshots_refused": [r["code"] for r in self.snapshot_report.refused],
        }


def anchors_state(cmd: Command) -> bool:
    """Whether an oracle command's checkpoint carries a state hash (rule version 5): the engine stores
    a snapshot of the state it names before applying it."""
    cited = cmd.body.get("checkpoint") if cmd.kind in ("tick", "epoch.close") else None
    return isinstance(cited, dict) and "state" in cited


PIPELINED_ROWS = 2_000
"""A group commit whose events and projection rows number at most this many writes them pipelined (``Store.pipelined``):
an epoch close's tens of thousands of postings go by COPY instead, which a pipeline cannot run."""


class InternalError(EngineError):
    """A bug met while applying one command (refused alone; the state was rebuilt from the log)."""

    code = "internal_error"
    http_status = 500


def oracle_key(engine: Engine, keystore: Keystore) -> Key:
    """The local key of this network's oracle (needed to send ticks and oracle reports)."""
    engine.require_genesis()
    for k in keystore.list():
        if k.address == engine.state.oracle:
            return k
    raise NotFound(f"the oracle key {engine.state.oracle} is not in {keystore.path}", code="oracle_key_missing")
