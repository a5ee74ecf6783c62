"""Read models: balances, postings, nodes, unbondings, slashes, epochs — projections of the log.

``Projector.project`` writes what one applied event changed; ``expected_rows`` computes every
projection from a replayed state so ``cor verify`` can compare them with what the database holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import operator
from array import array
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from ..core.apply import Applied
from ..core.epoch_columns import RowStore, ValidationColumns, WorkColumns
from ..core.json_view import json_view
from ..core.ledger import account_owner
from ..core.records import EpochRecord, Node
from ..core.state import State
from ..core.state_codec import decode_record, hashed_fields
from . import bulk, db, document_format
from .document_format import TEXT_FORMAT, document_text
from .json_text import json_bytes, json_bytes_columns, json_bytes_fields, json_bytes_rows, json_text, kept_bytes
from .work_index_format import decode_chunk, decode_names, encode_chunk

PRUNED_ROW_FORMAT = 2
"""The layout of a pruned record's row: 2 (``{"n", "rules", "record"}``) holds the rule version it retired under, which its
fold reads (``state_codec.pruned_record_hash``); 1 (``{"n", "record"}``) did not. Part of ``PROJECTION_LAYOUT``: a database
written with rows of another format is re-projected from its log at the next write."""

PROJECTION_LAYOUT_KEY = "projection_layout"
PROJECTION_LAYOUT = hashlib.sha256(json.dumps([hashed_fields(None), PRUNED_ROW_FORMAT], sort_keys=True).encode()).hexdigest()[:16]
"""A digest of every record's fields and of the pruned rows' format (``PRUNED_ROW_FORMAT``): the projections (node rows,
slash, unbonding, epoch and pruned documents) are these records as JSON, so a database projected by an engine whose records
had other fields, or pruned rows of another format, holds rows this engine would not write. The engine re-projects such a
database from the log at its first write (``Engine._catch_up_projections``); ``cor verify`` names the difference instead of listing every row."""

log = logging.getLogger(__name__)

UNBONDING_KINDS = {"stake.unbond", "stake.undelegate", "stake.withdraw", "stake.cancel_unbond", "slash.report"}
_posting_fields = operator.attrgetter("src", "dst", "amount", "reason")  # a posting's values, in the postings table's order


_NODE_FIELDS = tuple(f.name for f in dataclasses.fields(Node))
_node_values = operator.attrgetter(*_NODE_FIELDS)  # (looked up once: 10 k nodes' rows at every close)

_NODE_ROW_FIELDS = (*_NODE_FIELDS, "self_bond", "delegator_count", "jailed")
"""A node row's names: the node's fields, then what ``_node_row_values`` adds."""


def node_record(state: State, node: Node) -> dict[str, Any]:
    """What the nodes table holds for a node, before its JSON view: the node's fields and three more (``_NODE_ROW_FIELDS``)."""
    return dict(zip(_NODE_ROW_FIELDS, _node_row_values(state, node), strict=True))


def node_view(state: State, node: Node) -> dict[str, Any]:
    """What the nodes table holds for a node, as JSON values (``db.dumps`` of it is the row's text: ``node_text``)."""
    view: dict[str, Any] = json_view(node_record(state, node))
    return view


def node_text(state: State, node: Node) -> str:
    """The nodes table's text for a node: ``db.dumps(node_view(state, node))``, written by ``json_text``."""
    return node_bytes(state, node).decode("ascii")


def node_bytes(state: State, node: Node) -> bytes:
    """``node_text`` as its ASCII bytes: ``json_bytes(node_record(state, node))``, written from the node's field values
    without that dict (``json_bytes_fields``)."""
    return json_bytes_fields(_NODE_ROW_FIELDS, _node_row_values(state, node))


def nodes_bytes(state: State, nodes: Sequence[Node]) -> list[bytes]:
    """``[node_bytes(state, n) for n in nodes]``, written by one orjson call (``json_bytes_rows``: every node row of a close)."""
    return json_bytes_rows(_NODE_ROW_FIELDS, [_node_row_values(state, n) for n in nodes])


