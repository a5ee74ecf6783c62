"""Merkle trees of epoch rewards, byte-compatible with OpenZeppelin's ``StandardMerkleTree`` (docs/design.md §6).

Concepts
    At each epoch close the engine commits to who may claim what with one 32-byte **root** over
    ``(address, epoch, amount)`` **leaves**. A claimant later shows a **proof** (the sibling hashes on
    the path from their leaf to the root) and anyone, an EVM contract included, can check it with
    ``MerkleProof.verify`` without the other leaves. This module is a pure re-implementation of
    npm ``@openzeppelin/merkle-tree`` (checked against version 1.0.8), so a root or proof made here
    is accepted by OZ's JS library and by OZ's Solidity ``MerkleProof``.

Hashing
    - leaf hash = ``keccak256(keccak256(abi.encode(values...)))`` (standard, non-packed ABI encoding).
      The double hash makes a leaf the hash of 32 bytes, an internal node the hash of 64 bytes, so an
      internal node can never be passed off as a leaf (second-preimage attack).
    - node hash = ``keccak256(min(a, b) ++ max(a, b))``: the two 32-byte children in ascending byte
      order ("sorted pairs"), so a proof needs no left/right flags.

Layout (OZ's ``makeMerkleTree``)
    - The leaf hashes are sorted ascending (a stable sort: equal hashes keep input order).
    - The tree is an array of ``2n - 1`` nodes, a complete binary tree in heap order: the root at
      index 0, the children of ``i`` at ``2i + 1`` and ``2i + 2``. The sorted leaf hashes fill the
      array **from the end**: the k-th smallest leaf hash is at index ``2n - 2 - k``. Internal nodes
      are computed from index ``n - 2`` down to 0.
    - So for n that is not a power of two the leaves sit on two levels, and a proof has
      ``floor(log2 n)`` or ``ceil(log2 n)`` elements; proofs list siblings from the leaf upwards.
    - The root does not depend on the input order of the leaves (they are sorted by hash first);
      ``proof(i)`` and ``leaves[i]`` use the input order, like OZ's ``getProof(i)``.

Compatibility notes
    - One leaf: the tree is ``[leaf hash]``, the root is the leaf hash and the proof is empty
      (OZ does the same). No leaves: refused (OZ throws "Expected non-zero number of leaves").
    - Duplicate leaves are kept, each at its own position, as in OZ; ``proof(values)`` of a
      duplicated leaf proves its *last* occurrence in the input (OZ's hash lookup keeps the last).
      Reward leaves are unique per ``(address, epoch)``; that is the caller's invariant, not ours.
    - Hex strings out are lower case with ``0x`` (as OZ); hex in may be any case.
    - Values are checked more strictly than by OZ's JS encoder (never differently): a mixed-case
      address must carry a valid EIP-55 checksum (OZ ignores case entirely), and numbers must be
      Python ``int`` (no float, no bool, no decimal string). Addresses hash the same whatever their
      case. Everything else is ``eth_abi.encode``'s check (range, address length).
    - Proofs longer than ``MAX_PROOF_LENGTH`` are refused as malformed (OZ accepts any length; no
      tree this engine can build comes near it).

Functions
    ``leaf_hash``, ``node_hash``, ``build_tree`` -> ``MerkleTree`` (``.root``, ``.proof``,
    ``.proofs``, ``.leaves``, ``.nodes``), ``process_proof``, ``verify_proof``. Pure: no I/O, no
    clock, no randomness; errors are ``InvalidInput`` / ``NotFound`` from ``core.errors``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import InvalidInput, NotFound, invariant
from .signatures import keccak256 as keccak  # (pycryptodome's keccak called directly: a tree hashes twice per leaf)

REWARD_LEAF_TYPES: tuple[str, ...] = ("address", "uint256", "uint256")
"""The leaf encoding of epoch rewards: ``(address, epoch, amount)``."""

HASH_LENGTH_BYTES = 32
MAX_PROOF_LENGTH = 64
"""Longest proof accepted: a tree of 2**64 leaves. Longer input is malformed, not merely wrong."""

Leaf = tuple[Any, ...]


# -- hashing ----------------------------------------------------------------------------------


def leaf_hash(*values: Any, types: Sequence[str] = REWARD_LEAF_TYPES) -> bytes:
    """keccak256(keccak256(abi.encode(values))) of one leaf, as OZ's ``standardLeafHash``."""
    return keccak(keccak(_encode_leaf(tuple(types), values)))


def node_hash(a: bytes, b: bytes) -> bytes:
    """keccak256 of two 32-byte hashes concatenated in ascending order."""
    return keccak(a + b if a <= b else b + a)


