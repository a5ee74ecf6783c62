"""``cor verify``: a read-only auditor that replays the whole log and checks everything it can (docs/design.md §9).

It opens the database read-only (SQLite ``mode=ro``; PostgreSQL read-only transactions), never goes
through engine start-up, never writes (the file is byte-identical afterwards), and always returns a
report, also for files that are not databases and logs that do not replay.

Checks, in order, for every event:
    hash_chain     the seq has no gap, ``prev_hash`` links to the previous event, ``hash`` is the
                   hash of the event's bytes, the stored kind/actor/nonce columns equal the signed
                   payload and the stored tick equals the logical time the replay reaches;
    signatures     the signature is in its one canonical encoding and recovers to the actor;
    replay         the core accepts the event (including the oracle's checkpoints, which must cite
                   the log's own hashes);
    conservation   no balance is negative and Σ = supply + minted after the event: checked from what
                   the event wrote and its postings (``core.conservation``, O(the event's writes)),
                   with the full scan of every balance at oracle checkpoints at most every
                   ``FULL_CHECK_EVERY`` events and at the end.
It runs under ``app.collector.engine_memory``: the cyclic garbage collector paused (its full collections
walk the whole replayed state) and numpy's arrays on small pages; the objects it made are aged into the collector's
oldest generation before it resumes (``collector.age_survivors``), so its first young collection does not walk them all. Commands are decoded once and
signatures recovered in batches of ``VERIFY_BATCH`` events (with
``workers`` ≥ 1 in forked helper processes, ahead of the replay: ``app.recovery``). The replay keeps no undo
journal: it stops applying at the first event the core refuses (whose writes are then not undone, so
that state is dropped: a failed replay returns an empty ``State()``), and only the balance writes are
logged, for the conservation check (one ``journal.WriteLog`` restarted before each event).
Then, once: every anchor given (``SEQ:HASH``) matches the log (``anchors``), the projections in the
database equal those of the replayed state (``projections``; the work index with them: ``ReplayedIndex``, its
rows rebuilt during the replay and compared epoch by epoch), every stored epoch record and root
equals the replayed one (``roots_match``), every stored blob hashes to its key (``blobs``), and
every slash is re-derived from its evidence (``slashes``, ``slashing.audit_slashes``: the task's
record shows the offence, the date is the evidence's, equivocation signatures hold, no offence
slashed twice).

``first_bad_seq`` is the smallest seq any check names. A citation (an anchor, or an oracle checkpoint
in the log) that does not match names the first seq after the last citation that did match: the log
is proven up to there and no further. An anchor beyond the end of the log names the first missing seq.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from typing import Any

from ..core.apply import CHECKPOINT_WINDOW, apply
from ..core.commands import BLOB_KINDS, blob_refs
from ..core.conservation import FULL_CHECK_EVERY, Conservation
from ..core.epoch_columns import RowStore
from ..core.errors import EngineError, InvariantViolation, Unauthorized
from ..core.events import GENESIS_PREV_HASH, Command, Event, content_hash
from ..core.journal import WriteLog, logging_to
from ..core.params import ParamHistory, Params
from ..core.prune import EPOCH, MODEL, NODE, RECORDS, fold
from ..core.records import EpochRecord, Pruned, Task
from ..core.slashing import audit_slashes
from ..core.state import State, json_ready
from ..core.state_codec import SnapshotUnreadable, decode_record, pruned_record_hash, state_hash
from ..store import db
from ..store.db import Columns, SnapshotRow, Store
from ..store.document_format import is_packed, same_document
from ..store.json_text import json_bytes_columns, json_text
from ..store.projections import (
    CLOSED_ROW,
    PROJECTION_LAYOUT,
    PRUNED_COLLECTION,
    STREAM_CHUNKS,
    WORK_INDEX_FAMILIES,
    counted_flags,
    expected_rows,
    index_cursors,
    live_epochs,
    pruned_key,
    store_layout,
    stored_postings,
    stored_rows,
    stored_text,
    take_index_rows,
)
from ..store.work_index_format import MalformedChunk, decode_chunk, decode_names
from .anchors import Anchor
from .archive import StoreHistory
from .collector import age_survivors, engine_memory
from .logcheck import column_problems, link_problems
from .recovery import recovered
from .signing import seal_decoded, signed_by_actor
from .snapshots import SnapshotRefused, state_from_row

MAX_ERRORS = 50
VERIFY_BATCH = 1_024  # events read, decoded and signature-recovered together
CHECKPOINT_KINDS = ("tick", "epoch.close")
TEXT_KEYED = (NODE, MODEL)  # the pruned kinds keyed by text, <address or id>@<registered tick> (prune.node_key, model_key)


@dataclass
class VerifyReport:
    ok: bool = True
    events: int = 0
    hash_chain: bool = True
    signatures: bool = True
    replay: bool = True
    conservation: bool = True
    projections: bool = True
    roots_match: bool = True
    anchors: bool = True
    blobs: bool = True
    slashes: bool = True  # every slash re-derived from its evidence and the final state (slashing.audit_slashes)
    chain: bool = True  # the log against an EVM distributor (``--chain``): anchors, roots, totals
    epochs_checked: int = 0
    work_index_checked: int = 0  # (epoch, family) pairs whose stored work index was compared with the replay's rows
    anchors_checked: int = 0
    checkpoints_checked: int = 0
    chain_epochs_checked: int = 0
    epochs_without_checkpoint: list[int] = field(default_factory=list)
    beacon_values_checked: int = 0  # each tick's value hashes to the one before it (checked by the core on replay)
    first_bad_seq: int | None = None
    errors: list[str] = field(default_factory=list)
    from_snapshot: int | None = None  # --from-snapshot: the anchored snapshot the replay started from (None: genesis)
    snapshot_anchored_by: int | None = None  # the oracle's event whose checkpoint carries the snapshot's hash

    def fail(self, check: str, seq: int | None, message: str) -> None:
        if hasattr(self, check) and isinstance(getattr(self, check), bool):
            setattr(self, check, False)
        self.ok = False
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"seq {seq}: {message}" if seq is not None else message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Citations:
    """(seq, matched, what) of every anchor and oracle checkpoint checked, to place a mismatch."""

    items: list[tuple[int, bool, str]] = field(default_factory=list)

    def add(self, seq: int, matched: bool, what: str) -> None:
        self.items.append((seq, matched, what))

    def report_mismatches(self, report: VerifyReport) -> None:
        """Each citation that did not match, placed after the last one below it that did."""
        for seq, ok, what in self.items:
            if not ok:
                report.fail("anchors", self.first_unproven(seq), what)

    def first_unproven(self, seq: int) -> int:
        """The first seq after the last matching citation below ``seq`` (0 when none)."""
        good = [s for s, ok, _ in self.items if ok and s < seq]
        return max(good) + 1 if good else 0


def verify_database(
    url: str | None,
    anchors: Iterable[Anchor] = (),
    progress: Callable[[int], None] | None = None,
    also: Callable[[Store, State, VerifyReport], None] | None = None,
    from_snapshot: bool = False,
    workers: int = 0,
) -> tuple[VerifyReport, State]:
    """Open ``url`` read-only and verify it; any failure to open or read it is a report, never an exception.

    ``also`` adds checks against something outside the database (an EVM chain) while it is open.
    ``workers``: processes recovering signatures ahead of the replay (``app.recovery``; 0: in-process)."""
    try:
        store = Store(url, create=False)
    except EngineError as exc:
        return _broken(f"cannot open the database: {exc.message}"), State()
    except Exception as exc:  # not a database, unreachable server, ...
        return _broken(f"cannot open the database: {type(exc).__name__}: {_first_line(exc)}"), State()
    try:
        report, state = verify_store(store, anchors, progress, from_snapshot=from_snapshot, workers=workers)
        if also is not None and report.replay:
            also(store, state, report)
        return report, state
    finally:
        store.dispose()


def verify_store(
    store: Store,
    anchors: Iterable[Anchor] = (),
    progress: Callable[[int], None] | None = None,
    *,
    from_snapshot: bool = False,
    workers: int = 0,
) -> tuple[VerifyReport, State]:
    """Replay ``store``'s log into a fresh state and check it all, in one consistent read snapshot.

    ``from_snapshot``: start from the newest stored snapshot the oracle anchored (the event after it
    is the oracle's, and its checkpoint carries the snapshot's hash, which the core recomputes when it
    replays that event) instead of genesis; the events before it are then vouched for by the oracle's
    signature, not replayed. No anchored snapshot: ``no_anchored_snapshot``, a failed report.

    ``workers`` ≥ 1 recovers the signatures in that many forked helper processes, ahead of the replay
    (``app.recovery``): the same report, in less wall time on several cores. Only where this thread
    is the process's only one doing work (the ``cor verify`` command), as forking is.

    The state returned is the replayed one when the whole log replayed (``report.replay``); when the
    core refused an event (or the database could not be read) it is an empty ``State()``: the replay
    keeps no undo journal, so what it held at the refusal is no state of the log."""
    anchors = list(anchors)
    try:
        with store.snapshot() as conn, engine_memory():
            start: tuple[State, SnapshotRow, int] | None = None
            if from_snapshot:
                start = _anchored_snapshot(store, conn)
                if start is None:
                    report = _broken(
                        "no_anchored_snapshot: no stored snapshot is anchored by an oracle checkpoint (`cor epoch close` anchors "
                        "one under rule version 5); verify from genesis instead"
                    )
                    return report, State()
            report, state = _verify(store, conn, anchors, progress, start, workers)
            age_survivors()  # the replayed state is kept: no young collection walks it as the collector resumes
        # the records the replay pruned are read back from the database (checked against the replay's own above), so
        # what reads a closed epoch or task of the replayed state (`--chain`'s roots, the caller) finds it
        state.history = StoreHistory(store)
        return report, state
    except Exception as exc:  # a corrupt file, a missing table, a dropped connection: still a report
        return _broken(f"the database cannot be read: {type(exc).__name__}: {_first_line(exc)}"), State()


def _broken(message: str) -> VerifyReport:
    report = VerifyReport()
    report.replay = report.hash_chain = False
    report.fail("replay", None, message)
    return report


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _anchored_snapshot(store: Store, conn: Any) -> tuple[State, SnapshotRow, int] | None:
    """The newest stored snapshot whose next event is an oracle checkpoint carrying its hash, loaded
    and checked (``app.snapshots.state_from_row``), with that event's seq; None when there is none."""
    for meta in store.snapshot_rows(conn, with_data=False):
        nxt = store.events_after(conn, meta.seq, 1)
        if not nxt:
            continue
        try:
            cmd = Command.decode(nxt[0].payload)
        except EngineError:
            continue
        cited = cmd.body.get("checkpoint") if cmd.kind in CHECKPOINT_KINDS else None
        if not isinstance(cited, dict) or cited.get("seq") != meta.seq or "state" not in cited:
            continue
        row = store.snapshot_rows(conn, up_to=meta.seq, limit=1)[0]
        try:
            state = state_from_row(store, conn, row)
        except SnapshotRefused:
            continue
        if cited["state"] != state_hash(state):  # the hash under the log's rule version, of the decoded state (nothing packed)
            continue
        genesis = store.events_after(conn, -1, 1)
        if not genesis or Command.decode(genesis[0].payload).actor != state.oracle or cmd.actor != state.oracle:
            continue  # the anchor must be signed by the oracle the log's genesis names
        return state, row, nxt[0].seq
    return None


