"""`cor status` says how far the engine checked the log it loaded (hash chain, stored columns,
replay), and which rules the network runs; through the console script on a real SQLite file."""

from cor_incentives.core.rules import LATEST
from support.cli import j


def test_status_shows_how_far_the_chain_was_checked_and_the_rules(cli):
    j(cli("init", "--seed", "chk", "--json"))
    cli("tick", "--ticks", "3")
    status = j(cli("status", "--json"))
    chain = status["chain"]
    assert chain["checked_to_seq"] == chain["head_seq"] == status["seq"] > 1 and chain["complete"] is True
    shown = cli("status").stdout
    assert f"from genesis to seq {status['seq']}" in shown and "checked" in shown
    params = j(cli("gov", "params", "--json"))
    entry = next(p for p in params["schema"] if p["name"] == "rule_version")
    assert entry["min"] == 1 and entry["max"] == LATEST and entry["source"]
    assert params["in_force"]["rule_version"] == LATEST  # a new network runs the newest rules
