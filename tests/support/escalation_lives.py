"""A simulated life with one network-task dissenter among 10 validators (some copiers, maybe one offline), under a given
rule version: the random lives the escalation rules' properties compare side by side (rule 29's share in
tests/core/test_escalation_share.py, rule 31's pay in tests/core/test_escalation_pay.py); and the one seeded, recorded
life (``escalation_old_log``) whose replay under the previous rule version each escalation rule pins to main's hash."""

from __future__ import annotations

from typing import Any

from cor_incentives.sim.scenarios import ROUTER, VALIDATOR_STAKES, NodeGroup, Scenario, miners
from support.replays import recorded_life


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


def escalation_old_log(rule_version: int) -> list[Any]:
    """The seeded recorded life (``support.replays.recorded_life``) of two epochs under ``rule_version``: a dissenter on
    every task's first round (option "all"), a copier and an offline validator among 10, lazy and garbage miners, so
    escalated network tasks with dissenters. Rules 29 (test_escalation_share), 31 (test_escalation_pay) and 32
    (test_panel_weights) each replay it under the version before theirs to the hash main's code gave it."""
    vals = (
        NodeGroup("validator", "dissenter", 1, VALIDATOR_STAKES[:1], options={"on": "all"}),
        NodeGroup("validator", "copier", 1, VALIDATOR_STAKES[1:2]),
        NodeGroup("validator", "honest", 7, VALIDATOR_STAKES[2:9]),
        NodeGroup("validator", "offline", 1, VALIDATOR_STAKES[9:]),
    )
    return recorded_life("escalation_old_log", vals, rule_version)


def unbond_dodge_life(rule_version: int, seed: int = 7, copiers: int = 1, tasks: int = 4, epochs: int = 3) -> Any:
    """The chain of a seeded simulated life (``epochs`` epochs of ``tasks`` user and network tasks, 3 rounds) whose dissenter
    (every task's first round, option "all") unbonds its whole self-bond at each epoch's last tick before the close and
    cancels the entry at the next epoch's first tick: rule 34's dodge (attack escalation_unbond_dodge), built from the
    simulator's timed steps only (``TimedScript``), so main's code before rule 34 records the same log."""
    from cor_incentives.sim.chain import addr
    from cor_incentives.sim.runner import World
    from cor_incentives.sim.script import Step, TimedScript

    op = addr("dissenter-00")

    def unbond(state: Any) -> dict[str, Any] | None:
        have = state.ledger.balance(f"bonded:{op}")
        return {"amount": str(have)} if have else None

    def cancel(state: Any) -> dict[str, Any] | None:
        mine = [u for u in state.unbondings_of(op) if u.node == op and u.amount > 0 and u.mature_epoch > state.epoch]
        return {"id": mine[-1].id} if mine else None

    vals = (
        NodeGroup("validator", "dissenter", 1, ("9000",), prefix="dissenter", options={"on": "all"}),
        *((NodeGroup("validator", "copier", copiers, VALIDATOR_STAKES[:copiers]),) if copiers else ()),
        NodeGroup("validator", "honest", 9 - copiers, VALIDATOR_STAKES[copiers:9]),
    )
    sc = Scenario(
        name="unbond_dodge_life",
        nodes=miners(("honest", 8), ("lazy", 1), ("garbage", 1)) + vals + ROUTER,
        epochs=epochs,
        user_tasks_per_epoch=tasks,
        network_tasks_per_epoch=tasks,
        rounds_per_epoch=3,
        seeds=(seed,),
        params={"rule_version": rule_version},
    )
    script = TimedScript([Step(-1, op, "stake.unbond", unbond, None, "unbond"), Step(0, op, "stake.cancel_unbond", cancel, None, "cancel")])
    w = World(sc, seed, keep_events=True, script=script)
    for e in range(sc.epochs):
        w.run_epoch(e)
    return w.chain
