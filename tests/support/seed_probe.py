"""Run in a subprocess with a chosen ``PYTHONHASHSEED`` (tests/core/test_hash_seed.py): a seeded simulation's log, or a
replay of a log from a file, and digests of what the core made of it.

    python tests/support/seed_probe.py simulate LOG SCENARIO EPOCHS   the simulation's events go to LOG (JSON)
    python tests/support/seed_probe.py attack LOG FAMILY              an attack family's world (``cor simulate``'s
                                                                      attack, at its defaults, seed 1), its events to LOG
    python tests/support/seed_probe.py replay LOG                     the events of LOG replayed

Prints one JSON object: the digest of the event hashes (the log), the state's encoding (every field, key order
included), the state hash, every event's postings in order, and the epochs' Merkle roots.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from typing import Any

from cor_incentives.core.apply import apply
from cor_incentives.core.events import Event
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state, state_hash


def simulated(scenario: str, epochs: int) -> list[Event]:
    from cor_incentives.sim import runner
    from cor_incentives.sim.scenarios import SCENARIOS

    world = runner.World(dataclasses.replace(SCENARIOS[scenario], epochs=epochs), 1, keep_events=True)
    for e in range(epochs):
        world.run_epoch(e)
    return list(world.chain.events)


def attacked(family_name: str) -> list[Event]:
    from cor_incentives.sim import runner
    from cor_incentives.sim.attacks.base import family

    f = family(family_name)
    knobs = f.resolve({})
    world = runner.World(f.scenario(knobs, False), 1, keep_events=True, script=f.script(knobs, False))
    for e in range(world.s.epochs):
        world.run_epoch(e)
    return list(world.chain.events)


def digests(events: list[Event]) -> dict[str, Any]:
    state, postings = State(), hashlib.sha256()
    for event in events:
        for p in apply(state, event, atomic=False).postings:
            postings.update(repr(p).encode())
    return {
        "events": hashlib.sha256("".join(e.hash for e in events).encode()).hexdigest(),
        "count": len(events),
        "state": hashlib.sha256(encode_state(state)).hexdigest(),
        "state_hash": state_hash(state),
        "postings": postings.hexdigest(),
        "roots": {str(e): r.root for e, r in sorted(state.epochs.items())},
    }


def main(argv: list[str]) -> None:
    mode, path = argv[0], argv[1]
    if mode in ("simulate", "attack"):
        events = simulated(argv[2], int(argv[3])) if mode == "simulate" else attacked(argv[2])
        with open(path, "w") as f:
            json.dump([[e.seq, e.tick, e.payload.decode("ascii"), e.signature, e.prev_hash, e.hash] for e in events], f)
    else:
        with open(path) as f:
            events = [Event(s, t, p.encode("ascii"), sig, prev, h) for s, t, p, sig, prev, h in json.load(f)]
    print(json.dumps(digests(events)))


if __name__ == "__main__":
    main(sys.argv[1:])
