"""A sign-free, in-memory chain for simulations: builds events and applies them with the real core.

Copied from ``tests/support/chain.py`` (the simulator must not import from tests): the core does not
check signatures (the shell does), so events carry a placeholder signature and actors have
deterministic addresses derived from their names. Every event goes through ``core.apply.apply``,
exactly as in the engine; nothing here computes a payout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from ..app.beacon import hash_chain, next_value
from ..core.apply import Applied, apply, conservation_holds
from ..core.events import Command, Event, make_event
from ..core.records import Task
from ..core.rules import LATEST as LATEST_RULES
from ..core.state import State
from ..core.state_codec import decode_record

CHAIN_ID = "cor-sim"
SIG = "0x" + "00" * 65
MAX_EVENTS_PER_RUN = 5_000_000  # a bound on one simulation's log


def addr(name: str) -> str:
    """A deterministic address for a name."""
    return "0x" + hashlib.sha256(name.encode()).hexdigest()[:40]


ORACLE = addr("oracle")
BEACON_LENGTH = 2**17  # tick events one simulation may take (1 000 epochs of ~100 ticks)


def beacon_secret(chain: int) -> bytes:
    """The simulated oracle's secret of its ``chain``-th beacon chain."""
    return hashlib.sha256(f"cor-sim-beacon|{chain}".encode()).digest()


Observer = Callable[[State, int], None]
"""Called after every applied event with the state and the epoch the event started in."""


class SimChain:
    """Events built from (actor, kind, body), applied to one ``State``; optional conservation per event."""

    def __init__(
        self,
        allocations: dict[str, int],
        params: dict[str, Any],
        *,
        check_each: bool = False,
        keep_events: bool = False,
        beacon: bool = True,
        network_prompts: list[dict[str, Any]] | None = None,
    ) -> None:
        self.state = State()
        self.check_each = check_each
        self.keep_events = keep_events
        self.events: list[Event] = []
        self.count = 0
        self.observers: list[Observer] = []  # e.g. an attack's stake clock (sim/attacks/measure.py)
        # the whole records of the closed tasks that left the live state at their close (rule 27 with pruning on): what a
        # node's database keeps (the world's measures read them); taken from ``state.retired`` after each event
        self.closed_records: dict[int, Task] = {}
        body: dict[str, Any] = {
            "chain_id": CHAIN_ID,
            "oracle": ORACLE,
            # the simulator has no database: it keeps closed tasks and epoch records in memory to measure them
            "params": {"rule_version": LATEST_RULES, "prune_closed_records": 0, **params},
            "allocations": {k: str(v) for k, v in sorted(allocations.items())},
        }
        if beacon:  # the current rules; without it, the first ones (draws seeded by the log head)
            body["beacon"] = hash_chain(beacon_secret(0), BEACON_LENGTH).genesis()
        if network_prompts:  # the set network tasks are composed from (rule 9)
            body["network_prompts"] = network_prompts
        self.submit(ORACLE, "genesis", body)

    def submit(self, actor: str, kind: str, body: dict[str, Any]) -> Applied:
        """Apply one command as ``actor`` (next nonce); EngineError propagates and changes nothing."""
        if self.count >= MAX_EVENTS_PER_RUN:
            raise RuntimeError(f"simulation exceeded {MAX_EVENTS_PER_RUN} events")
        nonce = self.state.nonces.get(actor, 0) + 1
        payload = Command(CHAIN_ID, kind, actor, nonce, body).encode()
        event = make_event(self.state.seq + 1, self.state.tick, payload, SIG, self.state.head_hash)
        epoch = self.state.epoch
        applied = apply(self.state, event)
        self.count += 1
        if self.state.retired:
            self._take_retired()
        for observe in self.observers:
            observe(self.state, epoch)
        if self.keep_events:
            self.events.append(event)
        if self.check_each:
            conservation_holds(self.state)
        return applied

    def _take_retired(self) -> None:
        """Keep the closed tasks' records this event handed over (``RULES_TASK_STUB``) and drop the rows, as a database
        takes them."""
        for seq, kind, key, _, data, _ in self.state.retired:
            if kind == "task" and seq == self.state.seq and isinstance(key, int) and key in self.state.closed_tasks:
                self.closed_records[key] = decode_record(Task, data)
        self.state.retired.clear()

    def task(self, tid: int) -> Task:
        """Task ``tid``'s whole record: live, or kept when it left at its close."""
        task = self.state.tasks.get(tid)
        return task if task is not None else self.closed_records[tid]

    def oracle(self, kind: str, body: dict[str, Any]) -> Applied:
        """Apply a command signed by the oracle (ticks, epoch closes, network tasks); a tick reveals the next beacon value."""
        if kind in ("tick", "epoch.close") and self.state.beacon is not None and "beacon" not in body:
            body = {**body, "beacon": next_value(self.state, beacon_secret)}
        return self.submit(ORACLE, kind, body)

    def balance(self, account: str) -> int:
        return self.state.ledger.balance(account)