def _node_row_values(state: State, node: Node) -> tuple[Any, ...]:
    """A node row's values, in the order of ``_NODE_ROW_FIELDS``: the node's fields, its self-bond, delegator count and
    jail (the one definition of the row: ``node_record`` zips it with the names)."""
    return (*_node_values(node), state.ledger.balance(f"bonded:{node.id}"), len(node.delegators), node.jailed)


WORK_INDEX_FAMILIES = ("miner_work", "validator_work")
"""The work index's streams (``db.work_index.family``): a work line's stream (``epoch_document.WORK_ACCOUNTS``), whose rows
are ``state.epoch_work`` (counted: ``in_consensus``) and ``state.epoch_validations`` (counted: ``on_time``)."""

CLOSED_ROW = -1
"""``first_row`` of the work index row that marks an epoch closed (its ``row_count``: the epoch's rows)."""


def _family_columns(state: State) -> tuple[tuple[RowStore, array[int]], ...]:
    """Each work index family's columns in the state and their counted flags (in ``WORK_INDEX_FAMILIES`` order)."""
    return ((state.epoch_work, state.epoch_work.in_consensus), (state.epoch_validations, state.epoch_validations.on_time))


@dataclasses.dataclass
class IndexCursor:
    """How far the work index of one family has been projected: the epoch, its columns object (replaced at a close:
    the old one still holds the whole closed epoch), the rows and interned names taken."""

    epoch: int = 0
    columns: RowStore | None = None
    rows: int = 0
    names: int = 0


@dataclasses.dataclass
class IndexChunk:
    """The rows of one family and epoch buffered since the last flush (``first_row``: the epoch's row they start at)."""

    first_row: int
    tasks: array[int] = dataclasses.field(default_factory=lambda: array("q"))
    nodes: array[int] = dataclasses.field(default_factory=lambda: array("i"))
    counted: array[int] = dataclasses.field(default_factory=lambda: array("b"))
    names: list[str] = dataclasses.field(default_factory=list)

    def take(self, columns: RowStore, counted: array[int], cursor: IndexCursor) -> None:
        """Buffer ``columns``' rows and interned names after ``cursor`` (array slices: no record built); move it on."""
        end, names = len(columns), len(columns.nodes)
        self.tasks += columns.task[cursor.rows : end]
        self.nodes += columns.node[cursor.rows : end]
        self.counted += counted[cursor.rows : end]
        self.names += columns.nodes.names[cursor.names : names]
        cursor.rows, cursor.names = end, names

    def packed(self) -> tuple[bytes, bytes, bytes, str]:
        """The chunk's ``tasks``, ``nodes``, ``counted`` and ``new_names`` columns (``db.work_index``): the rows in layout 2
        (``work_index_format.encode_chunk``: all in ``tasks``, the other two empty)."""
        return encode_chunk(self.tasks, self.nodes, self.counted), b"", b"", json.dumps(self.names)


def index_cursors(state: State) -> list[IndexCursor]:
    """A cursor per work index family at the rows ``state`` holds now (``Projector.reset_from``; ``cor verify`` from where
    its replay starts: row 0 from genesis)."""
    return [IndexCursor(state.epoch, columns, len(columns), len(columns.nodes)) for columns, _ in _family_columns(state)]


