"""The projection flush writes rows in bulk through the driver (store/bulk.py), inside the event's transaction.

- A failure in the middle of a close's flush (a real constraint violation from the database, after the
  postings, balances and node rows were written) leaves every table and the engine's state as they
  were; the error is a clear ``database_*`` EngineError; the same close then commits and verifies.
- Only rows that changed are written: a close credits and empties ``rewards:<node>`` (no balance row
  deleted), a command that changes no node writes no node row; node rows another writer changed
  in between are rewritten (the digests of what this engine wrote are forgotten).
- The bulk writes keep the driver's errors as SQLAlchemy's (so the engine maps them).
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, select, update

from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import state_fingerprint, verify_store
from cor_incentives.core.apply import Applied
from cor_incentives.core.errors import EngineError
from cor_incentives.store import bulk, db
from cor_incentives.store.projections import expected_rows, stored_rows
from support.network import COR, make_network
from support.scenario import PROMPTS, settle_honest_task


def dump(store: db.Store) -> dict[str, list[tuple]]:
    out = {}
    with store.reader() as conn:
        for table in db.metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            rows = sorted(conn.execute(select(table)).mappings(), key=lambda r: tuple(r[c] for c in pk))
            out[table.name] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r.values()) for r in rows]
    return out


@pytest.fixture
def net(db_url, tmp_path):
    eng, keys = make_network(db_url, tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="bulk")
    settle_honest_task(eng, keys, PROMPTS[0], with_garbage=True)
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["bob"].address, "amount": str(5_000 * COR)})
    eng.submit_as(keys["bob"], "stake.delegate", {"node": keys["miner0"].address, "amount": str(1_000 * COR)})
    eng.submit_as(keys["oracle"], "tick", {"ticks": 2})
    yield eng, keys
    eng.store.dispose()


def test_a_failure_mid_flush_leaves_the_database_and_state_untouched(net):
    eng, keys = net
    closing = eng.state.epoch
    planted = {"collection": "epoch", "key": str(closing), "data": "{}"}  # the close's epoch document will collide with it
    with eng.store.writer() as conn:
        conn.execute(insert(db.documents), planted)
    before, fingerprint, seq = dump(eng.store), state_fingerprint(eng.state), eng.state.seq
    written: list[str] = []
    real_upsert = bulk.upsert_rows

    def spy(conn, table, keys_, values, rows, **options):
        written.append(table.name)
        real_upsert(conn, table, keys_, values, rows, **options)

    bulk.upsert_rows = spy
    try:
        with pytest.raises(EngineError) as err:
            eng.submit_as(keys["oracle"], "epoch.close", {})
    finally:
        bulk.upsert_rows = real_upsert
    assert err.value.code.startswith("database_")
    assert written[:2] == ["balances", "nodes"]  # the balances and node rows were written before the documents failed
    assert dump(eng.store) == before
    assert eng.state.seq == seq and eng.state.epoch == closing and state_fingerprint(eng.state) == fingerprint

    with eng.store.writer() as conn:
        conn.execute(delete(db.documents).where(db.documents.c.collection == "epoch", db.documents.c.key == str(closing)))
    eng.submit_as(keys["oracle"], "epoch.close", {})
    assert eng.state.epoch == closing + 1
    report, state = verify_store(eng.store)
    assert report.ok, report
    assert state_fingerprint(state) == state_fingerprint(eng.state)


def test_only_changed_rows_are_written_and_every_row_is_right(net):
    eng, keys = net
    eng.submit_as(keys["oracle"], "epoch.close", {})
    rows = eng.projector.last_flush_rows
    assert rows["nodes"] == len(eng.state.nodes) and rows["postings"] > 0 and rows["documents"] >= 1
    assert rows["balances_deleted"] == 0  # rewards:<node> was credited and emptied again: its (absent) row is left alone
    with eng.store.reader() as conn:
        stored = stored_rows(conn)
        assert stored | {"pruned": {}} == expected_rows(eng.state) | {"pruned": {}}
        # (rule 27: the settled tasks' records went to the database at their settlement; their stubs stay live)
        assert {k for k in stored["pruned"] if k.startswith("task:")} == {f"task:{t:012d}" for t in eng.state.closed_tasks}

    eng.submit_as(keys["faucet"], "transfer", {"to": keys["carol"].address, "amount": str(3 * COR)})
    assert eng.projector.last_flush_rows["nodes"] == 0 and eng.projector.last_flush_rows["balances"] == 2

    report, _ = verify_store(eng.store)
    assert report.ok, report


class Abort(Exception):
    pass


def flushed_node_rows(eng: Engine, node: str, seq: int, *, reset: bool = False) -> tuple[int, str]:
    """Project a no-posting event ``seq`` that touched ``node`` over a row another writer left as ``{}``; the rows written
    and the row as the transaction then holds it (rolled back after)."""
    p, state = eng.projector, eng.state
    try:
        with eng.store.writer() as conn:
            conn.execute(update(db.nodes).where(db.nodes.c.id == node).values(data="{}"))
            if reset:
                p.reset_from(state)
            state.touch(node)
            p.project(conn, state, Applied(seq, "tick", "0x", []))
            p.flush(conn, state)
            data = conn.execute(select(db.nodes.c.data).where(db.nodes.c.id == node)).scalar_one()
            raise Abort
    except Abort:
        p.discard()
    return p.last_flush_rows["nodes"], data


def test_node_digests_are_trusted_only_while_this_engine_wrote_every_event_since(net):
    eng, keys = net
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["carol"].address, "amount": str(3 * COR)})
    node = keys["miner3"].address
    view = expected_rows(eng.state)["nodes"][node]
    # the next event, projected by this engine: the row it wrote last is the row in the database, so it is not rewritten
    assert flushed_node_rows(eng, node, eng.state.seq + 1) == (0, "{}")  # ("{}" stands for that row: left alone)
    # the rollback forgot the digests; so do events this engine did not project (a gap) and reset_from
    assert flushed_node_rows(eng, node, eng.state.seq + 1) == (1, view)
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["carol"].address, "amount": str(3 * COR)})
    assert flushed_node_rows(eng, node, eng.state.seq + 3) == (1, view)
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["carol"].address, "amount": str(3 * COR)})
    assert flushed_node_rows(eng, node, eng.state.seq + 1, reset=True) == (1, view)


def test_driver_errors_are_raised_as_sqlalchemy_errors(db_url):
    from sqlalchemy.exc import IntegrityError

    store = db.Store(db_url)
    store.create_schema()
    try:
        row = (1, 0, "a", "b", "5", "r")
        with pytest.raises(IntegrityError), store.writer() as conn:
            bulk.insert_rows(conn, db.postings, ("seq", "idx", "src", "dst", "amount", "reason"), [row, row])
        with store.writer() as conn:
            bulk.insert_rows(conn, db.postings, ("seq", "idx", "src", "dst", "amount", "reason"), [row])
            bulk.upsert_rows(conn, db.balances, ("account",), ("owner", "amount"), [("a", None, "1"), ("b", None, "2")])
            bulk.upsert_rows(conn, db.balances, ("account",), ("owner", "amount"), [("a", None, "3")])
            bulk.delete_keys(conn, db.balances, "account", ["b", "missing"])
        with store.reader() as conn:
            assert conn.execute(select(db.postings.c.seq, db.postings.c.amount)).all() == [(1, "5")]
            assert conn.execute(select(db.balances.c.account, db.balances.c.amount)).all() == [("a", "3")]
    finally:
        store.dispose()


def test_a_bulk_write_first_in_a_connection_is_part_of_its_transaction(db_url):
    """A bulk write that is the first statement on a connection (no explicit ``begin``) begins the
    transaction as SQLAlchemy would: rolled back with it, never committed on its own."""
    store = db.Store(db_url)
    store.create_schema()
    columns = ("seq", "idx", "src", "dst", "amount", "reason")
    try:
        with store.engine.connect().execution_options(cor_writer=True) as conn:
            bulk.insert_rows(conn, db.postings, columns, [(1, 0, "a", "b", "5", "r")])
            bulk.upsert_rows(conn, db.balances, ("account",), ("owner", "amount"), [("a", None, "1")])
            assert conn.in_transaction()
            conn.rollback()
        with store.reader() as conn:
            assert conn.execute(select(db.postings.c.seq)).all() == []
            assert conn.execute(select(db.balances.c.account)).all() == []
        with store.engine.connect().execution_options(cor_writer=True) as conn:
            bulk.insert_rows(conn, db.postings, columns, [(2, 0, "a", "b", "7", "r")])
            conn.commit()
        with store.reader() as conn:
            assert conn.execute(select(db.postings.c.seq, db.postings.c.amount)).all() == [(2, "7")]
    finally:
        store.dispose()


def test_text_given_as_bytes_is_stored_as_the_same_text(db_url):
    """``insert_rows(..., text_bytes=...)``: a text column's value given as its UTF-8 bytes (an epoch document from
    ``json_bytes``) is stored as text, the same value as the string would be, beside rows given as strings."""
    store = db.Store(db_url)
    store.create_schema()
    texts = {"0": '{"a":[1,2,3],"s":"\\u00e9"}', "1": "plain", "2": "x" * 100_000}
    rows = [("epoch", "0", texts["0"].encode()), ("epoch", "1", texts["1"]), ("slash", "2", texts["2"].encode())]
    try:
        with store.writer() as conn:
            bulk.insert_rows(conn, db.documents, ("collection", "key", "data"), rows, text_bytes=("data",))
        with store.reader() as conn:
            stored = dict(conn.execute(select(db.documents.c.key, db.documents.c.data)).all())
            assert stored == texts and all(type(v) is str for v in stored.values())
            if not store.is_postgres:  # the stored value's type is text, not a blob of those bytes
                assert set(conn.exec_driver_sql("SELECT typeof(data) FROM documents").scalars()) == {"text"}
                assert conn.exec_driver_sql("SELECT count(*) FROM documents WHERE data = ?", (texts["0"],)).scalar() == 1
    finally:
        store.dispose()


def test_upserted_text_given_as_bytes_is_stored_as_the_same_text(db_url):
    """``upsert_rows(..., text_bytes=...)`` (the node rows, written as ``json_bytes_rows`` gives them): inserted and
    updated values given as bytes are stored as text, the same values as the strings would be."""
    store = db.Store(db_url)
    store.create_schema()
    first = {"n0": '{"a":"\u00e9"}', "n1": "x" * 50_000}
    then = {"n1": '{"b":2}', "n2": "plain"}
    try:
        with store.writer() as conn:
            bulk.upsert_rows(conn, db.nodes, ("id",), ("role", "data"), [(k, "miner", v.encode()) for k, v in first.items()], text_bytes=("data",))
        with store.writer() as conn:
            rows = [("n1", "validator", then["n1"].encode()), ("n2", "miner", then["n2"])]  # an update as bytes, an insert as a string
            bulk.upsert_rows(conn, db.nodes, ("id",), ("role", "data"), rows, text_bytes=("data",))
        with store.reader() as conn:
            stored = {k: (role, data) for k, role, data in conn.execute(select(db.nodes.c.id, db.nodes.c.role, db.nodes.c.data)).all()}
            assert stored == {"n0": ("miner", first["n0"]), "n1": ("validator", then["n1"]), "n2": ("miner", then["n2"])}
            assert all(type(data) is str for _, data in stored.values())
            if not store.is_postgres:  # text, not a blob of those bytes
                assert set(conn.exec_driver_sql("SELECT typeof(data) FROM nodes").scalars()) == {"text"}
                assert conn.exec_driver_sql("SELECT count(*) FROM nodes WHERE data = ?", (then["n1"],)).scalar() == 1
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_postgresql_writer_compresses_large_values_with_lz4(tmp_path):
    from support.services import drop_postgres_database, fresh_postgres_database

    name = "bulk_flush_lz4"
    store = db.Store(fresh_postgres_database(name))
    try:
        store.create_schema()
        big = "".join(f'{{"n":{i},"who":"0x{i:040x}"}}' for i in range(20_000))  # past the size PostgreSQL compresses at
        with store.writer() as conn:
            assert conn.exec_driver_sql("SHOW default_toast_compression").scalar() == "lz4"
            bulk.insert_rows(conn, db.documents, ("collection", "key", "data"), [("epoch", "0", big)])
        with store.reader() as conn:
            assert conn.exec_driver_sql("SELECT pg_column_compression(data) FROM documents").scalar() == "lz4"
            assert conn.execute(select(db.documents.c.data)).scalar_one() == big
    finally:
        store.dispose()
        drop_postgres_database(name)
