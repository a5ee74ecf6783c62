"""Real external services for the test suite: PostgreSQL 15 and Debian Chromium.

Helpers meant to be called from pytest fixtures (tests/conftest.py). They never skip:
when a service cannot be provided they raise ``ServiceUnavailable`` (a RuntimeError)
with the reason, so a broken CI machine fails loudly instead of going green.

* ``postgres_url()`` – URL of the private test cluster (``scripts/pg-test-cluster.sh
  start``), or ``$COR_TEST_POSTGRES_URL`` when set. Installs PostgreSQL 15 first
  (``scripts/ensure-system-deps.sh``) when it is missing and we are root.
* ``fresh_postgres_database(name)`` – drops and re-creates a database whose name is
  derived from ``name`` and returns its URL; ``drop_postgres_database(name)`` removes it.
* ``chromium_launch_kwargs()`` – keyword arguments for Playwright's
  ``p.chromium.launch(**kwargs)`` using the Debian ``chromium`` package (Playwright
  cannot download its own browser here).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = REPO_ROOT / "scripts"
ENSURE_DEPS_SCRIPT = SCRIPTS_DIR / "ensure-system-deps.sh"
PG_CLUSTER_SCRIPT = SCRIPTS_DIR / "pg-test-cluster.sh"
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"

PG_BIN = Path(os.environ.get("COR_PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGRES_URL_ENV = "COR_TEST_POSTGRES_URL"
CHROMIUM_PATH_ENV = "COR_CHROMIUM_PATH"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

CHROMIUM_ARGS = (
    "--no-sandbox",  # we run as root; the setuid sandbox refuses root
    "--disable-gpu",
    "--disable-dev-shm-usage",  # Docker's default /dev/shm is 64 MB; chromium crashes on it
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
)

_MAX_IDENT = 63  # PostgreSQL NAMEDATALEN - 1

_lock = threading.RLock()
_pg_url: str | None = None
_deps_checked: set[str] = set()


class ServiceUnavailable(RuntimeError):
    """A service the tests need could not be provided (never a reason to skip)."""


# --------------------------------------------------------------------------- system


def ensure_system_deps(*packages: str) -> None:
    """Run scripts/ensure-system-deps.sh for ``packages`` (all when empty), once per process.

    Quiet and fast (~40 ms) when everything is installed; installs via apt-get when
    root; raises ServiceUnavailable otherwise.
    """
    key = " ".join(sorted(packages)) or "*"
    with _lock:
        if key in _deps_checked:
            return
        try:
            proc = subprocess.run(
                ["bash", str(ENSURE_DEPS_SCRIPT), *packages],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=1800,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceUnavailable(f"{ENSURE_DEPS_SCRIPT} timed out after {exc.timeout}s") from exc
        if proc.returncode != 0:
            raise ServiceUnavailable(
                f"{ENSURE_DEPS_SCRIPT.name} {' '.join(packages)} failed (exit {proc.returncode}):\n"
                f"{proc.stderr.strip()}\n{proc.stdout.strip()}".rstrip()
            )
        _deps_checked.add(key)


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def artifacts_dir() -> Path:
    """``<repo>/test-artifacts`` (created), where screenshots and other outputs go."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


# --------------------------------------------------------------------------- PostgreSQL


