"""A simulated life with one network-task dissenter among 10 validators (some copiers, maybe one offline), under a given
rule version: the random lives the escalation rules' properties compare side by side (rule 29's share in
tests/core/test_escalation_share.py, rule 31's pay in tests/core/test_escalation_pay.py)."""

from __future__ import annotations

from typing import Any

from cor_incentives.sim.scenarios import ROUTER, VALIDATOR_STAKES, NodeGroup, Scenario, miners


def dissenter_life(name: str, rule_version: int, copiers: int, offline: int, tasks: int, seed: int) -> Any:
    """The chain after 2 epochs of ``tasks`` user and ``tasks`` network tasks an epoch (3 rounds each): 10 miners (8 honest,
    1 lazy, 1 garbage), ``copiers`` copier and ``offline`` offline validators of 10, and a dissenter on network tasks."""
    from cor_incentives.sim.runner import World

    vals = (
        *((NodeGroup("validator", "copier", copiers, VALIDATOR_STAKES[:copiers]),) if copiers else ()),
        NodeGroup("validator", "honest", 10 - copiers - offline, VALIDATOR_STAKES[copiers : 10 - offline]),
        *((NodeGroup("validator", "offline", offline, VALIDATOR_STAKES[10 - offline :]),) if offline else ()),
        NodeGroup("validator", "dissenter", 1, ("9000",), prefix="dissenter", options={"on": "network"}),
    )
    sc = Scenario(
        name=name,
        nodes=miners(("honest", 8), ("lazy", 1), ("garbage", 1)) + vals + ROUTER,
        epochs=2,
        user_tasks_per_epoch=tasks,
        network_tasks_per_epoch=tasks,
        rounds_per_epoch=3,
        seeds=(seed,),
        params={"rule_version": rule_version},
    )
    w = World(sc, seed, keep_events=True)
    for e in range(sc.epochs):
        w.run_epoch(e)
    return w.chain
