"""The ids of the open proposals and bounties (``State.voting_proposals``, ``undrawn_bounties``, ``unexpired_bounties``;
issue 16) and of the expired bounties still live (``expired_bounties``, session 30): the oracle's tick (the next due
tick, the tallies, the reviewer draws), ``bounty.create`` (its count of the bounties not expired) and the close's prune
(``retire_bounties``: tests/core/test_bounty_retire.py) read these, not every proposal or bounty ever made; the sets are derived (not hashed, not in a
snapshot), rebuilt when a state is decoded, and a refused event leaves them equal to a rebuild."""

import pytest

from cor_incentives.core import apply as apply_module
from cor_incentives.core.apply import conservation_holds, process_tick
from cor_incentives.core.bounties import process_bounty_create, process_bounty_expire
from cor_incentives.core.errors import Conflict, InvariantViolation
from cor_incentives.core.journal import JDict
from cor_incentives.core.records import BountyStatus, ProposalStatus
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import decode_state, encode_state, state_hash
from cor_incentives.core.units import COR
from support.chain import Chain, refusing
from support.scans import DictScans

PARAMS = {"min_self_bond_miner_units": "1", "gov_voting_period_ticks": 10, "epoch_length_ticks": 40, "gov_min_deposit_units": str(100 * COR)}