def postgres_url() -> str:
    """SQLAlchemy URL (``postgresql+psycopg://...``) of the test PostgreSQL server.

    ``$COR_TEST_POSTGRES_URL`` wins when set. Otherwise the private cluster is created
    and/or started by ``scripts/pg-test-cluster.sh start`` (idempotent, safe to call
    from several processes at once) and the result is cached for this process.
    """
    env_url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if env_url:
        return env_url
    global _pg_url
    with _lock:
        if _pg_url is not None:
            return _pg_url
        if not (PG_BIN / "postgres").exists() or not (PG_BIN / "initdb").exists():
            ensure_system_deps("postgresql-15")
        try:
            proc = subprocess.run(
                ["bash", str(PG_CLUSTER_SCRIPT), "start"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceUnavailable(f"{PG_CLUSTER_SCRIPT} start timed out after {exc.timeout}s:\n{exc.stderr or ''}") from exc
        lines = proc.stdout.strip().splitlines()
        url = lines[-1].strip() if lines else ""
        if proc.returncode != 0 or not url.startswith("postgresql+psycopg://"):
            raise ServiceUnavailable(
                "could not start the test PostgreSQL server with "
                f"`{PG_CLUSTER_SCRIPT} start` (exit {proc.returncode}):\n"
                f"{proc.stderr.strip()}\nstdout: {proc.stdout.strip()!r}"
            )
        _pg_url = url
        return url


def postgres_database_name(name: str) -> str:
    """Valid, lower-case PostgreSQL identifier derived from ``name`` (e.g. a test node id).

    Deterministic (so a re-run drops the previous run's database instead of leaking
    it), suffixed with the pytest-xdist worker id when running in parallel, and kept
    within 63 bytes by replacing the tail with a hash of the full name.
    """
    base = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "db"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    ident = f"cor_t_{base}" + (f"_{re.sub(r'[^a-z0-9]', '', worker.lower())}" if worker else "")
    if len(ident) > _MAX_IDENT:
        digest = hashlib.sha1(f"{name}|{worker}".encode()).hexdigest()[:10]
        ident = f"{ident[: _MAX_IDENT - 11]}_{digest}"
    return ident


def _admin_conninfo(url: str) -> str:
    from psycopg.conninfo import make_conninfo
    from sqlalchemy.engine import make_url

    u = make_url(url)
    params: dict[str, object] = {"dbname": "postgres", "connect_timeout": 10}
    if u.host:
        params["host"] = u.host
    if u.port:
        params["port"] = u.port
    if u.username:
        params["user"] = u.username
    if u.password is not None:
        params["password"] = u.password
    return make_conninfo("", **params)


def _run_admin(sql: str, base_url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(_admin_conninfo(base_url), autocommit=True) as conn:
            conn.execute(sql)
    except psycopg.Error as exc:
        raise ServiceUnavailable(f"PostgreSQL admin command failed: {sql!r}: {exc}") from exc


def fresh_postgres_database(name: str, *, base_url: str | None = None) -> str:
    """Drop (if present) and create an empty database for one isolated test; return its URL.

    ``name`` is free text (e.g. ``request.node.nodeid``), turned into an identifier by
    ``postgres_database_name``. The database is created from ``template0`` (so nothing
    added to template1 leaks in) with UTF8 encoding. Pair with
    ``drop_postgres_database(name)`` in the fixture's teardown.
    """
    from psycopg import sql as psql
    from sqlalchemy.engine import make_url

    base_url = base_url or postgres_url()
    db = postgres_database_name(name)
    ident = psql.Identifier(db).as_string(None)
    _run_admin(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)", base_url)
    _run_admin(
        f"CREATE DATABASE {ident} TEMPLATE template0 ENCODING 'UTF8' STRATEGY FILE_COPY",
        base_url,
    )
    return make_url(base_url).set(database=db).render_as_string(hide_password=False)


def drop_postgres_database(name: str, *, base_url: str | None = None) -> None:
    """Drop the database ``fresh_postgres_database(name)`` created (terminating its sessions)."""
    from psycopg import sql as psql

    base_url = base_url or postgres_url()
    ident = psql.Identifier(postgres_database_name(name)).as_string(None)
    _run_admin(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)", base_url)


# --------------------------------------------------------------------------- Chromium


def chromium_executable() -> str:
    """Path of the Debian chromium binary (``$COR_CHROMIUM_PATH`` wins), installing it if needed."""
    env_path = os.environ.get(CHROMIUM_PATH_ENV, "").strip()
    if env_path:
        if not os.access(env_path, os.X_OK):
            raise ServiceUnavailable(f"${CHROMIUM_PATH_ENV}={env_path} is not an executable file")
        return env_path
    # Also makes sure fonts are installed, so screenshots show text.
    ensure_system_deps("chromium", "fonts-dejavu-core")
    for candidate in (DEFAULT_CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ServiceUnavailable(
        f"chromium not found after scripts/ensure-system-deps.sh; install the Debian `chromium` package or set ${CHROMIUM_PATH_ENV}"
    )


def chromium_launch_kwargs() -> dict:
    """Keyword arguments for ``playwright.chromium.launch(**kwargs)`` (a fresh dict each call)."""
    return {
        "executable_path": chromium_executable(),
        "headless": True,
        "args": list(CHROMIUM_ARGS),
    }
