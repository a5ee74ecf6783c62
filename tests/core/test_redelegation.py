"""Redelegation and cancelled unbonding: stake moves at once, earns in one place per tick, stays slashable for earlier offences."""

import pytest

from cor_incentives.core.errors import EngineError
from cor_incentives.core.slashing import slash
from cor_incentives.core.staking import accrue_all
from support.chain import Chain, addr
from support.replays import through_snapshot

SMALL = {
    "min_position_units": "1",
    "min_self_bond_miner_units": "100",
    "unbonding_period_epochs": 2,
    "epoch_length_ticks": 100,
    "jail_duration_ticks": 20,
}
A, B, C, D = addr("a"), addr("b"), addr("c"), addr("d")


def chain():
    c = Chain(wallets={"a": 10_000, "b": 10_000, "c": 10_000, "d": 100_000}, params=SMALL)
    for n in "abc":
        c.as_(n, "node.register", {"role": "miner", "self_bond": "1000"})
    return c


def rejected(c, who, kind, body, code):
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.as_(who, kind, body)
    assert e.value.code == code, e.value.message
    assert c.state.to_dict() == before, "a rejected command changed the state"


def ticks(c, n):
    c.oracle("tick", {"ticks": n})


def stake_ticks(c, node, who):
    accrue_all(c.state, c.state.nodes[node])
    return c.state.nodes[node].positions[who].stake_ticks


def test_redelegation_moves_stake_at_once_and_every_tick_counts_in_one_node():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "10000"})
    ticks(c, 4)
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": "6000"})
    assert c.balance(f"delegated:{A}:{D}") == 4000 and c.balance(f"delegated:{B}:{D}") == 6000
    assert c.state.nodes[A].stake_total == 5000 and c.state.nodes[B].stake_total == 7000
    ticks(c, 6)
    # A: 10 000 × 4 + 4 000 × 6; B: 6 000 × 6 — the moved stake counts 4 ticks in A, 6 in B, never both
    assert stake_ticks(c, A, D) == 10_000 * 4 + 4_000 * 6 and stake_ticks(c, B, D) == 6_000 * 6
    (r,) = c.state.redelegations.values()
    assert (r.source, r.node, r.amount, r.start_tick, r.mature_epoch) == (A, B, 6000, 4, 2)


def test_refusals_change_nothing():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "1000"})
    rejected(c, "d", "stake.redelegate", {"from": A, "to": A, "amount": "1"}, "same_node")
    rejected(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": "1001"}, "redelegate_exceeds_stake")
    rejected(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": "0"}, "zero_amount")
    rejected(c, "d", "stake.redelegate", {"from": A, "to": D, "amount": "1"}, "node_not_found")
    rejected(c, "a", "stake.redelegate", {"from": A, "to": B, "amount": "1"}, "self_delegation")
    rejected(c, "d", "stake.redelegate", {"from": A, "to": B, "amount": "1", "extra": 1}, "unknown_field")
    rejected(c, "d", "stake.redelegate", {"from": A, "amount": "1"}, "missing_field")
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": "500"})
    # no hop: B's stake that came from A stays where A's claim can find it until the entry matures
    rejected(c, "d", "stake.redelegate", {"from": B, "to": C, "amount": "100"}, "redelegation_in_progress")
    c.as_("d", "stake.redelegate", {"from": A, "to": C, "amount": "100"})  # what is still in A may move
    rejected(c, "d", "stake.cancel_unbond", {"id": 99}, "unbonding_not_found")
    rejected(c, "d", "stake.cancel_unbond", {"id": 0}, "invalid_id")
    for _ in range(2):
        ticks(c, 100)
        c.oracle("epoch.close", {})
    c.as_("d", "stake.redelegate", {"from": B, "to": C, "amount": "100"})  # matured: free to move, and the old entries are forgotten
    assert [(r.source, r.node) for r in c.state.redelegations.values()] == [(B, C)]


def test_an_offence_before_the_move_still_slashes_the_moved_stake():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "10000"})
    ticks(c, 5)
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": "10000"})
    ticks(c, 1)
    s = slash(c.state, A, "commit_mismatch", 3, {"task": 1}, None)  # committed at tick 3, before the move at tick 5
    assert c.balance(f"delegated:{B}:{D}") == 10_000 - 10_000 * 500 // 10_000
    assert s.by_account[f"redelegation:{D}#{next(iter(c.state.redelegations))}"] == 500
    assert s.total == 500 + 1000 * 500 // 10_000  # the moved stake and A's own self-bond, the same fraction
    assert c.state.nodes[B].stake_total == 1000 + 9500
    slash(c.state, A, "commit_mismatch", 6, {"task": 2}, None)  # committed after the move: B's stake is not A's
    assert c.balance(f"delegated:{B}:{D}") == 9500