def _encode_leaf(types: tuple[str, ...], values: Sequence[Any]) -> bytes:
    if types == REWARD_LEAF_TYPES and len(values) == 3:
        packed = _pack_reward_leaf(*values)
        if packed is not None:
            return packed
    if len(values) != len(types):
        raise InvalidInput(f"a leaf needs {len(types)} values {list(types)}, got {len(values)}", code="invalid_leaf")
    for abi_type, value in zip(types, values):
        if abi_type.startswith(("uint", "int")) and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(
                f"leaf value for {abi_type} must be an int, got {type(value).__name__}: {value!r}",
                code="invalid_leaf",
            )
        if abi_type == "address" and isinstance(value, str) and not _is_lower_upper_or_checksummed(value):
            raise InvalidInput(f"address {value!r} is mixed case but not a valid EIP-55 checksum", code="invalid_leaf")
    from eth_abi.abi import encode  # here, not at import: only leaves off the packed fast path need it (it takes a second to import)
    from eth_abi.exceptions import EncodingError, ParseError

    try:
        return encode(list(types), list(values))
    except (EncodingError, ParseError, ValueError, TypeError) as exc:
        message = f"leaf {list(values)!r} does not encode as {list(types)}: {exc}"
        raise InvalidInput(message, code="invalid_leaf") from exc


def _pack_reward_leaf(address: Any, epoch: Any, amount: Any) -> bytes | None:
    """``abi.encode(address, uint256, uint256)`` written directly for the usual leaf: a lower-case
    0x-address and two integers in [0, 2**256) — 12 zero bytes, the address's 20, then each integer's
    32 big-endian bytes (the standard ABI head of three static values). Anything else (another case,
    bytes, an out-of-range value) returns None and goes through ``eth_abi``, which checks and refuses
    it. A property test holds it equal to ``eth_abi.encode``."""
    if (
        type(address) is not str
        or len(address) != 42
        or not address.startswith("0x")
        or not _LOWER_HEX.fullmatch(address, 2)
        or type(epoch) is not int
        or type(amount) is not int
        or not 0 <= epoch < _UINT256_END
        or not 0 <= amount < _UINT256_END
    ):
        return None
    return _ADDRESS_PAD + bytes.fromhex(address[2:]) + epoch.to_bytes(32, "big") + amount.to_bytes(32, "big")


_LOWER_HEX = re.compile(r"[0-9a-f]{40}")
_ADDRESS_PAD = bytes(12)
_UINT256_END = 2**256


def _is_lower_upper_or_checksummed(address: str) -> bool:
    """EIP-55: a mixed-case address must match its checksum; one-case hex (or a non-address) passes here."""
    digits = address[2:]
    if len(digits) != 40 or digits.lower() == digits or digits.upper() == digits:
        return True
    nibbles = keccak(digits.lower().encode("ascii")).hex()
    return all(c.isdigit() or c.isupper() == (int(nibbles[i], 16) >= 8) for i, c in enumerate(digits))


def _hash_bytes(node: bytes | str, what: str) -> bytes:
    """A 32-byte hash given as bytes or 0x-hex; refuse anything else."""
    if isinstance(node, (bytes, bytearray)):
        raw = bytes(node)
    elif isinstance(node, str) and len(node) == 2 + 2 * HASH_LENGTH_BYTES and node[:2] in ("0x", "0X"):
        try:
            raw = bytes.fromhex(node[2:])
        except ValueError:
            raw = b""
    else:
        raw = b""
    if len(raw) != HASH_LENGTH_BYTES:
        message = f"{what} must be 32 bytes or 0x followed by 64 hex digits, got {node!r}"
        raise InvalidInput(message, code="invalid_proof")
    return raw


def _hex(node: bytes) -> str:
    return "0x" + node.hex()


