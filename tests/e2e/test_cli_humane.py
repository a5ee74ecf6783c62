"""Human output: --version, tables without Python repr and at full width when piped, decimal scores, one commission flag."""

from __future__ import annotations

import json

import pytest

from cor_incentives.cli.common import cell, fraction_ppb
from cor_incentives.core.errors import InvalidInput


def test_cells_read_as_text_not_python_repr():
    assert cell(None) == "" and cell(True) == "yes" and cell(False) == "no"
    assert cell({"0xab": "1000", "0xcd": "2.5"}) == "0xab: 1000\n0xcd: 2.5"
    assert cell([{"id": 7, "offence": "missed_deadline"}]) == '{"id": 7, "offence": "missed_deadline"}'
    assert cell([]) == "" and cell({}) == "" and cell(12) == "12"


@pytest.mark.parametrize(("text", "ppb"), [("0.8", 800_000_000), ("1", 10**9), (".25", 250_000_000), ("0", 0), ("0.123456789", 123_456_789)])
def test_scores_as_decimal_fractions_exactly(text, ppb):
    assert fraction_ppb(text, "--score") == ppb


@pytest.mark.parametrize("text", ["1.5", "-0.1", "0.1234567891", "abc", "", ".", "1e-1", "٠.5", "0,5"])
def test_bad_scores_are_refused(text):
    with pytest.raises(InvalidInput) as err:
        fraction_ppb(text, "--score")
    assert err.value.code == "invalid_score"


def test_version_and_full_width_tables_when_piped(cli):
    p = cli("--version")
    assert p.stdout.startswith("cor ") and p.stdout.split()[1][0].isdigit()
    cli("init", "--seed", "humane")
    cli("node", "register", "--from", "alice", "--role", "validator", "--self-bond", "20000", "--commission-bps", "500")
    cli("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "1000")
    env = {k: v for k, v in cli.env.items() if k != "COLUMNS"}
    cli.env.clear()
    cli.env.update(env)
    out = cli("node", "show", "alice").stdout  # piped: no terminal
    bob = {k["name"]: k["address"] for k in json.loads(cli("keys", "list", "--json").stdout)}["bob"]
    assert any(bob in line and " 1000 " in line for line in out.splitlines())  # whole addresses, not cut at 80 columns
    assert "None" not in out and "{" not in out and "[]" not in out and "…" not in out  # no Python repr, nothing elided
    # one flag name for the commission; the old one still works, hidden from help
    assert json.loads(cli("node", "commission", "--from", "alice", "--commission-bps", "600", "--json").stdout)["ok"]
    cli("node", "register", "--from", "dave", "--role", "validator", "--self-bond", "20000", "--commission-bps", "500")
    assert json.loads(cli("node", "commission", "--from", "dave", "--bps", "650", "--json").stdout)["ok"]
    assert "--bps" not in cli("node", "commission", "--help").stdout
    p = cli("node", "commission", "--from", "alice", "--json", ok=False)
    assert json.loads(p.stdout)["error"] == "invalid_commission"
    # amounts in COR in error messages
    p = cli("node", "register", "--from", "carol", "--role", "miner", "--self-bond", "10", "--json", ok=False)
    assert json.loads(p.stdout)["message"] == "self-bond 10 COR is below the miner minimum 1000 COR"


def test_tables_name_the_addresses_of_local_keys(cli):
    cli("init", "--seed", "names")
    cli("node", "register", "--from", "alice", "--role", "validator", "--self-bond", "20000")
    alice = {k["name"]: k["address"] for k in json.loads(cli("keys", "list", "--json").stdout)}["alice"]
    listed = cli("node", "list").stdout
    assert f"{alice} (alice)" in listed
    assert json.loads(cli("node", "list", "--json").stdout)[0]["id"] == alice  # JSON keeps the bare address
