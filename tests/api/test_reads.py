"""The public reads over real HTTP, after driving a network through the Python client: nodes,
delegations, a slash, a closed epoch; plus the client's error mapping and the `cor serve` hook."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from cor_incentives.app.signing import sign_scoped
from cor_incentives.client import ApiError, CorClient
from cor_incentives.core.units import COR

MODEL = {
    "id": "smollm2-135m",
    "parameter_count": 135_000_000,
    "quantization": "q8_0",
    "context_length": 2048,
    "license": "apache-2.0",
    "content_hash": "0x" + "cd" * 32,
}


def reader_deadline(client, tid):
    return client.task(tid)["deadline_tick"]


@pytest.fixture(scope="module")
def driven(server, network):
    """alice (1500 COR bond, 5% commission) and faucet: miners of smollm2-135m; carol: validator; bob delegates 1000 to
    alice; dave's task goes to both miners (still before its precommit deadline); alice had signed two different precommits for it and dave
    reports them (equivocation: 10 %, alice jailed, dave paid); epoch 0 closes."""
    k = network.keys
    clients = {n: CorClient(server.base_url, k[n].private_key) for n in ("oracle", "alice", "bob", "carol", "dave", "faucet")}
    clients["faucet"].submit("model.register", MODEL)
    clients["alice"].submit("node.register", {"role": "miner", "self_bond": str(1500 * COR), "commission_bps": 500, "models": [MODEL["id"]]})
    clients["faucet"].submit("node.register", {"role": "miner", "self_bond": str(1000 * COR), "commission_bps": 0, "models": [MODEL["id"]]})
    clients["carol"].submit("node.register", {"role": "validator", "self_bond": str(2500 * COR), "commission_bps": 0, "models": []})
    clients["bob"].delegate(k["alice"].address, 1000 * COR)
    clients["dave"].submit("session.open", {"deposit": str(10 * COR), "redundancy": 2})
    task = clients["dave"].submit(
        "task.submit",
        {"session": 1, "model": MODEL["id"], "prompt_hash": "0x" + "ab" * 32, "prompt_bytes": 40, "input_tokens": 10, "max_output_tokens": 16},
    )
    clients["oracle"].submit("tick", {"ticks": 1})  # the next beacon value draws the task's miners: both of the two
    (t,) = clients["oracle"].tasks()
    tid = t["id"]
    assert {m["miner"] for m in t["miners"]} == {k["alice"].address, k["faucet"].address}
    clients["oracle"].submit("tick", {"ticks": 1})  # within the precommit deadline (the close below passes it: both miss it)
    assert reader_deadline(clients["oracle"], tid) > 2
    pair = [sign_scoped(k["alice"].private_key, network.chain_id, f"task:{tid}:precommit", "0x" + c * 64) for c in "ab"]
    slash = clients["dave"].submit("slash.report", {"node": k["alice"].address, "offence": "equivocation", "evidence": {"messages": pair}})
    close = clients["oracle"].submit("epoch.close", {})
    yield {"clients": clients, "slash": slash, "close": close, "task": task, "tid": tid, "pair": pair}
    for c in clients.values():
        c.close()


@pytest.fixture
def reader(server):
    with CorClient(server.base_url) as c:
        yield c


def test_status(driven, reader, network):
    s = reader.status()
    assert s["chain_id"] == network.chain_id and s["epoch"] == 1 and s["epochs_closed"] == 1
    assert s["supply"] == "1000000000" and s["supply_units"] == str(10**9 * COR)
    assert s["nodes"]["miner"]["registered"] == 2 and s["nodes"]["miner"]["jailed"] == 1
    assert s["nodes"]["validator"]["registered"] == 1 and s["slashes"] == 3  # alice's equivocation; both miners' missed precommit
    assert set(s["pools"]) >= {"pool:network_incentives", "pool:staking"}


def test_nodes_and_node_detail(driven, reader, network):
    alice, bob = network.keys["alice"].address, network.keys["bob"].address
    nodes = {n["id"]: n for n in reader.nodes()}
    assert set(nodes) == {alice, network.keys["faucet"].address, network.keys["carol"].address}
    assert nodes[alice]["state"] == "jailed" and nodes[alice]["commission_bps"] == 500 and nodes[alice]["models"] == ["smollm2-135m"]
    assert [n["id"] for n in reader.nodes(role="validator")] == [network.keys["carol"].address]
    detail = reader.node(alice.upper().replace("0X", "0x"))
    assert detail["delegations"] == {bob: "899.6"}  # 1000 - 10% (equivocation), then 900/2250 of the 1 COR missed deadline
    assert [x["offence"] for x in detail["slashes"]] == ["equivocation", "missed_deadline"]
    # the stake × time of the epoch that began at the close, counted up to now
    elapsed = reader.status()["tick"] - reader.epoch(0)["end_tick"]
    assert detail["stake_epoch"] == 1 and detail["stake_ticks_units"] == str(2249 * COR * elapsed)
    assert [(p["address"], p["kind"], p["stake"], p["stake_ticks_units"]) for p in detail["positions"]] == [
        (alice, "self_bond", "1349.4", str(13494 * COR // 10 * elapsed)),
        (bob, "delegation", "899.6", str(8996 * COR // 10 * elapsed)),
    ]
    assert detail["unbonding"] == [] and detail["commission_next_bps"] is None and detail["registered_tick"] == 0


def test_slashes(driven, reader, network):
    slashes = reader.slashes()
    [s] = [x for x in slashes if x["offence"] == "equivocation"]
    missed = {x["node"]: x for x in slashes if x["offence"] == "missed_deadline"}
    assert set(missed) == {network.keys["alice"].address, network.keys["faucet"].address} and len(slashes) == 3
    for m in missed.values():  # a fixed 1 COR (10 bps of the miner minimum), found by the core, dated at the task's creation
        assert (m["penalty"], m["total"], m["reporter"], m["evidence"], m["offence_tick"]) == ("1", "1", None, {"task": driven["tid"]}, 0)
    assert s["node"] == network.keys["alice"].address and s["reporter"] == network.keys["dave"].address
    # 10% of 1500 + 1000; the reporter's share is 10% of alice's own piece (150), not of bob's (rule 29)
    assert s["total"] == "250" and s["to_reporter"] == "15" and s["burned"] == "125" and s["to_treasury"] == "110"
    assert s["by_account"] == {f"bonded:{s['node']}": "150", f"delegated:{s['node']}:{network.keys['bob'].address}": "100"}
    assert s["evidence"] == {"messages": driven["pair"]} and s["evidence_hash"].startswith("0x") and s["offence_tick"] == 0


def test_epoch(driven, reader):
    e = reader.epoch(0)
    assert e["epoch"] == 0 and e["start_tick"] == 0 and e["end_tick"] >= 2
    assert isinstance(e["totals"], dict) and (e["root"] is None or e["root"].startswith("0x"))
    with pytest.raises(ApiError) as err:
        reader.epoch(1)
    assert err.value.code == "epoch_not_found" and err.value.status == 404


def test_balance_with_stake_and_unbonding(driven, reader, network):
    bob, alice = network.keys["bob"].address, network.keys["alice"].address
    b = reader.balance(bob)
    assert b["accounts"][f"delegated:{alice}:{bob}"] == "899.6"
    assert b["accounts_units"][f"delegated:{alice}:{bob}"] == str(8996 * COR // 10)
    assert b["nonce"] == 1
    a = reader.balance(alice)
    assert a["accounts"][f"bonded:{alice}"] == "1349.4"


def test_client_errors(driven, server, network):
    with CorClient(server.base_url, network.keys["bob"].private_key) as bob:
        with pytest.raises(ApiError) as err:
            bob.submit("transfer", {"to": network.keys["alice"].address, "amount": str(10**9 * COR)})
        assert (err.value.code, err.value.status) == ("insufficient_funds", 409)
        with pytest.raises(ApiError) as err:
            bob.submit("transfer", {"to": network.keys["alice"].address, "amount": "1"}, nonce=1)
        assert err.value.code == "nonce_already_used" and "nonce" in err.value.message
        with pytest.raises(ApiError) as err:
            bob.node("0x" + "77" * 20)
        assert (err.value.code, err.value.status) == ("node_not_found", 404)
        with pytest.raises(ApiError) as err:
            bob.balance("not-an-address")
        assert (err.value.code, err.value.status) == ("invalid_request", 422)
        r = bob.transfer(network.keys["alice"].address, 2 * COR)
        assert r["kind"] == "transfer" and r["actor"] == network.keys["bob"].address
    with CorClient(server.base_url) as anonymous:
        with pytest.raises(ValueError):
            anonymous.submit("transfer", {})
        events = anonymous.all_events(page=4)
        assert [e["seq"] for e in events] == list(range(len(events))) and events[-1]["seq"] == anonymous.status()["seq"]
        report = anonymous.verify()
        assert report["events"] == len(events) and report["hash_chain"] and report["signatures"] and report["conservation"]
        assert "cor_events_total" in anonymous.metrics()


def test_serve_registers_on_a_typer_app():
    from cor_incentives.cli.serve import register

    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--workers"):
        assert option in result.output
