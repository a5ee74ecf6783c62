"""Escalation cartel: a manufactured escalation doubles a network task's paid validations (stopped by rule 29).

escalation_cartel  Until rule 29 every validator of every round of a task had a row in the validators stream
                   (``tasks._record_work``), each earning a whole validation (``network_validation_rate_units`` ×
                   agreement × multiplier): a task that escalates pays about twice its validations. A validator that
                   moves one quality past ``dissent_bound_ppb`` (under ``validator_deviation_max_ppb``: no offence, no
                   slash) escalates the task at will. The world: the population (10 honest miners, 10 validators, a
                   router) under ``tasks`` user and ``tasks`` network tasks an epoch; the attackers are the first
                   ``coalition`` validators (a cartel, 30 % of the validators at 3), strategy ``dissenter`` with
                   ``on = network``: honest, except in the first round of every network task, where it moves the best
                   output's quality by 0.15 toward the middle, so the task escalates (to every other validator: the
                   population has 10, ``validators_per_task`` 5). The honest twin: the same nodes, all honest.
                   Rule 29 (``RULES_ESCALATION_SHARE``): a network task's validations are paid once: its first
                   ``validators_per_task`` validators earn as before, the later ones (escalation rounds) share what
                   the first left of ``validators_per_task`` whole validations (each at most its agreement).

                   Verdict: gain = the cartel's validators-stream income (``validator_work``, through commission and
                   stake) in the attack's world − in the twin's, ÷ the twin's; stopped iff gain ≤ 0. Also measured:
                   the others' income against the twin's, the whole stream paid against the twin's (what a
                   manufactured escalation costs the pool), the escalated network tasks and the cartel's slashes.
                   Knob ``rules`` = ``before_shared`` runs rule 28. From rule 31 (``RULES_ESCALATION_PAY``, the
                   default rules) the escalation rows are paid their agreement and the reports that made the task
                   escalate pay for them (the cartel's dissenters: their row of the task counts 0, and what the
                   escalation earns beyond the first round's leftover is cut from their other validations); rule 30
                   runs with the core parameter ``rule_version`` = 30 (tests/sim/test_sim_escalation_cartel.py).
"""

from __future__ import annotations

from typing import Any

from ...core.records import TaskKind
from ...core.rules import RULES_ESCALATION_SHARE
from ...core.units import COR
from ..runner import RunResult
from ..scenarios import ROUTER, Scenario, miners, validators
from ..script import ActorScript
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, final_state, made, population_scenario
from .slashing import Watch

RULES = Rules(RULES_ESCALATION_SHARE, "shared", "before_shared")


class EscalationCartel(Family):
    """Dissent on every network task's first round so that it escalates (see the module docstring): stopped by rule 29."""

    name = "escalation_cartel"
    title = "Manufactured escalations to double a task's paid validations"
    criterion = "a cartel that escalates every network task it validates earns no more from the validators stream than in its honest twin"
    description = (
        "3 of the 10 validators move one quality past dissent_bound_ppb in the first round of every network task they are "
        "drawn for (no offence), so it escalates to the other validators; rule 29 pays a task's validations once: its escalation "
        "rounds share what its first round left; from rule 31 (the default) the reports that made it escalate pay for it. Knob "
        "rules=before_shared runs rule 28, under which each round's row earned a whole validation"
    )
    gain_unit = "the cartel's validators-stream income beyond the twin's ÷ the twin's"
    knobs = (
        RULES.knob("an escalation shares what the first round left", "every round's row earns a whole validation"),
        Knob("coalition", 3, "dissenting validators (the first of the population's 10, 9 000-11 000 COR each)", 1, 9),
        Knob("tasks", 20, "user and network tasks per epoch each", 1, 100),
        Knob("epochs", 4, "epochs run", 2, 20),
    )

    def attackers(self, k: Knobs) -> list[str]:
        return [f"validator-{i:02d}" for i in range(int(k["coalition"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        vals = validators() if twin else validators("dissenter", int(k["coalition"]), options={"on": "network"})
        return population_scenario(
            self.world_name(twin), int(k["epochs"]), nodes=miners(("honest", 10)) + vals + ROUTER, params=RULES.params(k), tasks=int(k["tasks"])
        )

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        state = final_state(made(script, Watch))
        attackers = set(self.attackers(k))
        vals = [n for n, info in result.nodes.items() if info.role == "validator"]

        def total(names: list[str], what: str) -> int:
            return sum(getattr(ep[n], what) for ep in result.epochs for n in names)

        network = [t for t in state.tasks.values() if t.kind == TaskKind.NETWORK]
        return {
            "cartel_income": total([n for n in vals if n in attackers], "network"),
            "others_income": total([n for n in vals if n not in attackers], "network"),
            "cartel_slashed": total([n for n in vals if n in attackers], "slashes"),
            "network_tasks": len(network),
            "escalated": sum(1 for t in network if t.round > 0),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def s(rows: list[dict[str, Any]], key: str) -> int:
            return sum(r[key] for r in rows)

        cartel, twin_cartel = s(attack, "cartel_income"), s(twin, "cartel_income")
        others, twin_others = s(attack, "others_income"), s(twin, "others_income")
        gain = (cartel - twin_cartel) / twin_cartel if twin_cartel else (0.0 if cartel <= 0 else None)
        measured = {
            "cartel_income": cartel,
            "twin_cartel_income": twin_cartel,
            "others_income": others,
            "twin_others_income": twin_others,
            "stream_paid": cartel + others,
            "twin_stream_paid": twin_cartel + twin_others,
            "network_tasks": s(attack, "network_tasks"),
            "escalated": s(attack, "escalated"),
            "twin_escalated": s(twin, "escalated"),
            "cartel_slashed": s(attack, "cartel_slashed"),
        }
        cor = lambda x: f"{x / COR:,.2f}"  # noqa: E731
        return Verdict(
            gain,
            gain is not None and gain <= 0,
            measured,
            f"{measured['escalated']} of {measured['network_tasks']} network tasks escalated (twin: {measured['twin_escalated']}); cartel "
            f"{cor(cartel)} COR from the validators stream against the twin's {cor(twin_cartel)}, the others {cor(others)} against "
            f"{cor(twin_others)}; the stream paid {cor(cartel + others)} against {cor(twin_cartel + twin_others)}; cartel slashed "
            f"{cor(measured['cartel_slashed'])}",
        )


FAMILIES: tuple[Family, ...] = (EscalationCartel(),)
