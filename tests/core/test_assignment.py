"""Steer-proof assignment: miners and validators drawn with the beacon value revealed after the request."""

import pytest

from cor_incentives.app.beacon import hash_chain
from cor_incentives.core import beacon
from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.selection import check_index, draw, pool_size
from cor_incentives.core.slashing import slash
from cor_incentives.core.tasks import commitment
from support.chain import beacon_secret
from support.exact import exact
from support.market import COR, addr, commit_reveal, h, market, submit, validate_all


def tick(c, n=1):
    c.oracle("tick", {"ticks": n})


def value(c) -> bytes:
    return bytes.fromhex(c.state.beacon.value[2:])


def test_miners_are_drawn_at_the_next_tick_from_its_beacon_value():
    c = market(n_miners=6, beacon=True)
    tid = submit(c)
    task = c.state.tasks[tid]
    assert task.state == "CREATED" and task.miners == [] and c.state.beacon.pending == [("task:miners", tid)]
    assert c.balance(f"escrow:task:{tid}") == task.escrowed  # escrowed at once
    tick(c)
    seed = beacon.randomness(value(c), "task:miners", tid)
    assert task.state == "PREPARED" and task.seed == "0x" + seed.hex()
    assert [a.miner for a in task.miners] == draw(c.state, "miner", 3, seed, model=task.model)
    assert task.deadline_tick == c.state.tick + c.state.params.precommit_deadline_ticks
    assert exact(replay(c.events)) == exact(c.state)


def test_a_self_transfer_before_the_tick_does_not_change_the_draw():
    """The grinding attack on the miners: whatever the user sends between submit and tick, the same miners."""
    drawn = []
    for transfers in (0, 1, 4):
        c = market(n_miners=8, beacon=True)
        tid = submit(c)
        for i in range(transfers):
            c.as_("user", "transfer", {"to": addr("user"), "amount": str(i + 1)})
        tick(c)
        drawn.append([a.miner for a in c.state.tasks[tid].miners])
    assert drawn[0] == drawn[1] == drawn[2]


def test_validators_are_drawn_after_the_last_reveal_whatever_the_revealer_sends_first():
    drawn = []
    for transfers in (0, 3):
        c = market(n_miners=3, n_validators=6, beacon=True)
        tid = submit(c)
        tick(c)
        task = c.state.tasks[tid]
        miners = [a.miner for a in task.miners]
        last = miners[-1]
        for m in miners:
            c.submit(m, "task.precommit", {"task": tid, "commit": _commit(tid, m, "Paris")})
        for m in miners[:-1]:
            c.submit(m, "task.reveal", {"task": tid, "output_hash": _h("Paris"), "salt": "salt"})
        assert task.state == "PRECOMMITTED"
        for i in range(transfers):  # the last revealer tries to move the log head first
            c.submit(last, "transfer", {"to": last, "amount": str(i + 1)})
        c.submit(last, "task.reveal", {"task": tid, "output_hash": _h("Paris"), "salt": "salt"})
        assert task.state == "COMMITTED" and task.validators == []
        with pytest.raises(EngineError) as e:
            c.submit(addr("v0"), "task.report_commit", {"task": tid, "commit": _h("report")})
        assert e.value.code == "not_assigned"
        tick(c)
        assert len(task.validators) == task.validators_wanted == c.state.params.validators_per_task
        assert task.validators == draw(c.state, "validator", task.validators_wanted, beacon.randomness(value(c), "task:validators", tid))
        drawn.append(task.validators)
        validate_all(c, tid, lambda v, m: (0, 900_000_000))
        assert task.state == "SETTLED"
    assert drawn[0] == drawn[1]


def _h(text):
    return h(text)


def _commit(tid, miner, text):
    return commitment(tid, miner, h(text), "salt")


def test_cancel_before_the_draw_is_free():
    c = market(beacon=True)
    before = c.balance("escrow:session:1")
    tid = submit(c)
    c.as_("user", "task.cancel", {"task": tid})
    task = c.state.tasks[tid]
    assert task.state == "CANCELLED" and task.charged == 0 and c.balance("escrow:session:1") == before
    treasury = c.balance("treasury")
    tick(c)  # the pending draw finds the task cancelled and does nothing
    assert task.miners == [] and c.state.beacon.pending == [] and c.balance("treasury") == treasury


