"""Rule 29 (``RULES_VOTER_POWER``): the governance stream weighs each voter against all the aged stake that could vote
(``voter_reward_base``: max(Σ weights, the largest ``total_power`` of the epoch's rewarded proposals)), an abstain-only
proposal pays nobody (``rewarded_proposals``), and ``gov.propose`` refuses a ``param_change`` to the value in force
(``param_change_no_op``). Rule 28 divided by Σ weights, so a staker with the quorum's stake over 4 keys took the whole
stream (4 caps of 25 %) with a no-op proposal it abstained on (s33 zero audit G1; attack self_proposal).

The world: three honest validators of 4 000 COR and a whale's four of 2 000 (8 000 of 20 000: 40 % of the stake, over
the 33.4 % quorum), the shipped deposit, quorum, threshold, veto and cap; voting 10 ticks in epochs of 20."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cor_incentives.core.errors import EngineError
from cor_incentives.core.governance import OPTIONS
from cor_incentives.core.ledger import NETWORK_INCENTIVES_POOL
from cor_incentives.core.params import Params
from cor_incentives.core.rules import LATEST, RULES_SLIM_NODE_LINES, RULES_VOTER_POWER
from cor_incentives.core.state_codec import encode_state
from cor_incentives.core.units import BPS, COR
from support.chain import Chain, addr, refusal_of
from support.replays import replays_as_recorded, resumed_from_snapshot

OLD = RULES_SLIM_NODE_LINES  # 28
HONEST = {"h0": 4_000, "h1": 4_000, "h2": 4_000}
WHALE = {f"w{i}": 2_000 for i in range(4)}
CAP_BPS = Params().gov_voter_reward_cap_bps
# the state hash main's code gave old_rule_log(), recorded once with main's src at 44bf07f (rule 28 the latest there)
MAIN_STATE_HASH_28 = "0xc89868177f2c3e5913c5f2da6928bf0b79332ee652ddba9a855d50dd05e540c8"


def world(rule_version: int | None = None, whale: dict[str, int] | None = None, honest: dict[str, int] | None = None, voting: int = 10) -> Chain:
    honest, whale = HONEST if honest is None else honest, WHALE if whale is None else whale
    params = {"gov_voting_period_ticks": voting, "epoch_length_ticks": 20} | ({} if rule_version is None else {"rule_version": rule_version})
    c = Chain(wallets={n: 10_000 * COR for n in [*honest, *whale]}, params=params)
    for n, bond in {**honest, **whale}.items():
        c.as_(n, "node.register", {"role": "validator", "self_bond": str(bond * COR)})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})  # the stake has aged: it votes
    return c


def change(c: Chain, noop: bool = False, name: str = "max_commission_bps") -> dict:
    value = getattr(c.state.params, name) - (0 if noop else 1)
    return {"kind": "param_change", "title": "t", "changes": {name: value}, "effective_epoch": c.state.epoch + 2}


def run_epoch(c: Chain, votes: dict[str, str], proposals: int = 1, noop: bool = False) -> dict:
    """The first voter opens ``proposals`` proposals, every voter votes its option on each, the period ends, the epoch
    closes: the epoch's governance stream record and its lines (address -> amount)."""
    pids = []
    for _ in range(proposals):
        pids.append(c.state.next_id)
        c.as_(next(iter(votes)), "gov.propose", change(c, noop))
    for who, option in votes.items():
        for pid in pids:
            c.as_(who, "gov.vote", {"proposal": pid, "option": option})
    if pids:
        c.oracle("tick", {"ticks": c.state.proposals[pids[-1]].end_tick - c.state.tick})
    e = c.state.epoch
    c.oracle("epoch.close", {})
    rec = c.state.epochs[e]
    lines = {i.address: i for i in rec.items if i.stream == "governance"}
    return {"g": rec.streams["governance"], "lines": lines, "pids": pids}


def paid(out: dict, names) -> int:
    return sum(out["lines"][addr(n)].amount for n in names if addr(n) in out["lines"])


def test_rule_29_is_the_latest_and_its_constant():
    assert LATEST >= RULES_VOTER_POWER == 29 and OLD == 28


# --- the audit's attack, under 28 and 29 ----------------------------------------------------------------------------


