"""``cor simulate``: incentive-compatibility experiments — scenarios driven through the real core.

Hooked into the ``cor`` app by ``register(app)``. Thin: choose the scenarios, call
``sim.report.simulate`` with a progress bar (on stderr), write the report files, print a summary.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import typer

from ..core.errors import InvalidInput
from .common import JsonOption, console, emit, err_console, handle_errors, table

DEFAULT_OUT = Path("cor-data") / "simulate"


def register(app: typer.Typer) -> None:
    """Add ``cor simulate`` to the `cor` app."""
    app.command("simulate")(simulate)


@handle_errors
def simulate(
    scenario: str = typer.Option("all", "--scenario", help="Scenario or attack name, comma-separated names, or 'all'."),
    scenario_file: Path | None = typer.Option(None, "--file", help="Scenarios (and attacks) from a JSON or TOML file instead of the built-ins."),
    seeds: int | None = typer.Option(
        None,
        "--seeds",
        min=1,
        max=1_000,
        help="Run seeds 1..N (default: each scenario's and attack's own seeds; an undecided attack again at 1..20).",
    ),
    epochs: int | None = typer.Option(
        None, "--epochs", min=1, max=1_000, help="Epochs per scenario run (default: each scenario's own; an attack's are a knob)."
    ),
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Directory for report.json, report.html and plots/."),
    workers: int = typer.Option(0, "--workers", min=0, max=256, help="Processes running simulations (0: one per CPU)."),
    sweep: list[str] = typer.Option(
        [], "--sweep", help="Sweep PARAM=v1,v2,... (repeatable: a grid): an attack knob, a scenario field or a core parameter."
    ),
    backend_kind: str = typer.Option("local", "--backend", help="Where sweep runs execute: local or ray (implies a sweep)."),
    ray_address: str = typer.Option("", "--ray-address", help="An existing Ray cluster (e.g. auto, ray://host:10001); default: a local Ray."),
    as_json: bool = JsonOption,
) -> None:
    """Run incentive experiments through the real core and check the incentives (or sweep parameters with --sweep)."""
    from ..sim.report import select, write
    from ..sim.report import simulate as run_simulation

    if seeds is not None and not 1 <= seeds <= 1_000:
        raise InvalidInput("--seeds must be between 1 and 1000", code="invalid_option")
    if epochs is not None and not 1 <= epochs <= 1_000:
        raise InvalidInput("--epochs must be between 1 and 1000", code="invalid_option")
    if sweep or backend_kind != "local" or ray_address:
        from .experiments import DEFAULT_SWEEP_OUT, run_sweep

        run_sweep(
            sweep_specs=sweep,
            scenario=scenario,
            scenario_file=scenario_file,
            seeds=seeds,
            epochs=epochs,
            backend_kind=backend_kind,
            ray_address=ray_address,
            workers=workers,
            out=DEFAULT_SWEEP_OUT if out == DEFAULT_OUT else out,
            as_json=as_json,
        )
        return
    chosen, attacks, catalog = select(scenario, scenario_file)
    started = time.perf_counter()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # loaded when a bar is shown

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} runs"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.description}"),
        console=err_console,
        transient=True,
    ) as bar:
        job = bar.add_task("", total=None)
        report = run_simulation(
            chosen,
            attacks=attacks,
            seeds=tuple(range(1, seeds + 1)) if seeds else None,
            epochs=epochs,
            workers=workers or (os.cpu_count() or 1),
            catalog=catalog,
            progress=lambda done, total, label: bar.update(job, completed=done, total=total, description=label),
        )
    files = write(report, out)
    data: dict[str, Any] = {
        "ok": True,
        "files": files,
        "runtime_seconds": round(time.perf_counter() - started, 1),
        "summary": report["summary"],
        "scenarios": report["summary"]["scenarios"],
        "checks": report["checks"],
    }
    emit(data, as_json, lambda: _render(data))


def _verdict(c: dict[str, Any]) -> str:
    """PASS/FAIL for a population check; for an attack its three-valued verdict, pass share, gain interval and seeds."""
    if "verdict" not in c:
        return "[green]PASS[/]" if c["passed"] else "[red]FAIL[/]"
    u = c["uncertainty"]
    colour = {"stopped": "green", "open": "red"}.get(c["verdict"], "yellow")
    how = "exact" if u["exact"] else f"{u['pass_share'] * 100:.0f} % pass"
    lo, hi = u["gain_interval"]
    span = "" if u["exact"] or lo is None or hi is None else f", gain [{lo * 100:+.1f} %, {hi * 100:+.1f} %]"
    return f"[{colour}]{c['verdict']}[/] ({how}{span}; {u['seeds']} seeds)"


def _render(data: dict[str, Any]) -> None:
    rows = []
    for c in data["checks"]:
        rows.append([_verdict(c), c["id"], c["scenario"], c["summary"]])
        for r in c.get("remedies", []):
            rows.append(["  " + ("[green]PASS[/]" if r["passed"] else "[red]FAIL[/]"), f"  with {r['label']}", "", r["summary"]])
    table("incentive checks", ["verdict", "check", "scenario", "measured"], rows)
    s = data["summary"]
    for c in data["checks"]:
        if not c["passed"] and "fix" in c:
            console.print(f"[red]✗[/] {c['id']} ({c['scenario']}): {c['fix']}")
    books = "hold in every run" if s["books_ok"] else "[red]DO NOT HOLD[/]"
    console.print(f"{s['passed']}/{s['checks']} checks pass; books {books}; {s['runs']} runs in {data['runtime_seconds']} s")
    console.print(f"report: {data['files']['html']}  ({data['files']['json']})")
