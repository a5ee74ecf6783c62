"""Canary planting: a miner told to plant refuses, and an oracle that never opens what it planted (docs/rewards.md, "Canaries").

For a canary the oracle privately tells one drawn miner of a task to reveal the oracle's planted output instead of its
own. On rules 1-17 the planted output earns nothing, so the told miner loses the task's pay by obeying, while ignoring
the instruction earns its normal pay and leaves no trace (the instruction is private; the canary opens ``void``).
Refusing strictly dominates obeying, and canaries refused are canaries gone: lazy validators go unchecked. Rule 18
(``RULES_PAID_PLANTER``) pays the planter as a typical in-consensus miner of its task (core/tasks.py).

plant_refusal  miner-00..(count−1) (option ``plant = "refuse"``, ``sim/runner.py``) reveal their own honest output when
               told to plant; the twin is the same population obeying. 10 honest miners, 10 honest validators, canaries
               at ``canary_rate_pct`` of the tasks (network, and from rule 17 user) planting ``planted`` outputs.

               Judged per instruction (an *ask*: the oracle drew the miner as a canary's planter), so the noise of
               which miner the draws favour in two diverging worlds does not decide it. An ask's *value* is the work
               the miner's row for that task credits it with, units × quality_ppb (its work-stream pay is
               that × its multiplier × the rate, and its user-fee share pro rata to the quality: the miner's own
               factors cancel between the worlds):

                   refused ask (attack)  the miner's own row: units × its quality if in consensus, else 0
                   obeyed ask (twin)     the planter's row: on rule 18 units × the in-consensus miners' median
                                         quality (the task settled), on rules 1-17 nothing (no row)
                   typical               the twin's in-consensus miners' mean value on the same tasks

                   gain   = (mean refused value − mean obeyed value) ÷ mean typical value
                   noise  = 2 × the standard error of that difference (over the asks of both worlds)
                   passed = gain ≤ noise: refusing earns no more per ask than obeying, beyond the noise

               Also reported: the refusers' and the others' whole work pay (fees + work emission) in both worlds,
               canaries opened ``planted`` and ``void`` in both, the inference cost obeying saves, and the refusers'
               reputation at the end (an obeyed ask leaves it unchanged; a refused one is an ordinary task).

canary_unopened  the oracle plants at miner-00..(count−1) as at any miner, and leaves every canary it planted there
               unopened (option ``canary_open = "never"``, ``sim/runner.py``): a faulty oracle, or a hostile one griefing
               chosen miners. The targets obey (reveal the planted output). The twin opens every canary. Same population
               as plant_refusal. On rules 1-35 the unopened task settled as no canary, so the planted output was judged
               as the target's own: out of consensus, unpaid, reputation lowered, a ``poi_divergence`` (slashed unless
               the allowance forgave it). Rule 36 (``RULES_UNOPENED_CANARY``) judges no miner of an unopened task out
               of its consensus.

                   slashed   the targets' ``poi_divergence`` slashes whose task is one they were told to plant
                   gain      slashed COR per instruction to plant (attack world)
                   passed    no such slash in the attack world (per seed, so every resample of the seeds agrees)

               Also reported: the targets' reputation at the end against the twin's (an opened planted task leaves
               a planter's reputation as it was, and from rule 36 so does an unopened one), their work pay in both
               worlds, and the canaries left ``unopened``.
"""

from __future__ import annotations

import math
from typing import Any

from ...core.pricing import complexity_units
from ...core.records import TaskState
from ...core.rules import RULES_PAID_PLANTER, RULES_UNOPENED_CANARY
from ...core.units import PPB
from ..runner import RunResult
from ..scenarios import MINER_STAKE, ROUTER, NodeGroup, Scenario, validators
from ..script import ActorScript
from ..strategies import Environment
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, final_state, made, world_of
from .slashing import Watch

COR = 10**18
RULES = Rules(RULES_PAID_PLANTER, "paid_planter", "before_paid_planter")
UNOPENED_RULES = Rules(RULES_UNOPENED_CANARY, "unopened_canary", "before_unopened_canary")


def _mean(xs: list[int]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _variance_of_mean(xs: list[int]) -> float:
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1) / len(xs)


