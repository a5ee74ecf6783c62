"""Storage: the event log (the truth) and read models (projections rebuilt from it) (docs/design.md §9).

SQLAlchemy Core over a SQLite file (WAL, ``BEGIN IMMEDIATE`` for the single writer) by default, or
PostgreSQL by URL (``postgresql+psycopg://…``; the writer holds a transaction-scoped advisory lock).
Amounts are stored as decimal strings (SQLite's NUMERIC would turn large integers into floats).

An event and the projections it changes are written in one transaction, and ``meta.projected_seq``
records how far the projections go; at start-up ``catch_up`` re-projects anything the log holds
beyond it (e.g. after a crash between the two, or after a raw import), so nothing is lost or applied
twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SAEngine

from ..core.errors import EngineError
from ..core.events import Event, content_hash
from . import bulk
from .connection import DEFAULT_LOCK_TIMEOUT_SECONDS, WRITER_LOCK_KEY, database_url, make_engine, sqlite_path
from .migrate import upgrade


def pg_insert(table: Table) -> Any:
    """PostgreSQL's ``INSERT … ON CONFLICT``. Its dialect (~0.2 s of imports) loads only when a PostgreSQL
    database is written: a SQLite server or CLI command never imports it."""
    from sqlalchemy.dialects.postgresql import insert

    return insert(table)


metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("tick", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(42), nullable=False, index=True),
    Column("nonce", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Column("signature", String(132), nullable=False),
    Column("prev_hash", String(66), nullable=False),
    Column("hash", String(66), nullable=False, unique=True),
)

meta = Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))

balances = Table(
    "balances",
    metadata,
    Column("account", String(160), primary_key=True),
    Column("owner", String(42), index=True),
    Column("amount", Text, nullable=False),
)

postings = Table(
    "postings",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("src", String(160), nullable=False, index=True),
    Column("dst", String(160), nullable=False, index=True),
    Column("amount", Text, nullable=False),
    Column("reason", String(96), nullable=False),
)

nodes = Table(
    "nodes",
    metadata,
    Column("id", String(42), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("data", Text, nullable=False),
)

# whole-document projections of smaller collections, keyed by (collection, key)
documents = Table(
    "documents",
    metadata,
    Column("collection", String(32), primary_key=True),
    Column("key", String(160), primary_key=True),
    Column("data", Text, nullable=False),
)

# content-addressed data (prompts, outputs): sha256 -> bytes; events hold only the hash
blobs = Table(
    "blobs",
    metadata,
    Column("hash", String(66), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# whole-state snapshots (core/state_codec.py): the state after event ``seq``, zlib-compressed; ``hash``
# is the sha256 of the uncompressed encoding (docs/design.md §9)
snapshots = Table(
    "snapshots",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("head_hash", String(66), nullable=False),
    Column("format", Integer, nullable=False),
    Column("hash", String(66), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
)


# the per-epoch work index (docs/design.md §6, "The work index"): the rows each settling event appended to an epoch's
# work columns (``state.epoch_work`` / ``state.epoch_validations``), one row per flush and stream (``family``: the work
# line's stream, ``miner_work`` / ``validator_work``), packed: each row's task id, node (the index of the row's node in
# the epoch's interned names) and counted flag (the row counts in the node line's tasks: a miner's in consensus, a
# validator's on time), in layout 2 since session 32 (all in ``tasks``, narrow and compressed; ``nodes`` and ``counted``
# empty) or layout 1 before (``tasks`` int64, ``nodes`` int32, ``counted`` int8, little-endian): store/work_index_format.py,
# both read; ``new_names`` the names interned since the previous chunk
# (JSON list). A row with ``first_row = -1`` marks the epoch closed with ``row_count`` rows: a statement reads the index of an
# epoch only when it has that row and its chunks tile rows [0, row_count) (else the tasks' records: store/projections.py)
work_index = Table(
    "work_index",
    metadata,
    Column("epoch", BigInteger, primary_key=True, autoincrement=False),
    Column("family", String(32), primary_key=True),
    Column("first_row", BigInteger, primary_key=True, autoincrement=False),
    Column("row_count", BigInteger, nullable=False),
    Column("tasks", LargeBinary, nullable=False),
    Column("nodes", LargeBinary, nullable=False),
    Column("counted", LargeBinary, nullable=False),
    Column("new_names", Text, nullable=False),
)


class Store:
    """The event log and its projections in one database.

    Reads go through a read-only engine; the writing engine is made on the first write, so a store
    that is only read never creates, migrates or changes its database (``create=False``)."""

    def __init__(self, url: str | None = None, *, create: bool = True, lock_timeout: float | None = None) -> None:
        self.url = database_url(url)
        self.lock_timeout = DEFAULT_LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout
        self.is_postgres = not self.url.startswith("sqlite")
        self._writer_engine: SAEngine | None = None
        self._has_snapshots: bool | None = None
        if create or self.url.startswith("sqlite") and sqlite_path(self.url) is None:  # (an in-memory database is always made)
            self._writer_engine = make_engine(self.url, lock_timeout=self.lock_timeout)
            self.read_engine = self._writer_engine
        else:
            self.read_engine = make_engine(self.url, readonly=True, lock_timeout=self.lock_timeout)

    @property
    def writable(self) -> bool:
        """Whether the writing engine exists already (a store opened to read makes it on its first write)."""
        return self._writer_engine is not None

    @property
    def engine(self) -> SAEngine:
        """The writing engine (made on first use)."""
        if self._writer_engine is None:
            self._writer_engine = make_engine(self.url, lock_timeout=self.lock_timeout)
        return self._writer_engine

    def dispose(self) -> None:
        for e in {id(x): x for x in (self._writer_engine, self.read_engine) if x is not None}.values():
            e.dispose()

    def create_schema(self) -> None:
        """Bring the schema to the latest Alembic migration (idempotent, safe from several processes;
        a database made by ``metadata.create_all`` before migrations existed is stamped, not re-made)."""
        upgrade(self.engine)

    def has_schema(self) -> bool:
        from sqlalchemy import inspect

        return inspect(self.read_engine).has_table("events")

    @contextmanager
    def writer(self, hold: AbstractContextManager[Any] | None = None) -> Iterator[Connection]:
        """A transaction that holds the single-writer lock until it commits.

        The lock is taken first; ``hold`` (e.g. a process's lock on its in-memory state) is taken
        after it and released only after the commit, so waiting for the database never holds it."""
        with self._writing(hold, None) as (conn, _, _):
            yield conn

    @contextmanager
    def writer_with_head(
        self, hold: AbstractContextManager[Any] | None, after: Callable[[], int], key: str
    ) -> Iterator[tuple[Connection, list[tuple[Event, Columns]], str | None]]:
        """``writer`` whose transaction starts by reading, under the lock, the events after ``after()``
        (``logged_after``) and the meta value ``key`` (``projected_seq``): on PostgreSQL ``BEGIN``, the
        lock and both reads go to the server together, one round trip. ``after`` is called before
        ``hold`` is taken: the caller skips the events it has applied since (another thread may have
        read them from the log meanwhile; none can be appended while the lock is held)."""
        with self._writing(hold, (after, key)) as head:
            yield head

    @contextmanager
    def _writing(
        self, hold: AbstractContextManager[Any] | None, head: tuple[Callable[[], int], str] | None
    ) -> Iterator[tuple[Connection, list[tuple[Event, Columns]], str | None]]:
        with self.engine.connect().execution_options(cor_writer=True) as conn:
            dbapi_conn: Any = conn.connection.dbapi_connection
            if self.is_postgres:  # this transaction's BEGIN is sent by us, with the lock (psycopg waits for its own BEGIN alone)
                dbapi_conn.autocommit = True
            trans = conn.begin()  # SQLite: BEGIN IMMEDIATE (waits up to the lock timeout)
            try:
                queries: list[tuple[str, tuple[Any, ...]]] = [("BEGIN", ()), (_LOCK_WRITER, (WRITER_LOCK_KEY,))] if self.is_postgres else []
                if head is not None:
                    queries += [(_events_after_sql(conn), (head[0](),)), (_meta_sql(conn), (head[1],))]
                read = bulk.select_pipelined(conn, queries) if queries else []
                logged, value = (read[-2], read[-1]) if head is not None else ([], [])
                with hold if hold is not None else nullcontext():
                    yield conn, [_logged(SimpleNamespace(**dict(zip(EVENT_COLUMNS, r)))) for r in logged], value[0][0] if value else None
                    trans.commit()
            finally:
                if trans.is_active:
                    trans.rollback()
                if self.is_postgres:
                    try:
                        dbapi_conn.autocommit = False
                    except Exception:  # noqa: BLE001 (broken or still in a transaction: never hand it to a reader)
                        conn.invalidate()

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        with self.read_engine.connect() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """One read transaction that sees a single consistent state of log and projections."""
        conn = self.read_engine.connect()
        try:
            if self.is_postgres:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
        finally:
            conn.close()

    # --- the log -----------------------------------------------------------------------------

    def append(self, conn: Connection, event: Event, kind: str, actor: str, nonce: int) -> None:
        self.append_many(conn, [event_row(event, kind, actor, nonce)])

    def append_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Append several events (``event_row``s, in seq order) with one statement (executemany; inside
        ``bulk.pipelined`` on PostgreSQL, sent in its pipeline)."""
        if not rows:
            return
        if bulk.in_pipeline(conn):
            bulk.insert_rows(conn, events, EVENT_COLUMNS, [tuple(r[c] for c in EVENT_COLUMNS) for r in rows])
        else:
            conn.execute(_INSERT_EVENT, rows)

    def pipelined(self, conn: Connection) -> AbstractContextManager[None]:
        """On PostgreSQL, the block's writes (``append_many``, the projector's flush) sent in one pipeline: one round
        trip for all (``bulk.pipelined``)."""
        return bulk.pipelined(conn, "the events and projections of a writer transaction")

    def head_seq(self, conn: Connection) -> int:
        value = conn.execute(select(func.max(events.c.seq))).scalar()
        return -1 if value is None else int(value)

    def events_after(self, conn: Connection, seq: int, limit: int | None = None) -> list[Event]:
        return [e for e, _ in self.logged_after(conn, seq, limit)]

    def logged_after(self, conn: Connection, seq: int, limit: int | None = None) -> list[tuple[Event, Columns]]:
        """Events after ``seq`` with the columns stored beside them (kind, actor, nonce), which must
        agree with the payload (see ``app.logcheck``)."""
        rows = conn.execute(_EVENTS_AFTER_LIMIT, {"after": seq, "n": limit}) if limit else conn.execute(_EVENTS_AFTER, {"after": seq})
        return [_logged(r) for r in rows]

    def iter_logged(self, batch: int = 5_000, conn: Connection | None = None, after: int = -1) -> Iterator[tuple[Event, Columns]]:
        """Every event after ``after`` in order with its stored columns, in batches (inside ``conn``'s transaction when given)."""
        if conn is None:
            with self.reader() as own:
                yield from self.iter_logged(batch, own, after)
            return
        last = after
        while True:
            chunk = self.logged_after(conn, last, batch)
            if not chunk:
                return
            yield from chunk
            last = chunk[-1][0].seq

    def iter_events(self, batch: int = 5_000, conn: Connection | None = None) -> Iterator[Event]:
        """Every event in order, in batches (inside ``conn``'s transaction when given)."""
        for event, _ in self.iter_logged(batch, conn):
            yield event

    def event_count(self) -> int:
        with self.reader() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar() or 0)

    def event_hash(self, conn: Connection, seq: int) -> str | None:
        """The stored hash of event ``seq`` (None when the log has no such event)."""
        return conn.execute(select(events.c.hash).where(events.c.seq == seq)).scalar()

    # --- state snapshots -----------------------------------------------------------------------

    def put_snapshot(self, conn: Connection, row: SnapshotRow, keep: int) -> None:
        """Store a snapshot and keep only the newest ``keep``. One of the same event already there is replaced:
        an engine stores a snapshot of an event only when it did not load one there (it was refused: another
        format, altered bytes), and its own state is the replayed log's."""
        columns = row.columns()
        insert_row: Any = (pg_insert if self.is_postgres else sqlite_insert)(snapshots).values(**columns)
        conn.execute(insert_row.on_conflict_do_update(index_elements=["seq"], set_={k: v for k, v in columns.items() if k != "seq"}))
        oldest_kept = conn.execute(select(snapshots.c.seq).order_by(snapshots.c.seq.desc()).offset(keep - 1).limit(1)).scalar()
        if oldest_kept is not None:
            conn.execute(delete(snapshots).where(snapshots.c.seq < oldest_kept))

    def snapshot_rows(self, conn: Connection, *, up_to: int | None = None, with_data: bool = True, limit: int | None = None) -> list[SnapshotRow]:
        """Stored snapshots, newest first (only those at or before ``up_to`` when given; none when the
        database predates the snapshots table and was opened read-only, so was never migrated)."""
        if not self.has_snapshots(conn):
            return []
        cols = [snapshots.c.seq, snapshots.c.head_hash, snapshots.c.format, snapshots.c.hash, snapshots.c.size]
        q = select(*cols, snapshots.c.data) if with_data else select(*cols)
        if up_to is not None:
            q = q.where(snapshots.c.seq <= up_to)
        q = q.order_by(snapshots.c.seq.desc())
        if limit is not None:
            q = q.limit(limit)
        return [
            SnapshotRow(int(r.seq), r.head_hash, int(r.format), r.hash, int(r.size), bytes(r.data) if with_data else b"") for r in conn.execute(q)
        ]

    def has_snapshots(self, conn: Connection | None = None) -> bool:
        """Whether the database has the snapshots table (a read-only open never migrates; checked once,
        through ``conn`` when given: inside its transaction)."""
        if self._has_snapshots is None:
            from sqlalchemy import inspect

            if conn is None:
                with self.reader() as own:
                    return self.has_snapshots(own)
            self._has_snapshots = inspect(conn).has_table("snapshots")
        return self._has_snapshots

    # --- content-addressed blobs ---------------------------------------------------------------

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` under its sha256 (idempotent); return the hash.

        The bytes are checked on the way in: a row already stored under this hash whose bytes do
        not hash to it (tampered) is replaced by the right bytes."""
        h = content_hash(data)
        row = {"hash": h, "size": len(data), "data": data}
        # one INSERT … ON CONFLICT DO UPDATE … WHERE the stored bytes differ: two processes storing the
        # same bytes at once never collide, and on SQLite the write lock is taken by the first statement
        if self.is_postgres:
            pg = pg_insert(blobs).values(**row)
            stmt: Any = pg.on_conflict_do_update(
                index_elements=["hash"], set_={"size": pg.excluded.size, "data": pg.excluded.data}, where=blobs.c.data != pg.excluded.data
            )
        else:
            lite = sqlite_insert(blobs).values(**row)
            stmt = lite.on_conflict_do_update(
                index_elements=["hash"], set_={"size": lite.excluded.size, "data": lite.excluded.data}, where=blobs.c.data != lite.excluded.data
            )
        with self.engine.begin() as conn:
            conn.execute(stmt)
        return h

    def get_blob(self, h: str) -> bytes | None:
        """The bytes stored under ``h``, checked against it (``blob_corrupt`` when they do not hash to it)."""
        with self.reader() as conn:
            row = conn.execute(select(blobs.c.data).where(blobs.c.hash == h)).first()
        if row is None:
            return None
        data = bytes(row[0])
        if content_hash(data) != h:
            raise BlobCorrupt(f"the bytes stored under {h} do not hash to it (the blob was altered)", code="blob_corrupt", hash=h)
        return data

    # --- meta ----------------------------------------------------------------------------------

    def get_meta(self, conn: Connection, key: str) -> str | None:
        return conn.execute(_GET_META, {"key": key}).scalar()


class BlobCorrupt(EngineError):
    """Stored bytes that do not hash to their key."""

    code = "blob_corrupt"
    http_status = 500


@dataclass(frozen=True)
class SnapshotRow:
    """A stored snapshot: the state after event ``seq`` (``data``: the zlib-compressed encoding whose sha256 is ``hash``)."""

    seq: int
    head_hash: str
    format: int
    hash: str
    size: int  # bytes of the encoding before compression
    data: bytes

    def columns(self) -> dict[str, Any]:
        return {"seq": self.seq, "head_hash": self.head_hash, "format": self.format, "hash": self.hash, "size": self.size, "data": self.data}


@dataclass(frozen=True)
class Columns:
    """What the events table stores beside the signed payload (must equal what the payload says)."""

    kind: str
    actor: str
    nonce: int


# statements built once (SQLAlchemy then reuses their compiled form): the write path's hot spots
_INSERT_EVENT = insert(events)
_EVENTS_AFTER = select(events).where(events.c.seq > bindparam("after")).order_by(events.c.seq)
_EVENTS_AFTER_LIMIT = _EVENTS_AFTER.limit(bindparam("n"))
_GET_META = select(meta.c.value).where(meta.c.key == bindparam("key"))  # built once: every writer transaction reads projected_seq


EVENT_COLUMNS = tuple(c.name for c in events.c)
_LOCK_WRITER = "SELECT pg_advisory_xact_lock(%s)"


def _events_after_sql(conn: Connection) -> str:
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    return f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE seq > {mark} ORDER BY seq"


def _meta_sql(conn: Connection) -> str:
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    return f"SELECT value FROM meta WHERE key = {mark}"


def _logged(r: Any) -> tuple[Event, Columns]:
    """An events-table row (a SQLAlchemy ``Row``, or a raw cursor's tuple named by ``EVENT_COLUMNS``) as the event and the
    columns stored beside it."""
    return _row_event(r), Columns(r.kind, r.actor, r.nonce)


def event_row(event: Event, kind: str, actor: str, nonce: int) -> dict[str, Any]:
    """The row of the events table that stores ``event`` (kind, actor and nonce beside its payload)."""
    return {
        "seq": event.seq,
        "tick": event.tick,
        "kind": kind,
        "actor": actor,
        "nonce": nonce,
        "payload": event.payload.decode("ascii"),
        "signature": event.signature,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _row_event(r: Any) -> Event:
    return Event(
        seq=int(r.seq),
        tick=int(r.tick),
        payload=r.payload.encode("ascii"),
        signature=r.signature,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )


def upsert(conn: Connection, table: Table, keys: dict[str, Any], values: dict[str, Any]) -> None:
    """Insert a row, or update it when its key exists (INSERT … ON CONFLICT DO UPDATE; SQLite and PostgreSQL)."""
    bulk.upsert_rows(conn, table, tuple(keys), tuple(values), [(*keys.values(), *values.values())])


def delete_rows(conn: Connection, table: Table, **keys: Any) -> None:
    conn.execute(delete(table).where(*[table.c[k] == v for k, v in keys.items()]))


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
