"""The oracle's side of the beacon: its secret hash chain, and the next value every tick reveals.

The secret is derived from the oracle's private key, so whoever holds the key can compute every value
and nothing else needs to be stored:

    secret(chain) = sha256("cor-beacon" ‖ chain_id ‖ chain index ‖ private key)

The chain is walked backwards (see ``core.beacon``). To find a value quickly, ``HashChain`` keeps one
checkpoint every ``STRIDE`` steps. A value then costs at most ``STRIDE`` hashes, and building the
checkpoints costs ``length`` hashes once per process: about 50 ms for the default 2**16 values. Values
are asked for in order (one per tick), so the chain keeps the last segment it walked (``STRIDE`` values,
32 KiB): the ticks of one segment cost its ``STRIDE`` hashes once, not up to ``STRIDE`` each. An
oracle anchors its next chain (``beacon.anchor``) when fewer than ``RENEW_AT`` values are left.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..core.errors import Conflict
from ..core.state import State

STRIDE = 1024
DEFAULT_LENGTH = 2**16  # rounds (tick events) per chain: 50 ms to build; ``beacon.anchor`` queues the next one
RENEW_AT = 4096  # an oracle anchors its next chain when the current one has fewer values left


def oracle_secret(private_key: str, chain_id: str, chain: int) -> bytes:
    """The secret of the oracle's ``chain``-th hash chain on ``chain_id``."""
    return hashlib.sha256(f"cor-beacon|{chain_id}|{chain}|{private_key.lower()}".encode()).digest()


class HashChain:
    """v_r = H^(length − r)(secret): v_0 is the anchor, v_length the secret itself."""

    def __init__(self, secret: bytes, length: int) -> None:
        self.length = length
        self.checkpoints: list[bytes] = []  # H^(i·STRIDE)(secret)
        x = secret
        for i in range(length + 1):
            if i % STRIDE == 0:
                self.checkpoints.append(x)
            if i < length:
                x = hashlib.sha256(x).digest()
        self._anchor = x
        self._segment: tuple[int, list[bytes]] = (-1, [])  # (segment index, its values H^(index·STRIDE + j)(secret))

    @property
    def anchor(self) -> str:
        return "0x" + self._anchor.hex()

    def value(self, r: int) -> str:
        """The value revealed in round ``r`` of this chain (1 ≤ r ≤ length)."""
        if not 0 <= r <= self.length:
            raise ValueError(f"round {r} is outside the chain of {self.length}")
        steps = self.length - r
        index, values = self._segment
        if index != steps // STRIDE:
            index = steps // STRIDE
            values = [self.checkpoints[index]]
            for _ in range(min(STRIDE, self.length - index * STRIDE + 1) - 1):
                values.append(hashlib.sha256(values[-1]).digest())
            self._segment = (index, values)  # one assignment: a reader in another thread sees the old pair or the new
        return "0x" + values[steps % STRIDE].hex()

    def genesis(self) -> dict[str, Any]:
        """The genesis (or ``beacon.anchor``) body that commits to this chain."""
        return {"anchor": self.anchor, "length": self.length}


@lru_cache(maxsize=8)
def hash_chain(secret: bytes, length: int) -> HashChain:
    return HashChain(secret, length)


def oracle_chain(private_key: str, chain_id: str, chain: int = 0, length: int = DEFAULT_LENGTH) -> HashChain:
    """The oracle's ``chain``-th chain (cached per process)."""
    return hash_chain(oracle_secret(private_key, chain_id, chain), length)


def next_value_at(chain: int, length: int, left: int, next_length: int, secret_of: Callable[[int], bytes]) -> str:
    """The next value of the oracle's chains, given where the network stands (chain index, its length, values left)."""
    if left == 0:
        if next_length == 0:
            raise Conflict("the beacon chain is used up and no next chain is anchored (beacon.anchor)", code="beacon_exhausted")
        return hash_chain(secret_of(chain + 1), next_length).value(1)
    return hash_chain(secret_of(chain), length).value(length - left + 1)


def next_value(state: State, secret_of: Callable[[int], bytes]) -> str:
    """The value the next tick must reveal; ``secret_of(index)`` is the oracle's secret of chain ``index``."""
    b = state.beacon
    if b is None:
        raise Conflict("this network has no beacon", code="no_beacon")
    return next_value_at(b.chain, b.length, b.left, b.next_length, secret_of)


def beacon_view(state: State) -> dict[str, Any] | None:
    """Where the beacon stands (for ``cor status``, ``GET /v1/chain`` and an oracle that ticks through the API)."""
    b = state.beacon
    if b is None:
        return None
    return {
        "round": b.round,
        "value": b.value,
        "chain": b.chain,
        "length": b.length,
        "left": b.left,
        "next_anchor": b.next_anchor,
        "next_length": b.next_length,
        "pending_draws": len(b.pending),
    }


def oracle_secret_of(private_key: str, chain_id: str) -> Callable[[int], bytes]:
    return lambda index: oracle_secret(private_key, chain_id, index)


def value_from_view(view: dict[str, Any], private_key: str, chain_id: str) -> str:
    """The next value, from a ``beacon_view`` read through the API."""
    return next_value_at(
        int(view["chain"]), int(view["length"]), int(view["left"]), int(view["next_length"]), oracle_secret_of(private_key, chain_id)
    )


def renewal_from_view(view: dict[str, Any], private_key: str, chain_id: str) -> dict[str, Any] | None:
    """The ``beacon.anchor`` body to send now (the current chain has fewer than ``RENEW_AT`` values left), or None."""
    if view["next_anchor"] is not None or int(view["left"]) >= RENEW_AT:
        return None
    return oracle_chain(private_key, chain_id, int(view["chain"]) + 1).genesis()


def with_beacon(state: State, private_key: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the oracle sends it: a genesis commits to the oracle's first chain (``"beacon": None``: no
    beacon, the first rules); a tick reveals the next value."""
    if kind == "genesis":
        if "beacon" in body and body["beacon"] is None:  # a network on the first rules (draws seeded by the log head)
            return {k: v for k, v in body.items() if k != "beacon"}
        if "beacon" not in body:
            return {**body, "beacon": oracle_chain(private_key, str(body.get("chain_id", "")), 0).genesis()}
        return body
    if kind not in ("tick", "epoch.close") or state.beacon is None or "beacon" in body:
        return body
    return {**body, "beacon": next_value(state, oracle_secret_of(private_key, state.chain_id))}
