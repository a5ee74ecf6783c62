"""Rule 29 (``RULES_ESCALATION_SHARE``): a network task's validations are paid once. Its first ``validators_per_task``
rows (draw order: its first round) count at their agreement, as under 28; the rows after them (its escalation rounds)
share what the first left of ``validators_per_task`` whole validations, each at ``min(agreement, left // L)``
(``epoch_rows.escalation_shared``); the score gate still reads the agreement.

Here: the column against a per-row Python reference (a task in one run, and in two); the kernel's ``work_quality_ppb``
against its reference loop and the gates; twin worlds (one task, with and without one validator's deliberate dissent)
under rules 28 and 29; a user task's fees untouched; random simulated lives under 28 and 29 side by side (the first
epoch's validators stream never grows, per node, and equals 28's without an escalated network task; the logs and
snapshots replay; the auditor's recomputation: tests/audit/test_simulated.py on the escalation_cartel world); and a
rule-28 log replays to the hash main's code gave it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core.epoch_rows import NO_CUT, RowColumns, escalation_shared
from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.records import TaskKind
from cor_incentives.core.rules import RULE_VERSIONS, RULES_ESCALATION_SHARE
from cor_incentives.core.units import PPB
from cor_incentives.core.work_rewards import WorkRewardParams, compute_work_rewards, compute_work_rewards_reference
from support.escalation_lives import dissenter_life, escalation_old_log
from support.market import commit_reveal, draw_now, market, network, submit, validate_all
from support.replays import replays_as_recorded, through_snapshot

OLD = max(v for v in RULE_VERSIONS if v < RULES_ESCALATION_SHARE)
HONEST = (20_000_000, 850_000_000)


# --- the column -------------------------------------------------------------------------------------------------------


def reference_shared(task: list[int], counted: list[bool], network: list[bool], quality: list[int], cap: int) -> list[int]:
    """Per row, in plain Python: a network task's first ``cap`` rows whole; the later ones that count min(q, left // L),
    left = cap validations less the first rows' counted agreement, L = the later rows that count."""
    rows: dict[int, list[int]] = {}
    for i, t in enumerate(task):
        rows.setdefault(t, []).append(i)
    out = list(quality)
    for mine in rows.values():
        if len(mine) <= cap or not network[mine[0]]:
            continue
        left = cap * PPB - sum(quality[i] for i in mine[:cap] if counted[i])
        each = left // max(1, sum(1 for i in mine[cap:] if counted[i]))
        for i in mine[cap:]:
            if counted[i]:  # (a row that does not count has no work: nothing to cut)
                out[i] = min(quality[i], each)
    return out


def shared_of(cols: RowColumns, cap: int) -> tuple[list[int] | None, int]:
    """``escalation_shared``'s cut as each row's counted agreement (None: no row cut), and its task count; its rows are
    ascending and each cut within its row's agreement, 0 on a row that does not count (what ``compute_work_rewards``
    checks)."""
    cut = escalation_shared(cols, cap)
    assert cut.rows.tolist() == sorted(set(cut.rows.tolist())) and cut.rows.size == cut.cut_ppb.size
    assert all(c == 0 for r, c in zip(cut.rows.tolist(), cut.cut_ppb.tolist()) if not (cols.in_consensus[r] and cols.network[r]))
    if not cut.rows.size:
        return None, cut.tasks
    out = cols.quality.tolist()
    for r, c in zip(cut.rows.tolist(), cut.cut_ppb.tolist()):
        assert 0 <= c <= out[r]
        out[r] -= c
    return out, cut.tasks


def columns(task: list[int], on_time: list[bool], network: list[bool], quality: list[int]) -> RowColumns:
    n = len(task)
    flags = np.array(on_time, dtype=bool)
    return RowColumns(
        task=np.array(task, dtype=np.int64),
        node=np.zeros(n, dtype=np.int32),
        names=["v"],
        network=np.array(network, dtype=bool),
        units=np.broadcast_to(np.int64(1), (n,)),
        quality=np.array(quality, dtype=np.int64),
        in_consensus=flags,
        precommitted=flags,
        fee=None,
    )


