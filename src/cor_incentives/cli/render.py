"""Human views (Rich) of the read views."""

from __future__ import annotations

from typing import Any

from rich.panel import Panel

from .common import console, table


def when(row: dict[str, Any], key: str) -> str:
    """A deadline with its wall-clock ETA when the tick length is known (``<key>_eta``, app/eta.py)."""
    eta = row.get(f"{key}_eta")
    return f"{row[key]} ({eta['text']}, ≈ {eta['at']})" if eta else str(row[key])


def render_status(d: dict[str, Any]) -> None:
    console.print(
        Panel.fit(
            f"[bold]{d['chain_id']}[/]  epoch [bold]{d['epoch']}[/]  tick {d['tick']} ({d['ticks_to_epoch_end']} to epoch end)  "
            f"events {d['seq'] + 1}\n"
            f"supply {d['supply']} COR · bonded {d['bonded']} COR ({d['bonded_ratio_bps'] / 100:.2f}%) · "
            f"burned {d['burned']} · treasury {d['treasury']}",
            title="cor network",
        )
    )
    chain = d.get("chain")
    if chain:
        checked = "[green]checked[/]" if chain["complete"] else "[red]NOT fully checked[/]"
        start = "genesis" if chain.get("from_snapshot") is None else f"the stored snapshot after event {chain['from_snapshot']}"
        console.print(
            f"log: hash chain, stored columns and replay {checked} from {start} to seq {chain['checked_to_seq']} (head {chain['head_hash'][:18]}…)"
        )
        if chain.get("snapshots_refused"):
            console.print(f"[yellow]note[/]: a stored snapshot was refused ({', '.join(chain['snapshots_refused'])}); the whole log was replayed")
    table("pools", ["pool", "COR"], [[k, v] for k, v in d["pools"].items()])
    table("supply by account class", ["class", "COR"], [[k, v] for k, v in d["by_account_class"].items()])
    if d["nodes"]:
        table(
            "nodes",
            ["role", "registered", "selectable", "jailed"],
            [[r, v["registered"], v["selectable"], v["jailed"]] for r, v in d["nodes"].items()],
        )


def render_verify(d: dict[str, Any]) -> None:
    mark = lambda ok: "[green]ok[/]" if ok else "[red]FAILED[/]"  # noqa: E731
    checked_chain = d.get("chain_epochs_checked") or not d.get("chain", True)
    chain_rows = [["EVM chain anchors", f"{mark(d['chain'])} ({d['chain_epochs_checked']} posted epochs)"]] if checked_chain else []
    table(
        "cor verify",
        ["check", "result"],
        [
            [
                "events replayed",
                d["events"]
                if d.get("from_snapshot") is None
                else f"{d['events']} (from the snapshot after event {d['from_snapshot']}, "
                f"anchored by the oracle's event {d['snapshot_anchored_by']})",
            ],
            ["hash chain", mark(d["hash_chain"])],
            ["signatures", mark(d["signatures"])],
            ["replay accepted", mark(d["replay"])],
            ["conservation", mark(d["conservation"])],
            ["projections", mark(d["projections"])],
            ["epoch roots", f"{mark(d['roots_match'])} ({d['epochs_checked']} epochs)"],
            ["anchors", f"{mark(d['anchors'])} ({d['anchors_checked']} given, {d['checkpoints_checked']} oracle checkpoints in the log)"],
            ["blobs", mark(d["blobs"])],
            ["slashes re-derived", mark(d.get("slashes", True))],
            *chain_rows,
        ],
    )
    if d.get("epochs_without_checkpoint"):
        console.print(f"[yellow]note[/]: epochs without an oracle checkpoint: {d['epochs_without_checkpoint']}")
    for e in d["errors"]:
        console.print(f"[red]✗[/] {e}")
    console.print("[bold green]verify: ok[/]" if d["ok"] else f"[bold red]verify: FAILED[/] (first bad seq: {d['first_bad_seq']})")
