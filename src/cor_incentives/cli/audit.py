"""``cor verify`` and ``cor anchors``: audit the log read-only, and list the anchors to publish."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..app.anchors import Anchor, anchors_json, list_anchors, load_anchors, parse_anchor
from ..app.verify import verify_database
from ..store.db import Store
from .common import DbOption, JsonOption, console, emit, handle_errors, lock_timeout, open_network, table
from .render import render_verify


def register(app: typer.Typer) -> None:
    app.command()(verify)
    app.command()(anchors)


@handle_errors
def verify(
    db: str | None = DbOption,
    anchor: list[str] = typer.Option([], "--anchor", help="SEQ:HASH the log must match (repeatable), e.g. from `cor anchors` kept elsewhere."),
    anchors_file: str | None = typer.Option(None, "--anchors", help="A file of anchors: `cor anchors --json` output, or SEQ:HASH lines."),
    as_json: bool = JsonOption,
) -> None:
    """Audit the log read-only: hash chain, stored columns, signatures, replay, conservation, projections,
    epoch roots, blobs, and anchors. Never writes; exits 1 unless everything holds."""
    given: list[Anchor] = [parse_anchor(a) for a in anchor]
    if anchors_file:
        given += load_anchors(anchors_file)
    total = _event_count(db)
    if as_json or total < 2_000:
        report, _ = verify_database(db, given)
    else:
        with Progress(
            TextColumn("verifying"), BarColumn(), TextColumn("{task.completed}/{task.total} events"), TimeElapsedColumn(), console=console
        ) as bar:
            t = bar.add_task("verify", total=total)
            report, _ = verify_database(db, given, progress=lambda seq: bar.update(t, completed=seq + 1))
    data = report.to_dict()
    emit(data, as_json, lambda: render_verify(data))
    if not report.ok:
        raise typer.Exit(1)


def _event_count(db: str | None) -> int:
    """For the progress bar only: 0 when the database cannot be read (verify then reports why)."""
    try:
        store = Store(db, create=False, lock_timeout=lock_timeout())
        try:
            return store.event_count()
        finally:
            store.dispose()
    except Exception:
        return 0


@handle_errors
def anchors(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """The oracle's signed checkpoints, one per closed epoch (and the latest): (seq, hash) pairs to publish
    elsewhere and check later with `cor verify --anchors FILE`."""
    engine = open_network(db)
    found = list_anchors(engine.state)
    if as_json:
        print(anchors_json(found))
        return
    emit(
        {},
        False,
        lambda: table(
            f"anchors of {engine.state.chain_id} (head {engine.state.seq})",
            ["epoch", "seq", "hash", "signed in event", "tick"],
            [[a.epoch if a.epoch is not None else "latest", a.seq, a.hash, a.event, a.tick] for a in found],
        ),
    )
    if not found:
        console.print("no checkpoints yet: the oracle signs one with each `cor tick` and `cor epoch close`")