def planting_knobs(count: Knob, rules: Knob) -> tuple[Knob, ...]:
    """The planting families' knobs: theirs (``count`` of miner-00.., ``rules``), then the canaries' and the run's."""
    return (
        count,
        rules,
        Knob("canary_rate_pct", 25, "share of tasks carrying a canary, in percent (env.canary_rate; user tasks from rule 17)", 1, 100),
        Knob("planted", "offtopic", "what the oracle plants (env.canary_output)", choices=("offtopic", "garbage")),
        Knob("epochs", 6, "epochs run", 1, 20),
    )


def named_miners(k: Knobs) -> list[str]:
    """miner-00..(count − 1): the miners a planting family's option is on."""
    return [f"miner-{i:02d}" for i in range(int(k["count"]))]


def watched(script: ActorScript, result: RunResult) -> tuple[Any, Any, dict[str, str]]:
    """The run's final state, its world and each node's name by address (``Watch`` kept them)."""
    watch = made(script, Watch)
    return final_state(watch), world_of(watch), {n.address: n.name for n in result.nodes.values()}


def total_pay(runs: list[dict[str, Any]], key: str) -> int:
    """A group's work pay (``measure``'s ``pay[key]``) summed over the runs."""
    return sum(int(r["pay"][key]) for r in runs)


def pay_change(attack: list[dict[str, Any]], twin: list[dict[str, Any]], key: str) -> float | None:
    """A group's work pay in the attack world against the twin's, as a share of the twin's (None when the twin's is 0)."""
    had = total_pay(twin, key)
    return None if not had else round((total_pay(attack, key) - had) / had, 6)


class PlantingFamily(Family):
    """A planting family watches its world (``Watch``: no scripted actions) and measures the final state."""

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()


def planting_world(f: Family, k: Knobs, twin: bool, options: dict[str, Any], rules: Rules) -> Scenario:
    """The planting families' world: miner-00..(count−1) with ``options`` (none in the twin), the rest of 10 honest miners,
    the honest validators and the router; canaries planting ``planted`` on ``canary_rate_pct`` of the tasks."""
    n = int(k["count"])
    groups = (NodeGroup("miner", "honest", n, (MINER_STAKE,), options={} if twin else options),)
    if n < 10:
        groups += (NodeGroup("miner", "honest", 10 - n, (MINER_STAKE,)),)
    return Scenario(
        f.world_name(twin),
        groups + validators() + ROUTER,
        f.description,
        params=rules.params(k),
        env=Environment(canary_output=str(k["planted"]), canary_rate=int(k["canary_rate_pct"]) / 100),
        epochs=int(k["epochs"]),
    )


