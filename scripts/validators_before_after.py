"""The validator attacks before and after the validators' rules: the same families, seeds and knobs.

    .venv/bin/python scripts/validators_before_after.py [--seeds 1,2,3,4,5] [--workers N]

"before" runs each family (``echo_validator``, ``max_reporter``, ``collusion_49``) on the first rules,
a genesis without a beacon: reports public at once, the plain weighted median, the clipped linear
agreement, 3 validators per task, no escalation and no canaries. "after" runs it at the defaults (a
beacon: commit-reveal, two-step median, symmetric agreement, escalation, canaries, 5 validators per
task). Prints one JSON document: per family and rule set, the gain over the honest twin, the verdict
and the measurements the verdict rests on.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from cor_incentives.sim.attacks import Attack, evaluate_many, family, register
from cor_incentives.sim.attacks.base import Family, Knobs
from cor_incentives.sim.scenarios import Scenario

NAMES = ("echo_validator", "max_reporter", "collusion_49")


def first_rules(f: Family) -> Family:
    """The same family on a genesis without a beacon (the first rules)."""

    class FirstRules(type(f)):  # type: ignore[misc, valid-type]
        name = f"{f.name}@first_rules"

        def scenario(self, k: Knobs, twin: bool) -> Scenario:
            return replace(super().scenario(k, twin), beacon=False)

    return FirstRules()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    seeds = tuple(int(x) for x in args.seeds.split(","))
    before = [first_rules(family(n)) for n in NAMES]
    register(*before)
    attacks = [Attack(f.name, f.name) for f in before] + [Attack(n, n) for n in NAMES]
    results = evaluate_many(attacks, seeds=seeds, workers=args.workers)
    out: dict[str, Any] = {"seeds": list(seeds)}
    for r in results:
        name, _, rules = r["family"].partition("@")
        keep = {k: r["measured"].get(k) for k in r["measured"] if k != "honest_rate_change" and k != "lazy_validators"}
        out.setdefault(name, {})[rules or "current"] = {
            "gain": r["gain"],
            "passed": r["passed"],
            "books_ok": r["books"]["ok"],
            "summary": r["summary"],
            "measured": keep,
        }
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
