"""The simulator's model of the RewardsDistributor (sim/distributor.py) agrees with the real contract on
Hardhat: the same seeded sequence of posts and claims (valid, doubled, wrong amount, wrong proof,
wrong epoch, over the funded total) succeeds or reverts with the same code, and pays the same tokens."""

from __future__ import annotations

import random
from functools import partial

from web3 import Web3

from cor_incentives.chain.publisher import MAX_UINT256
from cor_incentives.chain.rpc import ChainError
from cor_incentives.core.merkle import build_tree
from cor_incentives.sim.distributor import Revert, SimDistributor

from .conftest import Deployed, new_wallet

STEPS = 60


def test_model_and_contract_agree(deployed: Deployed) -> None:
    x = deployed
    rng = random.Random(15)
    accounts = [new_wallet(x.chain, eth_wei=0).address for _ in range(4)]
    relayer = new_wallet(x.chain)
    x.chain.send(x.publisher.private_key, x.token.functions.approve(x.distributor.address, MAX_UINT256), "approve")
    model = SimDistributor()
    trees: dict[int, tuple] = {}
    outcomes: list[tuple[str, str]] = []

    def both(what: str, chain_call, model_call) -> None:
        try:
            chain_call()
            on_chain = "ok"
        except ChainError as exc:
            on_chain = exc.code
        try:
            model_call()
            modelled = "ok"
        except Revert as exc:
            modelled = exc.code
        assert on_chain == modelled, (what, on_chain, modelled)
        outcomes.append((what, on_chain))

    for step in range(STEPS):
        if step % 10 == 0 or not trees:  # post a new epoch (sometimes underfunded, sometimes re-posting one)
            epoch = len(trees) if rng.random() < 0.8 or not trees else rng.choice(sorted(trees))
            leaves = {a: rng.randint(1, 10**18) for a in rng.sample(accounts, rng.randint(1, 4))}
            tree = build_tree([(a, epoch, v) for a, v in sorted(leaves.items())])
            offchain = sorted(rng.sample(sorted(leaves), rng.randint(0, 1)))
            total = sum(v for a, v in leaves.items() if a not in offchain) - (rng.randint(1, 10**17) if rng.random() < 0.3 else 0)
            fn = x.distributor.functions.postEpoch(
                epoch, bytes.fromhex(tree.root[2:]), total, step, b"\x07" * 32, [Web3.to_checksum_address(a) for a in offchain]
            )
            both(f"post {epoch}", partial(x.chain.send, x.publisher.private_key, fn, "post"), partial(model.post, epoch, tree.root, total, offchain))
            trees.setdefault(epoch, (tree, leaves))
            continue
        epoch = rng.choice(sorted(trees) + [len(trees) + 3])  # sometimes an epoch never posted
        tree, leaves = trees.get(epoch, trees[0])
        account = rng.choice(accounts)
        owner = account if account in leaves else next(iter(leaves))
        amount = leaves[owner] + (1 if rng.random() < 0.15 else 0)
        proof = tree.proof((owner, epoch if epoch in trees else 0, leaves[owner]))
        if rng.random() < 0.15:
            proof = list(reversed(proof)) + ["0x" + "11" * 32]
        fn = x.distributor.functions.claim(epoch, Web3.to_checksum_address(account), amount, [bytes.fromhex(p[2:]) for p in proof])
        both(
            f"claim {epoch} {account[:8]}",
            partial(x.chain.send, relayer.private_key, fn, "claim"),
            partial(model.claim, epoch, account, amount, proof),
        )

    for a in accounts:
        assert int(x.token.functions.balanceOf(Web3.to_checksum_address(a)).call()) == model.tokens[a]
    codes = {code for _, code in outcomes}
    assert {"ok", "already_claimed_onchain", "invalid_proof", "epoch_not_posted_onchain"} <= codes, codes
