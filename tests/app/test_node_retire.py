"""Rule 23 (``RULES_NODE_RETIRE``) with a database: a router that unbonded and withdrew everything leaves the live state
at the next close; ``cor node show``, the API's ``GET /v1/nodes/{addr}`` and the dashboard's node page answer for it from
the record it left in the database (state ``retired``); a command naming it is refused with ``node_not_found``; ``cor
verify`` re-derives ``pruned.hash`` with its record and catches an edit of it; the key registers again as a fresh node."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from cor_incentives.api.app import create_app
from cor_incentives.api.service import ApiService
from cor_incentives.app.archive import nodes_by_address, retired_node
from cor_incentives.app.chooser import node_detail
from cor_incentives.app.verify import verify_store
from cor_incentives.cli.main import app
from cor_incentives.core.errors import EngineError
from cor_incentives.core.prune import NODE, node_key
from cor_incentives.core.state_codec import encode_record, encode_state
from cor_incentives.core.units import COR
from cor_incentives.store import db
from cor_incentives.store.projections import PRUNED_COLLECTION, pruned_key
from support.network import make_network

BOND = 1_000 * COR  # what make_network bonds a router with


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("node_retire")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=1, n_validators=1, beacon=False)
    router = keys["router0"].address
    eng.submit_as(keys["router0"], "stake.unbond", {"amount": str(BOND)})
    for _ in range(eng.state.params.unbonding_period_epochs):
        eng.submit_as(keys["oracle"], "epoch.close", {})
    eng.submit_as(keys["router0"], "stake.withdraw", {})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    yield eng, keys, url, router
    eng.store.dispose()


def test_the_retired_router_is_read_back_from_the_database_by_the_cli_the_api_and_the_dashboard(net):
    eng, _, url, router = net
    state = eng.state
    assert router not in state.nodes
    record = retired_node(state, router)
    assert record is not None and record.id == router and record.stake_total == 0 and record.role == "router"
    detail = node_detail(state, router)
    assert (detail["id"], detail["state"], detail["role"], detail["stake_total"]) == (router, "retired", "router", "0")
    assert detail["positions"] == detail["unbonding"] == detail["slashes"] == [] and detail["delegations"] == {}
    assert detail["registered_tick"] == record.registered_tick and "retired" in detail["warnings"][0]
    runner = CliRunner()
    shown = runner.invoke(app, ["node", "show", router, "--db", url, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == json.loads(json.dumps(detail))
    table = runner.invoke(app, ["node", "show", router, "--db", url])
    assert table.exit_code == 0 and "retired" in table.output, table.output
    unknown = "0x" + "ab" * 20
    missing = runner.invoke(app, ["node", "show", unknown, "--db", url, "--json"])
    assert missing.exit_code != 0 and json.loads(missing.output)["error"] == "node_not_found"
    svc = ApiService.open(url)
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as client:
            r = client.get(f"/v1/nodes/{router}")
            assert r.status_code == 200 and r.json()["state"] == "retired" and r.json()["id"] == router, r.text
            assert client.get(f"/v1/nodes/{unknown}").json()["error"] == "node_not_found"
            page = client.get(f"/nodes/{router}")
            assert page.status_code == 200 and "retired" in page.text
            assert client.get(f"/nodes/{router}?format=json").json()["node"]["state"] == "retired"
    finally:
        svc.engine.store.dispose()


def test_a_command_naming_the_retired_node_is_refused_and_changes_nothing(net):
    eng, keys, _, router = net
    before = encode_state(eng.state)
    for who, kind, body in (
        ("alice", "stake.delegate", {"node": router, "amount": str(COR)}),
        ("router0", "stake.bond", {"amount": str(COR)}),
        ("router0", "node.set_commission", {"commission_bps": 100}),
    ):
        with pytest.raises(EngineError) as exc:
            eng.submit_as(keys[who], kind, body)
        assert exc.value.code == "node_not_found"
        assert encode_state(eng.state) == before


def test_verify_rederives_the_pruned_hash_with_the_node_and_catches_an_edit(net):
    eng, _, _, router = net
    report, _ = verify_store(eng.store)
    assert report.ok, report.errors
    record = retired_node(eng.state, router)
    assert record is not None
    key = pruned_key(NODE, node_key(record))
    row = (db.documents.c.collection == PRUNED_COLLECTION) & (db.documents.c.key == key)
    with eng.store.engine.begin() as conn:
        original = conn.execute(select(db.documents.c.data).where(row)).scalar_one()
        assert json.loads(original)["record"] == json.loads(encode_record(record))
        doc = json.loads(original)
        doc["record"]["reputation_ppb"] = 10**9
        conn.execute(update(db.documents).where(row).values(data=json.dumps(doc)))
    try:
        bad, _ = verify_store(eng.store)
        assert not bad.ok and any(key in m for m in bad.errors) and any("do not hash to the state's" in m for m in bad.errors), bad.errors
    finally:
        with eng.store.engine.begin() as conn:
            conn.execute(update(db.documents).where(row).values(data=original))


def test_the_key_registers_again_and_its_next_retirement_is_a_record_of_its_own(net):
    eng, keys, _, router = net
    first = retired_node(eng.state, router)
    assert first is not None
    eng.submit_as(keys["router0"], "node.register", {"role": "router", "self_bond": str(BOND)})
    live = eng.state.nodes[router]
    assert live.registered_tick > first.registered_tick and node_detail(eng.state, router)["state"] != "retired"
    assert retired_node(eng.state, router) is None  # live again: the live record answers
    assert list(nodes_by_address(eng.state, "retired")) == [] and list(nodes_by_address(eng.state, "all")) == [
        (eng.state.nodes[n], False) for n in sorted(eng.state.nodes)
    ]  # listed live only (cor node list --state)
    eng.submit_as(keys["router0"], "stake.unbond", {"amount": str(BOND)})
    for _ in range(eng.state.params.unbonding_period_epochs):
        eng.submit_as(keys["oracle"], "epoch.close", {})
    eng.submit_as(keys["router0"], "stake.withdraw", {})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    second = retired_node(eng.state, router)
    assert second is not None and second.registered_tick == live.registered_tick  # the newest of the key's two records
    for rows in (1, 2, 200):  # the list gives the key once, its newest record, whichever page boundary the rows fall on
        assert list(eng.state.history.retired_nodes_after(None, rows)) == [second]
    assert list(nodes_by_address(eng.state, "retired")) == [(second, True)]
    report, _ = verify_store(eng.store)
    assert report.ok, report.to_dict()
