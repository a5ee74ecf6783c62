"""Shared fixtures. Tests mirror src/; properties/, vectors/ and e2e/ hold the cross-cutting ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

VECTORS = ROOT / "tests" / "vectors"

# `make test` runs the suite on pytest-xdist's workers, which start with COLUMNS=80 and LINES=24 in their environment.
# The CLI reads a set COLUMNS as "a terminal this wide" (cli/common.py), so every table a test reads from a piped
# `cor` would be cut at 80 columns there and at full width in a plain `pytest`: drop them, as a pipe has neither
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


@pytest.fixture
def vectors_dir() -> Path:
    return VECTORS


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cor.db'}"


@pytest.fixture
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "keys"
    monkeypatch.setenv("COR_KEYS_DIR", str(d))
    return d


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path):
    """The same test on a SQLite file and on a fresh database of the test PostgreSQL server.

    The PostgreSQL database is named after the test (``request.node.nodeid``, unique per param),
    created empty from template0 and dropped afterwards (``WITH (FORCE)``: sessions still held by
    the test's pools are ended). Starting the server is on demand (tests/support/services.py).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cor.db'}"
        return
    from support.services import drop_postgres_database, fresh_postgres_database

    name = request.node.nodeid
    yield fresh_postgres_database(name)
    drop_postgres_database(name)
