"""Bulk writes (and reads) of projection rows through the driver, inside the caller's transaction.

SQLAlchemy's ``conn.execute(stmt, rows)`` turns every row dict into the driver's parameters one
value at a time; at an epoch close (tens of thousands of postings and balances, every node row)
that per-row handling is most of the projection flush. These write rows given as tuples straight
through the DBAPI cursor of the same connection, so they are part of the open transaction (a
failure rolls them back with everything else), and a driver error is raised as SQLAlchemy's
(``DBAPIError``), which the engine maps to a clear ``database_*`` error as for any statement.

Per dialect, in this one place:

- ``insert_rows``: SQLite ``executemany`` of ``INSERT … VALUES (?, …)``; PostgreSQL ``COPY … FROM STDIN``. A text
  column may be given as bytes (``text_bytes``): ``CAST(? AS TEXT)`` on SQLite, decoded for COPY.
- ``upsert_rows``: ``INSERT … ON CONFLICT (key) DO UPDATE SET v = excluded.v`` through ``executemany``
  on both (psycopg sends the rows in one pipeline); text columns given as bytes (``text_bytes``) as for ``insert_rows``.
- ``delete_keys``: SQLite ``executemany`` of ``DELETE … WHERE key = ?``; PostgreSQL one
  ``DELETE … WHERE key = ANY(%s)``.
- ``pipelined``: on PostgreSQL the statements run inside go to the server without waiting for each answer
  (psycopg's pipeline mode) and are all answered at its end, one round trip for all of them instead of one
  each; ``insert_rows`` then sends an ``executemany`` of ``INSERT`` (COPY cannot run in a pipeline). Each
  statement still runs in order in the open transaction, and the first one that fails fails the block (as
  SQLAlchemy's ``DBAPIError``) and leaves the transaction aborted: the caller rolls it back, as for any
  statement. Nothing changes on SQLite (an in-process library: no round trip to save).
- ``select_pipelined``: several ``SELECT``s in one round trip on PostgreSQL (one after the other on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

Row = tuple[Any, ...]


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def in_pipeline(conn: Connection) -> bool:
    """Whether ``conn``'s PostgreSQL connection is in pipeline mode now (``pipelined``)."""
    if not _is_postgres(conn):
        return False
    dbapi_conn: Any = conn.connection.dbapi_connection
    return bool(dbapi_conn.pgconn.pipeline_status)


@contextmanager
def pipelined(conn: Connection, statement: str = "pipelined statements") -> Iterator[None]:
    """On PostgreSQL, pipeline mode for the block: its statements are sent without waiting for their
    answers, which all come back at its end (one round trip). A statement that fails raises SQLAlchemy's
    ``DBAPIError`` (at the latest when the block ends) and aborts the transaction. Statements whose
    result is read before the block ends (``select_pipelined``) make their own round trip.

    Inside, use only this module's functions and statements whose result is not read (SQLAlchemy reads
    a statement's result columns as soon as it runs it, before a pipeline has them). Nothing on SQLite."""
    if not _is_postgres(conn):
        yield
        return
    if not conn.in_transaction():
        conn.begin()
    dbapi_conn: Any = conn.connection.dbapi_connection
    try:
        with dbapi_conn.pipeline():
            yield
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa_exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def execute(conn: Connection, statement: str, params: Sequence[Any] = ()) -> None:
    """Run one statement whose result is not read (``%s`` marks on PostgreSQL, ``?`` on SQLite), in
    ``conn``'s transaction (pipelined inside ``pipelined``)."""
    with _cursor(conn, statement) as cursor:
        cursor.execute(statement, tuple(params))


