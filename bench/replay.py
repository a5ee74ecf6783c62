"""Bench: replay speed of the core (``core.apply.replay``) over a simulated log, against a baseline checkout.

    .venv/bin/python bench/replay.py [--scenario honest_only] [--epochs 3] [--seed 1] [--repeats 3] [--rounds 2]
                                     [--baseline-src DIR]

Builds one log with ``cor simulate``'s world (the real core, the scenario's node strategies), writes
it to a file, then times ``replay`` of that same log (best of ``--repeats``) in a fresh process per
measurement. Times are CPU seconds of the replaying process (``time.process_time``: less sensitive to
other load on a shared machine than wall time, which is reported too). With ``--baseline-src`` (the
``src`` directory of another checkout, e.g. ``git worktree add /tmp/cor-before <rev>``) the
baseline's core replays the same file in alternating rounds, so both are measured under the same
load; ``ratio`` is this tree's time over the baseline's (at most 1.05: replay at most 5 % slower).
Both must end in the same head hash and the same state fingerprint. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def build_log(scenario_name: str, epochs: int, seed: int, path: Path) -> int:
    """Run the scenario with this tree's core and write its events, one JSON object per line."""
    from cor_incentives.sim.runner import World
    from cor_incentives.sim.scenarios import builtin_scenarios

    scenario = dataclasses.replace(builtin_scenarios()[scenario_name], epochs=epochs)
    world = World(scenario, seed, keep_events=True)
    for e in range(scenario.epochs):
        world.run_epoch(e)
    with path.open("w") as out:
        for ev in world.chain.events:
            row = {
                "seq": ev.seq,
                "tick": ev.tick,
                "payload": ev.payload.decode(),
                "signature": ev.signature,
                "prev_hash": ev.prev_hash,
                "hash": ev.hash,
            }
            out.write(json.dumps(row) + "\n")
    return len(world.chain.events)


def replay_only(path: Path, repeats: int) -> dict[str, object]:
    """Time ``replay`` of the logged events with whatever ``cor_incentives`` is on the path."""
    import cor_incentives
    from cor_incentives.app.verify import state_fingerprint
    from cor_incentives.core.apply import replay
    from cor_incentives.core.events import Event

    events = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        events.append(Event(r["seq"], r["tick"], r["payload"].encode(), r["signature"], r["prev_hash"], r["hash"]))
    best, best_cpu, state = float("inf"), float("inf"), None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        state = replay(events)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        best = min(best, time.perf_counter() - start)
    assert state is not None
    return {
        "src": str(Path(cor_incentives.__file__).resolve().parents[1]),
        "seconds": round(best, 4),
        "cpu_seconds": round(best_cpu, 4),
        "events_per_second": round(len(events) / best),
        "head_hash": state.head_hash,
        "state_fingerprint_sha256": hashlib.sha256(state_fingerprint(state).encode()).hexdigest(),
    }


def measure(src: Path, log: Path, repeats: int) -> dict[str, object]:
    """``replay_only`` in a fresh process with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, __file__, "--replay-only", str(log), "--repeats", str(repeats)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="honest_only")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="alternating measurements of this tree and the baseline")
    ap.add_argument("--baseline-src", type=Path, default=None)
    ap.add_argument("--replay-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replay_only:
        print(json.dumps(replay_only(args.replay_only, args.repeats)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.jsonl"
        events = build_log(args.scenario, args.epochs, args.seed, log)
        runs: dict[str, list[dict[str, object]]] = {"this": [], "baseline": []}
        for _ in range(args.rounds):
            runs["this"].append(measure(SRC, log, args.repeats))
            if args.baseline_src:
                runs["baseline"].append(measure(args.baseline_src.resolve(), log, args.repeats))
    this = min(runs["this"], key=lambda r: float(r["cpu_seconds"]))  # type: ignore[arg-type]
    out: dict[str, object] = {"bench": "replay", "scenario": args.scenario, "epochs": args.epochs, "seed": args.seed, "events": events, "this": this}
    if runs["baseline"]:
        base = min(runs["baseline"], key=lambda r: float(r["cpu_seconds"]))  # type: ignore[arg-type]
        out["baseline"] = base
        out["ratio"] = round(float(this["cpu_seconds"]) / float(base["cpu_seconds"]), 3)  # type: ignore[arg-type]
        out["same_state"] = this["head_hash"] == base["head_hash"] and this["state_fingerprint_sha256"] == base["state_fingerprint_sha256"]
        out["all_cpu_seconds"] = {k: [r["cpu_seconds"] for r in v] for k, v in runs.items()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
