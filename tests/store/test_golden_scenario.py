"""The seeded scenario still produces the recorded log, state and epoch roots, bit for bit.

This is the proof that a restructuring is pure: ``tests/golden/scenario.json`` was written by
``make golden`` and only a commit that means to change behaviour (and says why) regenerates it.
On a mismatch, ``sections_sha256`` names the parts of the state that changed.
"""

from __future__ import annotations

import json

import pytest

from support.golden import GOLDEN, run


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run(tmp_path_factory.mktemp("golden"))


def test_the_golden_file_is_a_real_record():
    golden = json.loads(GOLDEN.read_text())
    assert golden["events"] > 60 and sorted(golden["epoch_roots"]) == ["0", "1"]
    assert all(r and r.startswith("0x") and len(r) == 66 for r in golden["epoch_roots"].values())
    assert {"balances", "tasks", "epochs", "slashes", "nodes"} <= set(golden["sections_sha256"])


def test_log_and_epoch_roots_match_the_golden_file(result):
    golden = json.loads(GOLDEN.read_text())
    live = result["live"]
    assert (live["events"], live["head_hash"]) == (golden["events"], golden["head_hash"])
    assert live["epoch_roots"] == golden["epoch_roots"]


def test_state_fingerprint_matches_the_golden_file(result):
    golden = json.loads(GOLDEN.read_text())
    live = result["live"]
    changed = sorted(
        k
        for k in golden["sections_sha256"].keys() | live["sections_sha256"].keys()
        if golden["sections_sha256"].get(k) != live["sections_sha256"].get(k)
    )
    assert changed == [], (
        f"state sections differ from tests/golden/scenario.json: {changed} (regenerate with `make golden` only for a deliberate change)"
    )
    assert live["state_fingerprint_sha256"] == golden["state_fingerprint_sha256"]


def test_replaying_the_log_gives_the_same_digest(result):
    assert result["replayed"] == result["live"]


def test_a_log_on_the_first_rules_still_replays_to_its_recorded_state():
    """``tests/golden/scenario_v1_log.json``: the scenario recorded on a genesis without a beacon (draws
    seeded by the log head, idle miners first). Newer rules must not change how it replays."""
    from cor_incentives.core.apply import replay
    from cor_incentives.core.events import Event
    from support.golden import V1_LOG, behaviour

    record = json.loads(V1_LOG.read_text())
    events = [Event(e["seq"], e["tick"], e["payload"].encode("ascii"), e["signature"], e["prev_hash"], e["hash"]) for e in record["events"]]
    state = replay(events, check_each=True)
    assert state.beacon is None and state.selection is None
    assert behaviour(state) == record["behaviour"]
    assert all(t.seed.startswith("0x") and len(t.seed) == 66 for t in state.tasks.values())  # the log head at submission
