"""Rule 31 (``RULES_ESCALATION_PAY``): an escalation is paid by the reports that made it. On an escalated network task a
dissenter's row (``dissented``: its report, judged by the whole panel, made the task escalate) counts 0; the later
rounds' other rows count at their agreement as far as what the first round left (``left``) and what the dissenters pay
(``funded``: each owes (Σ − left) // D, taken from its other validations of the epoch) reach; the first round is the
task's round-0 rows (``drawn_round``), not ``validators_per_task`` at the close (``epoch_rows.escalation_paid``).

Here: the column against a per-row Python reference (hand cases and hypothesis over random rows), with the bound that
no escalation is paid beyond its first round's leftover and its dissenters' own work; ``validation.dissenters`` against
``aggregate``'s ``disputed``; twin worlds (one network task with and without a dissent) under rules 30 and 31; random
simulated lives under 30 and 31 side by side (replay from genesis and through a snapshot, conservation after every
event); and a rule-30 log replays to the hash main's code gave it."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core.epoch_rows import NO_CUT, RowColumns, escalation_paid
from cor_incentives.core.rules import RULE_VERSIONS, RULES_ESCALATION_PAY
from cor_incentives.core.units import PPB
from cor_incentives.core.validation import aggregate, dissenters
from support.escalation_lives import dissenter_life, escalation_old_log
from support.market import commit_reveal, draw_now, market, network, network_drawn, validate_all
from support.replays import replays_as_recorded, through_snapshot

OLD = max(v for v in RULE_VERSIONS if v < RULES_ESCALATION_PAY)
HONEST = (20_000_000, 850_000_000)

Row = tuple[int, int, int, bool, bool, int, bool]  # task, node, agreement, on time, network, drawn round, dissented


# --- the column -------------------------------------------------------------------------------------------------------


def columns(rows: list[Row]) -> RowColumns:
    n = len(rows)
    flags = np.array([r[3] for r in rows], dtype=bool)
    names = [f"v{i}" for i in range(1 + max((r[1] for r in rows), default=0))]
    return RowColumns(
        task=np.array([r[0] for r in rows], dtype=np.int64),
        node=np.array([r[1] for r in rows], dtype=np.int32),
        names=names,
        network=np.array([r[4] for r in rows], dtype=bool),
        units=np.broadcast_to(np.int64(1), (n,)),
        quality=np.array([r[2] for r in rows], dtype=np.int64),
        in_consensus=flags,
        precommitted=flags,
        fee=None,
        drawn_round=np.array([r[5] for r in rows], dtype=np.int8),
        dissented=np.array([r[6] for r in rows], dtype=bool),
    )


def reference_paid(rows: list[Row]) -> list[int]:
    """Each row's counted agreement, in plain Python, from the rule's text (rules.RULES_ESCALATION_PAY)."""
    out = [a if on else 0 for _, _, a, on, _, _, _ in rows]
    tasks: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        tasks.setdefault(r[0], []).append(i)
    escalated = [t for t, mine in tasks.items() if any(rows[i][4] and rows[i][5] > 0 for i in mine)]
    escalated.sort(key=lambda t: tasks[t][0])  # in row order of their first row
    plans = []
    for t in escalated:
        mine = [i for i in tasks[t] if rows[i][4]]
        first = [i for i in mine if rows[i][5] == 0]
        later = [i for i in mine if rows[i][5] > 0 and not rows[i][6]]
        dis = [i for i in mine if rows[i][6]]
        for i in dis:
            out[i] = 0
        left = len(first) * PPB - sum(rows[i][2] for i in first if rows[i][3] and not rows[i][6])
        total = sum(rows[i][2] for i in later if rows[i][3])
        for i in later:
            if rows[i][3] and left < total:
                out[i] = rows[i][2] * left // total
        plans.append((later, left, total, (max(0, total - left) // len(dis)) if dis else 0, [rows[i][1] for i in dis]))
    capacity = {}
    for *_, nodes in plans:
        for n in nodes:
            capacity[n] = sum(out[i] for i, r in enumerate(rows) if r[1] == n and r[4])  # network rows: a user row has no work
    paid = dict.fromkeys(capacity, 0)
    for later, left, total, owed, nodes in plans:
        funded = 0
        for n in nodes:
            take = min(owed, capacity[n] - paid[n])
            paid[n] += take
            funded += take
        for i in later:
            if rows[i][3] and left < total:
                out[i] = rows[i][2] if left + funded >= total else rows[i][2] * (left + funded) // total
    for n, due in paid.items():
        for i, r in enumerate(rows):
            if r[1] == n and r[4] and due:
                take = min(due, out[i])
                out[i] -= take
                due -= take
    return out


def paid_of(rows: list[Row]) -> tuple[list[int], int]:
    """``escalation_paid``'s cut as each row's counted agreement, and its task count; its rows ascending, each cut within
    its row's agreement and 0 on a row that does not count (what ``compute_work_rewards`` checks)."""
    cols = columns(rows)
    cut = escalation_paid(cols)
    assert cut.rows.tolist() == sorted(set(cut.rows.tolist())) and cut.rows.size == cut.cut_ppb.size
    out = [a if on else 0 for _, _, a, on, _, _, _ in rows]
    for r, c in zip(cut.rows.tolist(), cut.cut_ppb.tolist()):
        assert 0 < c <= out[r] and cols.in_consensus[r]
        out[r] -= c
    return out, cut.tasks