def take_index_rows(
    state: State, cursors: list[IndexCursor], chunks: dict[tuple[int, int], IndexChunk] | None, closed: list[tuple[int, int, int]]
) -> None:
    """Buffer in ``chunks`` ((family, epoch) -> its rows) the rows the event just applied appended to the epoch's work
    columns after ``cursors`` (the work index: ``db.work_index``), and in ``closed`` (family, epoch, its rows) each epoch
    it closed. A close replaces the columns: the old object still holds the closed epoch whole, so its last rows are taken
    from it and the epoch closed; an event that closes two epochs leaves the one between without an index. The one
    definition of which rows and flags the index holds: ``Projector.project`` writes them, ``cor verify`` (app/verify.py)
    compares them with the replay's columns. ``chunks`` None: the cursors move on and the closes are listed, no row is
    copied (``cor verify``: the columns are append-only, so an epoch's rows are its columns' rows [0, its rows), which the
    cursor's columns object, replaced at the close, still holds)."""
    for family, ((columns, counted), cursor) in enumerate(zip(_family_columns(state), cursors, strict=True)):
        if cursor.columns is not columns:
            old = cursor.columns
            if old is not None and cursor.epoch < state.epoch:  # the epoch closed: its columns are complete
                _take(chunks, family, cursor, old, counted_flags(old))
                closed.append((family, cursor.epoch, cursor.rows))
                cursor.epoch, cursor.rows, cursor.names = state.epoch, 0, 0
            elif old is None and cursor.epoch != state.epoch:  # (a projector that never saw this epoch begin)
                cursor.epoch = state.epoch
            cursor.columns = columns  # (same epoch: the state was rebuilt from the log, the same rows)
        if len(columns) > cursor.rows:
            _take(chunks, family, cursor, columns, counted)


def _take(chunks: dict[tuple[int, int], IndexChunk] | None, family: int, cursor: IndexCursor, columns: RowStore, counted: array[int]) -> None:
    if chunks is None:
        cursor.rows, cursor.names = len(columns), len(columns.nodes)
        return
    chunk = chunks.get((family, cursor.epoch))
    if chunk is None:
        chunk = chunks[(family, cursor.epoch)] = IndexChunk(cursor.rows)
    chunk.take(columns, counted, cursor)


