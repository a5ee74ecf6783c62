"""The marketplace stream: a model whose owner gets one network task of it run in a quiet epoch (finding K1, rule 31).

marketplace_one_task  the simulator's model developer owns the one model every task runs. The attack world is a quiet
            network: ``tasks`` network tasks an epoch (default 1; user tasks as usual, which earn no marketplace
            emission); the twin is the same network at ``cor simulate``'s default load, 20 network tasks an epoch. Under
            rule 30 (rules=whole_stream) the stream is split pro rata over usage whatever its size, so the one task pays
            its model's owner the whole stream, as twenty do. From rule 31 (rules=rate, RULES_MARKETPLACE_RATE) a unit of
            usage earns marketplace_usage_rate_units, pro rata only when the claims exceed the budget, and the rest stays
            in pool:network_incentives. gain = (the owner's marketplace pay per unit of usage in the attack world) ÷ (its
            pay per unit of usage in the twin) − 1; stopped iff gain ≤ 1e-6 (the claims' floors).
"""

from __future__ import annotations

from typing import Any

from ...core.rules import RULES_MARKETPLACE_RATE
from ...core.streams import EmissionStream, Stream
from ...core.units import COR
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript
from .base import Family, Knob, Knobs, Verdict
from .common import POPULATION, Rules, final_state, made, node, pct
from .slashing import Watch

RATE_RULES = Rules(RULES_MARKETPLACE_RATE, "rate", "whole_stream")
TWIN_TASKS = 20  # the twin's network tasks an epoch: `cor simulate`'s default load (Scenario.network_tasks_per_epoch)
USER_TASKS = 10  # user tasks an epoch in both worlds (their usage earns no marketplace emission)
TOLERANCE = 1e-6  # the claims' floors: a model's claim loses less than one base unit


def marketplace_by_epoch(state: Any, owner: str) -> list[dict[str, int]]:
    """Per closed epoch: the marketplace stream's budget and paid, the owner's pay and its models' usage (the usage its
    marketplace lines cite; an epoch without a line counts no usage)."""
    out = []
    for e in sorted(state.epochs):
        record = state.epochs[e]
        stream = record.streams.get(EmissionStream.MARKETPLACE, {})
        pay = usage = 0
        seen: set[str] = set()
        for item in record.items:
            if item.stream == Stream.MARKETPLACE and item.address == owner:
                pay += item.amount
                inputs = item.detail["inputs"]
                if inputs["model"] not in seen:
                    seen.add(inputs["model"])
                    usage += int(inputs["usage"])
        out.append({"epoch": e, "budget": int(stream.get("budget", 0)), "paid": int(stream.get("paid", 0)), "owner_pay": pay, "usage": usage})
    return out


class MarketplaceOneTask(Family):
    """marketplace_one_task: see the module docstring."""

    name = "marketplace_one_task"
    title = "One network task of a model does not pay its owner the whole marketplace stream"
    criterion = (
        "a model's owner earns no more per unit of its model's usage in a quiet network (one network task an epoch) than at "
        "the default load (gain = pay per unit of usage ÷ the twin's − 1; stopped at ≤ 1e-6, the claims' floors)"
    )
    description = (
        "the simulator's model developer owns the one model every task runs; the network is quiet: 1 network task an epoch "
        "(10 user tasks, which earn no marketplace emission); the twin runs the default load, 20 network tasks an epoch"
    )
    gain_unit = "the owner's marketplace pay per unit of usage ÷ the twin's (20 network tasks an epoch) − 1"
    knobs = (
        Knob("tasks", 1, "network tasks an epoch in the attack world (the twin runs 20)", 1, 20),
        RATE_RULES.knob(
            "marketplace_usage_rate_units per unit of usage, pro rata only when the budget binds",
            "the whole stream split pro rata over the epoch's usage",
        ),
        Knob("epochs", 5, "epochs run", 2, 30),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return Scenario(
            self.world_name(twin),
            POPULATION,
            self.description if not twin else "",
            params=RATE_RULES.params(k),
            epochs=int(k["epochs"]),
            user_tasks_per_epoch=USER_TASKS,
            network_tasks_per_epoch=TWIN_TASKS if twin else int(k["tasks"]),
        )

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        state = final_state(made(script, Watch))
        return {"epochs": marketplace_by_epoch(state, node("modeldev"))}

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def totals(worlds: list[dict[str, Any]]) -> dict[str, int]:
            rows = [e for w in worlds for e in w["epochs"]]
            return {key: sum(e[key] for e in rows) for key in ("budget", "paid", "owner_pay", "usage")} | {"epochs": len(rows)}

        a, t = totals(attack), totals(twin)
        per_a = a["owner_pay"] / a["usage"] if a["usage"] else None
        per_t = t["owner_pay"] / t["usage"] if t["usage"] else None
        gain = None if per_a is None or not per_t else per_a / per_t - 1
        n = max(1, a["epochs"])
        measured = {
            "rules": k["rules"],
            "tasks": k["tasks"],
            "owner_pay_per_epoch": str(a["owner_pay"] // n),
            "twin_owner_pay_per_epoch": str(t["owner_pay"] // max(1, t["epochs"])),
            "usage_per_epoch": str(a["usage"] // n),
            "twin_usage_per_epoch": str(t["usage"] // max(1, t["epochs"])),
            "pay_per_usage_unit": None if per_a is None else str(int(per_a * 10**9)),  # base units per unit of usage (units × 1e9)
            "twin_pay_per_usage_unit": None if per_t is None else str(int(per_t * 10**9)),
            "budget_per_epoch": str(a["budget"] // n),
            "left_in_pool_per_epoch": str((a["budget"] - a["paid"]) // n),
            "twin_left_in_pool_per_epoch": str((t["budget"] - t["paid"]) // max(1, t["epochs"])),
        }
        summary = (
            f"{k['rules']}, {k['tasks']} network task(s) an epoch: the model's owner earns {a['owner_pay'] // n / COR:,.2f} COR an "
            f"epoch of a {a['budget'] // n / COR:,.2f} COR stream ({a['usage'] // n / 10**9:,.0f} units of usage), "
            f"{t['owner_pay'] // max(1, t['epochs']) / COR:,.2f} COR at 20 tasks ({t['usage'] // max(1, t['epochs']) / 10**9:,.0f} "
            f"units): {pct(gain)} per unit of usage; {(a['budget'] - a['paid']) // n / COR:,.2f} COR an epoch left in the pool"
        )
        return Verdict(gain, gain is not None and gain <= TOLERANCE, measured, summary)


FAMILIES = (MarketplaceOneTask(),)