def _verify(
    store: Store,
    conn: Any,
    anchors: list[Anchor],
    progress: Callable[[int], None] | None,
    start: tuple[State, SnapshotRow, int] | None = None,
    workers: int = 0,
) -> tuple[VerifyReport, State]:
    report = VerifyReport()
    state = State()
    prev_hash = GENESIS_PREV_HASH
    expected_seq = 0
    postings: list[tuple[int, int, str, str, str, str]] = []
    replay_ok = True
    recent: deque[tuple[int, str]] = deque(maxlen=CHECKPOINT_WINDOW)  # the stored hashes a checkpoint may cite
    if start is not None:
        state, row, anchored_by = start
        report.from_snapshot, report.snapshot_anchored_by = row.seq, anchored_by
        prev_hash, expected_seq = row.head_hash, row.seq + 1
        for e in store.events_after(conn, max(-1, row.seq - CHECKPOINT_WINDOW), row.seq - max(-1, row.seq - CHECKPOINT_WINDOW)):
            recent.append((e.seq, e.hash))
    anchored = {a.seq for a in anchors}
    stored_at: dict[int, str] = {}
    citations = _Citations()
    blob_first_use: dict[str, int] = {}
    retired = Retired()
    index = ReplayedIndex(conn, state)
    conservation = Conservation()
    try:
        conservation.start(state)  # the full scan of where the replay starts (nothing, or the snapshot)
    except InvariantViolation as exc:
        report.fail("conservation", expected_seq - 1, f"the starting snapshot: {exc}")
    since_full = 0
    beacon_round = state.beacon.round if state.beacon is not None else 0
    # no undo journal (the replay stops at the first event that fails); the balances each event writes, and what they
    # held before, are logged for the incremental conservation check: one write log, restarted before each event
    writes = WriteLog(state.ledger.balances)
    with logging_to(writes):
        for (chunk, decoded), recovered_signers in recovered(_batches(store.iter_logged(conn=conn, after=expected_seq - 1)), workers):
            signers = iter(recovered_signers)
            for (event, columns), cmd_or_error in zip(chunk, decoded):
                seq = event.seq
                report.events += 1
                if progress:
                    progress(seq)
                for problem in link_problems(event, expected_seq, prev_hash):
                    report.fail("hash_chain", seq, problem)
                prev_hash = event.hash
                expected_seq = seq + 1
                if seq in anchored:
                    stored_at[seq] = prev_hash
                cmd: Command | None
                signer: str | Unauthorized | None
                if isinstance(cmd_or_error, Command):
                    cmd = cmd_or_error
                    signer = next(signers)
                    kind = cmd_or_error.kind
                    if kind in CHECKPOINT_KINDS:
                        _check_checkpoint(cmd_or_error, recent, citations, report, seq)
                    if kind in BLOB_KINDS and isinstance(cmd_or_error.body, dict):
                        for ref in blob_refs(kind, cmd_or_error.body):
                            blob_first_use.setdefault(ref, seq)
                else:
                    report.fail("replay", seq, f"the payload does not decode: {cmd_or_error.message}")
                    replay_ok = False
                    cmd = signer = None
                recent.append((seq, prev_hash))
                if not replay_ok or cmd is None or signer is None:
                    continue
                try:
                    signed_by_actor(cmd, signer)
                except EngineError as exc:
                    report.fail("signatures", seq, f"signature check failed: {exc.message}")
                if event.tick != state.tick:
                    report.fail("hash_chain", seq, f"the stored tick {event.tick} is not the logical time {state.tick} the log reaches")
                    event = replace(event, tick=state.tick)
                try:
                    # replay follows the stored chain fields so a broken link is reported once, above (written only
                    # when they differ: after an event that follows its predecessor, apply left them so)
                    if state.head_hash != event.prev_hash:
                        state.head_hash = event.prev_hash
                    if state.seq != seq - 1:
                        state.seq = seq - 1
                    writes.restart(state.ledger.balances)
                    applied = apply(state, seal_decoded(event, cmd), atomic=False)
                    moves = applied.postings
                    if moves:
                        postings += [(seq, i, p.src, p.dst, str(p.amount), p.reason) for i, p in enumerate(moves)]
                    if state.retired:
                        retired.take(state, seq)
                    index.take(state)
                    beacon_round = state.beacon.round if state.beacon is not None else 0
                except EngineError as exc:
                    report.fail("replay", seq, f"the core rejects this event on replay ({exc.code}): {exc.message}")
                    replay_ok = False
                    continue
                except Exception as exc:  # an invariant broken by a forged event, etc.
                    report.fail("replay", seq, f"the event cannot be replayed: {type(exc).__name__}: {exc}")
                    replay_ok = False
                    continue
                for problem in column_problems(applied, columns):
                    report.fail("hash_chain", seq, problem)
                since_full += 1
                try:
                    conservation.after_event(state, writes, moves)
                    if since_full >= FULL_CHECK_EVERY and cmd.kind in CHECKPOINT_KINDS and _carries_checkpoint(cmd):
                        since_full = 0
                        conservation.full(state)
                except InvariantViolation as exc:
                    report.fail("conservation", seq, str(exc))
    if replay_ok and report.events:
        try:
            conservation.full(state)
        except InvariantViolation as exc:
            report.fail("conservation", expected_seq - 1, f"at the end of the log: {exc}")
    _check_anchors(anchors, stored_at, expected_seq, citations, report)
    _check_blobs(conn, blob_first_use, report)
    report.beacon_values_checked = beacon_round  # (as of the last event applied: a refused one's writes are not undone)
    if replay_ok:
        _check_projections(conn, state, postings, report, after=expected_seq_start(start), retired=retired, index=index)
        report.epochs_without_checkpoint = [e for e, r in sorted(state.epochs.items()) if r.checkpoint is None]
        for problem in audit_slashes(state, StoredTasks(conn), stored_params_at(conn, state)):
            report.fail("slashes", None, problem)
        return report, state
    # the core refused an event: the replay stopped there without undoing that event's writes (no undo journal), so
    # its state is no state of the log; the caller gets an empty one (``report.replay`` is False), never that
    return report, State()


