"""``cor submit --batch FILE``: many commands at once, each accepted or refused on its own.

FILE (``-`` for stdin) holds one JSON object per line, either a command signed elsewhere,
``{"payload": "<canonical JSON>", "signature": "0x…"}``, or a command to sign here with ``--from``,
``{"kind": "transfer", "body": {…}}`` (consecutive nonces from the key's next one). Through ``--api``
they travel 256 per request (``POST /v1/commands:batch``); against a database they are appended in
group commits of 256 (one writer transaction each). A refused command changes nothing and never
stops the others; the exit status is 1 when any was refused.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from ..app.engine import Receipt
from ..app.signing import sign_command
from ..client import BATCH_COMMANDS
from ..core.errors import EngineError, InvalidInput
from ..core.events import MAX_PAYLOAD_BYTES
from .common import ApiOption, DbOption, JsonOption, KeysOption, connect, console, emit, handle_errors, json_option, signer, table

MAX_BATCH_FILE_LINES = 1_000_000
LINE_BYTES = 2 * MAX_PAYLOAD_BYTES + 4_096  # a signed line: its payload escaped inside a JSON string (at most twice its bytes) and the signature


def register(app: typer.Typer) -> None:
    """Add ``cor submit`` to the ``cor`` app."""
    app.command("submit")(handle_errors(submit))


def read_batch_file(path: str) -> list[dict[str, Any]]:
    """The file's non-empty lines as JSON objects (``invalid_batch_file`` naming the line otherwise)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text", code="invalid_batch_file") from None
    items: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(items) >= MAX_BATCH_FILE_LINES:
            raise InvalidInput(f"a batch file holds at most {MAX_BATCH_FILE_LINES:,} commands", code="invalid_batch_file")
        obj = json_option(line, f"line {number}", "invalid_batch_file", max_bytes=LINE_BYTES, line=number)
        if not isinstance(obj, dict) or not (set(obj) == {"payload", "signature"} or set(obj) == {"kind", "body"}):
            raise InvalidInput(
                f'line {number}: each line is {{"payload", "signature"}} (signed) or {{"kind", "body"}} (signed with --from)',
                code="invalid_batch_file",
                line=number,
            )
        if "payload" in obj and not (isinstance(obj["payload"], str) and isinstance(obj["signature"], str)):
            raise InvalidInput(f"line {number}: payload and signature are strings", code="invalid_batch_file", line=number)
        if "kind" in obj and not (isinstance(obj["kind"], str) and isinstance(obj["body"], dict)):
            raise InvalidInput(f"line {number}: kind is a string and body an object", code="invalid_batch_file", line=number)
        items.append(obj)
    if not items:
        raise InvalidInput(f"{path} holds no commands", code="invalid_batch_file")
    return items


def _result(index: int, outcome: Receipt | EngineError) -> dict[str, Any]:
    if isinstance(outcome, EngineError):
        return {"index": index, "status": outcome.http_status, **outcome.to_dict()}
    return {"index": index, "status": 200, "receipt": outcome.to_dict()}


def submit(
    batch: str = typer.Option(
        ...,
        "--batch",
        help="File of commands, one JSON object a line ('-' for stdin): "
        '{"payload", "signature"} signed elsewhere, or {"kind", "body"} to sign with --from.',
    ),
    sender: str | None = typer.Option(None, "--from", help="Local key that signs the {kind, body} lines (consecutive nonces from its next one)."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Submit a file of commands, each accepted or refused on its own (exit 1 if any was refused)."""
    items = read_batch_file(batch)
    net = connect(db, api)
    unsigned = [i for i, obj in enumerate(items) if "kind" in obj]
    if unsigned and sender is None:
        raise InvalidInput(f"line {unsigned[0] + 1} is not signed ({{kind, body}}): give --from KEY to sign it", code="missing_signer")
    signed: list[tuple[bytes, str]] = []
    if unsigned and sender is not None:
        key = signer(keys_dir, sender)
        if net.client is not None:
            nonce, chain_id = net.client.next_nonce(key.address), net.client.chain_id()
        else:
            nonce, chain_id = net.local_engine.next_nonce(key.address), net.local_engine.state.chain_id
    for obj in items:
        if "payload" in obj:
            signed.append((obj["payload"].encode("utf-8"), obj["signature"]))
        else:
            signed.append(sign_command(key.private_key, chain_id, obj["kind"], nonce, obj["body"]))
            nonce += 1
    if net.client is not None:
        results = net.client.submit_batch(signed)
    else:
        results = []
        for start in range(0, len(signed), BATCH_COMMANDS):
            outcomes = net.local_engine.submit_batch(signed[start : start + BATCH_COMMANDS])
            results.extend(_result(start + i, o) for i, o in enumerate(outcomes))
    accepted = sum(1 for r in results if r["status"] == 200)
    rejected = len(results) - accepted

    def render() -> None:
        table(
            f"{len(results)} commands: {accepted} accepted, {rejected} refused",
            ["#", "status", "event / error", "kind / message"],
            [
                [r["index"] + 1, r["status"], r["receipt"]["seq"], r["receipt"]["kind"]]
                if r["status"] == 200
                else [r["index"] + 1, r["status"], r["error"], r["message"]]
                for r in results
            ],
        )
        if rejected:
            console.print(f"[yellow]{rejected} refused[/]: nothing of them was appended; the others were")

    emit({"ok": rejected == 0, "results": results, "accepted": accepted, "rejected": rejected}, as_json, render)
    if rejected:
        raise typer.Exit(1)
