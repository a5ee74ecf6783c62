"""Closed records wherever they are: the live state, or the database once they were pruned (core/prune.py).

Under rule version ``RULES_PRUNE`` (core/rules.py) closed tasks and the records of earlier epochs leave ``State`` after each close
(and from ``RULES_BOUNTY_RETIRE`` expired bounties with their entries, from ``RULES_NODE_RETIRE`` nodes with nothing left);
the engine wrote each one's canonical bytes to the ``pruned`` documents as the close was applied. The
read paths (``cor task show``, ``cor bounty show``/``list``, ``cor epoch show``, statements, rewards, proofs, the API, the
dashboard) ask here: the live record when the state still holds it whole, else the database's copy.
``Engine`` attaches a ``StoreHistory`` to every state it loads (``state.history``); a state without
one (the simulator, a bare replay) only has what it holds.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import func, select

from ..core.bounties import get_bounty as live_bounty
from ..core.errors import InvalidInput, NotFound
from ..core.models import get_model as live_model
from ..core.params import Params
from ..core.prune import model_key
from ..core.records import Bounty, EpochRecord, Model, Node, Session, Task
from ..core.sessions import get_session as live_session
from ..core.state import State
from ..core.state_codec import decode_record
from ..core.tasks import get_task as live_task
from ..store import db
from ..store.db import Store
from ..store.projections import PRUNED_COLLECTION, NodeRows, pruned_key, read_node_rows

R = TypeVar("R")


class StoreHistory:
    """Reads pruned records back from a database (one small query each)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._has_work_index: bool | None = None

    def work_index(self, epoch: int, family: str, addresses: Iterable[str]) -> dict[str, NodeRows] | None:
        """The rows of ``addresses`` in closed epoch ``epoch``'s work index of ``family`` (``projections.read_node_rows``),
        or None when the database does not hold it whole (or has no such table: written before it, and opened read-only since)."""
        with self.store.reader() as conn:
            if self._has_work_index is None:
                from sqlalchemy import inspect

                self._has_work_index = inspect(conn).has_table(db.work_index.name)
            return read_node_rows(conn, epoch, family, addresses) if self._has_work_index else None

    def _raw(self, kind: str, key: int) -> str | None:
        with self.store.reader() as conn:
            row = conn.execute(
                select(db.documents.c.data).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == pruned_key(kind, key))
            ).first()
        return row[0] if row is not None else None

    def record(self, cls: type[Any], kind: str, key: int) -> Any:
        raw = self._raw(kind, key)
        if raw is None:
            return None
        return _decoded(cls, raw)

    def newest_node(self, node_id: str) -> Node | None:
        """The last retired record of the key ``node_id`` (``node:<address>@<registered tick>``: the latest tick sorts last)."""
        node: Node | None = self.newest_keyed(Node, "node", node_id)
        return node

    def newest_keyed(self, cls: type[Any], kind: str, ident: str) -> Any:
        """The last retired record of ``kind`` keyed ``<ident>@<registered tick>`` (a node's address, from rule 23; a
        model's id, from rule 25: the latest tick sorts last), or None."""
        rows = self._keyed_rows(kind, ident, newest_only=True)
        return _decoded(cls, rows[0]) if rows else None

    def _keyed_rows(self, kind: str, ident: str, *, newest_only: bool = False) -> list[str]:
        """The stored texts of the retired records of ``kind`` keyed ``<ident>@<registered tick>``, oldest first (one
        range query), or only the newest."""
        query = select(db.documents.c.data).where(
            db.documents.c.collection == PRUNED_COLLECTION,
            db.documents.c.key > pruned_key(kind, f"{ident}@"),
            db.documents.c.key < pruned_key(kind, f"{ident}@~"),
        )
        query = query.order_by(db.documents.c.key.desc()).limit(1) if newest_only else query.order_by(db.documents.c.key)
        with self.store.reader() as conn:
            return [raw for (raw,) in conn.execute(query).all()]

    def retired_nodes_after(self, after: str | None = None, page: int = 200) -> Iterator[Node]:
        """Each retired key's newest record (a key may retire more than once: its "node:<addr>@<tick>" keys sort by
        tick), by address, the addresses above ``after``; read ``page`` rows at a time by a key range."""
        lo = pruned_key("node", f"{after}@~") if after is not None else "node:"  # "~" follows every tick's digits
        pending: tuple[str, str] | None = None  # (address, data) of the newest record seen of the address being read
        while True:
            with self.store.reader() as conn:
                rows = conn.execute(
                    select(db.documents.c.key, db.documents.c.data)
                    .where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key > lo, db.documents.c.key < "node;")
                    .order_by(db.documents.c.key)
                    .limit(page)
                ).all()
            for key, raw in rows:
                address = key[len("node:") :].rsplit("@", 1)[0]
                if pending is not None and pending[0] != address:
                    yield _node_record(pending[1])
                pending = (address, raw)
            if len(rows) < page:
                break
            lo = rows[-1][0]
        if pending is not None:
            yield _node_record(pending[1])

    def keyed_records(self, cls: type[Any], kind: str, ident: str) -> list[Any]:
        """Every retired record of ``kind`` keyed ``<ident>@<registered tick>``, oldest first (one range query)."""
        return [_decoded(cls, raw) for raw in self._keyed_rows(kind, ident)]

    def records_after(self, cls: type[Any], kind: str, after: str | None = None, page: int = 200) -> Iterator[tuple[str, Any]]:
        """(key, record) of every record of ``kind`` whose text key (``<ident>@<registered tick>``) is above ``after``, in key
        order, read ``page`` rows at a time by a key range."""
        lo = pruned_key(kind, after) if after is not None else f"{kind}:"
        while True:
            with self.store.reader() as conn:
                rows = conn.execute(
                    select(db.documents.c.key, db.documents.c.data)
                    .where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key > lo, db.documents.c.key < f"{kind};")
                    .order_by(db.documents.c.key)
                    .limit(page)
                ).all()
            for key, raw in rows:
                yield key[len(kind) + 1 :], _decoded(cls, raw)
            if len(rows) < page:
                return
            lo = rows[-1][0]

    def tasks_below(self, below: int, page: int = 200) -> Iterator[Task]:
        """Pruned tasks with an id below ``below``, newest first (read a page at a time)."""
        return self.records_below(Task, "task", below, page)

    def records_below(self, cls: type[Any], kind: str, below: int, page: int = 200) -> Iterator[Any]:
        """Pruned records of ``kind`` with an id below ``below``, newest first (read a page at a time)."""
        while True:
            with self.store.reader() as conn:
                rows = conn.execute(
                    select(db.documents.c.key, db.documents.c.data)
                    .where(
                        db.documents.c.collection == PRUNED_COLLECTION,
                        db.documents.c.key >= f"{kind}:",
                        db.documents.c.key < pruned_key(kind, below),
                    )
                    .order_by(db.documents.c.key.desc())
                    .limit(page)
                ).all()
            for key, raw in rows:
                below = int(key.split(":")[1])
                yield _decoded(cls, raw)
            if len(rows) < page:
                return

    def count(self, kind: str) -> int:
        """How many records of ``kind`` were pruned (one COUNT over the keys; no record is read)."""
        with self.store.reader() as conn:
            n = conn.execute(
                select(func.count())
                .select_from(db.documents)
                .where(
                    db.documents.c.collection == PRUNED_COLLECTION,
                    db.documents.c.key >= f"{kind}:",
                    db.documents.c.key < f"{kind};",  # ";" follows ":": every "<kind>:<id>" key and no other kind's
                )
            ).scalar_one()
        return int(n)

    def param_versions(self) -> list[tuple[int, Params]]:
        """The pruned parameter versions, oldest first."""
        with self.store.reader() as conn:
            rows = conn.execute(
                select(db.documents.c.key, db.documents.c.data).where(
                    db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key.like("params:%")
                )
            ).all()
        return sorted((int(k.split(":")[1]), _decoded(Params, raw)) for k, raw in rows)

    def records_by_id(self, cls: type[Any], kind: str, ids: Iterable[int], batch: int = 500) -> dict[int, Any]:
        """The pruned records of ``kind`` among ``ids``, by id (one query per ``batch`` ids; an id with no row is absent)."""
        keys = [pruned_key(kind, i) for i in ids]
        out: dict[int, Any] = {}
        with self.store.reader() as conn:
            for i in range(0, len(keys), batch):
                rows = conn.execute(
                    select(db.documents.c.key, db.documents.c.data).where(
                        db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key.in_(keys[i : i + batch])
                    )
                )
                for key, raw in rows:
                    out[int(key.split(":")[1])] = _decoded(cls, raw)
        return out

    def epochs(self, start: int, stop: int) -> dict[int, EpochRecord]:
        """Every pruned epoch record in ``[start, stop)``, by epoch (one query)."""
        keys = [pruned_key("epoch", e) for e in range(start, stop)]
        out: dict[int, EpochRecord] = {}
        with self.store.reader() as conn:
            for i in range(0, len(keys), 500):
                rows = conn.execute(
                    select(db.documents.c.key, db.documents.c.data).where(
                        db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key.in_(keys[i : i + 500])
                    )
                )
                for key, raw in rows:
                    out[int(key.split(":")[1])] = _decoded(EpochRecord, raw)
        return out