_Batch = tuple[list[tuple[Event, Columns]], list[Command | EngineError]]  # rows read together, and their decoded commands


def _batches(rows: Iterator[tuple[Event, Columns]]) -> Iterator[tuple[_Batch, list[tuple[bytes, str]]]]:
    """The log in batches of ``VERIFY_BATCH`` rows: (the rows, their decoded commands), and the signed
    payloads of those that decode (what ``app.recovery.recovered`` recovers)."""
    while chunk := list(islice(rows, VERIFY_BATCH)):
        decoded = _decode_all(chunk)
        yield (chunk, decoded), [(e.payload, e.signature) for (e, _), cmd in zip(chunk, decoded) if isinstance(cmd, Command)]


def _decode_all(chunk: list[tuple[Event, Columns]]) -> list[Command | EngineError]:
    """Each event's command, decoded once (or why its payload does not decode)."""
    out: list[Command | EngineError] = []
    for event, _ in chunk:
        try:
            out.append(Command.decode(event.payload))
        except EngineError as exc:
            out.append(exc)
    return out


def _carries_checkpoint(cmd: Command) -> bool:
    return cmd.kind in CHECKPOINT_KINDS and isinstance(cmd.body, dict) and isinstance(cmd.body.get("checkpoint"), dict)


def _check_checkpoint(cmd: Command, recent: deque[tuple[int, str]], citations: _Citations, report: VerifyReport, seq: int) -> None:
    """An oracle checkpoint in the log cites (seq, hash) of a recent event: compare with what is stored."""
    cited = cmd.body.get("checkpoint") if cmd.kind in CHECKPOINT_KINDS and isinstance(cmd.body, dict) else None
    if not isinstance(cited, dict) or not isinstance(cited.get("seq"), int):
        return
    report.checkpoints_checked += 1
    stored = next((h for s, h in recent if s == cited["seq"]), None)
    if stored == cited.get("hash"):
        citations.add(cited["seq"], True, "checkpoint")
        return
    citations.add(
        cited["seq"],
        False,
        f"the oracle's checkpoint in event {seq} says event {cited['seq']} has hash "
        f"{cited.get('hash')}; the log has {stored} (the log before it was rewritten)",
    )


