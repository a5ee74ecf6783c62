"""The beacon's draw queue read in place (``core.beacon.run_draws``, session 24, issue 16): the same handlers, in the same
order, with the same seeds as the queue's head popped draw by draw (``support.draws_reference``), an empty queue after,
and a refused tick leaves the queue as it was. Popping cost O(draws²) a tick (a copy of the queue per draw when
journaled): bench/per_event.py --draws."""

import random

import pytest

from cor_incentives.core import apply as apply_module
from cor_incentives.core import beacon
from cor_incentives.core.errors import Conflict
from cor_incentives.core.journal import journal
from cor_incentives.core.state_codec import encode_state, state_hash
from support.draws_reference import run_draws_reference
from support.market import market, submit

CALLS: list[tuple[str, int, bytes]] = []
CHILDREN: dict[int, list[tuple[str, int]]] = {}  # ident -> the draws its handler requests
REFUSE: set[int] = set()  # idents whose handler raises (a refused event)


def _handler(purpose: str):
    def run(state, ident, seed):
        CALLS.append((purpose, ident, seed))
        for child in CHILDREN.get(ident, ()):
            beacon.request_draw(state, *child)
        if ident in REFUSE:
            raise Conflict("refused", code="test_refused")

    return run


for _purpose in ("test:queue:a", "test:queue:b"):
    beacon.draw_handler(_purpose)(_handler(_purpose))


def _queued_state(rng: random.Random):
    """A network with a beacon and a random queue of test draws, some of whose handlers request more draws."""
    c = market(beacon=True)
    CHILDREN.clear()
    queue = [(rng.choice(("test:queue:a", "test:queue:b")), rng.randrange(1, 50)) for _ in range(rng.randrange(0, 40))]
    ident = 1000
    for _, parent in queue:
        if rng.random() < 0.3:
            kids = []
            for _ in range(rng.randrange(1, 4)):
                ident += 1
                kids.append((rng.choice(("test:queue:a", "test:queue:b")), ident))
                if rng.random() < 0.3:  # a grandchild: requested while the children run
                    CHILDREN[ident] = [("test:queue:a", ident + 10_000)]
            CHILDREN.setdefault(parent, kids)
    c.state.beacon.pending.extend(queue)
    c.state.beacon.value = "0x" + rng.randbytes(32).hex()
    return c


@pytest.mark.parametrize("seed", range(40))
def test_same_calls_and_state_as_popping_the_head(seed):
    runs = []
    for run in (beacon.run_draws, run_draws_reference):
        c = _queued_state(random.Random(seed))
        CALLS.clear()
        with journal():  # as a live event applies it
            run(c.state)
        runs.append((list(CALLS), list(c.state.beacon.pending), state_hash(c.state)))
    assert runs[0] == runs[1]
    assert runs[0][1] == []
    requested = sum(len(k) for k in CHILDREN.values())
    assert len(runs[0][0]) >= requested  # (the children ran too: more calls than the queue held when the loop began)


@pytest.mark.parametrize("seed", range(10))
def test_a_refused_draw_leaves_the_queue_as_it_was(seed):
    c = _queued_state(random.Random(seed))
    before = list(c.state.beacon.pending)
    if not before:
        c.state.beacon.pending.append(("test:queue:a", 7))
        before = list(c.state.beacon.pending)
    REFUSE.add(before[-1][1])
    try:
        with pytest.raises(Conflict), journal():
            beacon.run_draws(c.state)
    finally:
        REFUSE.clear()
    assert list(c.state.beacon.pending) == before


def test_a_tick_of_real_draws_matches_the_reference(monkeypatch):
    """Tasks submitted (some cancelled before their draw) and reveals in: the tick's miner draws give the same state,
    encoded byte for byte, as with the reference."""
    states = []
    for run in (beacon.run_draws, run_draws_reference):
        monkeypatch.setattr(apply_module, "run_draws", run)
        c = market(n_miners=6, beacon=True)
        tids = [submit(c, prompt=f"p{i}") for i in range(12)]
        for tid in tids[::3]:
            c.as_("user", "task.cancel", {"task": tid})
        assert len(c.state.beacon.pending) == 12
        c.oracle("tick", {"ticks": 1})
        assert c.state.beacon.pending == []
        assert all(c.state.tasks[t].miners for t in tids if t not in tids[::3])
        states.append((state_hash(c.state), encode_state(c.state)))
    assert states[0] == states[1]