def param_versions(state: State) -> list[tuple[int, Params]]:
    """Every parameter version by the epoch it applies from: the pruned ones (database), then the live history."""
    live = list(state.params_history.versions) if state.params_history is not None else []
    h = _history(state)
    return [*(h.param_versions() if h is not None and state.pruned.count else []), *live]


def _history(state: State) -> StoreHistory | None:
    h = state.history
    return h if isinstance(h, StoreHistory) else None


def is_whole(state: State, e: int) -> bool:
    """Whether the live state holds epoch ``e``'s whole record (not pruned, not slimmed)."""
    return e > state.pruned.epochs_through and e in state.epochs


def epoch_record(state: State, e: int) -> EpochRecord | None:
    """Closed epoch ``e``'s whole record (None: not closed, or pruned and no database to read it from)."""
    if is_whole(state, e):
        return state.epochs[e]
    if not 0 <= e < state.epoch or e > state.pruned.epochs_through:
        return None
    h = _history(state)
    record: EpochRecord | None = h.record(EpochRecord, "epoch", e) if h is not None else None
    return record


def closed_epochs(state: State) -> int:
    """How many epochs have closed (each has a record, live or in the database)."""
    return len(state.epochs) if state.pruned.epochs_through < 0 else state.epoch


def epoch_records(state: State, start: int = 0) -> Iterator[tuple[int, EpochRecord]]:
    """Every closed epoch's whole record from ``start`` on, in order (the pruned ones read in one query)."""
    through = state.pruned.epochs_through
    h = _history(state)
    pruned = h.epochs(max(0, start), through + 1) if h is not None and through >= start else {}
    for e in range(max(0, start), state.epoch):
        record = state.epochs.get(e) if e > through else pruned.get(e)
        if record is not None:
            yield e, record


