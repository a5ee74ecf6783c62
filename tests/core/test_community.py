"""Community engagement on the pure core: curators, attestations and their guards, and the community
stream split by points at epoch close (claimable, with a Merkle proof)."""

import pytest

from cor_incentives.app import views
from cor_incentives.core.apply import HANDLERS, replay
from cor_incentives.core.community import (
    appoint_curator,
    process_community_rewards,
    process_community_snapshot,
    remove_curator,
)
from cor_incentives.core.epoch import EPOCH_STEPS, process_epoch_advance, process_epoch_record
from cor_incentives.core.errors import EngineError
from cor_incentives.core.units import COR, checksum_address
from support.chain import Chain, addr

POOL = "pool:network_incentives"


def test_community_is_wired():
    assert {"community.appoint", "community.remove", "community.attest"} <= set(HANDLERS)
    assert EPOCH_STEPS.index(process_community_rewards) < EPOCH_STEPS.index(process_epoch_record)
    assert EPOCH_STEPS.index(process_epoch_advance) < EPOCH_STEPS.index(process_community_snapshot)


def chain(**params) -> Chain:
    c = Chain(
        params=params,
        wallets={
            "cur": 10 * COR,
            "cur2": 10 * COR,
            "a": 5_000 * COR,
            "b": 5_000 * COR,
            "c": 5_000 * COR,
            "poor": 10 * COR,
            "staker": 150 * COR,
            "node": 10_000 * COR,
        },
    )
    c.oracle("community.appoint", {"curator": addr("cur")})
    c.oracle("epoch.close", {})  # genesis wallets are one epoch old: eligible from epoch 1 on
    return c


def attest(c: Chain, member: str, points: int, ref: str, kind: str = "forum", curator: str = "cur") -> None:
    c.as_(curator, "community.attest", {"member": addr(member), "kind": kind, "points": points, "reference": ref})


def rejects(c: Chain, who: str, kind: str, body: dict, code: str) -> None:
    before = c.state.to_dict()
    with pytest.raises(EngineError) as exc:
        c.submit(who, kind, body)
    assert exc.value.code == code, exc.value.message
    assert c.state.to_dict() == before


def test_curators_are_appointed_and_removed_by_the_oracle_or_governance():
    c = chain()
    assert c.state.curators == {addr("cur")}
    rejects(c, addr("a"), "community.appoint", {"curator": addr("a")}, "unauthorized_actor")
    rejects(c, c.state.oracle, "community.appoint", {"curator": addr("cur")}, "already_curator")
    rejects(c, c.state.oracle, "community.appoint", {"curator": "cur"}, "invalid_address")
    rejects(c, c.state.oracle, "community.remove", {"curator": addr("a")}, "curator_not_found")
    c.oracle("community.remove", {"curator": addr("cur")})
    rejects(c, addr("cur"), "community.attest", {"member": addr("a"), "kind": "forum", "points": 1, "reference": "r"}, "not_a_curator")
    # governance calls the same functions on the state
    appoint_curator(c.state, checksum_address(addr("cur2")))
    assert addr("cur2") in c.state.curators
    remove_curator(c.state, addr("cur2"))
    with pytest.raises(EngineError, match="not a curator"):
        remove_curator(c.state, addr("cur2"))