def test_under_rule_28_the_whale_abstaining_on_its_own_no_op_takes_the_whole_stream():
    c = world(OLD)
    out = run_epoch(c, {n: "abstain" for n in WHALE}, noop=True)
    budget = out["g"]["budget"]
    assert c.state.proposals[out["pids"][0]].result == "threshold not met"  # REJECTED, the deposit back
    assert paid(out, WHALE) == out["g"]["paid"] == 4 * (budget * CAP_BPS // BPS)  # 4 caps of 25 %
    assert paid(out, WHALE) >= budget - 4 and paid(out, HONEST) == 0  # all of it (floors aside)


def test_under_rule_29_the_no_op_is_refused_and_an_abstain_only_proposal_pays_nobody():
    c = world()
    assert refusal_of(c, addr("w0"), "gov.propose", change(c, noop=True)) == "param_change_no_op"
    pool = c.balance(NETWORK_INCENTIVES_POOL)
    out = run_epoch(c, {n: "abstain" for n in WHALE})  # a real change this time, still abstain only
    prop = c.state.proposals[out["pids"][0]]
    assert prop.quorum_met and prop.result == "threshold not met" and prop.tally["abstain"] == 8_000 * COR
    g = out["g"]
    assert g["paid"] == 0 and g["back_to_pool"] == g["budget"] > 0 and out["lines"] == {}
    assert g.get("note") is None or "yes, no or veto" in g["note"]
    assert c.balance(NETWORK_INCENTIVES_POOL) >= pool  # nothing left the pool for governance
    assert c.balance(f"wallet:{addr('w0')}") == 10_000 * COR - 2_000 * COR  # the deposit came back (quorum met)


@pytest.mark.parametrize("option", ["yes", "no", "veto"])
def test_one_decisive_vote_makes_the_proposal_pay_each_key_its_share_of_all_the_aged_stake(option):
    c = world()
    out = run_epoch(c, {"w0": option, "w1": "abstain", "w2": "abstain", "w3": "abstain"})
    prop, g = c.state.proposals[out["pids"][0]], out["g"]
    assert prop.total_power == 20_000 * COR
    for n in WHALE:  # 2 000 of 20 000 each: a tenth of the stream, under the 25 % cap
        line = out["lines"][addr(n)]
        assert line.amount == g["budget"] * 2_000 // 20_000
        assert line.detail["inputs"]["total_weight"] == prop.total_power and line.detail["inputs"]["weight"] == 2_000 * COR
    assert paid(out, WHALE) == g["paid"] <= g["budget"] * 4 // 10  # 40 %: its stake's share, not the stream
    assert g["back_to_pool"] == g["budget"] - g["paid"] >= g["budget"] * 6 // 10  # the non-voters' 60 % stays


def test_splitting_stake_over_keys_earns_no_more_than_the_stakes_share():
    """Two keys of 4 000 or four of 2 000: 40 % either way under 29 (under 28: 50 % and 100 %); one key of 8 000 is
    held to the cap (25 %)."""
    got = {}
    for rule in (OLD, RULES_VOTER_POWER):
        for keys in ({"w0": 8_000}, {"w0": 4_000, "w1": 4_000}, WHALE):
            c = world(rule, whale=keys)
            out = run_epoch(c, {n: "no" for n in keys})
            got[rule, len(keys)] = paid(out, keys) * 1_000 // out["g"]["budget"]  # ‰ of the stream
    assert got[OLD, 1] == got[RULES_VOTER_POWER, 1] == CAP_BPS // 10  # the cap binds a single key under both
    assert got[OLD, 2] == 2 * CAP_BPS // 10 and got[OLD, 4] >= 999  # 2 caps, 4 caps (all of it): the voters' weight
    assert 399 <= got[RULES_VOTER_POWER, 2] == got[RULES_VOTER_POWER, 4] <= 400


def test_when_everyone_votes_the_stream_is_paid_by_stake_as_under_28():
    out = {}
    for rule in (OLD, RULES_VOTER_POWER):
        c = world(rule)
        out[rule] = run_epoch(c, {n: "yes" for n in [*HONEST, *WHALE]})
    new, old = out[RULES_VOTER_POWER], out[OLD]
    assert {a: i.amount for a, i in new["lines"].items()} == {a: i.amount for a, i in old["lines"].items()}
    assert new["g"]["paid"] >= new["g"]["budget"] - 7  # Σ weights == total_power: all of it but the floors
    assert new["lines"][addr("h0")].amount == new["g"]["budget"] * 4_000 // 20_000


def test_several_proposals_in_one_epoch_pay_the_stream_once():
    c = world()
    out = run_epoch(c, {n: "no" for n in WHALE}, proposals=3)
    assert len({c.state.proposals[p].tallied_epoch for p in out["pids"]}) == 1
    g = out["g"]
    assert paid(out, WHALE) == g["paid"] == 4 * (g["budget"] * 2_000 // 20_000)  # each key once, at its largest weight


@pytest.mark.parametrize("whale_votes", [True, False])
def test_two_snapshots_in_one_epoch_the_base_is_the_largest_of_them_or_the_voters_weight(whale_votes):
    """Two proposals tallied in one epoch with different snapshots: P1 opened in epoch 3 (z not aged yet), P2 in epoch 4
    after h0 unbonded 1 000 COR (and bonded it again at once). h0 (and the whale) vote on P1 only, z on P2, h1 and h2 on
    both. With the whale: Σ weights = 22 000 COR > both total_powers (20 000 and 21 000), so the base is Σ weights and
    no more than the stream is paid (dividing by the largest total_power alone would pay 22/21 of it). Without: Σ
    weights = 14 000 and the base is the larger snapshot, 21 000 (not P1's 20 000)."""
    c = world(voting=30)
    c.as_("h1", "transfer", {"to": addr("z"), "amount": str(3_000 * COR)})
    c.as_("z", "node.register", {"role": "validator", "self_bond": str(2_000 * COR)})  # epoch 2: aged from epoch 4
    c.oracle("epoch.close", {})
    c.oracle("tick", {"ticks": 15})
    p1 = c.state.next_id
    c.as_("h1", "gov.propose", change(c))
    for who in ("h0", "h1", "h2", *(WHALE if whale_votes else ())):
        c.as_(who, "gov.vote", {"proposal": p1, "option": "no"})
    c.oracle("epoch.close", {})
    c.as_("h0", "stake.unbond", {"amount": str(1_000 * COR)})
    p2 = c.state.next_id
    c.as_("h2", "gov.propose", {**change(c), "changes": {"max_commission_bps": c.state.params.max_commission_bps - 2}})
    c.as_("h0", "stake.bond", {"amount": str(1_000 * COR)})
    for who in ("z", "h1", "h2"):
        c.as_(who, "gov.vote", {"proposal": p2, "option": "no"})
    first, second = c.state.proposals[p1], c.state.proposals[p2]
    assert (first.total_power, second.total_power) == (20_000 * COR, 21_000 * COR)
    c.oracle("tick", {"ticks": second.end_tick - c.state.tick})
    assert first.tallied_epoch == second.tallied_epoch == c.state.epoch
    e = c.state.epoch
    c.oracle("epoch.close", {})
    g = c.state.epochs[e].streams["governance"]
    lines = {i.address: i for i in c.state.epochs[e].items if i.stream == "governance"}
    base = 22_000 if whale_votes else 21_000
    assert {i.detail["inputs"]["total_weight"] for i in lines.values()} == {base * COR}
    assert lines[addr("h0")].amount == g["budget"] * 4_000 // base and lines[addr("z")].amount == g["budget"] * 2_000 // base
    assert g["paid"] == sum(i.amount for i in lines.values()) <= g["budget"]


def test_a_staker_that_did_not_vote_leaves_its_share_in_the_pool_even_when_others_abstain():
    c = world()
    out = run_epoch(c, {"h0": "yes", "w0": "abstain", "w1": "abstain"})  # 8 000 of 20 000 turned out: quorum met
    g = out["g"]
    assert {a: i.amount for a, i in out["lines"].items()} == {
        addr("h0"): g["budget"] * 4_000 // 20_000,
        addr("w0"): g["budget"] * 2_000 // 20_000,
        addr("w1"): g["budget"] * 2_000 // 20_000,
    }  # rule 28: 50 %, 25 %, 25 %


def test_a_vote_below_quorum_still_pays_nothing():
    c = world()
    out = run_epoch(c, {"w0": "no", "w1": "no", "w2": "no"})  # 6 000 of 20 000 < 33.4 %
    assert out["g"]["paid"] == 0 and not c.state.proposals[out["pids"][0]].quorum_met


# --- the no-op refusal ------------------------------------------------------------------------------------------------


def test_a_param_change_to_the_value_in_force_is_refused_with_nothing_written():
    c = world()
    body = change(c, noop=True)
    before = encode_state(c.state)
    with pytest.raises(EngineError) as exc:
        c.as_("w0", "gov.propose", body)
    assert exc.value.code == "param_change_no_op" and "max_commission_bps" in exc.value.message
    assert encode_state(c.state) == before
    both = {**body, "changes": {"max_commission_bps": c.state.params.max_commission_bps - 1, "gov_quorum_bps": c.state.params.gov_quorum_bps}}
    assert refusal_of(c, addr("w0"), "gov.propose", both) == "param_change_no_op"  # one no-op in the set refuses it
    units = {**body, "changes": {"gov_min_deposit_units": str(c.state.params.gov_min_deposit_units)}}  # as a decimal string
    assert refusal_of(c, addr("w0"), "gov.propose", units) == "param_change_no_op"
    assert refusal_of(c, addr("w0"), "gov.propose", change(c)) is None  # one below: accepted


def test_a_change_back_to_the_value_in_force_while_another_is_scheduled_is_not_a_no_op():
    c = world()
    scheduled = change(c)  # max_commission_bps one below, from two epochs on
    pid = c.state.next_id
    c.as_("h0", "gov.propose", scheduled)
    for n in [*HONEST, *WHALE]:
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": c.state.proposals[pid].end_tick - c.state.tick})
    c.oracle("epoch.close", {})  # passed and executed: scheduled, not yet in force
    assert c.state.proposals[pid].status == "EXECUTED" and c.state.params.max_commission_bps == 2_000
    back = {**change(c, noop=True), "effective_epoch": c.state.epoch + 3}  # 2 000, the value in force now
    assert refusal_of(c, addr("h1"), "gov.propose", back) is None  # it undoes the scheduled change: not a no-op
    again = {**back, "changes": {"max_commission_bps": 1_999}}  # the value scheduled, not in force: a change too
    assert refusal_of(c, addr("h1"), "gov.propose", again) is None


def test_under_rule_28_the_no_op_was_accepted():
    c = world(OLD)
    assert refusal_of(c, addr("w0"), "gov.propose", change(c, noop=True)) is None


# --- replay of a rule-28 log ------------------------------------------------------------------------------------------


def old_rule_log() -> Chain:
    """Rule 28: the whale's no-op abstain (the whole stream), then a decisive vote, then everyone."""
    c = world(OLD)
    run_epoch(c, {n: "abstain" for n in WHALE}, noop=True)
    run_epoch(c, {"w0": "no", "w1": "abstain", "w2": "abstain", "w3": "abstain"})
    run_epoch(c, {n: "yes" for n in [*HONEST, *WHALE]}, proposals=2)
    return c


def test_a_log_recorded_under_rule_28_replays_to_the_state_main_gave_it():
    c = old_rule_log()
    replays_as_recorded(c.events, c.state, MAIN_STATE_HASH_28)


# --- property: rules 29 and 28 side by side --------------------------------------------------------------------------

VOTERS = [*HONEST, *WHALE]
PROPOSE = st.tuples(st.just("propose"), st.integers(0, len(VOTERS) - 1), st.booleans())  # by whom; a no-op or not
VOTE = st.tuples(st.just("vote"), st.integers(0, len(VOTERS) - 1), st.sampled_from(OPTIONS))  # on the latest open one
STEP = st.one_of(
    PROPOSE,
    PROPOSE,
    VOTE,
    VOTE,
    VOTE,
    VOTE,
    st.tuples(st.just("whale"), st.just(0), st.sampled_from(["abstain", "abstain", "no"])),  # its 4 keys on the latest open one
    st.tuples(st.just("tick"), st.sampled_from([1, 4, 11]), st.just("")),
    st.tuples(st.just("close"), st.just(0), st.just("")),
    st.tuples(st.just("unbond"), st.integers(0, len(VOTERS) - 1), st.integers(1, 3)),  # n × 1 000 COR of its self-bond
    st.tuples(st.just("snapshot"), st.just(0), st.just("")),
)


def act(c: Chain, step: tuple) -> str | None:
    name, n, x = step
    if name == "tick":
        c.oracle("tick", {"ticks": n})
        return None
    if name == "close":
        c.oracle("epoch.close", {})
        return None
    if name == "whale":
        open_ = [p for p, prop in c.state.proposals.items() if prop.status == "VOTING"]
        codes = [refusal_of(c, addr(w), "gov.vote", {"proposal": max(open_), "option": x}) for w in WHALE if open_]
        return next((code for code in codes if code), None)
    who = VOTERS[n]
    if name == "propose":
        return refusal_of(c, addr(who), "gov.propose", change(c, noop=x))
    if name == "vote":
        open_ = [p for p, prop in c.state.proposals.items() if prop.status == "VOTING"]
        return refusal_of(c, addr(who), "gov.vote", {"proposal": max(open_), "option": x}) if open_ else None
    if name == "unbond":
        return refusal_of(c, addr(who), "stake.unbond", {"amount": str(x * 1_000 * COR)})
    return None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=10, max_size=40))
