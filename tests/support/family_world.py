"""One attack family's world, run for the end-to-end audit tests (tests/audit: escalation_pay, escalation_funded,
panel_weights): the family's scenario at ``epochs`` epochs with its own script, closed records kept
(``prune_closed_records`` 0, so every task view is published), optionally under another ``rule_version``."""

from __future__ import annotations

import dataclasses

from cor_incentives.sim.attacks.base import FAMILIES
from cor_incentives.sim.runner import World


def family_world(name: str, epochs: int = 2, rule_version: int | None = None, seed: int = 1) -> World:
    family = FAMILIES[name]
    knobs = family.resolve({"epochs": epochs})
    scenario = family.scenario(knobs, False)
    params = {**scenario.params, "prune_closed_records": 0} | ({} if rule_version is None else {"rule_version": rule_version})
    w = World(dataclasses.replace(scenario, params=params), seed, script=family.script(knobs, False))
    for e in range(scenario.epochs):
        w.run_epoch(e)
    return w
