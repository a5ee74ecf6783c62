"""docs/design.md §3: the same commands on SQLite and on PostgreSQL give the same log, bit for bit.

One seeded scenario (a devnet from ``make_network``; tasks settled with scripted outputs and
validator reports, one with a reveal that does not match its commitment; transfers, a delegation
and an undelegation, an oracle slash, two ``epoch.close``, a reward claim) is run once on each
backend with the same key seeds. Event hashes, stored rows, balances, epoch roots and the state
replayed from each database must be identical, and ``verify_store`` must pass on both.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cor_incentives.app.archive import get_task
from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import state_fingerprint, verify_store
from cor_incentives.core.errors import NotFound
from cor_incentives.store import db
from cor_incentives.store.document_format import EPOCH_DOCUMENT_FORMAT_KEY, NARROW_FORMAT, TEXT_FORMAT, document_text, is_packed
from support.scenario import run_scenario
from support.services import drop_postgres_database, fresh_postgres_database

pytestmark = pytest.mark.postgres


def dump_tables(store: db.Store) -> dict[str, list[tuple]]:
    """Every row of every table, in a backend-independent order."""
    out = {}
    with store.reader() as conn:
        for table in db.metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            rows = sorted(conn.execute(select(table)).mappings(), key=lambda r: tuple(r[c] for c in pk))  # not the DB's collation
            out[table.name] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r.values()) for r in rows]
    return out


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    name = request.node.nodeid + "::scenario"
    tmp = tmp_path_factory.mktemp("backends")
    pg_url = fresh_postgres_database(name)
    engines = {
        "sqlite": run_scenario(f"sqlite:///{tmp / 'cor.db'}", tmp / "keys-sqlite"),
        "postgres": run_scenario(pg_url, tmp / "keys-postgres"),
    }
    assert engines["postgres"].store.is_postgres and not engines["sqlite"].store.is_postgres
    yield engines
    for eng in engines.values():
        eng.store.engine.dispose()
    drop_postgres_database(name)


def test_the_scenario_did_what_it_says(runs):
    s = runs["sqlite"].state
    assert s.seq > 60 and sorted(s.epochs) == [0, 1] and s.claimed
    assert sorted(x.offence for x in s.slashes) == ["commit_mismatch", "equivocation", "poi_divergence"]  # the cheat, the double-signer, the garbage
    tasks = [t for t in (task_or_none(s, i) for i in range(1, s.next_id)) if t is not None]  # live or pruned (core/prune.py)
    assert sum(1 for t in tasks if t.state == "SETTLED") >= 3 and s.unbondings
    assert s.pruned.count and len(tasks) > len(s.tasks)


def task_or_none(s, i):
    try:
        return get_task(s, i)
    except NotFound:
        return None


def test_event_hashes_are_byte_identical(runs):
    logs = {b: [(e.seq, e.tick, e.payload, e.signature, e.prev_hash, e.hash) for e in eng.store.iter_events()] for b, eng in runs.items()}
    assert len(logs["sqlite"]) == runs["sqlite"].state.seq + 1
    assert logs["sqlite"] == logs["postgres"]
    assert runs["sqlite"].state.head_hash == runs["postgres"].state.head_hash == logs["sqlite"][-1][-1]


def test_every_stored_row_is_identical(runs):
    """events (all columns), balances, postings, nodes, documents (epochs, slashes, unbonding), meta, blobs. An epoch
    document is compared as its canonical text: SQLite stores it in format 3 (compressed, store/document_format.py),
    PostgreSQL as the text (format 1), which each database's meta row says."""
    tables = {b: dump_tables(eng.store) for b, eng in runs.items()}
    formats = {}
    for b, t in tables.items():
        formats[b] = [v for k, v in t["meta"] if k == EPOCH_DOCUMENT_FORMAT_KEY]
        t["meta"] = [r for r in t["meta"] if r[0] != EPOCH_DOCUMENT_FORMAT_KEY]
        assert all(is_packed(r[2]) == (b == "sqlite") for r in t["documents"] if r[0] == "epoch")
        t["documents"] = [(c, k, document_text(d) if c == "epoch" else d) for c, k, d in t["documents"]]
    assert formats == {"sqlite": [str(NARROW_FORMAT)], "postgres": [str(TEXT_FORMAT)]}
    for name in tables["sqlite"]:
        assert tables["sqlite"][name] == tables["postgres"][name], name
    assert any("Österreichs".encode() in row[2] for row in tables["postgres"]["blobs"])  # bytes, not text


def test_balances_and_epoch_roots_are_identical(runs):
    s, p = runs["sqlite"].state, runs["postgres"].state
    assert s.ledger.balances == p.ledger.balances
    roots = {e: r.root for e, r in s.epochs.items()}
    assert roots == {e: r.root for e, r in p.epochs.items()} and roots[0]
    assert s.to_dict() == p.to_dict()


def test_replay_from_each_database_is_identical_and_verifies(runs):
    prints = set()
    for backend, eng in runs.items():
        report, replayed = verify_store(eng.store)
        assert report.ok, (backend, report.errors)
        assert report.epochs_checked == 2 and report.roots_match
        reopened = Engine.open(eng.store.url)
        assert reopened.state.to_dict() == replayed.to_dict() == eng.state.to_dict()
        prints.add(state_fingerprint(reopened.state))
        reopened.store.engine.dispose()
    assert len(prints) == 1
