"""The eleven attacks milestone 2 names (issue "Rewards only for useful work"), each a `cor simulate` scenario with a
check against its honest twin: run through the CLI at the default parameters and each scenario's own seeds, every
one must be listed with ``passed`` true, over at least 5 seeds, with the books (conservation, statements = ledger)
holding in both worlds. This test fails if any of their checks fails at the defaults."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cor_incentives.cli.main import app

ISSUE_SCENARIOS = (
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
