"""Attack canary_unopened (sim/attacks/planting.py): the oracle plants at a miner and never opens the commitment.

Stopped by rule 36 (``RULES_UNOPENED_CANARY``: docs/rewards.md, "Canaries"): a task whose canary commitment is left
unopened judges none of its miners out of consensus, so the miner that revealed the planted output as it was told is not
slashed and its reputation does not fall. Under rule 35 (knob rules=before_unopened_canary) the task settled as no canary
and the planted output was judged as the miner's own. Both worlds run seeds 1-5 of the family's defaults (miner-00 is the
target; the twin's oracle opens every canary).
"""

from cor_incentives.sim.attacks import Attack, evaluate

SEEDS = (1, 2, 3, 4, 5)
COR = 10**18


def _check_common(r):
    m = r["measured"]
    assert r["books"]["ok"], r["books"]
    # the oracle left every instruction to the target unopened, and the twin opened every one
    assert m["asks"] >= 10 and m["unopened"] == m["asks"]
    assert m["twin_asks"] >= 10 and m["twin_slashes"] == 0
    return m


def test_an_unopened_canary_slashes_no_planter_under_rule_36():
    r = evaluate(Attack("canary_unopened", "canary_unopened"), seeds=SEEDS, workers=2)
    m = _check_common(r)
    assert r["passed"] and r["gain"] == 0 and m["slashes"] == 0
    # the tasks left in AUDITING past the deadline say so (a few asks end before AUDITING or with the run)
    assert m["asks"] - 2 * len(SEEDS) <= m["canaries_unopened"] <= m["asks"] and m["twin_canaries_unopened"] == 0
    assert r["verdict"] == "stopped"  # every seed passes, so every resample of them does (an exact family here)
    # an unopened task leaves the target's reputation where an opened one does: within noise of the twin
    assert abs(m["target_mean_reputation_ppb"] - m["twin_target_mean_reputation_ppb"]) < 0.03 * 10**9


def test_an_unopened_canary_slashed_its_planter_under_rule_35():
    r = evaluate(Attack("canary_unopened_35", "canary_unopened", {"rules": "before_unopened_canary"}), seeds=SEEDS, workers=2)
    m = _check_common(r)
    assert not r["passed"] and m["slashes"] >= 5 and int(m["slashed"]) == m["slashes"] * 10 * COR
    assert m["canaries_unopened"] == 0  # rule 35 has no such outcome: the tasks settled as no canary
    assert r["gain"] > 1  # COR slashed per instruction: measured 4.6 (seeds 1-5)
    # judged on the planted output: its reputation falls below the twin's
    assert m["target_mean_reputation_ppb"] < m["twin_target_mean_reputation_ppb"] - 0.03 * 10**9
