"""Schema migrations (Alembic), run programmatically: no alembic.ini.

``upgrade(url)`` brings a database to the latest revision and is what ``Store.create_schema`` (so
every ``Engine.open``) calls; ``current(url)`` says which revision a database is at. The scripts
live in ``store/migrations`` (``env.py`` targets ``store.db.metadata``; ``versions/`` holds the
revisions) and ship inside the package.

Concurrency: the upgrade runs in one transaction that holds the store's writer lock (PostgreSQL
``pg_advisory_xact_lock``, SQLite ``BEGIN IMMEDIATE``), so several processes opening the same fresh
database migrate it once, and no event is appended while the schema changes. PostgreSQL and SQLite
both roll DDL back with the transaction, so a failed upgrade leaves the database as it was. When
the database is already at head (the usual case) nothing is locked, and Alembic is not even imported:
the version table is read with one query and compared with ``HEAD`` (Alembic, Mako and Pygments cost
about a third of a second of every process start; they load only when a schema must change).

A database created before migrations existed (``metadata.create_all``: the tables are there but no
``alembic_version``) is stamped with the baseline revision, which is exactly that schema, and then
upgraded from there.

By hand::

    python -m cor_incentives.store.migrate current  --db URL
    python -m cor_incentives.store.migrate upgrade  --db URL [--revision REV]
    python -m cor_incentives.store.migrate revision --db URL -m "add foo"   # autogenerate vs store.db
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SAEngine

from .connection import WRITER_LOCK_KEY, database_url, make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: the revision that is exactly the schema ``metadata.create_all`` made before migrations existed
BASELINE = "0001"
BASELINE_TABLES = frozenset({"events", "meta", "balances", "postings", "nodes", "documents", "blobs"})
VERSION_TABLE = "alembic_version"
#: the newest revision in ``migrations/versions`` (``head()`` reads it from the scripts; a test holds them equal)
HEAD = "0003"


class MigrationError(RuntimeError):
    """The database cannot be brought to the expected schema."""


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An in-memory Alembic config pointing at the packaged scripts (and, optionally, a connection)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head() -> str:
    """The latest revision shipped with this package, read from the scripts."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    if len(heads) != 1:
        raise MigrationError(f"the migration scripts must have exactly one head, found {heads}")
    return heads[0]


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _at_head(conn: Connection) -> bool:
    """Whether the version table names exactly ``HEAD`` (one query, no Alembic)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return False
    return [row[0] for row in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))] == [HEAD]


def _engine(target: str | SAEngine | None) -> tuple[SAEngine, bool]:
    if isinstance(target, SAEngine):
        return target, False
    return make_engine(database_url(target)), True


def current(url: str | SAEngine | None = None) -> str | None:
    """The revision the database is at; None when it has never been migrated (empty, or made by
    ``create_all`` before migrations existed)."""
    engine, owned = _engine(url)
    try:
        with engine.connect() as conn:
            return _revision(conn)
    finally:
        if owned:
            engine.dispose()


def upgrade(url: str | SAEngine | None = None, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the latest); return the revision it is at.

    Idempotent and safe to call from several processes at once. ``url`` may also be an SQLAlchemy
    engine made by ``store.connection.make_engine`` (``Store.create_schema`` passes its own).
    """
    engine, owned = _engine(url)
    try:
        if revision == "head":
            with engine.connect() as conn:  # fast path, no lock, no Alembic: already at head
                if _at_head(conn):
                    return HEAD
        from alembic import command

        with engine.connect().execution_options(cor_writer=True) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITER_LOCK_KEY})
            # (SQLite: make_engine's BEGIN IMMEDIATE already holds the write lock)
            _adopt_unversioned(conn)
            command.upgrade(alembic_config(conn), revision)
            return _revision(conn)
    finally:
        if owned:
            engine.dispose()


def _adopt_unversioned(conn: Connection) -> None:
    """Stamp a database made by ``metadata.create_all`` (tables, no version table) as the baseline."""
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables or "events" not in tables:
        return
    missing = sorted(BASELINE_TABLES - tables)
    if missing:
        raise MigrationError(
            f"the database has an event log but no {VERSION_TABLE} table and lacks {', '.join(missing)}: "
            "it was not made by this program's schema; refusing to guess how to migrate it"
        )
    from alembic import command

    command.stamp(alembic_config(conn), BASELINE)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cor_incentives.store.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["current", "upgrade", "head", "revision"])
    parser.add_argument("--db", default=None, help="database URL (default: $COR_DATABASE_URL, else the SQLite default)")
    parser.add_argument("--revision", default="head", help="target revision for upgrade")
    parser.add_argument("-m", "--message", default="schema change", help="message of a new revision")
    args = parser.parse_args(argv)
    if args.action == "head":
        print(head())
    elif args.action == "current":
        print(current(args.db) or "none")
    elif args.action == "upgrade":
        print(upgrade(args.db, args.revision))
    else:  # autogenerate a new revision against a database that is at head
        from alembic import command
        from alembic.script import ScriptDirectory

        url = database_url(args.db)
        upgrade(url)
        number = len(list(ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions())) + 1
        command.revision(alembic_config(url=url), message=args.message, autogenerate=True, rev_id=f"{number:04d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
