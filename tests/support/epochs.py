"""One simulated epoch's signature-free events, for tests that close an epoch two ways and compare."""

from __future__ import annotations

import dataclasses
from typing import Any

from cor_incentives.core.events import Command
from cor_incentives.sim.runner import World
from cor_incentives.sim.scenarios import builtin_scenarios


def epoch_events(name: str, seed: int, params: dict[str, Any] | None = None) -> list[Any]:
    """One simulated epoch of the built-in scenario ``name`` (6 user and 6 network tasks), up to its close; ``params``
    over the scenario's core parameters."""
    scenario = dataclasses.replace(builtin_scenarios()[name], epochs=1, user_tasks_per_epoch=6, network_tasks_per_epoch=6)
    if params:
        scenario = dataclasses.replace(scenario, params={**scenario.params, **params})
    world = World(scenario, seed, keep_events=True)
    world.run_epoch(0)
    events = list(world.chain.events)
    last_close = max(i for i, e in enumerate(events) if Command.decode(e.payload).kind == "epoch.close")
    return events[: last_close + 1]
