"""Rule 25 (``RULES_MODEL_BOND``) with a database: a retired model that left the live state is read back from the
database by the API's ``GET /v1/models/{id}`` (app/archive.py ``get_model``), ``cor verify`` re-derives ``pruned.hash``
with its record and catches an edit of it, commands naming it are refused, and the auditor's bundle fetches a retired
model that an epoch's tasks name (``auditor._models_in_force``)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cor_incentives.api.app import create_app
from cor_incentives.app import views
from cor_incentives.app.archive import get_model
from cor_incentives.app.verify import verify_store
from cor_incentives.auditor import _models_in_force
from cor_incentives.core.errors import EngineError
from cor_incentives.core.prune import MODEL, model_key
from cor_incentives.core.state_codec import encode_record, encode_state
from cor_incentives.core.units import COR
from cor_incentives.store import db
from cor_incentives.store.projections import PRUNED_COLLECTION, pruned_key
from support.network import make_network, sha

CARD = {"id": "bob-tiny", "parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit", "content_hash": sha("w")}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("model_retire")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=1, n_validators=1, beacon=False)
    eng.submit_as(keys["bob"], "model.register", CARD)
    eng.submit_as(keys["bob"], "model.retire", {"model": "bob-tiny"})
    model = eng.state.models["bob-tiny"]
    whole, record = views.model(model, eng.state.params), encode_record(model)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    yield eng, keys, url, model, whole, record
    eng.store.dispose()


def test_the_retired_model_left_the_state_and_the_api_reads_it_from_the_database(net):
    eng, _, url, model, whole, record = net
    assert "bob-tiny" not in eng.state.models and len(eng.state.models) == 1  # the bundled model stays
    assert encode_record(get_model(eng.state, "bob-tiny")) == record
    client = TestClient(create_app(url))
    r = client.get("/v1/models/bob-tiny")
    assert r.status_code == 200, r.text
    listing = {"registered_tick": model.registered_tick, "retired_tick": model.retired_tick, "owner": model.owner}
    assert r.json() == {**json.loads(json.dumps(whole)), "state": "retired", "listings": [listing]} and whole["retired_tick"] is not None
    live = client.get(f"/v1/models/{next(iter(eng.state.models))}").json()
    assert live["state"] == "listed" and live["retired_tick"] is None
    assert client.get("/v1/models/nothing").status_code == 404
    assert "bob-tiny" not in [m["id"] for m in client.get("/v1/models").json()["models"]]


def test_commands_naming_the_retired_model_are_refused_and_change_nothing(net):
    eng, keys, *_ = net
    before = encode_state(eng.state)
    for who, kind, body, code in [
        ("bob", "model.retire", {"model": "bob-tiny"}, "model_not_found"),
        ("carol", "model.register", {**CARD, "id": "ft", "parent": "bob-tiny"}, "model_not_found"),
        ("bob", "session.open", {"deposit": "0"}, "session_deposit_below_minimum"),
    ]:
        with pytest.raises(EngineError) as exc:
            eng.submit_as(keys[who], kind, body)
        assert exc.value.code == code
        assert encode_state(eng.state) == before


def test_an_unfunded_listing_is_refused_409(net):
    eng, keys, *_ = net
    fresh = keys["miner0"]  # its wallet after the self-bond is what the faucet sent less the bond
    before = encode_state(eng.state)
    broke = eng.state.ledger.balance(f"wallet:{fresh.address}")
    eng.submit_as(fresh, "transfer", {"to": keys["dave"].address, "amount": str(broke)}) if broke else None
    before = encode_state(eng.state)
    with pytest.raises(EngineError) as exc:
        eng.submit_as(fresh, "model.register", {**CARD, "id": "spam"})
    assert exc.value.code == "model_deposit_unfunded" and exc.value.http_status == 409
    assert exc.value.to_dict()["details"] == {"deposit": str(10 * COR), "balance": "0"}
    assert encode_state(eng.state) == before


def test_verify_rederives_the_pruned_hash_with_the_model_and_catches_an_edit(net):
    eng, _, _, model, *_ = net
    report, _ = verify_store(eng.store)
    assert report.ok, report.to_dict()
    key = pruned_key(MODEL, model_key(model))
    with eng.store.engine.begin() as conn:
        original = conn.execute(
            select(db.documents.c.data).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key)
        ).scalar_one()
        doc = json.loads(original)
        doc["record"]["owner"] = "0x" + "00" * 20
        conn.execute(
            update(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key).values(data=json.dumps(doc))
        )
    try:
        bad, _ = verify_store(eng.store)
        assert not bad.ok and any(key in m for m in bad.errors), bad.errors
    finally:
        with eng.store.engine.begin() as conn:
            conn.execute(update(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key).values(data=original))


def test_the_auditor_fetches_a_retired_model_an_epochs_tasks_name_and_its_parent():
    served = {
        "/v1/models/ft?at_tick=5": {"id": "ft", "parent": "base", "registered_tick": 1},
        "/v1/models/base?at_tick=5": {"id": "base", "parent": None, "registered_tick": 0},
        "/v1/models/again?at_tick=7": {"id": "again", "parent": None, "registered_tick": 2},
    }
    asked: list[str] = []

    def get(path: str):
        asked.append(path)
        if path not in served:
            raise LookupError(path)
        return served[path]

    listed = {"live": {"id": "live", "parent": None, "registered_tick": 3}, "again": {"id": "again", "parent": "live", "registered_tick": 9}}
    named = [("live", 4), ("ft", 5), ("ft", 5), ("gone", 6), ("again", 7)]
    assert _models_in_force(get, named, listed) == {
        "ft": served["/v1/models/ft?at_tick=5"],
        "base": served["/v1/models/base?at_tick=5"],
        "again": served["/v1/models/again?at_tick=7"],  # the live card was registered after the task: an earlier listing
    }
    # each once; a live card registered by the task's tick never
    assert asked == ["/v1/models/ft?at_tick=5", "/v1/models/gone?at_tick=6", "/v1/models/again?at_tick=7", "/v1/models/base?at_tick=5"]