def test_attestation_guards():
    c = chain()
    cur = addr("cur")
    ok = {"member": addr("a"), "kind": "support", "points": 10, "reference": "forum.cor/t/42"}
    cap = c.state.params.community_max_points_per_member_epoch
    cases = [
        (addr("a"), ok, "not_a_curator"),
        (cur, {**ok, "member": cur}, "self_attestation"),
        (cur, {**ok, "member": "a"}, "invalid_address"),
        (cur, {**ok, "kind": "tweet"}, "invalid_attestation_kind"),
        (cur, {**ok, "points": 0}, "invalid_points"),
        (cur, {**ok, "points": 101}, "invalid_points"),
        (cur, {**ok, "points": True}, "invalid_points"),
        (cur, {**ok, "reference": ""}, "invalid_reference"),
        (cur, {**ok, "reference": "x" * 201}, "invalid_reference"),
        (cur, {**ok, "member": addr("poor")}, "member_not_eligible"),
        (cur, {**ok, "member": addr("nobody")}, "member_not_eligible"),
    ]
    for who, body, code in cases:
        rejects(c, who, "community.attest", body, code)
    c.submit(cur, "community.attest", ok)
    rejects(c, cur, "community.attest", {**ok, "points": 1}, "duplicate_attestation")
    c.submit(cur, "community.attest", {**ok, "reference": "forum.cor/t/43"})  # another contribution is fine
    given = 20
    i = 0
    while given + 100 <= cap:
        c.submit(cur, "community.attest", {**ok, "points": 100, "reference": f"bulk/{i}"})
        given, i = given + 100, i + 1
    if given < cap:
        c.submit(cur, "community.attest", {**ok, "points": cap - given, "reference": "last"})
    assert c.state.community_points[addr("a")] == cap
    rejects(c, cur, "community.attest", {**ok, "points": 1, "reference": "one more"}, "member_points_cap")


def test_stake_at_the_epoch_start_makes_a_member_eligible_without_a_large_wallet():
    c = chain()
    c.as_("node", "node.register", {"role": "miner", "self_bond": str(2000 * COR)})
    min_stake = c.state.params.community_min_stake_units
    assert c.balance(f"wallet:{addr('staker')}") < c.state.params.community_min_balance_units
    body = {"member": addr("staker"), "kind": "bug_report", "points": 5, "reference": "issue/7"}
    rejects(c, addr("cur"), "community.attest", body, "member_not_eligible")
    c.as_("staker", "stake.delegate", {"node": addr("node"), "amount": str(min_stake)})
    rejects(c, addr("cur"), "community.attest", body, "member_not_eligible")  # stake counts from the next epoch's snapshot
    c.oracle("epoch.close", {})
    attest(c, "staker", 5, "issue/7", "bug_report")
    assert c.state.community_points == {addr("staker"): 5}


def test_eligibility_is_a_snapshot_at_the_epoch_start_so_a_passed_balance_makes_one_member():
    c = chain()
    c.as_("a", "transfer", {"to": addr("p1"), "amount": str(1_000 * COR)})  # p1 first seen in epoch 1
    rejects(c, addr("cur"), "community.attest", {"member": addr("p1"), "kind": "forum", "points": 5, "reference": "r"}, "member_not_eligible")
    c.oracle("epoch.close", {})  # epoch 2: p1 holds 1 000 COR but was seen 1 epoch ago: eligible (age 1)
    assert addr("p1") in c.state.community_eligible
    c.as_("p1", "transfer", {"to": addr("p2"), "amount": str(1_000 * COR)})  # the balance moves on during the epoch
    attest(c, "p1", 5, "r")  # p1 stays eligible for epoch 2 (the snapshot) ...
    rejects(c, addr("cur"), "community.attest", {"member": addr("p2"), "kind": "forum", "points": 5, "reference": "r"}, "member_not_eligible")
    c.oracle("epoch.close", {})  # ... p2 holds it at the start of epoch 3 but was seen only 1 epoch ago: eligible now; p1 is not
    assert addr("p2") in c.state.community_eligible and addr("p1") not in c.state.community_eligible


def test_account_age_is_counted_from_the_first_credit():
    c = chain()
    c.as_("a", "transfer", {"to": addr("young"), "amount": str(2_000 * COR)})
    assert c.state.accounts[addr("young")].first_seen_epoch == 1 and c.state.accounts[addr("young")].funder == addr("a")
    c.oracle("epoch.close", {})
    assert addr("young") in c.state.community_eligible  # age 1 at the start of epoch 2
    old = c.state.params
    assert old.community_min_account_age_epochs == 1
    c.state.params_history = c.state.params_history.with_changes(c.state.epoch, {"community_min_account_age_epochs": 2})
    process_community_snapshot(c.state)
    assert addr("young") not in c.state.community_eligible and addr("a") in c.state.community_eligible


