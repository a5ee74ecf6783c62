"""The EVM side: the COR ERC-20 and the RewardsDistributor, a local Hardhat node, the publisher that
posts epoch roots and log anchors, on-chain claims, and verification of the log against the chain.

Modules
    ``contracts``  the compiled artifacts (ABI + bytecode from ``make contracts``) and error decoding
    ``rpc``        a web3.py connection, signed transactions, revert reasons as ``ChainError`` codes
    ``node``       start and stop a Hardhat JSON-RPC node (``cor chain up``)
    ``deploy``     deploy the token and the distributor; the chain file that remembers them
    ``publisher``  post every closed epoch: ``bridge.post`` in the log, ``postEpoch`` on chain,
                   ``bridge.confirm``; idempotent and restart-safe
    ``claims``     claim a leaf on chain with a local key
    ``verify``     check every posted root and anchor against the log

The core (``core/bridge.py``) decides what moves; this package only carries it to the chain.

See docs/design.md §9.
"""
