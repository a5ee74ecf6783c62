"""Rule 31 (RULES_COMMUNITY_RATE): the community stream pays a rate per attested point, at most community_member_cap_bps of
the stream a member, pro rata only when the epoch's claims exceed the stream; the rest stays in pool:network_incentives
(s33 split audit C1: under rule 30 one 1-point attestation in a quiet epoch took the whole stream).

The boundaries (claims = the stream against one point more; a claim at the cap against one point more; a quiet epoch; a
rate of 0); the same events under 30 (the finding) and 31; a rule-30 log replays to the state hash main's code gave it;
a property over random attestations under 30 and 31 side by side."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.app import views
from cor_incentives.core.apply import replay
from cor_incentives.core.community import community_cap, community_claim, community_rate_reward
from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.params import Params
from cor_incentives.core.rules import RULE_VERSIONS, RULES_COMMUNITY_RATE
from cor_incentives.core.state_codec import encode_state, state_hash
from cor_incentives.core.units import COR
from support.chain import addr
from support.community_rate import MEMBERS, attest, attest_many, community_chain, community_life
from support.replays import replays_as_recorded, resumed_from_snapshot

POOL = "pool:network_incentives"
OLD = RULES_COMMUNITY_RATE - 1
BUDGET_1 = 3_996 * COR  # the community stream of epoch 1: 50 000 COR × 0.999 × 800 bps
PREVIOUS_RULE_HASH = "0xf7e0c627840735feffdaa8d308ab84e25c2283b670afd07f278f9fa0d1c51153"
"""The state hash of ``community_life(30)`` on main 8436383 (before rule 31): PYTHONPATH=<main>/src:tests."""


def community(c, epoch):
    """The epoch's community lines, member -> (stream, amount, detail), and its stream record."""
    rec = c.state.epochs[epoch]
    items = {i.address: (i.stream, i.amount, i.detail) for i in rec.items if i.stream.startswith("community")}
    return items, rec.streams["community"]


def close(c):
    pool = c.balance(POOL)
    c.oracle("epoch.close", {})
    e = c.state.epoch - 1
    items, stream = community(c, e)
    paid = sum(a for _, a, _ in items.values())
    assert stream["paid"] == paid and stream["back_to_pool"] == stream["budget"] - paid
    assert pool - c.balance(POOL) == paid  # only the community stream pays from the pool in these worlds
    for m, (_, amount, _) in items.items():
        assert c.balance(f"claimable:{m}") >= amount
    return items, stream


def test_rule_31_says_what_changed_and_the_defaults():
    assert RULES_COMMUNITY_RATE == 31 and "community_rate_per_point_units" in RULE_VERSIONS[31]
    p = Params()
    assert p.community_rate_per_point_units == 4 * COR and p.community_member_cap_bps == 2_500
    # one curator's whole budget of points claims about the stream of the first epochs
    assert p.community_curator_points_per_epoch * p.community_rate_per_point_units == 4_000 * COR
    with pytest.raises(InvalidInput) as e:
        p.replace(community_member_cap_bps=10_001)
    assert e.value.code == "parameter_out_of_bounds"


def test_the_formulas():
    assert community_cap(BUDGET_1, 2_500) == 999 * COR and community_cap(7, 10_000) == 7 and community_cap(3, 3_333) == 0
    assert community_claim(3, 4 * COR, 999 * COR) == 12 * COR
    assert community_claim(300, 4 * COR, 999 * COR) == 999 * COR  # the cap
    assert community_claim(0, 4 * COR, 999 * COR) == 0
    assert community_rate_reward(100, 40, 100) == 40  # claims = budget: in full
    assert community_rate_reward(100, 40, 101) == 100 * 40 // 101 == 39  # one over: pro rata, floored
    assert community_rate_reward(0, 5, 5) == 0


