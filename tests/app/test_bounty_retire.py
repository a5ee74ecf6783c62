"""Rule 22 (``RULES_BOUNTY_RETIRE``) with a database: an expired bounty that left the live state is read back from the
database by ``cor bounty show``/``list``, the API's reads and the dashboard's, ``cor verify`` re-derives ``pruned.hash``
with its record (and catches an edit of it), and a command naming it is refused with ``bounty_not_found``."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from cor_incentives.api import readviews
from cor_incentives.app.archive import get_bounty, newest_bounties
from cor_incentives.app.verify import verify_store
from cor_incentives.cli.main import app
from cor_incentives.core.errors import EngineError
from cor_incentives.core.prune import BOUNTY
from cor_incentives.core.records import BountyStatus
from cor_incentives.core.state_codec import encode_record, encode_state
from cor_incentives.core.units import COR
from cor_incentives.store import db
from cor_incentives.store.projections import PRUNED_COLLECTION, pruned_key
from support.network import make_network, sha


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bounty_retire")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=1, n_validators=1, params={"bounty_review_period_ticks": 0}, beacon=False)
    reviewers = [keys[n].address for n in ("carol", "modeldev", "faucet")]
    body = {"prize": str(10 * COR), "criteria": "retire me", "winners": 1, "reviewers": reviewers}
    old = eng.state.next_id
    eng.submit_as(keys["alice"], "bounty.create", {**body, "deadline_tick": eng.state.tick + 2})
    kept = eng.state.next_id
    eng.submit_as(keys["alice"], "bounty.create", {**body, "deadline_tick": eng.state.tick + 10_000})
    for n in ("bob", "dave"):
        eng.submit_as(keys[n], "bounty.submit", {"bounty": old, "content_hash": sha(n)})
    eng.submit_as(keys["oracle"], "tick", {"ticks": 2})
    eng.submit_as(keys["bob"], "bounty.expire", {"bounty": old})
    whole = json.loads(json.dumps(readviews.bounty_detail(eng.state, old)))
    record = encode_record(eng.state.bounties[old])
    eng.submit_as(keys["oracle"], "epoch.close", {})
    yield eng, keys, url, old, kept, whole, record
    eng.store.dispose()


def test_the_expired_bounty_left_the_state_and_every_read_finds_it_in_the_database(net):
    eng, _, url, old, kept, whole, record = net
    state = eng.state
    assert old not in state.bounties and kept in state.bounties
    assert get_bounty(state, old).status == BountyStatus.EXPIRED and encode_record(get_bounty(state, old)) == record
    assert [b.id for b in newest_bounties(state)] == [kept, old]
    assert readviews.bounty_detail(state, old) == whole  # the API's read, as before it left
    assert readviews.bounty_list(state, 100) == {"bounties": [readviews.bounty_detail(state, kept), whole], "next_before_id": None}  # newest first
    runner = CliRunner()
    shown = runner.invoke(app, ["bounty", "show", str(old), "--db", url, "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert (data["id"], data["status"], len(data["entries"])) == (old, "expired", 2)
    listed = runner.invoke(app, ["bounty", "list", "--db", url, "--json"])
    assert [d["id"] for d in json.loads(listed.output)] == [kept, old]
    listed = runner.invoke(app, ["bounty", "list", "--status", "expired", "--db", url, "--json"])
    assert [d["id"] for d in json.loads(listed.output)] == [old]
    missing = runner.invoke(app, ["bounty", "show", str(10**6), "--db", url, "--json"])
    assert missing.exit_code != 0 and json.loads(missing.output)["error"] == "bounty_not_found"


def test_a_command_naming_the_retired_bounty_is_refused_and_changes_nothing(net):
    eng, keys, *_ = net
    old = net[3]
    before = encode_state(eng.state)
    with pytest.raises(EngineError) as exc:
        eng.submit_as(keys["carol"], "bounty.submit", {"bounty": old, "content_hash": sha("late")})
    assert exc.value.code == "bounty_not_found"
    assert encode_state(eng.state) == before


def test_verify_rederives_the_pruned_hash_with_the_bounty_and_catches_an_edit(net):
    eng, *_ = net
    old = net[3]
    report, _ = verify_store(eng.store)
    assert report.ok, report.to_dict()
    key = pruned_key(BOUNTY, old)
    with eng.store.engine.begin() as conn:
        original = conn.execute(
            select(db.documents.c.data).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key)
        ).scalar_one()
        doc = json.loads(original)
        doc["record"]["criteria"] = "edited"
        conn.execute(
            update(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key).values(data=json.dumps(doc))
        )
    try:
        bad, _ = verify_store(eng.store)
        assert not bad.ok and any(key in m for m in bad.errors) and any("do not hash to the state's" in m for m in bad.errors), bad.errors
    finally:
        with eng.store.engine.begin() as conn:
            conn.execute(update(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key).values(data=original))
