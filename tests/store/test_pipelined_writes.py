"""A writer transaction's round trips to PostgreSQL (store/bulk.py ``pipelined``, ``select_pipelined``).

A group commit on PostgreSQL sends BEGIN and the writer lock together, reads the events appended by others and
``projected_seq`` together, and sends the events and every projection row in one pipeline: five round trips in
all (the pool's ping, those three, COMMIT) whatever the commands, where it made one per statement. What must
not change with it: each statement runs in order in the open transaction, a failing one fails the whole
transaction (SQLAlchemy's error, nothing of it committed, the engine's state as before), and the rows written are
exactly the projections of the log. On SQLite the same code runs its statements one by one.
"""

from __future__ import annotations

import asyncio
import ctypes
import re
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cor_incentives.api.service import ApiService
from cor_incentives.app.engine import Engine, Receipt
from cor_incentives.app.signing import sign_command
from cor_incentives.app.verify import state_fingerprint, verify_store
from cor_incentives.core.errors import EngineError
from cor_incentives.store import bulk, db
from cor_incentives.store.projections import expected_rows, stored_rows
from support.network import COR, make_network

POSTING_COLUMNS = ("seq", "idx", "src", "dst", "amount", "reason")


def projections_match(eng: Engine) -> bool:
    expected = expected_rows(eng.state)
    with eng.store.reader() as conn:
        stored = stored_rows(conn)
    return {k: v for k, v in stored.items() if k in expected} == expected


@pytest.fixture
def net(db_url, tmp_path):
    eng, keys = make_network(db_url, tmp_path / "keys", n_miners=2, n_validators=1, seed="pipelined")
    for name in ("bob", "carol", "dave"):
        eng.submit_as(keys["faucet"], "transfer", {"to": keys[name].address, "amount": str(50_000 * COR)})
    yield eng, keys
    eng.store.dispose()


def mixed_commands(eng: Engine, keys: dict, rounds: int) -> list[tuple[bytes, str]]:
    """Transfers and delegations from bob, carol and dave (consecutive nonces each)."""
    out = []
    nonces = {n: eng.next_nonce(keys[n].address) for n in ("bob", "carol", "dave")}
    for r in range(rounds):
        for i, name in enumerate(("bob", "carol", "dave")):
            key = keys[name]
            if (r + i) % 2:
                kind, body = "stake.delegate", {"node": keys[f"miner{r % 2}"].address, "amount": str(COR)}
            else:
                kind, body = "transfer", {"to": keys["alice"].address, "amount": str(3 * COR)}
            out.append(sign_command(key.private_key, eng.state.chain_id, kind, nonces[name], body))
            nonces[name] += 1
    return out


def test_statements_in_a_pipeline_run_in_order_and_one_failure_fails_the_transaction(db_url):
    store = db.Store(db_url)
    store.create_schema()
    try:
        with pytest.raises(IntegrityError), store.writer() as conn, bulk.pipelined(conn):
            bulk.insert_rows(conn, db.postings, POSTING_COLUMNS, [(1, 0, "a", "b", "5", "r")])
            bulk.upsert_rows(conn, db.balances, ("account",), ("owner", "amount"), [("a", None, "1")])
            bulk.insert_rows(conn, db.postings, POSTING_COLUMNS, [(1, 0, "a", "b", "6", "r")])  # the same key: refused
            bulk.upsert_rows(conn, db.balances, ("account",), ("owner", "amount"), [("b", None, "2")])
        with store.reader() as conn:
            assert conn.execute(select(db.postings.c.seq)).all() == []  # nothing of the failed transaction
            assert conn.execute(select(db.balances.c.account)).all() == []
        with store.writer() as conn:
            with bulk.pipelined(conn):
                bulk.insert_rows(conn, db.postings, POSTING_COLUMNS, [(1, 0, "a", "b", "5", "r"), (1, 1, "b", "c", "2", "r")])
                bulk.upsert_rows(conn, db.balances, ("account",), ("owner", "amount"), [("a", None, "1"), ("b", None, "2")])
                bulk.upsert_rows(conn, db.balances, ("account",), ("owner", "amount"), [("a", None, "3")])  # after the first: wins
                bulk.delete_keys(conn, db.balances, "account", ["b"])
                bulk.insert_rows(conn, db.documents, ("collection", "key", "data"), [("c", "k", b'{"x":1}')], text_bytes=("data",))
            seen = bulk.select_pipelined(conn, [("SELECT amount FROM balances ORDER BY account", ()), ("SELECT count(*) FROM postings", ())])
            assert seen == [[("3",)], [(2,)]]  # the pipelined writes, in order, seen by the same transaction
        with store.reader() as conn:
            assert conn.execute(select(db.postings.c.idx, db.postings.c.amount).order_by(db.postings.c.idx)).all() == [(0, "5"), (1, "2")]
            assert conn.execute(select(db.balances.c.account, db.balances.c.amount)).all() == [("a", "3")]
            assert conn.execute(select(db.documents.c.data)).scalars().all() == ['{"x":1}']
    finally:
        store.dispose()


