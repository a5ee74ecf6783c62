"""Gas of the RewardsDistributor on a real Hardhat node: per post and per claim, next to the floor.

    .venv/bin/python bench/chain_gas.py [--sizes 2 16 256 4096] [--offchain 0 10 100]

Starts its own Hardhat node (stopped at the end), deploys the contracts, and prints one JSON
document with the gas of:
    post      postEpoch with 0 and with N addresses already claimed off-chain (the marks cost gas);
    claim     the first and a later claim of a tree of each size (the proof has ⌈log2 n⌉ hashes);
    floor     a plain ERC-20 transfer to a fresh account: what paying a leaf costs without any proof.
Gas is deterministic for a given compiler, settings and hardfork (cancun), unlike time.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets

from eth_account import Account
from web3 import Web3

from cor_incentives.chain.contracts import artifact
from cor_incentives.chain.deploy import DEV_ETH_WEI, deploy
from cor_incentives.chain.node import start_node
from cor_incentives.chain.publisher import MAX_UINT256
from cor_incentives.chain.rpc import Chain
from cor_incentives.core.merkle import build_tree
from cor_incentives.core.units import COR


def fresh() -> str:
    return Account.from_key("0x" + secrets.token_hex(32)).address.lower()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2, 16, 256, 4096])
    ap.add_argument("--offchain", type=int, nargs="+", default=[0, 10, 100])
    args = ap.parse_args()
    node = start_node()
    try:
        chain = Chain(node.rpc_url)
        key = "0x" + secrets.token_hex(32)
        me = Account.from_key(key).address.lower()
        chain.set_balance(me, DEV_ETH_WEI)
        d = deploy(chain, key, me, 10**9 * COR)
        dist = chain.contract("RewardsDistributor", d.distributor)
        token = chain.contract("CorToken", d.token)
        chain.send(key, token.functions.approve(dist.address, MAX_UINT256), "approve")
        floor = chain.send(key, token.functions.transfer(Web3.to_checksum_address(fresh()), COR), "transfer").gas_used
        epoch = 0
        posts = []
        for k in args.offchain:
            tree = build_tree([(fresh(), epoch, COR) for _ in range(max(k, 1))])
            marked = [Web3.to_checksum_address(leaf[0]) for leaf in tree.leaves[:k]]
            fn = dist.functions.postEpoch(epoch, bytes.fromhex(tree.root[2:]), COR, 1, b"\x01" * 32, marked)
            posts.append({"claimed_offchain": k, "gas": chain.send(key, fn, "post").gas_used})
            epoch += 1
        claims = []
        for n in args.sizes:
            leaves = [(fresh(), epoch, COR + i) for i in range(n)]
            tree = build_tree(leaves)
            chain.send(key, dist.functions.postEpoch(epoch, bytes.fromhex(tree.root[2:]), sum(v for _, _, v in leaves), 1, b"\x01" * 32, []), "post")
            gas = []
            for i in (0, 1):
                account, _, amount = leaves[i]
                proof = [bytes.fromhex(p[2:]) for p in tree.proof(i)]
                gas.append(chain.send(key, dist.functions.claim(epoch, Web3.to_checksum_address(account), amount, proof), "claim").gas_used)
            claims.append({"leaves": n, "proof_hashes": len(tree.proof(0)), "first_claim_gas": gas[0], "second_claim_gas": gas[1]})
            epoch += 1
        print(
            json.dumps(
                {
                    "bench": "chain_gas",
                    "python": platform.python_version(),
                    "compiler": artifact("RewardsDistributor").compiler["version"],
                    "hardfork": "cancun",
                    "deploy_gas": d.gas,
                    "floor_erc20_transfer_gas": floor,
                    "post": posts,
                    "claim": claims,
                },
                indent=2,
            )
        )
    finally:
        node.stop()


if __name__ == "__main__":
    main()
