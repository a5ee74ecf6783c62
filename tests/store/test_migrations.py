"""Alembic migrations: a fresh database, an old create_all database, concurrent first opens — on
SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, func, inspect, select, text

from cor_incentives.app.engine import Engine
from cor_incentives.app.genesis import DEVNET, check_genesis_spec, genesis_body
from cor_incentives.app.keys import Keystore
from cor_incentives.app.verify import state_fingerprint, verify_store
from cor_incentives.core.units import COR
from cor_incentives.store import migrate
from cor_incentives.store.connection import make_engine
from cor_incentives.store.db import Store, metadata

TABLES = {"events", "meta", "balances", "postings", "nodes", "documents", "blobs", "snapshots", "work_index"}


def schema_diff(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return compare_metadata(mc, metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_single_head_shipped_next_to_the_module():
    assert migrate.head() == "0003" == migrate.HEAD  # the fast path (no Alembic) compares the version table with HEAD
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file() and (migrate.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (migrate.MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


def test_fresh_database_migrates_to_head_and_matches_the_tables(db_url):
    assert migrate.current(db_url) is None
    assert migrate.upgrade(db_url) == migrate.head()
    assert migrate.current(db_url) == migrate.head()
    assert table_names(db_url) == TABLES | {"alembic_version"}
    assert schema_diff(db_url) == []  # the migrations produce exactly store.db.metadata
    assert migrate.upgrade(db_url) == migrate.head()  # idempotent


def test_store_create_schema_runs_the_migrations(db_url):
    store = Store(db_url)
    assert not store.has_schema()
    store.create_schema()
    store.create_schema()
    assert store.has_schema() and migrate.current(store.engine) == migrate.head()
    store.engine.dispose()


def test_downgrade_to_base_and_back(db_url):
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")
    assert table_names(db_url) <= {"alembic_version"}
    engine.dispose()
    assert migrate.upgrade(db_url) == migrate.head() and schema_diff(db_url) == []


def test_database_made_by_create_all_is_stamped_and_keeps_its_log(db_url, tmp_path):
    """A database from before migrations existed: tables made by create_all, no alembic_version."""
    engine = make_engine(db_url)
    metadata.create_all(engine, tables=[t for t in metadata.sorted_tables if t.name in migrate.BASELINE_TABLES])  # the tables of then
    engine.dispose()
    ks = Keystore(tmp_path / "keys")
    keys = {n: ks.new(n, seed="legacy") for n in ["oracle", "faucet", "modeldev", "alice", "bob", "carol", "dave"]}
    old = Engine(Store(db_url))  # the old way: no create_schema through migrations
    old.load()
    old.submit_as(
        keys["oracle"], "genesis", genesis_body(check_genesis_spec(DEVNET), keys["oracle"].address, {n: k.address for n, k in keys.items()})
    )
    old.submit_as(keys["alice"], "transfer", {"to": keys["bob"].address, "amount": str(3 * COR)})
    assert migrate.current(db_url) is None and "alembic_version" not in table_names(db_url)

    reopened = Engine.open(db_url)  # stamps instead of failing on "table already exists"
    assert migrate.current(db_url) == migrate.head()
    assert state_fingerprint(reopened.state) == state_fingerprint(old.state)
    reopened.submit_as(keys["bob"], "transfer", {"to": keys["alice"].address, "amount": "1"})
    report, _ = verify_store(reopened.store)
    assert report.ok and report.events == 3, report.errors
    assert schema_diff(db_url) == []
    for e in (old, reopened):
        e.store.engine.dispose()


def test_unknown_partial_schema_is_refused_not_guessed(db_url):
    engine = make_engine(db_url)
    Table("events", MetaData(), Column("seq", Integer, primary_key=True)).create(engine)
    engine.dispose()
    with pytest.raises(migrate.MigrationError, match="lacks balances, blobs"):
        migrate.upgrade(db_url)
    assert migrate.current(db_url) is None and table_names(db_url) == {"events"}  # rolled back


def test_concurrent_first_opens_migrate_once(db_url):
    n = 6
    stores = [Store(db_url) for _ in range(n)]
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def open_one(store: Store) -> None:
        barrier.wait()
        try:
            store.create_schema()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with stores[0].reader() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert conn.execute(select(func.count()).select_from(metadata.tables["events"])).scalar() == 0
    for s in stores:
        s.engine.dispose()


def test_command_line_runner(sqlite_url):
    """``python -m cor_incentives.store.migrate`` (one backend is enough: it is the same upgrade())."""

    def run(*args: str) -> str:
        p = subprocess.run(
            [sys.executable, "-m", "cor_incentives.store.migrate", *args, "--db", sqlite_url],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    assert run("upgrade") == migrate.head()
    assert run("current") == migrate.head()
