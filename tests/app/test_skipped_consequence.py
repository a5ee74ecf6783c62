"""The issue's rejected tick, on a real SQLite file with real keys: the oracle reported a miner's
missed deadline, and the tick that counts the same miss would slash it again with the same evidence.
The tick is accepted (time and deadlines move on; the second slash is skipped and recorded), later
ticks go on, the database re-opens to the same state and `cor verify` passes.

On rule version 3: the oracle's own task-offence reports exist only under the slashing rules before
RULES_SLASHING (logs recorded then must keep replaying); from that version the core refuses them
(tests/core/test_atomic.py has that version's collision case)."""

from __future__ import annotations

from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import state_fingerprint, verify_database
from cor_incentives.core.rules import RULES_SLASHING
from support.network import make_network


def test_a_slash_already_reported_never_blocks_the_oracle_tick(tmp_path):
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(
        url, tmp_path / "keys", n_miners=3, params={"rule_version": RULES_SLASHING - 1, "missed_deadline_threshold": 1, "epoch_length_ticks": 50}
    )
    oracle = keys["oracle"]
    session = next(iter(eng.state.sessions))
    prompt = b"Name a colour."
    body = {"session": session, "model": "smollm2-135m-instruct", "prompt_hash": eng.store.put_blob(prompt), "prompt_bytes": len(prompt)}
    eng.submit_as(keys["alice"], "task.submit", {**body, "input_tokens": 4, "max_output_tokens": 16})
    tid = max(eng.state.tasks)
    eng.submit_as(oracle, "tick", {"ticks": 1})  # the beacon value draws the task's miners
    lazy = eng.state.tasks[tid].miners[0].miner
    eng.submit_as(oracle, "slash.report", {"node": lazy, "offence": "missed_deadline", "evidence": {"tasks": [tid], "window_epochs": 1}})
    tick = eng.state.tick
    deadline = max(eng.state.deadlines)
    eng.submit_as(oracle, "tick", {"ticks": deadline - tick + 1})  # nobody precommits: every miner missed it
    assert eng.state.tick == deadline + 1 and deadline not in eng.state.deadlines
    assert [(s.what, s.code) for s in eng.state.skipped] == [(f"slash {lazy} for missed_deadline", "evidence_already_used")]
    assert sum(1 for s in eng.state.slashes if s.node == lazy) == 1
    eng.submit_as(oracle, "tick", {"ticks": 2})
    eng.submit_as(oracle, "epoch.close", {})
    assert eng.state.epochs[0].skipped[0].code == "evidence_already_used"
    live = state_fingerprint(eng.state)
    eng.store.dispose()
    again = Engine.open(url)
    assert state_fingerprint(again.state) == live
    again.store.dispose()
    report, _ = verify_database(url)
    assert report.ok and report.replay and report.first_bad_seq is None, report.errors
