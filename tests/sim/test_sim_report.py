"""`simulate` over every built-in scenario (2 epochs, 2 seeds): structure, books, checks, files, determinism.

Which incentive checks the design meets at the defaults (asserted to pass): honest participation pays,
honest ≥ 3 × lazy per task, garbage / mismatched / offline miners lose money, validators that report a
constant guess earn less. Which it does not (asserted to be flagged, with the numbers that show it): token
inflation pays and splitting stake over sybil nodes pays. Copier miners profit on a long-running idle
network only under the rules before the beacon composed network prompts. (Echo validators, validators
that report "perfect" for everything and a 49 % validator coalition are attack families:
tests/sim/test_sim_validators.py.)
"""

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from cor_incentives.core.rules import RULES_NETWORK_PROMPTS
from cor_incentives.sim.report import simulate, to_json, write
from cor_incentives.sim.scenarios import SCENARIOS

EPOCHS, SEEDS = 2, (1, 2)
MEETS = (
    "honest_miners_profit",
    "honest_vs_lazy",
    "garbage_loses",
    "mismatched_loses",
    "offline_unpaid",
    "copier_validators_earn_less",
    "double_claim_pays_once",
)
# echo_validators_earn_less: only validations of network tasks earn emission, so at 2 epochs × 2 seeds the echo
# validators' margin (90.6 % of honest pay at the defaults) is within seed noise; commit-reveal reports remove it


@pytest.fixture(scope="module")
def report():
    return simulate(list(SCENARIOS.values()), epochs=EPOCHS, seeds=SEEDS, workers=2)


def d(text):
    return Decimal(text)


def by_id(report, check_id, scenario=None):
    return next(c for c in report["checks"] if c["id"] == check_id and (scenario is None or c["scenario"] == scenario))


def test_structure_and_books(report):
    assert set(report) == {"tool", "version", "settings", "checks", "scenarios", "attacks", "summary"}
    assert set(report["scenarios"]) == set(SCENARIOS) and report["attacks"] == {}
    listed = {s["name"]: s for s in report["summary"]["scenarios"]}
    assert set(listed) == set(SCENARIOS)
    for name, s in listed.items():
        verdicts = [c["passed"] for c in report["checks"] if c["scenario"] == name]
        assert s["kind"] == "population" and s["checks"] == len(verdicts) and s["passed"] == (all(verdicts) if verdicts else None)
    assert report["summary"]["books_ok"] is True
    for name, s in report["scenarios"].items():
        assert s["books"]["conservation_ok"] and s["books"]["reconciled"] and not s["books"]["errors"], name
        assert s["books"]["epochs_checked"] == EPOCHS * len(SEEDS)
        assert set(s["head_hashes"]) == {str(x) for x in SEEDS}
        assert s["tasks"]["submitted"] == s["tasks"]["settled"] + s["tasks"]["failed"] + s["tasks"]["rejected"] > 0
        for label, st in s["strategies"].items():
            assert label.split(":")[0] in ("miner", "validator", "router") and st["nodes"] > 0
            for metric in (
                "served",
                "in_consensus_rate",
                "fees",
                "network",
                "staking",
                "slashes",
                "costs",
                "earnings",
                "net",
                "earnings_per_task_served",
            ):
                assert set(st["metrics"][metric]) == {"mean", "min", "max"}, (name, label, metric)
            m = st["metrics"]["net"]
            if m["mean"] is not None:
                assert d(m["min"]) <= d(m["mean"]) <= d(m["max"])
            assert len(st["per_epoch"]["earnings"]) == len(st["per_epoch"]["net"]) == EPOCHS
    json.loads(to_json(report))


