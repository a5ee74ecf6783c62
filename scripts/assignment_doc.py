"""Regenerate the "steer-proof assignment" table of docs/simulate.md from a run: each attack on the first rules and now.

    .venv/bin/python scripts/assignment_doc.py [--seeds 5] [--workers N] [--check] [--json]

The first rules are a genesis without a beacon: draws seeded by the log head, free cancels, idle
miners first for network tasks. The current rules are a genesis with a beacon. Every attack runs at its
defaults, over seeds 1..N, against its honest twin on the same rules:

    assignment_grinding  (attack family) the last revealer grinds the validators' draw with self-transfers
    cancel_lottery       (attack family) a user cancels its tasks until its own miners serve them
    cancel_lottery (abstain)  the same, its miners abstaining from the tasks they share instead
    sybil_split          (scenario check sybil_no_gain) one operator's stake on 5 miners against 1

The script rewrites the part of docs/simulate.md between the ``assignment:generated`` markers, with the table's inputs
digest (scripts/doc_guard.py: what CI checks instead of running this). With
``--check`` it only reports whether that part is up to date. With ``--json`` it prints the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from doc_block import rewrite_block
from doc_guard import with_inputs

from cor_incentives.sim.attacks.assignment import AssignmentGrinding, CancelLottery
from cor_incentives.sim.report import simulate
from cor_incentives.sim.scenarios import SCENARIOS

DOC = Path(__file__).resolve().parent.parent / "docs" / "simulate.md"
BEGIN, END = "<!-- assignment:generated:begin -->", "<!-- assignment:generated:end -->"
FAMILIES = {"assignment_grinding": AssignmentGrinding, "cancel_lottery": CancelLottery}


def family_row(name: str, knobs: dict[str, Any], beacon: bool, seeds: tuple[int, ...]) -> dict[str, Any]:
    f = FAMILIES[name]()
    f.beacon = beacon
    k = f.resolve(knobs)
    runs = [f.run_one(k, s, False) for s in seeds]
    twins = [f.run_one(k, s, True) for s in seeds]
    v = f.judge(k, [r.values for r in runs], [t.values for t in twins])
    books = all(r.books_ok for r in runs + twins)
    label = name + (f" ({knobs['method']})" if "method" in knobs else "")
    return {"attack": label, "beacon": beacon, "gain": v.gain, "passed": v.passed and books, "summary": v.summary, "books": books}


def sybil_row(beacon: bool, seeds: tuple[int, ...]) -> dict[str, Any]:
    tag = "b" if beacon else "h"
    single = replace(SCENARIOS["sybil_single"], name=f"sybil_single_{tag}", beacon=beacon)
    split = replace(SCENARIOS["sybil_split"], name=f"sybil_split_{tag}", beacon=beacon, baseline=single.name)
    (c,) = simulate([split], seeds=seeds, workers=1, catalog={single.name: single})["checks"]
    return {
        "attack": "sybil_split",
        "beacon": beacon,
        "gain": c["measured"]["income_change"],
        "passed": c["passed"],
        "summary": c["summary"],
        "books": True,
    }


def job(spec: tuple[str, dict[str, Any], bool, tuple[int, ...]]) -> dict[str, Any]:
    name, knobs, beacon, seeds = spec
    return sybil_row(beacon, seeds) if name == "sybil_split" else family_row(name, knobs, beacon, seeds)


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} %"


def table(rows: list[dict[str, Any]], seeds: tuple[int, ...]) -> str:
    lines = [
        "| attack | rules | gain over the honest twin | verdict | measured |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        rules = "beacon (now)" if r["beacon"] else "first rules (log-head seed)"
        lines.append(f"| `{r['attack']}` | {rules} | {pct(r['gain'])} | {'PASS' if r['passed'] else '**FAIL**'} | {r['summary']} |")
    lines += ["", f"Seeds {seeds[0]}–{seeds[-1]}; books held in every run: {'yes' if all(r['books'] for r in rows) else 'NO'}."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    seeds = tuple(range(1, args.seeds + 1))
    specs = [
        (name, knobs, beacon, seeds)
        for name, knobs in (("assignment_grinding", {}), ("cancel_lottery", {}), ("cancel_lottery", {"method": "abstain"}), ("sybil_split", {}))
        for beacon in (False, True)
    ]
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        rows = list(pool.map(job, specs))
    if args.json:
        print(json.dumps(rows, indent=1))
    body = table(rows, seeds)
    status = rewrite_block(DOC, BEGIN, END, with_inputs("assignment", body), check=args.check, script="scripts/assignment_doc.py")
    if args.check:
        return status
    print(f"{len(rows)} rows written to {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
