"""Shared CLI plumbing: options, the engine context, output (Rich or JSON), error mapping."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from ..app.engine import Engine, oracle_key
from ..app.keys import Key, Keystore
from ..core.errors import EngineError, InvalidInput
from ..core.units import format_cor, parse_cor
from ..store.connection import database_error, database_url

console = Console()
err_console = Console(stderr=True)

DbOption = typer.Option(None, "--db", help="Database URL (default: $COR_DATABASE_URL or sqlite:///cor-data/cor.db).")
JsonOption = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")
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


F = TypeVar("F", bound=Callable[..., Any])


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


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``data`` as one JSON document, or call ``render`` for the human view."""
    if as_json:
        print(json.dumps(data, sort_keys=True, default=str))
    else:
        render()


def receipt_out(receipt: Any, as_json: bool, message: str) -> None:
    emit(
        {"ok": True, **receipt.to_dict()},
        as_json,
        lambda: console.print(f"[green]✓[/] {message} [dim](event {receipt.seq}, tick {receipt.tick}, epoch {receipt.epoch})[/]"),
    )


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[str(x) for x in r])
    console.print(t)


def cor(value: int) -> str:
    return format_cor(value)
