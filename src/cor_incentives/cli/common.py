"""Shared CLI plumbing: options, the engine context, output (Rich or JSON), error mapping."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from ..app.engine import Engine, oracle_key
from ..app.eta import add_etas, tick_seconds_setting
from ..app.keys import Key, Keystore, keys_dir
from ..client import ApiError, CorClient
from ..core.errors import EngineError, InvalidInput, NotFound
from ..core.events import MAX_PAYLOAD_BYTES, parse_json
from ..core.state import State
from ..core.units import format_cor, parse_cor
from ..store.connection import database_error, database_url

PIPED_WIDTH = 1_000  # piped output is never cut or wrapped at 80 columns: tables take their natural width
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPED_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() or os.environ.get("COLUMNS") else PIPED_WIDTH)

DbOption = typer.Option(None, "--db", help="Database URL (default: $COR_DATABASE_URL or sqlite:///cor-data/cor.db).")
JsonOption = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")
ApiOption = typer.Option(
    None,
    "--api",
    envvar="COR_API_URL",
    help="A `cor serve` API to use instead of a database (default: $COR_API_URL): reads from /v1, commands signed here and posted.",
)
KeysOption = typer.Option(None, "--keys-dir", help="Local keystore (default: $COR_KEYS_DIR or cor-data/keys).")
FromOption = typer.Option(..., "--from", help="Local key name or address that signs the command.")

EXIT_CODES = {"not_found": 3, "unauthorized": 4}
EXIT_INTERNAL = 70  # a bug (EX_SOFTWARE): reported in one line, never as a traceback
DEFAULT_CLI_LOCK_TIMEOUT_SECONDS = 10.0


def lock_timeout() -> float:
    """How long a CLI command waits for another writer's lock ($COR_LOCK_TIMEOUT seconds, default 10)."""
    try:
        value = float(os.environ.get("COR_LOCK_TIMEOUT", DEFAULT_CLI_LOCK_TIMEOUT_SECONDS))
    except ValueError:
        raise InvalidInput("COR_LOCK_TIMEOUT must be a number of seconds", code="invalid_lock_timeout") from None
    if not 0 < value <= 3600:
        raise InvalidInput("COR_LOCK_TIMEOUT must be in (0, 3600] seconds", code="invalid_lock_timeout")
    return value


def http_errors() -> tuple[type[Exception], ...]:
    """httpx's transport and URL errors, or none when httpx was never loaded (a command on a local database
    does not import it: ~0.2 s of start-up)."""
    httpx = sys.modules.get("httpx")
    return (httpx.HTTPError, httpx.InvalidURL) if httpx is not None else ()


