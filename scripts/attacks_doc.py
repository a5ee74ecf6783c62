"""Regenerate the attack table of docs/simulate.md from a run (never edit those numbers by hand).

    .venv/bin/python scripts/attacks_doc.py [--workers N] [--check] [--only FAMILY[,FAMILY...]]

Runs every registered attack family at its defaults over its seeds, sequentially (``sim.attacks.evaluate_many``:
an attack its own seeds leave undecided is run again at its ``max_seeds``), and rewrites the part of
docs/simulate.md between the two ``attacks:generated`` markers, each row with its inputs digest (scripts/doc_guard.py:
what CI checks instead of running this). With ``--check`` it runs the same and
only says whether the file is up to date (exit 1 if not). With ``--only`` it runs those families alone, the same
way, and rewrites only their rows (the others and their order stay as the file has them; the count line is
recounted from the table's verdicts).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from doc_block import rewrite_block
from doc_guard import LINE, row_line, split_inputs

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


HEADER = [
    "| attack | what the attacker does (defaults) | knobs (default, bounds) | gain over the honest twin [95 % interval] | verdict | measured |",
    "|---|---|---|---|---|---|",
]
VERDICT_CELL = re.compile(r"\| (stopped|\*\*open\*\*|\*undecided\*) \((?:exact|\d+ % of resamples pass); \d+ seeds\) \|")


def row(a: dict[str, Any]) -> str:
    return f"| `{a['name']}` | {a['description']} | {knobs(a)} | {gain(a['gain'])}{interval(a)} ({a['gain_unit']}) | {verdict(a)} | {a['summary']} |"


def footer(rows: list[str], errors: list[str]) -> str:
    """The count line, recounted from the rows' verdict cells (or the books' errors)."""
    if errors:
        return "Books did NOT hold: " + "; ".join(errors)
    found = [m.group(1) for r in rows if (m := VERDICT_CELL.search(r))]
    if len(found) != len(rows):
        raise SystemExit("a table row has no verdict cell this script can read")
    counts = {v: found.count(shown) for v, shown in VERDICT.items()}
    return (
        f"{counts['stopped']} stopped, {counts['open']} open, {counts['undecided']} undecided; every attack over seeds 1–N "
        "(N in the verdict column); both worlds' books (conservation, statements = ledger) held in every run."
    )


def inputs(rows: list[str], pinned: dict[str, str]) -> list[str]:
    """The inputs lines under the table (scripts/doc_guard.py), in row order: ``pinned`` (name: line) for each row that has one."""
    return [pinned[n] for n in (r.split("`")[1] for r in rows) if n in pinned]


def table(results: list[dict[str, Any]]) -> str:
    rows = [row(a) for a in results]
    errors = [e for a in results for e in a["books"]["errors"][:3]]
    pinned = {a["name"]: row_line(a["name"], r) for a, r in zip(results, rows, strict=True)}
    return "\n".join([*HEADER, *rows, "", footer(rows, errors), "", *inputs(rows, pinned)])


def replace_rows(block: str, results: list[dict[str, Any]]) -> str:
    """The generated block with ``results``' rows rewritten in place, and their inputs lines (every other row and its
    inputs line as it was; a row that had none still has none)."""
    lines, pins = split_inputs(block)
    if lines[:2] != HEADER or "" not in lines:
        raise SystemExit("the generated block is not a table this script wrote: run it without --only")
    rows, old_footer = lines[2 : lines.index("")], lines[-1]
    names = [r.split("`")[1] for r in rows]
    pinned = {m.group("row"): line for line in pins if (m := LINE.match(line)) and m.group("row")}
    for a in results:
        if a["name"] not in names:
            raise SystemExit(f"{a['name']} has no row yet: run the script without --only")
        rows[names.index(a["name"])] = row(a)
        pinned[a["name"]] = row_line(a["name"], row(a))
    errors = [e for a in results for e in a["books"]["errors"][:3]]
    if not errors and old_footer.startswith("Books did NOT hold"):
        raise SystemExit("the table says books did not hold in an earlier run: run the script without --only")
    return "\n".join([*HEADER, *rows, "", footer(rows, errors), *(["", *inputs(rows, pinned)] if pinned else [])])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated families: run these alone and rewrite only their rows")
    args = ap.parse_args()
    attacks = builtin_attacks()
    if args.only:
        only = [n for n in args.only.split(",") if n]
        unknown = sorted(set(only) - set(FAMILIES))
        if unknown:
            ap.error(f"unknown attack family: {', '.join(unknown)}")
        attacks = [a for a in attacks if a.name in only]
    results = evaluate_many(attacks, workers=args.workers, sequential=True, progress=lambda label: print(label, file=sys.stderr))
    if args.only:
        current = DOC.read_text().split(BEGIN, 1)[1].split(END, 1)[0]
        body = replace_rows(current, results)
    else:
        body = table(results)
    status = rewrite_block(DOC, BEGIN, END, body, check=args.check, script="scripts/attacks_doc.py")
    if args.check:
        return status
    print(f"{len(results)} row(s) rewritten in {DOC}" if args.only else f"{len(results)} attacks ({len(FAMILIES)} families) written to {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