def verdict_matches_numbers(check_id, r):
    """Recompute each check's verdict from the numbers it reports."""
    m = r["measured"]
    if check_id == "honest_miners_profit":
        return d(m["honest miners"]["net_per_node"]) > 0 and d(m["honest validators"]["net_per_node"]) > 0
    if check_id in ("honest_vs_lazy", "copier_miners_unprofitable", "stitching_copier_unprofitable", "borrowing_copier_unprofitable"):
        other = {"honest_vs_lazy": "lazy", "copier_miners_unprofitable": "copier", "borrowing_copier_unprofitable": "borrower"}.get(
            check_id, "stitcher"
        )
        factor = 10 if other == "borrower" else 3
        h, x = d(m["honest"]["work_earnings_per_task_served"]), d(m[other]["work_earnings_per_task_served"])
        ok = x == 0 or h >= factor * x
        return ok if other == "lazy" else ok and d(m[other]["net_per_node"]) < d(m["honest"]["net_per_node"])
    if check_id in ("garbage_loses", "mismatched_loses"):
        x = m[check_id.split("_")[0]]
        return d(x["net_per_node"]) < 0 and d(x["slashes_per_node"]) >= d(x["earnings_per_node"])
    if check_id == "offline_unpaid":
        return d(m["offline"]["work_earnings_per_node"]) == 0 and d(m["offline"]["net_per_node"]) <= 0
    if check_id == "inflation_unprofitable":
        return m["gain_per_unit_of_true_work"] <= 0.02
    if check_id.endswith("validators_earn_less"):
        x = m["copier"]
        return d(x["work_earnings_per_node"]) < d(m["honest"]["work_earnings_per_node"]) and d(x["net_per_node"]) < d(m["honest"]["net_per_node"])
    if check_id == "collusion_below_half":
        return m["max_abs_rate_change"] <= 0.05
    if check_id == "sybil_no_gain":
        return m["income_change"] <= 0.02
    if check_id == "double_claim_pays_once":
        x, h, twin = m["double_claimer"], m["honest"], m["honest_twin"]
        return (
            d(x["leaves"]) > 0
            and x["received"] == x["leaves"]
            and x["claims_refused"] > 0
            and h["received"] == h["leaves"]
            and twin["received"] == twin["leaves"]
            and m["books_reconcile"]
        )
    raise AssertionError(check_id)


def test_every_check_reports_numbers_and_a_verdict_that_follows_from_them(report):
    expected = {(cid, s.name) for s in SCENARIOS.values() for cid in s.checks}
    assert {(c["id"], c["scenario"]) for c in report["checks"]} == expected
    for c in report["checks"]:
        assert isinstance(c["passed"], bool) and c["criterion"] and any(ch.isdigit() for ch in c["summary"])
        assert c["passed"] == verdict_matches_numbers(c["id"], c), c["id"]
        if not c["passed"]:
            assert c["fix"]
        for r in c.get("remedies", []):
            assert r["label"] and r["passed"] == verdict_matches_numbers(c["id"], r)
    assert report["summary"]["passed"] == sum(c["passed"] for c in report["checks"])


def test_checks_the_design_meets(report):
    for cid in MEETS:
        c = by_id(report, cid)
        assert c["passed"], f"{cid}: {c['summary']}"
    lazy = by_id(report, "honest_vs_lazy")["measured"]
    assert d(lazy["honest"]["work_earnings_per_task_served"]) >= 3 * d(lazy["lazy"]["work_earnings_per_task_served"])


def test_checks_the_design_fails_are_flagged_with_numbers(report):
    # after the core fixes (settled tokens for work, PPS sampling) these gains shrank from +42 % and +35 %;
    # what is left is flagged with its numbers and the remaining cause
    inflation = by_id(report, "inflation_unprofitable")
    assert inflation["measured"]["gain_per_unit_of_true_work"] < 0.2
    assert inflation["passed"] or "token_counts" in inflation["fix"]
    assert inflation["passed"] == (inflation["measured"]["gain_per_unit_of_true_work"] <= 0.02)
    sybil = by_id(report, "sybil_no_gain")
    assert sybil["measured"]["income_change"] < 0.15
    assert sybil["passed"] or "Sampford" in sybil["fix"]
    assert sybil["passed"] == (sybil["measured"]["income_change"] <= 0.02)
    for name in ("colluding_validators_10", "colluding_validators_30"):
        c = by_id(report, "collusion_below_half", name)
        assert c["passed"] == (c["measured"]["max_abs_rate_change"] <= 0.05)
        assert c["passed"] or c["fix"]