class Projector:
    """Writes the read models of applied events inside their transaction.

    ``project`` buffers what one event changed; ``flush`` writes the buffer before the transaction
    commits; ``discard`` drops it on a rollback. The flush writes rows through the driver in bulk
    (``store.bulk``: one statement per table) and only rows that changed:

    - a balance whose final value equals its value before the buffered events (an account a close
      credits and empties again, such as ``rewards:<node>``) is left as the database holds it;
    - a node row whose view is the one this projector last wrote (``_node_rows``: a digest per node)
      is not rewritten. Those digests describe the database only while every event since the flush
      that wrote them passed through this projector: they are forgotten when the next buffered event
      does not follow that flush, at ``reset_from`` (events applied by another process) and at
      ``discard`` (the transaction rolled back).
    """

    def __init__(self, document_format: int = TEXT_FORMAT) -> None:
        self.document_format = document_format  # how this database stores its epoch documents (store/document_format.py)
        self.slashes_projected = 0
        self.epochs_projected_through = -1  # every closed epoch up to this one has its document
        self.last_flush_rows: dict[str, int] = {}  # rows written by the last flush, per table (benchmarks report it)
        self._node_rows: dict[str, bytes] = {}
        self._rows_through = -1  # the seq the node digests describe
        self._cursors = [IndexCursor() for _ in WORK_INDEX_FAMILIES]
        self._flushed_cursors = [IndexCursor() for _ in WORK_INDEX_FAMILIES]  # as the last flush left them (``discard``)
        self._clear()

    def _clear(self) -> None:
        self._docs: list[tuple[str, str, str | bytes]] = []  # an epoch's document as its bytes (json_bytes)
        self._packed: list[tuple[str, str, bytes]] = []  # an epoch's document in format 2 or 3 (compressed: a BLOB, not text)
        self._postings: list[tuple[int, int, str, str, str, str]] = []
        self._accounts: dict[str, int | None] = {}  # account -> its balance before the buffered events (None: unknown, write it)
        self._nodes: set[str] = set()
        self._unbonding = False
        self._pending = False
        self._chunks: dict[tuple[int, int], IndexChunk] = {}  # (family, epoch) -> its rows since the last flush
        self._closed: list[tuple[int, int, int]] = []  # (family, epoch, its rows) of the epochs that closed since

    def discard(self) -> None:
        """Drop the buffer (the transaction rolled back): what was written in it is not in the database."""
        self._clear()
        self._forget_rows()
        self._cursors = [dataclasses.replace(c) for c in self._flushed_cursors]

    def _forget_rows(self) -> None:
        self._node_rows = {}
        self._rows_through = -1

    def reset_from(self, state: State) -> None:
        self.slashes_projected = len(state.slashes)
        self.epochs_projected_through = state.epoch - 1
        self._forget_rows()
        # the work index from the rows the state holds now: those before were projected by whoever wrote the database
        # (a statement reads the index of an epoch only if its chunks tile every row from 0: else the tasks' records)
        self._cursors = index_cursors(state)
        self._flushed_cursors = [dataclasses.replace(c) for c in self._cursors]

    def project(self, conn: Connection, state: State, applied: Applied) -> None:
        """Buffer one applied event's changes (``conn`` is the transaction ``flush`` will use)."""
        if not self._pending and applied.seq != self._rows_through + 1:
            self._forget_rows()  # events this projector did not write came between
        accounts, seq, buffered = self._accounts, applied.seq, self._postings.append
        fresh: dict[str, int] = {}  # accounts this event is the first to touch -> what the event moved through them
        moved_before = fresh.get
        for i, (src, dst, amount, reason) in enumerate(map(_posting_fields, applied.postings)):  # (26.7 k at a close)
            buffered((seq, i, src, dst, str(amount), reason))
            if src not in accounts:
                fresh[src] = moved_before(src, 0) - amount
            if dst not in accounts:
                fresh[dst] = moved_before(dst, 0) + amount
        for account, moved in fresh.items():
            accounts[account] = state.ledger.balance(account) - moved
        self._nodes |= state.touched
        state.touched.clear()
        take_index_rows(state, self._cursors, self._chunks, self._closed)
        retired = [r for r in state.retired if r[0] == applied.seq]
        while self.epochs_projected_through < state.epoch - 1:  # an epoch closed: its whole record, as it closed
            e = self.epochs_projected_through + 1
            record = whole_epoch(state, e, retired)
            if self.document_format == TEXT_FORMAT:
                self._docs.append(("epoch", str(e), kept_bytes(json_bytes(record))))  # (kept until the flush)
            else:  # formats 2 and 3: the text without its long integer columns, and the columns as int64 deltas, compressed
                self._packed.append(("epoch", str(e), document_format.pack(*json_bytes_columns(record), self.document_format)))
            self.epochs_projected_through = e
        self._docs += [pruned_document(kind, key, n, data, rules) for _, kind, key, n, data, rules in retired]
        if retired:
            state.retired.clear()
        self._unbonding = (
            self._unbonding
            or applied.kind in UNBONDING_KINDS
            # a posting through an unbonding account (a slash inside a task event): the buffer's accounts are the accounts
            # its postings touched, each added by the first event to touch it, so this event's postings touch one that
            # is not among this event's ``fresh`` only when an earlier event touched it first and set ``_unbonding``
            or any(account.startswith("unbonding:") for account in fresh)
        )
        self._pending = True

    def buffered_rows(self, state: State) -> int:
        """About how many rows ``flush`` would write now, as of ``state`` (postings, accounts, nodes, documents,
        unbondings, index chunks)."""
        buffered = (self._postings, self._accounts, self._nodes, self._docs, self._packed, self._chunks, self._closed)
        return sum(map(len, buffered)) + (len(state.unbondings) if self._unbonding else 0)

    def flush(self, conn: Connection, state: State) -> None:
        """Write everything buffered, as of ``state``."""
        if not self._pending:
            return
        written = {"postings": len(self._postings)}
        bulk.insert_rows(conn, db.postings, POSTING_COLUMNS, self._postings)
        balance = state.ledger.balance
        rows, gone = [], []
        for account, before in self._accounts.items():
            value = balance(account)
            if value == before:
                continue
            if value == 0:
                gone.append(account)
            else:
                rows.append((account, account_owner(account), str(value)))
        bulk.delete_keys(conn, db.balances, "account", gone)
        bulk.upsert_rows(conn, db.balances, ("account",), ("owner", "amount"), rows)
        written["balances"], written["balances_deleted"] = len(rows), len(gone)
        node_rows = []
        touched = sorted(self._nodes)
        live = [(n, node) for n in touched if (node := state.nodes.get(n)) is not None]
        for (n, node), data in zip(live, nodes_bytes(state, [node for _, node in live]), strict=True):
            digest = hashlib.blake2b(node.role.encode() + b"\n" + data, digest_size=16).digest()
            if self._node_rows.get(n) != digest:
                self._node_rows[n] = digest
                node_rows.append((n, node.role, data))
        bulk.upsert_rows(conn, db.nodes, ("id",), ("role", "data"), node_rows, text_bytes=("data",))
        retired = [n for n in touched if n not in state.nodes]  # retired (rule 23): its record is in ``pruned``
        bulk.delete_keys(conn, db.nodes, "id", retired)
        for n in retired:
            self._node_rows.pop(n, None)
        written["nodes"], written["nodes_deleted"] = len(node_rows), len(retired)
        if self._unbonding:
            self._sync_collection(conn, "unbonding", {str(k): u for k, u in state.unbondings.items()})
        docs: list[tuple[str, str, str | bytes]] = [("slash", str(r.id), json_text(r)) for r in state.slashes[self.slashes_projected :]]
        docs += self._docs
        bulk.insert_rows(conn, db.documents, DOCUMENT_COLUMNS, docs, text_bytes=("data",))
        bulk.insert_rows(conn, db.documents, DOCUMENT_COLUMNS, self._packed)  # bytes bound as they are: a BLOB
        written["documents"] = len(docs) + len(self._packed)
        index_rows = [(epoch, WORK_INDEX_FAMILIES[family], c.first_row, len(c.tasks), *c.packed()) for (family, epoch), c in self._chunks.items()]
        index_rows += [(epoch, WORK_INDEX_FAMILIES[family], CLOSED_ROW, n, b"", b"", b"", "[]") for family, epoch, n in self._closed]
        bulk.insert_rows(conn, db.work_index, WORK_INDEX_COLUMNS, index_rows)
        written["work_index"] = len(index_rows)
        self._flushed_cursors = [dataclasses.replace(c) for c in self._cursors]
        self.slashes_projected = len(state.slashes)
        self.epochs_projected_through = state.epoch - 1
        db.upsert(conn, db.meta, {"key": "projected_seq"}, {"value": str(state.seq)})
        self._rows_through = state.seq
        self.last_flush_rows = written
        self._clear()

    def _sync_collection(self, conn: Connection, name: str, docs: dict[str, Any]) -> None:
        bulk.delete_keys(conn, db.documents, "collection", [name])  # (no SQLAlchemy statement: it may run in a pipeline)
        bulk.insert_rows(conn, db.documents, DOCUMENT_COLUMNS, [(name, k, json_text(d)) for k, d in sorted(docs.items())])