F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def handle_errors(fn: F) -> F:
    """Turn EngineError into a clear message and a non-zero exit; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except EngineError as exc:
            _report(exc.to_dict(), exc.code, exc.message, kwargs.get("as_json", False))
            raise typer.Exit(EXIT_CODES.get(type(exc).code, 2)) from None
        except ApiError as exc:
            _report(exc.to_dict(), exc.code, exc.message, kwargs.get("as_json", False))
            raise typer.Exit(EXIT_CODES.get({404: "not_found", 401: "unauthorized"}.get(exc.status, ""), 2)) from None
        except http_errors() as exc:
            url = kwargs.get("api") or os.environ.get("COR_API_URL", "")
            message = f"cannot reach the API at {url}: {type(exc).__name__}: {str(exc)[:200]}"
            _report({"error": "api_unreachable", "message": message}, "api_unreachable", message, kwargs.get("as_json", False))
            raise typer.Exit(2) from None
        except SQLAlchemyError as exc:
            err = database_error(exc, database_url(kwargs.get("db")), lock_timeout())
            _report(err.to_dict(), err.code, err.message, kwargs.get("as_json", False))
            raise typer.Exit(2) from None
        except OSError as exc:
            _report({"error": "os_error", "message": str(exc)}, "os_error", str(exc), kwargs.get("as_json", False))
            raise typer.Exit(2) from None
        except Exception as exc:  # a bug: one clear line, never a traceback (COR_DEBUG=1 shows it)
            if os.environ.get("COR_DEBUG"):
                raise
            message = f"{type(exc).__name__}: {str(exc)[:300]} (a bug; rerun with COR_DEBUG=1 for the traceback)"
            _report({"error": "internal_error", "message": message}, "internal_error", message, kwargs.get("as_json", False))
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def _report(body: dict[str, Any], code: str, message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"ok": False, **body}))
    else:
        err_console.print(f"[bold red]error[/] ({code}): {escape(message)}")


def open_engine(db: str | None) -> Engine:
    """Open a database for writing, creating it (and its schema) when missing: `cor init`, `cor serve`."""
    return Engine.open(db, lock_timeout=lock_timeout())


def open_network(db: str | None) -> Engine:
    """Open an existing network; nothing is created or written until a command is submitted."""
    engine = Engine.open(db, create=False, lock_timeout=lock_timeout())
    engine.require_genesis()
    return engine


class Net:
    """Where a command's reads and writes go: a local database (an Engine) or a `cor serve` API.

    Reads take the view function the API itself runs (``local``) and the API path that serves it, so
    both modes print the same data; writes are signed with a local key either way and return the
    receipt as a dict (``seq``, ``hash``, ``kind``, ``actor``, ``tick``, ``epoch``, ``ids``)."""

    def __init__(self, engine: Engine | None = None, api: str | None = None) -> None:
        self.engine = engine
        self.api = api.rstrip("/") if api else None
        self.client = CorClient(self.api) if self.api else None

    @property
    def remote(self) -> bool:
        return self.client is not None

    @property
    def local_engine(self) -> Engine:
        """The local database's engine: for what only runs next to the database (``local_only`` through an API)."""
        if self.engine is None:
            raise InvalidInput("this runs next to the database (--db), not through --api", code="local_only")
        return self.engine

    def read(self, local: Callable[[State], T], path: str, params: dict[str, Any] | None = None, field: str | None = None) -> T:
        """``local(state)`` on the database, or GET ``path`` (its ``field`` when given) from the API."""
        if self.client is not None:
            data = self.client.get(path, params={k: v for k, v in (params or {}).items() if v is not None})
            return data[field] if field else data  # type: ignore[no-any-return]
        out: T = add_etas(self.local_engine.state, local(self.engine.state), tick_seconds_setting())  # as the API adds them
        return out

    def submit(self, key: Key, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Sign ``body`` with ``key`` and append it: in the database, or posted to the API."""
        if self.client is not None:
            with CorClient(self.client.base_url, key.private_key) as c:
                return c.submit(kind, body)
        return self.local_engine.submit_as(key, kind, body).to_dict()

    def oracle(self, keys_dir: str | None) -> Key:
        """The oracle's local key; oracle commands (time, network tasks, oracle reports) run next to the database."""
        if self.remote:
            raise InvalidInput(
                "this command is signed by the oracle and carries its view of the log head: run it next to the database (--db), not through --api",
                code="oracle_local_only",
            )
        return oracle_key(self.local_engine, Keystore(keys_dir))

    def put_blob(self, data: bytes) -> str:
        """Store content-addressed bytes (a prompt, a submission) where the network keeps its blobs."""
        if self.client is not None:
            return self.client.put_blob(data)
        return self.local_engine.store.put_blob(data)


def get_blob(net: Net, blob_hash: str) -> bytes:
    """Content-addressed bytes (a prompt, an output) from where the network keeps them; ``blob_not_found`` when absent."""
    if net.client is not None:
        return net.client.get_blob(blob_hash)
    data = net.local_engine.store.get_blob(blob_hash.lower())
    if data is None:
        raise NotFound(f"no blob {blob_hash.lower()}", code="blob_not_found")
    return data


def connect(db: str | None, api: str | None) -> Net:
    """The network a command talks to: ``--api`` (or $COR_API_URL) when given, else the database (never created)."""
    if api:
        if db:
            raise InvalidInput("give --db or --api, not both", code="db_and_api")
        import httpx

        try:
            url = httpx.URL(api)
        except (httpx.InvalidURL, TypeError, ValueError):
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host or len(api) > 2000:
            raise InvalidInput(f"--api must be an http(s) URL such as http://127.0.0.1:8545, got {api[:100]!r}", code="invalid_api_url")
        return Net(api=api)
    return Net(engine=open_network(db))


def local_only(db: str | None, api: str | None, command: str) -> Engine:
    """The database of a command that has no API read yet: a clear refusal under --api."""
    if api:
        raise InvalidInput(f"{command} reads the database directly: run it with --db, not --api", code="api_unsupported")
    return open_network(db)


def signer(keys_dir: str | None, name: str) -> Key:
    return Keystore(keys_dir).get(name)


def oracle(engine: Engine, keys_dir: str | None) -> Key:
    return oracle_key(engine, Keystore(keys_dir))


def cor_amount(text: str, what: str = "amount") -> int:
    """Parse a COR decimal string from the command line."""
    try:
        return parse_cor(text)
    except EngineError as exc:
        raise InvalidInput(f"{what}: {exc.message}", code=exc.code) from None


def fraction_ppb(text: str, what: str) -> int:
    """A fraction of 1 written as a decimal (``0.8``, ``1``, ``.25``; at most 9 decimals) in parts per billion, exactly."""
    whole, _, frac = text.strip().partition(".")
    if not (whole or frac) or not (whole == "" or whole.isascii() and whole.isdigit()) or not (frac == "" or frac.isascii() and frac.isdigit()):
        raise InvalidInput(f"{what} must be a decimal between 0 and 1 such as 0.8, got {text!r}", code="invalid_score")
    if len(frac) > 9:
        raise InvalidInput(f"{what} has at most 9 decimals (parts per billion), got {text!r}", code="invalid_score")
    ppb = int(whole or "0") * 10**9 + int((frac or "0").ljust(9, "0"))
    if ppb > 10**9:
        raise InvalidInput(f"{what} must be between 0 and 1, got {text!r}", code="invalid_score")
    return ppb


def json_option(text: str, what: str, code: str, *, max_bytes: int = MAX_PAYLOAD_BYTES, max_depth: int = 64, **details: object) -> Any:
    """A JSON value a user typed (an option, a line of a file), refused with ``code`` when it is not one: invalid, larger
    than ``max_bytes`` (by default what a whole command may be), or nested deeper than ``max_depth`` (a command may nest
    8 levels). Never ``json.loads`` alone: nesting deeper than the interpreter's recursion limit (1 000 in a plain
    ``cor`` process) raised RecursionError, reported as an internal error. ``details`` go with the error (a line number)."""
    try:
        return parse_json(text.encode("utf-8", "surrogatepass"), max_bytes=max_bytes, max_depth=max_depth)
    except InvalidInput as exc:  # "not valid JSON: …", "JSON is larger than …", "JSON is nested deeper than …"
        raise InvalidInput(f"{what}: {exc.message}", code=code, **details) from None


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``data`` as one JSON document, or call ``render`` for the human view."""
    if as_json:
        print(json.dumps(data, sort_keys=True, default=str))
    else:
        render()


def receipt_out(receipt: Any, as_json: bool, message: str) -> None:
    r = receipt if isinstance(receipt, dict) else receipt.to_dict()
    emit(
        {"ok": True, **r},
        as_json,
        lambda: console.print(f"[green]✓[/] {message} [dim](event {r['seq']}, tick {r['tick']}, epoch {r['epoch']})[/]"),
    )


def cell(value: Any) -> str:
    """A value as a person reads it in a table: nothing for None, yes/no, one ``key: value`` line per
    field of a mapping, one line per item of a list (nested values as compact JSON), never Python repr."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_inline(v)}" for k, v in value.items()) if value else ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_inline(v) for v in value) if value else ""
    return str(value)


def _inline(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str, separators=(", ", ": "))
    return cell(value)


ADDRESS_CELL = re.compile(r"^0x[0-9a-f]{40}$")


@functools.lru_cache(maxsize=8)
def local_key_names(directory: str) -> dict[str, str]:
    """Address → name of every key in the keystore at ``directory``; none when it can't be read."""
    try:
        return {k.address: k.name for k in Keystore(directory).list()}
    except (EngineError, OSError, ValueError):
        return {}


def named(text: str) -> str:
    """An address cell with the local key's name beside it: ``0x…abcd (alice)``; any other text as it is."""
    name = local_key_names(str(keys_dir(None))).get(text) if ADDRESS_CELL.match(text) else None
    return f"{text} ({name})" if name else text


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A table for people: cells as text (``cell``), addresses of local keys with their names."""
    t = Table(title=title)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[named(x) if isinstance(x, str) else cell(x) for x in r])
    console.print(t)


def cor(value: int) -> str:
    return format_cor(value)
