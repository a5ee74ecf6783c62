"""The eleven attacks milestone 2 names (issue "Rewards only for useful work"), each a `cor simulate` scenario with a
check against its honest twin: run through the CLI at the default parameters and each scenario's own seeds, every
one must be listed with ``passed`` true, over at least 5 seeds, with the books (conservation, statements = ledger)
holding in both worlds. This test fails if any of their checks fails at the defaults.

Six of the eleven are run at the defaults by the tests of their own family, which assert the same (``passed``, which an
attack has only when the books of every run hold, and at least 5 seeds; for the population scenario ``sybil_split``, its
one check passed and its books held on every seed; ``collusion_49`` as ``cor simulate`` runs it, 1-20 seeds while
undecided), so this test does not run them a second time (the suite's time is what the CI allows): ``ELSEWHERE`` names
where."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cor_incentives.cli.main import app

ISSUE_ATTACKS = (
    "wash_trading",
    "model_tier_farming",
    "declared_tokens",
    "assignment_grinding",
    "cancel_lottery",
    "echo_validator",
    "max_reporter",
    "copier_miners",
    "collusion_49",
    "sybil_split",
    "token_inflation",
)
ELSEWHERE = {
    "assignment_grinding": "tests/sim/test_sim_assignment.py::test_assignment_grinding_is_stopped_at_the_defaults",
    "cancel_lottery": "tests/sim/test_sim_assignment.py::test_cancel_lottery_is_stopped_at_the_defaults",
    "echo_validator": "tests/sim/test_sim_validators.py::test_every_validator_attack_is_stopped_at_the_defaults_over_five_seeds",
    "max_reporter": "tests/sim/test_sim_validators.py::test_every_validator_attack_is_stopped_at_the_defaults_over_five_seeds",
    "sybil_split": "tests/sim/test_sim_assignment.py::test_sybil_split_gains_nothing_over_5_seeds",
    "collusion_49": "tests/sim/test_sim_validators.py::test_collusion_49_passes_as_cor_simulate_judges_it",
}
ISSUE_SCENARIOS = tuple(name for name in ISSUE_ATTACKS if name not in ELSEWHERE)


def test_the_attacks_run_elsewhere_are_run_there_at_the_defaults():
    """Each attack this test leaves out is named, at the defaults, in the test ``ELSEWHERE`` points to."""
    root = Path(__file__).resolve().parents[2]
    for name, where in ELSEWHERE.items():
        path, test = where.split("::")
        source = (root / path).read_text()
        assert f"def {test}(" in source and f'"{name}"' in source, where


def test_every_attack_the_issue_names_passes_at_the_defaults_over_five_seeds(tmp_path):
    out = tmp_path / "sim"
    r = CliRunner().invoke(app, ["simulate", "--scenario", ",".join(ISSUE_SCENARIOS), "--workers", "2", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    listed = {s["name"]: s for s in json.loads(r.stdout)["scenarios"]}
    assert set(listed) == set(ISSUE_SCENARIOS)
    failed = {name: s for name, s in listed.items() if s["passed"] is not True or s["checks"] < 1}
    assert not failed, failed
    report = json.loads((out / "report.json").read_text())
    for name in ISSUE_SCENARIOS:
        if name in report["attacks"]:
            a = report["attacks"][name]
            seeds, books_hold = a["seeds"], a["books"]["ok"] and not a["books"]["errors"]
        else:
            s = report["scenarios"][name]
            b = s["books"]
            seeds, books_hold = list(s["head_hashes"]), b["conservation_ok"] and b["reconciled"] and not b["errors"]
        assert len(seeds) >= 5, (name, seeds)
        assert books_hold, (name, report["attacks"].get(name, report["scenarios"].get(name, {})).get("books"))
