"""Every record a seeded attack world's state holds, for the tests that compare two writers of the same records
(tests/store/test_json_view.py: json_view against asdict + json_ready; tests/store/test_json_text.py: json_text
against db.dumps(json_view))."""

from __future__ import annotations

import dataclasses

import cor_incentives.sim.attacks  # noqa: F401  (registers the families)
from cor_incentives.sim.attacks.base import FAMILIES
from cor_incentives.sim.runner import World


def seeded_world_state(name: str, epochs: int = 3):
    """The state after ``epochs`` epochs of the attack family ``name``'s world at its default knobs (seed 1)."""
    family = FAMILIES[name]
    knobs = family.resolve({})
    scenario = dataclasses.replace(family.scenario(knobs, False), epochs=epochs)
    world = World(scenario, 1, script=family.script(knobs, False))
    for e in range(scenario.epochs):
        world.run_epoch(e)
    return world.chain.state


def records(state):
    yield from state.epochs.values()
    yield from state.nodes.values()
    yield from state.slashes
    yield from state.unbondings.values()
    yield from state.redelegations.values()
    yield from state.tasks.values()
    yield from state.proposals.values()
    yield from state.bounties.values()
    yield from state.sessions.values()
    yield from state.earnings
