"""The open proposals and bounties read by the tick each is due (``State.proposal_ends``, ``State.bounty_deadlines``:
``state.DueIds``, session 24, issue 16): the oracle's tick (``apply.next_due_tick``, the tallies, the reviewer draws)
reads the items due, not every open one at every step, and the state is the same, byte for byte, as with every open
item read at each step (``support.due_reference``), through multi-tick jumps, epoch closes, refused ticks and decoded
states. Until then a tick with 10 k bounties waiting for far deadlines (a prize of one base unit each) cost ~4.5 ms
against ~0.36 ms (bench/per_event.py --open-bounties)."""

import random

import pytest

from cor_incentives.core import apply as apply_module
from cor_incentives.core import state_codec
from cor_incentives.core.apply import conservation_holds, process_tick
from cor_incentives.core.errors import Conflict, EngineError, InvariantViolation
from cor_incentives.core.journal import JDict
from cor_incentives.core.records import BountyStatus, ProposalStatus
from cor_incentives.core.state_codec import encode_state, state_hash
from support.chain import addr, refusing
from support.due_reference import network, use_reference
from support.replays import through_snapshot


def play(seed: int) -> list[str]:
    """A random history of bounties, proposals, votes, ticks of 1-15, closes, refused ticks and decoded states; the state
    hash after each step (and the snapshot's bytes at the end)."""
    rng = random.Random(seed)
    c = network()
    out = []
    for _ in range(70):
        action = rng.choice(("bounty", "bounty", "named", "propose", "vote", "tick", "tick", "close", "refused", "decode"))
        try:
            if action == "bounty":
                body = {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + rng.randrange(1, 30), "winners": 1}
                c.as_("s", "bounty.create", body)
            elif action == "named":
                reviewers = [addr(f"r{i}") for i in range(5)]
                c.as_("s", "bounty.create", {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + 3, "winners": 1, "reviewers": reviewers})
            elif action == "propose":
                body = {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 3000}, "effective_epoch": c.state.epoch + 2}
                c.as_("p", "gov.propose", body)
            elif action == "vote":
                voting = sorted(c.state.voting_proposals)
                if voting:
                    c.as_(rng.choice(("n1", "n2")), "gov.vote", {"proposal": rng.choice(voting), "option": rng.choice(("yes", "no"))})
            elif action == "tick":
                c.oracle("tick", {"ticks": rng.randrange(1, 16)})
            elif action == "close":
                c.oracle("epoch.close", {})
            elif action == "refused":
                real = apply_module.HANDLERS["tick"]
                apply_module.HANDLERS["tick"] = (refusing(process_tick), True)
                try:
                    with pytest.raises(Conflict, match="refused after the writes"):
                        c.oracle("tick", {"ticks": rng.randrange(1, 16)})
                finally:
                    apply_module.HANDLERS["tick"] = real
            else:
                c.state = through_snapshot(c.state)
        except EngineError:
            pass  # (refused the same way on both sides: a vote twice, a closed vote)
        out.append(state_hash(c.state))
    conservation_holds(c.state)  # the full check: each DueIds' live entries equal a rebuild
    out.append(encode_state(c.state).hex())
    return out


@pytest.mark.parametrize("seed", range(12))
def test_the_same_states_as_reading_every_open_item(monkeypatch, seed):
    new = play(seed)
    use_reference(monkeypatch)
    assert play(seed) == new


def test_a_refused_tick_puts_the_due_items_back():
    """A tick at a deadline and at a vote's end, refused after its draw request and tally: the next tick does both."""
    c = network()
    pid = c.state.next_id
    c.as_("p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 3000}, "effective_epoch": c.state.epoch + 2})
    bid = c.state.next_id
    c.as_("s", "bounty.create", {"prize": "1", "criteria": "c", "deadline_tick": c.state.proposals[pid].end_tick, "winners": 1})
    ticks = c.state.proposals[pid].end_tick - c.state.tick
    real = apply_module.HANDLERS["tick"]
    apply_module.HANDLERS["tick"] = (refusing(process_tick), True)
    try:
        with pytest.raises(Conflict):
            c.oracle("tick", {"ticks": ticks})
    finally:
        apply_module.HANDLERS["tick"] = real
    assert c.state.bounties[bid].drawn_tick is None and c.state.proposals[pid].status == ProposalStatus.VOTING
    conservation_holds(c.state)
    c.oracle("tick", {"ticks": ticks})
    assert c.state.bounties[bid].drawn_tick == c.state.tick and c.state.proposals[pid].tallied_tick == c.state.tick


class Reads(JDict):
    """A journaled dict counting the records read one by one."""

    __slots__ = ()
    count = 0

    def __getitem__(self, key):
        Reads.count += 1
        return super().__getitem__(key)

    def get(self, key, default=None):
        Reads.count += 1
        return super().get(key, default)


@pytest.mark.parametrize("reference", [False, True])
def test_a_tick_reads_one_open_bounty_whatever_their_number(monkeypatch, reference):
    """30 bounties open with far deadlines: a tick with nothing due reads the earliest one (the next due tick), where
    reading every open item read all 30 twice at each step (the reference, as a check that this test sees the reads)."""
    if reference:
        use_reference(monkeypatch)
    c = network()
    for i in range(30):
        c.as_("s", "bounty.create", {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + 30 + i, "winners": 1})
    c.check = False
    bounties = c.state.bounties
    bounties.__class__ = Reads
    Reads.count = 0
    try:
        c.oracle("tick", {})
    finally:
        bounties.__class__ = JDict
    assert Reads.count >= 60 if reference else Reads.count == 1  # (the reference: each open bounty by next_due_tick and by the draws)


def test_derived_not_hashed_and_checked():
    c = network()
    c.as_("s", "bounty.create", {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + 5, "winners": 1})
    assert {"bounty_deadlines", "proposal_ends"} <= state_codec.DERIVED_STATE_FIELDS
    data, h = encode_state(c.state), state_hash(c.state)
    c.state.bounty_deadlines.heap.clear()
    assert encode_state(c.state) == data and state_hash(c.state) == h
    with pytest.raises(InvariantViolation, match="deadline_tick"):
        conservation_holds(c.state)


def overdue_history() -> list[str]:
    c = network()
    stuck, later = c.state.next_id, c.state.next_id + 1
    c.as_("s", "bounty.create", {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + 2, "winners": 1})
    c.as_("s", "bounty.create", {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + 6, "winners": 1})
    object.__setattr__(c.state.bounties[stuck], "status", BountyStatus.FINALIZED)
    hashes = []
    for ticks in (1, 1, 1, 4, 3):  # (the fourth jumps over the later deadline: the step must stop there)
        c.oracle("tick", {"ticks": ticks})
        hashes.append(state_hash(c.state))
    assert stuck in c.state.undrawn_bounties and c.state.bounties[stuck].drawn_tick is None
    assert c.state.bounties[later].drawn_tick == c.state.bounties[later].deadline_tick
    return hashes


def test_an_overdue_item_still_open_is_read_again_at_every_step(monkeypatch):
    """A bounty past its deadline whose draw was not asked for (its status set by hand: no event leaves one so) stays in
    the set and is looked at again at each step, as before; the next due tick then reads every open bounty (the
    fallback), and the other bounty is drawn at its deadline inside a jump: the same states both ways."""
    new = overdue_history()
    use_reference(monkeypatch)
    assert overdue_history() == new
