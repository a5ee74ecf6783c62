"""Validators that do not evaluate, and a validator coalition: node strategies against an honest twin.

echo_validator   validator-00..(count−1) never evaluate: each waits for the reports other validators of
                 the task have made public and repeats their stake-weighted median; with nothing public yet
                 (reports are committed before any is revealed) it falls back to a constant guess
                 (``fallback`` "constant") or to the median consensus of earlier tasks ("previous_median").
max_reporter     validator-00..(count−1) report the same numbers for every output without evaluating:
                 distance ``distance_ppb`` and quality ``quality_ppb`` (default 0 and 1.0: "everything is
                 perfect").
                 For both: gain = the lazy validators' net pay (earnings − slashes − their off-chain costs)
                 ÷ the same validators' net pay when they evaluate honestly (the twin) − 1. Stopped when
                 gain ≤ −50 %: not evaluating forfeits at least half of what evaluating earns, so laziness
                 does not pay unless evaluating costs more than half of a validator's pay.
collusion_49     validator-00..(count−1) (49 % of validator stake at count 5) favour miner-00: distance 0
                 and quality 1 for it, ``harsh_distance_ppb`` / ``harsh_quality_ppb`` for every other miner
                 — always, or (``when`` "majority") only in tasks where the coalition holds at least half
                 of the task's validator stake, reporting honestly elsewhere (a coalition that hides).
                 Stopped when no honest miner's or validator's pay per unit of useful work (its network
                 rewards minus slashes per unit of network work: what emission pays for) moves by more
                 than 5 % against the twin, and the coalition (its validators and its miner) does not gain.
                 gain = the coalition's payout change ÷ its payout in the twin.

Each family's twin is the same population with every node honest, on the same seeds and parameters.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..runner import RunResult
from ..scenarios import ROUTER, Scenario, miners, validators
from ..script import ActorScript
from .base import Family, Knob, Knobs, Verdict
from .common import pct

BAD_MIX = miners(("honest", 8), ("lazy", 1), ("garbage", 1))
PPB = 10**9
COR = 10**18


def _node_totals(result: RunResult) -> dict[str, dict[str, int]]:
    """Per node over the run: payout (earnings − slashes), costs, useful work done, assignments, canaries failed.

    ``network_work`` counts a paid planter's seat on a network task (rule 18) as the task's typical work
    (``NodeEpoch.planted_network_work``): the core pays that seat as a typical miner's row, so pay per unit of network work
    stays the pay of the work, whatever number of plants the oracle happened to ask of the node."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for epoch in result.epochs:
        for name, st in epoch.items():
            t = out[name]
            t["payout"] += st.earnings - st.slashes
            t["costs"] += st.costs
            t["work"] += st.work_offered
            t["network"] += st.network
            t["network_work"] += st.network_work + st.planted_network_work  # a paid planter's seat: its task's typical work
            t["assigned"] += st.assigned
            t["served"] += st.served
            t["canaries_failed"] += st.canaries_failed
            t["slashes"] += st.slashes
    return {n: dict(t) for n, t in out.items()}


def _sum(runs: list[dict[str, Any]], names: list[str], key: str) -> int:
    return sum(r["nodes"][n][key] for r in runs for n in names if n in r["nodes"])


def honest_rate_changes(attack: list[dict[str, Any]], twin: list[dict[str, Any]], names: list[str]) -> dict[str, float | None]:
    """Each of ``names``' network rewards − slashes per unit of network work (what emission pays for) in the attack's
    runs against the twin's, − 1 (rounded to 4 places; None when either world has no work or the twin no pay)."""
    changes: dict[str, float | None] = {}
    for n in names:
        a_work, b_work = _sum(attack, [n], "network_work"), _sum(twin, [n], "network_work")
        a_pay = _sum(attack, [n], "network") - _sum(attack, [n], "slashes")
        b_pay = _sum(twin, [n], "network") - _sum(twin, [n], "slashes")
        changes[n] = None if not (a_work and b_work and b_pay) else round((a_pay / a_work) / (b_pay / b_work) - 1, 4)
    return changes


def _run_facts(result: RunResult) -> dict[str, Any]:
    return {
        "nodes": _node_totals(result),
        "roles": {n.name: n.role for n in result.nodes.values()},
        "escalated": sum(t.escalated for t in result.tasks),
        "canaries": sum(t.canaries for t in result.tasks),
        "validations": sum(t.validations for t in result.tasks),
        "tasks": sum(t.settled + t.failed for t in result.tasks),
    }