POSTING_COLUMNS = ("seq", "idx", "src", "dst", "amount", "reason")
WORK_INDEX_COLUMNS = ("epoch", "family", "first_row", "row_count", "tasks", "nodes", "counted", "new_names")


STREAM_CHUNKS = 64
"""Chunks ``read_node_rows`` fetches from the driver at a time (each a flush's rows: ~1-2 kB stored in layout 2)."""

NodeRows = tuple[list[int], int]
"""One node's rows of an epoch's work index (``read_node_rows``): the tasks of its counted rows in row order
(``epoch_document.node_tasks``: one id a row), and how many rows it has in all (its line's ``assignments``)."""


def read_node_rows(conn: Connection, epoch: int, family: str, addresses: Iterable[str]) -> dict[str, NodeRows] | None:
    """The rows of each of ``addresses`` in epoch ``epoch``'s work index of ``family`` (an address without a row: ``([],
    0)``), read in one pass over the epoch's chunks, each decoded and dropped in turn (what is held: one chunk's arrays
    and the asked nodes' rows, not the epoch's). None when the index does not hold the epoch whole: no close row, or
    chunks that do not tile rows [0, row_count) one after another, or a chunk's node indices outside the names interned
    by then (its own ``new_names`` included: a writer interns a node before its row), as when written before the table
    existed, by a projector that did not see the epoch from its first row, or with a chunk deleted; or a chunk that is no
    chunk of its rows in either layout (``work_index_format.MalformedChunk``: logged as a warning)."""
    wanted = set(addresses)
    found: dict[str, tuple[list[int], list[int]]] = {a: ([], [0]) for a in wanted}  # (its counted tasks, [its rows])
    at_index: dict[int, str] = {}  # node index -> an asked address, from the chunk that interns its name
    t = db.work_index.c
    rows = conn.execute(
        select(t.first_row, t.row_count, t.tasks, t.nodes, t.counted, t.new_names).where(t.epoch == epoch, t.family == family).order_by(t.first_row),
        execution_options={"yield_per": STREAM_CHUNKS},  # (PostgreSQL: a server-side cursor, not the epoch's chunks fetched whole)
    )
    try:
        chunks = iter(rows)
        close = next(chunks, None)
        if close is None or close[0] != CLOSED_ROW:
            return None
        total, at, names = int(close[1]), 0, 0
        for first, n, ts, nd, c, new in chunks:  # (one row at a time from the driver: a chunk's arrays dropped at the next)
            if first != at:
                return None
            try:
                tasks, nodes, counted = decode_chunk(int(n), ts, nd, c)
                more = decode_names(new)
            except ValueError as exc:  # (``MalformedChunk``)
                why = "the chunk at row %s is malformed (%s): the statement reads the tasks' records"
                log.warning("work index: epoch %s %s: " + why, epoch, family, first, exc)
                return None
            for k, name in enumerate(more):
                if name in wanted:
                    wanted.discard(name)  # (its first index, as the intern table gives it)
                    at_index[names + k] = name
            names += len(more)
            if len(nodes) and not 0 <= int(nodes.min()) <= int(nodes.max()) < names:
                return None
            counts = counted != 0
            for i, name in at_index.items():
                mine = nodes == i
                ids, count = found[name]
                ids += tasks[mine & counts].tolist()
                count[0] += int(mine.sum())
            at += n
        if at != total:
            return None
        return {a: (ids, count[0]) for a, (ids, count) in found.items()}
    finally:
        rows.close()


