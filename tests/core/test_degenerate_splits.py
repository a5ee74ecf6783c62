"""Pro-rata splits at their edges, where docs/rewards.md names who gets the remainder (s33 zero audit): the governance
stream's cap excess and the marketplace stream's floors stay in ``pool:network_incentives`` (the epoch record's
``back_to_pool`` and the pool's balance both say so), and a delegation that left before the close is paid its stake ×
ticks, whether its node still has stake at the close or (rule 31, finding S1) none: its operator unbonded at the last tick.
Each pins a behaviour no other test read at that edge."""

from __future__ import annotations

import pytest

from cor_incentives.core import rewards
from cor_incentives.core.units import COR
from support.chain import Chain, addr

POOL = "pool:network_incentives"
BPS = 10_000


def aged_validators(bonds: dict[str, int], params: dict | None = None) -> Chain:
    """Validators bonded before the previous epoch began, so their stake votes (``Governance: voting power``)."""
    c = Chain(wallets={n: 10_000 * COR for n in bonds}, params={"gov_voting_period_ticks": 10, "epoch_length_ticks": 20, **(params or {})})
    for n, bond in bonds.items():
        c.as_(n, "node.register", {"role": "validator", "self_bond": str(bond * COR)})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    return c


def stream_moves(c: Chain, epoch: int) -> int:
    """What the close of ``epoch`` paid out of the pool: Σ paid over the streams (each a part of the emission)."""
    return sum(s["paid"] for name, s in c.state.epochs[epoch].streams.items() if name != "emission")


