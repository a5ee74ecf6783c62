"""`cor simulate` through Typer: one JSON document with --json, files written, clear errors."""

import json

import typer
from typer.testing import CliRunner

from cor_incentives.cli.simulate import register


def app():
    a = typer.Typer()

    @a.callback()
    def main() -> None:
        """cor (test harness)"""

    register(a)
    return a


def test_simulate_json_prints_one_document_and_writes_the_report(tmp_path):
    out = tmp_path / "sim"
    res = CliRunner().invoke(
        app(),
        ["simulate", "--scenario", "garbage_miners,sybil_split", "--seeds", "1", "--epochs", "1", "--out", str(out), "--workers", "1", "--json"],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["ok"] and data["summary"]["books_ok"] and data["files"]["html"].endswith("report.html")
    assert {c["id"] for c in data["checks"]} == {"garbage_loses", "sybil_no_gain"}
    assert json.loads((out / "report.json").read_text())["settings"] == {"seeds": [1], "epochs": 1}
    assert (out / "plots" / "sybil_split.png").exists()


def test_simulate_human_output_and_scenario_file(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('extends = "honest_only"\nname = "quick"\nepochs = 1\nseeds = [2]\nuser_tasks_per_epoch = 4\nnetwork_tasks_per_epoch = 4\n')
    res = CliRunner().invoke(app(), ["simulate", "--file", str(f), "--out", str(tmp_path / "o"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "honest_miners_profit" in res.output and "report:" in res.output


def test_simulate_refuses_unknown_scenario_and_bad_options(tmp_path):
    res = CliRunner().invoke(app(), ["simulate", "--scenario", "nope", "--json", "--out", str(tmp_path)])
    assert res.exit_code == 2 and json.loads(res.stdout)["error"] == "unknown_scenario"
    res = CliRunner().invoke(app(), ["simulate", "--epochs", "0", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "epochs" in res.output
