"""Checks of the stored log that need no replay: sequence, hash chain, and the stored columns.

Every column of the ``events`` table is either covered by the event's hash (``seq``, ``payload``,
``signature``, ``prev_hash``; ``hash`` is recomputed) or derived and checked: ``kind``, ``actor`` and
``nonce`` must equal what the signed payload says, and ``tick`` must equal the logical time the replay
reaches (``core.apply`` checks that). Engine start-up and ``cor verify`` both run these checks, so a
log edited in place is refused with the seq of the first bad event.
"""

from __future__ import annotations

from ..core.apply import Applied
from ..core.errors import EngineError
from ..core.events import Event, event_hash
from ..store.db import Columns


class LogCorrupt(EngineError):
    """The stored log is not what was appended: an edited, reordered or broken event."""

    code = "log_corrupt"
    http_status = 503

    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(f"the log is broken at event {seq}: {problem}", code="log_corrupt", seq=seq)
        self.seq = seq


def link_problems(event: Event, expected_seq: int, prev_hash: str) -> list[str]:
    """What is wrong with ``event``'s place in the chain: gap, broken link, or a hash that is not its bytes'."""
    problems = []
    if event.seq != expected_seq:
        problems.append(f"sequence gap: expected seq {expected_seq}")
    if event.prev_hash != prev_hash:
        problems.append("prev_hash does not link to the previous event")
    if event_hash(event.prev_hash, event.seq, event.payload, event.signature) != event.hash:
        problems.append("the stored hash is not the hash of the event's bytes (tampered?)")
    return problems


def column_problems(applied: Applied, columns: Columns) -> list[str]:
    """Stored kind/actor/nonce columns that differ from the signed payload."""
    stored = (columns.kind, columns.actor, int(columns.nonce))
    signed = (applied.kind, applied.actor, applied.nonce)
    if stored == signed:  # every event of a sound log: no list to build
        return []
    return [
        f"stored {name} {a!r} differs from the signed payload's {b!r}" for name, a, b in zip(("kind", "actor", "nonce"), stored, signed) if a != b
    ]