class LazyValidators(Family):
    """Shared by the families whose validators do not evaluate: the population, the twin, the verdict."""

    strategy = ""
    knobs: tuple[Knob, ...] = ()

    def lazy_names(self, k: Knobs) -> list[str]:
        return [f"validator-{i:02d}" for i in range(int(k["count"]))]

    def options(self, k: Knobs) -> dict[str, Any]:
        return {}

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        s = Scenario(
            self.name,
            BAD_MIX + validators(self.strategy, int(k["count"]), options=self.options(k)) + ROUTER,
            self.description,
            epochs=int(k["epochs"]),
        )
        return s.honest_twin() if twin else s

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return ActorScript()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        return _run_facts(result)

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        lazy = self.lazy_names(k)
        honest = [n for n, role in attack[0]["roles"].items() if role == "validator" and n not in lazy]
        net = _sum(attack, lazy, "payout") - _sum(attack, lazy, "costs")
        twin_net = _sum(twin, lazy, "payout") - _sum(twin, lazy, "costs")
        gain = None if twin_net <= 0 else net / twin_net - 1

        def per_node(runs: list[dict[str, Any]], names: list[str]) -> int:
            return _sum(runs, names, "payout") // max(1, len(names) * len(runs))

        kept = None if not per_node(attack, honest) else per_node(attack, lazy) / per_node(attack, honest)
        n = max(1, len(attack))
        return Verdict(
            gain,
            gain is not None and gain <= -0.5,
            {
                "lazy_validators": lazy,
                "net_per_seed": net // n,
                "twin_net_per_seed": twin_net // n,
                "payout_per_lazy_validator": per_node(attack, lazy),
                "payout_per_honest_validator": per_node(attack, honest),
                "share_of_honest_pay_kept": None if kept is None else round(kept, 4),
                "canaries_failed": _sum(attack, lazy, "canaries_failed"),
                "canaries": sum(r["canaries"] for r in attack),
                "slashes_per_seed": _sum(attack, lazy, "slashes") // n,
                "escalated_tasks": sum(r["escalated"] for r in attack),
                "twin_escalated_tasks": sum(r["escalated"] for r in twin),
                "validations": sum(r["validations"] for r in attack),
                "twin_validations": sum(r["validations"] for r in twin),
            },
            f"{len(lazy)} {self.strategy} validator(s): net {net / n / COR:,.2f} COR per seed against {twin_net / n / COR:,.2f} COR "
            f"evaluating honestly ({pct(gain)}); each keeps {'n/a' if kept is None else f'{kept * 100:.1f} %'} of an honest "
            f"validator's pay; {_sum(attack, lazy, 'canaries_failed')} canaries failed",
        )


