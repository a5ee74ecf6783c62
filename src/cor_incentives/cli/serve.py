"""``cor serve``: the REST API under uvicorn (one Engine per worker process, all sharing one database).

The app is built once in the serving process, on the engine it opened; ``--workers N`` forks N
uvicorn servers from it on one socket (``ForkedWorkers``), so a server starts in one import and one
open, whatever N. Worker 0 is the one writer and takes no HTTP connection: the other N - 1 workers
serve every request, reads themselves, and forward the submit routes to it (api/writer_link.py), so
no two processes apply the same commands or wait for each other's writer lock.

Hooked into the ``cor`` app by ``register(app)``; also runnable alone: ``python -m cor_incentives.cli.serve``.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from typing import Any

import typer

from ..app.engine import Engine
from ..app.eta import TICK_SECONDS_ENV, tick_seconds_setting
from ..store.connection import database_url
from .common import DbOption, err_console, handle_errors, open_engine

APP_FACTORY = "cor_incentives.api.app:app_from_env"
MAX_WORKERS = 64
WORKER_HEALTHCHECK_TIMEOUT_SECONDS = 300
"""How long uvicorn's supervisor waits for a worker to answer its health check before it kills and
restarts it (uvicorn's default, 5 s, is shorter than a worker's imports and database open on a busy
machine: the workers were killed and restarted for ever)."""
RESTART_DELAY_SECONDS = 1.0  # before a dead worker is replaced (a worker that dies at once does not spin)

logger = logging.getLogger("cor.api")


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


HTTP_IMPL = "auto"
LOOP_IMPL = "auto"
"""uvicorn's choice: httptools' HTTP parser and uvloop's event loop, both pinned dependencies (pure-Python h11
and asyncio's own loop where they are missing). Paired runs on the single-command path (bench/README.md,
session 19): two separate servers 0.66-0.84 -> 0.56-0.57 ms of server CPU per command. On asyncio's own loop
``--workers N`` serves as fast since its listening socket is marked TCP (``bind_listener``); before, every
answer of a worker on that loop waited ~40 ms for the client's delayed ACK (~400 commands/s instead of ~1 750)."""


def server_config(app: Any, host: str, port: int, log_level: str) -> Any:
    """The uvicorn configuration every ``cor serve`` worker runs."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=HTTP_IMPL,
        loop=LOOP_IMPL,
        log_config=log_config(log_level),
        access_log=False,
        log_level=log_level.lower(),
        timeout_graceful_shutdown=10,
    )


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8545, "--port", min=0, max=65535, help="TCP port."),
    db: str | None = DbOption,
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=MAX_WORKERS,
        help="Worker processes, forked once the database is open: a writer applies every command, the others take all requests, forwarding commands.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
    tick_seconds: str | None = typer.Option(
        None, "--tick-seconds", help="The oracle's tick length in seconds (or $COR_TICK_SECONDS): reads then show wall-clock ETAs next to deadlines."
    ),
) -> None:
    """Serve the REST API (OpenAPI docs at /docs, metrics at /metrics)."""
    from ..api.metrics import MULTIPROC_ENV  # the name only: prometheus_client is imported once this is set

    url = database_url(db)
    engine = open_engine(url)  # fail fast on a bad URL; creates the schema once, before any worker starts
    if engine.state.params_history is None:
        err_console.print(f"[yellow]warning[/]: {url} has no network yet; reads answer 409 no_genesis until `cor init`")
    engine.snapshot_head()  # a restarted worker (or the next server) loads it and replays nothing
    engine.store.engine.dispose()
    os.environ["COR_DATABASE_URL"] = url  # app_from_env (a worker started by uvicorn's own supervisor) reads it
    if tick_seconds is not None:
        os.environ[TICK_SECONDS_ENV] = str(tick_seconds_setting(tick_seconds))  # checked here (invalid_tick_seconds), read by each worker
    shared = None
    if workers > 1:  # /metrics sums every worker's counters (prometheus_client multiprocess mode, api/metrics.py)
        shared = tempfile.mkdtemp(prefix="cor-metrics-")
        os.environ[MULTIPROC_ENV] = shared
    try:
        run_app(engine, url, host, port, workers, log_level)
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)


def run_app(engine: Engine, url: str, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the app built once, here, on the engine already open (its state is the head's).

    One worker: uvicorn in this process. Several: this process binds the socket, then forks the
    workers, which share the imported code and the opened state (copy-on-write) instead of each
    importing the package and opening the database again; each worker takes its own database
    connections after the fork. This process only supervises: a worker that dies is replaced by a
    fresh fork that re-opens the database (from the newest snapshot); SIGTERM / SIGINT stop them all."""
    import uvicorn

    from ..api.app import create_app
    from ..api.service import ApiService

    app = create_app(service=ApiService(engine))
    config = server_config(app, host, port, log_level)
    if workers == 1:
        uvicorn.Server(config).run()
        return
    if not hasattr(os, "fork"):  # no fork on this platform: uvicorn's own supervisor, each worker imports and opens
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
        return
    config.load()  # the protocol classes (h11, websockets) and the app's middleware: once, here, shared by every fork
    sock = bind_listener(config)
    with tempfile.TemporaryDirectory(prefix="cor-writer-") as link_dir:  # mode 0700: only this user reaches the writer
        ForkedWorkers(config, sock, app.state.service, workers, url, link_dir).run()