def test_property_rule_29_pays_at_most_the_stake_share_and_nothing_for_abstain_only(steps):
    """The same messages under 29 and 28. 29 refuses exactly the no-op proposals 28 accepts (and, in the world they
    leave, what follows from their absence). At every close: the governance stream pays at most its budget and the rest
    stays in the pool, under both; under 29 an epoch whose proposals with quorum were all abstain-only pays nobody, and
    no set of voters is paid more than the stream × its largest snapshot power ÷ the largest total_power of the
    epoch's rewarded proposals (the whale's 4 keys never more than its stake's share). Supply moves alike in both
    worlds' conservation (checked after every event by the chain). A snapshot decoded mid-way replays the rest to the
    same state, and both whole logs replay."""
    new, old = world(), world(OLD)
    snapshot = None
    for step in steps:
        if step[0] == "snapshot":
            snapshot = (encode_state(new.state), len(new.events))
            continue
        epoch = new.state.epoch
        code, old_code = act(new, step), act(old, step)
        if step[0] == "propose":
            assert (code == "param_change_no_op") == step[2]
            if step[2]:
                assert old_code in (None, "insufficient_deposit", "no_voting_power")
                event("a no-op 28 accepted is refused")
        for c in (new, old):
            if c.state.epoch > epoch:
                g = c.state.epochs[epoch].streams["governance"]
                assert 0 <= g["paid"] <= g["budget"] and g["back_to_pool"] == g["budget"] - g["paid"]
        if new.state.epoch > epoch:
            g = new.state.epochs[epoch].streams["governance"]
            lines = {i.address: i.amount for i in new.state.epochs[epoch].items if i.stream == "governance"}
            props = [p for p in new.state.proposals.values() if p.tallied_epoch == epoch and p.quorum_met]
            rewarded = [p for p in props if p.tally["yes"] + p.tally["no"] + p.tally["veto"]]
            if props and not rewarded:
                assert g["paid"] == 0
                event("only abstain-only proposals with quorum: nothing paid")
            if rewarded:
                top = max(p.total_power for p in rewarded)
                whale = [addr(n) for n in WHALE]
                power = max(sum(p.positions.get(a, {}).get(a, 0) for a in whale) for p in rewarded)
                assert sum(lines.get(a, 0) for a in whale) <= g["budget"] * power // top
                for a, amount in lines.items():
                    mine = max(p.positions.get(a, {}).get(a, 0) for p in rewarded)
                    assert amount <= g["budget"] * mine // top
                if sum(lines.get(a, 0) for a in whale):
                    event("the whale paid")
                if g["paid"] and g["back_to_pool"] * 10 > g["budget"]:
                    event("paid, and more than a tenth back to the pool")
    for c in (new, old):
        replays_as_recorded(c.events, c.state)
    if snapshot is not None:
        resumed_from_snapshot(snapshot, new.events, new.state)
