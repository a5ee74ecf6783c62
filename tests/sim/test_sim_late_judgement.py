"""Attack late_judgement (sim/attacks/judgement.py): dissent on tasks created in an epoch's last ticks so that their
judgement, and an honest miner's PoI miss in each, lands in the next epoch. Stopped by rule 15
(``RULES_OFFENCE_BY_TASK_EPOCH``: docs/rewards.md, "Allowance for honest misses"): the offence is judged by its task's
epoch, window max(e − 1, E − 2) … E. Under rule 14 (knob rules=judging_epoch) the window was the judging epoch's, E − 1 … E,
which for a miner serving fewer than 10 tasks an epoch holds no allowance just after a close: the miss its earlier work
covered was slashed (docs/devnet.md, finding 5).

At the defaults (seeds 1-5, measured when the family was written): rule 15, honest nodes slashed 17 times (170 COR)
against the twin's 22; rule 14, 32 times (320 COR) against 20.
"""

import dataclasses

import pytest

from cor_incentives.core import allowance, slashing
from cor_incentives.core.rules import RULES_COUNTED_IN_TASK_EPOCH
from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import Attack, evaluate, family
from cor_incentives.sim.attacks.base import DECIDED_SHARE

# seeds 1-5 of late_judgement at the defaults, measured for ``default_run``, are the first of the sequential judgement's (tests/sim/conftest.py)
pytestmark = pytest.mark.usefixtures("shared_runs")

SEEDS = (1, 2, 3, 4, 5)
RULE_14 = {"rules": "judging_epoch"}


def _crossed(m):
    """The family did what it is for: its closing tasks were escalated and judged after their epoch, with honest misses."""
    assert m["closing_tasks"] == len(SEEDS) * 5 * 2  # 2 before each of the first 5 closes
    assert m["escalated"] >= m["judged_late"] >= m["closing_tasks"] // 2
    assert m["late_offences"] >= m["closing_tasks"] // 2
    assert m["twin_late_offences"] <= 2  # the honest twin judges its closing tasks before the close (but a rare escalation)


@pytest.fixture(scope="module")
def default_run():
    return evaluate(Attack("late_judgement", "late_judgement"), seeds=SEEDS, workers=2)


def test_late_judgement_is_stopped_by_rule_15(default_run):
    m = default_run["measured"]
    assert default_run["books"]["ok"], default_run["books"]
    _crossed(m)
    assert m["late_slashed"] < m["late_offences"] // 2  # most late-judged misses keep the allowance of their task's epoch
    assert m["attacker_slashed"] == 0  # the dissent stays under validator_deviation_max_ppb: the attack costs no slash


def test_late_judgement_is_not_open_as_cor_simulate_judges_it():
    """Judged as ``cor simulate`` judges it (seeds 1-5, then 1-20 while undecided), not by one five-seed window: honest
    slashes in the attack and in the twin are two counts of about 15 per 5 seeds, and the family's limit ("no more than
    the twin") sits at no effect, so "undecided" is its honest verdict; it must never come out "open". Over seeds 1-40
    the per-seed excess is -0.13 +- 0.19 on main and -0.03 +- 0.18 on rules 17/18 (paired +0.10 +- 0.53, 2 se)."""
    r = evaluate(Attack("late_judgement", "late_judgement"), workers=2, sequential=True)
    u = r["uncertainty"]
    assert r["books"]["ok"] and r["verdict"] in ("stopped", "undecided"), (r["verdict"], u)
    # not open: more than 1 − DECIDED_SHARE of the resamples pass (the share itself is the noise the docstring describes:
    # 0.549 through rule 34, 0.442 from 35, whose escalation charges move the worlds' stakes and so their draws; a
    # share above 0.5 was never the family's verdict)
    assert u["pass_share"] > 1 - DECIDED_SHARE, u


def test_under_rule_14_the_late_judged_misses_were_slashed():
    r = evaluate(Attack("late_judgement_14", "late_judgement", RULE_14), seeds=SEEDS, workers=2)
    m = r["measured"]
    assert r["books"]["ok"], r["books"]
    _crossed(m)
    assert not r["passed"]
    assert m["extra_honest_slashed"] >= 50 * COR  # ≥ 5 more honest slashes of 10 COR
    assert r["gain"] == m["extra_honest_slashed"] / m["twin_honest_slashed"] > 0.25
    assert m["honest_slash_count"] >= m["twin_honest_slash_count"] + 5
    assert m["late_slashed"] >= 3 * m["late_offences"] // 4  # the window just after a close holds no allowance
    assert m["attacker_slashed"] == 0


