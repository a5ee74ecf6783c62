"""Projections read in bulk through the driver (``bulk.select_rows``: what ``cor verify`` compares with the
replayed state) give exactly the rows SQLAlchemy's own reads give, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cor_incentives.core.units import COR
from cor_incentives.store import bulk, db
from cor_incentives.store.document_format import document_text
from cor_incentives.store.projections import PRUNED_COLLECTION, stored_postings, stored_rows
from support.network import make_network


def test_bulk_reads_equal_sqlalchemy_reads(db_url, tmp_path):
    eng, keys = make_network(db_url, tmp_path / "keys", n_miners=3, n_validators=2, seed="bulk-read")
    for i in range(3):
        eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": str(i + 1)})
        eng.submit_as(keys["bob"], "stake.delegate", {"node": keys["miner0"].address, "amount": str(COR)})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    try:
        with eng.store.reader() as conn:
            rows = stored_rows(conn)
            assert rows["balances"] == {r.account: (r.owner, r.amount) for r in conn.execute(select(db.balances))}
            assert rows["nodes"] == {r.id: r.data for r in conn.execute(select(db.nodes))} and len(rows["nodes"]) == len(eng.state.nodes)
            for name in ("unbonding", "slash", "epoch", PRUNED_COLLECTION):
                where = db.documents.c.collection == name
                stored = {r.key: r.data for r in conn.execute(select(db.documents).where(where))}
                if name == "epoch":  # stored_rows gives an epoch document's canonical text under either format
                    stored = {k: document_text(v) for k, v in stored.items()}
                assert rows[name] == stored
            assert rows["epoch"], "the epoch record is there"
            for after in (-1, 5):
                ordered = select(db.postings).where(db.postings.c.seq > after).order_by(db.postings.c.seq, db.postings.c.idx)
                expected = [(int(r.seq), int(r.idx), r.src, r.dst, r.amount, r.reason) for r in conn.execute(ordered)]
                got = stored_postings(conn, after)
                assert got == expected and len(got) > 0
                assert all(type(r[0]) is int and type(r[1]) is int and type(r[4]) is str for r in got)
            with pytest.raises(ValueError):
                bulk.select_rows(conn, db.postings, ("seq",), where=[("seq", "; DROP TABLE postings; --", 1)])
            with pytest.raises(ValueError):
                bulk.select_rows(conn, db.postings, ("seq",), where=[("nonsense", "=", 1)])
    finally:
        eng.store.dispose()