def test_copier_miners_lose_once_the_beacon_composes_network_prompts():
    """30 epochs of mostly network tasks. Under rules 1-8 the oracle names each network prompt from the
    bundled set of 300, so most prompts come back and copiers replay the published answers: they profit
    (honest/copier ratio < 3 per task served). From rule 9 the beacon composes each prompt from 2 parts of
    the set (44 850 sets of parts): a handful of repeats per run, and copiers are left with guessing."""
    base = SCENARIOS["copier_miners"]
    rep = simulate([base], seeds=(1,), workers=2)
    (c,) = rep["checks"]
    repeats = rep["scenarios"]["copier_miners"]["tasks"]["network_prompt_repeats"]
    assert c["passed"] and c["measured"]["ratio_per_task_served"] >= 3, c["summary"]
    assert d(c["measured"]["copier"]["net_per_node"]) < 0 < d(c["measured"]["honest"]["net_per_node"])
    assert repeats <= 30  # of 1 050 network tasks; ~12 expected (1 050² / (2 · 44 850) pairs asking the same parts)
    old = replace(base, params={**dict(base.params), "rule_version": RULES_NETWORK_PROMPTS - 1})
    rep = simulate([old], seeds=(1,), workers=2)
    (c,) = rep["checks"]
    assert not c["passed"] and c["measured"]["ratio_per_task_served"] < 3
    assert d(c["measured"]["copier"]["net_per_node"]) > 0 and c["measured"]["copier"]["in_consensus_rate"] > 0.5
    assert rep["scenarios"]["copier_miners"]["tasks"]["network_prompt_repeats"] > 500
    (unique,) = c["remedies"]  # remedies are run for failed checks only
    assert unique["passed"] and unique["env"] == {"network_prompts": "unique"}


def test_files(report, tmp_path):
    some = ("honest_only", "colluding_validators_30", "sybil_split")  # plotting all of them is slow
    part = {**report, "scenarios": {k: report["scenarios"][k] for k in some}}
    files = write(part, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == json.loads(to_json(part))
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(some) and "FAIL" in html and "PASS" in html
    for name in some:
        assert (tmp_path / "out" / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(files) == {"json", "html"}


def test_same_seeds_same_report_whatever_the_workers():
    chosen = [SCENARIOS["lazy_miners"], SCENARIOS["sybil_split"]]
    one = to_json(simulate(chosen, epochs=2, seeds=(5,), workers=1))
    assert to_json(simulate(chosen, epochs=2, seeds=(5,), workers=1)) == one
    assert to_json(simulate(chosen, epochs=2, seeds=(5,), workers=2)) == one
    assert to_json(simulate(chosen, epochs=2, seeds=(6,), workers=1)) != one


def test_a_minority_coalition_cannot_move_honest_pay_from_rule_33():
    """``collusion_below_half`` on ``colluding_validators_10`` at its own settings (10 epochs, seeds 1-5; at this module's
    2 epochs × 2 seeds the seed noise is ±17.9 % and the verdict says nothing). Rules 29-32 failed it: the colluding
    validator dissents on every panel, has no validations to pay for the escalations it provokes, and the honest
    validators they draw did the extra work for ~what the first round left (largest drop −8.4 %). Rule 33
    (``RULES_ESCALATION_FUNDED``) charges what it owes to its self-bond; rule 35 (``RULES_ESCALATION_PRICED``) prices the
    charge at the most a payee is paid (under 33-34: largest drop −1.3 %, largest gain +4.6 %)."""
    rep = simulate([replace(SCENARIOS["colluding_validators_10"], remedies=())], seeds=(1, 2, 3, 4, 5), workers=2)
    (c,) = rep["checks"]
    assert c["passed"] and c["measured"]["max_abs_rate_change"] <= 0.05, c["summary"]
    assert "largest drop -2.5 %, largest gain +3.6 %" in c["summary"]
