"""Read models: balances, postings, nodes, unbondings, slashes, epochs — projections of the log.

``Projector.project`` writes what one applied event changed; ``expected_rows`` computes every
projection from a replayed state so ``cor verify`` can compare them with what the database holds.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from ..core.apply import Applied
from ..core.ledger import account_owner
from ..core.state import Node, State, _stringify
from . import db

UNBONDING_KINDS = {"stake.unbond", "stake.undelegate", "stake.withdraw", "slash.report"}


def node_view(state: State, node: Node) -> dict[str, Any]:
    """What the nodes table holds for a node."""
    d = asdict(node)
    d["self_bond"] = state.ledger.balance(f"bonded:{node.id}")
    d["delegator_count"] = len(node.delegators)
    d["jailed"] = node.jailed
    d["delegators"] = sorted(node.delegators)
    return _stringify(d)


class Projector:
    """Writes the read models for each applied event, inside the event's transaction."""

    def __init__(self) -> None:
        self.slashes_projected = 0
        self.epochs_projected: set[int] = set()

    def reset_from(self, state: State) -> None:
        self.slashes_projected = len(state.slashes)
        self.epochs_projected = set(state.epochs)

    def project(self, conn: Connection, state: State, applied: Applied) -> None:
        touched_accounts: dict[str, None] = {}
        for i, p in enumerate(applied.postings):
            conn.execute(
                insert(db.postings).values(seq=applied.seq, idx=i, src=p.src, dst=p.dst, amount=str(p.amount), reason=p.reason)
            )
            touched_accounts[p.src] = None
            touched_accounts[p.dst] = None
        for account in touched_accounts:
            value = state.ledger.balance(account)
            if value == 0:
                db.delete_rows(conn, db.balances, account=account)
            else:
                db.upsert(conn, db.balances, {"account": account}, {"owner": account_owner(account), "amount": str(value)})
        for node_id in sorted(state.touched):
            node = state.nodes.get(node_id)
            if node is not None:
                db.upsert(conn, db.nodes, {"id": node_id}, {"role": node.role, "data": db.dumps(node_view(state, node))})
        state.touched.clear()
        if applied.kind in UNBONDING_KINDS:
            self._sync_collection(conn, "unbonding", {str(k): asdict(u) for k, u in state.unbondings.items()})
        for record in state.slashes[self.slashes_projected:]:
            conn.execute(insert(db.documents).values(collection="slash", key=str(record.id), data=db.dumps(_stringify(asdict(record)))))
        self.slashes_projected = len(state.slashes)
        for e in sorted(set(state.epochs) - self.epochs_projected):
            conn.execute(insert(db.documents).values(collection="epoch", key=str(e), data=db.dumps(_stringify(asdict(state.epochs[e])))))
            self.epochs_projected.add(e)
        db.upsert(conn, db.meta, {"key": "projected_seq"}, {"value": str(state.seq)})

    def _sync_collection(self, conn: Connection, name: str, docs: dict[str, dict[str, Any]]) -> None:
        conn.execute(delete(db.documents).where(db.documents.c.collection == name))
        for key, doc in sorted(docs.items()):
            conn.execute(insert(db.documents).values(collection=name, key=key, data=db.dumps(_stringify(doc))))


def expected_rows(state: State) -> dict[str, Any]:
    """Every projection as it must be for ``state`` (postings excluded: they come from replay)."""
    return {
        "balances": {a: (account_owner(a), str(v)) for a, v in state.ledger.balances.items()},
        "nodes": {n.id: db.dumps(node_view(state, n)) for n in state.nodes.values()},
        "unbonding": {str(k): db.dumps(_stringify(asdict(u))) for k, u in state.unbondings.items()},
        "slash": {str(s.id): db.dumps(_stringify(asdict(s))) for s in state.slashes},
        "epoch": {str(e): db.dumps(_stringify(asdict(r))) for e, r in state.epochs.items()},
    }


def stored_rows(conn: Connection) -> dict[str, Any]:
    """Every projection as the database holds it."""
    out: dict[str, Any] = {
        "balances": {r.account: (r.owner, r.amount) for r in conn.execute(select(db.balances))},
        "nodes": {r.id: r.data for r in conn.execute(select(db.nodes))},
    }
    for name in ("unbonding", "slash", "epoch"):
        out[name] = {
            r.key: r.data for r in conn.execute(select(db.documents).where(db.documents.c.collection == name))
        }
    return out


def clear_projections(conn: Connection) -> None:
    for table in (db.balances, db.postings, db.nodes, db.documents):
        conn.execute(delete(table))
    db.delete_rows(conn, db.meta, key="projected_seq")