def _check_anchors(anchors: list[Anchor], stored_at: dict[int, str], end_seq: int, citations: _Citations, report: VerifyReport) -> None:
    """Each external anchor against the stored hash at its seq (all matches are known before placing a mismatch)."""
    for a in sorted(anchors, key=lambda a: a.seq):
        report.anchors_checked += 1
        if a.seq >= end_seq:
            report.fail(
                "anchors",
                end_seq,
                f"anchor {a.seq}:{a.hash} lies beyond the end of the log (seq {end_seq - 1}): events from {end_seq} on are missing (truncated)",
            )
        else:
            citations.add(
                a.seq,
                stored_at.get(a.seq) == a.hash,
                f"anchor {a.seq}:{a.hash} does not match the log's hash {stored_at.get(a.seq)} at that seq "
                "(an event at or before it was changed, removed or re-signed)",
            )
    citations.report_mismatches(report)


def _check_blobs(conn: Any, first_use: dict[str, int], report: VerifyReport) -> None:
    """Every stored blob must hash to its key; a bad one names the first event that refers to it."""
    from sqlalchemy import select

    from ..store import db

    for row in conn.execute(select(db.blobs.c.hash, db.blobs.c.data)):
        data = bytes(row.data)
        if content_hash(data) != row.hash:
            report.fail("blobs", first_use.get(row.hash), f"blob {row.hash}: the stored bytes hash to {content_hash(data)}")