def test_a_curator_has_a_points_budget_per_epoch_and_may_not_attest_addresses_it_funded():
    c = chain()
    budget = c.state.params.community_curator_points_per_epoch
    members = [f"m{i}" for i in range(budget // 300 + 1)]
    c.oracle("community.appoint", {"curator": addr("cur2")})
    for m in members:
        c.as_("a", "transfer", {"to": addr(m), "amount": str(COR)})
        c.as_("node", "transfer", {"to": addr(m), "amount": str(1_000 * COR)})
    c.as_("cur", "transfer", {"to": addr("puppet"), "amount": str(5 * COR)})
    c.as_("a", "transfer", {"to": addr("puppet"), "amount": str(1_000 * COR)})
    c.oracle("epoch.close", {})
    given = 0
    for m in members:
        for r in range(3):
            if given + 100 > budget:
                break
            attest(c, m, 100, f"{m}/{r}")
            given += 100
    assert given == budget
    rejects(c, addr("cur"), "community.attest", {"member": addr(members[-1]), "kind": "forum", "points": 1, "reference": "x"}, "curator_budget_spent")
    attest(c, members[-1], 100, "x", curator="cur2")  # another curator's budget is its own
    rejects(c, addr("cur2"), "community.attest", {"member": addr("cur"), "kind": "forum", "points": 1, "reference": "p"}, "member_not_eligible")
    c.oracle("epoch.close", {})
    rejects(
        c, addr("cur"), "community.attest", {"member": addr("puppet"), "kind": "forum", "points": 1, "reference": "p"}, "member_linked_to_curator"
    )
    attest(c, "puppet", 1, "p", curator="cur2")


def test_community_stream_split_by_points_is_claimable():
    """Rules 1-30: the stream split by points (rule 31's rate per point: tests/core/test_community_rate.py)."""
    c = chain(rule_version=30)
    attest(c, "a", 100, "r1")
    attest(c, "b", 100, "r2", "feedback")
    attest(c, "b", 100, "r3")
    attest(c, "c", 33, "r4")
    pool = c.balance(POOL)
    c.oracle("epoch.close", {})
    rec = c.state.epochs[1]
    budget = rec.streams["community"]["budget"]
    assert budget == rec.streams["emission"]["budget"] * 800 // 10_000
    total = 333
    expect = {m: budget * p // total for m, p in (("a", 100), ("b", 200), ("c", 33))}
    for m, amount in expect.items():
        assert c.balance(f"claimable:{addr(m)}") == amount == rec.leaves[addr(m)]
    paid = sum(expect.values())
    assert rec.streams["community"]["paid"] == paid and rec.streams["community"]["back_to_pool"] == budget - paid
    assert pool - c.balance(POOL) == paid  # rounding stays in the pool; no other stream had earners
    st = views.statement(c.state, addr("b"), 1)
    (item,) = st["items"]
    assert item["stream"] == "community" and item["claimable"] and item["detail"]["points"] == 200
    assert item["detail"]["total_points"] == total and len(item["detail"]["attestations"]) == 2
    assert c.state.community_points == {} and c.state.attestations == []
    p = views.proof(c.state, addr("b"), 1)
    c.as_("b", "reward.claim", {"address": addr("b"), "epoch": 1, "amount": p["amount_units"], "proof": p["proof"]})
    assert c.balance(f"wallet:{addr('b')}") == 5_000 * COR + expect["b"]
    attest(c, "a", 100, "r1")  # a new epoch: the same reference may count again, and the cap starts over
    assert replay(c.events, check_each=True).to_dict() == c.state.to_dict()


def test_no_points_leaves_the_stream_in_the_pool():
    c = chain()
    pool = c.balance(POOL)
    c.oracle("epoch.close", {})
    s = c.state.epochs[1].streams["community"]
    assert s["paid"] == 0 and s["back_to_pool"] == s["budget"] > 0
    assert c.balance(POOL) == pool
