"""Anchored snapshots (rule version 5): the oracle's epoch-close checkpoint carries the hash of the state
it cites, the core recomputes it, the engine stores that state's snapshot, and `cor verify
--from-snapshot` starts from it; a forged or unanchored snapshot is never a starting point."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from sqlalchemy import update

from cor_incentives.app.anchors import checkpoint_for, list_anchors
from cor_incentives.app.snapshots import snapshot_row
from cor_incentives.app.verify import verify_database
from cor_incentives.core.errors import EngineError
from cor_incentives.core.rules import STATE_ANCHOR_RULES
from cor_incentives.core.state_codec import decode_state, encode_state, state_hash
from cor_incentives.store import db
from support.network import COR, make_network

COR_BIN = str(Path(sys.executable).parent / "cor")


def busy(eng, keys, n: int = 3) -> None:
    for i in range(n):
        eng.submit_as(keys["faucet"], "transfer", {"to": keys["bob"].address, "amount": str((i + 1) * COR)})
        eng.submit_as(keys["oracle"], "tick", {"ticks": 1, "checkpoint": checkpoint_for(eng.state)})


@pytest.fixture
def net(db_url, tmp_path):
    eng, keys = make_network(db_url, tmp_path / "keys")
    assert eng.state.params.rule_version >= STATE_ANCHOR_RULES
    yield eng, keys
    eng.store.dispose()


def test_the_close_anchors_the_state_it_cites_and_the_engine_stores_it(net, db_url):
    eng, keys = net
    busy(eng, keys)
    head, want = eng.state.seq, state_hash(eng.state)
    r = eng.submit_as(keys["oracle"], "epoch.close", {"checkpoint": checkpoint_for(eng.state, with_state=True)})
    assert eng.state.state_anchors == {head: want} and r.seq == head + 1
    with eng.store.reader() as conn:
        rows = {x.seq: x for x in eng.store.snapshot_rows(conn)}
    assert state_hash(decode_state(zlib.decompress(rows[head].data))) == want  # the state before the close: exactly what the checkpoint signed
    assert any(a.seq == head and a.state == want for a in list_anchors(eng.state))
    busy(eng, keys, 2)
    report, state = verify_database(db_url, from_snapshot=True)
    assert report.ok, report.errors
    assert report.from_snapshot == head and report.snapshot_anchored_by == head + 1
    assert report.events == eng.state.seq - head  # only the tail was replayed
    assert encode_state(state) == encode_state(eng.state)
    full, _ = verify_database(db_url)
    assert full.ok and full.from_snapshot is None and full.events == eng.state.seq + 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda eng, cp: {**cp, "state": "0x" + "00" * 32}, "checkpoint_state_mismatch"),
        (lambda eng, cp: {**cp, "seq": eng.state.seq - 1, "hash": eng.state.recent_hashes[eng.state.seq - 1]}, "checkpoint_state_not_head"),
    ],
    ids=["wrong-hash", "not-the-head"],
)
def test_a_wrong_state_anchor_is_refused_and_changes_nothing(net, change, code):
    eng, keys = net
    busy(eng, keys, 1)
    before = encode_state(eng.state)
    with pytest.raises(EngineError) as err:
        eng.submit_as(keys["oracle"], "epoch.close", {"checkpoint": change(eng, checkpoint_for(eng.state, with_state=True))})
    assert err.value.code == code
    assert encode_state(eng.state) == before


def test_the_first_rules_refuse_a_state_in_a_checkpoint(sqlite_url, tmp_path):
    eng, keys = make_network(sqlite_url, tmp_path / "keys", params={"rule_version": STATE_ANCHOR_RULES - 1})
    assert "state" not in checkpoint_for(eng.state, with_state=True)  # the oracle's CLI sends none there
    cp = {**checkpoint_for(eng.state), "state": state_hash(eng.state)}
    with pytest.raises(EngineError) as err:
        eng.submit_as(keys["oracle"], "epoch.close", {"checkpoint": cp})
    assert err.value.code == "invalid_checkpoint"
    eng.store.dispose()


def test_verify_from_snapshot_refuses_a_forged_or_unanchored_snapshot(sqlite_url, tmp_path):
    eng, keys = make_network(sqlite_url, tmp_path / "keys")
    busy(eng, keys)
    eng.submit_as(keys["oracle"], "epoch.close", {"checkpoint": checkpoint_for(eng.state, with_state=True)})
    anchored = next(iter(eng.state.state_anchors))
    busy(eng, keys, 1)
    eng.store.dispose()
    store = db.Store(sqlite_url)
    with store.engine.begin() as conn:
        # a forger rewrites the anchored snapshot (more COR for bob) and re-hashes it so it "checks out"
        row = store.snapshot_rows(conn, up_to=anchored, limit=1)[0]
        forged = decode_state(zlib.decompress(row.data))
        forged.ledger.balances[f"wallet:{keys['bob'].address}"] += 10**24
        fake = snapshot_row(forged)
        conn.execute(update(db.snapshots).where(db.snapshots.c.seq == anchored).values(**fake.columns()))
        conn.execute(db.snapshots.delete().where(db.snapshots.c.seq > anchored))
    store.dispose()
    report, _ = verify_database(sqlite_url, from_snapshot=True)
    assert not report.ok and report.from_snapshot is None and "no_anchored_snapshot" in report.errors[0]
    p = subprocess.run([COR_BIN, "verify", "--from-snapshot", "--json", "--db", sqlite_url], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "no_anchored_snapshot" in json.loads(p.stdout)["errors"][0] and "Traceback" not in p.stderr
    full, _ = verify_database(sqlite_url)  # from genesis the log itself is fine
    assert full.ok, full.errors
