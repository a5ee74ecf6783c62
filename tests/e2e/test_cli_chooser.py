"""`cor node list --sort`, `cor node show`, `cor estimate`, `cor slash show` and the delegator's warnings, locally and through
`--api` against a real `cor serve`, on the seeded scenario (two closed epochs, a slashed and jailed miner with a delegator)."""

from __future__ import annotations

import json

import pytest

from support.scenario import run_scenario
from support.server import start_server, stop_server


def js(p):
    return json.loads(p.stdout)


@pytest.fixture
def scenario_served(cli, tmp_path):
    eng = run_scenario(cli.env["COR_DATABASE_URL"], tmp_path / "keys")
    state = eng.state
    eng.store.engine.dispose()
    server = start_server(cli.env["COR_DATABASE_URL"], tmp_path / "serve.log")
    yield server.base_url, state
    stop_server(server)


def test_the_node_chooser_estimator_and_slash_links_through_the_cli_and_the_api(cli, scenario_served):
    served, state = scenario_served
    api = ["--api", served]
    ranked = js(cli("node", "list", "--sort", "yield", "--json", *api))
    assert ranked == js(cli("node", "list", "--sort", "yield", "--json"))
    assert [n["delegator_yield_ppb"] for n in ranked] == sorted((n["delegator_yield_ppb"] for n in ranked), reverse=True)
    jailed = [n for n in ranked if n["jailed"]]
    assert jailed and all(any("jailed until tick" in w for w in n["warnings"]) for n in jailed)
    table = cli("node", "list", "--sort", "consensus")
    assert "delegator APR" in table.stdout and "⚠ jailed" in table.stdout and "warning" in table.stderr

    node = next(n["id"] for n in jailed if state.nodes[n["id"]].delegators)
    shown = js(cli("node", "show", node, "--json", *api))
    assert shown == js(cli("node", "show", node, "--json"))
    assert {o["offence"] for o in shown["offences"]} == {"missed_deadline", "poi_divergence", "validator_deviation"}
    human = cli("node", "show", node)
    assert "offence counters" in human.stdout and "missed_deadline" in human.stdout and "jailed until tick" in human.stderr

    sid = shown["slashes"][0]["id"]
    slash = js(cli("slash", "show", str(sid), "--json", *api))
    assert slash == js(cli("slash", "show", str(sid), "--json")) and slash["node"] == node and slash["evidence_hash"]
    delegator = sorted(state.nodes[node].delegators)[0]
    rewards = cli("rewards", delegator)
    assert f"node {node} is jailed" in rewards.stderr
    statement = js(cli("statement", delegator, "--epoch", str(max(state.epochs)), "--json", *api))
    lines = [i for i in statement["items"] if i["stream"] == "slash"]
    assert lines and lines[0]["slash"]["id"] == sid and statement["warnings"]
    assert f"cor slash show {sid}" in cli("statement", delegator, "--epoch", str(max(state.epochs))).stdout

    free = next(n for n in ranked if not n["jailed"] and n["role"] == "validator")["id"]
    est = js(cli("estimate", "--delegate", free, "--amount", "1000", "--json", *api))
    assert est == js(cli("estimate", "--delegate", free, "--amount", "1000", "--json"))
    assert est["kind"] == "delegation" and int(est["per_epoch_units"]["total"]) > 0 and est["assumptions"]
    text = cli("estimate", "--role", "miner", "--self-bond", "5000").stdout
    assert "expected COR per epoch" in text and "assumptions" in text and "per year" in text

    reg = js(cli("node", "register", "--from", "dave", "--role", "miner", "--self-bond", "2000", "--model", "ghost-7b", "--json", *api))
    assert reg["ok"] and any("'ghost-7b' is not registered in the marketplace" in w for w in reg["warnings"])

    for args, code in (
        (["node", "list", "--sort", "fame"], "invalid_sort"),
        (["estimate"], "invalid_estimate"),
        (["estimate", "--role", "miner", "--self-bond", "10"], "below_min_self_bond"),
        (["slash", "show", "999999"], "slash_not_found"),
    ):
        for mode in ([], api):
            p = cli(*args, "--json", *mode, ok=False)
            assert p.returncode != 0 and js(p)["error"] == code and "Traceback" not in p.stderr, (args, mode, p.stdout, p.stderr)
    p = cli("estimate", "--role", "miner", "--self-bond", "10", "--json", ok=False)
    assert "10 COR" in js(p)["message"]
