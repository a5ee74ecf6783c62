"""Claim proofs from a tree built once per closed epoch (``cor proof``, ``GET /v1/proofs``).

A closed epoch's leaves never change, so its Merkle tree (``core.merkle.build_tree``: OpenZeppelin's
``StandardMerkleTree`` layout) is built once and kept, compactly: every node's 32 bytes in one
``bytes`` in OZ's array order. The leaves sit in the last ``n`` slots sorted by hash (descending), so
finding a leaf is a binary search there and a proof is the ``log2 n`` siblings on its way up: a proof
costs O(log n) however many leaves the epoch has.

``TreeCache`` keeps the trees of the epochs asked for lately, keyed by (chain, epoch, root) (a root
names its leaves), and builds each at most once even when several threads ask at the same time. The
API builds outside its lock on the engine's state (``ApiService.proof``), so a first proof of a big
epoch never stalls other reads.

Every tree is checked on the way in: its root must be the epoch record's root.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from ..core.errors import NotFound, invariant
from ..core.merkle import HASH_LENGTH_BYTES, build_tree, leaf_hash

TREES_KEPT = 8
"""Closed epochs whose trees one process keeps (the most recently asked for)."""


@dataclass(frozen=True)
class EpochTree:
    """The Merkle tree of one closed epoch's leaves ``(address, epoch, amount)``, compact."""

    epoch: int
    root: str
    count: int  # leaves
    nodes: bytes  # 32 bytes per node, OZ's array order (nodes[0] = root; leaves in the last ``count`` slots)

    @classmethod
    def build(cls, epoch: int, leaves: Mapping[str, int]) -> EpochTree:
        tree = build_tree([(a, epoch, v) for a, v in leaves.items()])
        nodes = b"".join(bytes.fromhex(h[2:]) for h in tree.nodes)
        out = cls(epoch, tree.root, len(tree), nodes)
        invariant(len(nodes) == (2 * out.count - 1) * HASH_LENGTH_BYTES, "epoch tree: node bytes do not match its size")
        return out

    def _node(self, i: int) -> bytes:
        return self.nodes[i * HASH_LENGTH_BYTES : (i + 1) * HASH_LENGTH_BYTES]

    def leaf_position(self, address: str, amount: int) -> int:
        """The node index of the leaf (address, epoch, amount): binary search over the leaf slots
        (ascending hash from the last slot backwards). ``leaf_not_in_tree`` when it is not there."""
        h = leaf_hash(address, self.epoch, amount)
        size = 2 * self.count - 1
        lo = bisect_left(range(self.count), h, key=lambda rank: self._node(size - 1 - rank))
        if lo < self.count and self._node(size - 1 - lo) == h:
            return size - 1 - lo
        raise NotFound(f"leaf ({address}, {self.epoch}, {amount}) is not in the epoch's tree", code="leaf_not_in_tree")

    def proof(self, address: str, amount: int) -> list[str]:
        """The sibling hashes from the leaf up to the root (OZ's ``getProof``): O(log n)."""
        i = self.leaf_position(address, amount)
        out = []
        while i > 0:
            out.append("0x" + self._node(i + 1 if i % 2 else i - 1).hex())
            i = (i - 1) // 2
        return out


class TreeCache:
    """The trees of recently asked-for closed epochs, each built at most once (thread-safe)."""

    def __init__(self, kept: int = TREES_KEPT) -> None:
        self.kept = kept
        self._trees: OrderedDict[tuple[str, int, str], EpochTree] = OrderedDict()
        self._building: dict[tuple[str, int, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self.builds = 0  # trees built by this cache (what a test or a benchmark reads)

    def tree(self, chain_id: str, epoch: int, root: str, leaves: Mapping[str, int]) -> EpochTree:
        """The epoch's tree: from the cache, or built now from ``leaves`` (which must give ``root``)."""
        key = (chain_id, epoch, root)
        with self._lock:
            hit = self._trees.get(key)
            if hit is not None:
                self._trees.move_to_end(key)
                return hit
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one builder per key; the others wait for it and then find the tree
            with self._lock:
                hit = self._trees.get(key)
            if hit is not None:
                return hit
            tree = EpochTree.build(epoch, leaves)
            invariant(tree.root == root, f"epoch {epoch}: the leaves give root {tree.root}, the record says {root}")
            with self._lock:
                self.builds += 1
                self._trees[key] = tree
                self._building.pop(key, None)
                while len(self._trees) > self.kept:
                    self._trees.popitem(last=False)
            return tree


TREES = TreeCache()
"""This process's trees (the API's workers and a CLI process each have their own)."""