class PlantRefusal(PlantingFamily):
    name = "plant_refusal"
    title = "Plant refusal: a miner told to plant a canary reveals its own output instead"
    criterion = (
        "a miner told to reveal the oracle's planted output earns no more per instruction by revealing its own output instead "
        "(gain = (mean refused − mean obeyed work value per ask) ÷ the typical in-consensus value ≤ 2 standard errors)"
    )
    description = (
        "miner-00 and miner-01 of 10 honest miners ignore the oracle's private instruction to plant and reveal their own output "
        "(offtopic canaries on 25 % of the network and user tasks, 6 epochs); the twin obeys. Rule 18 pays the planter the task's units "
        "at its in-consensus miners' median quality; under rule 17 the planted output earned nothing (measured on rule 17, seeds "
        "1-20: refusing credited +102.3 % ± 4.6 % of a typical miner's work per instruction, and 248 of 1 167 canaries went void)"
    )
    gain_unit = "work value gained per instruction to plant by refusing it, as a share of one in-consensus miner's value on the task"
    knobs = planting_knobs(
        Knob("count", 2, "refusing miners (miner-00..), of 10", 1, 10), RULES.knob("the planter earns as a typical in-consensus miner", "nothing")
    )

    def refusers(self, k: Knobs) -> list[str]:
        return named_miners(k)

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return planting_world(self, k, twin, {"plant": "refuse"}, RULES)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        state, world, name_of = watched(script, result)
        refusers = set(self.refusers(k))
        asks: list[dict[str, Any]] = []
        for tid, miner in world.plant_asks:
            if name_of[miner] not in refusers or tid not in state.tasks:
                continue
            t = state.tasks[tid]
            a = t.assignment(miner)
            settled = t.state == TaskState.SETTLED
            units = complexity_units(state.params, state.models[t.model], t.settled_input_tokens or 0, t.output_tokens or 0) if settled else 0
            winners = [x for x in t.miners if x.in_consensus and not x.planted]
            credited = a is not None and settled and (a.in_consensus or (a.planted and a.quality_ppb is not None))
            value = units * (a.quality_ppb or 0) if credited and a is not None else 0
            typical = units * sum(x.quality_ppb or 0 for x in winners) // len(winners) if winners and settled else 0
            asks.append({"task": tid, "planted": bool(a is not None and a.planted), "value": value, "typical": typical, "canary": t.canary})
        pay = {"refusers": 0, "others": 0}
        costs = 0
        for epoch in result.epochs:
            for name, st in epoch.items():
                if name.startswith("miner-"):
                    pay["refusers" if name in refusers else "others"] += st.work_earnings
                    costs += st.costs if name in refusers else 0
        reputation = [state.nodes[n.address].reputation_ppb for n in result.nodes.values() if n.name in refusers]
        return {
            "asks": asks,
            "pay": {g: str(v) for g, v in pay.items()},
            "refuser_costs": str(costs),
            "refuser_reputation_ppb": reputation,
            "canaries_planted": sum(t.canaries for t in result.tasks),
            "canaries_void": sum(1 for t in state.tasks.values() if t.canary == "void"),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        refused = [x["value"] for r in attack for x in r["asks"]]
        obeyed = [x["value"] for r in twin for x in r["asks"]]
        typical = [x["typical"] for r in twin for x in r["asks"]]
        base = _mean(typical)
        diff = _mean(refused) - _mean(obeyed)
        gain = None if not refused or not obeyed or not base else diff / base
        noise = None if gain is None else 2 * math.sqrt(_variance_of_mean(refused) + _variance_of_mean(obeyed)) / base

        measured = {
            "refusers": self.refusers(k),
            "asks": len(refused),
            "twin_asks": len(obeyed),
            "asks_planted": sum(1 for r in attack for x in r["asks"] if x["planted"]),
            "twin_asks_planted": sum(1 for r in twin for x in r["asks"] if x["planted"]),
            "mean_value_refused": round(_mean(refused) / PPB, 3),  # units × quality
            "mean_value_obeyed": round(_mean(obeyed) / PPB, 3),
            "mean_value_typical": round(base / PPB, 3),
            "noise": None if noise is None else round(noise, 6),
            "refusers_pay": str(total_pay(attack, "refusers")),
            "twin_refusers_pay": str(total_pay(twin, "refusers")),
            "refusers_pay_change": pay_change(attack, twin, "refusers"),
            "others_pay_change": pay_change(attack, twin, "others"),
            "refusers_pay_change_per_seed": [str(int(a["pay"]["refusers"]) - int(t["pay"]["refusers"])) for a, t in zip(attack, twin)],
            "refuser_costs": str(sum(int(r["refuser_costs"]) for r in attack)),
            "twin_refuser_costs": str(sum(int(r["refuser_costs"]) for r in twin)),
            "refuser_mean_reputation_ppb": round(_mean([x for r in attack for x in r["refuser_reputation_ppb"]])),
            "twin_refuser_mean_reputation_ppb": round(_mean([x for r in twin for x in r["refuser_reputation_ppb"]])),
            "canaries_planted": sum(r["canaries_planted"] for r in attack),
            "canaries_void": sum(r["canaries_void"] for r in attack),
            "twin_canaries_planted": sum(r["canaries_planted"] for r in twin),
            "twin_canaries_void": sum(r["canaries_void"] for r in twin),
        }
        passed = gain is not None and noise is not None and gain <= noise
        mine, others = measured["refusers_pay_change"], measured["others_pay_change"]
        summary = (
            f"{len(self.refusers(k))} refuser(s), rule {'18' if k['rules'] == 'paid_planter' else '17'}: per instruction to plant, "
            f"refusing credits {'n/a' if gain is None else f'{gain * 100:+.1f} %'} of a typical miner's work on the task "
            f"(noise ± {'n/a' if noise is None else f'{noise * 100:.1f} %'}, {len(refused)} refused / {len(obeyed)} obeyed asks); "
            f"work pay {'n/a' if mine is None else f'{mine * 100:+.2f} %'} (others {'n/a' if others is None else f'{others * 100:+.2f} %'}); "
            f"canaries void {measured['canaries_void']} of {measured['canaries_void'] + measured['canaries_planted']} "
            f"(twin {measured['twin_canaries_void']} of {measured['twin_canaries_void'] + measured['twin_canaries_planted']})"
        )
        return Verdict(gain, passed, measured, summary)


class CanaryUnopened(PlantingFamily):
    name = "canary_unopened"
    title = "Unopened canary: the oracle plants at a miner and never opens its commitment"
    criterion = (
        "a miner that revealed the oracle's planted output as it was told is never slashed for it when the oracle leaves the "
        "canary unopened (no poi_divergence slash of a target on a task it was told to plant, in any seed)"
    )
    description = (
        "the oracle leaves unopened every canary it plants at miner-00 (1 of 10 honest miners, which obeys; offtopic canaries on "
        "25 % of the network and user tasks, 6 epochs); the twin opens every canary. Under rule 35 the unopened task settled as no "
        "canary and the planted output was judged as the miner's own (measured on rule 35, seeds 1-5: 12 slashes, 120 COR, on 26 "
        "instructions, reputation 0.672 against the twin's 0.738); rule 36 judges no miner of an unopened task out of its consensus"
    )
    gain_unit = "COR slashed from the targets per instruction to plant"
    knobs = planting_knobs(
        Knob("count", 1, "targeted miners (miner-00..), of 10", 1, 10),
        UNOPENED_RULES.knob("no miner of an unopened task is judged out of its consensus", "settled as no canary"),
    )

    def targets(self, k: Knobs) -> list[str]:
        return named_miners(k)

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return planting_world(self, k, twin, {"canary_open": "never"}, UNOPENED_RULES)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        state, world, name_of = watched(script, result)
        targets = set(self.targets(k))
        asked = {(tid, miner) for tid, miner in world.plant_asks if name_of[miner] in targets}
        slashed = [s.total for s in state.slashes if s.offence == "poi_divergence" and (s.evidence.get("task"), s.node) in asked]
        pay = {"targets": 0, "others": 0}
        for epoch in result.epochs:
            for name, st in epoch.items():
                if name.startswith("miner-"):
                    pay["targets" if name in targets else "others"] += st.work_earnings
        return {
            "asks": len(asked),
            "unopened": sum(1 for tid, _ in asked if tid in state.tasks and state.tasks[tid].canary in (None, "unopened")),
            "slashes": len(slashed),
            "slashed": str(sum(slashed)),
            "pay": {g: str(v) for g, v in pay.items()},
            "target_reputation_ppb": [state.nodes[n.address].reputation_ppb for n in result.nodes.values() if n.name in targets],
            "canaries_unopened": sum(1 for t in state.tasks.values() if t.canary == "unopened"),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        asks = sum(r["asks"] for r in attack)
        slashed = sum(int(r["slashed"]) for r in attack)
        slashes = sum(r["slashes"] for r in attack)
        gain = None if not asks else slashed / COR / asks

        reputation = round(_mean([x for r in attack for x in r["target_reputation_ppb"]]))
        twin_reputation = round(_mean([x for r in twin for x in r["target_reputation_ppb"]]))
        measured = {
            "targets": self.targets(k),
            "asks": asks,
            "unopened": sum(r["unopened"] for r in attack),
            "slashes": slashes,
            "slashed": str(slashed),
            "twin_asks": sum(r["asks"] for r in twin),
            "twin_slashes": sum(r["slashes"] for r in twin),
            "slashes_per_seed": [r["slashes"] for r in attack],
            "target_mean_reputation_ppb": reputation,
            "twin_target_mean_reputation_ppb": twin_reputation,
            "targets_pay_change": pay_change(attack, twin, "targets"),
            "others_pay_change": pay_change(attack, twin, "others"),
            "canaries_unopened": sum(r["canaries_unopened"] for r in attack),
            "twin_canaries_unopened": sum(r["canaries_unopened"] for r in twin),
        }
        passed = asks > 0 and slashes == 0
        rule = "36" if k["rules"] == UNOPENED_RULES.new else "35"
        mine = measured["targets_pay_change"]
        summary = (
            f"{len(self.targets(k))} target(s), rule {rule}: {slashes} slash(es), {slashed / COR:.0f} COR, of the targets on "
            f"{asks} instruction(s) to plant left unopened ({'n/a' if gain is None else f'{gain:.2f}'} COR an instruction); "
            f"their reputation {reputation / PPB:.3f} (twin {twin_reputation / PPB:.3f}), "
            f"work pay {'n/a' if mine is None else f'{mine * 100:+.2f} %'}"
        )
        return Verdict(gain, passed, measured, summary)


FAMILIES = (PlantRefusal(), CanaryUnopened())