def expected_seq_start(start: tuple[State, SnapshotRow, int] | None) -> int:
    """The last seq not replayed (-1 from genesis; the snapshot's seq from a snapshot)."""
    return -1 if start is None else start[1].seq


class StoredTasks(Mapping[int, Task]):
    """The tasks pruned from the state, read from the database's copies when asked (their bytes are
    checked against the state's running hash by ``_check_pruned``)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __getitem__(self, task_id: int) -> Task:
        from sqlalchemy import select

        where = (db.documents.c.collection == PRUNED_COLLECTION) & (db.documents.c.key == pruned_key("task", task_id))
        raw = self.conn.execute(select(db.documents.c.data).where(where)).scalar()
        if raw is None:
            raise KeyError(task_id)
        task: Task = decode_record(Task, json.dumps(json.loads(raw)["record"], separators=(",", ":")))
        return task

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


def stored_params_at(conn: Any, state: State) -> Callable[[int], Params]:
    """``ParamHistory.at`` over the pruned versions in the database and the state's own."""
    from sqlalchemy import select

    where = (db.documents.c.collection == PRUNED_COLLECTION) & db.documents.c.key.like("params:%")
    rows = conn.execute(select(db.documents.c.key, db.documents.c.data).where(where)).all()
    pruned = [(int(k.split(":")[1]), decode_record(Params, json.dumps(json.loads(raw)["record"], separators=(",", ":")))) for k, raw in rows]
    live = state.params_history.versions if state.params_history is not None else ()
    history = ParamHistory(tuple(sorted([*pruned, *live], key=lambda v: v[0])))
    return history.at