def test_one_point_in_a_quiet_epoch_earns_the_rate_and_the_rest_stays_in_the_pool():
    c = community_chain()
    attest(c, "m0", 1, "quiet")
    items, stream = close(c)
    (stream_name, amount, detail) = items[addr("m0")]
    assert stream_name == "community" and amount == 4 * COR
    assert stream["budget"] == BUDGET_1 and stream["back_to_pool"] == BUDGET_1 - 4 * COR
    assert stream["rate_units"] == 4 * COR and stream["claims"] == 4 * COR and stream["budget_binding"] is False
    assert stream["member_cap_bps"] == 2_500 and stream["member_cap"] == 999 * COR and stream["total_points"] == 1
    assert detail["claim"] == 4 * COR and detail["capped"] is False and detail["budget_binding"] is False
    assert detail["formula"].startswith("claim = min(points × rate_units, member_cap)")


def test_the_same_point_under_rule_30_takes_the_whole_stream():
    c = community_chain(OLD)
    attest(c, "m0", 1, "quiet")
    items, stream = close(c)
    assert items[addr("m0")][1] == BUDGET_1 == stream["paid"]
    assert "rate_units" not in stream and "claim" not in items[addr("m0")][2]


@pytest.mark.parametrize("extra", [0, 1])
def test_claims_equal_to_the_stream_are_paid_in_full_and_one_point_more_is_pro_rata(extra):
    """999 points at 4 COR claim 3 996 COR, the stream of epoch 1 exactly (no cap); 1 000 claim 4 000: pro rata."""
    c = community_chain(community_member_cap_bps=10_000)
    points = {"m0": 300, "m1": 300, "m2": 300, "m3": 99 + extra}
    for m, pts in points.items():
        attest_many(c, m, pts, "r", "cur" if m != "m3" else "cur2")
    items, stream = close(c)
    claims = 4 * COR * sum(points.values())
    assert stream["claims"] == claims and stream["budget_binding"] is bool(extra)
    for m, pts in points.items():
        got = items[addr(m)][1]
        assert got == (4 * COR * pts if not extra else BUDGET_1 * (4 * COR * pts) // claims)
    assert stream["paid"] == (BUDGET_1 if not extra else sum(BUDGET_1 * 4 * COR * p // claims for p in points.values()))
    if extra:  # every member under the rate, by the same factor 3 996 / 4 000
        assert all(items[addr(m)][1] == pts * 3_996 * COR // 1_000 < 4 * COR * pts for m, pts in points.items())


@pytest.mark.parametrize("points, capped", [(111, False), (112, True)])
def test_a_claim_at_the_cap_against_one_point_more(points, capped):
    """9 COR a point: 111 points claim 999 COR, the cap (2 500 bps of 3 996 COR) exactly; 112 would claim 1 008."""
    c = community_chain(community_rate_per_point_units=9 * COR)
    attest_many(c, "m0", points, "r")
    items, stream = close(c)
    _, amount, detail = items[addr("m0")]
    assert amount == 999 * COR == detail["claim"] and detail["capped"] is capped and detail["member_cap"] == 999 * COR
    assert stream["back_to_pool"] == BUDGET_1 - 999 * COR


def test_a_rate_of_zero_pays_nobody_and_says_why():
    c = community_chain(community_rate_per_point_units=0)
    attest(c, "m0", 50, "r")
    items, stream = close(c)
    name, amount, detail = items[addr("m0")]
    assert (name, amount, stream["paid"], stream["earners"]) == ("community:none", 0, 0, 0)
    assert detail["claim"] == 0 and "zero" in detail["why"]
    assert c.balance(f"claimable:{addr('m0')}") == 0


def test_nobody_attested_leaves_the_stream_in_the_pool_with_the_rate_recorded():
    c = community_chain()
    items, stream = close(c)
    assert items == {} and stream["paid"] == 0 and stream["back_to_pool"] == BUDGET_1
    assert stream["note"] == "no attested points this epoch" and stream["claims"] == 0 and stream["rate_units"] == 4 * COR


def test_the_statement_line_carries_every_input_and_the_claim_is_claimable():
    c = community_chain()
    attest_many(c, "m0", 300, "big")
    attest(c, "m1", 10, "small")
    close(c)
    st_ = views.statement(c.state, addr("m0"), 1)
    (item,) = st_["items"]
    d = item["detail"]
    assert item["stream"] == "community" and item["claimable"] and int(item["amount_units"]) == 999 * COR
    inputs = (d["points"], d["total_points"], d["capped"], int(d["claim"]), int(d["claims"]))
    assert inputs == (300, 310, True, 999 * COR, 999 * COR + 40 * COR)
    p = views.proof(c.state, addr("m0"), 1)
    c.as_("m0", "reward.claim", {"address": addr("m0"), "epoch": 1, "amount": p["amount_units"], "proof": p["proof"]})
    assert c.balance(f"wallet:{addr('m0')}") == 5_000 * COR + 999 * COR


def test_a_previous_rule_log_replays_to_the_state_main_gave_it():
    c = community_life(OLD)
    assert c.state.params.rule_version == OLD
    again = replays_as_recorded(c.events, c.state, PREVIOUS_RULE_HASH)
    assert again.epochs[1].streams["community"]["paid"] == BUDGET_1  # the finding, as it was
    new = community_life()
    assert state_hash(new.state) != PREVIOUS_RULE_HASH and new.state.epochs[1].streams["community"]["paid"] == 4 * COR
    replays_as_recorded(new.events, new.state)


# --- random attestations under 30 and 31 side by side ---------------------------------------------------------------

ATTEST = st.tuples(st.sampled_from(MEMBERS), st.integers(1, 100), st.sampled_from(("cur", "cur2")))
EPOCH = st.lists(ATTEST, max_size=8)
PARAMS = st.fixed_dictionaries(
    {
        "community_rate_per_point_units": st.sampled_from([0, 1, 3 * COR, 4 * COR, 40 * COR, 10**21 + 7]),
        "community_member_cap_bps": st.sampled_from([0, 1, 2_500, 10_000]),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(EPOCH, st.booleans()), min_size=1, max_size=3), PARAMS)
def test_property_rules_30_and_31_pay_the_same_points_by_their_formulas(plan, params):
    new, old = community_chain(**params), community_chain(OLD, **params)
    snapshot = None
    for attests, snap in plan:
        for n, (m, pts, cur) in enumerate(attests):
            for c in (new, old):
                try:
                    attest(c, m, pts, f"r{n}", cur)
                except Exception as exc:  # a refusal (the member's cap) must be the same under both rules
                    assert getattr(exc, "code", None) == "member_points_cap", exc
        assert new.state.community_points == old.state.community_points
        points = dict(new.state.community_points)
        if snap and snapshot is None:
            snapshot = (encode_state(new.state), len(new.events))
        n_items, n_stream = close(new)
        o_items, o_stream = close(old)
        budget = n_stream["budget"]
        assert budget == o_stream["budget"]
        cap = budget * params["community_member_cap_bps"] // 10_000
        claims = {a: min(p * params["community_rate_per_point_units"], cap) for a, p in points.items()}  # (by address)
        total_claims = sum(claims.values())
        total = sum(points.values())
        assert set(n_items) == set(o_items) == set(claims)
        for a, claim in claims.items():
            got = n_items[a][1]
            assert got == (claim if total_claims <= budget else budget * claim // total_claims)
            assert got <= claim and got <= cap
            assert o_items[a][1] == budget * points[a] // total
        assert n_stream["paid"] <= budget and o_stream["paid"] <= budget
        assert n_stream["claims"] == total_claims and n_stream["budget_binding"] == (total_claims > budget)
    # every balance but the pool's and the members' claimables is the same under both rules
    diff = {k for k in set(new.state.ledger.balances) | set(old.state.ledger.balances) if new.balance(k) != old.balance(k)}
    assert diff <= {POOL} | {f"claimable:{addr(m)}" for m in MEMBERS}
    # conservation after every event (the chains check it as they go, and the replays again), replay from genesis and
    # from a snapshot reach the live state
    for c in (new, old):
        replays_as_recorded(c.events, c.state)
    if snapshot is not None:
        resumed_from_snapshot(snapshot, new.events, new.state)
    assert replay(old.events).to_dict() == old.state.to_dict()