def counted_flags(columns: RowStore) -> array[int]:
    """Which rows of ``columns`` count in a node line's tasks: a miner's row in consensus, a validator's on time."""
    return columns.in_consensus if isinstance(columns, WorkColumns) else cast(ValidationColumns, columns).on_time


DOCUMENT_COLUMNS = ("collection", "key", "data")


PRUNED_COLLECTION = "pruned"
"""Documents of the records that left the live state (core/prune.py), keyed ``<kind>:<id>`` (id zero-padded)."""


def pruned_key(kind: str, key: int | str) -> str:
    """``<kind>:<id>`` with an integer id zero-padded, so keys sort as their ids do; a text id (a node's
    ``<address>@<registered tick>``, core/prune.py ``node_key``; a model's ``<id>@<registered tick>``, ``model_key``) as it is."""
    return f"{kind}:{key:012d}" if isinstance(key, int) else f"{kind}:{key}"


def pruned_document(kind: str, key: int | str, n: int, data: bytes, rules: int) -> tuple[str, str, str]:
    """The row (collection, key, data) of one pruned record: its place in the running hash, the rule version it retired under
    and its canonical bytes, verbatim."""
    return (PRUNED_COLLECTION, pruned_key(kind, key), '{"n":' + str(n) + ',"rules":' + str(rules) + ',"record":' + data.decode("ascii") + "}")