def task_rows(task: int, first: list[tuple[int, int]], later: list[tuple[int, int]], dissent: set[int] = frozenset()) -> list[Row]:
    """A network task's rows: (node, agreement) for its first round, then its escalation round; ``dissent``: the nodes
    whose report made it escalate."""
    return [(task, n, a, True, True, 0, n in dissent) for n, a in first] + [(task, n, a, True, True, 1, n in dissent) for n, a in later]


def test_an_honest_escalation_validator_is_paid_its_agreement_and_the_dissenter_pays_for_it():
    # task 1: 3 first-round rows (node 0 dissented, 0.7), 3 escalation rows; node 0 also has 4 whole validations elsewhere
    rows = task_rows(1, [(0, 700_000_000), (1, PPB), (2, 980_000_000)], [(3, 990_000_000), (4, 950_000_000), (5, PPB)], {0})
    rows += [(2 + t, 0, PPB, True, True, 0, False) for t in range(4)]
    got, tasks = paid_of(rows)
    assert tasks == 1 and got == reference_paid(rows)
    left = 3 * PPB - (PPB + 980_000_000)  # the dissenter's whole validation and the 0.02 node 2 lost
    total = 990_000_000 + 950_000_000 + PPB
    owed = total - left  # one dissenter: it owes all of what the escalation earns beyond the leftover
    assert got[:3] == [0, PPB, 980_000_000]  # its row 0; the first round's others whole
    assert got[3:6] == [990_000_000, 950_000_000, PPB]  # the escalation: each its agreement
    assert owed == 1_920_000_000 and sum(got[6:]) == 4 * PPB - owed
    assert got[6:] == [0, 2 * PPB - owed, PPB, PPB]  # paid from its other rows, in row order