def round_trips(trace: str) -> int:
    """Round trips in a libpq protocol trace: the server's ReadyForQuery answers (one per simple query and per
    Sync: the points where the client waits for everything it sent; a COPY waits once more, not counted)."""
    return sum(1 for line in trace.splitlines() if re.match(r"(?:[^\t]*\t)?B\t\d+\tReadyForQuery", line))


@pytest.mark.postgres
def test_a_group_commit_makes_four_round_trips_to_postgresql(tmp_path, monkeypatch):
    """… and one with more rows than ``PIPELINED_ROWS`` (an epoch close's flush: lowered to 0 here) writes outside the
    pipeline, its inserts by COPY, with the same rows."""
    from cor_incentives.app import engine as engine_module
    from support.services import drop_postgres_database, fresh_postgres_database

    libc = ctypes.CDLL(None)
    name = "test_pipelined_round_trips"
    eng, keys = make_network(fresh_postgres_database(name), tmp_path / "keys", n_miners=2, n_validators=1, seed="pipelined")
    trace_path = tmp_path / "libpq.trace"
    traced = open(trace_path, "w")  # noqa: SIM115 (open while the connection lives)
    try:
        for who in ("bob", "carol", "dave"):
            eng.submit_as(keys["faucet"], "transfer", {"to": keys[who].address, "amount": str(50_000 * COR)})
        eng.store.engine.dispose()

        def trace(dbapi_conn, _record):
            dbapi_conn.pgconn.trace(traced.fileno())
            dbapi_conn.pgconn.set_trace_flags(1)  # PQTRACE_SUPPRESS_TIMESTAMPS

        sa_event.listen(eng.store.engine, "connect", trace)
        counts, copied = [], []
        for rounds in (1, 1, 4, 1):
            if len(counts) == 3:
                monkeypatch.setattr(engine_module, "PIPELINED_ROWS", 0)
            commands = mixed_commands(eng, keys, rounds)
            libc.fflush(None)
            start = Path(trace_path).stat().st_size
            results = eng.submit_batch(commands)
            libc.fflush(None)  # libpq writes the trace through its own stdio stream
            assert all(isinstance(r, Receipt) for r in results), results
            trace = Path(trace_path).read_text()[start:]
            counts.append(round_trips(trace))
            copied.append("\tCopyInResponse" in trace)
        # BEGIN, the lock and the reads; the writes; COMMIT; and the pool's ping, but on a connection it just made
        assert counts[:3] == [3, 4, 4], counts
        # over PIPELINED_ROWS: the events and postings by COPY, the upserts one statement each (more round trips)
        assert copied == [False, False, False, True] and counts[3] > 4, (counts, copied)
        assert projections_match(eng)
        report, state = verify_store(eng.store)
        assert report.ok and state_fingerprint(state) == state_fingerprint(eng.state)
    finally:
        eng.store.dispose()
        traced.close()
        drop_postgres_database(name)


def test_a_write_that_fails_in_the_pipeline_refuses_the_group_commit_and_changes_nothing(net):
    eng, keys = net
    commands = mixed_commands(eng, keys, 2)
    collide = eng.state.seq + 3  # the third command's postings will meet this row
    with eng.store.writer() as conn:
        bulk.insert_rows(conn, db.postings, POSTING_COLUMNS, [(collide, 0, "x", "y", "1", "planted")])
    fingerprint, seq = state_fingerprint(eng.state), eng.state.seq
    with eng.store.reader() as conn:
        before = stored_rows(conn)
    with pytest.raises(EngineError) as err:
        eng.submit_batch(commands)
    assert err.value.code == "database_unavailable"
    assert eng.state.seq == seq and state_fingerprint(eng.state) == fingerprint
    with eng.store.reader() as conn:
        assert stored_rows(conn) == before and eng.store.head_seq(conn) == seq
    with eng.store.writer() as conn:
        bulk.delete_keys(conn, db.postings, "reason", ["planted"])
    assert all(isinstance(r, Receipt) for r in eng.submit_batch(commands))
    assert projections_match(eng)
    report, state = verify_store(eng.store)
    assert report.ok and state_fingerprint(state) == state_fingerprint(eng.state)