class Retired:
    """What the replay pruned from the live state (core/prune.py): each record's bytes, and whole epoch records."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[int, int, bytes]] = {}  # "<kind>:<id>" -> (n, rule version at retirement, canonical bytes)
        self.epochs: dict[int, EpochRecord] = {}  # epoch -> its whole record, as replayed (its document: json_text of it)

    def take(self, state: State, seq: int) -> None:
        ours = [r for r in state.retired if r[0] == seq]
        for _, kind, key, n, data, rules in ours:
            self.records[pruned_key(kind, key)] = (n, rules, data)
            if kind == EPOCH:
                self.epochs[int(key)] = decode_record(EpochRecord, data)
        if ours:
            state.retired.clear()


class ReplayedIndex:
    """The work index (``db.work_index``) the projector would have written for the replayed events, compared with the
    stored chunks of each (epoch, family) as the replay closes the epoch, the open epoch at the end (``finish``). The
    projector's own ``take_index_rows`` moves the cursors and names the closes; the rows are the replay's work columns
    themselves (append-only: the epoch's rows are its columns' rows, which the cursor's columns object, replaced at the
    close, still holds), so nothing of an epoch's rows is copied or held beyond the columns the replay holds anyway, and
    the stored chunks are read one after another (``_index_problem``). Compared: the rows' tasks, nodes (as addresses:
    the interned names' order and the chunking may differ between the projector's flushes and the replay) and counted
    flags, and the close row's count. Only an epoch whose rows the replay took from row 0 is checked (from an anchored
    snapshot taken mid-epoch, that epoch is not). An epoch the stored index does not have at all is fine (projected
    before the table existed: a statement reads the records); one it has must be the replay's rows from its first chunk on
    to the epoch's end, and start at row 0 unless it is the first epoch of its family the table holds (the database was
    migrated during it: its engine's projector began at the rows it loaded)."""

    def __init__(self, conn: Any, state: State) -> None:
        from sqlalchemy import func, inspect, select

        self.conn = conn
        self.cursors = index_cursors(state)
        self.closed: list[tuple[int, int, int]] = []
        # per family: the first epoch whose rows the replay takes from row 0 (from genesis: the first)
        self.from_row0 = [c.epoch if c.rows == 0 else c.epoch + 1 for c in self.cursors]
        self.checked: set[tuple[int, int]] = set()
        self.problems: list[str] = []
        self.compared = 0  # (epoch, family) pairs the stored index had rows of
        self.present = inspect(conn).has_table(db.work_index.name)
        t = db.work_index.c
        self.first_stored: dict[str, int] = (
            {f: int(e) for f, e in conn.execute(select(t.family, func.min(t.epoch)).group_by(t.family))} if self.present else {}
        )

    def take(self, state: State) -> None:
        """After each replayed event: the cursors moved on; each epoch it closed compared at once, with the columns it closed.

        An event that added no row and replaced no columns (most events: a transfer, a delegation, a tick that closes
        nothing) leaves every cursor at its columns' end: ``take_index_rows`` would move nothing and close nothing, so it
        is not called (``unmoved``)."""
        if self.unmoved(state):
            return
        columns = [c.columns for c in self.cursors]  # (a close replaces the state's: these hold the closed epoch whole)
        take_index_rows(state, self.cursors, None, self.closed)
        if self.closed:
            for family, epoch, rows in self.closed:
                self._check(family, epoch, columns[family], rows, rows)
            self.closed.clear()

    def unmoved(self, state: State) -> bool:
        """Each family's cursor is at the state's columns object, at its last row: nothing for ``take_index_rows`` to
        take or close (its two families: ``projections._family_columns``, ``state.epoch_work`` and
        ``state.epoch_validations``)."""
        work, validation = self.cursors
        return (
            work.columns is state.epoch_work
            and validation.columns is state.epoch_validations
            and len(state.epoch_work.task) == work.rows  # (``len`` of a RowStore: its ``task`` column's)
            and len(state.epoch_validations.task) == validation.rows
        )

    def finish(self, state: State) -> list[str]:
        """Compare the open epoch's rows, and name stored (epoch, family) pairs the replay did not produce."""
        from sqlalchemy import select

        for family, cursor in enumerate(self.cursors):
            self._check(family, state.epoch, cursor.columns if cursor.epoch == state.epoch else None, cursor.rows, None)
        if self.present:
            t = db.work_index.c
            for epoch, name in self.conn.execute(select(t.epoch, t.family).distinct()).all():
                family = WORK_INDEX_FAMILIES.index(name) if name in WORK_INDEX_FAMILIES else -1
                if family < 0:
                    self.problems.append(f"work index: rows of family {name!r}, which is none of {', '.join(WORK_INDEX_FAMILIES)}")
                elif epoch >= self.from_row0[family] and (epoch, family) not in self.checked:
                    self.problems.append(
                        f"work index: epoch {epoch} {name} has rows the replay does not produce "
                        "(no such epoch yet, or one closed by the same event as the next)"
                    )
        return self.problems

    def _check(self, family: int, epoch: int, columns: RowStore | None, rows: int, closed_rows: int | None) -> None:
        if epoch < self.from_row0[family]:
            return  # rows the replay did not take from row 0 (an anchored snapshot inside the epoch, or before it)
        self.checked.add((epoch, family))
        if self.present:
            mine = ReplayedRows.of(columns, rows)
            problem = _index_problem(self.conn, epoch, WORK_INDEX_FAMILIES[family], mine, closed_rows, self.first_stored)
            if problem:
                self.problems.append(problem)
            if problem != NOT_STORED:
                self.compared += 1


@dataclass(frozen=True)
class ReplayedRows:
    """An epoch's rows [0, ``rows``) of one family as the replay's columns hold them (no copy: ``_index_problem`` views
    a batch of them at a time), and the names they intern."""

    tasks: Any  # array('q')
    nodes: Any  # array('i')
    counted: Any  # array('b')
    names: list[str]
    rows: int

    @staticmethod
    def of(columns: RowStore | None, rows: int) -> ReplayedRows:
        if columns is None:
            return ReplayedRows(b"", b"", b"", [], 0)
        return ReplayedRows(columns.task, columns.node, counted_flags(columns), columns.nodes.names, rows)

    def batch(self, start: int, end: int) -> tuple[Any, Any, Any]:
        """Rows [start, end) as int64 tasks, int32 nodes and int8 flags (copies: no view outlives the call, so the columns
        can grow again)."""
        import numpy as np

        n = end - start
        return (
            np.frombuffer(self.tasks, dtype=np.int64, count=n, offset=8 * start).copy(),
            np.frombuffer(self.nodes, dtype=np.int32, count=n, offset=4 * start).copy(),
            np.frombuffer(self.counted, dtype=np.int8, count=n, offset=start).copy(),
        )


NOT_STORED = ""  # (``_index_problem``: the table has no row of the epoch and family, which is no problem)
COMPARE_ROWS = 1 << 16
"""Stored rows decoded before they are compared with the replay's at once (``_index_problem``): what verify holds of an
epoch's index at any time, ~1 MB, whatever the epoch's size."""