def test_a_dissenter_that_cannot_pay_funds_what_it_can_and_nobody_else_pays():
    rows = task_rows(1, [(0, 700_000_000), (1, PPB), (2, PPB)], [(3, PPB), (4, 800_000_000), (5, PPB)], {0})
    rows += [(2, 0, 300_000_000, True, True, 0, False)]  # all the dissenter earned elsewhere: 0.3
    got, _ = paid_of(rows)
    assert got == reference_paid(rows)
    left, total = PPB, 2_800_000_000
    funded = 300_000_000
    assert got[3:6] == [PPB * (left + funded) // total, 800_000_000 * (left + funded) // total, PPB * (left + funded) // total]
    assert got[6] == 0 and got[:3] == [0, PPB, PPB]  # its other row paid what it could; the honest first round untouched
    assert sum(got) <= 2 * PPB + left + funded  # the escalation: only the leftover and what the dissenter gave


def test_two_dissenters_split_what_the_escalation_needs():
    """Each of D dissenters owes (Σ − left) // D: two of them with plenty to pay with each pay half (the floor unclaimed)."""
    rows = task_rows(1, [(0, 600_000_000), (1, 700_000_000), (2, PPB)], [(3, PPB), (4, PPB), (5, PPB)], {0, 1})
    rows += [(2 + t, n, PPB, True, True, 0, False) for t in range(3) for n in (0, 1)]
    got, _ = paid_of(rows)
    assert got == reference_paid(rows)
    owed = (3 * PPB - 2 * PPB) // 2  # left = 3 − 1 = 2 validations (both dissenters' rows), Σ = 3
    assert got[3:6] == [PPB] * 3 and got[:3] == [0, 0, PPB]
    assert sum(got[6::2]) == 3 * PPB - owed and sum(got[7::2]) == 3 * PPB - owed  # each pays half, from its own rows


def test_without_a_dissenter_the_escalation_shares_the_leftover_by_agreement():
    """A task that escalated with nobody the panel finds wrong (no row ``dissented``): nobody pays, the escalation rows
    share what the first round left, in proportion to their agreement."""
    rows = task_rows(1, [(0, 900_000_000), (1, PPB)], [(2, PPB), (3, 500_000_000)])
    got, tasks = paid_of(rows)
    share = [PPB * 100_000_000 // 1_500_000_000, 500_000_000 * 100_000_000 // 1_500_000_000]  # left 0.1 over Σ 1.5
    assert tasks == 1 and got == reference_paid(rows) == [900_000_000, PPB, *share]


def test_the_first_round_is_the_rows_of_round_0_whatever_their_count():
    """The rule reads no ``validators_per_task``: a task of 2 first-round rows and one of 4 are each read by their own
    round-0 rows (a change of the parameter between a task's creation and the close moves nothing)."""
    small = task_rows(1, [(0, PPB), (1, 600_000_000)], [(2, PPB), (3, PPB)], {1})
    large = task_rows(2, [(4, PPB), (5, PPB), (6, PPB), (7, 400_000_000)], [(8, PPB)] * 4, {7})
    got, tasks = paid_of(small + large)
    assert tasks == 2 and got == reference_paid(small + large)
    assert got[:2] == [PPB, 0] and got[4:7] == [PPB, PPB, PPB] and got[7] == 0
    # left of the small task: 2 − 1 = 1 validation; the large one: 4 − 3 = 1; both dissenters have nothing else to pay with
    assert got[2:4] == [PPB // 2, PPB // 2] and got[8:] == [PPB // 4] * 4


def test_user_tasks_rows_late_rows_and_epochs_without_escalations():
    assert escalation_paid(columns([(1, 0, PPB, True, True, 0, False)] * 3)) is NO_CUT
    assert escalation_paid(columns([(1, 0, PPB, True, False, 1, True)] * 3)) is NO_CUT  # a user task: its fee, not the stream
    assert escalation_paid(columns([])) is NO_CUT
    rows = task_rows(1, [(0, 800_000_000), (1, PPB)], [(2, PPB), (3, PPB)], {0})
    rows[3] = (1, 3, PPB, False, True, 1, False)  # a late escalation row: no work, no cut, nothing owed for it
    rows += [(2, 0, PPB, True, True, 0, False)]
    got, _ = paid_of(rows)
    assert got == reference_paid(rows) == [0, PPB, PPB, 0, PPB]  # left 1 validation, Σ on time 1: nothing owed, nothing cut
    rows += [(3, 0, PPB, True, False, 0, False)]  # a user task's row of the dissenter: no work in the stream, never charged
    rows[2] = (1, 2, PPB, True, True, 1, False)
    rows.insert(3, (1, 6, PPB, True, True, 1, False))
    got, _ = paid_of(rows)
    assert got == reference_paid(rows) and got[-1] == PPB and got[-2] == 0  # owed 1: its network row pays it all


@settings(max_examples=150, deadline=None)
@given(
    tasks=st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(0, 5), st.integers(0, PPB), st.booleans(), st.booleans()), min_size=1, max_size=5),
            st.lists(st.tuples(st.integers(0, 5), st.integers(0, PPB), st.booleans(), st.booleans()), max_size=5),
            st.booleans(),
        ),
        max_size=8,
    )
)
def test_property_the_column_is_the_reference_and_an_escalation_is_paid_only_by_its_leftover_and_its_dissenters(tasks):
    rows: list[Row] = []
    for t, (first, later, net) in enumerate(tasks):
        rows += [(t, n, a, on, net, 0, on and d) for n, a, on, d in first]
        rows += [(t, n, a, on, net, 1, False) for n, a, on, _ in later]
    got, count = paid_of(rows)
    assert got == reference_paid(rows)
    assert all(0 <= g <= (a if on else 0) for g, (_, _, a, on, *_r) in zip(got, rows))
    # the bound: every row's count is at most what it counts with no escalation rule (the agreement; 0 for a dissenter),
    # and the escalations together are paid at most their leftovers: Σ counted ≤ Σ base + Σ left
    base = sum(a for t, _, a, on, net, rnd, dis in rows if on and not (net and dis) and not (net and rnd > 0 and _escalated(rows, t)))
    lefts = 0
    for t in {r[0] for r in rows}:
        mine = [r for r in rows if r[0] == t]
        if _escalated(rows, t):
            lefts += sum(1 for r in mine if r[5] == 0) * PPB - sum(r[2] for r in mine if r[5] == 0 and r[3] and not r[6])
        elif any(r[6] and r[4] for r in mine):  # a dissent flag on a task that did not escalate: no rule-31 cut on it
            base += sum(r[2] for r in mine if r[6] and r[3] and r[4])
    assert sum(got) <= base + lefts
    assert count == sum(1 for t in {r[0] for r in rows} if _escalated(rows, t))