def test_a_task_whose_miners_are_drawn_cannot_be_cancelled():
    c = market(beacon=True)
    tid = submit(c)
    tick(c)
    task = c.state.tasks[tid]
    assert task.state == "PREPARED"
    before = exact(c.state)
    with pytest.raises(EngineError) as e:
        c.as_("user", "task.cancel", {"task": tid})
    assert e.value.code == "task_not_cancellable" and exact(c.state) == before


def test_without_a_beacon_a_task_can_be_cancelled_after_assignment():
    c = market()
    tid = submit(c)
    assert c.state.tasks[tid].state == "PREPARED"
    c.as_("user", "task.cancel", {"task": tid})  # the first rules, as old logs replay
    assert c.state.tasks[tid].state == "CANCELLED"


def test_sessions_cannot_ask_for_fewer_validators_than_governance_allows():
    c = market(beacon=True, n_validators=5, params={"validators_per_task": 4, "min_validators_per_task": 2})
    with pytest.raises(EngineError) as e:
        c.as_("user", "session.open", {"deposit": str(COR), "validators": 1})
    assert e.value.code == "invalid_session_settings"
    c.as_("user", "session.open", {"deposit": str(10 * COR), "validators": 2})
    sid = max(c.state.sessions)
    tid = submit(c, session=sid)
    assert c.state.tasks[tid].validators_wanted == 2
    with pytest.raises(EngineError) as e:  # the floor cannot exceed the number drawn by default
        market(beacon=True, params={"validators_per_task": 2, "min_validators_per_task": 3})
    assert e.value.code == "invalid_parameter"


def test_without_a_beacon_a_session_may_still_ask_for_one_validator():
    c = market()
    c.as_("user", "session.open", {"deposit": str(COR), "validators": 1})  # old logs replay as they were


def test_network_tasks_draw_by_weight_with_no_preference_for_idle_miners():
    c = market(n_miners=4, beacon=True, params={"redundancy": 2, "min_consensus": 2})
    c.oracle("task.network", {"model": "smollm2-135m", "prompt_hash": _h("p1"), "prompt_bytes": 10, "input_tokens": 5, "max_output_tokens": 8})
    c.oracle("task.network", {"model": "smollm2-135m", "prompt_hash": _h("p2"), "prompt_bytes": 10, "input_tokens": 5, "max_output_tokens": 8})
    tick(c)
    t1, t2 = (c.state.tasks[t] for t in sorted(c.state.tasks))
    for t in (t1, t2):
        assert t.state == "PREPARED" and len(t.miners) == 2
        assert [a.miner for a in t.miners] == draw(c.state, "miner", 2, beacon.randomness(value(c), "task:miners", t.id), model=t.model)


def test_a_task_whose_pool_emptied_before_the_draw_fails_and_is_refunded():
    c = market(n_miners=3, beacon=True)
    before = c.balance("escrow:session:1")
    tid = submit(c)
    c.as_("m0", "stake.unbond", {"amount": str(1500 * COR)})  # below the minimum bond: no longer selectable
    tick(c)
    task = c.state.tasks[tid]
    assert task.state == "FAILED" and task.failure == "not_enough_miners"
    assert c.balance("escrow:session:1") == before and c.balance(f"escrow:task:{tid}") == 0


def test_a_task_the_network_cannot_serve_is_refused_at_once():
    c = market(n_miners=3, beacon=True, params={"redundancy": 3})
    c.as_("m0", "stake.unbond", {"amount": str(1500 * COR)})
    assert pool_size(c.state, "miner", "smollm2-135m") == 2
    with pytest.raises(EngineError) as e:
        submit(c)
    assert e.value.code == "not_enough_miners"


def test_dedicated_sessions_pay_per_reserved_miner_and_draw_at_the_next_tick():
    c = market(n_miners=6, beacon=True, params={"dedicated_session_fee_units": str(COR)})
    wallet, treasury = c.balance(f"wallet:{addr('user')}"), c.balance("treasury")
    c.as_("user", "session.open", {"deposit": str(10 * COR), "mode": "dedicated", "nodes": 4, "model": "smollm2-135m"})
    sid = max(c.state.sessions)
    s = c.state.sessions[sid]
    assert s.dedicated_miners == () and s.reserved == 4
    assert c.balance("treasury") - treasury == 4 * COR and wallet - c.balance(f"wallet:{addr('user')}") == 14 * COR
    tid = submit(c, session=sid)  # before the draw: drawn after the session's own draw, among its miners
    tick(c)
    assert len(s.dedicated_miners) == 4 and s.reserved == 0
    assert s.dedicated_miners == tuple(draw(c.state, "miner", 4, beacon.randomness(value(c), "session:miners", sid), model="smollm2-135m"))
    assert {a.miner for a in c.state.tasks[tid].miners} <= set(s.dedicated_miners)
    assert exact(replay(c.events)) == exact(c.state)