class EchoValidator(LazyValidators):
    name = "echo_validator"
    title = "Echo validators earn less than evaluating"
    strategy = "echo"
    criterion = "validators that repeat other validators' published reports keep less than half of what evaluating earns (gain ≤ −50 %)"
    description = (
        "validator-00..02 (30 % of validator stake) never evaluate: they repeat the median of the reports other validators of the task "
        "made public, else a constant guess; miners: 8 honest, 1 lazy, 1 garbage (measured with reports public at once: each kept "
        "95–98 % of an honest validator's pay)"
    )
    gain_unit = "net pay ÷ the same validators evaluating honestly − 1"
    knobs = (
        Knob("count", 3, "echo validators (validator-00..), of 10", 1, 5),
        Knob("fallback", "constant", "what it reports when nothing is public yet", choices=("constant", "previous_median")),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def options(self, k: Knobs) -> dict[str, Any]:
        return {"mode": str(k["fallback"])}


class MaxReporter(LazyValidators):
    name = "max_reporter"
    title = "Reporting 'perfect' for everything does not pay"
    strategy = "copier"
    criterion = "validators that report fixed numbers for every output keep less than half of what evaluating earns (gain ≤ −50 %)"
    description = (
        "validator-00..02 (30 % of validator stake) report distance 0 and quality 1.0 for every output without evaluating; miners: 8 "
        "honest, 1 lazy, 1 garbage (measured with Yuma-style clipping: each kept 96–99 % of an honest validator's pay in a 30 % group, "
        "87 % alone)"
    )
    gain_unit = "net pay ÷ the same validators evaluating honestly − 1"
    knobs = (
        Knob("count", 3, "max reporters (validator-00..), of 10", 1, 5),
        Knob("distance_ppb", 0, "the distance reported for every output", 0, 2 * PPB),
        Knob("quality_ppb", PPB, "the quality reported for every output", 0, PPB),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def options(self, k: Knobs) -> dict[str, Any]:
        return {"distance": int(k["distance_ppb"]) / PPB, "quality": int(k["quality_ppb"]) / PPB}


class Collusion49(Family):
    name = "collusion_49"
    title = "A minority validator coalition cannot move honest pay"
    criterion = (
        "a coalition below half of validator stake moves no honest node's pay per unit of useful work by more than 5 % against the "
        "honest twin, and the coalition does not gain"
    )
    description = (
        "validator-00..04 (49 % of validator stake) favour miner-00: distance 0, quality 1 for it, distance 0.5 and quality 0.1 for every "
        "other miner; 10 honest miners (measured on the first rules: −73 % honest pay at 3 validators per task; at 10, honest validators "
        "+95 % from the stream's pro-rata split)"
    )
    gain_unit = "the coalition's payout change ÷ its payout in the twin"
    knobs = (
        Knob("count", 5, "colluding validators (validator-00..; 5 hold 49 % of validator stake)", 1, 5),
        Knob("harsh_distance_ppb", 500_000_000, "distance reported for miners outside the coalition", 0, 2 * PPB),
        Knob("harsh_quality_ppb", 100_000_000, "quality reported for miners outside the coalition", 0, PPB),
        Knob(
            "when",
            "always",
            "collude in every task, or only where the coalition holds half of the task's validator stake",
            choices=("always", "majority"),
        ),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        options = {"harsh_distance": int(k["harsh_distance_ppb"]) / PPB, "harsh_quality": int(k["harsh_quality_ppb"]) / PPB, "when": str(k["when"])}
        s = Scenario(
            self.name,
            miners(("honest", 10), coalition_first="c") + validators("colluding", int(k["count"]), "c", options) + ROUTER,
            self.description,
            epochs=int(k["epochs"]),
        )
        return s.honest_twin() if twin else s

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return ActorScript()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        facts = _run_facts(result)
        facts["captured"] = sum(sum(t.captured.values()) for t in result.tasks)
        return facts

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        coalition = ["miner-00"] + [f"validator-{i:02d}" for i in range(int(k["count"]))]
        roles = attack[0]["roles"]
        honest = sorted(n for n, role in roles.items() if role in ("miner", "validator") and n not in coalition)
        changes = honest_rate_changes(attack, twin, honest)
        moves = [x for x in changes.values() if x is not None]
        worst = max((abs(x) for x in moves), default=0.0)
        got, had = _sum(attack, coalition, "payout"), _sum(twin, coalition, "payout")
        gain = None if had <= 0 else got / had - 1
        n = max(1, len(attack))
        return Verdict(
            gain,
            worst <= 0.05 and gain is not None and gain <= 0,
            {
                "max_abs_honest_rate_change": worst,
                "largest_drop": min(moves, default=0.0),
                "largest_gain": max(moves, default=0.0),
                "honest_rate_change": changes,
                "coalition_payout_per_seed": got // n,
                "twin_coalition_payout_per_seed": had // n,
                "coalition_slashes_per_seed": _sum(attack, coalition, "slashes") // n,
                "captured_tasks": sum(r["captured"] for r in attack),
                "tasks": sum(r["tasks"] for r in attack),
                "escalated_tasks": sum(r["escalated"] for r in attack),
                "twin_escalated_tasks": sum(r["escalated"] for r in twin),
                "validations": sum(r["validations"] for r in attack),
                "twin_validations": sum(r["validations"] for r in twin),
            },
            f"{int(k['count'])} colluding validators ({k['when']}): honest pay per unit of work moved {pct(min(moves, default=0.0))} "
            f"to {pct(max(moves, default=0.0))}; the coalition's payout {pct(gain)} ({got / n / COR:,.0f} against {had / n / COR:,.0f} "
            f"COR per seed); it held half the reporting stake in {sum(r['captured'] for r in attack)} of {sum(r['tasks'] for r in attack)} tasks",
        )


FAMILIES = (EchoValidator(), MaxReporter(), Collusion49())
