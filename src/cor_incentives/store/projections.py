"""Read models: balances, postings, nodes, unbondings, slashes, epochs — projections of the log.

``Projector.project`` writes what one applied event changed; ``expected_rows`` computes every
projection from a replayed state so ``cor verify`` can compare them with what the database holds.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from ..core.apply import Applied
from ..core.json_view import json_view
from ..core.ledger import account_owner
from ..core.records import EpochRecord, Node
from ..core.state import State
from ..core.state_codec import decode_record, hashed_fields
from . import db

PROJECTION_LAYOUT_KEY = "projection_layout"
PROJECTION_LAYOUT = hashlib.sha256(json.dumps(hashed_fields(None), sort_keys=True).encode()).hexdigest()[:16]
"""A digest of every record's fields: the projections (node rows, slash, unbonding and epoch documents) are these
records as JSON, so a database projected by an engine whose records had other fields holds rows this engine would not
write. The engine re-projects such a database from the log at its first write (``Engine._catch_up_projections``);
``cor verify`` names the difference instead of listing every row."""

_INSERT_POSTING = insert(db.postings)
_INSERT_DOCUMENT = insert(db.documents)
_DELETE_BALANCE = delete(db.balances).where(db.balances.c.account == bindparam("account"))

UNBONDING_KINDS = {"stake.unbond", "stake.undelegate", "stake.withdraw", "stake.cancel_unbond", "slash.report"}


def node_view(state: State, node: Node) -> dict[str, Any]:
    """What the nodes table holds for a node."""
    view: dict[str, Any] = json_view(node)
    view["self_bond"] = json_view(state.ledger.balance(f"bonded:{node.id}"))
    view["delegator_count"] = len(node.delegators)
    view["jailed"] = node.jailed
    return view


class Projector:
    """Writes the read models of applied events inside their transaction.

    ``project`` buffers what one event changed; ``flush`` writes the buffer (one statement per table,
    final balances only) before the transaction commits; ``discard`` drops it on a rollback.
    """

    def __init__(self) -> None:
        self.slashes_projected = 0
        self.epochs_projected_through = -1  # every closed epoch up to this one has its document
        self.discard()

    def discard(self) -> None:
        self._docs: list[dict[str, Any]] = []
        self._postings: list[dict[str, Any]] = []
        self._accounts: dict[str, None] = {}
        self._nodes: set[str] = set()
        self._unbonding = False
        self._pending = False

    def reset_from(self, state: State) -> None:
        self.slashes_projected = len(state.slashes)
        self.epochs_projected_through = state.epoch - 1

    def project(self, conn: Connection, state: State, applied: Applied) -> None:
        """Buffer one applied event's changes (``conn`` is the transaction ``flush`` will use)."""
        for i, p in enumerate(applied.postings):
            self._postings.append({"seq": applied.seq, "idx": i, "src": p.src, "dst": p.dst, "amount": str(p.amount), "reason": p.reason})
            self._accounts[p.src] = None
            self._accounts[p.dst] = None
        self._nodes |= state.touched
        state.touched.clear()
        retired = [r for r in state.retired if r[0] == applied.seq]
        while self.epochs_projected_through < state.epoch - 1:  # an epoch closed: its whole record, as it closed
            e = self.epochs_projected_through + 1
            self._docs.append({"collection": "epoch", "key": str(e), "data": db.dumps(json_view(whole_epoch(state, e, retired)))})
            self.epochs_projected_through = e
        self._docs += [pruned_document(kind, key, n, data) for _, kind, key, n, data in retired]
        if retired:
            state.retired.clear()
        self._unbonding = (
            self._unbonding
            or applied.kind in UNBONDING_KINDS
            or any(p.src.startswith("unbonding:") or p.dst.startswith("unbonding:") for p in applied.postings)  # a slash inside a task event
        )
        self._pending = True

    def flush(self, conn: Connection, state: State) -> None:
        """Write everything buffered, as of ``state``."""
        if not self._pending:
            return
        if self._postings:
            conn.execute(_INSERT_POSTING, self._postings)
        rows, gone = [], []
        for account in self._accounts:
            value = state.ledger.balance(account)
            if value == 0:
                gone.append({"account": account})
            else:
                rows.append({"account": account, "owner": account_owner(account), "amount": str(value)})
        if gone:
            conn.execute(_DELETE_BALANCE, gone)
        db.upsert_many(conn, db.balances, ("account",), ("owner", "amount"), rows)
        db.upsert_many(
            conn,
            db.nodes,
            ("id",),
            ("role", "data"),
            [
                {"id": n, "role": state.nodes[n].role, "data": db.dumps(node_view(state, state.nodes[n]))}
                for n in sorted(self._nodes)
                if n in state.nodes
            ],
        )
        if self._unbonding:
            self._sync_collection(conn, "unbonding", {str(k): u for k, u in state.unbondings.items()})
        docs = [{"collection": "slash", "key": str(r.id), "data": db.dumps(json_view(r))} for r in state.slashes[self.slashes_projected :]]
        docs += self._docs
        if docs:
            conn.execute(_INSERT_DOCUMENT, docs)
        self.reset_from(state)
        db.upsert(conn, db.meta, {"key": "projected_seq"}, {"value": str(state.seq)})
        self.discard()

    def _sync_collection(self, conn: Connection, name: str, docs: dict[str, Any]) -> None:
        conn.execute(delete(db.documents).where(db.documents.c.collection == name))
        if docs:
            conn.execute(_INSERT_DOCUMENT, [{"collection": name, "key": k, "data": db.dumps(json_view(d))} for k, d in sorted(docs.items())])


