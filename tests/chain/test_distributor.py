"""The RewardsDistributor on a real Hardhat node: posts by the publisher only, immutable epochs,
claims that pay exactly the leaf once, and every kind of bad claim reverted on chain.

Roots and proofs come from ``core/merkle.py`` (the engine's own trees), so this also shows the
engine's leaves are what the contract checks: ``keccak256(bytes.concat(keccak256(abi.encode(account, epoch, amount))))``.
"""

from __future__ import annotations

import pytest
from web3 import Web3

from cor_incentives.chain.claims import claim_onchain
from cor_incentives.chain.publisher import MAX_UINT256
from cor_incentives.chain.rpc import ChainError
from cor_incentives.core.merkle import build_tree
from cor_incentives.core.units import COR

from .conftest import Deployed, new_wallet

GAS = 300_000  # an explicit gas limit sends a transaction without estimating, so a revert is mined (status 0)
ANCHOR = bytes.fromhex("ab" * 32)


def cs(a: str) -> str:
    return Web3.to_checksum_address(a)


def balance(x: Deployed, who: str) -> int:
    return int(x.token.functions.balanceOf(cs(who)).call())


def post(x: Deployed, epoch: int, tree, total: int, claimed_offchain: list[str] = (), *, sender=None, gas=None):
    sender = sender or x.publisher
    fn = x.distributor.functions.postEpoch(epoch, bytes.fromhex(tree.root[2:]), total, 7 + epoch, ANCHOR, [cs(a) for a in claimed_offchain])
    return x.chain.send(sender.private_key, fn, f"postEpoch({epoch})", gas=gas)


def approve(x: Deployed) -> None:
    x.chain.send(x.publisher.private_key, x.token.functions.approve(x.distributor.address, MAX_UINT256), "approve")


def send_claim(x: Deployed, sender, epoch: int, account: str, amount: int, proof: list[str], gas=GAS):
    fn = x.distributor.functions.claim(epoch, cs(account), amount, [bytes.fromhex(p[2:]) for p in proof])
    return x.chain.send(sender.private_key, fn, "claim", gas=gas)


@pytest.fixture
def two_epochs(deployed: Deployed):
    """Deploy, then post two epochs (5 and 3 leaves), funded by the publisher."""
    x = deployed
    users = [new_wallet(x.chain) for _ in range(5)]
    leaves = {0: {u.address: (i + 1) * COR + 17 for i, u in enumerate(users)}, 1: {u.address: (i + 3) * 10**15 for i, u in enumerate(users[:3])}}
    trees = {e: build_tree([(a, e, v) for a, v in sorted(leaves[e].items())]) for e in leaves}
    approve(x)
    receipts = {e: post(x, e, trees[e], sum(leaves[e].values())) for e in (0, 1)}
    return x, users, leaves, trees, receipts


def test_deploy_then_post_two_epochs(two_epochs):
    x, users, leaves, trees, receipts = two_epochs
    assert all(r.status == 1 for r in receipts.values())
    assert str(x.distributor.functions.owner().call()).lower() == x.publisher.address
    assert balance(x, x.distributor.address) == sum(leaves[0].values()) + sum(leaves[1].values())
    assert x.distributor.functions.postedEpochCount().call() == 2
    assert [x.distributor.functions.postedEpochAt(i).call() for i in (0, 1)] == [0, 1]
    for e in (0, 1):
        root, total, claimed, anchor_seq, block, anchor_hash = x.distributor.functions.epochInfo(e).call()
        assert ("0x" + root.hex(), total, claimed, anchor_seq, block, anchor_hash) == (
            trees[e].root,
            sum(leaves[e].values()),
            0,
            7 + e,
            receipts[e].block,
            ANCHOR,
        )
        ev = x.distributor.events.EpochPosted().get_logs(from_block=receipts[e].block, to_block=receipts[e].block)
        assert [(log["args"]["epoch"], "0x" + log["args"]["root"].hex()) for log in ev] == [(e, trees[e].root)]


def test_valid_claims_pay_exactly_the_leaf_once(two_epochs):
    x, users, leaves, trees, _ = two_epochs
    relayer = new_wallet(x.chain)  # anyone may submit a claim for an account; the tokens go to the account
    for e in (0, 1):
        for account, amount in sorted(leaves[e].items()):
            before, pool = balance(x, account), balance(x, x.distributor.address)
            proof = trees[e].proof((account, e, amount))
            r = send_claim(x, relayer, e, account, amount, proof)
            assert r.status == 1
            assert balance(x, account) == before + amount
            assert balance(x, x.distributor.address) == pool - amount
            assert balance(x, relayer.address) == 0
            assert x.distributor.functions.isClaimed(e, cs(account)).call()
            ev = x.distributor.events.Claimed().get_logs(from_block=r.block, to_block=r.block)
            assert [(log["args"]["epoch"], log["args"]["account"].lower(), log["args"]["amount"], log["args"]["sender"].lower()) for log in ev] == [
                (e, account, amount, relayer.address)
            ]
    assert balance(x, x.distributor.address) == 0
    for e in (0, 1):
        assert x.distributor.functions.epochInfo(e).call()[2] == sum(leaves[e].values())


