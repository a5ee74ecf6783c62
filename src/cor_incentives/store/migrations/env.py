"""Alembic environment for the cor-incentives store (the tables of ``cor_incentives.store.db``).

Normally driven by ``cor_incentives.store.migrate`` (no alembic.ini): it hands over an open
connection, already inside a transaction that holds the migration lock, in
``config.attributes["connection"]``. Run by hand, e.g. to autogenerate a revision::

    python -m cor_incentives.store.migrate revision --url sqlite:///tmp/x.db -m "add foo"

it connects to ``sqlalchemy.url`` (or $COR_DATABASE_URL) itself.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from cor_incentives.store.connection import database_url, make_engine
from cor_incentives.store.db import metadata

config = context.config
target_metadata = metadata


def _configure(**kw: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        **kw,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = database_url(config.get_main_option("sqlalchemy.url"))
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(database_url(config.get_main_option("sqlalchemy.url")))
    try:
        with engine.connect() as conn:
            _configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