def _index_problem(conn: Any, epoch: int, family: str, mine: ReplayedRows, closed_rows: int | None, first_stored: dict[str, int]) -> str | None:
    """How the stored work index of ``epoch`` and ``family`` differs from the replay's rows ``mine`` (from row 0) and
    close (``closed_rows``, None: the epoch is open), None when it does not, ``NOT_STORED`` when the table has nothing of it.
    The stored chunks are read and decoded one after another (streamed from the database) and compared with the replay's
    rows ``COMPARE_ROWS`` at a time: the first problem in row order is named."""
    import numpy as np
    from sqlalchemy import func, select

    t = db.work_index.c
    of = (t.epoch == epoch, t.family == family)
    close = [int(n) for (n,) in conn.execute(select(t.row_count).where(*of, t.first_row == CLOSED_ROW).order_by(t.row_count))]
    start_row = conn.execute(select(func.min(t.first_row)).where(*of, t.first_row != CLOSED_ROW)).scalar()
    if not close and start_row is None:
        return NOT_STORED
    where = f"work index: epoch {epoch} {family}"
    replayed = mine.rows
    if closed_rows is None and close:
        return f"{where}: a close row ({close[0]} rows) for an epoch the log has not closed"
    if closed_rows is not None and not close:
        return f"{where}: no close row (the replay closes it with {closed_rows} rows)"
    if close and close[0] != closed_rows:
        return f"{where}: the close row says {close[0]} rows, the replay closes it with {closed_rows}"
    start = replayed if start_row is None else int(start_row)
    if start > replayed:
        return f"{where}: its chunks start at row {start}, past the replay's {replayed} rows"
    if start != 0 and first_stored.get(family) != epoch:
        return f"{where}: its chunks start at row {start}, not 0 (rows 0-{start - 1} missing)"
    # the names interned before row ``start`` (first appearance in the rows: the replay's) and those the chunks add
    names = list(mine.names[: int(max(mine.nodes[:start])) + 1 if start else 0])
    mine_at = {a: i for i, a in enumerate(mine.names)}
    as_mine = np.array([mine_at.get(a, -1) for a in names], dtype=np.int64)  # a stored node as the replay's index of its address
    at, compared, batched = start, start, 0
    batch: list[tuple[Any, Any, Any]] = []

    def compare() -> str | None:
        """The stored rows of ``batch`` (from row ``compared``) against the replay's, the batch emptied."""
        nonlocal compared, batched, as_mine
        if not batch:
            return None
        stored_tasks, stored_nodes, stored_counted = (np.concatenate(c) for c in zip(*batch, strict=True))
        batch.clear()
        batched = 0
        my_tasks, my_nodes, my_counted = mine.batch(compared, compared + len(stored_tasks))
        if len(as_mine) < len(names):
            as_mine = np.concatenate([as_mine, np.array([mine_at.get(a, -1) for a in names[len(as_mine) :]], dtype=np.int64)])
        valid = (stored_nodes >= 0) & (stored_nodes < len(names))
        stored_as_mine = np.full(len(stored_nodes), -1, dtype=np.int64)  # (-1: an address the replay did not intern, or out of range)
        stored_as_mine[valid] = as_mine[stored_nodes[valid]]
        differ = (stored_tasks != my_tasks) | (stored_as_mine != my_nodes) | (stored_counted != my_counted)
        if not differ.any():
            compared += len(stored_tasks)
            return None
        r = int(np.argmax(differ))
        i = int(stored_nodes[r])
        theirs = names[i] if 0 <= i < len(names) else f"index {i} (of {len(names)} names)"
        return (
            f"{where}: row {compared + r} differs from the replay: stored task {int(stored_tasks[r])} node {theirs} "
            f"counted {int(stored_counted[r])}, replayed task {int(my_tasks[r])} node {mine.names[int(my_nodes[r])]} counted {int(my_counted[r])}"
        )

    chunks = conn.execute(
        select(t.first_row, t.row_count, t.tasks, t.nodes, t.counted, t.new_names)
        .where(*of, t.first_row != CLOSED_ROW)
        .order_by(t.first_row, t.row_count)
        .execution_options(yield_per=STREAM_CHUNKS)  # (streamed: a server-side cursor on PostgreSQL)
    )
    try:
        for first, n, ts, nd, c, new in chunks:
            if first != at:
                return f"{where}: the chunk at row {first} does not follow the one before (which ends at row {at})"
            try:
                more = decode_names(new)
            except MalformedChunk:
                return f"{where}: the chunk at row {first} does not list the names it interns"
            names += more
            if at + n <= replayed:  # (rows past the replay's end are counted, not compared: named below)
                try:
                    batch.append(decode_chunk(int(n), ts, nd, c))
                except MalformedChunk as exc:
                    return f"{where}: the chunk at row {first} is malformed: {exc}"
                batched += n
            at += n
            if batched >= COMPARE_ROWS and (problem := compare()):
                return problem
    finally:
        chunks.close()
    if at != replayed:
        return f"{where}: the stored rows end at row {at}, the replay's at row {replayed}"
    return compare()


