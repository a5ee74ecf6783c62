"""The engine service: accepts signed commands, appends them to the log, keeps the projections (docs/design.md §9).

One writer at a time: ``submit`` takes the store's writer lock, first applies any events other
processes appended since (so several API processes can share one database), then authenticates,
applies and appends the new command, and writes its projections in the same transaction. A command
the core rejects is never appended and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.apply import apply, conservation_holds
from ..core.errors import Conflict, EngineError, NotFound, invariant
from ..core.events import Command, Event, make_event
from ..core.state import State
from ..store.db import Store
from ..store.projections import Projector, clear_projections
from .beacon import with_beacon
from .keys import Key, Keystore
from .signing import authenticate, sign_command


@dataclass(frozen=True)
class Receipt:
    """What the log says about an accepted command."""

    seq: int
    hash: str
    kind: str
    actor: str
    tick: int
    epoch: int

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "kind": self.kind, "actor": self.actor, "tick": self.tick, "epoch": self.epoch}


class Engine:
    """The in-memory state of one database's log, and the way to extend that log."""

    def __init__(self, store: Store, *, check_conservation: bool = False) -> None:
        self.store = store
        self.state = State()
        self.projector = Projector()
        self.check_conservation = check_conservation
        self._loaded = False

    @classmethod
    def open(cls, url: str | None = None, **kw: Any) -> Engine:
        """Open (creating the schema if needed) and load a database."""
        store = Store(url)
        store.create_schema()
        engine = cls(store, **kw)
        engine.load()
        return engine

    # --- loading -------------------------------------------------------------------------------

    def load(self) -> None:
        """Replay the log; re-project what the projections lack (crash recovery), exactly once.

        The replay reads one consistent snapshot; if anything lies beyond ``projected_seq`` the
        catch-up runs under the writer lock and re-reads ``projected_seq`` there, so events another
        process projected in between are not projected twice.
        """
        self.state = State()
        with self.store.snapshot() as conn:
            projected = self.store.get_meta(conn, "projected_seq")
            projected_seq = int(projected) if projected is not None else -1
            behind = False
            for event in self.store.iter_events(conn=conn):
                behind = behind or event.seq > projected_seq
                self._apply(event)
        self.projector.reset_from(self.state)
        self.state.touched.clear()
        if behind:
            self._catch_up_projections()
        self._loaded = True

    def _catch_up_projections(self) -> None:
        seq = self.state.seq
        self.state = State()
        with self.store.writer() as conn:
            projected = self.store.get_meta(conn, "projected_seq")
            projected_seq = int(projected) if projected is not None else -1
            if projected_seq == -1:
                clear_projections(conn)
            for event in self.store.iter_events(conn=conn):
                if event.seq == projected_seq + 1:  # the projector counts slashes and epochs from here
                    self.projector.reset_from(self.state)
                applied = self._apply(event)
                if event.seq > projected_seq:
                    self.projector.project(conn, self.state, applied)
            self.projector.flush(conn, self.state)
        self.state.touched.clear()
        invariant(self.state.seq >= seq, "the log shrank while loading")

    def _apply(self, event: Event) -> Any:
        applied = apply(self.state, event)
        if self.check_conservation:
            conservation_holds(self.state)
        return applied

    def _apply_committed(self, event: Event) -> Any:
        """Apply an event already in the log: a rejection here is a bug or a version skew, not a user error."""
        from ..core.errors import InvariantViolation

        try:
            return self._apply(event)
        except EngineError as exc:
            raise InvariantViolation(f"logged event {event.seq} does not apply: {exc}") from exc

    def refresh(self, batch: int = 5_000) -> None:
        """Apply events appended by other processes since we last looked (in batches).

        An Engine is not thread-safe: callers serialise ``refresh`` and ``submit`` (the API holds a lock).
        """
        while True:
            with self.store.reader() as conn:
                events = self.store.events_after(conn, self.state.seq, batch)
            for event in events:
                self._apply_committed(event)
            if len(events) < batch:
                break
        self.projector.reset_from(self.state)
        self.state.touched.clear()

    # --- writing -------------------------------------------------------------------------------

    def submit(self, payload: bytes, signature: str) -> Receipt:
        """Authenticate, apply and append one signed command; EngineError leaves everything unchanged."""
        result = self.submit_batch([(payload, signature)])[0]
        if isinstance(result, EngineError):
            raise result
        return result

    def submit_batch(self, commands: list[tuple[bytes, str]]) -> list[Receipt | EngineError]:
        """Group commit: several signed commands in one writer transaction, each accepted or refused
        on its own (in order), one commit for all. Returns a receipt or the EngineError per command."""
        results: list[Receipt | EngineError] = []
        checked: list[tuple[int, Command | EngineError]] = []
        for i, (payload, signature) in enumerate(commands):
            try:
                checked.append((i, authenticate(payload, signature)))
            except EngineError as exc:
                checked.append((i, exc))
        changed = False  # did our in-memory state move past the database's?
        try:
            with self.store.writer() as conn:
                for event in self.store.events_after(conn, self.state.seq):
                    changed = True
                    self._apply_committed(event)
                    self.projector.reset_from(self.state)
                self.state.touched.clear()
                for i, cmd in checked:
                    if isinstance(cmd, EngineError):
                        results.append(cmd)
                        continue
                    payload, signature = commands[i]
                    event = make_event(self.state.seq + 1, self.state.tick, payload, signature, self.state.head_hash)
                    try:
                        applied = self._apply(event)
                    except EngineError as exc:
                        self.state.touched.clear()
                        results.append(exc)
                        continue
                    changed = True
                    self.store.append(conn, event, cmd.kind, cmd.actor, cmd.nonce)
                    self.projector.project(conn, self.state, applied)
                    results.append(Receipt(event.seq, event.hash, cmd.kind, cmd.actor, self.state.tick, self.state.epoch))
                self.projector.flush(conn, self.state)
        except BaseException:
            self.projector.discard()
            # the database did not take the events (or we were interrupted): the log is the truth.
            # Nothing to redo when we failed before touching the state (e.g. a lock timeout).
            if changed:
                self.load()
            raise
        return results

    def next_nonce(self, address: str) -> int:
        return self.state.nonces.get(address.lower(), 0) + 1

    def submit_as(self, key: Key, kind: str, body: Mapping[str, Any]) -> Receipt:
        """Sign with a local key and submit."""
        chain_id = self.state.chain_id or str(body.get("chain_id", ""))
        if key.address == self.state.oracle:  # the oracle's ticks reveal the next beacon value
            body = with_beacon(self.state, key.private_key, kind, dict(body))
        payload, sig = sign_command(key.private_key, chain_id, kind, self.next_nonce(key.address), body)
        return self.submit(payload, sig)

    # --- reading -------------------------------------------------------------------------------

    def require_genesis(self) -> None:
        if self.state.params_history is None:
            raise Conflict(f"no network in {self.store.url}; run `cor init` first", code="no_genesis")


def oracle_key(engine: Engine, keystore: Keystore) -> Key:
    """The local key of this network's oracle (needed to send ticks and oracle reports)."""
    engine.require_genesis()
    for k in keystore.list():
        if k.address == engine.state.oracle:
            return k
    raise NotFound(f"the oracle key {engine.state.oracle} is not in {keystore.path}", code="oracle_key_missing")
