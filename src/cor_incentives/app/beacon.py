"""The oracle's side of the beacon: its secret hash chain, and the next value every tick reveals.

The secret is derived from the oracle's private key, so whoever holds the key can compute every value
and nothing else needs to be stored:

    secret(chain) = sha256("cor-beacon" ‖ chain_id ‖ chain index ‖ private key)

The chain is walked backwards (see ``core.beacon``). To find a value quickly, ``HashChain`` keeps one
checkpoint every ``STRIDE`` steps. A value then costs at most ``STRIDE`` hashes, and building the
checkpoints costs ``length`` hashes once per process: about 0.5 s for 2**20 values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..core.errors import Conflict
from ..core.state import State

STRIDE = 1024
DEFAULT_LENGTH = 2**20  # rounds (tick events) per chain; ``beacon.anchor`` queues the next one


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

    @property
    def anchor(self) -> str:
        return "0x" + self._anchor.hex()

    def value(self, r: int) -> str:
        """The value revealed in round ``r`` of this chain (1 ≤ r ≤ length)."""
        if not 0 <= r <= self.length:
            raise ValueError(f"round {r} is outside the chain of {self.length}")
        steps = self.length - r
        x = self.checkpoints[steps // STRIDE]
        for _ in range(steps % STRIDE):
            x = hashlib.sha256(x).digest()
        return "0x" + x.hex()

    def genesis(self) -> dict[str, Any]:
        """The genesis (or ``beacon.anchor``) body that commits to this chain."""
        return {"anchor": self.anchor, "length": self.length}


@lru_cache(maxsize=8)
def hash_chain(secret: bytes, length: int) -> HashChain:
    return HashChain(secret, length)


def oracle_chain(private_key: str, chain_id: str, chain: int = 0, length: int = DEFAULT_LENGTH) -> HashChain:
    """The oracle's ``chain``-th chain (cached per process)."""
    return hash_chain(oracle_secret(private_key, chain_id, chain), length)


def next_value(state: State, secret_of: Callable[[int], bytes]) -> str:
    """The value the next tick must reveal; ``secret_of(index)`` is the oracle's secret of chain ``index``."""
    b = state.beacon
    if b is None:
        raise Conflict("this network has no beacon", code="no_beacon")
    if b.left == 0:
        if b.next_anchor is None:
            raise Conflict("the beacon chain is used up and no next chain is anchored (beacon.anchor)", code="beacon_exhausted")
        return hash_chain(secret_of(b.chain + 1), b.next_length).value(1)
    return hash_chain(secret_of(b.chain), b.length).value(b.length - b.left + 1)


def with_beacon(state: State, private_key: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the next beacon value, when ``kind`` is a tick of a network with a beacon."""
    if kind not in ("tick", "epoch.close") or state.beacon is None or "beacon" in body:
        return body
    return {**body, "beacon": next_value(state, lambda index: oracle_secret(private_key, state.chain_id, index))}
