"""A validator coalition that inflates the task's spread to loosen the PoI threshold for its garbage miner.

spread_inflation  validator-00..(count−1) (49 % of validator stake at count 5) and miner-00, a garbage miner, form a
                  coalition. The validators evaluate and report honestly except for miner-00: its measured
                  (raw) distance, quality ``quality_ppb`` (default 1.0), and a task spread of ``spread_ppb``
                  (default 2.0, the largest), so that the core's threshold max(poi_max_distance_ppb,
                  min(poi_spread_cap_ppb, median spread × poi_spread_factor_bps // 10 000)) would reach the cap
                  and let the garbage output (0.9-1.1 from any other) in. Its lie makes the tasks it sees dispute
                  (a report far from the others): they escalate, and the honest validators drawn into the escalation
                  do that round's work. ``rules`` "before_escalation_pay" runs rule 30: the escalation's rows share
                  only what the first round left (``RULES_ESCALATION_SHARE``, 29), so those honest validators are paid
                  ~nothing for it (honest validators' pay per unit of work -6.9 % against the lie's absence: open);
                  from rule 31 (``RULES_ESCALATION_PAY``, the default) the reports that made the escalation pay for it.
                  (The rules before the spread rule, 12, where the coalition does the same loosening itself, its
                  garbage miner's distances less poi_spread_cap_ppb − poi_max_distance_ppb, run with the core
                  parameter ``rule_version`` = 11: tests/sim/test_sim_spread.py.)
                  Stopped when the coalition (its validators and its miner) does not gain against the all-honest
                  twin, and the lie moves no honest miner's or validator's pay per unit of useful work by more
                  than 5 %: measured against the reference world ``honest_validators``, where the same miner-00
                  is still garbage and every validator is honest.
                  gain = the coalition's payout change ÷ its payout in the twin.

Two controls, each for its own question, both fixed here (no knob picks them) and run on the same seeds:

* the twin: the same population with every node honest (miner-00 computes the answer). Being honest must pay the
  coalition more than the attack does.
* ``honest_validators`` (``Family.references``): the attack's population with the validators' lie reverted (every
  validator honest, miner-00 still garbage). Against the all-honest twin the honest miners' pay per unit of work
  rises by a few %: a garbage miner forfeits its share of the tasks it serves, and the co-miners get it, with or
  without any lie. That rise is the garbage miner's, not the coalition's doing; the bound on honest nodes is about
  what the lie moves, so it is measured against the world without the lie. The moves against the all-honest twin
  are reported too (``honest_rate_change_vs_twin``), not judged.
"""

from __future__ import annotations

from typing import Any

from ...core.rules import RULES_ESCALATION_PAY
from ..runner import RunResult
from ..scenarios import ROUTER, Scenario, miners, validators
from ..script import ActorScript
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, pct
from .validators import COR, PPB, Collusion49

RULES = Rules(RULES_ESCALATION_PAY, "escalation_pay", "before_escalation_pay")