def test_concurrent_single_commands_commit_together_and_a_bad_one_alone_is_refused(net):
    """The single-command path (``submit_async``, one request a command) on SQLite and PostgreSQL: commands
    posted together share group commits; an unfunded transfer and a bad signature among them are refused with
    their own errors and nothing of them is applied; every other command is committed; replay gives the same."""
    eng, keys = net
    svc = ApiService(eng)
    good = mixed_commands(eng, keys, 6)
    alice = keys["alice"]
    alice_nonce = eng.next_nonce(alice.address)
    alice_balance = eng.state.ledger.balance(f"wallet:{alice.address}")
    unfunded = sign_command(alice.private_key, eng.state.chain_id, "transfer", alice_nonce, {"to": keys["bob"].address, "amount": str(10**30)})
    bad_sig = (good[0][0], "0x" + "11" * 65)
    batches: list[int] = []
    real = eng.submit_batch

    def counted(commands, hold=None, signers=None):
        batches.append(len(commands))
        return real(commands, hold=hold, signers=signers)

    eng.submit_batch = counted  # type: ignore[method-assign]

    async def post(payload: bytes, signature: str) -> object:
        try:
            return await svc.submit_async(payload.decode(), signature)
        except EngineError as exc:
            return exc

    async def all_at_once() -> list[object]:
        requests = [post(*c) for c in good]
        requests.insert(5, post(*unfunded))
        requests.insert(2, post(*bad_sig))
        return await asyncio.wait_for(asyncio.gather(*requests), timeout=120)

    results = asyncio.run(all_at_once())
    assert sorted(r.code for r in results if isinstance(r, EngineError)) == ["insufficient_funds", "invalid_signature"]
    receipts = [r for r in results if isinstance(r, Receipt)]
    assert len(receipts) == len(good) and sum(batches) == len(good) + 2 and max(batches) > 1
    assert eng.next_nonce(alice.address) == alice_nonce  # nothing of the refused commands
    credited = 3 * COR * sum(1 for r in receipts if r.kind == "transfer")
    assert eng.state.ledger.balance(f"wallet:{alice.address}") == alice_balance + credited
    assert projections_match(eng)
    with eng.store.reader() as conn:
        assert conn.execute(select(db.events.c.seq).where(db.events.c.actor == alice.address, db.events.c.nonce == alice_nonce)).all() == []
    report, state = verify_store(eng.store)
    assert report.ok and state_fingerprint(state) == state_fingerprint(eng.state)
    assert Engine.open(eng.store.url, create=False).state.to_dict() == eng.state.to_dict()


def test_events_a_reader_applied_while_the_writer_waited_for_its_state_are_not_applied_twice(net, tmp_path):
    """The writer reads the events appended by others as soon as it holds the database's lock, before it
    holds the process's lock on its state (``hold``); a reader of this process holding that lock may apply
    the same events from the log meanwhile (``refresh``): the writer skips those and applies only the rest."""
    eng, keys = net
    other = Engine.open(eng.store.url)
    try:
        for i in range(3):
            other.submit_as(keys["bob"], "transfer", {"to": keys["carol"].address, "amount": str(COR + i)})
        commands = mixed_commands(other, keys, 1)  # bob's next nonces as the log has them
    finally:
        other.store.dispose()
    behind = eng.state.seq
    refreshed: list[int] = []

    class ReaderFirst:
        def __enter__(self):
            eng.refresh()  # what a reader holding the state's lock does before the writer gets it
            refreshed.append(eng.state.seq)

        def __exit__(self, *exc):
            return False

    results = eng.submit_batch(commands, hold=ReaderFirst())
    assert refreshed == [behind + 3]
    assert [r.seq for r in results if isinstance(r, Receipt)] == [behind + 4, behind + 5, behind + 6]
    assert projections_match(eng)
    report, state = verify_store(eng.store)
    assert report.ok and state_fingerprint(state) == state_fingerprint(eng.state)
