"""Experiments at scale: ``cor simulate --sweep`` (a grid over parameters) and ``cor redteam`` (the automated attacker).

Thin: parse the options, start a backend (here or on Ray), call ``sim.sweep`` / ``sim.redteam`` with a
progress bar on stderr, write the files, print a summary (or one JSON document with ``--json``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from ..core.errors import InvalidInput
from .common import JsonOption, console, emit, err_console, handle_errors, table

DEFAULT_SWEEP_OUT = Path("cor-data") / "sweep"
DEFAULT_REDTEAM_OUT = Path("cor-data") / "redteam"


def register(app: typer.Typer) -> None:
    """Add ``cor redteam`` to the `cor` app (``--sweep`` is an option of ``cor simulate``)."""
    app.command("redteam")(redteam)


@contextmanager
def _bar(what: str) -> Iterator[Callable[[int, int, str], None]]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # loaded when a bar is shown

    with Progress(
        TextColumn(what),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.description}"),
        console=err_console,
        transient=True,
    ) as bar:
        job = bar.add_task("", total=None)
        yield lambda done, total, label: bar.update(job, completed=done, total=total, description=label)


def run_sweep(
    *,
    sweep_specs: list[str],
    scenario: str,
    scenario_file: Path | None,
    seeds: int | None,
    epochs: int | None,
    backend_kind: str,
    ray_address: str,
    workers: int,
    out: Path,
    as_json: bool,
) -> None:
    """``cor simulate --sweep``: the grid over the chosen scenarios and attacks (see ``sim/sweep.py``)."""
    from ..sim.backend import Backend
    from ..sim.report import select
    from ..sim.sweep import Target, parse_sweep, write
    from ..sim.sweep import sweep as run_grid

    grid = parse_sweep(sweep_specs)
    if epochs is not None:
        if "epochs" in grid:
            raise InvalidInput("--epochs and --sweep epochs=... both set the epochs", code="invalid_option")
    scenarios, attacks, _ = select(scenario, scenario_file)
    targets = [Target.of_scenario(s) for s in scenarios] + [Target.of_attack(a) for a in attacks]
    if epochs is not None:
        targets = [_with_epochs(t, epochs) for t in targets]
    started = time.perf_counter()
    b = Backend(backend_kind, workers, ray_address)
    with _bar("sweeping") as progress, b:
        result = run_grid(
            targets,
            grid,
            seeds=tuple(range(1, seeds + 1)) if seeds else None,
            run=lambda fn, jobs: b.map(fn, jobs, lambda d, n: progress(d, n, "jobs (a target and its twin, one seed)")),
        )
    settings = {**b.describe(), "seeds": seeds, "epochs": epochs}
    files = write(result, out, settings)
    data: dict[str, Any] = {
        "ok": True,
        "files": files,
        "runtime_seconds": round(time.perf_counter() - started, 1),
        "grid": result["grid"],
        "jobs": result["jobs"],
        "settings": settings,
        "points": result["points"],
    }
    emit(data, as_json, lambda: _render_sweep(data))


def _with_epochs(t: Any, epochs: int) -> Any:
    from dataclasses import replace

    from ..sim.attacks import FAMILIES

    if t.kind == "scenario":
        return replace(t, scenario={**t.scenario, "epochs": epochs})
    if any(k.name == "epochs" for k in FAMILIES[t.family].knobs):
        return replace(t, knobs={**t.knobs, "epochs": epochs})
    return t


def _pct(s: dict[str, Any] | None) -> str:
    if not s or s.get("mean") is None:
        return "n/a"
    return f"{s['mean'] * 100:+.2f} % ± {s['ci95'] * 100:.2f}"


def _render_sweep(data: dict[str, Any]) -> None:
    names = list(data["grid"])
    rows = []
    for p in data["points"]:
        verdict = "" if p.get("family_passed") is None else ("[green]PASS[/]" if p["family_passed"] else "[red]FAIL[/]")
        rows.append(
            [p["target"], *(str(p["point"].get(n, "")) for n in names), str(len(p["seeds"]))]
            + [_pct(p["metrics"]["gain"]), _pct(p["metrics"]["honest_pay_change"]), verdict, "ok" if p["books_ok"] else "[red]BROKEN[/]"]
        )
    table("sweep (mean ± 95 % CI over seeds)", ["target", *names, "seeds", "gain", "honest pay change", "verdict", "books"], rows)
    console.print(f"{data['jobs']} jobs on {data['settings']['backend']} in {data['runtime_seconds']} s")
    console.print(f"report: {data['files']['html']}  ({data['files']['json']}, {data['files']['runs_parquet']})")


@handle_errors
def redteam(
    family: str = typer.Option("all", "--family", help="Attack families to search, comma-separated, or 'all'."),
    budget: int = typer.Option(24, "--budget", min=1, max=100_000, help="Evaluations per family (one knob setting against its twin)."),
    seeds: int = typer.Option(2, "--seeds", min=1, max=1_000, help="Seeds 1..N of every evaluation."),
    confirm_seeds: int = typer.Option(5, "--confirm-seeds", min=1, max=1_000, help="Seeds 1..N the best deviation is run again on (its CI)."),
    max_epochs: int = typer.Option(3, "--max-epochs", min=1, max=1_000, help="Cap of a family's epochs knob during the search."),
    batch: int = typer.Option(0, "--batch", min=0, max=1_000, help="Evaluations proposed at once (0: one per worker)."),
    param: list[str] = typer.Option([], "--param", help="A core parameter for both worlds of every evaluation, NAME=VALUE (repeatable)."),
    sampler_seed: int = typer.Option(0, "--sampler-seed", min=0, help="Seed of the optimiser's proposals."),
    backend_kind: str = typer.Option("local", "--backend", help="Where the runs execute: local or ray."),
    ray_address: str = typer.Option("", "--ray-address", help="An existing Ray cluster (e.g. auto, ray://host:10001); default: a local Ray."),
    workers: int = typer.Option(0, "--workers", min=0, max=4_096, help="Processes (local) or CPUs of a local Ray (0: one per CPU)."),
    out: Path = typer.Option(DEFAULT_REDTEAM_OUT, "--out", help="Directory for redteam.json and repro/<family>.json."),
    as_json: bool = JsonOption,
) -> None:
    """Search every attack family's knobs for the deviation that gains most over its honest twin."""
    from ..sim.backend import Backend
    from ..sim.redteam import Settings, families, parse_params, write
    from ..sim.redteam import redteam as run_redteam

    fams = families(family)
    b = Backend(backend_kind, workers, ray_address)
    settings = Settings(
        budget=budget,
        seeds=tuple(range(1, seeds + 1)),
        confirm_seeds=tuple(range(1, confirm_seeds + 1)),
        batch=batch or b.workers,
        max_epochs=max_epochs,
        sampler_seed=sampler_seed,
        params=parse_params(param),
    )
    settings.check()
    started = time.perf_counter()
    with _bar("red team") as progress, b:
        base = {"done": 0}

        def step(name: str, done: int, total: int) -> None:
            progress(base["done"] + done, budget * len(fams), f"{name}: {done}/{total}")
            if done >= total:
                base["done"] += total

        report = run_redteam(fams, settings, b.map, step)
    report["backend"] = b.describe()
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    files = write(report, out)
    data = {"ok": True, "files": files, **report}
    emit(data, as_json, lambda: _render_redteam(data))


def _gain(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.2f} %"


def _render_redteam(data: dict[str, Any]) -> None:
    rows = []
    for r in data["families"]:
        b = r["best"]
        flag = "[red]ABOVE 2 %[/]" if r["above_goal"] else "[green]ok[/]"
        knobs = ", ".join(f"{k}={v}" for k, v in b["knobs"].items())
        rows.append([flag, r["family"], str(r["evaluations"]), _gain(r["defaults_gain"]), _gain(b["gain"]), _pct(b["per_seed"]), knobs])
    table("red team: best deviation per family", ["verdict", "family", "evals", "defaults", "best gain", "per seed (95 % CI)", "knobs"], rows)
    console.print(f"{data['evaluations']} evaluations, {data['runs']} runs on {data['backend']['backend']} in {data['wall_seconds']} s")
    if data["above_goal"]:
        console.print(f"[red]above the 2 % goal:[/] {', '.join(data['above_goal'])} (reproducers in {Path(data['files']['json']).parent / 'repro'})")
    console.print(f"report: {data['files']['json']}")