class SpreadInflation(Family):
    name = "spread_inflation"
    title = "A minority coalition cannot loosen the PoI threshold by inflating the task's spread"
    criterion = (
        "a coalition below half of validator stake that reports the largest spread (and a perfect quality for its garbage miner) "
        "does not gain against the honest twin, and its lie moves no honest node's pay per unit of useful work by more than 5 % "
        "against the same world with every validator honest (its garbage miner still garbage)"
    )
    description = (
        "validator-00..04 (49 % of validator stake) and miner-00, a garbage miner: the validators evaluate honestly except for "
        "miner-00 (its raw distance, quality 1.0) and claim the task's spread is 2.0 so that the threshold would reach "
        "poi_spread_cap_ppb; 9 honest miners"
    )
    gain_unit = "the coalition's payout change ÷ its payout in the twin"
    knobs = (
        Knob("count", 5, "inflating validators (validator-00..; 5 hold 49 % of validator stake)", 1, 5),
        Knob("spread_ppb", 2 * PPB, "the spread the coalition claims", 0, 2 * PPB),
        Knob("quality_ppb", PPB, "the quality it reports for its garbage miner", 0, PPB),
        RULES.knob("the reports that made an escalation pay for it", "an escalation shares what the first round left"),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    references = ("honest_validators",)

    def _scenario(self, k: Knobs, lie: bool) -> Scenario:
        options = {"spread": int(k["spread_ppb"]) / PPB, "quality": int(k["quality_ppb"]) / PPB}
        params = RULES.params(k)
        vals = validators("spread_inflater", int(k["count"]), "c", options) if lie else validators()
        return Scenario(
            self.name if lie else f"{self.name}~honest_validators",
            miners(("garbage", 1), ("honest", 9), coalition_first="c") + vals + ROUTER,
            self.description,
            params=params,
            epochs=int(k["epochs"]),
        )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        s = self._scenario(k, lie=True)
        return s.honest_twin() if twin else s

    def reference(self, k: Knobs, name: str) -> tuple[Scenario, ActorScript]:
        """``honest_validators``: the attack's miners (miner-00 garbage), every validator honest: the world without the lie."""
        if name != "honest_validators":
            raise ValueError(f"{self.name} has no reference world {name!r}")
        return self._scenario(k, lie=False), ActorScript()

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return ActorScript()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        facts = Collusion49().measure(k, result, script, twin)
        facts["miner00_in_consensus"] = sum(e["miner-00"].in_consensus for e in result.epochs if "miner-00" in e)
        return facts

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        """The gain against the all-honest twin; the honest nodes' moves against ``honest_validators`` (module docstring)."""
        if any("references" not in t for t in twin):
            raise ValueError(f"{self.name}: the judge needs each seed's honest_validators world (Family.references)")
        ck = {"count": k["count"], "when": "always"}
        honest = Collusion49().judge(ck, attack, twin)  # the coalition's gain: against every node honest
        lie = Collusion49().judge(ck, attack, [t["references"]["honest_validators"] for t in twin])  # the lie's moves
        n = max(1, len(attack))
        m, h = lie.measured, honest.measured
        gain = honest.gain
        served = sum(r["miner00_in_consensus"] for r in attack)  # its garbage outputs let into consensus
        assigned = sum(r["nodes"].get("miner-00", {}).get("assigned", 0) for r in attack)
        return Verdict(
            gain,
            m["max_abs_honest_rate_change"] <= 0.05 and gain is not None and gain <= 0,
            {
                **h,
                "max_abs_honest_rate_change": m["max_abs_honest_rate_change"],
                "largest_drop": m["largest_drop"],
                "largest_gain": m["largest_gain"],
                "honest_rate_change": m["honest_rate_change"],
                "honest_rate_change_vs_twin": h["honest_rate_change"],  # reported, not judged (module docstring)
                "coalition_change_vs_honest_validators": lie.gain,  # what the lie itself does to the coalition
                "honest_validators_coalition_payout_per_seed": m["twin_coalition_payout_per_seed"],
                "garbage_miner_in_consensus": served,
                "garbage_miner_assigned": assigned,
            },
            f"{int(k['count'])} spread-inflating validators ({k['rules']} rules): the lie moved honest pay per unit of work "
            f"{pct(m['largest_drop'])} to {pct(m['largest_gain'])} against every validator honest (against every node honest: "
            f"{pct(h['largest_drop'])} to {pct(h['largest_gain'])}, the garbage miner's forfeit); the coalition's payout "
            f"{pct(gain)} against every node honest ({h['coalition_payout_per_seed'] / COR:,.0f} against "
            f"{h['twin_coalition_payout_per_seed'] / COR:,.0f} COR per seed), {pct(lie.gain)} against the lie's absence; "
            f"its garbage miner was in consensus in {served} of {assigned} assignments ({n} seeds)",
        )


FAMILIES = (SpreadInflation(),)
