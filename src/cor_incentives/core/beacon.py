"""The randomness beacon: values that no party to a task can choose or foresee (docs/design.md §4).

The oracle commits in genesis to a hash chain. It picks a secret s and publishes the *anchor*
H^L(s), where H is sha256 and L is the chain's length. Each ``tick`` and ``epoch.close`` then
reveals the next value of the chain, walking it backwards:

    v_0 = anchor,   v_r = H^(L − r)(s),   and the core accepts v_r only if H(v_r) = v_(r−1).

Why nobody can steer it
    - *Unique*: once the anchor is in the log, every later value is fixed. Another value v' with
      H(v') = v_(r−1) would be a second preimage of sha256. The oracle can withhold a value, but
      that stops the clock for everyone, in plain view. It can never pick one value among several.
      A plain ECDSA signature over (task, round) would not do: its nonce is free (RFC 6979 is a
      convention that nobody can check), so the signer could grind signatures and publish the one
      it likes.
    - *Unforeseeable*: v_(r+1) is a preimage of v_r, so nobody but the oracle knows it before it
      is revealed.
    - *Drawn after the request*: a draw asked for in event e uses the first value revealed in an
      event after e, or in e itself when e is a tick. A party chooses what it sends and when, but
      it always chooses before the value is known. It cannot choose the value afterwards, and the
      draw's inputs are fixed by then: the purpose, and an id taken when the request was made.
    - *Cheap to check*: one sha256 per tick. ``cor verify`` replays the same checks. A VRF
      (ECVRF, RSA-FDH) is also unique, but costs milliseconds of pure-Python arithmetic per round.
What the oracle is still trusted with
    The oracle knows future values, as with any oracle-keyed VRF. It must keep them secret. As
    the one who orders the log, it could also refuse commands whose draws it dislikes. Only a
    beacon run by many parties (validators' commit-reveal, drand) would remove that trust, and
    it could replace this chain without changing how draws are asked for.

Draws
    ``request_draw(state, purpose, id)`` queues a draw. When the next value v is revealed,
    ``HANDLERS[purpose](state, id, randomness(v, purpose, id))`` runs for each queued draw, in
    the order they were requested. A network whose genesis has no beacon draws at once instead,
    seeded by sha256(head_hash ‖ purpose:id), as the first rules did.

Renewal and activation
    ``beacon.anchor {anchor, length}`` (oracle) queues the next chain. It takes over when the
    current chain runs out. A tick with no value left and no next chain is refused (``beacon_exhausted``).
    On a network whose genesis had no beacon, the same command activates one. Events before it
    replay under the first rules, events after it under the beacon's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from .errors import Conflict, InvalidInput, invariant
from .records import Beacon
from .sampling import SelectionIndex
from .state import State

DrawHandler = Callable[[State, int, bytes], None]
HANDLERS: dict[str, DrawHandler] = {}
MAX_CHAIN_LENGTH = 2**40
_VALUE = re.compile(r"^0x[0-9a-f]{64}$")


def draw_handler(purpose: str) -> Callable[[DrawHandler], DrawHandler]:
    """Register what happens when a draw for ``purpose`` comes due (one handler per purpose)."""

    def register(fn: DrawHandler) -> DrawHandler:
        invariant(purpose not in HANDLERS or HANDLERS[purpose] is fn, f"two draw handlers for {purpose!r}")
        HANDLERS[purpose] = fn
        return fn

    return register


def step(value: bytes) -> bytes:
    """One step of the chain: H."""
    return hashlib.sha256(value).digest()


def randomness(value: bytes, purpose: str, ident: int) -> bytes:
    """The seed of the draw (purpose, id) from a revealed value: sha256(value ‖ purpose ‖ ":" ‖ id)."""
    return hashlib.sha256(value + f"{purpose}:{ident}".encode()).digest()


def legacy_randomness(state: State, purpose: str, ident: int) -> bytes:
    """The seed of a network without a beacon: sha256(head_hash ‖ purpose ‖ ":" ‖ id) (steerable)."""
    return hashlib.sha256(bytes.fromhex(state.head_hash[2:]) + f"{purpose}:{ident}".encode()).digest()


def has_beacon(state: State) -> bool:
    """Whether this network draws from the beacon (its genesis committed to a chain)."""
    return state.beacon is not None


def request_draw(state: State, purpose: str, ident: int) -> None:
    """Draw (purpose, id) with the next revealed value; at once, from the log head, without a beacon."""
    invariant(purpose in HANDLERS, f"no draw handler for {purpose!r}")
    if state.beacon is None:
        HANDLERS[purpose](state, ident, legacy_randomness(state, purpose, ident))
        return
    state.beacon.pending.append((purpose, ident))


def run_draws(state: State) -> None:
    """Run every queued draw with the value just revealed, in the order requested; the queue is empty after.

    The queue is read in place and emptied once at the end: O(draws). Popping its head draw by draw (until session 24)
    moved the rest of the list at each pop, and in a live event copied all of it into the journal at each pop
    (``JList.pop``): O(draws²) a tick, ~4 s for 16 k draws queued by task submissions cancelled before their draw (issue
    16; bench/per_event.py --draws). The same handlers run in the same order with the same seeds; no handler reads the
    queue (a handler's ``request_draw`` appends to it, and the loop runs those too)."""
    b = state.beacon
    if b is None:
        return
    value = bytes.fromhex(b.value[2:])
    pending, i = b.pending, 0
    while i < len(pending):  # a handler may request more draws; they use the same (just revealed) value
        purpose, ident = pending[i]
        i += 1
        HANDLERS[purpose](state, ident, randomness(value, purpose, ident))
    if pending:
        pending.clear()  # (journaled once: one copy of the queue, not one per draw)


# --- the chain ---------------------------------------------------------------------------------


def chain_value(value: Any, field: str) -> str:
    """A beacon value or anchor: 0x followed by 64 lower-case hex digits."""
    if not isinstance(value, str) or not _VALUE.match(value):
        raise InvalidInput(f"{field} must be 0x followed by 64 lower-case hex digits", code="invalid_beacon", field=field)
    return value


def chain_length(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHAIN_LENGTH:
        raise InvalidInput(f"beacon length must be an integer in [1, {MAX_CHAIN_LENGTH}]", code="invalid_beacon", field="length")
    return value


def genesis_beacon(spec: Any) -> Beacon | None:
    """The chain a genesis commits to: {anchor, length}, or None for a network without a beacon."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) != {"anchor", "length"}:
        raise InvalidInput("beacon must be {anchor, length}", code="invalid_beacon")
    length = chain_length(spec["length"])
    return Beacon(value=chain_value(spec["anchor"], "anchor"), round=0, chain=0, length=length, left=length)


def reveal(state: State, value: Any) -> None:
    """Check and record the next value (``tick`` and ``epoch.close`` carry it as ``beacon``).

    Checks first, changes after: a refused value changes nothing."""
    b = state.beacon
    if b is None:
        if value is not None:
            raise InvalidInput("this network has no beacon; a tick carries no beacon value", code="unexpected_beacon")
        return
    if value is None:
        raise InvalidInput("every tick must reveal the next beacon value (beacon)", code="missing_beacon")
    v = chain_value(value, "beacon")
    switching = b.left == 0
    if switching and b.next_anchor is None:
        raise Conflict("the beacon chain is used up and no next chain is anchored (beacon.anchor)", code="beacon_exhausted")
    expected = b.next_anchor if switching else b.value
    if "0x" + step(bytes.fromhex(v[2:])).hex() != expected:
        raise InvalidInput(f"beacon value of round {b.round + 1} does not hash to the previous value", code="invalid_beacon", round=b.round + 1)
    if switching:
        b.chain += 1
        b.length = b.left = b.next_length
        b.next_anchor, b.next_length = None, 0
    b.value = v
    b.round += 1
    b.left -= 1
    invariant(b.left >= 0, "beacon: revealed past the chain's end")


def process_beacon_anchor(state: State, actor: str, body: dict[str, Any]) -> None:
    """``beacon.anchor`` (oracle) {anchor, length}: the chain that takes over when the current one runs out.

    On a network without a beacon it *activates* one: from this event on, draws wait for the beacon
    (the rules of a genesis with a beacon). Tasks already assigned keep their nodes."""
    if set(body) != {"anchor", "length"}:
        raise InvalidInput("beacon.anchor takes {anchor, length}", code="invalid_beacon")
    anchor, length = chain_value(body.get("anchor"), "anchor"), chain_length(body.get("length"))
    b = state.beacon
    if b is None:
        state.beacon = Beacon(value=anchor, round=0, chain=0, length=length, left=length)
        state.selection = SelectionIndex(marked=set(state.nodes))
        return
    if b.next_anchor is not None:
        raise Conflict("a next beacon chain is already anchored", code="beacon_already_anchored")
    b.next_anchor, b.next_length = anchor, length
