"""``cor verify`` and ``cor anchors``: audit the log read-only, and list the anchors to publish."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from ..app.anchors import Anchor, anchors_json, list_anchors, load_anchors, parse_anchor
from ..app.recovery import default_workers
from ..app.verify import VerifyReport, verify_database
from ..core.errors import InvalidInput
from ..core.state import State
from ..store.db import Store
from .common import DbOption, JsonOption, console, emit, handle_errors, lock_timeout, open_network, table
from .render import render_verify


def register(app: typer.Typer) -> None:
    app.command()(verify)
    app.command()(anchors)
    app.command("audit")(audit_epoch_cmd)


@handle_errors
def verify(
    db: str | None = DbOption,
    anchor: list[str] = typer.Option([], "--anchor", help="SEQ:HASH the log must match (repeatable), e.g. from `cor anchors` kept elsewhere."),
    anchors_file: str | None = typer.Option(None, "--anchors", help="A file of anchors: `cor anchors --json` output, or SEQ:HASH lines."),
    chain_rpc: str | None = typer.Option(
        None, "--chain", help="Also check the log against an EVM chain at this JSON-RPC URL: every posted root, total and log anchor."
    ),
    distributor: str | None = typer.Option(None, "--distributor", help="The RewardsDistributor address for --chain."),
    from_snapshot: bool = typer.Option(
        False,
        "--from-snapshot",
        help="Start from the newest stored state snapshot an oracle checkpoint anchored (its hash signed in the log) instead of genesis.",
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="Helper processes recovering signatures ahead of the replay (default: cores - 1; 0: none, in this process)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Audit the log read-only: hash chain, stored columns, signatures, replay, conservation, projections,
    epoch roots, blobs, and anchors (given, in the log, and with --chain on an EVM chain). Never writes;
    exits 1 unless everything holds."""
    if (chain_rpc is None) != (distributor is None):
        raise InvalidInput("--chain and --distributor go together", code="invalid_option")
    given: list[Anchor] = [parse_anchor(a) for a in anchor]
    if anchors_file:
        given += load_anchors(anchors_file)
    also = _chain_check(chain_rpc, distributor) if chain_rpc is not None and distributor is not None else None
    total = _event_count(db)
    workers = workers if workers is not None else default_workers()
    if as_json or total < 2_000:
        report, _ = verify_database(db, given, also=also, from_snapshot=from_snapshot, workers=workers)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # loaded when a bar is shown

        with Progress(
            TextColumn("verifying"), BarColumn(), TextColumn("{task.completed}/{task.total} events"), TimeElapsedColumn(), console=console
        ) as bar:
            t = bar.add_task("verify", total=total)
            report, _ = verify_database(
                db, given, progress=lambda seq: bar.update(t, completed=seq + 1), also=also, from_snapshot=from_snapshot, workers=workers
            )
    data = report.to_dict()
    emit(data, as_json, lambda: render_verify(data))
    if not report.ok:
        raise typer.Exit(1)


def _chain_check(rpc: str, distributor: str) -> Callable[[Store, State, VerifyReport], None]:
    """The checks against an EVM distributor, run inside verify's read-only session."""

    def check(store: Store, state: State, report: VerifyReport) -> None:
        from ..chain.rpc import Chain, chain_errors
        from ..chain.verify import check_against_chain

        with chain_errors("cor verify --chain"):
            check_against_chain(store, state, Chain(rpc), distributor, report)

    return check


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
def audit_epoch_cmd(
    epoch: int = typer.Argument(..., min=0, max=2**53 - 1, help="A closed epoch."),
    db: str | None = DbOption,
    api: str | None = typer.Option(None, "--api", help="Read the published JSON from a cor API at this URL instead of a database."),
    as_json: bool = JsonOption,
) -> None:
    """Recompute an epoch's payouts independently, from the published JSON and docs/rewards.md only: every
    quantity matched/total, and each mismatch by name. Exits 1 on any mismatch."""
    from .. import auditor

    if api is not None and db is not None:
        raise InvalidInput("--api and --db are two sources: give one", code="invalid_option")
    if api is not None:
        if not api.startswith(("http://", "https://")):
            raise InvalidInput(f"--api must be an http(s) URL, got {api!r}", code="invalid_option")
        get = _api_get(api)
    else:
        from ..app.published import published_getter

        get = published_getter(open_network(db).state)
    report = auditor.audit_epoch(auditor.fetch_bundle(get, epoch)).to_dict()
    emit(report, as_json, lambda: console.print(auditor.render(report), markup=False, highlight=False))
    if not report["ok"]:
        raise typer.Exit(1)


def _api_get(base: str) -> Callable[[str], Any]:
    """The auditor's HTTP reads, with the API's errors as ours (a closed epoch missing is ``epoch_not_found``)."""
    import json
    import urllib.error

    from .. import auditor
    from ..core.errors import NotFound

    plain = auditor.api_getter(base)

    def get(path: str) -> Any:
        try:
            return plain(path)
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read())
            except Exception:
                body = {}
            code = (body.get("error") or {}).get("code") if isinstance(body.get("error"), dict) else body.get("code")
            raise NotFound(f"{base}{path}: HTTP {exc.code} {code or ''}".strip(), code=str(code or "api_error")) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read {base}{path}: {exc}", code="api_unreachable") from exc

    return get


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
