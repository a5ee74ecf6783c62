"""Regenerate the attack table of docs/simulate.md from a run (never edit those numbers by hand).

    .venv/bin/python scripts/attacks_doc.py [--workers N] [--check]

Runs every registered attack family at its defaults over its seeds, sequentially (``sim.attacks.evaluate_many``:
an attack its own seeds leave undecided is run again at its ``max_seeds``), and rewrites the part of
docs/simulate.md between the two ``attacks:generated`` markers. With ``--check`` it runs the same and
only says whether the file is up to date (exit 1 if not).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from doc_block import rewrite_block

from cor_incentives.sim.attacks import FAMILIES, builtin_attacks, evaluate_many

DOC = Path(__file__).resolve().parent.parent / "docs" / "simulate.md"
BEGIN, END = "<!-- attacks:generated:begin -->", "<!-- attacks:generated:end -->"


def knobs(a: dict[str, Any]) -> str:
    out = []
    for name, b in a["bounds"].items():
        span = " / ".join(b["choices"]) if "choices" in b else f"{b['lo']}…{b['hi']}"
        out.append(f"`{name}`={a['knobs'][name]} ({span})")
    return ", ".join(out)


def gain(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} %"


def interval(a: dict[str, Any]) -> str:
    lo, hi = a["uncertainty"]["gain_interval"]
    if lo is None or hi is None or a["uncertainty"]["exact"]:
        return ""
    return f" [{gain(lo)}, {gain(hi)}]"


VERDICT = {"stopped": "stopped", "open": "**open**", "undecided": "*undecided*"}


def verdict(a: dict[str, Any]) -> str:
    u = a["uncertainty"]
    how = "exact" if u["exact"] else f"{u['pass_share'] * 100:.0f} % of resamples pass"
    return f"{VERDICT[a['verdict']]} ({how}; {u['seeds']} seeds)"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| attack | what the attacker does (defaults) | knobs (default, bounds) | gain over the honest twin [95 % interval] | verdict | measured |",
        "|---|---|---|---|---|---|",
    ]
    for a in results:
        lines.append(
            f"| `{a['name']}` | {a['description']} | {knobs(a)} | {gain(a['gain'])}{interval(a)} ({a['gain_unit']}) | {verdict(a)} | {a['summary']} |"
        )
    counts = {v: sum(a["verdict"] == v for a in results) for v in VERDICT}
    lines += [
        "",
        f"{counts['stopped']} stopped, {counts['open']} open, {counts['undecided']} undecided; every attack over seeds 1–N "
        "(N in the verdict column); both worlds' books (conservation, statements = ledger) held in every run.",
    ]
    if not all(a["books"]["ok"] for a in results):
        lines[-1] = "Books did NOT hold: " + "; ".join(e for a in results for e in a["books"]["errors"][:3])
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    results = evaluate_many(builtin_attacks(), workers=args.workers, sequential=True, progress=lambda label: print(label, file=sys.stderr))
    status = rewrite_block(DOC, BEGIN, END, table(results), check=args.check, script="scripts/attacks_doc.py")
    if args.check:
        return status
    print(f"{len(results)} attacks ({len(FAMILIES)} families) written to {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
