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
from collections.abc import Iterator
from contextlib import contextmanager
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
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from ..core.events import Event, content_hash
from .connection import WRITER_LOCK_KEY, database_url, make_engine
from .migrate import upgrade

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


class Store:
    """The event log and its projections in one database."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        self.is_postgres = self.engine.dialect.name == "postgresql"

    def create_schema(self) -> None:
        """Bring the schema to the latest Alembic migration (idempotent, safe from several processes;
        a database made by ``metadata.create_all`` before migrations existed is stamped, not re-made)."""
        upgrade(self.engine)

    def has_schema(self) -> bool:
        from sqlalchemy import inspect

        return inspect(self.engine).has_table("events")

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        """A transaction that holds the single-writer lock until it commits."""
        with self.engine.connect().execution_options(cor_writer=True) as conn, conn.begin():
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITER_LOCK_KEY})
            yield conn

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """One read transaction that sees a single consistent state of log and projections."""
        conn = self.engine.connect()
        try:
            if self.is_postgres:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
        finally:
            conn.close()

    # --- the log -----------------------------------------------------------------------------

    def append(self, conn: Connection, event: Event, kind: str, actor: str, nonce: int) -> None:
        conn.execute(
            _INSERT_EVENT,
            {
                "seq": event.seq,
                "tick": event.tick,
                "kind": kind,
                "actor": actor,
                "nonce": nonce,
                "payload": event.payload.decode("ascii"),
                "signature": event.signature,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            },
        )

    def head_seq(self, conn: Connection) -> int:
        value = conn.execute(select(func.max(events.c.seq))).scalar()
        return -1 if value is None else int(value)

    def events_after(self, conn: Connection, seq: int, limit: int | None = None) -> list[Event]:
        if limit:
            return [_row_event(r) for r in conn.execute(_EVENTS_AFTER_LIMIT, {"after": seq, "n": limit})]
        return [_row_event(r) for r in conn.execute(_EVENTS_AFTER, {"after": seq})]

    def iter_events(self, batch: int = 5_000, conn: Connection | None = None) -> Iterator[Event]:
        """Every event in order, in batches (inside ``conn``'s transaction when given)."""
        if conn is None:
            with self.reader() as own:
                yield from self.iter_events(batch, own)
            return
        last = -1
        while True:
            chunk = self.events_after(conn, last, batch)
            if not chunk:
                return
            yield from chunk
            last = chunk[-1].seq

    def event_count(self) -> int:
        with self.reader() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar() or 0)

    # --- content-addressed blobs ---------------------------------------------------------------

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` under its sha256 (idempotent); return the hash."""
        h = content_hash(data)
        row = {"hash": h, "size": len(data), "data": data}
        # one INSERT … ON CONFLICT DO NOTHING: two processes storing the same bytes at once never
        # collide, and on SQLite the write lock is taken by the first statement (no read-then-write upgrade)
        stmt = (
            pg_insert(blobs).values(**row).on_conflict_do_nothing(index_elements=["hash"])
            if self.is_postgres
            else sqlite_insert(blobs).values(**row).on_conflict_do_nothing(index_elements=["hash"])
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
        return h

    def get_blob(self, h: str) -> bytes | None:
        with self.reader() as conn:
            row = conn.execute(select(blobs.c.data).where(blobs.c.hash == h)).first()
        return bytes(row[0]) if row else None

    # --- meta ----------------------------------------------------------------------------------

    def get_meta(self, conn: Connection, key: str) -> str | None:
        return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()


# statements built once (SQLAlchemy then reuses their compiled form): the write path's hot spots
_INSERT_EVENT = insert(events)
_EVENTS_AFTER = select(events).where(events.c.seq > bindparam("after")).order_by(events.c.seq)
_EVENTS_AFTER_LIMIT = _EVENTS_AFTER.limit(bindparam("n"))
_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}


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
    upsert_many(conn, table, tuple(keys), tuple(values), [{**keys, **values}])


def upsert_many(conn: Connection, table: Table, key_cols: tuple[str, ...], value_cols: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Upsert several rows with one cached statement."""
    if not rows:
        return
    dialect = conn.dialect.name
    cache_key = (dialect, table.name, key_cols, value_cols)
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        if dialect == "postgresql":
            pg = pg_insert(table)
            stmt = pg.on_conflict_do_update(index_elements=list(key_cols), set_={c: pg.excluded[c] for c in value_cols})
        else:
            lite = sqlite_insert(table)
            stmt = lite.on_conflict_do_update(index_elements=list(key_cols), set_={c: lite.excluded[c] for c in value_cols})
        _UPSERTS[cache_key] = stmt
    conn.execute(stmt, rows)


def delete_rows(conn: Connection, table: Table, **keys: Any) -> None:
    conn.execute(delete(table).where(*[table.c[k] == v for k, v in keys.items()]))


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