def test_undelegating_after_the_move_does_not_escape_either():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "10000"})
    ticks(c, 5)
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": "10000"})
    c.as_("d", "stake.undelegate", {"node": B, "amount": "8000"})
    slash(c.state, A, "commit_mismatch", 3, {"task": 1}, None)
    # 500 owed: 2 000 left in B pays it
    assert c.balance(f"delegated:{B}:{D}") == 1500 and c.balance(f"unbonding:{D}") == 8000
    c.as_("d", "stake.undelegate", {"node": B, "amount": "1500"})
    # 5 % of the 9 500 still owed: from the unbonding entries (a second commit_mismatch: an equivocation dated before A's
    # jail would take A's own stake only, rule 29, tests/core/test_self_report.py)
    slash(c.state, A, "commit_mismatch", 4, {"task": 2}, None)
    assert c.balance(f"unbonding:{D}") == 9500 - 475 and sum(u.amount for u in c.state.unbondings.values()) == 9025


def test_after_the_unbonding_period_the_move_is_free():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "10000"})
    ticks(c, 5)
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": "10000"})
    for _ in range(2):
        ticks(c, 100)
        c.oracle("epoch.close", {})
    slash(c.state, A, "commit_mismatch", 3, {"task": 1}, None)
    assert c.balance(f"delegated:{B}:{D}") == 10_000


def test_cancel_unbond_returns_the_entry_without_rewards_for_the_time_away():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "10000"})
    ticks(c, 2)
    c.as_("d", "stake.undelegate", {"node": A, "amount": "4000"})
    (u,) = c.state.unbondings.values()
    ticks(c, 5)
    c.as_("d", "stake.cancel_unbond", {"id": u.id, "amount": "1000"})
    assert c.state.unbondings[u.id].amount == 3000 and c.balance(f"delegated:{A}:{D}") == 7000
    ticks(c, 3)
    rejected(c, "c", "stake.cancel_unbond", {"id": u.id}, "unbonding_not_found")  # only its owner
    rejected(c, "d", "stake.cancel_unbond", {"id": u.id, "amount": "3001"}, "cancel_exceeds_unbonding")
    c.as_("d", "stake.cancel_unbond", {"id": u.id})
    assert u.id not in c.state.unbondings and c.balance(f"delegated:{A}:{D}") == 10_000 and c.balance(f"unbonding:{D}") == 0
    ticks(c, 10)
    # 10 000 × 2, then 6 000 × 5, 7 000 × 3, 10 000 × 10: the ticks away are not counted
    assert stake_ticks(c, A, D) == 10_000 * 2 + 6_000 * 5 + 7_000 * 3 + 10_000 * 10


def test_cancel_unbond_after_maturity_is_refused():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "1000"})
    c.as_("d", "stake.undelegate", {"node": A, "amount": "1000"})
    (u,) = c.state.unbondings.values()
    for _ in range(2):
        ticks(c, 100)
        c.oracle("epoch.close", {})
    rejected(c, "d", "stake.cancel_unbond", {"id": u.id}, "unbonding_matured")


def test_cancel_unbond_pays_the_slashes_it_was_spared_and_never_twice():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "10000"})
    ticks(c, 5)
    c.as_("d", "stake.undelegate", {"node": A, "amount": "10000"})
    (u,) = c.state.unbondings.values()
    slash(c.state, A, "commit_mismatch", 3, {"task": 1}, None)  # before the unbond: the entry pays now (500)
    assert c.state.unbondings[u.id].amount == 9500
    ticks(c, 1)
    slash(c.state, A, "commit_mismatch", 6, {"task": 2}, None)  # after it: the entry is spared while away
    assert c.state.unbondings[u.id].amount == 9500
    burned, treasury = c.balance("burned"), c.balance("treasury")
    c.as_("d", "stake.cancel_unbond", {"id": u.id})
    # back as if it had stayed: the spared 5 % taken on return (475), the first slash not again
    assert c.balance(f"delegated:{A}:{D}") == 9500 - 9500 * 500 // 10_000
    taken = (c.balance("burned") - burned) + (c.balance("treasury") - treasury)
    assert taken == 475
    lines = [e for e in c.state.earnings if e.address == D and e.stream == "slash"]
    assert [e.amount for e in lines] == [-500, -475]


def test_the_twin_that_stayed_ends_no_worse_than_unbond_and_cancel():
    """Unbond before an offence, cancel after its slash: the same stake as the delegator who stayed, less the rewards of the gap."""

    def run(dodge: bool) -> int:
        c = chain()
        c.as_("d", "stake.delegate", {"node": A, "amount": "10000"})
        ticks(c, 5)
        if dodge:
            c.as_("d", "stake.undelegate", {"node": A, "amount": "10000"})
        ticks(c, 1)
        slash(c.state, A, "equivocation", 6, {"scope": "y"}, None)  # committed while the entry was away
        ticks(c, 2)
        if dodge:
            c.as_("d", "stake.cancel_unbond", {"id": next(iter(c.state.unbondings))})
        return c.balance(f"delegated:{A}:{D}")

    assert run(dodge=True) == run(dodge=False) == 9000


def test_a_snapshot_carries_redelegations():
    c = chain()
    c.as_("d", "stake.delegate", {"node": A, "amount": "1000"})
    c.as_("d", "stake.redelegate", {"from": A, "to": B, "amount": "400"})
    back = through_snapshot(c.state)
    assert back.redelegations == c.state.redelegations and back.to_dict() == c.state.to_dict()
