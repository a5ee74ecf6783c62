"""Review of the draw queue read in place (``core.beacon.run_draws``, session 24): a tick refused after its draws ran (the
queue emptied by the loop, then the event refused) puts the queue and the state back exactly, for the live state and
for one decoded from a snapshot; the accepted tick then gives the state, encoded byte for byte, of the old loop that
popped the queue's head (``support.draws_reference``), and a replay without the journal reaches the same hash.
tests/core/test_run_draws.py refuses inside a handler only (before the queue is emptied)."""

import pytest

from cor_incentives.core import apply as apply_module
from cor_incentives.core.apply import process_tick, replay
from cor_incentives.core.errors import Conflict
from cor_incentives.core.state_codec import encode_state, state_hash
from support.chain import refusing
from support.draws_reference import run_draws_reference
from support.market import market, submit
from support.replays import through_snapshot


@pytest.mark.parametrize("decoded", [False, True])
def test_a_tick_refused_after_its_draws_puts_the_queue_back(monkeypatch, decoded):
    results = []
    for run in (apply_module.run_draws, run_draws_reference):
        monkeypatch.setattr(apply_module, "run_draws", run)
        c = market(n_miners=6, beacon=True)
        tids = [submit(c, prompt=f"p{i}") for i in range(9)]
        for tid in tids[::4]:
            c.as_("user", "task.cancel", {"task": tid})
        if decoded:
            c.state = through_snapshot(c.state)
        queue = list(c.state.beacon.pending)
        assert len(queue) == 9
        before = (state_hash(c.state), encode_state(c.state))
        real = apply_module.HANDLERS["tick"]
        monkeypatch.setitem(apply_module.HANDLERS, "tick", (refusing(process_tick, "refused after the draws"), real[1]))
        with pytest.raises(Conflict, match="refused after the draws"):
            c.oracle("tick", {"ticks": 1})
        monkeypatch.setitem(apply_module.HANDLERS, "tick", real)
        assert list(c.state.beacon.pending) == queue
        assert (state_hash(c.state), encode_state(c.state)) == before
        c.oracle("tick", {"ticks": 1})
        assert list(c.state.beacon.pending) == []
        assert all(c.state.tasks[t].miners for t in tids if t not in tids[::4])
        results.append((state_hash(c.state), encode_state(c.state)))
        if not decoded:
            assert state_hash(replay(c.events)) == results[-1][0]
    assert results[0] == results[1]
