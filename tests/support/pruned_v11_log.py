"""Records tests/golden/pruned_v11_log.json: a rule-11 log with pruning on in which two tasks retire, then two epoch
closes whose checkpoints anchor the state hash (tests/core/test_pruned_fold.py replays it).

Recorded once with the code before rule 12 (commit d2dca5a^ = 8fd1333), never regenerated:

    git worktree add --detach /tmp/old d2dca5a^
    cd /tmp/old && PYTHONPATH=$PWD/src:$PWD/tests python <this file> > tests/golden/pruned_v11_log.json

It uses only what both that code and today's have (support.market, the core's state_hash)."""

from __future__ import annotations

import json
import subprocess

from cor_incentives.core.rules import LATEST
from cor_incentives.core.state_codec import state_hash
from support.market import market, submit

RULE = 11


def record() -> dict:
    c = market(params={"rule_version": RULE, "prune_closed_records": 1, "unbonding_period_epochs": 1, "epoch_length_ticks": 20})
    cancelled = submit(c)
    c.as_("user", "task.cancel", {"task": cancelled})
    submit(c, prompt="Who wrote Hamlet?")  # no miner answers: it fails at its deadline
    for _ in range(3):
        c.oracle("epoch.close", {})
    assert not c.state.tasks, "both tasks retired"
    anchors = []
    for _ in range(2):
        h = state_hash(c.state)
        anchors.append({"seq": c.state.seq, "hash": c.state.head_hash, "state": h})
        c.oracle("epoch.close", {"checkpoint": {"seq": c.state.seq, "hash": c.state.head_hash, "state": h}})
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        "rule_version": RULE,
        "recorded_by": {"commit": commit, "latest_rules": LATEST},
        "anchors": anchors,
        "final_state_hash": state_hash(c.state),
        "pruned": {"count": c.state.pruned.count, "hash": c.state.pruned.hash},
        "events": [
            {"seq": e.seq, "tick": e.tick, "payload": e.payload.decode("ascii"), "signature": e.signature, "prev_hash": e.prev_hash, "hash": e.hash}
            for e in c.events
        ],
    }


if __name__ == "__main__":
    print(json.dumps(record(), indent=1, sort_keys=True))
