// Writes tests/vectors/merkle.json: golden vectors for core/merkle.py, computed by OpenZeppelin's
// StandardMerkleTree. Run once from the repo root after `npm ci`:
//
//     node tests/vectors/gen_merkle.mjs
//
// The Python tests check these vectors without node. Regenerate only on purpose (a change of
// output means a change of compatibility); leaves are fixed literals, so the output is stable.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const require = createRequire(import.meta.url);
const ozVersion = require("@openzeppelin/merkle-tree/package.json").version;

const REWARD = ["address", "uint256", "uint256"];
const A = "0x1111111111111111111111111111111111111111";
const B = "0x2222222222222222222222222222222222222222";
const C = "0x3333333333333333333333333333333333333333";
const D = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"; // checksummed (EIP-55) mixed case
const E = "0xab5801a7d398351b8be11c439e05c5b3259aec9b"; // lower case
const MAX = (2n ** 256n - 1n).toString();

const cases = [
  { name: "single_leaf", types: REWARD, leaves: [[A, "1", "1000000000000000000"]] },
  { name: "two_leaves", types: REWARD, leaves: [[A, "1", "100"], [B, "1", "200"]] },
  { name: "three_leaves", types: REWARD, leaves: [[A, "1", "100"], [B, "1", "200"], [C, "1", "300"]] },
  {
    name: "five_leaves_same_address_across_epochs",
    types: REWARD,
    leaves: [[D, "0", "5"], [D, "1", "5"], [D, "2", "5"], [E, "1", "12500000000000000000"], [A, "7", "0"]],
  },
  {
    name: "extreme_amounts",
    types: REWARD,
    leaves: [[A, "0", "0"], [B, MAX, MAX], [C, "18446744073709551616", "1000000000000000000000000000"]],
  },
  {
    name: "eight_leaves_power_of_two",
    types: REWARD,
    leaves: [A, B, C, D, E, A, B, C].map((addr, i) => [addr, String(10 + i), String((i + 1) * 10 ** 6)]),
  },
  {
    name: "duplicate_leaf",
    types: REWARD,
    leaves: [[A, "3", "42"], [B, "3", "43"], [A, "3", "42"]],
  },
  {
    name: "other_encoding_address_uint256",
    types: ["address", "uint256"],
    leaves: [[A, "5000000000000000000"], [B, "2500000000000000000"], [C, "1"], [D, "7"]],
  },
];

const vectors = cases.map(({ name, types, leaves }) => {
  const tree = StandardMerkleTree.of(leaves, types);
  return {
    name,
    leaf_encoding: types,
    leaves,
    root: tree.root,
    proofs: leaves.map((_, i) => tree.getProof(i)),
    tree: tree.dump().tree,
  };
});

const out = {
  generated_by: `tests/vectors/gen_merkle.mjs with @openzeppelin/merkle-tree ${ozVersion} (StandardMerkleTree.of, getProof by input index, dump().tree), node ${process.version}`,
  description:
    "StandardMerkleTree golden vectors. leaves: input order, numbers as decimal strings; " +
    "proofs[i] proves leaves[i]; tree: OZ's array layout, root at index 0, sorted leaf hashes stored from the end.",
  cases: vectors,
};
const path = new URL("./merkle.json", import.meta.url);
writeFileSync(path, JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${vectors.length} cases to ${path.pathname}`);
