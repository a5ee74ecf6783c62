// Compile contracts/*.sol with solc-js (npm `solc`, the exact compiler version pinned in
// package-lock.json) into one JSON artifact per contract: ABI, creation and runtime bytecode, the
// compiler version and settings. Deterministic: the same sources and compiler give the same bytes
// (tests/chain/test_contracts_build.py rebuilds them and compares).
//
//   node scripts/compile-contracts.mjs [OUT_DIR]     (default: src/cor_incentives/chain/artifacts)
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.resolve(process.argv[2] || path.join(root, "src/cor_incentives/chain/artifacts"));
const CONTRACTS = ["CorToken", "RewardsDistributor"];
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const sources = {};
for (const name of CONTRACTS) {
  const rel = `contracts/${name}.sol`;
  sources[rel] = { content: fs.readFileSync(path.join(root, rel), "utf8") };
}

function findImports(importPath) {
  // only npm packages (OpenZeppelin) and our own contracts/ are importable
  const candidates = [path.join(root, "node_modules", importPath), path.join(root, importPath)];
  for (const file of candidates) {
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `import not found: ${importPath}` };
}

const input = { language: "Solidity", sources, settings: SETTINGS };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
for (const name of CONTRACTS) {
  const c = output.contracts[`contracts/${name}.sol`][name];
  const artifact = {
    contractName: name,
    sourceName: `contracts/${name}.sol`,
    compiler: { name: "solc-js", version: solc.version(), settings: { ...SETTINGS, outputSelection: undefined } },
    abi: c.abi,
    bytecode: "0x" + c.evm.bytecode.object,
    deployedBytecode: "0x" + c.evm.deployedBytecode.object,
  };
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
  console.log(`${name}: ${c.evm.deployedBytecode.object.length / 2} bytes runtime -> ${path.relative(root, outDir)}/${name}.json`);
}
