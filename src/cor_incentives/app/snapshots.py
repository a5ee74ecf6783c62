"""State snapshots in the database: open a network by loading the newest one and replaying the tail.

A snapshot is the whole state after event ``seq`` (``core.state_codec``: canonical, versioned bytes),
stored with the sha256 of those bytes. The engine writes one after each batch that closed an epoch,
and after ``snapshot_interval`` events without one (1 000 to ``SNAPSHOT_EVERY_EVENTS``, by the
state's size); it keeps the newest ``SNAPSHOTS_KEPT``.

Nothing in a snapshot is trusted because it is there. Before one is used it must:
    * be of this encoding's format (``snapshot_format``),
    * decompress and hash to the hash stored beside it (``snapshot_corrupt``),
    * decode to a state whose last event is the row's (``seq``, ``head_hash``) (``snapshot_mismatch``),
    * follow the log: the log's event ``seq`` has that hash (``snapshot_mismatch``).
A snapshot that fails any of these is refused with the reason, and the engine replays the whole log
instead (``Engine.snapshot_report`` says which). ``cor verify`` replays from genesis unless told
``--from-snapshot``, and then only from a snapshot the oracle anchored (its checkpoint carries the
snapshot's hash) — see ``app.verify``.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import EngineError
from ..core.events import content_hash
from ..core.state import State
from ..core.state_codec import SNAPSHOT_FORMAT, SnapshotUnreadable, decode_state, write_state
from ..store.db import SnapshotRow, Store

SNAPSHOT_EVERY_EVENTS = 10_000
"""The most events between two snapshots (besides the one after each epoch close)."""
SNAPSHOT_MIN_EVENTS = 1_000
"""The fewest events between two snapshots taken by count."""
SNAPSHOT_BYTES_PER_EVENT = 500
"""A state of ``size`` encoded bytes is stored again after ``size / SNAPSHOT_BYTES_PER_EVENT`` events (within the
bounds above): encoding it then costs about that many bytes per event, and a small state (closed work pruned,
core/prune.py) is stored often, so an open replays a short tail."""


def snapshot_interval(size: int) -> int:
    """Events after which a state whose last snapshot had ``size`` bytes is stored again."""
    return min(SNAPSHOT_EVERY_EVENTS, max(SNAPSHOT_MIN_EVENTS, size // SNAPSHOT_BYTES_PER_EVENT))


SNAPSHOTS_KEPT = 4
"""Snapshots kept per database (the newest)."""


class SnapshotRefused(EngineError):
    """A stored snapshot that cannot be used (the engine replays the log instead)."""

    code = "snapshot_refused"
    http_status = 409


@dataclass
class SnapshotReport:
    """How the state was loaded: from which snapshot, how many events replayed, what was refused and why."""

    seq: int | None = None  # the snapshot loaded (None: the whole log was replayed)
    hash: str | None = None
    replayed: int = 0  # events applied after it
    refused: list[dict[str, Any]] = field(default_factory=list)  # [{seq, code, message}]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "replayed": self.replayed, "refused": list(self.refused)}


def snapshot_row(state: State) -> SnapshotRow:
    """The row that stores ``state`` (between events): its canonical bytes (``encode_state``) hashed and compressed as
    they are written, in parts (``write_state``), so the state's whole text never exists at once (the row: the hash,
    size and zlib level-1 stream of that text, the very bytes ``zlib.compress(encode_state(state), 1)`` makes)."""
    written = write_state(state, _SnapshotWriter)
    return SnapshotRow(state.seq, state.head_hash, SNAPSHOT_FORMAT, "0x" + written.sha.hexdigest(), written.size, written.stored())


class _SnapshotWriter:
    """What ``snapshot_row`` feeds the state's text to: its sha256 (``content_hash``), its length and its zlib stream."""

    def __init__(self) -> None:
        self.sha, self.size, self.zlib, self.out = hashlib.sha256(), 0, zlib.compressobj(1), bytearray()

    def write(self, data: bytes | memoryview) -> None:
        self.sha.update(data)
        self.size += len(data)
        self.out += self.zlib.compress(data)

    def stored(self) -> bytes:
        self.out += self.zlib.flush()
        return bytes(self.out)


def state_from_row(store: Store, conn: Any, row: SnapshotRow) -> State:
    """The state a stored snapshot holds, after every check in the module docstring (SnapshotRefused otherwise)."""
    where = f"the snapshot after event {row.seq}"
    if row.format != SNAPSHOT_FORMAT:
        raise SnapshotRefused(f"{where} is of format {row.format}; this engine reads format {SNAPSHOT_FORMAT}", code="snapshot_format")
    try:
        data = zlib.decompress(row.data)
    except zlib.error as exc:
        raise SnapshotRefused(f"{where} does not decompress ({exc}): it was altered", code="snapshot_corrupt") from None
    if len(data) != row.size or content_hash(data) != row.hash:
        raise SnapshotRefused(f"{where} does not hash to its stored hash {row.hash}: it was altered", code="snapshot_corrupt")
    try:
        state = decode_state(data)
    except SnapshotUnreadable as exc:
        raise SnapshotRefused(f"{where}: {exc.message}", code=exc.code) from None
    if state.seq != row.seq or state.head_hash != row.head_hash:
        raise SnapshotRefused(
            f"{where} holds the state after event {state.seq} ({state.head_hash}), not after {row.seq} ({row.head_hash})",
            code="snapshot_mismatch",
        )
    logged = store.event_hash(conn, row.seq)
    if logged != row.head_hash:
        raise SnapshotRefused(
            f"{where} follows a log whose event {row.seq} has hash {row.head_hash}; this log has {logged or 'no such event'}",
            code="snapshot_mismatch",
        )
    return state
