"""Rule 16: a late-judged task's service and forgiveness count in its task's epoch (core/allowance.py; docs/rewards.md,
*Allowance for honest misses*).

Rule 15 judges a late task's offence with the window of its task's epoch, but counted the forgiveness in the judging
epoch E = e + 1: it stayed in the window one epoch longer than an on-time one, and spent the allowance of a miss of a
task of e + 2 (the ``late_judgement`` simulation's spy: 1 slash in seeds 1-5, 3 in seeds 1-20). Here the exact
sequence on a chain under rules 15 and 16, the counters white-box, and replays.
"""

import pytest

from cor_incentives.core import allowance
from cor_incentives.core.apply import replay
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_COUNTED_IN_TASK_EPOCH, RULES_OFFENCE_BY_TASK_EPOCH
from cor_incentives.core.state_codec import encode_state
from support.market import OUT_OF_CONSENSUS_PPB, commit_reveal, late_miss, market, submit, validate_all


def _epoch_task(c, bad=None):
    """A task of the current epoch, judged in it; ``bad`` out of consensus. Returns its id."""
    t = submit(c)
    miners = [a.miner for a in c.state.tasks[t].miners]
    commit_reveal(c, t, {m: "Paris" for m in miners})
    validate_all(c, t, lambda v, m: (OUT_OF_CONSENSUS_PPB if m == bad else 0, 900_000_000))
    assert c.state.tasks[t].state == "SETTLED" and c.state.tasks[t].created_epoch == c.state.epoch
    return t


def _late_then_later_miss(rule_version: int):
    """``late_miss`` (epoch 0: every miner serves one task well; epoch 1: a task created 3 ticks before the close, judged
    in epoch 2 with one miner out of consensus, forgiven by epoch 0's work), then epoch 2: every miner serves one task
    well; epoch 3: the same miner misses again. At 10 000 bps every task served well earns one forgiveness."""
    c, t1, bad = late_miss(rule_version)
    good = c.state.tasks[t1].miners[1].miner
    assert not [s for s in c.state.slashes if s.node == bad]  # rule 15's window (0 … 2) forgives it under both
    after_late = {n: allowance.counters(c.state, c.state.nodes[n]) for n in (bad, good)}
    _epoch_task(c)
    c.oracle("epoch.close", {})
    t3 = _epoch_task(c, bad=bad)
    return c, bad, good, after_late, t3


def test_rule_16_is_the_latest_and_says_what_changed():
    assert LATEST >= RULES_COUNTED_IN_TASK_EPOCH == RULES_OFFENCE_BY_TASK_EPOCH + 1
    assert "task's epoch" in RULE_VERSIONS[RULES_COUNTED_IN_TASK_EPOCH] and "7-15" in RULE_VERSIONS[RULES_COUNTED_IN_TASK_EPOCH]


def test_a_late_forgiveness_counts_in_its_tasks_epoch_and_leaves_the_window_with_it():
    c, bad, good, after_late, _ = _late_then_later_miss(RULES_COUNTED_IN_TASK_EPOCH)
    # in epoch 2, counters (this epoch, the one before, two before): the late task's forgiveness and service are epoch 1's
    assert after_late[bad] == ((0, 0, 1), (0, 1, 0))
    assert after_late[good] == ((0, 1, 1), (0, 0, 0))
    # epoch 3's miss: window 2 … 3 holds epoch 2's task and no forgiveness, so it is forgiven
    assert not [s for s in c.state.slashes if s.node == bad]
    assert allowance.counters(c.state, c.state.nodes[bad]) == ((0, 1, 0), (1, 0, 1))
    assert encode_state(replay(c.events)) == encode_state(c.state)


def test_under_rule_15_the_late_forgiveness_spent_the_later_misses_allowance():
    c, bad, good, after_late, t3 = _late_then_later_miss(RULES_COUNTED_IN_TASK_EPOCH - 1)
    assert after_late[bad] == ((0, 0, 1), (1, 0, 0))  # counted in the judging epoch 2
    assert after_late[good] == ((1, 0, 1), (0, 0, 0))
    [slash] = [s for s in c.state.slashes if s.node == bad]
    assert slash.offence == "poi_divergence" and slash.evidence == {"task": t3}
    assert encode_state(replay(c.events)) == encode_state(c.state)


@pytest.mark.parametrize(
    ("rule_version", "task_epoch", "age"),
    [(16, 5, 0), (16, 4, 1), (16, 3, 2), (16, 0, 2), (16, 6, 0), (16, None, 0), (15, 4, 0), (15, 3, 0), (7, 4, 0)],
)
def test_the_counting_epoch_is_the_tasks_capped_at_two_back(rule_version, task_epoch, age):
    """E = 5: from rule 16 a task of epoch e is counted e's counter, at most two back (the oldest kept); before, in E."""
    c = market(n_miners=3, params={"offence_allowance_bps": 10_000, "rule_version": rule_version})
    c.state.epoch = 5
    assert allowance.counting_epoch_age(c.state, task_epoch) == age
    node_id = sorted(c.state.nodes)[0]
    n = c.state.nodes[node_id]
    n.allowance_epoch = 5
    n.served, n.served_prev, n.served_prev2 = 3, 3, 3
    allowance.count_served(c.state, node_id, task_epoch)
    assert (n.served, n.served_prev, n.served_prev2) == tuple(3 + (i == age) for i in range(3))
    assert allowance.forgive(c.state, node_id, task_epoch)
    assert (n.forgiven, n.forgiven_prev, n.forgiven_prev2) == tuple(int(i == age) for i in range(3))