def select_pipelined(conn: Connection, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
    """The rows of each ``(statement, params)`` query, in order, as tuples (none for a statement that
    returns no rows): on PostgreSQL all sent before any answer is awaited (one round trip), each seeing
    what the statements before it in the transaction did; on SQLite one after the other."""
    cursors: list[Any] = []
    dbapi_conn: Any = conn.connection.dbapi_connection
    statement = "; ".join(q for q, _ in queries)
    try:
        if _is_postgres(conn):
            with dbapi_conn.pipeline():  # its end (a Sync) waits for every answer: the one round trip
                for query, params in queries:
                    cursor = dbapi_conn.cursor()
                    cursors.append(cursor)
                    cursor.execute(query, tuple(params))
            return [list(cursor.fetchall()) if cursor.description is not None else [] for cursor in cursors]
        out = []
        for query, params in queries:
            cursor = dbapi_conn.cursor()
            cursors.append(cursor)
            cursor.execute(query, tuple(params))
            out.append(list(cursor.fetchall()) if cursor.description is not None else [])
        return out
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa_exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        for cursor in cursors:
            cursor.close()


def _marks(conn: Connection, n: int) -> str:
    return ", ".join(["%s" if _is_postgres(conn) else "?"] * n)


@contextmanager
def _cursor(conn: Connection, statement: str, *, write: bool = True) -> Iterator[Any]:
    """A DBAPI cursor on ``conn``'s own connection (so inside its transaction); driver errors become SQLAlchemy's.

    A write on a connection with no transaction yet begins one first, as SQLAlchemy's autobegin does
    for its own statements: the driver's cursor alone would not (SQLite's connections run in
    autocommit mode and take ``BEGIN`` / ``BEGIN IMMEDIATE`` from the engine's ``begin`` hook), so the
    rows would be committed at once instead of with the caller's transaction."""
    if write and not conn.in_transaction():
        conn.begin()
    dbapi_conn: Any = conn.connection.dbapi_connection
    cursor = dbapi_conn.cursor()
    try:
        yield cursor
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa_exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row], *, text_bytes: Sequence[str] = ()) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``.

    ``text_bytes``: text columns whose values may be given as the UTF-8 bytes of their text (an epoch's document,
    encoded once by ``json_bytes``), stored as that text: SQLite binds the bytes and ``CAST(? AS TEXT)`` stores them
    as a TEXT value of the same bytes (no copy into a ``str`` first); PostgreSQL's COPY is given the decoded text."""
    if not rows:
        return
    names = ", ".join(columns)
    as_text = [i for i, c in enumerate(columns) if c in text_bytes]
    if _is_postgres(conn) and not in_pipeline(conn):
        statement = f"COPY {table.name} ({names}) FROM STDIN"
        with _cursor(conn, statement) as cursor, cursor.copy(statement) as copy:
            for row in rows:
                if as_text:
                    row = tuple(v.decode() if i in as_text and isinstance(v, bytes) else v for i, v in enumerate(row))
                copy.write_row(row)
        return
    if _is_postgres(conn):  # in a pipeline: rows in the same pipeline, one Bind/Execute each
        marks = _marks(conn, len(columns))
        if as_text:
            rows = [tuple(v.decode() if i in as_text and isinstance(v, bytes) else v for i, v in enumerate(row)) for row in rows]
    else:
        marks = ", ".join("CAST(? AS TEXT)" if i in as_text else "?" for i in range(len(columns)))
    statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
    with _cursor(conn, statement) as cursor:
        cursor.executemany(statement, rows)


def upsert_rows(
    conn: Connection, table: Table, keys: Sequence[str], values: Sequence[str], rows: Sequence[Row], *, text_bytes: Sequence[str] = ()
) -> None:
    """Insert ``rows`` (tuples: ``keys`` then ``values``), or update ``values`` where the key exists. ``text_bytes``: as
    for ``insert_rows`` (text columns given as their UTF-8 bytes: ``CAST(? AS TEXT)`` on SQLite, decoded on PostgreSQL)."""
    if not rows:
        return
    columns = [*keys, *values]
    as_text = [i for i, c in enumerate(columns) if c in text_bytes]
    if _is_postgres(conn):
        marks = _marks(conn, len(columns))
        if as_text:
            rows = [tuple(v.decode() if i in as_text and isinstance(v, bytes) else v for i, v in enumerate(row)) for row in rows]
    else:
        marks = ", ".join("CAST(? AS TEXT)" if i in as_text else "?" for i in range(len(columns)))
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(f'{v} = excluded.{v}' for v in values)}"
    )
    with _cursor(conn, statement) as cursor:
        cursor.executemany(statement, rows)


def delete_keys(conn: Connection, table: Table, key: str, values: Sequence[Any]) -> None:
    """Delete the rows of ``table`` whose ``key`` is one of ``values``."""
    if not values:
        return
    if _is_postgres(conn):
        statement = f"DELETE FROM {table.name} WHERE {key} = ANY(%s)"
        with _cursor(conn, statement) as cursor:
            cursor.execute(statement, (list(values),))
        return
    statement = f"DELETE FROM {table.name} WHERE {key} = ?"
    with _cursor(conn, statement) as cursor:
        cursor.executemany(statement, [(v,) for v in values])


WHERE_OPERATORS = frozenset({"=", ">"})


def select_rows(
    conn: Connection, table: Table, columns: Sequence[str], where: Sequence[tuple[str, str, Any]] = (), order_by: Sequence[str] = ()
) -> list[Row]:
    """The rows of ``table`` as tuples of ``columns``, in one driver fetch (no per-row object): those
    matching every (column, operator, value) of ``where`` (operators ``=`` and ``>``), in ``order_by``."""
    for column, op, _ in where:
        if op not in WHERE_OPERATORS or column not in table.c:
            raise ValueError(f"select_rows: unsupported condition {column} {op}")
    mark = "%s" if _is_postgres(conn) else "?"
    statement = f"SELECT {', '.join(table.c[c].name for c in columns)} FROM {table.name}"
    if where:
        statement += " WHERE " + " AND ".join(f"{column} {op} {mark}" for column, op, _ in where)
    if order_by:
        statement += " ORDER BY " + ", ".join(table.c[c].name for c in order_by)
    with _cursor(conn, statement, write=False) as cursor:
        cursor.execute(statement, tuple(value for _, _, value in where))
        return list(cursor.fetchall())
