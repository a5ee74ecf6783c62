// Reference oracle for src/cor_incentives/core/merkle.py: OpenZeppelin's StandardMerkleTree.
//
// stdin:  JSON, either the leaves  [[address, epoch_string, amount_string], ...]
//         (leaf encoding ["address", "uint256", "uint256"]),
//         or {"types": [...abi types...], "leaves": [[...], ...]} for another leaf encoding.
// stdout: JSON {"root": "0x..", "proofs": [[...], ...], "tree": ["0x..", ...]}
//         proofs are in the input order; tree is OZ's array layout (root at index 0).
// Numbers must be passed as decimal strings (OZ refuses JS numbers as leaf values).
//
// Usage: node tests/js/oz_merkle.mjs < leaves.json   (after `npm ci` at the repo root)
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const REWARD_LEAF_TYPES = ["address", "uint256", "uint256"];

let input = "";
for await (const chunk of process.stdin) input += chunk;
const parsed = JSON.parse(input);
const types = Array.isArray(parsed) ? REWARD_LEAF_TYPES : parsed.types;
const leaves = Array.isArray(parsed) ? parsed : parsed.leaves;

const tree = StandardMerkleTree.of(leaves, types);
const proofs = leaves.map((_, i) => tree.getProof(i));
process.stdout.write(JSON.stringify({ root: tree.root, proofs, tree: tree.dump().tree }) + "\n");
