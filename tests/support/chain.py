"""A pure in-memory chain for core tests: builds events and applies them, no database.

The core does not check signatures (the shell does), so core tests use a placeholder signature and
deterministic addresses; tests of the shell use real eth-account keys.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cor_incentives.app.beacon import hash_chain, next_value
from cor_incentives.core.apply import Applied, apply, conservation_holds
from cor_incentives.core.errors import Conflict, EngineError
from cor_incentives.core.events import Command, make_event
from cor_incentives.core.rules import LATEST as LATEST_RULES
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state
from cor_incentives.core.units import COR

CHAIN_ID = "cor-test"
SIG = "0x" + "00" * 65


def addr(name: str) -> str:
    """A deterministic address for a name."""
    return "0x" + hashlib.sha256(name.encode()).hexdigest()[:40]


ORACLE = addr("oracle")
BEACON_LENGTH = 4096


def beacon_secret(chain: int) -> bytes:
    """The test oracle's secret of its ``chain``-th beacon chain."""
    return hashlib.sha256(f"cor-test-beacon|{chain}".encode()).digest()


def refusing(handler: Any, message: str = "refused after the writes") -> Any:
    """``handler``, then a refusal (``Conflict``, code ``test_refusal``): every write it made must be undone."""

    def refused(state: State, actor: str, body: dict[str, Any]) -> Any:
        handler(state, actor, body)
        raise Conflict(message, code="test_refusal")

    return refused


class Chain:
    """Sign-free event builder over a State; checks conservation after every event."""

    def __init__(
        self,
        wallets: dict[str, int] | None = None,
        params: dict[str, Any] | None = None,
        pools: dict[str, int] | None = None,
        check: bool = True,
        beacon: int | None = None,
        network_prompts: list[dict[str, Any]] | None = None,
    ) -> None:
        self.state = State()
        self.events: list = []
        self.check = check
        allocations = {f"wallet:{addr(n)}": str(v) for n, v in (wallets or {}).items()}
        for pool, v in (
            pools or {"pool:network_incentives": 250_000_000 * COR, "pool:staking": 100_000_000 * COR, "treasury": 150_000_000 * COR}
        ).items():
            allocations[pool] = str(v)
        genesis: dict[str, Any] = {
            "chain_id": CHAIN_ID,
            "oracle": ORACLE,
            # a bare core without a database keeps closed records in memory (tests/app/test_prune.py and
            # tests/core/test_prune.py prune)
            "params": {"rule_version": LATEST_RULES, "prune_closed_records": 0, **(params or {})},
            "allocations": allocations,
        }
        if beacon is not None:  # a beacon chain of this length (the oracle's ticks reveal it)
            genesis["beacon"] = hash_chain(beacon_secret(0), beacon).genesis()
        if network_prompts is not None:  # the set network tasks are composed from (rule 9)
            genesis["network_prompts"] = network_prompts
        self.submit(ORACLE, "genesis", genesis)

    def submit(self, actor: str, kind: str, body: dict[str, Any]) -> Applied:
        nonce = self.state.nonces.get(actor, 0) + 1
        payload = Command(CHAIN_ID, kind, actor, nonce, body).encode()
        event = make_event(self.state.seq + 1, self.state.tick, payload, SIG, self.state.head_hash)
        applied = apply(self.state, event)
        self.events.append(event)
        if self.check:
            conservation_holds(self.state)
        return applied

    def as_(self, name: str, kind: str, body: dict[str, Any]) -> Applied:
        return self.submit(addr(name), kind, body)

    def oracle(self, kind: str, body: dict[str, Any]) -> Applied:
        """An oracle command; a tick on a network with a beacon reveals its next value (unless given)."""
        if kind in ("tick", "epoch.close") and self.state.beacon is not None and "beacon" not in body:
            body = {**body, "beacon": next_value(self.state, beacon_secret)}
        return self.submit(ORACLE, kind, body)

    def balance(self, account: str) -> int:
        return self.state.ledger.balance(account)


def refusal_of(chain: Chain, actor: str, kind: str, body: Any) -> str | None:
    """Send one command on ``chain`` (the oracle's when ``actor`` is ``ORACLE``): None when it applied, else the code of the
    ``EngineError`` that refused it, once its state's bytes are checked to be as they were (a refusal changes nothing).
    Any other exception propagates: the property machines' "never an internal error"."""
    before = encode_state(chain.state)
    try:
        if actor == ORACLE:
            chain.oracle(kind, body)
        else:
            chain.submit(actor, kind, body)
    except EngineError as e:
        assert encode_state(chain.state) == before, f"refused {kind} ({e.code}) changed the state"
        return e.code
    return None