def test_a_lone_voter_is_paid_its_cap_and_the_excess_stays_in_the_pool():
    """One address holding the quorum votes alone: it earns stream × gov_voter_reward_cap_bps // 10 000, not the stream;
    the rest is `back_to_pool` and the pool's balance falls by exactly what was paid."""
    c = aged_validators({"big": 5000, "small": 2000})
    pid = c.state.next_id
    c.as_("big", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 2900}, "effective_epoch": c.state.epoch + 2})
    c.as_("big", "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": c.state.proposals[pid].end_tick - c.state.tick})
    assert c.state.proposals[pid].quorum_met
    e, pool0 = c.state.epoch, c.balance(POOL)
    c.oracle("epoch.close", {})
    g = c.state.epochs[e].streams["governance"]
    lines = [i for i in c.state.epochs[e].items if i.stream == "governance"]
    cap = c.state.params.gov_voter_reward_cap_bps
    assert 0 < cap < BPS and g["budget"] > 0
    assert [(i.address, i.amount) for i in lines] == [(addr("big"), g["budget"] * cap // BPS)]
    assert g["paid"] == g["budget"] * cap // BPS and g["back_to_pool"] == g["budget"] - g["paid"] > 0
    assert stream_moves(c, e) == g["paid"]  # (no task, no attestation: governance is the only stream that paid)
    assert pool0 - c.balance(POOL) == g["paid"]  # the excess never left the pool


@pytest.mark.parametrize(
    "params", [{"rule_version": 30}, {"marketplace_usage_rate_units": str(10**30)}], ids=["rule_30_whole_stream", "rule_31_budget_binding"]
)
def test_the_marketplace_floors_stay_in_the_pool(monkeypatch, params):
    """Three models with useful usage 1, 2 and 4: each owner gets budget × usage // 7, and the floors stay in the pool (rule
    30: the whole stream by usage; from rule 31 the same when the claims, usage × 10**21 each at this rate, exceed the
    budget: budget × claim // Σ claims)."""
    c = aged_validators({"a": 2000}, params)
    usage = {"m-a": 1, "m-b": 2, "m-c": 4}
    owners = {"m-a": "a", "m-b": "b", "m-c": "c"}
    for model_id, owner in owners.items():
        c.state.ledger.transfer("treasury", f"wallet:{addr(owner)}", 100 * COR, "test funding")
        body = {"id": model_id, "parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit"}
        c.as_(owner, "model.register", body | {"content_hash": "0x" + "ab" * 32})
    monkeypatch.setattr(rewards, "model_usage", lambda *args: dict(usage))  # their useful usage in network tasks
    e, pool0 = c.state.epoch, c.balance(POOL)
    c.oracle("epoch.close", {})
    m = c.state.epochs[e].streams["marketplace"]
    shares = {addr(owners[k]): m["budget"] * u // 7 for k, u in usage.items()}
    assert sum(shares.values()) < m["budget"], "the test needs a budget whose shares leave floors"
    assert {i.address: i.amount for i in c.state.epochs[e].items if i.stream == "marketplace"} == shares
    assert m["paid"] == sum(shares.values()) and m["back_to_pool"] == m["budget"] - m["paid"] > 0
    assert pool0 - c.balance(POOL) == stream_moves(c, e) == m["paid"]


@pytest.mark.parametrize("operator_leaves", [False, True], ids=["operator_stays", "operator_unbonds_at_the_last_tick"])
@pytest.mark.parametrize("leave_at", [1, 50, 99])
def test_a_delegation_that_left_before_the_close_is_paid_its_stake_ticks(leave_at, operator_leaves):
    """'Every position that held stake at any time in the epoch is paid, including one that left before the close':
    the delegator undelegates all of it at tick ``leave_at`` of the epoch, the operator keeps its self-bond or unbonds all
    of it at tick 99 (no stake at the close: rule 30 made the whole reward commission, rule 31 reads stake × ticks); each
    is paid R × its stake × ticks // the node's, R = the APR's part after commission, the floors to dust."""
    c = Chain(wallets={"op": 10_000 * COR, "d": 10_000 * COR}, params={"epoch_length_ticks": 100})
    c.as_("op", "node.register", {"role": "validator", "self_bond": str(2000 * COR), "commission_bps": 1000})
    c.as_("d", "stake.delegate", {"node": addr("op"), "amount": str(8000 * COR)})
    c.oracle("epoch.close", {})
    e, start = c.state.epoch, c.state.tick
    c.oracle("tick", {"ticks": leave_at})
    c.as_("d", "stake.undelegate", {"node": addr("op"), "amount": str(8000 * COR)})
    if c.state.tick < start + 99:
        c.oracle("tick", {"ticks": start + 99 - c.state.tick})
    if operator_leaves:
        c.as_("op", "stake.unbond", {"amount": str(2000 * COR)})
    c.oracle("epoch.close", {})
    rec = c.state.epochs[e]
    node = rec.staking["nodes"][addr("op")]
    op_ticks, d_ticks = 2000 * COR * (99 if operator_leaves else c.state.tick - start), 8000 * COR * leave_at
    assert node["stake"] == (0 if operator_leaves else 2000 * COR) and node["stake_ticks"] == op_ticks + d_ticks
    reward = next(i.detail["inputs"]["reward"] for i in rec.items if i.stream == "staking_apr:node" and i.address == addr("op"))
    commission = reward * 1000 // BPS
    rest = reward - commission
    paid = {(i.address, i.stream): i.amount for i in rec.items if i.stream.startswith("staking_apr:") and i.amount}
    expect = {
        (addr("op"), "staking_apr:commission"): commission,
        (addr("op"), "staking_apr:stake"): rest * op_ticks // (op_ticks + d_ticks),
        (addr("d"), "staking_apr:stake"): rest * d_ticks // (op_ticks + d_ticks),
    }
    dust = rest - expect[(addr("op"), "staking_apr:stake")] - expect[(addr("d"), "staking_apr:stake")]
    assert paid == expect | ({("dust", "staking_apr:dust"): dust} if dust else {})
    assert expect[(addr("d"), "staking_apr:stake")] > 0


def test_a_miner_in_consensus_on_a_failed_task_earns_its_input_units_and_the_others_nothing():
    """A network task that fails for too few miners in consensus (1 of the 2 needed): the one in consensus keeps its
    row's units (complexity_units at the settled input tokens and 0 output tokens: a failed task settles none) and its
    quality, and is paid for them at the close; the miners out of consensus have rows of 0 units (docs/rewards.md,
    *Network work*: Rows)."""
    from cor_incentives.core.pricing import complexity_units
    from support.market import commit_reveal, draw_now, market, network, validate_all

    c = market(n_miners=3, n_validators=5, beacon=True)
    c.oracle("epoch.close", {})
    epoch = c.state.epoch
    tid = network(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    good = sorted(a.miner for a in task.miners)[0]
    commit_reveal(c, tid, {a.miner: ("2" if a.miner == good else f"junk {a.miner}") for a in task.miners})
    draw_now(c, tid)
    validate_all(c, tid, lambda v, m: (20_000_000, 850_000_000) if m == good else (950_000_000, 50_000_000))
    assert task.state.name == "FAILED"
    work = c.state.epoch_work
    rows = {r.node: (r.complexity_units, r.quality_ppb) for r in map(work.row, range(len(work))) if r.task == tid}
    expected = complexity_units(c.state.params, c.state.models[task.model], task.settled_input_tokens or 0, 0)
    assert expected > 0 and rows[good][0] == expected and rows[good][1] > 0
    assert all(rows[a.miner] == (0, 0) for a in task.miners if a.miner != good)
    c.oracle("epoch.close", {})
    line = next(i for i in c.state.epochs[epoch].items if i.stream == "miner_work:node" and i.address == good)
    inputs = line.detail.get("inputs", line.detail)
    assert inputs["eligible"] and inputs["reward"] > 0
