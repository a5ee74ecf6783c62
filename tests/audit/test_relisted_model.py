"""The outside auditor on an epoch whose model was retired and its id registered again (rule 25, session 29): the tasks
of epoch 0 ran on the bundled model, listed by modeldev with no parent; after it retired and left the live state, carol
registers the same id as a fine-tune of bob's ``base``. Auditing epoch 0 must read the listing in force at each task's
created tick (``GET /v1/models/{id}?at_tick=``, ``auditor._models_in_force``), both over the API and in-process
(``published_getter``: ``cor audit --db``); the newest card would expect a parent royalty that was never paid."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cor_incentives import auditor
from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
from cor_incentives.api.app import create_app
from cor_incentives.app.published import published_getter
from support.network import make_network, sha
from support.scenario import PROMPTS, settle_honest_task

CARD = {"parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit", "content_hash": sha("w")}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("relisted")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", beacon=False)
    tasks = [settle_honest_task(eng, keys, PROMPTS[i % len(PROMPTS)], with_garbage=False) for i in range(2)]
    eng.submit_as(keys["bob"], "model.register", {**CARD, "id": "base"})
    eng.submit_as(keys["modeldev"], "model.retire", {"model": BUNDLED_MODEL_ID})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    assert BUNDLED_MODEL_ID not in eng.state.models
    eng.submit_as(keys["carol"], "model.register", {**CARD, "id": BUNDLED_MODEL_ID, "parent": "base"})
    yield eng, keys, url, tasks
    eng.store.dispose()


def audit(get):
    return auditor.audit_epoch(auditor.fetch_bundle(get, 0)).to_dict()


def api_get(client):
    def get(path):
        r = client.get(path)
        if r.status_code != 200:
            raise LookupError(r.text)
        return r.json()

    return get


def newest_card_only(get):
    """A server without ``at_tick`` (the newest card of the id whatever the tick): what the auditor read before."""
    return lambda path: get(path.split("?")[0])


def test_the_epoch_recomputes_with_the_listing_its_tasks_ran_on(net):
    eng, keys, url, tasks = net
    client = TestClient(create_app(url))
    for get in (api_get(client), published_getter(eng.state)):
        report = audit(get)
        assert report["ok"], {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        assert report["quantities"]["task_fee.royalty"]["total"] == len(tasks)
        assert "task_fee.royalty_parent" not in report["quantities"]
    assert get(f"/v1/models/{BUNDLED_MODEL_ID}")["owner"] == keys["carol"].address  # the newest card is carol's fine-tune


def test_the_newest_card_would_expect_a_parent_royalty_never_paid(net):
    eng, _, url, tasks = net
    report = audit(newest_card_only(api_get(TestClient(create_app(url)))))
    parent = report["quantities"]["task_fee.royalty_parent"]
    assert not report["ok"] and parent["total"] == len(tasks) and parent["matched"] == 0


def test_the_published_model_reads_answer_as_the_api(net):
    """``cor audit --db`` reads ``/v1/models`` and ``/v1/models/{id}`` in-process (``published_getter``); they answer what
    the API answers (session 29's ``state``, ``next_after`` and ``listings`` included), the retired listing among them."""
    eng, keys, url, tasks = net
    api, published = api_get(TestClient(create_app(url))), published_getter(eng.state)
    paths = ["/v1/models", "/v1/models/base", f"/v1/models/{BUNDLED_MODEL_ID}", f"/v1/models/{BUNDLED_MODEL_ID}?at_tick=0"]
    for path in paths:
        assert published(path) == api(path), path
    listing = published(f"/v1/models/{BUNDLED_MODEL_ID}?at_tick=0")
    assert listing["state"] == "retired" and len(listing["listings"]) == 2 and listing["owner"] == keys["modeldev"].address
    assert published("/v1/models")["state"] == "live" and published("/v1/models")["next_after"] is None
