"""Honest misses: what PoI's false positives cost an honest miner (not an attack: the other side of slashing).

honest_misses  probe-00 is an honest miner that the PoI measure misjudges on ``rate_bps`` of its tasks
               (strategy ``unlucky``: it computes the answer, validators see it out of consensus); the
               twin is the same miner with no misjudged task. Both worlds have the population and the same
               stake. gain (here a loss) = slashed ÷ earned: the share of the honest miner's income that
               slashing takes for PoI's false positives. A misjudged task pays nothing (the measure
               cannot tell), so about ``rate`` of the income is lost whatever the slashing rule; that
               loss is reported (income per assigned task against the twin's) but not judged: once one
               task's outcome differs the two worlds' draws diverge, and one miner's income per task
               then varies by ±5 % between them (seeds 1-5).
"""

from __future__ import annotations

from typing import Any

from ..runner import RunResult
from ..scenarios import NodeGroup, Scenario
from ..script import ActorScript
from .base import Family, Knob, Knobs, Verdict
from .common import POPULATION, final_state, made, population_scenario
from .slashing import Watch, offences_found

BOUND = 0.001  # slashing takes less than 0.1 % of the income of an honest miner at PoI's measured false-positive rate


class HonestMisses(Family):
    name = "honest_misses"
    title = "Honest miner misjudged by PoI"
    criterion = "an honest miner with 2 % of its outputs out of consensus loses < 0.1 % of its income to slashing (gain < 0.001)"
    description = (
        "probe-00 is honest but PoI puts 2 % of its outputs out of consensus (the measured rate for honest SmolLM2 samples); "
        "measured on rule version 6: every such poi_divergence slashed 10 COR, 0.17 % of its income"
    )
    gain_unit = "slashed ÷ earned (the share of an honest miner's income slashing takes for false positives)"
    knobs = (
        Knob("rate_bps", 200, "share of the miner's outputs PoI puts out of consensus (bps)", 0, 10_000),
        Knob("epochs", 10, "epochs run", 1, 30),
    )
    PROBE = "probe-00"

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        rate = 0 if twin else int(k["rate_bps"]) / 10_000
        probe = NodeGroup("miner", "unlucky", 1, ("2000",), prefix="probe", options={"rate": rate})
        return population_scenario(self.world_name(twin), int(k["epochs"]), nodes=POPULATION + (probe,), tasks=20)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, Watch)
        state = final_state(script)
        probe = next(n for n in result.nodes.values() if n.name == self.PROBE)
        out = {
            "earnings": sum(e[self.PROBE].earnings for e in result.epochs),
            "slashes": sum(e[self.PROBE].slashes for e in result.epochs),
            "assigned": sum(e[self.PROBE].assigned for e in result.epochs),
            "offences": offences_found(state, probe.address, "poi_divergence"),
            "slash_records": sum(1 for s in state.slashes if s.node == probe.address),
        }
        return out

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def total(rs: list[dict[str, Any]], key: str) -> int:
            return sum(r[key] for r in rs)

        net, tnet = total(attack, "earnings") - total(attack, "slashes"), total(twin, "earnings") - total(twin, "slashes")
        per = net / total(attack, "assigned") if total(attack, "assigned") else None
        tper = tnet / total(twin, "assigned") if total(twin, "assigned") else None
        loss = None if per is None or not tper else 1 - per / tper
        slashed_share = total(attack, "slashes") / total(attack, "earnings") if total(attack, "earnings") else None
        return Verdict(
            slashed_share,
            slashed_share is not None and slashed_share < BOUND,
            {
                "income_loss_per_task": loss,
                "offences": total(attack, "offences"),
                "slash_records": total(attack, "slash_records"),
                "forgiven": total(attack, "offences") - total(attack, "slash_records"),
                "slashed": total(attack, "slashes"),
                "slashed_share_of_earnings": slashed_share,
                "income_per_task": per,
                "twin_income_per_task": tper,
                "assigned": total(attack, "assigned"),
                "twin_assigned": total(twin, "assigned"),
            },
            f"{total(attack, 'offences')} misjudged outputs over {len(attack)} seeds, {total(attack, 'slash_records')} slashed "
            f"({total(attack, 'slashes') / 10**18:,.2f} COR, {'n/a' if slashed_share is None else f'{slashed_share * 100:.3f} %'} of its "
            f"income); income per assigned task {(per or 0) / 10**18:,.2f} against the twin's {(tper or 0) / 10**18:,.2f} COR "
            f"({'n/a' if loss is None else f'{-loss * 100:+.1f} %'}: the misjudged tasks' pay and the draws' divergence)",
        )


FAMILIES: tuple[Family, ...] = (HonestMisses(),)