def test_bad_claims_revert_on_chain_and_pay_nothing(two_epochs):
    x, users, leaves, trees, _ = two_epochs
    u = users[1]
    amount = leaves[0][u.address]
    proof = trees[0].proof((u.address, 0, amount))
    assert send_claim(x, u, 0, u.address, amount, proof).status == 1
    paid = balance(x, u.address)
    pool = balance(x, x.distributor.address)
    other = users[2].address
    other_amount = leaves[0][other]
    other_proof = trees[0].proof((other, 0, other_amount))
    cases = {
        "double claim": (0, u.address, amount, proof, "already_claimed_onchain"),
        "wrong amount": (0, other, other_amount + 1, other_proof, "invalid_proof"),
        "wrong proof": (0, other, other_amount, proof, "invalid_proof"),
        "wrong epoch (posted, not in its tree)": (1, other, other_amount, other_proof, "invalid_proof"),
        "wrong epoch (never posted)": (2, other, other_amount, other_proof, "epoch_not_posted_onchain"),
        "someone else's leaf to another account": (0, users[3].address, other_amount, other_proof, "invalid_proof"),
    }
    for name, (e, account, amt, prf, code) in cases.items():
        r = send_claim(x, u, e, account, amt, prf)
        assert r.status == 0, f"{name}: the transaction did not revert"
        with pytest.raises(ChainError) as err:  # the same claim, estimated first: the contract's own error, decoded
            send_claim(x, u, e, account, amt, prf, gas=None)
        assert err.value.code == code, (name, err.value.message)
    assert balance(x, u.address) == paid
    assert balance(x, other) == 0
    assert balance(x, x.distributor.address) == pool
    assert not x.distributor.functions.isClaimed(0, cs(other)).call()


def test_only_the_publisher_posts_and_a_posted_epoch_never_changes(two_epochs):
    x, users, leaves, trees, _ = two_epochs
    intruder = new_wallet(x.chain)
    evil = build_tree([(intruder.address, 5, 10**24)])
    r = post(x, 5, evil, 0, sender=intruder, gas=GAS)
    assert r.status == 0
    with pytest.raises(ChainError) as err:
        post(x, 5, evil, 0, sender=intruder)
    assert err.value.code == "not_publisher"
    assert not x.distributor.functions.isPosted(5).call()
    # the publisher itself cannot re-post (overwrite) an epoch
    before = x.distributor.functions.epochInfo(0).call()
    r = post(x, 0, evil, 0, gas=GAS)
    assert r.status == 0
    with pytest.raises(ChainError) as err:
        post(x, 0, evil, 0)
    assert err.value.code == "epoch_already_posted"
    assert x.distributor.functions.epochInfo(0).call() == before
    with pytest.raises(ChainError) as err:
        post(x, 6, type("T", (), {"root": "0x" + "00" * 32})(), 0)
    assert err.value.code == "empty_root"


def test_leaves_claimed_offchain_are_marked_claimed_at_post(deployed: Deployed):
    x = deployed
    a, b = new_wallet(x.chain), new_wallet(x.chain)
    tree = build_tree([(a.address, 3, 5 * COR), (b.address, 3, 7 * COR)])
    approve(x)
    assert post(x, 3, tree, 7 * COR, [a.address]).status == 1  # a was paid by the engine before the post
    assert x.distributor.functions.isClaimed(3, cs(a.address)).call()
    r = send_claim(x, a, 3, a.address, 5 * COR, tree.proof((a.address, 3, 5 * COR)))
    assert r.status == 0 and balance(x, a.address) == 0
    assert send_claim(x, b, 3, b.address, 7 * COR, tree.proof((b.address, 3, 7 * COR))).status == 1
    assert balance(x, b.address) == 7 * COR and balance(x, x.distributor.address) == 0


def test_an_epoch_never_pays_more_than_its_own_total(deployed: Deployed):
    """A root with more than it was funded for cannot spend another epoch's tokens."""
    x = deployed
    a, b = new_wallet(x.chain), new_wallet(x.chain)
    approve(x)
    honest = build_tree([(b.address, 0, 50 * COR)])
    assert post(x, 0, honest, 50 * COR).status == 1
    greedy = build_tree([(a.address, 1, 40 * COR)])
    assert post(x, 1, greedy, 10 * COR).status == 1  # funded with only 10
    r = send_claim(x, a, 1, a.address, 40 * COR, greedy.proof((a.address, 1, 40 * COR)))
    assert r.status == 0
    with pytest.raises(ChainError) as err:
        send_claim(x, a, 1, a.address, 40 * COR, greedy.proof((a.address, 1, 40 * COR)), gas=None)
    assert err.value.code == "epoch_total_exceeded"
    assert balance(x, x.distributor.address) == 60 * COR


def test_post_pulls_the_funds_or_reverts(deployed: Deployed):
    x = deployed
    a = new_wallet(x.chain)
    tree = build_tree([(a.address, 0, COR)])
    with pytest.raises(ChainError) as err:  # not approved yet
        post(x, 0, tree, COR)
    assert err.value.code == "insufficient_allowance"
    approve(x)
    supply = int(x.token.functions.totalSupply().call())
    with pytest.raises(ChainError) as err:
        post(x, 0, tree, supply + 1)
    assert err.value.code == "insufficient_token_balance"
    assert not x.distributor.functions.isPosted(0).call()


def test_claim_helper_and_gas(two_epochs, record_property):
    """The CLI's on-chain claim path; gas per claim and per post as measured here (reported in the notes)."""
    x, users, leaves, trees, receipts = two_epochs
    u = users[4]
    amount = leaves[0][u.address]
    r = claim_onchain(x.chain, x.d.distributor, u.private_key, 0, u.address, amount, trees[0].proof((u.address, 0, amount)))
    assert r.status == 1 and balance(x, u.address) == amount
    with pytest.raises(ChainError) as err:
        claim_onchain(x.chain, x.d.distributor, u.private_key, 0, u.address, amount, trees[0].proof((u.address, 0, amount)))
    assert err.value.code == "already_claimed_onchain"
    record_property("gas_claim_5_leaves", r.gas_used)
    record_property("gas_post", [receipts[0].gas_used, receipts[1].gas_used])
    assert 50_000 < r.gas_used < 150_000
    assert all(60_000 < rc.gas_used < 250_000 for rc in receipts.values())
