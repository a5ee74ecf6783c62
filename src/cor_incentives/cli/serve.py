"""``cor serve``: the REST API under uvicorn (one Engine per worker process, all sharing one database).

Hooked into the ``cor`` app by ``register(app)``; also runnable alone: ``python -m cor_incentives.cli.serve``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import typer

from ..app.eta import TICK_SECONDS_ENV, tick_seconds_setting
from ..store.connection import database_url
from .common import DbOption, err_console, handle_errors, open_engine

APP_FACTORY = "cor_incentives.api.app:app_from_env"
MAX_WORKERS = 64
WORKER_HEALTHCHECK_TIMEOUT_SECONDS = 300
"""How long uvicorn's supervisor waits for a worker to answer its health check before it kills and
restarts it (uvicorn's default, 5 s, is shorter than a worker's imports and database open on a busy
machine: the workers were killed and restarted for ever)."""


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's own loggers plus ``cor.api``: one JSON line per request on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(message)s"},
            "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
        },
        "handlers": {
            "plain": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
            "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "cor.api": {"handlers": ["plain"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
        },
    }


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8545, "--port", min=0, max=65535, help="TCP port."),
    db: str | None = DbOption,
    workers: int = typer.Option(
        1, "--workers", min=1, max=MAX_WORKERS, help="Worker processes (each its own Engine; the database serialises writes)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
    tick_seconds: str | None = typer.Option(
        None, "--tick-seconds", help="The oracle's tick length in seconds (or $COR_TICK_SECONDS): reads then show wall-clock ETAs next to deadlines."
    ),
) -> None:
    """Serve the REST API (OpenAPI docs at /docs, metrics at /metrics)."""
    import uvicorn

    from ..api.metrics import MULTIPROC_ENV

    url = database_url(db)
    engine = open_engine(url)  # fail fast on a bad URL; creates the schema once, before any worker starts
    if engine.state.params_history is None:
        err_console.print(f"[yellow]warning[/]: {url} has no network yet; reads answer 409 no_genesis until `cor init`")
    engine.snapshot_head()  # the workers load it and replay nothing
    engine.store.engine.dispose()
    os.environ["COR_DATABASE_URL"] = url  # the worker processes read it (app_from_env)
    if tick_seconds is not None:
        os.environ[TICK_SECONDS_ENV] = str(tick_seconds_setting(tick_seconds))  # checked here (invalid_tick_seconds), read by each worker
    shared = None
    if workers > 1:  # /metrics sums every worker's counters (prometheus_client multiprocess mode, api/metrics.py)
        shared = tempfile.mkdtemp(prefix="cor-metrics-")
        os.environ[MULTIPROC_ENV] = shared
    try:
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT_SECONDS,
            log_config=log_config(log_level),
            access_log=False,
            log_level=log_level.lower(),
        )
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to a Typer app (``cor serve``)."""
    app.command("serve")(handle_errors(serve))


def main() -> None:
    standalone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(standalone)
    standalone()


if __name__ == "__main__":
    main()