def _escalated(rows: list[Row], task: int) -> bool:
    return any(r[0] == task and r[4] and r[5] > 0 for r in rows)


# --- the dissenters: validator by validator, what aggregate's ``disputed`` says ----------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    reports=st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.tuples(st.integers(0, PPB), st.integers(0, PPB), st.integers(0, PPB), st.integers(0, PPB)),
        min_size=1,
    ),
    stakes=st.lists(st.integers(0, 5), min_size=5, max_size=5),
    bound=st.sampled_from([0, 50_000_000, 100_000_000, 2 * PPB]),
)
def test_property_the_dissenters_are_exactly_what_makes_a_task_disputed(reports, stakes, bound):
    rep = {v: {"m1": (x[0], x[1]), "m2": (x[2], x[3])} for v, x in reports.items()}
    weights = dict(zip("abcde", stakes))
    found = dissenters(rep, weights, ["m1", "m2"], bound)
    assert bool(found) == aggregate(rep, weights, ["m1", "m2"], PPB, 0, bound).disputed
    assert found == [v for v in rep if v in found]  # in the reports' order


# --- twin worlds: one network task, with and without a deliberate dissent ---------------------------------------------


def one_task(rule_version: int, dissent: bool, late_liar: bool = False):
    c = market(n_miners=3, n_validators=10, beacon=True, params={"rule_version": rule_version})
    c.oracle("epoch.close", {})
    e = c.state.epoch
    for _ in range(12):  # the validators' other validations of the epoch (what a dissenter pays with), each in full
        t = network(c)
        draw_now(c, t)
        commit_reveal(c, t, {a.miner: "2" for a in c.state.tasks[t].miners})
        draw_now(c, t)
        validate_all(c, t, lambda v, m: HONEST)
    tid, task, liar, target = network_drawn(c)

    def judge(v: str, m: str) -> tuple[int, int]:  # the liar reports one miner's quality 0.11 low: past dissent_bound_ppb
        late = late_liar and task.validator_round.get(v, 0) == 1 and v == sorted(task.drawn_in(1))[0]
        return (HONEST[0], HONEST[1] - 110_000_000) if (dissent and v == liar or late) and m == target else HONEST

    validate_all(c, tid, judge)
    c.oracle("epoch.close", {})
    return c, c.state.epochs[e], c.state.tasks[tid], liar


def lines(record) -> dict[str, dict]:
    """Each validator's inputs in the validators stream (a node line, or its line of no reward)."""
    return {i.address: i.detail["inputs"] for i in record.items if i.stream.startswith("validator_work:") and "inputs" in i.detail}


def test_twin_worlds_the_escalation_validators_are_paid_and_the_dissenter_pays():
    _, honest, _, _ = one_task(RULES_ESCALATION_PAY, False)
    _, old, _, liar_old = one_task(OLD, True)
    c, new, task, liar = one_task(RULES_ESCALATION_PAY, True)
    assert liar == liar_old and not c.state.slashes
    h, o, n = lines(honest), lines(old), lines(new)
    assert new.streams["validators"]["escalated_tasks"] == 1 and "escalated_tasks" not in old.streams["validators"]
    assert task.round == 1 and task.dissenters == [liar]
    later = [v for v in task.validators if task.validator_round[v] == 1]
    assert len(later) == 5
    for v in later:  # an escalation validator is paid for its validation: its agreement, ~a whole one (rule 30: a sliver)
        assert n[v]["work"] - h.get(v, {"work": 0})["work"] == task.agreement_ppb[v] > 9 * PPB // 10
        assert o[v]["work"] - h.get(v, {"work": 0})["work"] < PPB // 10
    for v in task.validators:
        if task.validator_round[v] == 0 and v != liar:  # the first round's honest validators: as without the dissent
            assert n[v]["work"] == h[v]["work"]
    owed = sum(task.agreement_ppb[v] for v in later) - (5 * PPB - sum(task.agreement_ppb[v] for v in task.validators[:5] if v != liar))
    assert owed == 4 * PPB  # the escalation earned 5 whole validations; the first round left the dissenter's one
    assert h[liar]["work"] > 5 * PPB  # enough other validations to pay with
    assert n[liar]["work"] == h[liar]["work"] - PPB - owed  # its row of the task counts 0 (honest: a whole one), and it pays
    assert n[liar]["reward"] < o[liar]["reward"] < h[liar]["reward"]


