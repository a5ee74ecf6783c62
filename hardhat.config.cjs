// Hardhat is used only as a local JSON-RPC EVM node (`cor chain up`, tests). Contracts are compiled
// by solc-js from `make contracts` (scripts/compile-contracts.mjs), not by Hardhat.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      mining: { auto: true },
      // a reverting transaction is mined with status 0 (as on a real chain) instead of thrown back
      throwOnTransactionFailures: false,
      throwOnCallFailures: true,
    },
  },
};
