"""Rule 22 (``RULES_BOUNTY_RETIRE``): an expired bounty leaves the live state with its entries at the first epoch close
after its expiry (core/prune.py ``retire_bounties``), folded into ``pruned`` like a closed task. The boundary (expired one
tick before the close: gone; expired after it: held until the next close; open and finalized ones stay), the fold, the
refusals of messages naming a retired bounty (specific codes, nothing changed), a queued reviewer draw keeping its bounty,
no pruning and rule 21 keeping everything, a property test over random bounty lives, and the old rule: a log recorded
under rule 21 with pruning on replays to the state hash main's code (f3abfae) gave it. The prune reads the expired
bounties from ``State.expired_bounties`` (session 30: derived, rebuilt at decode, checked), not every live bounty: the
same retirements, in the same order, as the walk it replaced (kept here as the reference)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core import prune
from cor_incentives.core.apply import apply, conservation_holds, replay
from cor_incentives.core.bounties import REVIEWER_DRAW
from cor_incentives.core.errors import EngineError, InvariantViolation, invariant
from cor_incentives.core.events import content_hash
from cor_incentives.core.journal import JDict
from cor_incentives.core.prune import BOUNTY, fold, queued_draws, retire, retire_bounties
from cor_incentives.core.records import Bounty, BountyStatus
from cor_incentives.core.rules import RULE_VERSIONS, RULES_BOUNTY_RETIRE
from cor_incentives.core.state_codec import decode_record, decode_state, encode_record, encode_state, state_hash
from cor_incentives.core.units import COR
from support.bounty_chain import JUDGES, bounty_network, create_bounty, h, refused
from support.chain import Chain, addr
from support.replays import through_snapshot
from support.scans import DictScans

PRIZE = 10 * COR  # the minimum prize
OLD = max(v for v in RULE_VERSIONS if v < RULES_BOUNTY_RETIRE)
EPOCH = 20  # ticks
REVIEW = 3  # bounty_review_period_ticks
# the state hash main's code gave old_rule_log(), recorded once with main's src at f3abfae (rule 21 the latest there)
MAIN_STATE_HASH_21 = "0x4c0b944218086fd5d88e2d7970b21c7ac2d416cdcab93a19fc951788f2a337dc"


def network(rule_version: int | None = None, prune: int = 1, beacon: int | None = None, **wallets: int) -> Chain:
    params = {"prune_closed_records": prune, "epoch_length_ticks": EPOCH, "bounty_review_period_ticks": REVIEW}
    if rule_version is not None:
        params["rule_version"] = rule_version
    return bounty_network(params, beacon, **{**dict.fromkeys(("h0", "h1", "h2"), 5 * COR), **wallets})


def create(c: Chain, kind: str = "bounty", named: bool = True, ticks: int = 2) -> int:
    return create_bounty(c, PRIZE, kind=kind, ticks=ticks, named=named)


def enter(c: Chain, bid: int, hunters: tuple[str, ...] = ("h0", "h1")) -> None:
    for x in hunters:
        c.as_(x, "bounty.submit", {"bounty": bid, "content_hash": h(f"{bid} {x}")})


def to_tick(c: Chain, tick: int) -> None:
    if tick > c.state.tick:
        c.oracle("tick", {"ticks": tick - c.state.tick})


def expired_bounty(c: Chain) -> int:
    """A bounty with two entries, one awarded by the three judges, expired: its last tick is now."""
    bid = create(c)
    enter(c, bid)
    to_tick(c, c.state.bounties[bid].deadline_tick)
    for j in JUDGES:
        c.as_(j, "bounty.award", {"bounty": bid, "submission": addr("h0")})
    c.as_("h1", "bounty.expire", {"bounty": bid})
    return bid


def test_an_expired_bounty_leaves_at_the_next_close_with_its_entries_folded_into_pruned():
    c = network()
    bid = expired_bounty(c)
    assert c.state.tick < EPOCH - 1  # expired in epoch 0, before its last tick
    whole = decode_record(Bounty, encode_record(c.state.bounties[bid]).decode())
    assert whole.status == BountyStatus.EXPIRED and len(whole.submissions) == 2
    to_tick(c, EPOCH - 1)
    assert bid in c.state.bounties  # nothing leaves before the close
    before = (c.state.pruned.hash, c.state.pruned.count)
    c.oracle("epoch.close", {})
    assert bid not in c.state.bounties and c.balance(f"escrow:bounty:{bid}") == 0
    mine = [r for r in c.state.retired if r[1] == BOUNTY]
    assert [(k, key) for _, k, key, _, _, _ in mine] == [(BOUNTY, bid)]
    _, _, _, n, data, _ = mine[0]
    assert decode_record(Bounty, data.decode()) == whole  # exactly what left, entries and all
    # the fold: the bounty is the first record this close pruned (before the earlier epoch's records and param versions)
    assert n == before[1] and data == encode_record(whole)
    running = before[0]
    for _, kind, key, _, record, _ in sorted(c.state.retired, key=lambda r: r[3]):
        running = fold(running, kind, key, content_hash(record))
    assert (running, c.state.pruned.count) == (c.state.pruned.hash, before[1] + len(c.state.retired))
    conservation_holds(c.state)
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)


def test_the_boundary_expired_before_the_close_leaves_expired_after_it_waits_open_and_finalized_stay():
    c = network()
    early = expired_bounty(c)  # expired in epoch 0
    late = create(c, ticks=EPOCH)  # its deadline is in epoch 1: expired after the close
    opened = create(c, ticks=3 * EPOCH)  # open throughout
    challenge = create(c, kind="challenge", ticks=2)
    enter(c, challenge)
    to_tick(c, c.state.bounties[challenge].deadline_tick + REVIEW)
    c.as_("j0", "bounty.finalize", {"bounty": challenge})  # finalized, not expired: its expire is still to come
    to_tick(c, EPOCH - 1)
    c.oracle("epoch.close", {})
    assert early not in c.state.bounties
    assert {late, opened, challenge} <= set(c.state.bounties) and c.state.bounties[challenge].status == BountyStatus.FINALIZED
    to_tick(c, c.state.bounties[late].deadline_tick)
    c.as_("h2", "bounty.expire", {"bounty": late})
    c.as_("h2", "bounty.expire", {"bounty": challenge})
    assert {late, challenge} <= set(c.state.bounties)  # expired one tick after the close: held until the next one
    c.oracle("epoch.close", {})
    assert set(c.state.bounties) == {opened}
    assert sorted(key for _, kind, key, _, _, _ in c.state.retired if kind == BOUNTY) == sorted([late, challenge])  # in id order
    assert [key for _, kind, key, _, _, _ in c.state.retired if kind == BOUNTY] == sorted([late, challenge])


def test_messages_naming_a_retired_bounty_are_refused_bounty_not_found_and_change_nothing():
    c = network()
    bid = expired_bounty(c)
    refused(c, "h2", "bounty.submit", {"bounty": bid, "content_hash": h("x")}, "bounty_expired")  # still live: expired
    c.oracle("epoch.close", {})
    refused(c, "h2", "bounty.submit", {"bounty": bid, "content_hash": h("x")}, "bounty_not_found")
    refused(c, "j0", "bounty.award", {"bounty": bid, "submission": addr("h1")}, "bounty_not_found")
    refused(c, "j0", "bounty.score", {"bounty": bid, "submission": addr("h1"), "score_ppb": 1}, "bounty_not_found")
    refused(c, "j0", "bounty.finalize", {"bounty": bid}, "bounty_not_found")
    refused(c, "h1", "bounty.expire", {"bounty": bid}, "bounty_not_found")
    proposal = {"kind": "bounty_funding", "title": "t", "bounty": bid, "amount": str(COR)}
    refused(c, "sponsor", "gov.propose", proposal, "bounty_not_found")


def test_a_bounty_whose_reviewer_draw_is_still_queued_stays():
    c = network(beacon=64)
    bid = create(c, named=False)
    to_tick(c, c.state.bounties[bid].deadline_tick)
    c.as_("h0", "bounty.expire", {"bounty": bid})  # no entries: expires at its deadline
    assert c.state.bounties[bid].status == BountyStatus.EXPIRED
    c.state.beacon.pending.append((REVIEWER_DRAW, bid))  # a draw of it still to run (as a close before run_draws would see)
    retire_bounties(c.state)
    assert bid in c.state.bounties
    c.state.beacon.pending.clear()
    retire_bounties(c.state)
    assert bid not in c.state.bounties


@pytest.mark.parametrize(("rule_version", "prune"), [(None, 0), (OLD, 1)])
def test_without_pruning_or_under_rule_21_an_expired_bounty_stays(rule_version, prune):
    c = network(rule_version, prune)
    bid = expired_bounty(c)
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    assert c.state.bounties[bid].status == BountyStatus.EXPIRED
    refused(c, "h2", "bounty.submit", {"bounty": bid, "content_hash": h("x")}, "bounty_expired")


def old_rule_log() -> Chain:
    """Under rule 21 with pruning on: bounties and a challenge entered, awarded, finalized, expired, three closes."""
    c = network(OLD)
    a = expired_bounty(c)
    b = create(c, kind="challenge")
    enter(c, b, ("h1", "h2"))
    to_tick(c, c.state.bounties[b].deadline_tick)
    c.as_("j0", "bounty.score", {"bounty": b, "submission": addr("h2"), "score_ppb": 7})
    c.oracle("epoch.close", {})
    c.as_("j1", "bounty.finalize", {"bounty": b})
    c.as_("j1", "bounty.expire", {"bounty": b})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    assert {a, b} <= set(c.state.bounties) and c.state.pruned.count > 0  # pruning ran, the bounties stayed
    return c


def test_a_log_recorded_under_rule_21_replays_to_the_state_main_gave_it():
    assert OLD == 21
    c = old_rule_log()
    again = replay(c.events, check_each=True)
    assert state_hash(again) == state_hash(c.state) == MAIN_STATE_HASH_21
    assert encode_state(again) == encode_state(c.state)


HUNTERS = ("h0", "h1", "h2")
ROUND = st.tuples(
    st.lists(st.tuples(st.sampled_from(["bounty", "challenge"]), st.integers(1, 10), st.sets(st.sampled_from(HUNTERS))), min_size=1, max_size=3),
    st.integers(1, 20),  # ticks before the finalizes and expires
    st.lists(st.sampled_from(["finalize", "expire", "both", "none"]), min_size=3, max_size=3),
    st.integers(1, 25),  # ticks after them
    st.booleans(),  # a snapshot at the end of the round
)


def actions_of(rounds: list) -> list[tuple]:
    """Each round: its bounties created and entered, ticks, each finalized and/or expired (or not), ticks, maybe a snapshot."""
    out: list[tuple] = []
    for creates, before, ends, after, snapshot in rounds:
        m = len(creates)
        out += [("create", kind, deadline) for kind, deadline, _ in creates]
        out += [("enter", m - 1 - j, x) for j, (_, _, hunters) in enumerate(creates) for x in sorted(hunters)]
        out.append(("tick", before))
        for j, end in enumerate(ends[:m]):
            out += [(name, m - 1 - j) for name in ("finalize", "expire") if end in (name, "both")]
        out.append(("tick", after))
        out += [("snapshot",)] if snapshot else []
    return out


def attempt(c: Chain, who: str, kind: str, body: dict) -> bool:
    try:
        c.as_(who, kind, body)
    except EngineError:
        return False
    return True


def act(chain: Chain, action: tuple, ids: list[int]) -> bool:
    """One action on ``chain`` (ids: the bounties created so far); whether it was applied."""
    name = action[0]
    if name == "create":
        body = {"prize": str(PRIZE), "criteria": "c", "deadline_tick": chain.state.tick + action[2], "winners": 1, "kind": action[1]}
        return attempt(chain, "sponsor", "bounty.create", {**body, "reviewers": [addr(j) for j in JUDGES]})
    if name == "enter" and ids:
        return attempt(chain, action[2], "bounty.submit", {"bounty": ids[-1 - action[1] % len(ids)], "content_hash": h(action[2])})
    if name in ("finalize", "expire") and ids:  # (of the latest bounties first)
        return attempt(chain, "j0", f"bounty.{name}", {"bounty": ids[-1 - action[1] % len(ids)]})
    if name == "tick":
        chain.oracle("tick", {"ticks": action[1]})
        return True
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROUND, min_size=1, max_size=5))
def test_property_expired_bounties_leave_at_the_close_and_nothing_else_does(rounds):
    actions = actions_of(rounds)
    c, old = network(), network(OLD)  # the same actions under rule 22 and rule 21
    ids: list[int] = []
    retired: list[int] = []
    snapshot = None
    for action in actions:
        if action[0] == "snapshot":
            snapshot = (encode_state(c.state), len(c.events))
            continue
        bid, epoch, live = c.state.next_id, c.state.epoch, set(c.state.bounties)
        expired = {i for i, b in c.state.bounties.items() if b.status == BountyStatus.EXPIRED}
        done = act(c, action, ids)
        assert act(old, action, ids) == done  # rule 21 accepts and refuses the same (every id named is still live there)
        if action[0] == "create" and done:
            ids.append(bid)
        if c.state.epoch > epoch:  # a close: exactly the bounties expired before it left, in id order
            gone = sorted(live - set(c.state.bounties))
            assert gone == sorted(expired) and [k for _, kind, k, _, _, _ in c.state.retired if kind == BOUNTY] == gone
            retired.extend(gone)
        elif action[0] == "create" and done:
            assert set(c.state.bounties) == live | {bid}
        else:
            assert set(c.state.bounties) == live  # nothing leaves between closes
        assert set(old.state.bounties) == set(ids)  # rule 21 keeps every bounty
    print(
        "RETIRED",
        len(retired),
        len(ids),
        c.state.epoch,
        len(actions),
        sum(1 for b in old.state.bounties.values() if b.status == BountyStatus.EXPIRED),
    )
    assert not set(retired) & set(c.state.bounties) and set(retired) | set(c.state.bounties) == set(ids)
    # everything else is as under rule 21: balances, and the bounties still live are the same records
    assert c.state.ledger.balances == old.state.ledger.balances
    assert all(encode_record(b) == encode_record(old.state.bounties[i]) for i, b in c.state.bounties.items())
    assert all(old.state.bounties[i].status == BountyStatus.EXPIRED for i in retired)
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)
    if snapshot is not None:  # a state decoded from a snapshot replays the rest like the original
        state = decode_state(snapshot[0])
        for event in c.events[snapshot[1] :]:
            apply(state, event)
        assert encode_state(state) == encode_state(c.state)


def walked_retire_bounties(state) -> None:
    """``prune.retire_bounties`` as it was until session 30: a walk of every live bounty at each close."""
    waiting = queued_draws(state, REVIEWER_DRAW)
    for bid in [i for i, b in state.bounties.items() if b.status == BountyStatus.EXPIRED and i not in waiting]:
        invariant(bid not in state.unexpired_bounties and bid not in state.undrawn_bounties, f"expired bounty {bid} is indexed as open")
        retire(state, BOUNTY, bid, state.bounties.pop(bid))


def test_the_prune_reads_the_expired_bounties_not_every_live_one():
    """Open bounties and two expired ones (and an expired one whose draw is queued): ``retire_bounties`` retires the two,
    in id order, without reading the bounties whole (until session 30 it walked every live bounty at each close: ~2.2 ms
    at 10 k live bounties, ~17 ms at 100 k); ``expired_bounties`` follows (added by ``bounty.expire``, emptied by the
    retirement but for the one kept) and equals a rebuild."""
    c = network(beacon=64)
    first = expired_bounty(c)
    open_ = [create(c, ticks=50) for _ in range(3)]
    second = expired_bounty(c)
    waiting = create(c, named=False)
    to_tick(c, c.state.bounties[waiting].deadline_tick)
    c.as_("h0", "bounty.expire", {"bounty": waiting})
    assert c.state.expired_bounties == {first, second, waiting}
    c.state.beacon.pending.append((REVIEWER_DRAW, waiting))  # (by hand, as above: kept until its draw ran)
    c.state.retired = []
    bounties = c.state.bounties
    bounties.__class__ = DictScans
    DictScans.count = 0
    try:
        retire_bounties(c.state)
    finally:
        bounties.__class__ = JDict
    assert DictScans.count == 0
    assert [key for _, kind, key, _, _, _ in c.state.retired if kind == BOUNTY] == [first, second]
    assert set(c.state.bounties) >= {*open_, waiting} and not {first, second} & set(c.state.bounties)
    assert c.state.expired_bounties == {waiting} == c.state.open_ids_rebuilt()["expired_bounties"]
    c.state.beacon.pending.clear()
    c.state.check_entry_indexes()


def test_expired_bounties_is_derived_rebuilt_at_decode_and_checked():
    c = network(prune=0)
    bid = expired_bounty(c)
    data, hashed = encode_state(c.state), state_hash(c.state)
    state = decode_state(data)
    assert state.expired_bounties == c.state.expired_bounties == {bid}
    state.expired_bounties.clear()
    assert encode_state(state) == data and state_hash(state) == hashed  # not in the bytes nor the hash
    with pytest.raises(InvariantViolation, match="open proposals' and bounties' ids"):
        state.check_entry_indexes()


@contextmanager
def the_walk():
    """``prune.retire_bounties`` replaced by the walk for the calls in the block."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prune, "retire_bounties", walked_retire_bounties)
        yield


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROUND, min_size=1, max_size=5))
def test_property_the_same_retirements_as_the_walk(rounds):
    """Random bounty lives (created, entered, finalized, expired, ticks and closes; snapshots opened between the rounds):
    the state after each action (its hash, its ``pruned`` fold, the records handed to the database in their order) is
    the one the walk of every live bounty gave."""
    actions = actions_of(rounds)
    c, walked = network(), network()
    walked.check = False  # (the walk leaves ``expired_bounties`` as it is: its full check would say so; c's runs)
    ids: list[int] = []
    for action in actions:
        if action[0] == "snapshot":
            c.state = through_snapshot(c.state)
            walked.state = through_snapshot(walked.state)
            continue
        bid = c.state.next_id
        done = act(c, action, ids)
        with the_walk():
            assert act(walked, action, ids) == done
        if action[0] == "create" and done:
            ids.append(bid)
        assert state_hash(c.state) == state_hash(walked.state)
        assert (c.state.pruned.hash, c.state.pruned.count) == (walked.state.pruned.hash, walked.state.pruned.count)
        assert [r[:4] for r in c.state.retired] == [r[:4] for r in walked.state.retired]
    c.state.check_entry_indexes()
