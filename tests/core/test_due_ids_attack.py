"""Review of the open items read by due tick (``state.DueIds``, session 24): histories tests/core/test_due_ids.py does not
make. Proposals whose votes end out of id order (the voting period changed between them), two or more items due at one
tick, bounty.create and gov.propose refused after their push (the id handed out again, at another or the same due
tick), enough stale entries for ``pop_due`` to make its heap again (then a refused tick), jumps over many due ticks,
decoded states and a replay without the journal: the state hash after each step and the snapshot's bytes equal those of
the old reads (tests/support/due_reference.py), and the replay's hash the live one's."""

import random

import pytest

from cor_incentives.core import apply as apply_module
from cor_incentives.core.apply import apply, conservation_holds, process_tick
from cor_incentives.core.bounties import process_bounty_create
from cor_incentives.core.errors import Conflict, EngineError
from cor_incentives.core.governance import process_propose
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state, state_hash
from support.chain import refusing
from support.due_reference import network, use_reference
from support.replays import through_snapshot


def refused_as(c, kind, handler, who, body) -> None:
    real = apply_module.HANDLERS[kind]
    apply_module.HANDLERS[kind] = (refusing(handler), real[1])
    try:
        with pytest.raises(Conflict, match="refused after the writes"):
            c.as_(who, kind, body) if who else c.oracle(kind, body)
    finally:
        apply_module.HANDLERS[kind] = real


def set_period(c, ticks: int) -> None:
    """The voting period from now on (the same write on both sides of a comparison, as a governed change makes it; noted
    for ``replayed``)."""
    c.state.params_history = c.state.params_history.with_changes(c.state.epoch, {"gov_voting_period_ticks": ticks})
    c.__dict__.setdefault("periods", []).append((c.state.seq, ticks))


def replayed(c) -> State:
    """The chain's events applied without the journal, with ``set_period``'s writes made after the same events."""
    state = State()
    periods = list(c.__dict__.get("periods", []))
    for event in c.events:
        apply(state, event, atomic=False)
        while periods and periods[0][0] == state.seq:
            state.params_history = state.params_history.with_changes(state.epoch, {"gov_voting_period_ticks": periods.pop(0)[1]})
    return state


def propose_body(c) -> dict:
    return {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 3000}, "effective_epoch": c.state.epoch + 2}


def play(seed: int) -> tuple[list[str], str]:
    rng = random.Random(seed)
    c = network()
    out = []
    for _ in range(90):
        action = rng.choice(
            (
                "bounty",
                "bounty",
                "propose",
                "propose",
                "period",
                "vote",
                "tick",
                "tick",
                "jump",
                "close",
                "refused_tick",
                "refused_create",
                "refused_propose",
                "decode",
            )
        )
        try:
            if action == "bounty":
                body = {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + rng.choice((1, 2, 5, 8, 13, 40)), "winners": 1}
                c.as_("s", "bounty.create", body)
            elif action == "propose":
                c.as_("p", "gov.propose", propose_body(c))
            elif action == "period":
                set_period(c, rng.choice((1, 3, 10, 25)))
            elif action == "vote":
                voting = sorted(c.state.voting_proposals)
                if voting:
                    c.as_(rng.choice(("n1", "n2")), "gov.vote", {"proposal": rng.choice(voting), "option": rng.choice(("yes", "no"))})
            elif action == "tick":
                c.oracle("tick", {"ticks": rng.randrange(1, 6)})
            elif action == "jump":
                c.oracle("tick", {"ticks": rng.randrange(20, 90)})
            elif action == "close":
                c.oracle("epoch.close", {})
            elif action == "refused_tick":
                real = apply_module.HANDLERS["tick"]
                apply_module.HANDLERS["tick"] = (refusing(process_tick), True)
                try:
                    with pytest.raises(Conflict, match="refused after the writes"):
                        c.oracle("tick", {"ticks": rng.randrange(1, 40)})
                finally:
                    apply_module.HANDLERS["tick"] = real
            elif action == "refused_create":  # a burst: the id handed out again, stale entries pile up
                for _ in range(rng.randrange(5, 45)):
                    body = {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + rng.randrange(1, 60), "winners": 1}
                    refused_as(c, "bounty.create", process_bounty_create, "s", body)
            elif action == "refused_propose":
                refused_as(c, "gov.propose", process_propose, "p", propose_body(c))
            else:
                c.state = through_snapshot(c.state)
        except EngineError:
            pass  # (refused the same way on both sides)
        out.append(state_hash(c.state))
    conservation_holds(c.state)
    out.append(encode_state(c.state).hex())
    assert state_hash(replayed(c)) == state_hash(c.state)
    return out, f"{len(c.state.proposals)} proposals, {len(c.state.bounties)} bounties"