def test_a_report_out_in_the_last_round_made_no_escalation_and_pays_for_none():
    """A validator of the escalation round whose report is as far out as the first liar's: the panel finds it out too, but
    it was drawn after the dispute (nothing escalated because of it), so it is no dissenter: its own row counts its lowered
    agreement, and it pays nothing."""
    c, new, task, liar = one_task(RULES_ESCALATION_PAY, True, late_liar=True)
    late = sorted(task.drawn_in(1))[0]
    assert task.dissenters == [liar] and task.agreement_ppb[late] < PPB
    n = lines(new)
    _, honest, _, _ = one_task(RULES_ESCALATION_PAY, False)
    assert n[late]["work"] == lines(honest).get(late, {"work": 0})["work"] + task.agreement_ppb[late]


def test_a_task_without_a_dissent_is_paid_as_under_rule_30():
    _, old, _, _ = one_task(OLD, False)
    _, new, task, _ = one_task(RULES_ESCALATION_PAY, False)
    assert new.streams["validators"]["escalated_tasks"] == 0
    assert lines(new) == lines(old) and new.streams["validators"]["paid"] == old.streams["validators"]["paid"] > 0


# --- random lives under 30 and 31 -------------------------------------------------------------------------------------


def life(rule_version: int, copiers: int, offline: int, tasks: int, seed: int):
    return dissenter_life("escalation_pay_life", rule_version, copiers, offline, tasks, seed)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copiers=st.integers(0, 3), offline=st.integers(0, 1), tasks=st.integers(2, 6), seed=st.integers(1, 1000))
def test_property_rules_30_and_31_side_by_side_replay_and_the_dissenter_never_gains(copiers, offline, tasks, seed):

    old, new = life(OLD, copiers, offline, tasks, seed), life(RULES_ESCALATION_PAY, copiers, offline, tasks, seed)
    first = min(new.state.epochs)
    a, b = old.state.epochs[first].streams["validators"], new.state.epochs[first].streams["validators"]
    assert a["tasks"] == b["tasks"]  # the same life up to the first close
    la, lb = lines(old.state.epochs[first]), lines(new.state.epochs[first])
    assert set(la) == set(lb)
    for v in la:  # the gates read the agreement under both
        assert (lb[v]["score_bps"], lb[v]["eligible"]) == (la[v]["score_bps"], la[v]["eligible"])
    if "dissenter-00" in lb and b["escalated_tasks"]:
        assert lb["dissenter-00"]["work"] <= la["dissenter-00"]["work"]  # it pays for what it provoked
    if b["escalated_tasks"] == 0:
        assert la == lb
    # conservation after every event and determinism: each log replays event by event, and through a snapshot
    for chain in (old, new):
        through_snapshot(replays_as_recorded(chain.events, chain.state))


# --- replay: a log under rule 30 replays as main's code replayed it ---------------------------------------------------

# the state hash main's code (8436383, rule 30 its latest) gave escalation_old_log(30) after replay, recorded once with its src
MAIN_STATE_HASH_30 = "0xbc7044ee80c60d47122b225a566f21ea413be84d7c7f45ed491dd50fbfd1a53e"


def test_a_rule_30_log_replays_to_the_hash_main_gave_it_and_the_same_life_under_31_pays_its_escalations():
    from cor_incentives.core.apply import replay
    from cor_incentives.core.state_codec import state_hash

    old = replay(escalation_old_log(OLD), check_each=True)
    assert old.params.rule_version == OLD and state_hash(old) == MAIN_STATE_HASH_30
    new = replay(escalation_old_log(RULES_ESCALATION_PAY), check_each=True)
    through_snapshot(new)
    escalated = [r.streams["validators"].get("escalated_tasks", 0) for r in new.epochs.values() if "validators" in r.streams]
    assert sum(escalated) > 0  # the life escalates network tasks
