"""Rule 31 (RULES_MARKETPLACE_RATE): the marketplace stream pays a model's usage at ``marketplace_usage_rate_units`` per unit,
pro rata only when the claims exceed the budget; what is not earned stays in ``pool:network_incentives``
(docs/rewards.md, "Marketplace stream"; docs/design.md §3). Rules 1-30 split the whole stream by usage, so one network
task paid its model's owner the whole stream, as much as ten (finding K1, docs/redteam/s33).

The boundaries (claims below, at and one above the budget; rate 0; the old split), one task against ten and against the
old rule, a fine-tune's parent share at the rate and when the budget binds, user tasks earning nothing, a rule-30 log
replaying to the state hash main's code gave it, and a property over random epochs under 30 and 31 side by side
(conservation after every event, replay from genesis and from a snapshot)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core.apply import conservation_holds
from cor_incentives.core.ledger import NETWORK_INCENTIVES_POOL
from cor_incentives.core.params import Params
from cor_incentives.core.rewards import MARKETPLACE_RATE_FORMULA, marketplace_shares
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_MARKETPLACE_RATE
from cor_incentives.core.state_codec import encode_state
from cor_incentives.core.streams import Stream
from cor_incentives.core.units import COR, PPB
from support.chain import addr
from support.market import MODEL, commit_reveal, draw_now, submit, validate_all
from support.marketplace_rate import FINE_TUNE, chain, epoch_of, network_task, previous_rule_log, with_fine_tune
from support.replays import replays_as_recorded, resumed_from_snapshot

OLD = RULES_MARKETPLACE_RATE - 1
RATE = Params().marketplace_usage_rate_units
# main's src at 8436383 (rule 30 the latest there) gives previous_rule_log() this state hash
PREVIOUS_RULE_HASH = "0x4af427992653cabc09f69fe2005c9cb6afab6590e413cd2c2e4c13a21d265388"
BINDING = 10**30  # a rate at which one task's claim exceeds any epoch's budget


def market_lines(c, e):
    return [i for i in c.state.epochs[e].items if i.stream == Stream.MARKETPLACE]


def stream(c, e):
    return c.state.epochs[e].streams["marketplace"]


def test_rule_31_says_what_changed():
    assert LATEST >= RULES_MARKETPLACE_RATE == 31
    assert "marketplace_usage_rate_units" in RULE_VERSIONS[31] and "marketplace_one_task" in RULE_VERSIONS[31]
    assert RATE == 3 * COR // 10


# --- the formula at its boundaries (core/rewards.py marketplace_shares) ---------------------------------------------


def test_claims_below_the_budget_are_paid_in_full_and_the_rest_is_not_paid():
    usage = {"a": 3 * PPB, "b": 7 * PPB + 1}  # units × 1e9
    shares, claim, claims = marketplace_shares(usage, budget=10 * COR, rate_units=COR // 2)
    assert claim == {"a": 3 * COR // 2, "b": (7 * PPB + 1) * (COR // 2) // PPB} and claims == sum(claim.values())
    assert shares == claim and sum(shares.values()) < 10 * COR


def test_claims_equal_to_the_budget_are_paid_in_full_and_one_unit_more_pro_rata():
    usage = {"a": 1 * PPB, "b": 3 * PPB}
    at, claim, claims = marketplace_shares(usage, budget=4 * COR, rate_units=COR)
    assert claims == 4 * COR and at == claim == {"a": COR, "b": 3 * COR}
    over, claim, claims = marketplace_shares(usage, budget=4 * COR - 1, rate_units=COR)
    assert over == {"a": (4 * COR - 1) * COR // (4 * COR), "b": (4 * COR - 1) * 3 * COR // (4 * COR)}
    assert sum(over.values()) <= 4 * COR - 1 and over["a"] < COR


def test_rate_0_pays_nothing_and_the_old_rule_splits_the_whole_stream_by_usage():
    usage = {"a": 1, "b": 2}
    assert marketplace_shares(usage, 10 * COR, 0) == ({"a": 0, "b": 0}, {"a": 0, "b": 0}, 0)
    old, _, total = marketplace_shares(usage, 10 * COR, None)
    assert total == 3 and old == {"a": 10 * COR // 3, "b": 20 * COR // 3}


# --- on a chain ----------------------------------------------------------------------------------------------------


def test_one_network_task_pays_its_usage_at_the_rate_not_the_whole_stream():
    new, old = chain(), chain(OLD)
    e = epoch_of(new, 1)
    assert epoch_of(old, 1) == e
    (line,) = market_lines(new, e)
    usage = line.detail["inputs"]["usage"]
    assert usage > 0 and line.address == addr("dev")
    assert line.amount == usage * RATE // PPB == line.detail["inputs"]["claim"] == line.detail["inputs"]["claims"]
    assert line.detail["formula"] == MARKETPLACE_RATE_FORMULA and line.detail["inputs"]["marketplace_usage_rate_units"] == RATE
    s = stream(new, e)
    assert s["paid"] == line.amount < s["budget"] and s["rate_units"] == RATE and s["budget_binding"] is False
    # rule 30: the whole stream to the same owner for the same usage
    (had,) = market_lines(old, e)
    assert had.amount == stream(old, e)["budget"] == s["budget"] and had.detail["inputs"]["usage"] == usage
    assert "claim" not in had.detail["inputs"] and "rate_units" not in stream(old, e)
    # the difference stays in the pool (the other streams paid the same under both rules)
    assert new.balance(NETWORK_INCENTIVES_POOL) - old.balance(NETWORK_INCENTIVES_POOL) == s["budget"] - line.amount
    assert {k: v for k, v in s.items() if k in ("budget",)} == {"budget": stream(old, e)["budget"]}
    for name in ("miners", "validators", "community", "governance"):
        assert new.state.epochs[e].streams[name]["paid"] == old.state.epochs[e].streams[name]["paid"]


def test_ten_tasks_earn_ten_times_one_under_rule_31_and_the_same_under_30():
    one, ten = chain(), chain()
    e1, e10 = epoch_of(one, 1), epoch_of(ten, 10)
    (a,), (b,) = market_lines(one, e1), market_lines(ten, e10)
    assert b.detail["inputs"]["usage"] == 10 * a.detail["inputs"]["usage"]  # the same prompts' shape: the same usage each
    assert b.amount == b.detail["inputs"]["usage"] * RATE // PPB and 10 * a.amount <= b.amount < 10 * a.amount + 10
    one_old, ten_old = chain(OLD), chain(OLD)
    (c,), (d,) = market_lines(one_old, epoch_of(one_old, 1)), market_lines(ten_old, epoch_of(ten_old, 10))
    assert c.amount == d.amount == stream(one_old, e1)["budget"]


def test_a_fine_tunes_share_at_the_rate_pays_its_parent_royalty_of_it():
    c = with_fine_tune(chain())
    network_task(c, 0, FINE_TUNE)
    e = epoch_of(c, 1, start=1)
    by = {(i.detail["inputs"]["model"], i.detail["inputs"]["role"]): i for i in market_lines(c, e)}
    assert set(by) == {(MODEL, "owner"), (FINE_TUNE, "owner"), (FINE_TUNE, "parent_owner")}
    ft = by[(FINE_TUNE, "owner")].detail["inputs"]
    share = ft["usage"] * RATE // PPB
    assert ft["claim"] == ft["share"] == share
    to_parent = share * c.state.params.parent_royalty_bps // 10_000
    assert by[(FINE_TUNE, "parent_owner")].amount == to_parent and by[(FINE_TUNE, "parent_owner")].address == addr("dev")
    assert by[(FINE_TUNE, "owner")].amount == share - to_parent and by[(FINE_TUNE, "owner")].address == addr("user")
    assert stream(c, e)["paid"] == sum(i.amount for i in by.values()) == ft["claims"]


def test_when_the_budget_binds_the_models_share_it_pro_rata_by_their_claims():
    c = with_fine_tune(chain(marketplace_usage_rate_units=BINDING))
    network_task(c, 0, FINE_TUNE)
    e = epoch_of(c, 2, start=1)
    s = stream(c, e)
    lines = market_lines(c, e)
    claims = lines[0].detail["inputs"]["claims"]
    assert claims > s["budget"] and s["budget_binding"] is True and s["claims"] == claims
    shares = {i.detail["inputs"]["model"]: i.detail["inputs"]["share"] for i in lines}
    claim = {i.detail["inputs"]["model"]: i.detail["inputs"]["claim"] for i in lines}
    assert shares == {m: s["budget"] * claim[m] // claims for m in claim}
    assert s["paid"] == sum(i.amount for i in lines) == sum(shares.values()) and s["budget"] - s["paid"] < 2  # the floors


def test_user_tasks_earn_no_marketplace_emission():
    c = chain()
    tid = submit(c)
    draw_now(c, tid)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners})
    draw_now(c, tid)
    validate_all(c, tid, lambda v, m: (20_000_000, 850_000_000))
    assert c.state.tasks[tid].state == "SETTLED"
    e = epoch_of(c, 0)
    assert market_lines(c, e) == [] and stream(c, e)["paid"] == 0 and stream(c, e)["claims"] == 0
    assert stream(c, e)["note"] == "no useful usage in network tasks this epoch"


def test_a_previous_rule_log_replays_to_the_state_main_gave_it():
    c = previous_rule_log()
    assert c.state.params.rule_version == OLD
    again = replays_as_recorded(c.events, c.state, PREVIOUS_RULE_HASH)
    assert all("claim" not in i.detail["inputs"] for r in again.epochs.values() for i in r.items if i.stream == Stream.MARKETPLACE)


# --- random epochs under 30 and 31 side by side ----------------------------------------------------------------------

EPOCH = st.tuples(st.integers(0, 3), st.integers(0, 2), st.booleans())  # (tasks on the model, tasks on the fine-tune, snapshot)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EPOCH, min_size=1, max_size=3), st.sampled_from([RATE, 1, BINDING]))
def test_property_rule_31_pays_at_most_the_claims_and_30_the_whole_stream(plan, rate):
    new, old = with_fine_tune(chain(marketplace_usage_rate_units=rate)), with_fine_tune(chain(OLD, marketplace_usage_rate_units=rate))
    snapshot = None
    k = 0
    for parent_tasks, ft_tasks, snap in plan:
        for c in (new, old):
            for j in range(ft_tasks):
                network_task(c, k + j, FINE_TUNE)
        k += ft_tasks
        e = epoch_of(new, parent_tasks, start=k)
        assert epoch_of(old, parent_tasks, start=k) == e
        k += parent_tasks
        s, t = stream(new, e), stream(old, e)
        assert s["budget"] == t["budget"]
        got, had = market_lines(new, e), market_lines(old, e)
        assert {(i.detail["inputs"]["model"], i.detail["inputs"]["usage"]) for i in got} <= {
            (i.detail["inputs"]["model"], i.detail["inputs"]["usage"]) for i in had
        }
        if had:
            usage = {i.detail["inputs"]["model"]: i.detail["inputs"]["usage"] for i in had}
            shares, claim, claims = marketplace_shares(usage, s["budget"], rate)
            assert s["claims"] == claims and s["paid"] == sum(i.amount for i in got) == sum(shares.values())
            assert s["paid"] <= min(claims, s["budget"]) and s["paid"] >= min(claims, s["budget"]) - len(usage)
            assert t["paid"] >= t["budget"] - len(usage) - 1  # rule 30: the whole stream, less the floors
        else:
            assert s["paid"] == t["paid"] == 0 and not got
        for name in ("miners", "validators"):
            assert new.state.epochs[e].streams[name]["paid"] == old.state.epochs[e].streams[name]["paid"]
        if snap and snapshot is None:
            snapshot = (encode_state(new.state), len(new.events))
    # only the pool and the owners' claimable balances differ between the rules
    diff = {a for a in set(new.state.ledger.balances) | set(old.state.ledger.balances) if new.balance(a) != old.balance(a)}
    assert diff <= {NETWORK_INCENTIVES_POOL, f"claimable:{addr('dev')}", f"claimable:{addr('user')}"}
    for c in (new, old):
        replays_as_recorded(c.events, c.state)
    if snapshot is not None:
        resumed_from_snapshot(snapshot, new.events, new.state, each=conservation_holds)


@pytest.mark.parametrize("rule", [OLD, RULES_MARKETPLACE_RATE])
def test_conservation_holds_after_every_event_of_a_mixed_log(rule):
    c = with_fine_tune(chain(rule))
    epoch_of(c, 2)
    network_task(c, 5, FINE_TUNE)
    epoch_of(c, 1, start=6)
    replays_as_recorded(c.events, c.state)
