"""Connecting to a database: the URL in force and SQLAlchemy engines for writing or only reading.

SQLite (the default, a file under ``cor-data/``): WAL, ``busy_timeout`` (the lock timeout),
``BEGIN IMMEDIATE`` for the writer only, so readers keep a snapshot while one process writes; a
read-only engine opens the file with ``mode=ro`` and never creates or changes it. PostgreSQL by URL
(``postgresql+psycopg://…``): the writer takes the transaction-scoped advisory lock
``WRITER_LOCK_KEY``; ``lock_timeout`` bounds the wait; read-only sessions are read-only
transactions. Driver errors become clear EngineErrors (``database_error``). Both the store and the
migrations connect through here.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SAEngine

from ..core.errors import EngineError, NotFound

DEFAULT_URL = "sqlite:///cor-data/cor.db"
DEFAULT_LOCK_TIMEOUT_SECONDS = 60.0


def database_url(url: str | None) -> str:
    """The URL in force: the argument, else $COR_DATABASE_URL, else the SQLite default."""
    return url or os.environ.get("COR_DATABASE_URL") or DEFAULT_URL


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (None for other databases and for ``:memory:``)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    path = path.split("?", 1)[0]
    path = path[len("file:") :] if path.startswith("file:") else path  # a URI filename (…?mode=ro&uri=true)
    return path if path and path != ":memory:" else None


class DatabaseMissing(NotFound):
    """There is no database at the URL (and this use must not create one)."""

    code = "no_database"


class DatabaseLocked(EngineError):
    """Another writer held the database's lock longer than the lock timeout."""

    code = "database_locked"
    http_status = 503


class DatabaseReadOnly(EngineError):
    """The database (file) cannot be written."""

    code = "database_readonly"
    http_status = 503


class DatabaseUnavailable(EngineError):
    """The database cannot be opened or read (not a database, corrupt, unreachable)."""

    code = "database_unavailable"
    http_status = 503


def database_error(exc: BaseException, url: str, lock_timeout: float) -> EngineError:
    """A clear EngineError for a database driver error (locked, read-only, corrupt, unreachable)."""
    text_ = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = text_.lower()
    where = sqlite_path(url) or url.split("@")[-1]
    if "locked" in low or "lock timeout" in low or "could not obtain lock" in low:
        return DatabaseLocked(f"the database {where} is locked by another writer (waited {lock_timeout:g} s); retry later", code="database_locked")
    if "readonly" in low or "read-only" in low or "read only" in low:
        return DatabaseReadOnly(f"the database {where} cannot be written: {text_}", code="database_readonly")
    return DatabaseUnavailable(f"the database {where} cannot be used: {text_}", code="database_unavailable")


def make_engine(url: str, *, readonly: bool = False, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> SAEngine:
    """A SQLAlchemy engine: for writing (one writer at a time, WAL) or, with ``readonly``, for reading only.

    A read-only SQLite engine opens the file with ``mode=ro`` (falling back to ``immutable=1`` when the
    directory cannot hold the WAL's shared-memory file) and never creates, migrates or changes it."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if readonly:
            if path is None:
                raise DatabaseMissing("an in-memory database cannot be opened read-only", code="no_database")
            return _sqlite_reader(path, lock_timeout)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": lock_timeout, "check_same_thread": False})

        @sa_event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
            # switching a fresh file to WAL needs an exclusive lock and may answer "locked" at once
            # when several processes open it together (no busy wait): retry for a while
            for attempt in range(200):
                try:
                    cur.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if attempt == 199 or "locked" not in str(exc):
                        raise
                    time.sleep(0.05)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa_event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # only the writer takes SQLite's write lock up front; readers get a WAL snapshot
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("cor_writer") else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    timeout_ms = int(lock_timeout * 1000)
    options = f"-c lock_timeout={timeout_ms}" + (" -c default_transaction_read_only=on" if readonly else "")
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args={"options": options})
    if not readonly:
        sa_event.listen(engine, "connect", _prefer_lz4)
    return engine


def _prefer_lz4(dbapi_conn: Any, _rec: Any) -> None:
    """Large values a writer stores (an epoch's document: tens of MB of JSON) are compressed by PostgreSQL as they
    are inserted; lz4 does that about 3x faster than the default pglz for about the same size (bench/README.md).
    The stored text is the same either way. A server built without lz4 refuses the setting and keeps its default."""
    import psycopg

    try:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET default_toast_compression = 'lz4'")
        dbapi_conn.commit()
    except psycopg.Error:
        dbapi_conn.rollback()


def _sqlite_reader(path: str, lock_timeout: float) -> SAEngine:
    if not Path(path).is_file():
        raise DatabaseMissing(f"there is no database at {path}; run `cor init` to create one", code="no_database", path=path)
    quoted = urllib.parse.quote(str(Path(path).resolve()))

    def connect(immutable: bool) -> sqlite3.Connection:
        mode = "immutable=1" if immutable else "mode=ro"
        conn = sqlite3.connect(f"file:{quoted}?{mode}", uri=True, timeout=lock_timeout, check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
        conn.execute("PRAGMA query_only=1")
        return conn

    def creator() -> sqlite3.Connection:
        conn = connect(False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:  # a WAL database in a directory we may not write: no -shm file
            conn.close()
            if "unable to open" not in str(exc) and "readonly" not in str(exc):
                raise
            return connect(True)

    engine = create_engine("sqlite://", creator=creator)

    @sa_event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


WRITER_LOCK_KEY = 0x434F52  # "COR"
