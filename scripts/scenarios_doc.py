"""Regenerate the population-scenario table of docs/simulate.md from a run (never edit those numbers by hand).

    .venv/bin/python scripts/scenarios_doc.py [--workers N] [--seeds 5] [--check]

Runs every built-in population scenario (``cor simulate --scenario NAME`` for each, the attack families are
``scripts/attacks_doc.py``'s table) at the default parameters over seeds 1..N, and rewrites the part of
docs/simulate.md between the two ``scenarios:generated`` markers: each check with its verdict and measured summary, and
the table's inputs digest (scripts/doc_guard.py: what CI checks instead of running this).
With ``--check`` it only says whether the file is up to date (exit 1 if not).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from doc_block import rewrite_block
from doc_guard import with_inputs

from cor_incentives.sim.report import simulate
from cor_incentives.sim.scenarios import builtin_scenarios

DOC = Path(__file__).resolve().parent.parent / "docs" / "simulate.md"
BEGIN, END = "<!-- scenarios:generated:begin -->", "<!-- scenarios:generated:end -->"


def table(report: dict[str, Any], seeds: int) -> str:
    lines = ["| scenario | check | verdict | measured |", "|---|---|---|---|"]
    for c in report["checks"]:
        verdict = "PASS" if c["passed"] else "**FAIL**"
        lines.append(f"| `{c['scenario']}` | {c['title']} (`{c['id']}`) | {verdict} | {c['summary']} |")
    books = [s["books"] for s in report["scenarios"].values()]
    ok = all(b.get("ok", True) for b in books)
    lines += [
        "",
        f"Seeds 1–{seeds} for every scenario, at each scenario's epochs; "
        + ("the books (conservation, statements = ledger) held in every run." if ok else "the books did NOT hold in every run."),
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    scenarios = list(builtin_scenarios().values())

    def progress(done: int, total: int, label: str) -> None:
        print(f"{done}/{total} {label}", file=sys.stderr)

    report = simulate(scenarios, seeds=tuple(range(1, args.seeds + 1)), workers=args.workers, progress=progress)
    body = table(report, args.seeds)
    status = rewrite_block(DOC, BEGIN, END, with_inputs("scenarios", body), check=args.check, script="scripts/scenarios_doc.py")
    if args.check:
        return status
    failed = [c["scenario"] for c in report["checks"] if not c["passed"]]
    print(f"{len(report['checks'])} checks of {len(scenarios)} scenarios written to {DOC}; failed: {failed or 'none'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
