"""core.merkle against OpenZeppelin's StandardMerkleTree: live via node, by golden vectors, by properties."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core.errors import InvalidInput, NotFound
from cor_incentives.core.merkle import (
    MAX_PROOF_LENGTH,
    REWARD_LEAF_TYPES,
    build_tree,
    leaf_hash,
    node_hash,
    process_proof,
    verify_proof,
)

ROOT = Path(__file__).resolve().parents[2]
OZ_SCRIPT = ROOT / "tests" / "js" / "oz_merkle.mjs"
OZ_PACKAGE = ROOT / "node_modules" / "@openzeppelin" / "merkle-tree"
VECTORS = ROOT / "tests" / "vectors" / "merkle.json"
MAX_UINT256 = 2**256 - 1


# -- helpers ----------------------------------------------------------------------------------


def oz_tree(leaves: list[tuple], types: tuple[str, ...] = REWARD_LEAF_TYPES) -> dict:
    """Root, proofs (input order) and array layout from OZ's StandardMerkleTree, run by node."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the OZ cross-check needs Node 20 (then run `npm ci` at the repo root)")
    if not OZ_PACKAGE.is_dir():
        pytest.fail(f"{OZ_PACKAGE} is missing: run `npm ci` at the repo root ({ROOT}) to install the JS test deps")
    as_json = [[v if isinstance(v, str) else str(v) for v in leaf] for leaf in leaves]
    payload = as_json if types == REWARD_LEAF_TYPES else {"types": list(types), "leaves": as_json}
    done = subprocess.run([node, str(OZ_SCRIPT)], input=json.dumps(payload), capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, f"oz_merkle.mjs failed:\n{done.stderr}"
    return json.loads(done.stdout)


def random_reward_leaves(count: int, seed: int) -> list[tuple[str, int, int]]:
    """``count`` leaves, unique per (address, epoch); addresses recur across epochs; mixed-case addresses."""
    rng = random.Random(seed)
    pool = ["0x" + rng.randbytes(20).hex() for _ in range(max(1, count // 3))]
    seen: set[tuple[str, int]] = set()
    leaves = []
    while len(leaves) < count:
        address, epoch = rng.choice(pool), rng.randrange(0, 12)
        if (address, epoch) in seen:
            continue
        seen.add((address, epoch))
        amount = rng.choice([0, 1, 10**27, rng.randrange(0, 10**27 + 1), rng.randrange(0, 10**18)])
        leaves.append((to_checksum_address(address) if rng.random() < 0.5 else address, epoch, amount))
    return leaves


def assert_same_as_oz(leaves: list[tuple], types: tuple[str, ...] = REWARD_LEAF_TYPES) -> None:
    ours, theirs = build_tree(leaves, types), oz_tree(leaves, types)
    assert ours.root == theirs["root"]
    assert list(ours.nodes) == theirs["tree"]
    assert ours.proofs() == theirs["proofs"]
    assert [ours.proof(i) for i in range(len(leaves))] == theirs["proofs"]


# -- (a) against OZ, live ---------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 7, 64, 257])
def test_root_and_every_proof_equal_oz(count: int) -> None:
    assert_same_as_oz(random_reward_leaves(count, seed=count))


def test_extreme_values_and_duplicate_leaves_equal_oz() -> None:
    a, b = "0x" + "ab" * 20, to_checksum_address("0x" + "cd" * 20)
    leaves = [(a, 0, 0), (b, MAX_UINT256, MAX_UINT256), (a, 0, 0), (b, 2**64, 10**27), (a, 0, 0)]
    assert_same_as_oz(leaves)


def test_other_leaf_encoding_equals_oz() -> None:
    types = ("address", "uint256")
    leaves = [("0x" + f"{i:040x}", i * 10**18) for i in range(1, 10)]
    assert_same_as_oz(leaves, types)


# -- (c) golden vectors, no node needed -------------------------------------------------------


def _vector_cases() -> list[dict]:
    return json.loads(VECTORS.read_text())["cases"]


def test_vectors_file_says_how_it_was_made() -> None:
    data = json.loads(VECTORS.read_text())
    assert "@openzeppelin/merkle-tree" in data["generated_by"]
    assert len(data["cases"]) >= 5


@pytest.mark.parametrize("case", _vector_cases(), ids=lambda case: case["name"])
def test_golden_vector(case: dict) -> None:
    types = tuple(case["leaf_encoding"])
    leaves = [tuple(int(v) if t.startswith(("uint", "int")) else v for t, v in zip(types, leaf)) for leaf in case["leaves"]]
    tree = build_tree(leaves, types)
    assert tree.root == case["root"]
    assert list(tree.nodes) == case["tree"]
    assert tree.proofs() == case["proofs"]
    for leaf, proof in zip(leaves, case["proofs"]):
        assert verify_proof(case["root"], leaf, proof, types)


# -- edge cases -------------------------------------------------------------------------------

ALICE = "0x1111111111111111111111111111111111111111"
BOB = "0x2222222222222222222222222222222222222222"


def test_empty_tree_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        build_tree([])
    assert info.value.code == "empty_merkle_tree"


def test_single_leaf_root_is_the_leaf_hash_and_proof_is_empty() -> None:
    tree = build_tree([(ALICE, 1, 10**18)])
    assert tree.root == "0x" + leaf_hash(ALICE, 1, 10**18).hex()
    assert tree.proof(0) == [] and tree.proof((ALICE, 1, 10**18)) == []
    assert verify_proof(tree.root, (ALICE, 1, 10**18), [])
    assert not verify_proof(tree.root, (ALICE, 1, 10**18 + 1), [])


def test_leaf_hash_is_double_keccak_of_abi_encoding() -> None:
    from eth_abi import encode
    from eth_hash.auto import keccak

    expected = keccak(keccak(encode(["address", "uint256", "uint256"], [ALICE, 1, 100])))
    assert leaf_hash(ALICE, 1, 100) == expected and len(expected) == 32


def test_node_hash_sorts_the_pair() -> None:
    a, b = leaf_hash(ALICE, 1, 1), leaf_hash(BOB, 1, 1)
    assert node_hash(a, b) == node_hash(b, a)


def test_address_case_does_not_change_the_hash() -> None:
    address = "0xd8da6bf26964af9d7eed9e03e53415d37aa96045"
    assert leaf_hash(address, 3, 5) == leaf_hash(to_checksum_address(address), 3, 5)


@pytest.mark.parametrize(
    "leaf",
    [
        (ALICE, 1, 1.0),
        (ALICE, 1, True),
        (ALICE, 1, "100"),
        (ALICE, 1, -1),
        (ALICE, 1, 2**256),
        (ALICE, -1, 1),
        ("0x1234", 1, 1),
        ("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96046", 1, 1),  # mixed case, bad checksum
        (ALICE, 1),
        (ALICE, 1, 1, 1),
    ],
)
def test_bad_leaf_values_are_refused(leaf: tuple) -> None:
    with pytest.raises(InvalidInput) as info:
        build_tree([(BOB, 1, 1), leaf])
    assert info.value.code == "invalid_leaf"


def test_bad_leaf_shapes_and_types_are_refused() -> None:
    for leaves, types in (
        ([ALICE], REWARD_LEAF_TYPES),
        ((ALICE, 1, 1), REWARD_LEAF_TYPES),
        ([(1,)], ("uint7",)),
        ([(1,)], ("no_such_type",)),
    ):
        with pytest.raises(InvalidInput) as info:
            build_tree(leaves, types)
        assert info.value.code == "invalid_leaf"


def test_tree_is_frozen_and_lookups_fail_clearly() -> None:
    tree = build_tree([(ALICE, 1, 1), (BOB, 1, 2)])
    with pytest.raises(FrozenInstanceError):
        tree.nodes = ()  # type: ignore[misc]
    with pytest.raises(NotFound):
        tree.proof((ALICE, 1, 2))
    with pytest.raises(InvalidInput):
        tree.proof(2)
    with pytest.raises(InvalidInput):
        tree.proof(-1)
    assert len(tree) == 2 and tree.leaves == ((ALICE, 1, 1), (BOB, 1, 2))


def test_duplicate_leaf_by_value_proves_the_last_occurrence_like_oz() -> None:
    leaves = [(ALICE, 3, 42), (BOB, 3, 43), (ALICE, 3, 42)]
    tree = build_tree(leaves)
    assert tree.proof((ALICE, 3, 42)) == tree.proof(2)


def test_malformed_proofs_are_refused() -> None:
    tree = build_tree([(ALICE, 1, 1), (BOB, 1, 2)])
    for bad in (["0x1234"], ["zz" * 32], [b"\x00" * 31], "0x" + "00" * 32, ["0x" + "00" * 32] * (MAX_PROOF_LENGTH + 1)):
        with pytest.raises(InvalidInput) as info:
            verify_proof(tree.root, (ALICE, 1, 1), bad)
        assert info.value.code == "invalid_proof"
    with pytest.raises(InvalidInput):
        verify_proof("0x00", (ALICE, 1, 1), tree.proof(0))


def test_bytes_and_hex_inputs_agree() -> None:
    tree = build_tree([(ALICE, 1, 1), (BOB, 1, 2), (BOB, 2, 2)])
    proof = tree.proof(1)
    as_bytes = [bytes.fromhex(p[2:]) for p in proof]
    upper_hex_leaf = "0x" + leaf_hash(BOB, 1, 2).hex().upper()
    assert process_proof(leaf_hash(BOB, 1, 2), as_bytes) == process_proof(upper_hex_leaf, proof)
    assert verify_proof(bytes.fromhex(tree.root[2:]), (BOB, 1, 2), as_bytes)


# -- (b) properties ---------------------------------------------------------------------------

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
uint256s = st.one_of(st.integers(0, 2**64), st.integers(0, MAX_UINT256))
reward_leaves = st.tuples(addresses, uint256s, uint256s)
leaf_sets = st.lists(reward_leaves, min_size=1, max_size=40)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(leaves=leaf_sets)
def test_every_proof_verifies_and_has_logarithmic_length(leaves: list[tuple]) -> None:
    tree = build_tree(leaves)
    n = len(leaves)
    for i, leaf in enumerate(leaves):
        proof = tree.proof(i)
        assert verify_proof(tree.root, leaf, proof)
        assert verify_proof(tree.root, leaf, tree.proof(leaf))
        assert process_proof(leaf_hash(*leaf), proof) == tree.root
        # OZ's layout: a leaf sits at depth floor(log2 n) or ceil(log2 n)
        assert (n.bit_length() - 1) <= len(proof) <= (n - 1).bit_length()


@PROPERTY
@given(leaves=leaf_sets, data=st.data())
def test_a_changed_leaf_does_not_verify(leaves: list[tuple], data: st.DataObject) -> None:
    tree = build_tree(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1), label="leaf")
    address, epoch, amount = leaves[i]
    proof = tree.proof(i)
    new_amount = data.draw(uint256s.filter(lambda v: v != amount), label="amount")
    new_epoch = data.draw(uint256s.filter(lambda v: v != epoch), label="epoch")
    new_address = data.draw(addresses.filter(lambda v: v != address.lower()), label="address")
    assert not verify_proof(tree.root, (address, epoch, new_amount), proof)
    assert not verify_proof(tree.root, (address, new_epoch, amount), proof)
    assert not verify_proof(tree.root, (new_address, epoch, amount), proof)


@PROPERTY
@given(leaves=st.lists(reward_leaves, min_size=2, max_size=40), data=st.data())
def test_a_tampered_proof_does_not_verify(leaves: list[tuple], data: st.DataObject) -> None:
    tree = build_tree(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1), label="leaf")
    proof = tree.proof(i)
    k = data.draw(st.integers(0, len(proof) - 1), label="element")
    bit = data.draw(st.integers(0, 255), label="bit")
    flipped = int(proof[k], 16) ^ (1 << bit)
    tampered = proof[:k] + ["0x" + f"{flipped:064x}"] + proof[k + 1 :]
    assert not verify_proof(tree.root, leaves[i], tampered)
    assert not verify_proof(tree.root, leaves[i], proof[:-1])
    assert not verify_proof(tree.root, leaves[i], proof + [tree.root])
    if proof != proof[::-1]:
        assert not verify_proof(tree.root, leaves[i], proof[::-1])


@PROPERTY
@given(leaves=leaf_sets, seed=st.integers(0, 2**32))
def test_root_does_not_depend_on_input_order(leaves: list[tuple], seed: int) -> None:
    shuffled = list(leaves)
    random.Random(seed).shuffle(shuffled)
    a, b = build_tree(leaves), build_tree(shuffled)
    assert a.root == b.root and a.nodes == b.nodes
    for leaf in leaves:
        assert a.proof(leaf) == b.proof(leaf)


@PROPERTY
@given(leaf=reward_leaves)
def test_reward_leaves_packed_directly_equal_eth_abi(leaf: tuple) -> None:
    """The usual leaf (a lower-case address, two uint256) is written without eth_abi: the same bytes."""
    from eth_abi.abi import encode

    from cor_incentives.core import merkle

    assert merkle._pack_reward_leaf(*leaf) == encode(list(REWARD_LEAF_TYPES), list(leaf))


@pytest.mark.parametrize(
    "leaf",
    [
        ("0x" + "AB" * 20, 1, 2),  # another case: eth_abi's checks
        (bytes.fromhex("ab" * 20), 1, 2),
        ("0x" + "ab" * 20, True, 2),
        ("0x" + "ab" * 20, -1, 2),
        ("0x" + "ab" * 20, 1, 2**256),
        ("0x" + "ab" * 19 + "a", 1, 2),
    ],
)
def test_other_leaves_are_left_to_eth_abi(leaf: tuple) -> None:
    from cor_incentives.core import merkle

    assert merkle._pack_reward_leaf(*leaf) is None