PRUNED_COLLECTION = "pruned"
"""Documents of the records that left the live state (core/prune.py), keyed ``<kind>:<id>`` (id zero-padded)."""


def pruned_key(kind: str, key: int) -> str:
    """``<kind>:<id>`` with the id zero-padded, so keys sort as their ids do."""
    return f"{kind}:{key:012d}"


def pruned_document(kind: str, key: int, n: int, data: bytes) -> dict[str, Any]:
    """The row of one pruned record: its place in the running hash and its canonical bytes, verbatim."""
    return {"collection": PRUNED_COLLECTION, "key": pruned_key(kind, key), "data": '{"n":' + str(n) + ',"record":' + data.decode("ascii") + "}"}


def whole_epoch(state: State, e: int, retired: list[tuple[int, str, int, int, bytes]]) -> EpochRecord:
    """The whole record of closed epoch ``e`` as the event being projected left it (from what it pruned if it slimmed it)."""
    if e > state.pruned.epochs_through and e in state.epochs:
        return state.epochs[e]
    data = next(d for _, kind, key, _, d in retired if kind == "epoch" and key == e)
    return decode_record(EpochRecord, data)


def expected_rows(state: State) -> dict[str, Any]:
    """Every projection as it must be for ``state`` (postings excluded: they come from replay)."""
    return {
        "balances": {a: (account_owner(a), str(v)) for a, v in state.ledger.balances.items()},
        "nodes": {n.id: db.dumps(node_view(state, n)) for n in state.nodes.values()},
        "unbonding": {str(k): db.dumps(json_view(u)) for k, u in state.unbondings.items()},
        "slash": {str(s.id): db.dumps(json_view(s)) for s in state.slashes},
        "epoch": {str(e): db.dumps(json_view(r)) for e, r in state.epochs.items() if e > state.pruned.epochs_through},
    }


def stored_rows(conn: Connection) -> dict[str, Any]:
    """Every projection as the database holds it."""
    out: dict[str, Any] = {
        "balances": {r.account: (r.owner, r.amount) for r in conn.execute(select(db.balances))},
        "nodes": {r.id: r.data for r in conn.execute(select(db.nodes))},
    }
    for name in ("unbonding", "slash", "epoch", PRUNED_COLLECTION):
        out[name] = {r.key: r.data for r in conn.execute(select(db.documents).where(db.documents.c.collection == name))}
    return out


def store_layout(conn: Connection) -> str | None:
    """The record layout the database's projections were written under (None: not recorded, before it was)."""
    row = conn.execute(select(db.meta.c.value).where(db.meta.c.key == PROJECTION_LAYOUT_KEY)).first()
    return None if row is None else str(row[0])


def clear_projections(conn: Connection) -> None:
    for table in (db.balances, db.postings, db.nodes, db.documents):
        conn.execute(delete(table))
    db.delete_rows(conn, db.meta, key="projected_seq")