@pytest.mark.parametrize("rules", ["task_epoch", "judging_epoch"])
def test_the_core_judges_counted_offences_after_their_tasks_epoch(monkeypatch, rules):
    """A spy on the allowance (as the core calls it for a counted offence): the attack's world asks it about offences of
    tasks created in an epoch before the judging one; under rule 15 some of those are forgiven by the earlier epochs' work."""
    calls = []
    real = slashing.forgive

    def spy(state, node_id, task_epoch=None):
        ok = real(state, node_id, task_epoch)
        calls.append((task_epoch, state.epoch, ok))
        return ok

    monkeypatch.setattr(slashing, "forgive", spy)
    f = family("late_judgement")
    measured = f.run_one({"rules": rules}, 1, twin=False)
    assert measured.books_ok, measured.errors
    late = [(e, judged, ok) for e, judged, ok in calls if e is not None and e < judged]
    assert len(late) >= 3 and all(judged == e + 1 for e, judged, _ in late)
    assert measured.values["late_offences"] == len(late)
    if rules == "task_epoch":
        assert any(ok for *_, ok in late)
    calls.clear()
    twin = f.run_one({"rules": rules}, 1, twin=True)
    assert sum(1 for e, judged, _ in calls if e is not None and e < judged) == twin.values["late_offences"] <= 1


def test_closing_tasks_created_early_enough_are_judged_in_their_epoch():
    """The control: the same dissent on tasks created 30 ticks before the close escalates them, but they are judged before
    it; nothing crosses the close and the rule makes no difference."""
    runs = [
        evaluate(Attack("x", "late_judgement", {"ticks_before_close": 30, "rules": rules}), seeds=(1,))["measured"]
        for rules in ("window_only", "judging_epoch")  # rules 15 and 14: from 17 user tasks carry canaries, another world
    ]
    for m in runs:
        assert m["escalated"] > 0 and m["judged_late"] == m["late_offences"] == 0
    assert runs[0] == runs[1]


def test_what_rule_15_left_open_a_late_forgiveness_counted_in_its_judging_epoch(monkeypatch):
    """Rule 15 widens the late-judged offence's window, but counted the forgiveness in the epoch it is judged in
    (``forgiven`` of E = e + 1): it stayed in the window one epoch longer than if judged on time, and a miss of a task of
    e + 2 (window e + 1 … e + 2) found that allowance spent. A spy on the allowance counts, in the attack's world under
    rule 15 (knob rules=window_only), the slashes that had room once the previous epoch's late forgivenesses are moved to
    their task's epoch (first order): 1 in seeds 1-5 (20 late forgivenesses, 17 slashes). Rule 16 counts them there: the
    same seeds slash 16 times. Both in the world these were measured in: rule 16 at most, the oracle planting garbage
    (``env.canary_output``; its fluent off-topic plants, the default since rules 17/18, reshuffle the counts: 22, 16, 0)."""
    late_forgiven: dict[tuple[str, int], int] = {}
    found = {"late_forgiven": 0, "slashed": 0, "spent_by_a_late_forgiveness": 0}
    real = slashing.forgive

    def spy(state, node_id, task_epoch=None):
        epoch = state.epoch
        ok = real(state, node_id, task_epoch)
        late = task_epoch is not None and task_epoch < epoch
        if ok and late:
            late_forgiven[(node_id, epoch)] = late_forgiven.get((node_id, epoch), 0) + 1
            found["late_forgiven"] += 1
        if not ok:
            found["slashed"] += 1
            moved = late_forgiven.get((node_id, epoch - 1), 0)
            served, forgiven = allowance.counters(state, state.nodes[node_id])
            earned = (served[0] + served[1]) * state.params.offence_allowance_bps // 10_000
            found["spent_by_a_late_forgiveness"] += bool(moved and not late and earned - (forgiven[0] + forgiven[1] - moved) > 0)
        return ok

    monkeypatch.setattr(slashing, "forgive", spy)
    f = family("late_judgement")
    scenario = f.scenario
    monkeypatch.setattr(
        f, "scenario", lambda k, twin: dataclasses.replace(s := scenario(k, twin), env=dataclasses.replace(s.env, canary_output="garbage"))
    )
    for seed in SEEDS:
        late_forgiven.clear()
        assert f.run_one({"rules": "window_only"}, seed, twin=False).books_ok
    assert found == {"late_forgiven": 20, "slashed": 17, "spent_by_a_late_forgiveness": 1}
    found.update(dict.fromkeys(found, 0))
    slashes = 0
    for seed in SEEDS:
        late_forgiven.clear()
        measured = f.run_one({}, seed, twin=False, params={"rule_version": RULES_COUNTED_IN_TASK_EPOCH})
        assert measured.books_ok
        slashes += measured.values["honest_slash_count"]
    assert found["slashed"] == slashes == 16  # rule 16: the one slash a late forgiveness caused is gone