def propose(c: Chain) -> int:
    pid = c.state.next_id
    c.as_("p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 3000}, "effective_epoch": c.state.epoch + 2})
    return pid


def create(c: Chain, ticks: int = 3) -> int:
    """A bounty whose reviewers are drawn, its deadline ``ticks`` ahead."""
    bid = c.state.next_id
    c.as_("s", "bounty.create", {"prize": str(10 * COR), "criteria": "c", "deadline_tick": c.state.tick + ticks, "winners": 1})
    return bid


def network() -> Chain:
    """Three nodes (stake aged: proposals may open), and a history: 3 decided proposals and 3 expired bounties."""
    c = Chain(wallets={"n1": 10_000 * COR, "n2": 10_000 * COR, "p": 10_000 * COR, "s": 10_000 * COR}, params=PARAMS)
    for n in ("n1", "n2"):
        c.as_(n, "node.register", {"role": "validator", "self_bond": str(5_000 * COR)})
    for _ in range(2):
        c.oracle("epoch.close", {})
    for _ in range(3):
        pid = propose(c)
        c.as_("n1", "gov.vote", {"proposal": pid, "option": "yes"})
        bid = create(c)
        c.oracle("tick", {"ticks": c.state.proposals[pid].end_tick - c.state.tick})
        c.as_("n2", "bounty.expire", {"bounty": bid})
    c.oracle("epoch.close", {})
    return c


def ids(state: State) -> dict:  # (the proposals' and bounties'; closed_sessions, retired_models: test_session_bound.py, test_model_bond.py)
    return {name: sorted(v) for name, v in state.open_ids().items() if name not in ("closed_sessions", "retired_models")}


def rebuilt(state: State) -> dict:
    return {name: sorted(v) for name, v in state.open_ids_rebuilt().items() if name not in ("closed_sessions", "retired_models")}


def test_a_tick_and_a_bounty_create_read_no_whole_proposal_or_bounty_dict():
    """Opening a proposal and a bounty, ticks with nothing due, the reviewer draw and the tally at their ticks, and a bounty
    expiring never read the whole history: each read every proposal and bounty ever made until the sets (a tick cost
    ~4.6 ms and a bounty.create ~1.2 ms at 10 k closed proposals and bounties, bench/per_event.py --ticks)."""
    c = network()
    assert [p.status for p in c.state.proposals.values()] == [ProposalStatus.EXECUTED] * 3  # decided, passed, run at a close
    assert [b.status for b in c.state.bounties.values()] == [BountyStatus.EXPIRED] * 3
    c.check = False  # the full check reads every record: run once at the end
    proposals, bounties = c.state.proposals, c.state.bounties
    proposals.__class__ = bounties.__class__ = DictScans
    scans: list[tuple[str, int]] = []

    def step(what: str, fn) -> None:
        DictScans.count = 0
        fn()
        scans.append((what, DictScans.count))

    try:
        pid, bid = c.state.next_id, c.state.next_id + 1
        step("gov.propose", lambda: propose(c))
        step("bounty.create", lambda: create(c, ticks=4))
        step("tick", lambda: c.oracle("tick", {}))
        step("vote", lambda: c.as_("n2", "gov.vote", {"proposal": pid, "option": "no"}))
        step("tick to the deadline", lambda: c.oracle("tick", {"ticks": 3}))
        step("tick to the tally", lambda: c.oracle("tick", {"ticks": c.state.proposals[pid].end_tick - c.state.tick}))
        step("bounty.expire", lambda: c.as_("s", "bounty.expire", {"bounty": bid}))
        assert c.state.epoch_start_tick + c.state.params.epoch_length_ticks > c.state.tick  # no close (which reads them all)
    finally:
        proposals.__class__ = bounties.__class__ = JDict
    assert scans == [(what, 0) for what, _ in scans]
    prop, bounty = c.state.proposals[pid], c.state.bounties[bid]
    assert prop.status == ProposalStatus.REJECTED and prop.tallied_tick == prop.end_tick  # n2 said no: threshold not met
    assert bounty.drawn_tick == bounty.deadline_tick and bounty.status == BountyStatus.EXPIRED
    history = sorted(set(c.state.bounties) - {bid})  # the network's three, expired (no pruning here: they stay)
    after = {"voting_proposals": [], "undrawn_bounties": [], "unexpired_bounties": [], "expired_bounties": [*history, bid]}
    assert ids(c.state) == rebuilt(c.state) == after
    conservation_holds(c.state)


def test_the_sets_follow_the_records():
    """Each set holds what its rule says at every step: a proposal until its tally, a drawn bounty until its draw is asked
    for, a bounty until it expires."""
    c = network()
    history = sorted(c.state.bounties)  # expired (no pruning here: they stay)
    pid = propose(c)
    bid = create(c, ticks=2)
    sets = {"voting_proposals": [pid], "undrawn_bounties": [bid], "unexpired_bounties": [bid], "expired_bounties": history}
    assert ids(c.state) == rebuilt(c.state) == sets
    c.oracle("tick", {"ticks": 2})  # the deadline: the draw is asked for
    assert ids(c.state) == rebuilt(c.state) == {**sets, "undrawn_bounties": []}
    c.oracle("tick", {"ticks": c.state.proposals[pid].end_tick - c.state.tick})
    assert ids(c.state) == rebuilt(c.state) == {**sets, "voting_proposals": [], "undrawn_bounties": []}
    c.as_("s", "bounty.expire", {"bounty": bid})
    expired = {"voting_proposals": [], "undrawn_bounties": [], "unexpired_bounties": [], "expired_bounties": [*history, bid]}
    assert ids(c.state) == rebuilt(c.state) == expired


def test_the_open_bounty_limit_counts_the_bounties_not_expired(monkeypatch):
    """The limit counts every bounty not expired (an expired one frees its place), with the same refusal."""
    from cor_incentives.core import bounties as bounties_module

    c = network()
    monkeypatch.setattr(bounties_module, "MAX_OPEN_BOUNTIES", 2)
    first = create(c, ticks=2)
    create(c, ticks=50)
    with pytest.raises(Conflict) as e:
        create(c)
    assert e.value.code == "too_many_open_bounties"
    c.oracle("tick", {"ticks": 2})
    c.as_("s", "bounty.expire", {"bounty": first})
    create(c)  # the expired one no longer counts
    assert len(c.state.unexpired_bounties) == 2


@pytest.mark.parametrize(
    "kind, handler", [("tick", process_tick), ("bounty.create", process_bounty_create), ("bounty.expire", process_bounty_expire)]
)
def test_a_refused_event_leaves_the_sets_as_they_were(monkeypatch, kind, handler):
    """A tick that tallied a proposal and asked for a draw, a bounty created, a bounty expired, each then refused: the sets
    are what they were, and equal a rebuild."""
    c = network()
    history = sorted(c.state.bounties)  # expired (no pruning here: they stay)
    pid = propose(c)
    bid = create(c, ticks=10)
    c.oracle("tick", {"ticks": 8})
    expiring = create(c, ticks=1)
    c.oracle("tick", {"ticks": 1})  # pid and bid are due at the next tick; ``expiring`` may expire
    before = ids(c.state)
    assert before == {"voting_proposals": [pid], "undrawn_bounties": [bid], "unexpired_bounties": [bid, expiring], "expired_bounties": history}
    body = {
        "tick": {},
        "bounty.create": {"prize": str(10 * COR), "criteria": "c", "deadline_tick": c.state.tick + 5, "winners": 1},
        "bounty.expire": {"bounty": expiring},
    }[kind]
    send = c.oracle if kind == "tick" else (lambda k, b: c.as_("s", k, b))
    monkeypatch.setitem(apply_module.HANDLERS, kind, (refusing(handler), apply_module.HANDLERS[kind][1]))
    with pytest.raises(Conflict, match="refused after the writes"):
        send(kind, body)
    assert ids(c.state) == before == rebuilt(c.state)
    monkeypatch.undo()
    send(kind, body)  # and it works after
    assert ids(c.state) == rebuilt(c.state) != before


def test_decode_rebuilds_the_sets_and_they_are_neither_hashed_nor_in_a_snapshot():
    c = network()
    history = sorted(c.state.bounties)  # expired (no pruning here: they stay)
    pid = propose(c)
    bid = create(c, ticks=5)
    data, h = encode_state(c.state), state_hash(c.state)
    state = decode_state(data)
    sets = {"voting_proposals": [pid], "undrawn_bounties": [bid], "unexpired_bounties": [bid], "expired_bounties": history}
    assert ids(state) == ids(c.state) == sets
    state.voting_proposals.clear()
    state.undrawn_bounties.add(10**6)
    state.expired_bounties.discard(history[0])
    assert encode_state(state) == data and state_hash(state) == h  # derived: not in the bytes nor the hash
    with pytest.raises(InvariantViolation, match="open proposals"):
        conservation_holds(state)  # the full check compares them with a rebuild
