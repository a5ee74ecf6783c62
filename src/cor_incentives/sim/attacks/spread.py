"""A validator coalition that inflates the task's spread to loosen the PoI threshold for its garbage miner.

spread_inflation  validator-00..(count−1) (49 % of validator stake at count 5) and miner-00, a garbage miner, form a
                  coalition. The validators evaluate and report honestly except for miner-00: its measured
                  (raw) distance, quality ``quality_ppb`` (default 1.0), and a task spread of ``spread_ppb``
                  (default 2.0, the largest), so that the core's threshold max(poi_max_distance_ppb,
                  min(poi_spread_cap_ppb, median spread × poi_spread_factor_bps // 10 000)) would reach the cap
                  and let the garbage output (0.9-1.1 from any other) in. ``rules`` "before_spread" runs the rules
                  before the spread rule (12), where the coalition does the same loosening itself: its garbage
                  miner's distances less poi_spread_cap_ppb − poi_max_distance_ppb.
                  Stopped when no honest miner's or validator's pay per unit of useful work moves by more than
                  5 % against the twin and the coalition (its validators and its miner) does not gain.
                  gain = the coalition's payout change ÷ its payout in the twin.

The twin is the same population with every node honest (miner-00 computes the answer), on the same seeds.
"""

from __future__ import annotations

from typing import Any

from ...core.rules import RULES_TASK_SPREAD
from ..runner import RunResult
from ..scenarios import ROUTER, Scenario, miners, validators
from ..script import ActorScript
from .base import Family, Knob, Knobs, Verdict
from .validators import COR, PPB, Collusion49, _pct


class SpreadInflation(Family):
    name = "spread_inflation"
    title = "A minority coalition cannot loosen the PoI threshold by inflating the task's spread"
    criterion = (
        "a coalition below half of validator stake that reports the largest spread (and a perfect quality for its garbage miner) "
        "moves no honest node's pay per unit of useful work by more than 5 % against the honest twin, and does not gain"
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
        Knob("rules", "spread", "the rules: the spread rule in the core, or the rules before it", choices=("spread", "before_spread")),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        options = {"spread": int(k["spread_ppb"]) / PPB, "quality": int(k["quality_ppb"]) / PPB}
        params = {} if k["rules"] == "spread" else {"rule_version": RULES_TASK_SPREAD - 1}
        s = Scenario(
            self.name,
            miners(("garbage", 1), ("honest", 9), coalition_first="c") + validators("spread_inflater", int(k["count"]), "c", options) + ROUTER,
            self.description,
            params=params,
            epochs=int(k["epochs"]),
        )
        return s.honest_twin() if twin else s

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return ActorScript()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        facts = Collusion49().measure(k, result, script, twin)
        facts["miner00_in_consensus"] = sum(e["miner-00"].in_consensus for e in result.epochs if "miner-00" in e)
        return facts

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        base = Collusion49().judge({"count": k["count"], "when": "always"}, attack, twin)
        n = max(1, len(attack))
        m = base.measured
        served = sum(r["miner00_in_consensus"] for r in attack)  # its garbage outputs let into consensus
        assigned = sum(r["nodes"].get("miner-00", {}).get("assigned", 0) for r in attack)
        return Verdict(
            base.gain,
            base.passed,
            {**m, "garbage_miner_in_consensus": served, "garbage_miner_assigned": assigned},
            f"{int(k['count'])} spread-inflating validators ({k['rules']} rules): honest pay per unit of work moved "
            f"{_pct(m['largest_drop'])} to {_pct(m['largest_gain'])}; the coalition's payout {_pct(base.gain)} "
            f"({m['coalition_payout_per_seed'] / COR:,.0f} against {m['twin_coalition_payout_per_seed'] / COR:,.0f} COR per seed); "
            f"its garbage miner was in consensus in {served} of {assigned} assignments ({n} seeds)",
        )


FAMILIES = (SpreadInflation(),)
