"""One payout path per epoch: ``bridge.post`` moves an epoch's unclaimed leaves to ``bridge``,
``reward.claim`` then refuses that epoch, and claimable balances stay exact per epoch.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.app import views
from cor_incentives.core.apply import conservation_holds, replay
from cor_incentives.core.bridge import BRIDGE
from cor_incentives.core.errors import EngineError
from cor_incentives.core.units import COR
from support.chain import ORACLE, Chain, addr

DISTRIBUTOR = "0x" + "d1" * 20
TX = "0x" + "ab" * 32
STAKERS = ("A", "B", "d")


def network() -> Chain:
    """Three addresses earning staking APR every epoch (two validators, always drawable with no task: rule 14 pays a
    miner only in an epoch with a task of its model): each closed epoch has three leaves."""
    params = {"epochs_per_year": 100, "epoch_length_ticks": 10, "min_self_bond_validator_units": "1", "emission_per_epoch_units": "0"}
    c = Chain(wallets={"A": 10_000 * COR, "B": 10_000 * COR, "d": 10_000 * COR}, params=params)
    c.as_("A", "node.register", {"role": "validator", "self_bond": str(1000 * COR)})
    c.as_("B", "node.register", {"role": "validator", "self_bond": str(1000 * COR), "commission_bps": 1000})
    c.as_("d", "stake.delegate", {"node": addr("B"), "amount": str(2000 * COR)})
    return c


def claim(c: Chain, who: str, epoch: int):
    p = views.proof(c.state, addr(who), epoch)
    return c.as_(who, "reward.claim", {"address": addr(who), "epoch": epoch, "amount": p["amount_units"], "proof": p["proof"]})


def post(c: Chain, epoch: int, **extra):
    return c.oracle("bridge.post", {"epoch": epoch, "evm_chain_id": 31337, "distributor": DISTRIBUTOR, **extra})


def rejected(c: Chain, actor: str, kind: str, body: dict, code: str) -> None:
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.submit(actor, kind, body)
    assert e.value.code == code, e.value.message
    assert c.state.to_dict() == before, "a rejected command changed the state"


def test_post_moves_exactly_the_unclaimed_leaves_of_that_epoch():
    c = network()
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    e0, e1 = c.state.epochs[0].leaves, c.state.epochs[1].leaves
    assert set(e0) == set(e1) == {addr(w) for w in STAKERS}
    claim(c, "A", 0)  # paid off-chain before the post
    before = {w: c.balance(f"claimable:{addr(w)}") for w in STAKERS}
    assert before["A"] == e1[addr("A")] and before["B"] == e0[addr("B")] + e1[addr("B")]

    post(c, 0)

    rec = c.state.bridged[0]
    assert rec.claimed_offchain == [addr("A")]
    assert rec.leaves == {addr("B"): e0[addr("B")], addr("d"): e0[addr("d")]}
    assert rec.total == e0[addr("B")] + e0[addr("d")] == c.balance(BRIDGE)
    assert rec.root == c.state.epochs[0].root and rec.tx_hash is None
    assert (rec.anchor_seq, rec.anchor_hash) == (c.events[-2].seq, c.events[-2].hash)  # the head before the post
    # epoch 1's leaves stay claimable off-chain, to the base unit
    assert c.balance(f"claimable:{addr('A')}") == e1[addr("A")]
    assert c.balance(f"claimable:{addr('B')}") == e1[addr("B")]
    assert c.balance(f"claimable:{addr('d')}") == e1[addr("d")]
    conservation_holds(c.state)


def test_offchain_claim_of_a_posted_epoch_is_refused_and_others_still_pay():
    c = network()
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    claim(c, "A", 0)
    post(c, 0)
    p = views.proof(c.state, addr("B"), 0)
    body = {"address": addr("B"), "epoch": 0, "amount": p["amount_units"], "proof": p["proof"]}
    rejected(c, addr("B"), "reward.claim", body, "epoch_on_chain")
    rejected(c, addr("d"), "reward.claim", {**body, "address": addr("d")}, "epoch_on_chain")
    pa = views.proof(c.state, addr("A"), 0)  # already paid before the post: that is what it says
    rejected(c, addr("A"), "reward.claim", {"address": addr("A"), "epoch": 0, "amount": pa["amount_units"], "proof": pa["proof"]}, "already_claimed")
    wallet = c.balance(f"wallet:{addr('B')}")
    claim(c, "B", 1)  # an epoch not posted pays as before
    assert c.balance(f"wallet:{addr('B')}") == wallet + c.state.epochs[1].leaves[addr("B")]
    assert c.balance(f"claimable:{addr('B')}") == 0


def test_confirm_records_tx_and_block_once():
    c = network()
    c.oracle("epoch.close", {})
    post(c, 0)
    c.oracle("bridge.confirm", {"epoch": 0, "tx_hash": TX, "block": 7})
    assert (c.state.bridged[0].tx_hash, c.state.bridged[0].block) == (TX, 7)
    rejected(c, ORACLE, "bridge.confirm", {"epoch": 0, "tx_hash": TX, "block": 8}, "already_confirmed")


def test_rejections_change_nothing():
    c = network()
    c.oracle("epoch.close", {})  # epoch 0 has leaves
    c.oracle("epoch.close", {})
    ok = {"epoch": 0, "evm_chain_id": 31337, "distributor": DISTRIBUTOR}
    rejected(c, addr("A"), "bridge.post", ok, "unauthorized_actor")
    rejected(c, ORACLE, "bridge.post", {**ok, "epoch": -1}, "invalid_epoch")
    rejected(c, ORACLE, "bridge.post", {**ok, "epoch": True}, "invalid_epoch")
    rejected(c, ORACLE, "bridge.post", {**ok, "evm_chain_id": 0}, "invalid_chain_id")
    rejected(c, ORACLE, "bridge.post", {**ok, "evm_chain_id": "1"}, "invalid_chain_id")
    rejected(c, ORACLE, "bridge.post", {**ok, "distributor": "0x12"}, "invalid_address")
    rejected(c, ORACLE, "bridge.post", {**ok, "extra": 1}, "unknown_field")
    rejected(c, ORACLE, "bridge.post", {**ok, "epoch": 9}, "epoch_not_found")
    rejected(c, ORACLE, "bridge.confirm", {"epoch": 0, "tx_hash": TX, "block": 1}, "epoch_not_posted")
    post(c, 0)
    rejected(c, ORACLE, "bridge.post", ok, "already_posted")
    rejected(c, ORACLE, "bridge.confirm", {"epoch": 0, "tx_hash": TX.upper(), "block": 1}, "invalid_tx_hash")
    rejected(c, ORACLE, "bridge.confirm", {"epoch": 0, "tx_hash": TX, "block": -1}, "invalid_block")
    rejected(c, ORACLE, "bridge.confirm", {"epoch": 0, "tx_hash": TX, "block": 1, "gas": 1}, "unknown_field")
    rejected(c, addr("A"), "bridge.confirm", {"epoch": 0, "tx_hash": TX, "block": 1}, "unauthorized_actor")


def test_an_epoch_without_leaves_cannot_be_posted():
    c = Chain(wallets={"x": 1}, params={"emission_per_epoch_units": "0"})
    c.oracle("epoch.close", {})
    assert c.state.epochs[0].root is None
    rejected(c, ORACLE, "bridge.post", {"epoch": 0, "evm_chain_id": 1, "distributor": DISTRIBUTOR}, "nothing_to_claim")


def test_a_log_without_bridge_commands_keeps_its_fingerprint_shape():
    c = network()
    c.oracle("epoch.close", {})
    assert "bridged" not in c.state.to_dict()
    post(c, 0)
    assert list(c.state.to_dict()["bridged"]) == ["0"]


# -- property: any interleaving of closes, claims and posts keeps every balance exact ----------

OPS = st.lists(
    st.one_of(
        st.just(("close",)),
        st.tuples(st.just("claim"), st.sampled_from(STAKERS), st.integers(0, 3)),
        st.tuples(st.just("post"), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_any_interleaving_pays_each_leaf_exactly_once(ops):
    c = network()
    for op in ops:
        before = c.state.to_dict()
        try:
            if op[0] == "close":
                c.oracle("epoch.close", {})
            elif op[0] == "claim":
                if op[2] not in c.state.epochs:
                    continue
                claim(c, op[1], op[2])
            else:
                post(c, op[1])
        except EngineError as exc:
            assert exc.code in {"epoch_on_chain", "already_claimed", "already_posted", "epoch_not_found"}, exc.code
            assert c.state.to_dict() == before
        conservation_holds(c.state)
        # each leaf sits in exactly one place: claimable (unpaid, not posted), a wallet (claimed), or bridge (posted)
        for w in STAKERS:
            a = addr(w)
            unpaid = sum(r.leaves.get(a, 0) for e, r in c.state.epochs.items() if e not in c.state.bridged and f"{e}|{a}" not in c.state.claimed)
            assert c.balance(f"claimable:{a}") == unpaid
        assert c.balance(BRIDGE) == sum(r.total for r in c.state.bridged.values())
        for e, r in c.state.bridged.items():
            assert r.total + sum(c.state.epochs[e].leaves[a] for a in r.claimed_offchain) == sum(c.state.epochs[e].leaves.values())
    assert replay(c.events).to_dict() == c.state.to_dict()