def get_task(state: State, task_id: Any) -> Task:
    """A task, live or pruned (``invalid_task``, ``task_not_found``): a closed task whose whole record left at its close
    (``RULES_TASK_STUB``: the live state keeps a stub, which is not a ``Task``) is read from the database."""
    return _live_or_stored(state, _whole_task, Task, "task", task_id)


def get_tasks(state: State, ids: Iterable[int]) -> dict[int, Task]:
    """The whole records of the tasks ``ids`` that exist, by id: live ones from the state, the others (closed: a stub, or
    pruned) read from the database in one query per 500 ids (``StoreHistory.records_by_id``), where ``get_task`` reads
    one each. An id found nowhere is absent (``get_task`` says why)."""
    out: dict[int, Task] = {}
    stored: list[int] = []
    for tid in ids:
        live = state.tasks.get(tid)
        if isinstance(live, Task):
            out[tid] = live
        elif 0 < tid < state.next_id:
            stored.append(tid)
    h = _history(state)
    if h is not None and stored:
        out.update(h.records_by_id(Task, "task", stored))
    return out


def work_index(state: State, epoch: int, family: str, addresses: Iterable[str]) -> dict[str, NodeRows] | None:
    """The rows of ``addresses`` in closed epoch ``epoch``'s work index of ``family`` from the state's database (None: no
    database, or it does not hold the epoch's index whole: then a statement reads the tasks' records, ``get_tasks``)."""
    h = _history(state)
    return h.work_index(epoch, family, addresses) if h is not None else None


def _whole_task(state: State, task_id: Any) -> Task:
    """The live whole record of a task (the core's refusals), ``task_not_found`` for a closed task's stub."""
    task = live_task(state, task_id)
    if not isinstance(task, Task):
        raise NotFound(f"task {task_id} is closed and its record is in the database, which this state has none of", code="task_not_found")
    return task


