"""What all-or-nothing events cost: replaying a simulated log with and without the undo journal.

The log comes from a seeded simulation (`cor simulate`'s world, real core, every kind of activity a
devnet has: nodes, user and network tasks with commit-reveal and validation, slashes, epoch closes).
It is replayed, in alternating rounds, three ways in this one process:

    plain    the journaling machinery switched off for the round: records and containers are plain
             Python objects, exactly the code before events were made atomic (the baseline)
    replay   what the engine does when it loads or verifies a log: journaled types, no journal
             (``apply(..., atomic=False)``) — the cost the performance work has to live with
    atomic   every event inside its journal, as a live command is applied (``atomic=True``)

CPU time of the replaying process (steadier than wall time on a shared machine); the median of the
rounds. Prints one JSON document: events, µs per event for each way, and the ratios to ``plain``.
Every way must end in the same state fingerprint, or the numbers mean nothing (checked).

    python bench/atomicity.py [--epochs N] [--rounds R] [--scenario NAME] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from typing import Any

from cor_incentives.app.verify import state_fingerprint
from cor_incentives.core import journal
from cor_incentives.core.apply import apply
from cor_incentives.core.events import Event
from cor_incentives.core.state import State
from cor_incentives.sim import runner
from cor_incentives.sim.scenarios import SCENARIOS


def simulated_log(scenario: str, epochs: int, seed: int = 1) -> list[Event]:
    """The events of one seeded simulation run (the world keeps them)."""
    world = runner.World(dataclasses.replace(SCENARIOS[scenario], epochs=epochs), seed, keep_events=True)
    for e in range(epochs):
        world.run_epoch(e)
    return list(world.chain.events)


def replay(events: list[Event], mode: str) -> tuple[float, str]:
    """CPU seconds to replay ``events`` one way, and the fingerprint it ends in."""
    saved = journal.Journaled.__setattr__
    if mode == "plain":
        del journal.Journaled.__setattr__  # type: ignore[misc]
    try:
        state = State()
        atomic = mode == "atomic"
        t = time.process_time()
        for event in events:
            apply(state, event, atomic=atomic)
        spent = time.process_time() - t
    finally:
        journal.Journaled.__setattr__ = saved  # type: ignore[method-assign]
    return spent, state_fingerprint(state)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="honest_only")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    events = simulated_log(args.scenario, args.epochs)
    modes = ("plain", "replay", "atomic")
    spent: dict[str, list[float]] = {m: [] for m in modes}
    prints: dict[str, set[str]] = {m: set() for m in modes}
    for _ in range(args.rounds):
        for m in modes:
            seconds, fp = replay(events, m)
            spent[m].append(seconds)
            prints[m].add(fp)
    same = len(set().union(*prints.values())) == 1
    us = {m: statistics.median(spent[m]) / len(events) * 1e6 for m in modes}
    out = {
        "name": "atomicity_replay_cost",
        "scenario": args.scenario,
        "events": len(events),
        "rounds": args.rounds,
        "us_per_event": {m: round(v, 2) for m, v in us.items()},
        "ratio_to_plain": {m: round(us[m] / us["plain"], 3) for m in modes},
        "same_state": same,
    }
    print(json.dumps(out, indent=None if args.json else 2))
    if not same:
        sys.exit("the three replays ended in different states")
    return out


if __name__ == "__main__":
    main()
