"""Rule 15: a counted offence is judged by its task's epoch (core/allowance.py; docs/rewards.md, *Slashing*).

For a task created in epoch e and judged in epoch E the allowance counts epochs max(e − 1, E − 2) … E. Found in a fresh
`make run` (docs/devnet.md, finding 5): an honest miner's miss that its allowance covered was judged one tick after the
epoch close (a copier's dissent escalated the task; the draw waited for the next beacon value), the window moved, and
it was slashed. Here the same on a chain under rules 14 and 15, the window arithmetic white-box, and replays.
"""

import pytest

from cor_incentives.core import allowance
from cor_incentives.core.apply import replay
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_OFFENCE_BY_TASK_EPOCH
from cor_incentives.core.state_codec import encode_state
from support.market import late_miss, market


def test_rule_15_is_the_latest_and_says_what_changed():
    assert LATEST >= RULES_OFFENCE_BY_TASK_EPOCH == 15 and "served_prev2" in RULE_VERSIONS[15]


def test_a_late_judged_miss_keeps_the_allowance_of_its_tasks_epoch():
    c, _, bad = late_miss(RULES_OFFENCE_BY_TASK_EPOCH)
    assert not [s for s in c.state.slashes if s.node == bad]  # forgiven: epoch 0's task counts (window 0 … 2)
    n = c.state.nodes[bad]
    assert (n.served_prev2, n.forgiven) == (1, 1) and allowance.allowance(c.state, n, 1) == 0
    assert encode_state(replay(c.events)) == encode_state(c.state)


def test_the_same_miss_was_slashed_under_rule_14():
    c, t1, bad = late_miss(RULES_OFFENCE_BY_TASK_EPOCH - 1)
    [slash] = [s for s in c.state.slashes if s.node == bad]
    assert slash.offence == "poi_divergence" and slash.evidence == {"task": t1}
    assert c.state.nodes[bad].served_prev2 == 0  # not kept before rule 15
    assert encode_state(replay(c.events)) == encode_state(c.state)


def test_a_late_judged_miss_with_no_earlier_work_is_still_slashed():
    """The look-back needs work served well: at allowance 0 bps nothing is forgiven, whatever the window."""
    c, _, bad = late_miss(RULES_OFFENCE_BY_TASK_EPOCH, allowance_bps=0)
    assert [s.offence for s in c.state.slashes if s.node == bad] == ["poi_divergence"]


# --- the window, white-box ----------------------------------------------------------------------------------------

WINDOWS = [
    # (lag = E − allowance_epoch, task epoch offset E − e, rule 15?) -> the epochs counted (0 = E, 1 = E − 1, 2 = E − 2)
    (0, 0, True, (0, 1)),
    (0, 1, True, (0, 1, 2)),
    (0, 5, True, (0, 1, 2)),  # never more than two epochs back
    (0, 1, False, (0, 1)),
    (1, 1, True, (0, 1, 2)),
    (2, 1, True, (0, 1, 2)),
    (3, 1, True, ()),
]


@pytest.mark.parametrize(("lag", "late", "rule15", "counted"), WINDOWS)
def test_the_window_counts_the_epochs_of_the_rule(lag, late, rule15, counted):
    """Counters (served 10/20/40 and forgiven 1/2/4 in allowance_epoch and the two before) read at E = allowance_epoch +
    lag, at 10 000 bps: allowance = Σ served − Σ forgiven over the epochs counted, shifted by the lag."""
    c = market(n_miners=3, params={"offence_allowance_bps": 10_000, "rule_version": 15 if rule15 else 14})
    n = c.state.nodes[sorted(c.state.nodes)[0]]
    e_now = 5
    c.state.epoch = e_now
    n.allowance_epoch = e_now - lag
    n.served, n.served_prev, n.served_prev2 = 10, 20, 40 if rule15 else 0
    n.forgiven, n.forgiven_prev, n.forgiven_prev2 = 1, 2, 4 if rule15 else 0
    held_s, held_f = (10, 20, 40 if rule15 else 0), (1, 2, 4 if rule15 else 0)
    by_age_s = {lag + i: v for i, v in enumerate(held_s)}  # age of each held counter relative to E
    by_age_f = {lag + i: v for i, v in enumerate(held_f)}
    expected = sum(by_age_s.get(a, 0) for a in counted) - sum(by_age_f.get(a, 0) for a in counted)
    assert allowance.allowance(c.state, n, e_now - late) == max(0, expected)