def test_an_escalations_rows_share_what_the_first_round_left():
    # task 7: 5 rows (not over 5); task 8: 5 first rows (one late, one at 0.9) and 5 later (one late); task 9: a user task
    # of 10 rows (its units are 0 in the stream: nothing to share)
    task = [7] * 5 + [8] * 10 + [9] * 10
    on_time = [True] * 5 + [True, True, True, False, True] + [True, True, False, True, True] + [True] * 10
    network = [True] * 15 + [False] * 10
    quality = [PPB, 900_000_000, 899_166_666, 1, 0] + [PPB, 900_000_000, PPB, PPB, PPB] + [PPB, 10_000_000, PPB, 600_000_000, 0] + [PPB] * 10
    shared, tasks = shared_of(columns(task, on_time, network, quality), 5)
    assert shared is not None and tasks == 1
    counted = [a and b for a, b in zip(on_time, network)]
    assert shared == reference_shared(task, counted, network, quality, 5)
    left = 5 * PPB - (PPB + 900_000_000 + PPB + PPB)  # the late first-round row and the 0.1 the dissent cost: 1.1 validations
    each = left // 4  # 4 later rows on time
    assert shared[5:10] == quality[5:10]  # the first round: whole, as under rule 28
    assert shared[10:15] == [each, 10_000_000, PPB, each, 0]  # at most their agreement and an equal share (the late row: no work)
    assert shared[:5] == quality[:5] and shared[15:] == quality[15:]  # the others whole


def test_an_escalation_after_a_first_round_in_full_agreement_is_paid_nothing():
    task, quality = [1] * 10, [PPB] * 10
    shared, tasks = shared_of(columns(task, [True] * 10, [True] * 10, quality), 5)
    assert tasks == 1 and shared is not None and shared == [PPB] * 5 + [0] * 5


def test_a_task_in_two_runs_is_counted_whole():
    """Never written by the core (a task's rows are appended together), but the counting does not rest on it: the same
    answers when a task's rows are split (its rows keep their order)."""
    task = [1, 1, 1, 2, 2, 1, 1, 1, 2]
    on_time, network = [True] * 9, [True] * 9
    quality = [PPB - 7 * i for i in range(9)]
    quality[1] = 300_000_000
    shared, tasks = shared_of(columns(task, on_time, network, quality), 4)
    assert tasks == 1 and shared is not None
    assert shared == reference_shared(task, [True] * 9, network, quality, 4)
    assert shared[6] < quality[6] and shared[:5] == quality[:5]  # task 1's 5th and 6th rows share; the first 4 whole


def test_no_task_over_the_count_leaves_the_column_alone():
    assert escalation_shared(columns([1, 1, 2, 2], [True] * 4, [True] * 4, [PPB] * 4), 2) is NO_CUT
    assert escalation_shared(columns([1, 1, 1], [True] * 3, [False] * 3, [PPB] * 3), 2) is NO_CUT  # a user task
    assert escalation_shared(columns([], [], [], []), 5) is NO_CUT


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 6), st.booleans(), st.integers(0, PPB)), max_size=60),
    user=st.sets(st.integers(0, 6)),
    cap=st.integers(1, 8),
)
def test_property_the_column_is_the_reference_and_no_task_earns_more_than_its_validations(rows, user, cap):
    task = [r[0] for r in rows]
    on_time, quality = [r[1] for r in rows], [r[2] for r in rows]
    network = [t not in user for t in task]  # a task's rows share its kind
    shared, tasks = shared_of(columns(task, on_time, network, quality), cap)
    counted = [a and b for a, b in zip(on_time, network)]
    expected = reference_shared(task, counted, network, quality, cap)
    got = quality if shared is None else shared
    assert got == expected
    assert all(0 <= g <= q for g, q in zip(got, quality))  # a row never counts more than its agreement
    for t in set(task):  # a task's counted rows together: at most cap whole validations
        assert sum(g for g, tt, c in zip(got, task, counted) if tt == t and c) <= cap * PPB
    assert tasks == sum(1 for t in set(task) if t not in user and task.count(t) > cap)


# --- the kernel: the work counts the shared quality, the gates read the agreement --------------------------------------


