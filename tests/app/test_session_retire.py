"""Rule 24 (``RULES_SESSION_BOUND``) with a database: a closed session that left the live state is read back from the
database by ``cor session show`` and the API's ``GET /v1/sessions/{id}`` (app/archive.py ``get_session``), ``cor verify``
re-derives ``pruned.hash`` with its record and catches an edit of it, a command naming it is refused
``session_not_found``, and an open without the minimum deposit is refused through the engine and the CLI."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from cor_incentives.api.app import create_app
from cor_incentives.app import views
from cor_incentives.app.archive import get_session
from cor_incentives.app.verify import verify_store
from cor_incentives.cli.main import app
from cor_incentives.core.errors import EngineError
from cor_incentives.core.prune import SESSION
from cor_incentives.core.state_codec import encode_record, encode_state
from cor_incentives.core.units import COR
from cor_incentives.store import db
from cor_incentives.store.projections import PRUNED_COLLECTION, pruned_key
from support.network import make_network


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("session_retire")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=1, n_validators=1, beacon=False)
    old = eng.state.next_id
    eng.submit_as(keys["bob"], "session.open", {"deposit": str(3 * COR), "redundancy": 2})
    eng.submit_as(keys["bob"], "session.close", {"session": old})
    whole = views.session(eng.state, eng.state.sessions[old])
    record = encode_record(eng.state.sessions[old])
    eng.submit_as(keys["oracle"], "epoch.close", {})
    yield eng, keys, url, old, whole, record
    eng.store.dispose()


def test_the_closed_session_left_the_state_and_every_read_finds_it_in_the_database(net):
    eng, _, url, old, whole, record = net
    state = eng.state
    assert old not in state.sessions and any(s.is_open for s in state.sessions.values())  # alice's stays
    assert encode_record(get_session(state, old)) == record
    assert views.session(state, get_session(state, old)) == whole and whole["open"] is False and whole["deposit_units"] == "0"
    shown = CliRunner().invoke(app, ["session", "show", str(old), "--db", url, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == json.loads(json.dumps(whole))
    missing = CliRunner().invoke(app, ["session", "show", str(10**6), "--db", url, "--json"])
    assert missing.exit_code != 0 and json.loads(missing.output)["error"] == "session_not_found"


def test_the_api_reads_a_retired_session(net):
    eng, _, url, old, whole, _ = net
    client = TestClient(create_app(url))
    r = client.get(f"/v1/sessions/{old}")
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(json.dumps(whole))
    assert client.get(f"/v1/sessions/{10**6}").status_code == 404


def test_commands_naming_the_retired_session_and_a_free_open_are_refused_and_change_nothing(net):
    eng, keys, url, old, *_ = net
    before = encode_state(eng.state)
    for kind, body, code in [
        ("session.deposit", {"session": old, "amount": str(COR)}, "session_not_found"),
        ("session.close", {"session": old}, "session_not_found"),
        ("session.open", {"deposit": "0"}, "session_deposit_below_minimum"),
        ("session.open", {}, "session_deposit_below_minimum"),
    ]:
        with pytest.raises(EngineError) as exc:
            eng.submit_as(keys["bob"], kind, body)
        assert exc.value.code == code
        assert encode_state(eng.state) == before
    assert exc.value.http_status == 409 and exc.value.to_dict()["details"] == {"minimum": str(COR), "deposit": "0"}


def test_verify_rederives_the_pruned_hash_with_the_session_and_catches_an_edit(net):
    eng, _, _, old, *_ = net
    report, _ = verify_store(eng.store)
    assert report.ok, report.to_dict()
    key = pruned_key(SESSION, old)
    with eng.store.engine.begin() as conn:
        original = conn.execute(
            select(db.documents.c.data).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key)
        ).scalar_one()
        doc = json.loads(original)
        doc["record"]["redundancy"] = 3  # (was 2)
        conn.execute(
            update(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key).values(data=json.dumps(doc))
        )
    try:
        bad, _ = verify_store(eng.store)
        assert not bad.ok and any(key in m for m in bad.errors) and any("do not hash to the state's" in m for m in bad.errors), bad.errors
    finally:
        with eng.store.engine.begin() as conn:
            conn.execute(update(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key).values(data=original))


def test_verify_folds_an_older_rules_pruned_parameter_versions_with_the_fields_they_knew(tmp_path):
    """A database written under rule 23 (no session_min_deposit_units) that pruned parameter versions: verify re-derives
    pruned.hash from the stored rows (each parameter version folded with its rule version's fields), and the free
    session rule 23 allowed is in the log."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=1, n_validators=1, params={"rule_version": 23}, beacon=False)
    try:
        eng.submit_as(keys["dave"], "session.open", {})  # free under rule 23
        for _ in range(3):
            eng.submit_as(keys["oracle"], "epoch.close", {})
        assert eng.state.pruned.count >= 3 and eng.state.params.rule_version == 23
        report, _ = verify_store(eng.store)
        assert report.ok, report.to_dict()
    finally:
        eng.store.dispose()