def _live_or_stored(state: State, live: Callable[[State, Any], R], cls: type[R], kind: str, ident: Any) -> R:
    """``live(state, ident)``, else the record of ``kind`` the database keeps for that id (it left the live state); the
    live reader's refusal (an invalid id, or not found anywhere) when neither has it."""
    try:
        return live(state, ident)
    except NotFound:
        h = _history(state)
        record: R | None = h.record(cls, kind, ident) if h is not None and 0 < ident < state.next_id else None
        if record is None:
            raise
        return record


def newest_tasks(state: State, below: int | None = None) -> Iterator[Task]:
    """Every task, live or pruned, newest first, with an id below ``below`` (ids grow with creation)."""
    live = [t for t in reversed(state.tasks) if below is None or t < below]
    h = _history(state)
    pruned = h.tasks_below(below if below is not None else state.next_id) if h is not None and state.pruned.count else iter(())
    return _newest_first((state.tasks[tid] for tid in live), pruned)


def _newest_first(live: Iterator[Any], stored: Iterator[Any]) -> Iterator[Any]:
    """Two newest-first streams of records (live ones, the database's) merged by id, newest first."""
    nxt = next(stored, None)
    for record in live:
        while nxt is not None and nxt.id > record.id:
            yield nxt
            nxt = next(stored, None)
        yield record
    while nxt is not None:
        yield nxt
        nxt = next(stored, None)


def retired_node(state: State, node_id: str) -> Node | None:
    """The record a node left when it retired (``RULES_NODE_RETIRE``: read from the database; the key's last one), or
    None: live, never registered, or no database to read it from."""
    h = _history(state)
    if node_id in state.nodes or h is None or not state.pruned.count:
        return None
    return h.newest_node(node_id)


def get_model(state: State, model_id: str, at_tick: int | None = None) -> Model:
    """A model, live or retired (``RULES_MODEL_BOND``: read from the database, the id's last record) (``model_not_found``).
    With ``at_tick``: the listing of the id in force at that tick, the last one registered at or before it (an id may be
    registered, retired and registered again: each listing has its own owner and card)."""
    if at_tick is not None:
        found = [m for m in model_listings(state, model_id) if m.registered_tick <= at_tick]
        if not found:
            raise NotFound(f"model {model_id} had no listing at tick {at_tick}", code="model_not_found", model=model_id, at_tick=at_tick)
        return found[-1]
    try:
        return live_model(state, model_id)
    except NotFound:
        h = _history(state)
        record: Model | None = h.newest_keyed(Model, "model", model_id) if h is not None and state.pruned.count else None
        if record is None:
            raise
        return record


def model_listings(state: State, model_id: str) -> list[Model]:
    """Every listing of the id ``model_id``, oldest first: those that retired and left the live state (read from the
    database, one range query) and the live one, if any (``model_not_found`` when there is none at all)."""
    h = _history(state)
    listings: list[Model] = h.keyed_records(Model, "model", model_id) if h is not None and state.pruned.count else []
    live = state.models.get(model_id)
    if live is not None:
        listings.append(live)
    if not listings:
        live_model(state, model_id)  # its refusal: invalid_model or model_not_found
    return listings


MODEL_STATES = ("live", "retired", "all")  # which listings a model list shows (``cor model list --state``, ``GET /v1/models?state=``)


def models_by_key(state: State, which: str = "live", after: str | None = None, page: int = 200) -> Iterator[tuple[Model, bool]]:
    """(record, retired) of the listings ``which`` says (``MODEL_STATES``) in the order of their key ``<id>@<registered
    tick>`` (core/prune.py ``model_key``: an id's listings oldest first), the keys above ``after``: the live ones from the
    state (a retiring one among them), every retired one that left it (``RULES_MODEL_BOND``) from the database, read
    ``page`` at a time; an id registered again shows each of its listings."""
    if which not in MODEL_STATES:
        raise InvalidInput(f"state must be one of {', '.join(MODEL_STATES)}, got {which!r}", code="invalid_model_state")
    live: Iterator[tuple[Model, bool]] = iter(())
    retired: Iterator[tuple[Model, bool]] = iter(())
    if which != "retired":
        live = ((m, False) for m in sorted(state.models.values(), key=model_key) if after is None or model_key(m) > after)
    h = _history(state)
    if which != "live" and h is not None and state.pruned.count:
        retired = ((m, True) for _, m in h.records_after(Model, "model", after, page))
    return heapq.merge(live, retired, key=lambda pair: model_key(pair[0]))


