"""Rule 25's retired listings for users (session 29): a model id retired, pruned and registered again keeps every listing
readable. ``GET /v1/models?state=retired|all`` (``readviews.model_list``, ``archive.models_by_key``) lists each listing
in ``<id>@<registered tick>`` order a page at a time, ``GET /v1/models/{id}`` names every listing of the id
(``listings``) and ``at_tick`` reads the one in force at a tick (``archive.get_model``)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
from cor_incentives.api.app import create_app
from cor_incentives.client import CorClient
from cor_incentives.core.prune import model_key
from support.network import make_network, sha

CARD = {"parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit", "content_hash": sha("w")}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """``re`` listed by bob, retired, pruned; listed by carol as a fine-tune of the bundled model, retired, pruned; listed by
    dave (live). ``re-x`` (its key sorts before ``re@…``: '-' < '@') retired and pruned; ``re.live`` listed."""
    tmp = tmp_path_factory.mktemp("model_listings")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=1, n_validators=1, beacon=False)
    ticks = {}

    def step(who, kind, body):
        eng.submit_as(keys["oracle"], "tick", {"ticks": 3})
        eng.submit_as(keys[who], kind, body)
        return eng.state.tick

    ticks["bob"] = step("bob", "model.register", {**CARD, "id": "re"})
    step("bob", "model.register", {**CARD, "id": "re-x"})
    step("bob", "model.retire", {"model": "re"})
    step("bob", "model.retire", {"model": "re-x"})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    ticks["carol"] = step("carol", "model.register", {**CARD, "id": "re", "parent": BUNDLED_MODEL_ID, "license": "apache-2.0"})
    step("carol", "model.retire", {"model": "re"})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    ticks["dave"] = step("dave", "model.register", {**CARD, "id": "re"})
    step("alice", "model.register", {**CARD, "id": "re.live"})
    assert eng.state.models.keys() == {BUNDLED_MODEL_ID, "re", "re.live"} and eng.state.pruned.count
    client = TestClient(create_app(url))
    yield eng, keys, client, ticks
    eng.store.dispose()


def ok(client, path, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_default_list_is_every_live_model_by_id_as_before(net):
    eng, keys, client, _ = net
    body = ok(client, "/v1/models")
    assert body["state"] == "live" and body["next_after"] is None
    assert [m["id"] for m in body["models"]] == sorted(eng.state.models)
    re = next(m for m in body["models"] if m["id"] == "re")
    assert re["owner"] == keys["dave"].address and re["state"] == "listed"


def test_state_retired_lists_every_retired_listing_of_an_id_oldest_first(net):
    _, keys, client, ticks = net
    body = ok(client, "/v1/models", state="retired")
    rows = [(m["id"], m["owner"], m["registered_tick"], m["state"], m["parent"]) for m in body["models"]]
    assert rows == [
        ("re-x", keys["bob"].address, rows[0][2], "retired", None),  # "re-x@…" < "re@…"
        ("re", keys["bob"].address, ticks["bob"], "retired", None),
        ("re", keys["carol"].address, ticks["carol"], "retired", BUNDLED_MODEL_ID),
    ]
    assert all(m["retired_tick"] is not None for m in body["models"]) and body["next_after"] is None


def test_state_all_merges_live_and_retired_in_key_order_and_pages_walk_it_exactly(net):
    eng, _, client, _ = net
    whole = ok(client, "/v1/models", state="all")["models"]
    keys = [f"{m['id']}@{m['registered_tick']:012d}" for m in whole]
    assert keys == sorted(keys) and len(keys) == len(set(keys)) == len(eng.state.models) + 3
    assert [m["state"] for m in whole if m["id"] == "re"] == ["retired", "retired", "listed"]
    for limit in (1, 2, 4):
        walked, after = [], None
        for _ in range(len(whole) + 1):  # a walk that repeats a key never ends: bounded
            page = ok(client, "/v1/models", state="all", limit=limit, **({"after": after} if after else {}))
            assert len(page["models"]) <= limit
            walked += page["models"]
            after = page["next_after"]
            if after is None:
                break
            assert after == f"{page['models'][-1]['id']}@{page['models'][-1]['registered_tick']:012d}"
        assert after is None and walked == whole
    live = ok(client, "/v1/models", limit=1000)["models"]
    assert [model_key(eng.state.models[m["id"]]) for m in live] == sorted(model_key(m) for m in eng.state.models.values())


def test_show_names_every_listing_and_at_tick_reads_the_one_in_force(net):
    _, keys, client, ticks = net
    newest = ok(client, "/v1/models/re")
    assert newest["owner"] == keys["dave"].address and newest["state"] == "listed"
    assert [(x["owner"], x["registered_tick"]) for x in newest["listings"]] == [(keys[w].address, ticks[w]) for w in ("bob", "carol", "dave")]
    assert [x["retired_tick"] is None for x in newest["listings"]] == [False, False, True]
    for who, tick in [("bob", ticks["bob"]), ("bob", ticks["carol"] - 1), ("carol", ticks["carol"]), ("carol", ticks["dave"] - 1), ("dave", 10**9)]:
        at = ok(client, "/v1/models/re", at_tick=tick)
        assert at["owner"] == keys[who].address, (who, tick)
        assert at["state"] == ("listed" if who == "dave" else "retired") and at["listings"] == newest["listings"]
    assert ok(client, "/v1/models/re", at_tick=ticks["carol"])["parent"] == BUNDLED_MODEL_ID
    early = client.get("/v1/models/re", params={"at_tick": ticks["bob"] - 1})
    assert early.status_code == 404 and early.json()["error"] == "model_not_found"
    alone = ok(client, "/v1/models/re-x")
    assert alone["state"] == "retired" and len(alone["listings"]) == 1


@pytest.mark.parametrize(
    "params",
    [{"state": "gone"}, {"state": "retired", "limit": 0}, {"limit": 1001}, {"after": "RE@1"}, {"after": "re"}, {"after": "re@x"}],
)
def test_a_bad_list_query_is_refused_naming_the_field(net, params):
    _, _, client, _ = net
    r = client.get("/v1/models", params=params)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request", r.text
    assert r.json()["message"].startswith(f"query.{next(iter(params)) if len(params) == 1 else 'limit'}:"), r.text


def test_a_bad_at_tick_is_refused_naming_the_field(net):
    _, _, client, _ = net
    for bad in (-1, "x"):
        r = client.get("/v1/models/re", params={"at_tick": bad})
        assert r.status_code == 422 and r.json()["message"].startswith("query.at_tick:"), r.text


def test_the_client_reads_the_listings(net, monkeypatch):
    eng, keys, client, ticks = net
    with CorClient("http://testserver") as c:
        monkeypatch.setattr(c, "http", client)  # the app in process
        assert [m["id"] for m in c.models()] == sorted(eng.state.models)
        assert [(m["id"], m["owner"]) for m in c.models("retired", limit=2)] == [("re-x", keys["bob"].address), ("re", keys["bob"].address)]
        after_carol = c.models("all", after=f"re@{ticks['carol']:012d}")  # "re.live@…" sorts before "re@…" ('.' < '@')
        assert [(m["id"], m["owner"]) for m in after_carol] == [("re", keys["dave"].address), (BUNDLED_MODEL_ID, keys["modeldev"].address)]
        assert c.model("re", at_tick=ticks["carol"])["owner"] == keys["carol"].address
        assert len(c.model("re")["listings"]) == 3
        monkeypatch.undo()