def bind_listener(config: Any) -> socket.socket:
    """The listening socket the forked workers share: uvicorn's ``bind_socket``, marked as the TCP socket it is.

    uvicorn makes it with ``socket.socket(family)``, so the socket object (and every connection accepted
    from it) says protocol 0, not ``IPPROTO_TCP``; asyncio's own event loop sets ``TCP_NODELAY`` on a
    connection only when its socket says ``IPPROTO_TCP`` (``asyncio.base_events._set_nodelay``; it does
    for a server it binds itself, as ``--workers 1``'s), uvloop on every TCP connection. Without it
    Nagle's algorithm holds each answer's body (uvicorn writes the headers, then the body) until the
    client acknowledges the headers, which a client waiting for the whole answer does only when its
    delayed-ACK timer fires: ~40 ms added to every request a worker on asyncio's loop answered
    (``--workers 2``: ~400 commands/s instead of ~1 750, bench/README.md). The same descriptor, re-wrapped:
    nothing else about the socket changes."""
    sock: socket.socket = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM and sock.proto != socket.IPPROTO_TCP:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(True)  # (as bind_socket left it: the forked workers share it)
    return sock


class ForkedWorkers:
    """The supervisor of ``cor serve --workers N``: N forked uvicorn servers on one listening socket.

    The first is the writer: the only process that applies and appends commands, listening only on a
    Unix socket in ``link_dir`` for the commands the other (read) workers forward to it; it accepts no
    HTTP connection (its copy of the listening socket is closed), so its one committer thread shares its
    process's GIL with no event loop serving requests, and the read workers, which take every
    connection, parse each command and recover its signer on their own cores (api/writer_link.py;
    bench/README.md: +30 % on the single-command path). A dead writer
    is replaced like any worker. Only the writer holds that socket (this process closes its copy once
    the writer is forked, and binds a fresh one for a replacement): a dead writer leaves no listener,
    so a command forwarded meanwhile is answered ``503 writer_unavailable`` at once, never left waiting."""

    def __init__(self, config: Any, sock: socket.socket, service: Any, workers: int, url: str, link_dir: str) -> None:
        from ..api.writer_link import bind_writer_socket

        self.config = config
        self.url = url
        self.sock = sock
        self.service = service
        self.workers = workers
        self.link_dir = link_dir
        self.writer_sock: socket.socket | None = bind_writer_socket(link_dir)
        self.children: dict[int, bool] = {}  # pid -> is the writer
        self.stopping = False

    def spawn(self, *, writer: bool, reopen: bool) -> None:
        if writer and self.writer_sock is None:
            from ..api.writer_link import bind_writer_socket

            self.writer_sock = bind_writer_socket(self.link_dir)
        pid = os.fork()
        if pid:
            self.children[pid] = writer
            if writer and self.writer_sock is not None:
                self.writer_sock.close()
                self.writer_sock = None
            return
        code = 0
        try:  # the worker: its own connections, default signal handling (uvicorn installs its own)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            self.service.engine.store.engine.dispose(close=False)  # never share the parent's pooled connections
            if reopen:  # a replacement: the parent's state may be far behind the head
                self.service.engine = Engine.open(self.url, create=False)
            role = "writer" if writer else "read worker (forwards commands to the writer)"
            logging.getLogger("uvicorn.error").info("Worker process [%d] is the %s", os.getpid(), role)
            if writer:
                self._serve_writer()
            else:
                self._serve_reads()
        except BaseException:
            code = 1
            logger.exception("worker %s failed", os.getpid())
        finally:
            os._exit(code)

    def _serve_reads(self) -> None:
        import uvicorn

        from ..api.writer_link import SOCKET_NAME, WriterLink

        self.service.writer_link = WriterLink(os.path.join(self.link_dir, SOCKET_NAME))
        uvicorn.Server(self.config).run(sockets=[self.sock])

    def _serve_writer(self) -> None:
        import uvicorn

        from ..api.writer_link import ForwardedCommands

        forwarded = ForwardedCommands(self.service, self.writer_sock).start() if self.writer_sock is not None else None
        self.sock.close()  # the writer takes no HTTP connection: the read workers accept every one
        try:
            uvicorn.Server(self.config).run(sockets=[])  # (its lifespan and signal handling, no listener)
        finally:
            if forwarded is not None:
                forwarded.close()

    def stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        logging.getLogger("uvicorn.error").info(
            "Started parent process [%d]; forking %d workers (one writer, %d forwarding to it)", os.getpid(), self.workers, self.workers - 1
        )
        gc.collect()
        gc.freeze()  # the collector leaves what is shared now alone: workers don't copy those pages by touching them
        for i in range(self.workers):
            self.spawn(writer=i == 0, reopen=False)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            was_writer = self.children.pop(pid, False)
            if not self.stopping:
                logger.warning("%s %s exited (status %s); starting another", "writer" if was_writer else "worker", pid, status)
                time.sleep(RESTART_DELAY_SECONDS)
                if not self.stopping:
                    self.spawn(writer=was_writer, reopen=True)
        self.sock.close()


def register(app: typer.Typer) -> None:
    """Add ``serve`` to a Typer app (``cor serve``)."""
    app.command("serve")(handle_errors(serve))


def main() -> None:
    standalone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(standalone)
    standalone()


if __name__ == "__main__":
    main()