def get_bounty(state: State, bounty_id: Any) -> Bounty:
    """A bounty, live or retired (``RULES_BOUNTY_RETIRE``: read from the database) (``invalid_bounty``, ``bounty_not_found``)."""
    return _live_or_stored(state, live_bounty, Bounty, "bounty", bounty_id)


def get_session(state: State, session_id: Any) -> Session:
    """A session, live or retired (``RULES_SESSION_BOUND``: closed, read from the database) (``invalid_session``,
    ``session_not_found``)."""
    return _live_or_stored(state, live_session, Session, "session", session_id)


def newest_bounties(state: State, below: int | None = None, page: int = 200) -> Iterator[Bounty]:
    """Every bounty, live or retired, newest first (ids grow with creation), with an id below ``below``; the retired
    ones are read ``page`` at a time (a caller that takes only a few asks for small pages)."""
    below = state.next_id if below is None else min(below, state.next_id)
    live = sorted((bid for bid in state.bounties if bid < below), reverse=True)
    h = _history(state)
    retired = h.records_below(Bounty, "bounty", below, page) if h is not None and state.pruned.count else iter(())
    return _newest_first((state.bounties[bid] for bid in live), retired)


def _pruned_count(state: State, kind: str) -> int:
    """How many records of ``kind`` left the live state, counted in the database (none read; 0 without one)."""
    h = _history(state)
    return h.count(kind) if h is not None and state.pruned.count else 0


def bounty_count(state: State) -> int:
    """How many bounties there are, live or retired (the retired ones counted in the database, none read)."""
    return len(state.bounties) + _pruned_count(state, "bounty")


def retired_node_count(state: State) -> int:
    """How many node records retired (rule 23), counted in the database, none read. A key that registered again after
    retiring counts once per record it retired, and its live record is among ``state.nodes``."""
    return _pruned_count(state, "node")


def task_count(state: State) -> int:
    """How many tasks there are, live or pruned (the pruned ones counted in the database, none read)."""
    return len(state.tasks) + _pruned_count(state, "task")


# --- nodes, live and retired (rule 23), by address ---------------------------------------------

NODE_STATES = ("live", "retired", "all")  # which nodes a list shows (``cor node list --state``, ``GET /v1/nodes?state=``)


def _node_record(raw: str) -> Node:
    node: Node = _decoded(Node, raw)
    return node


def nodes_by_address(state: State, which: str = "live", after: str | None = None, page: int = 200) -> Iterator[tuple[Node, bool]]:
    """(record, retired) of the nodes ``which`` says (``NODE_STATES``), by address, the addresses above ``after``: the
    live ones from the state, the retired ones (``RULES_NODE_RETIRE``) each its key's newest record, read ``page`` at a
    time from the database, a key that registered again being live only (as ``retired_node`` answers)."""
    if which not in NODE_STATES:
        raise InvalidInput(f"state must be one of {', '.join(NODE_STATES)}, got {which!r}", code="invalid_node_state")
    live: Iterator[tuple[Node, bool]] = iter(())
    retired: Iterator[tuple[Node, bool]] = iter(())
    if which != "retired":
        live = ((state.nodes[n], False) for n in sorted(state.nodes) if after is None or n > after)
    h = _history(state)
    if which != "live" and h is not None and state.pruned.count:
        retired = ((n, True) for n in h.retired_nodes_after(after, page) if n.id not in state.nodes)
    return heapq.merge(live, retired, key=lambda pair: pair[0].id)


_ROW_HEAD = re.compile(r'\{"n":[0-9]+(?:,"rules":[0-9]+)?,"record":')
"""The head of a pruned row's text as ``projections.pruned_document`` writes it (layouts 1 and 2): its ``record`` follows,
the codec's own compact text, and the row's closing brace ends it."""


def _decoded(cls: type[Any], raw: str) -> Any:
    """The record of a stored pruned row's text: the record's text as the projection wrote it when the row has the
    projection's own layout (``_ROW_HEAD``; read as it is, not parsed and written again), else its ``record`` re-encoded
    compactly, as the codec reads it (``_decoded_parsed``)."""
    head = _ROW_HEAD.match(raw)
    if head is None or not raw.endswith("}"):
        return _decoded_parsed(cls, raw)
    return decode_record(cls, raw[head.end() : -1])


def _decoded_parsed(cls: type[Any], raw: str) -> Any:
    """The record of a pruned row's text of any layout: its ``record`` parsed, then re-encoded compactly."""
    return decode_record(cls, json.dumps(json.loads(raw)["record"], separators=(",", ":")))
