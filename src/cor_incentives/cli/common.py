"""Shared CLI plumbing: options, the engine context, output (Rich or JSON), error mapping."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ..app.engine import Engine, oracle_key
from ..app.keys import Key, Keystore
from ..core.errors import EngineError, InvalidInput
from ..core.units import format_cor, parse_cor

console = Console()
err_console = Console(stderr=True)

DbOption = typer.Option(None, "--db", help="Database URL (default: $COR_DATABASE_URL or sqlite:///cor-data/cor.db).")
JsonOption = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")
KeysOption = typer.Option(None, "--keys-dir", help="Local keystore (default: $COR_KEYS_DIR or cor-data/keys).")
FromOption = typer.Option(..., "--from", help="Local key name or address that signs the command.")

EXIT_CODES = {"not_found": 3, "unauthorized": 4}

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Turn EngineError into a clear message and a non-zero exit; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EngineError as exc:
            if kwargs.get("as_json"):
                print(json.dumps({"ok": False, **exc.to_dict()}))
            else:
                err_console.print(f"[bold red]error[/] ({exc.code}): {exc.message}")
            raise typer.Exit(EXIT_CODES.get(type(exc).code, 2)) from None
        except OSError as exc:
            err_console.print(f"[bold red]error[/]: {exc}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def open_engine(db: str | None) -> Engine:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return Engine.open(db)
    except SQLAlchemyError as exc:
        raise InvalidInput(
            f"cannot open database {db or 'default'}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}", code="database_unavailable"
        ) from None


def open_network(db: str | None) -> Engine:
    engine = open_engine(db)
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