# -- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MerkleTree:
    """An OZ-layout Merkle tree: ``nodes[0]`` is the root; ``leaves`` in input order."""

    types: tuple[str, ...]
    leaves: tuple[Leaf, ...]
    nodes: tuple[str, ...]
    """Every node as 0x-hex, OZ's array layout (equal to ``StandardMerkleTree.dump().tree``)."""
    tree_indices: tuple[int, ...]
    """``tree_indices[i]`` is the position in ``nodes`` of the hash of ``leaves[i]``."""
    _lookup: Mapping[str, int] = field(repr=False, compare=False)

    @property
    def root(self) -> str:
        """The root as 0x-hex (lower case)."""
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.leaves)

    def proof(self, leaf: int | Sequence[Any]) -> list[str]:
        """The proof of ``leaves[leaf]`` (an input index) or of a leaf given by its values."""
        return self._proof_at(self.tree_indices[self.leaf_index(leaf)])

    def proofs(self) -> list[list[str]]:
        """Every leaf's proof, in input order."""
        return [self._proof_at(i) for i in self.tree_indices]

    def leaf_index(self, leaf: int | Sequence[Any]) -> int:
        """The input index of a leaf given by index or by values (the last of equal leaves)."""
        if isinstance(leaf, int) and not isinstance(leaf, bool):
            if not 0 <= leaf < len(self.leaves):
                raise InvalidInput(
                    f"leaf index {leaf} is out of range for a tree of {len(self.leaves)} leaves",
                    code="leaf_index_out_of_range",
                )
            return leaf
        if isinstance(leaf, (str, bytes)) or not isinstance(leaf, Sequence):
            raise InvalidInput(f"a leaf is an index or a sequence of values, got {leaf!r}", code="invalid_leaf")
        index = self._lookup.get(_hex(leaf_hash(*leaf, types=self.types)))
        if index is None:
            raise NotFound(f"leaf {list(leaf)!r} is not in the tree", code="leaf_not_in_tree")
        return index

    def _proof_at(self, tree_index: int) -> list[str]:
        nodes = self.nodes
        proof = []
        while tree_index > 0:
            proof.append(nodes[tree_index + 1 if tree_index % 2 else tree_index - 1])
            tree_index = (tree_index - 1) // 2
        return proof


def build_tree(leaves: Sequence[Sequence[Any]], types: Sequence[str] = REWARD_LEAF_TYPES) -> MerkleTree:
    """Build the tree OZ's ``StandardMerkleTree.of(leaves, types)`` builds; refuse zero leaves."""
    types = tuple(types)
    for leaf in leaves:
        if isinstance(leaf, (str, bytes)) or not isinstance(leaf, Sequence):
            raise InvalidInput(f"a leaf is a sequence of {len(types)} values, got {leaf!r}", code="invalid_leaf")
    values = tuple(tuple(leaf) for leaf in leaves)
    count = len(values)
    if count == 0:
        raise InvalidInput("a Merkle tree needs at least one leaf", code="empty_merkle_tree")
    hashes = [keccak(keccak(_encode_leaf(types, leaf))) for leaf in values]
    size = 2 * count - 1
    nodes: list[bytes] = [b""] * size
    tree_indices = [0] * count
    for rank, value_index in enumerate(sorted(range(count), key=hashes.__getitem__)):
        nodes[size - 1 - rank] = hashes[value_index]
        tree_indices[value_index] = size - 1 - rank
    for i in range(size - 1 - count, -1, -1):
        left, right = nodes[2 * i + 1], nodes[2 * i + 2]
        nodes[i] = keccak(left + right if left <= right else right + left)
    hex_nodes = tuple(_hex(node) for node in nodes)
    lookup = {hex_nodes[tree_index]: value_index for value_index, tree_index in enumerate(tree_indices)}
    invariant(len(nodes[0]) == HASH_LENGTH_BYTES, "merkle root is not 32 bytes")
    invariant(sorted(tree_indices) == list(range(count - 1, size)), "merkle leaves do not fill the last n slots")
    return MerkleTree(types, values, hex_nodes, tuple(tree_indices), MappingProxyType(lookup))


# -- proofs -----------------------------------------------------------------------------------


def process_proof(leaf: bytes | str, proof: Sequence[bytes | str]) -> str:
    """The root that ``proof`` leads to from the leaf hash ``leaf`` (OZ's ``processProof``)."""
    if isinstance(proof, (str, bytes)) or len(proof) > MAX_PROOF_LENGTH:
        raise InvalidInput(f"a proof is a list of at most {MAX_PROOF_LENGTH} hashes", code="invalid_proof")
    computed = _hash_bytes(leaf, "leaf hash")
    for element in proof:
        computed = node_hash(computed, _hash_bytes(element, "proof element"))
    return _hex(computed)


def verify_proof(root: bytes | str, leaf: Sequence[Any], proof: Sequence[bytes | str], types: Sequence[str] = REWARD_LEAF_TYPES) -> bool:
    """Whether ``proof`` proves the leaf values ``leaf`` under ``root`` (OZ's ``StandardMerkleTree.verify``)."""
    if isinstance(leaf, (str, bytes)) or not isinstance(leaf, Sequence):
        raise InvalidInput(f"a leaf is a sequence of values, got {leaf!r}", code="invalid_leaf")
    expected = _hex(_hash_bytes(root, "root"))
    return process_proof(leaf_hash(*leaf, types=types), proof) == expected