def whole_epoch(state: State, e: int, retired: list[tuple[int, str, int | str, int, bytes, int]]) -> EpochRecord:
    """The whole record of closed epoch ``e`` as the event being projected left it (from what it pruned if it slimmed it)."""
    if e > state.pruned.epochs_through and e in state.epochs:
        return state.epochs[e]
    data = next(d for _, kind, key, _, d, _ in retired if kind == "epoch" and key == e)
    return decode_record(EpochRecord, data)


def expected_rows(state: State, epochs: bool = True) -> dict[str, Any]:
    """Every projection as it must be for ``state`` (postings excluded: they come from replay).

    The texts are written by ``json_text`` (node rows by ``node_text``), which is ``db.dumps(json_view(x))`` byte for
    byte (tests/store/test_json_text.py, also on a network's replayed state) in a fraction of its time: ``cor verify``
    compares the same texts as before, at a fraction of the cost (bench/README.md). ``epochs=False``: the epoch
    documents are left out (``cor verify`` writes each one's text only when ``same_document`` cannot decide)."""
    nodes = list(state.nodes.values())
    return {
        "balances": {a: (account_owner(a), str(v)) for a, v in state.ledger.balances.items()},
        "nodes": {n.id: t.decode("ascii") for n, t in zip(nodes, nodes_bytes(state, nodes), strict=True)},
        "unbonding": {str(k): json_text(u) for k, u in state.unbondings.items()},
        "slash": {str(s.id): json_text(s) for s in state.slashes},
        "epoch": {str(e): json_text(r) for e, r in live_epochs(state).items()} if epochs else {},
    }


def live_epochs(state: State) -> dict[int, EpochRecord]:
    """The epoch records the live state holds whose documents the epochs table keeps (those after the pruned ones)."""
    through = state.pruned.epochs_through
    return state.epochs if through < 0 else {e: r for e, r in state.epochs.items() if e > through}


def stored_rows(conn: Connection, epoch_text: bool = True) -> dict[str, Any]:
    """Every projection as the database holds it (postings excepted: ``stored_postings``), read in bulk; the epoch
    documents as their canonical text (``epoch_text=False``: as stored, either format, for ``stored_text`` later)."""
    out: dict[str, Any] = {
        "balances": {account: (owner, amount) for account, owner, amount in bulk.select_rows(conn, db.balances, ("account", "owner", "amount"))},
        "nodes": dict(bulk.select_rows(conn, db.nodes, ("id", "data"))),
    }
    for name in ("unbonding", "slash", "epoch", PRUNED_COLLECTION):
        out[name] = dict(bulk.select_rows(conn, db.documents, ("key", "data"), where=[("collection", "=", name)]))
    if epoch_text:
        out["epoch"] = {key: stored_text(data) for key, data in out["epoch"].items()}
    return out


def stored_text(data: str | bytes) -> str:
    """An epoch document's canonical text under any format (store/document_format.py); a packed value that does not
    decompress is kept as a description of what is wrong, which no replayed text equals and which is not JSON."""
    try:
        return document_text(data)
    except ValueError as exc:  # a malformed or corrupt packed value
        return f"({exc})"


def stored_postings(conn: Connection, after: int = -1) -> list[tuple[int, int, str, str, str, str]]:
    """The postings of the events after seq ``after``, as (seq, idx, src, dst, amount, reason) in log order, read in bulk."""
    return bulk.select_rows(conn, db.postings, POSTING_COLUMNS, where=[("seq", ">", after)], order_by=("seq", "idx"))


def store_layout(conn: Connection) -> str | None:
    """The record layout the database's projections were written under (None: not recorded, before it was)."""
    row = conn.execute(select(db.meta.c.value).where(db.meta.c.key == PROJECTION_LAYOUT_KEY)).first()
    return None if row is None else str(row[0])


def clear_projections(conn: Connection) -> None:
    for table in (db.balances, db.postings, db.nodes, db.documents, db.work_index):
        conn.execute(delete(table))
    db.delete_rows(conn, db.meta, key="projected_seq")
