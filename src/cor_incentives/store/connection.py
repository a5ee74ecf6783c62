"""Connecting to a database: the URL in force and a SQLAlchemy engine set up for one writer at a time.

SQLite (the default, a file under ``cor-data/``): WAL, ``busy_timeout``, ``BEGIN IMMEDIATE`` for the
writer only, so readers keep a snapshot while one process writes. PostgreSQL by URL
(``postgresql+psycopg://…``): the writer takes the transaction-scoped advisory lock
``WRITER_LOCK_KEY``. Both the store and the migrations connect through here.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SAEngine

DEFAULT_URL = "sqlite:///cor-data/cor.db"


def database_url(url: str | None) -> str:
    """The URL in force: the argument, else $COR_DATABASE_URL, else the SQLite default."""
    return url or os.environ.get("COR_DATABASE_URL") or DEFAULT_URL


def make_engine(url: str) -> SAEngine:
    """A SQLAlchemy engine set up for one writer at a time."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa_event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=60000")
            # switching a fresh file to WAL needs an exclusive lock and may answer "locked" at once
            # when several processes open it together (no busy wait): retry for a while
            for attempt in range(200):
                try:
                    cur.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt == 199:
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
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


WRITER_LOCK_KEY = 0x434F52  # "COR"
