"""`cor … --api URL`: the CLI against a real `cor serve` (reads from /v1, commands signed locally and posted)."""

from __future__ import annotations

import json
from decimal import Decimal


def js(p):
    return json.loads(p.stdout)


def test_reads_through_the_api_equal_the_local_reads(cli, served):
    api = ["--api", served]
    for args in (["balance", "alice"], ["node", "list"], ["model", "list"], ["gov", "params"], ["slash", "list"], ["gov", "show"]):
        remote, local = js(cli(*args, "--json", *api)), js(cli(*args, "--json"))
        assert remote == local, args
    quote = ["quote", "--model", "smollm2-135m-instruct", "--input-tokens", "100", "--max-output-tokens", "200", "--json"]
    assert js(cli(*quote, *api)) == js(cli(*quote))
    status = js(cli("status", "--json", *api))
    assert status["chain_id"] == js(cli("status", "--json"))["chain_id"] and status["seq"] == 1


def test_signed_writes_through_the_api_land_in_the_log(cli, served):
    api = ["--api", served]
    before = Decimal(js(cli("balance", "bob", "--json"))["total"])
    r = js(cli("transfer", "--from", "alice", "--to", "bob", "--amount", "12.5", "--json", *api))
    assert r["ok"] and r["kind"] == "transfer" and r["seq"] == 2
    after = Decimal(js(cli("balance", "bob", "--json"))["total"])  # read from the database directly
    assert after - before == Decimal("12.5")
    reg = js(cli("node", "register", "--from", "carol", "--role", "miner", "--self-bond", "1500", "--commission-bps", "500", "--json", *api))
    assert reg["kind"] == "node.register"
    nodes = js(cli("node", "list", "--json", *api))
    assert [n["commission_bps"] for n in nodes] == [500]
    changed = js(cli("node", "commission", "--from", "carol", "--commission-bps", "700", "--json", *api))
    assert changed["kind"] == "node.set_commission" and changed["seq"] == reg["seq"] + 1  # applies from the next epoch
    opened = js(cli("session", "open", "--from", "bob", "--deposit", "5", "--json", *api))
    bob = {k["name"]: k["address"] for k in js(cli("keys", "list", "--json"))}["bob"]
    assert opened["session"] == opened["ids"][0] and js(cli("session", "show", str(opened["session"]), "--json"))["owner"] == bob
    assert js(cli("session", "show", str(opened["session"]), "--json", *api)) == js(cli("session", "show", str(opened["session"]), "--json"))
    # the same key signs with increasing nonces: a second transfer is accepted too
    assert js(cli("transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--json", *api))["seq"] > r["seq"]


def test_api_errors_are_clear_and_change_nothing(cli, served):
    api = ["--api", served]
    p = cli("node", "show", "0x0000000000000000000000000000000000000001", "--json", *api, ok=False)
    assert p.returncode == 3 and js(p)["error"] == "node_not_found"
    p = cli("transfer", "--from", "alice", "--to", "bob", "--amount", "999999999999", "--json", *api, ok=False)
    assert p.returncode == 2 and js(p)["error"] == "insufficient_funds", p.stdout
    p = cli("tick", "--json", *api, ok=False)
    assert p.returncode == 2 and js(p)["error"] == "oracle_local_only"
    p = cli("status", "--json", "--api", "http://127.0.0.1:1", ok=False)
    assert p.returncode == 2 and js(p)["error"] == "api_unreachable" and "Traceback" not in p.stderr
    p = cli("status", "--json", "--api", "ftp://x", ok=False)
    assert js(p)["error"] == "invalid_api_url"
    p = cli("status", "--json", "--api", served, "--db", cli.env["COR_DATABASE_URL"], ok=False)
    assert js(p)["error"] == "db_and_api"
    assert js(cli("status", "--json"))["seq"] == 1  # nothing was appended


def test_cor_api_url_in_the_environment(cli, served):
    cli.env["COR_API_URL"] = served
    cli.env["COR_DATABASE_URL"] = "sqlite:////nonexistent/dir/cor.db"  # not used: the API is
    assert js(cli("balance", "alice", "--json"))["address"]
    assert js(cli("transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--json"))["ok"]