def test_the_index_follows_stake_reputation_and_jail():
    c = market(n_miners=5, beacon=True)
    for _ in range(3):
        tid = submit(c)
        tick(c)
        task = c.state.tasks[tid]
        commit_reveal(c, tid, {a.miner: ("Paris" if i else "junk") for i, a in enumerate(task.miners)})
        tick(c)
        bad = task.miners[0].miner
        validate_all(c, tid, lambda v, m, bad=bad: (900_000_000, 0) if m == bad else (0, 900_000_000))
        check_index(c.state)
    c.as_("m1", "stake.bond", {"amount": str(500 * COR)})
    c.as_("m2", "stake.unbond", {"amount": str(1500 * COR)})
    c.state.ledger.begin()  # jail m3 as an equivocation would (the index must follow a slash and a jail)
    slash(c.state, addr("m3"), "equivocation", c.state.tick, {"why": "test"}, None)
    c.state.ledger.commit()
    check_index(c.state)
    assert pool_size(c.state, "miner", "smollm2-135m") == 3  # m2 under the bond, m3 jailed
    c.oracle("epoch.close", {})  # the close checks the index against the state too


def test_the_index_check_fails_on_a_stale_tree():
    """``check_index`` compares every tree with weights recomputed from the state: a node changed without ``touch`` (not
    re-read by ``sync``) and a tree that disagrees with the weight ``sync`` just re-read for a marked node both fail it."""
    from cor_incentives.core.errors import InvariantViolation
    from cor_incentives.core.selection import draw_weight, draw_weights

    c = market(n_miners=5, beacon=True)
    state = c.state
    check_index(state)
    assert draw_weights(state, list(state.nodes)) == {n: draw_weight(state, node) for n, node in state.nodes.items()}
    m1, m2 = addr("m1"), addr("m2")
    state.nodes[m1].reputation_ppb //= 2  # changed without ``touch``: the index still holds the old weight
    with pytest.raises(InvariantViolation, match=f"{m1} in miner is stale"):
        check_index(state)
    state.touch(m1)
    check_index(state)  # re-read: the tree follows
    tree = state.selection.trees["miner"]
    tree.set(m2, tree.weight(m2) + 1)  # a tree out of step with ``idx.weights`` (which ``sync`` compares against) ...
    state.touch(m2)  # ... for a node ``sync`` re-reads: its weight is unchanged, so ``sync`` leaves the tree as it is
    with pytest.raises(InvariantViolation, match=f"{m2} in miner is stale"):
        check_index(state)


def test_a_log_on_the_first_rules_replays_after_the_beacon_activates():
    """Events before ``beacon.anchor`` ran (and replay) under the first rules, events after it under the beacon's."""
    c = market(n_miners=6)
    t1 = submit(c)
    head_then = c.state.seq
    task1 = c.state.tasks[t1]
    assert task1.state == "PREPARED" and len(task1.miners) == 3  # first rules: drawn at once from the log head
    in_flight = submit(c)
    before = exact(c.state)
    c.oracle("beacon.anchor", hash_chain(beacon_secret(0), 64).genesis())
    t3 = submit(c)
    assert c.state.tasks[t3].state == "CREATED"
    tick(c)
    for tid in (t1, in_flight, t3):
        task = c.state.tasks[tid]
        assert task.state == "PREPARED" and len(task.miners) == 3
        commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
        if not task.validators:
            tick(c)
        validate_all(c, tid, lambda v, m: (0, 900_000_000))
        assert task.state == "SETTLED"
    assert exact(replay(c.events)) == exact(c.state)
    prefix = c.events[: head_then + 2]  # up to the task submitted just before the activation
    assert exact(replay(prefix)) == before
    check_index(c.state)


def test_draw_without_a_beacon_uses_the_same_sampler_over_the_selectable_nodes():
    """For a newer feature's draw on an old network (e.g. reviewers from validators): no index needed."""
    from cor_incentives.core.sampling import reference_draw
    from cor_incentives.core.selection import draw_weight, eligible_nodes

    c = market(n_miners=5)
    seed = b"\x07" * 32
    pool = eligible_nodes(c.state, "miner", "smollm2-135m")
    slots = [(n, draw_weight(c.state, c.state.nodes[n])) for n in pool]
    assert draw(c.state, "miner", 3, seed, model="smollm2-135m") == reference_draw(slots, 3, seed)