def _check_pruned(stored: dict[str, str], state: State, retired: Retired, report: VerifyReport) -> None:
    """The database's pruned records fold to the replayed state's running hash, and equal what the replay pruned."""
    parsed = []
    for key, data in stored.items():
        try:
            row = json.loads(data)
        except ValueError:
            row = None
        if not isinstance(row, dict) or type(row.get("n")) is not int or "record" not in row:
            report.fail("projections", None, f"pruned record {key} is not a readable row (JSON with an integer n and a record)")
            return
        parsed.append((row["n"], key, row))
    rows = sorted(parsed, key=lambda r: (r[0], r[1]))
    running = Pruned().hash
    for i, (n, key, row) in enumerate(rows):
        if n != i:
            report.fail("projections", None, f"pruned record {key} is number {n}, expected {i}: a pruned record is missing")
            return
        kind, _, ident = key.partition(":")
        if kind not in RECORDS:
            report.fail("projections", None, f"pruned record {key} is of no kind the engine prunes ({', '.join(RECORDS)})")
            return
        if kind not in TEXT_KEYED and not (ident.isascii() and ident.isdigit()):
            report.fail("projections", None, f"pruned record {key} does not name a {kind} by its number")
            return
        rules = row.get("rules")
        if type(rules) is not int:
            report.fail("projections", None, f"pruned record {key} does not say the rule version it retired under (its fold reads it)")
            return
        try:
            record = json.dumps(row["record"], separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")
        except ValueError:  # a float NaN or infinity: never in a record the engine wrote
            report.fail("projections", None, f"pruned record {key} holds a value no record has")
            return
        mine = retired.records.get(key)
        if mine is not None and mine != (n, rules, record):
            report.fail("projections", None, f"pruned record {key} differs from the one the replay pruned")
        try:
            folded = pruned_record_hash(RECORDS[kind], rules, record)
        except SnapshotUnreadable as exc:  # a row whose fold must decode it (a parameter version, or fewer fields than it holds)
            report.fail("projections", None, f"pruned record {key} is not a {RECORDS[kind].__name__} record: {exc.message}")
            return
        running = fold(running, kind, ident if kind in TEXT_KEYED else int(ident), folded)
    if (len(rows), running) != (state.pruned.count, state.pruned.hash):
        report.fail("projections", None, f"the pruned records ({len(rows)}) do not hash to the state's ({state.pruned.count}, {state.pruned.hash})")


def _check_projections(
    conn: Any,
    state: State,
    postings: list[tuple[int, int, str, str, str, str]],
    report: VerifyReport,
    after: int = -1,
    retired: Retired | None = None,
    index: ReplayedIndex | None = None,
) -> None:
    if index is not None:
        for problem in index.finish(state):
            report.fail("projections", None, problem)
        report.work_index_checked = index.compared
    layout = store_layout(conn)
    if layout is not None and layout != PROJECTION_LAYOUT:
        report.fail(
            "projections",
            None,
            f"the projections were written by an engine with another record layout ({layout}; this one writes {PROJECTION_LAYOUT}): "
            "they are rebuilt from the log at the next write (restart `cor serve`, or any signed command); the log itself is checked above",
        )
        return
    stored = stored_rows(conn, epoch_text=False)  # the epoch documents as stored: compared in their parts below
    stored_post = stored_postings(conn, after)
    expected = expected_rows(state, epochs=False)
    for name in ("balances", "nodes", "unbonding", "slash"):
        if stored[name] != expected[name]:
            diff = sorted(set(stored[name].items()) ^ set(expected[name].items()))[:3]
            hint = ""
            if layout is None:
                hint = " (written before their record layout was recorded, maybe by an older engine: the next write re-projects them from the log)"
            report.fail("projections", None, f"projection {name} differs from the replayed state{hint}: {diff}")
    if stored_post != postings:
        first = next((a for a, b in zip(stored_post, postings) if a != b), None)
        report.fail("projections", first[0] if first else None, "postings projection differs from replay")
    retired = retired if retired is not None else Retired()
    _check_pruned(stored[PRUNED_COLLECTION], state, retired, report)
    live = live_epochs(state)
    for e in range(state.epoch):
        record = live.get(e, retired.epochs.get(e))
        if record is None:  # pruned before the snapshot this verify started from: checked through the running hash
            continue
        report.epochs_checked += 1
        data = stored["epoch"].get(str(e))
        if data is not None and is_packed(data) and same_document(data, *json_bytes_columns(record)):
            continue  # formats 2 and 3: the same text with placeholders and the same columns, so the same canonical text
        mine_doc = json_text(record)
        stored_doc = None if data is None else stored_text(data)
        if stored_doc == mine_doc:
            continue  # the same canonical text (json_text == db.dumps(json_view)): the same record, no need to parse either
        mine = json.loads(mine_doc)
        try:
            theirs = json.loads(stored_doc if stored_doc is not None else "null")
        except ValueError:  # not JSON (a packed document that does not decompress reads as a description of why)
            report.fail("projections", None, f"epoch {e}: stored document is not the record's text: {(stored_doc or '')[:200]}")
            continue
        if theirs is None or theirs.get("root") != mine.get("root"):
            report.fail("roots_match", None, f"epoch {e}: stored root {theirs and theirs.get('root')} != replayed {mine.get('root')}")
        elif theirs != mine:
            report.fail("projections", None, f"epoch {e}: stored record differs from the replayed one")
        else:  # the same record in other bytes: the published document is its canonical text, byte for byte
            report.fail(
                "projections",
                None,
                f"epoch {e}: stored document is the replayed record in other bytes, not its canonical text (sorted keys, no spaces)",
            )
    if set(stored["epoch"]) - {str(e) for e in range(state.epoch)}:
        report.fail("projections", None, "the database holds epoch records the log does not produce")


def state_fingerprint(state: State) -> str:
    """A canonical JSON of the state, for comparing replays."""
    return json.dumps(json_ready(state.to_dict()), sort_keys=True)