@pytest.mark.parametrize("seed", range(8))
def test_the_same_states_as_reading_every_open_item(monkeypatch, seed):
    new, made = play(seed)
    use_reference(monkeypatch)
    old, made_old = play(seed)
    assert made == made_old
    assert old == new


def test_stale_entries_made_again_then_a_refused_tick():
    """40 bounty.create refused after their push leave 40 stale entries (far deadlines) for one id: the step that takes
    the three bounties due makes the heap again (from the open set, less the ids taken); a tick refused after that puts
    the old heap back, entry for entry, and the tick again draws the same three, then the fourth at its deadline."""
    c = network()
    live = []
    for d in (3, 7, 7, 50):
        live.append(c.state.next_id)
        c.as_("s", "bounty.create", {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + d, "winners": 1})
    for i in range(40):
        refused_as(
            c, "bounty.create", process_bounty_create, "s", {"prize": "1", "criteria": "c", "deadline_tick": c.state.tick + 60 + i, "winners": 1}
        )
    due = c.state.bounty_deadlines
    assert len(due.heap) == 44 and len(due.heap) - 3 > 2 * 1 + 32  # (the step at tick + 7 makes it again)
    before = (state_hash(c.state), sorted(due.heap))
    real = apply_module.HANDLERS["tick"]
    apply_module.HANDLERS["tick"] = (refusing(process_tick), True)
    try:
        with pytest.raises(Conflict):
            c.oracle("tick", {"ticks": 10})
    finally:
        apply_module.HANDLERS["tick"] = real
    assert (state_hash(c.state), sorted(c.state.bounty_deadlines.heap)) == before
    c.oracle("tick", {"ticks": 10})
    assert [b for b in live if c.state.bounties[b].drawn_tick is not None] == live[:3]
    assert c.state.undrawn_bounties == {live[3]} and c.state.bounty_deadlines.heap == [(c.state.bounties[live[3]].deadline_tick, live[3])]
    c.oracle("tick", {"ticks": 45})
    assert c.state.bounties[live[3]].drawn_tick == c.state.bounties[live[3]].deadline_tick and not c.state.undrawn_bounties
    assert state_hash(replayed(c)) == state_hash(c.state)


def test_two_proposals_ending_out_of_id_order_and_at_one_tick(monkeypatch):
    """A later proposal with a shorter vote ends first; two ending at one tick are tallied in id order (their deposits'
    earnings in that order): the same states as the old reads."""

    def propose(c, period: int) -> int:
        set_period(c, period)
        pid = c.state.next_id
        c.as_("p", "gov.propose", propose_body(c))
        return pid

    def run() -> tuple[list[int], list[str], bytes]:
        c = network()
        a, b = propose(c, 12), propose(c, 4)
        c.oracle("tick", {"ticks": 8})
        d = propose(c, 4)
        assert c.state.proposals[a].end_tick == c.state.proposals[d].end_tick > c.state.proposals[b].end_tick
        hashes = []
        for _ in range(6):
            c.oracle("tick", {"ticks": 1})
            hashes.append(state_hash(c.state))
        assert state_hash(replayed(c)) == state_hash(c.state)
        return [c.state.proposals[i].tallied_tick for i in (a, b, d)], hashes, encode_state(c.state)

    new = run()
    assert new[0][1] < new[0][0] == new[0][2] and new[0] == [c_end for c_end in new[0]]
    use_reference(monkeypatch)
    assert run() == new