def test_the_kernel_counts_work_less_the_cut_and_gates_on_the_agreement():
    node = [0, 0, 1, 1, 1]
    agreement = [600_000_000, 600_000_000, PPB, PPB, 700_000_000]
    cut = ([0, 1, 2, 4], [300_000_000, 300_000_000, PPB // 2, 0])  # row 4 is late: no work, a cut of 0
    kw = dict(
        node_index=node,
        complexity_units=[1] * 5,
        quality_ppb=agreement,
        in_consensus=[True] * 4 + [False],
        precommitted=[True] * 5,
        reputation_ppb=[PPB, PPB // 2],
        stream_amount=10**9,
        params=WorkRewardParams(min_score_bps=5_000),
    )
    fast = compute_work_rewards(**kw, work_cut=cut)
    assert fast == compute_work_rewards_reference(**kw, work_cut=cut)
    assert fast.work == (600_000_000, 1_500_000_000)  # Σ (agreement − cut) over the counted rows
    assert fast.score_bps == (6_000, 6_666) and fast.eligible == (True, True)  # 0.3 would fail the gate: it reads 0.6
    plain = compute_work_rewards(**kw)
    assert plain.work == (1_200_000_000, 2_000_000_000) and plain == compute_work_rewards(**kw, work_cut=([], []))
    units = {**kw, "complexity_units": [2, 3, 1, 1, 1]}  # a cut is of quality: it weighs the row's units
    assert compute_work_rewards(**units, work_cut=cut).work == (2 * 300_000_000 + 3 * 300_000_000, 1_500_000_000)
    assert compute_work_rewards(**units, work_cut=cut) == compute_work_rewards_reference(**units, work_cut=cut)
    # past its quality, no row, twice, out of order, lengths, a cut on a row not counted
    for bad in (([0], [PPB]), ([5], [0]), ([0, 0], [1, 1]), ([1, 0], [0, 0]), ([0], [1, 2]), ([4], [1])):
        with pytest.raises(InvalidInput):
            compute_work_rewards(**kw, work_cut=bad)


# --- twin worlds: one network task, with and without a deliberate dissent ---------------------------------------------


def one_task(rule_version: int, dissent: bool, user: bool = False):
    c = market(n_miners=3, n_validators=10, beacon=True, params={"rule_version": rule_version})
    c.oracle("epoch.close", {})
    e = c.state.epoch
    tid = submit(c) if user else network(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "2" for a in task.miners})
    draw_now(c, tid)
    liar = sorted(task.validators)[0]
    target = sorted(a.miner for a in task.miners)[0]

    def judge(v: str, m: str) -> tuple[int, int]:  # the liar reports one miner's quality 0.11 low: past dissent_bound_ppb
        return (HONEST[0], HONEST[1] - 110_000_000) if dissent and v == liar and m == target else HONEST

    validate_all(c, tid, judge)
    c.oracle("epoch.close", {})
    return c, c.state.epochs[e], c.state.tasks[tid], liar


def lines(record, stream: str = "validator_work:node") -> dict[str, dict]:
    return {i.address: i.detail["inputs"] for i in record.items if i.stream == stream}


def test_without_an_escalation_rule_29_pays_what_rule_28_paid():
    _, old, _, _ = one_task(OLD, False)
    _, new, task, _ = one_task(RULES_ESCALATION_SHARE, False)
    assert task.round == 0 and new.streams["validators"]["shared_tasks"] == 0
    assert new.streams["validators"]["paid"] == old.streams["validators"]["paid"] > 0
    assert lines(new) == lines(old) and new.root == old.root  # the same lines, the same amounts, the same root
    assert "shared_tasks" not in old.streams["validators"]


def test_a_manufactured_escalation_no_longer_doubles_the_paid_validations():
    _, honest, _, _ = one_task(RULES_ESCALATION_SHARE, False)
    _, old, old_task, liar = one_task(OLD, True)
    c, new, task, liar_new = one_task(RULES_ESCALATION_SHARE, True)
    assert task.round == 1 and len(task.validators) == 10 and liar == liar_new and not c.state.slashes  # escalated, nobody slashed
    paid = lambda r: r.streams["validators"]["paid"]  # noqa: E731
    assert paid(old) > 19 * paid(honest) // 10  # rule 28: about twice the validations
    assert paid(new) <= paid(honest)  # rule 29: the task's 5 validations, paid once
    assert new.streams["validators"]["shared_tasks"] == 1
    vpt = c.state.params.validators_per_task
    first, later = task.validators[:vpt], task.validators[vpt:]
    new_lines, honest_lines, old_lines = lines(new), lines(honest), lines(old)
    for v in first:  # the first round: its agreement, whole, as under 28
        assert new_lines[v]["work"] == task.agreement_ppb[v] == old_lines[v]["work"]
        if v != liar:  # an honest first-round validator earns what it earned without the dissent
            assert new_lines[v]["reward"] == honest_lines[v]["reward"]
    left = vpt * PPB - sum(task.agreement_ppb[v] for v in first)
    assert 0 < left < PPB // 5  # what the dissent cost the dissenter: about 0.1 of a validation
    for v in later:  # the escalation: what the first round left, shared
        assert new_lines[v]["work"] == min(task.agreement_ppb[v], left // len(later)) < old_lines[v]["work"] // 10
    # the dissenter loses against honest validating, and gets nothing back: it is no escalation validator
    assert new_lines[liar]["reward"] < honest_lines[liar]["reward"] and new_lines[liar]["reward"] == old_lines[liar]["reward"]


def test_a_user_tasks_fee_split_is_the_same_under_both_rules():
    """Fees are split pro rata by agreement over every reporting validator already (core/fees.py): rule 29 leaves them."""
    _, old, old_task, _ = one_task(OLD, True, user=True)
    _, new, task, _ = one_task(RULES_ESCALATION_SHARE, True, user=True)
    assert task.round == 1 == old_task.round and task.kind == TaskKind.USER
    fees = lambda r: sorted((i.address, i.amount) for i in r.items if i.stream.startswith("task_fee"))  # noqa: E731
    assert fees(new) == fees(old) and fees(new)
    assert new.streams["validators"]["shared_tasks"] == 0  # a user task's rows earn nothing from the stream: nothing to share


# --- random lives under 28 and 29 -------------------------------------------------------------------------------------


def life(rule_version: int, copiers: int, offline: int, tasks: int, seed: int):
    return dissenter_life("escalation_share_life", rule_version, copiers, offline, tasks, seed)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copiers=st.integers(0, 3), offline=st.integers(0, 1), tasks=st.integers(2, 6), seed=st.integers(1, 1000))
def test_property_rule_29_never_pays_a_node_more_in_the_same_life_and_replays(copiers, offline, tasks, seed):

    old, new = life(OLD, copiers, offline, tasks, seed), life(RULES_ESCALATION_SHARE, copiers, offline, tasks, seed)
    first = min(new.state.epochs)
    a, b = old.state.epochs[first].streams["validators"], new.state.epochs[first].streams["validators"]
    assert a["tasks"] == b["tasks"]  # the same life up to the first close
    la, lb = lines(old.state.epochs[first]), lines(new.state.epochs[first])
    assert set(la) == set(lb)
    for v in la:  # a node's work and claim never grow; its gates are the same
        assert lb[v]["work"] <= la[v]["work"] and lb[v]["claim"] <= la[v]["claim"]
        assert (lb[v]["score_bps"], lb[v]["eligible"]) == (la[v]["score_bps"], la[v]["eligible"])
    assert b["paid"] <= a["paid"]
    if b["shared_tasks"] == 0:
        assert la == lb and b["paid"] == a["paid"]
    else:
        assert sum(x["work"] for x in lb.values()) < sum(x["work"] for x in la.values())
    # conservation and determinism: the logs replay event by event, and through a snapshot
    for chain in (old, new):
        through_snapshot(replays_as_recorded(chain.events, chain.state))


# --- replay: a log under rule 28 replays as main's code replayed it ---------------------------------------------------

# the state hash main's code (427e9f5, rule 28 its latest) gave escalation_old_log(28) after replay, recorded once with its src
MAIN_STATE_HASH_28 = "0xb0e19c8274b450cd8c60d97b890c8fe67a99df0ce385dd898bc155a6fcf0a7f8"


def test_a_rule_28_log_replays_to_the_hash_main_gave_it_and_the_same_life_under_29_pays_escalations_once():
    from cor_incentives.core.apply import replay
    from cor_incentives.core.state_codec import state_hash

    old = replay(escalation_old_log(OLD), check_each=True)
    assert old.params.rule_version == OLD and state_hash(old) == MAIN_STATE_HASH_28
    assert all("shared_tasks" not in r.streams["validators"] for r in old.epochs.values())
    new = replay(escalation_old_log(RULES_ESCALATION_SHARE), check_each=True)
    through_snapshot(new)
    shared = [r.streams["validators"]["shared_tasks"] for r in new.epochs.values() if "validators" in r.streams]
    assert sum(shared) > 0  # the life escalates network tasks
    first = min(new.epochs)
    assert new.epochs[first].streams["validators"]["paid"] < old.epochs[first].streams["validators"]["paid"]


# --- golden vectors: worked out by hand (tests/vectors/escalation_share.json) -----------------------------------------


def test_the_hand_worked_vectors():
    import json
    from pathlib import Path

    vectors = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "escalation_share.json").read_text())
    task: list[int] = []
    on_time: list[bool] = []
    network: list[bool] = []
    quality: list[int] = []
    for i, case in enumerate(vectors["cases"]):  # each case alone, then all of them as one epoch (at their own V each)
        rows = case["rows"]
        cols = columns([i] * len(rows), [r[1] for r in rows], [case["network"]] * len(rows), [r[0] for r in rows])
        shared, _ = shared_of(cols, case["validators_per_task"])
        assert (shared or [r[0] for r in rows]) == case["counted"], case["case"]
        assert (shared or [r[0] for r in rows]) == reference_shared(
            [i] * len(rows),
            [r[1] and case["network"] for r in rows],
            [case["network"]] * len(rows),
            [r[0] for r in rows],
            case["validators_per_task"],
        )
    five = [c for c in vectors["cases"] if c["validators_per_task"] == 5]
    for i, case in enumerate(five):
        task += [i] * len(case["rows"])
        on_time += [r[1] for r in case["rows"]]
        network += [case["network"]] * len(case["rows"])
        quality += [r[0] for r in case["rows"]]
    shared, tasks = shared_of(columns(task, on_time, network, quality), 5)
    assert shared == [q for c in five for q in c["counted"]] and tasks == 3
