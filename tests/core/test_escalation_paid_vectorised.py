"""Rule 31's ``escalation_paid`` read column by column (running sums per dissenter, only a dissenter's first rows read)
against the loop it replaced (tests/support/escalation_paid_reference.py, the rule-31 code as it landed): the same rows,
the same cuts and the same task count, bit for bit, on random columns with several rounds, several dissenters per task,
a node dissenting on many tasks, capacities exhausted, rows out of consensus, user-task rows, tasks in runs and tasks
interleaved, and the row scan cut into chunks of a few rows (``SCAN_CHUNK``) so its carrying from chunk to chunk is
read."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import epoch_rows
from cor_incentives.core.epoch_rows import NO_CUT, EscalationCut, RowColumns, escalation_paid, task_runs
from cor_incentives.core.units import PPB
from support.escalation_paid_reference import escalation_paid_reference

Row = tuple[int, int, int, bool, bool, int, bool]  # task, node, agreement, in consensus, network, drawn round, dissented


def columns(rows: list[Row], nodes: int) -> RowColumns:
    n = len(rows)
    return RowColumns(
        task=np.array([r[0] for r in rows], dtype=np.int64),
        node=np.array([r[1] for r in rows], dtype=np.int32),
        names=[f"v{i}" for i in range(nodes)],
        network=np.array([r[4] for r in rows], dtype=bool),
        units=np.broadcast_to(np.int64(1), (n,)),
        quality=np.array([r[2] for r in rows], dtype=np.int64),
        in_consensus=np.array([r[3] for r in rows], dtype=bool),
        precommitted=np.ones(n, dtype=bool),
        fee=None,
        drawn_round=np.array([r[5] for r in rows], dtype=np.int8),
        dissented=np.array([r[6] for r in rows], dtype=bool),
    )


def assert_same(got: EscalationCut, want: EscalationCut) -> None:
    assert got.rows.dtype == np.int64 and got.cut_ppb.dtype == np.int64
    assert got.rows.tolist() == want.rows.tolist()
    assert got.cut_ppb.tolist() == want.cut_ppb.tolist()
    assert got.tasks == want.tasks


def both_ways(cols: RowColumns, chunk: int) -> EscalationCut:
    """The column read with and without the caller's runs, the row scan in chunks of ``chunk`` rows; both the same."""
    want = escalation_paid_reference(cols)
    with mock.patch.object(epoch_rows, "SCAN_CHUNK", chunk):
        plain = escalation_paid(cols)
        runs = task_runs(cols.task)
        given_runs = escalation_paid(cols, runs) if runs is not None else plain
    assert_same(plain, want)
    assert_same(given_runs, want)
    return plain


AGREEMENT = st.one_of(st.just(PPB), st.just(0), st.integers(0, PPB), st.integers(PPB - 50_000_000, PPB))
ROW = st.tuples(st.integers(0, 5), AGREEMENT, st.integers(0, 9), st.integers(0, 3), st.integers(0, 4))
# (node, agreement, on-time draw (0: late), drawn round, dissent draw (0: dissented))


@settings(max_examples=400, deadline=None)
@given(
    tasks=st.lists(st.tuples(st.lists(ROW, min_size=1, max_size=14), st.integers(0, 7)), max_size=12),
    interleave=st.booleans(),
    permutation=st.randoms(use_true_random=False),
    chunk=st.sampled_from([1, 2, 3, 5, 64, 2**16]),
)
def test_property_the_column_is_the_loop_it_replaced(tasks, interleave, permutation, chunk):
    rows: list[Row] = []
    for t, (mine, kind) in enumerate(tasks):
        network = kind != 0  # 1 task in 8 a user task: its rows never read, never charged
        rows += [(t, n, a, on != 0, network, rnd if kind != 1 else 0, dis == 0) for n, a, on, rnd, dis in mine]
    if interleave:  # a task's rows in several runs (never written by the core): the rows grouped by a stable sort
        permutation.shuffle(rows)
    both_ways(columns(rows, 6), chunk)


def test_many_dissenters_many_tasks_and_capacities_exhausted_in_chunks():
    """A few thousand tasks over 40 validators, a quarter escalated in up to 3 rounds, one to three dissenters each (half
    of them one of 4 validators that dissent often and validate little else, so they run out): the same cuts as the
    loop, the scan in chunks of 7 rows and of all of them, and a dissenter charged down to its last row."""
    rng = np.random.default_rng(31)
    rows: list[Row] = []
    for t in range(3_000):
        network = rng.random() < 0.9
        first = int(rng.integers(3, 7))
        rounds = int(rng.integers(1, 4)) if rng.random() < 0.25 else 0
        nodes = rng.choice(np.arange(4, 40), size=first * (1 + rounds), replace=rounds > 1)
        if t % 50 == 0:  # the 4's few honest validations
            nodes[0] = t // 50 % 4
        dissent = set(rng.choice(first, size=int(rng.integers(1, 4)), replace=False).tolist()) if rounds else set()
        for i in dissent:
            if rng.random() < 0.5:
                nodes[i] = rng.integers(0, 4)
        for i, n in enumerate(nodes.tolist()):
            agreement = int(rng.integers(0, PPB + 1)) if rng.random() < 0.5 else PPB
            rows.append((t, n, agreement, bool(rng.random() < 0.9), network, i // first, i in dissent))
    cols = columns(rows, 40)
    for chunk in (7, 2**16):
        cut = both_ways(cols, chunk)
        assert cut.tasks > 600 and cut.rows.size > 2_000
    # a dissenter paid everything it had: every one of its network rows in consensus counts 0 after the cut
    counted = np.where(cols.in_consensus & cols.network, cols.quality, 0)
    counted[cut.rows] -= cut.cut_ppb
    worth = np.where(cols.in_consensus & cols.network & ~cols.dissented, cols.quality, 0)
    exhausted = [n for n in range(40) if worth[cols.node == n].any() and not counted[(cols.node == n) & cols.network].any()]
    assert exhausted  # (the capacity-exhausted branch is read, not only the plenty one)


def test_a_product_past_int64_is_exact():
    """A first round of 12 rows out of consensus leaves 12 validations; 14 escalation rows of 10**9 share it: each row's
    agreement × leftover (1.2 × 10**19) passes int64 and is computed in Python integers."""
    rows: list[Row] = [(1, i, PPB, False, True, 0, False) for i in range(12)]
    rows += [(1, 12 + i, PPB, True, True, 1, False) for i in range(14)]
    cut = both_ways(columns(rows, 26), 2**16)
    assert cut.tasks == 1 and cut.cut_ppb.tolist() == [PPB - PPB * 12 * PPB // (14 * PPB)] * 14


def test_epochs_without_escalations():
    assert escalation_paid(columns([], 1)) is NO_CUT
    assert escalation_paid(columns([(1, 0, PPB, True, True, 0, True)] * 3, 1)) is NO_CUT
    assert escalation_paid(columns([(1, 0, PPB, True, False, 2, True)] * 3, 1)) is NO_CUT  # a user task's later rows


@settings(max_examples=200, deadline=None)
@given(
    tasks=st.lists(st.lists(st.tuples(ROW, st.booleans()), min_size=1, max_size=10), max_size=10),
    chunk=st.sampled_from([1, 3, 2**16]),
)
def test_property_a_task_of_both_kinds(tasks, chunk):
    """A task whose rows are not all of one kind (never written by the core: a task's rows share its kind): only its
    network rows are read, in runs (the runs' rows filtered) as out of them, as the loop did."""
    rows: list[Row] = [(t, n, a, on != 0, network, rnd, dis == 0) for t, mine in enumerate(tasks) for (n, a, on, rnd, dis), network in mine]
    both_ways(columns(rows, 6), chunk)


def test_a_user_row_inside_an_escalated_run_is_left_out():
    """One run: a user row between the first round and the escalation (its round and dissent ignored); the same cuts as
    the loop, and the user row is not among them."""
    rows: list[Row] = [(1, 0, PPB, True, True, 0, True), (1, 1, PPB, True, True, 0, False), (1, 2, PPB, True, False, 1, True)]
    rows += [(1, 3, PPB // 2, True, True, 1, False), (1, 4, PPB, True, True, 1, False)]
    rows += [(2, 0, PPB, True, True, 0, False)] * 3  # the dissenter's other validations (it pays from them)
    cut = both_ways(columns(rows, 5), 2**16)
    assert cut.tasks == 1 and 2 not in cut.rows.tolist()
    assert cut.rows.tolist() == [0, 5] and cut.cut_ppb.tolist() == [PPB, PPB // 2]


@settings(max_examples=300, deadline=None)
@given(
    tasks=st.lists(st.tuples(st.lists(ROW, min_size=1, max_size=14), st.integers(0, 7)), max_size=12),
    bonds=st.lists(st.one_of(st.just(0), st.integers(0, 3 * PPB)), min_size=6, max_size=6),
)
def test_property_the_debtors_bonds_alone_give_the_same_cut(tasks, bonds):
    """``RULES_ESCALATION_FUNDED``: the close reads the bonds of the nodes that owe only (``bond_units`` a callable given
    their indices, core/rewards.py); the cut and every node's ``from_bond`` are the same as with every node's bond,
    whatever the callable leaves elsewhere."""
    rows: list[Row] = []
    for t, (mine, kind) in enumerate(tasks):
        rows += [(t, n, a, on != 0, kind != 0, rnd if kind != 1 else 0, dis == 0) for n, a, on, rnd, dis in mine]
    cols = columns(rows, 6)
    every = np.array(bonds, dtype=np.int64)
    asked: list[list[int]] = []

    def debtors_only(which: np.ndarray) -> np.ndarray:
        asked.append(which.tolist())
        only = np.full_like(every, 7 * PPB)  # elsewhere: more than any debt
        only[which] = every[which]
        return only

    want, got = escalation_paid(cols, None, every), escalation_paid(cols, None, debtors_only)
    assert_same(got, want)
    assert (want.from_bond is None) == (got.from_bond is None) == (asked == [])
    if want.from_bond is not None:
        assert got.from_bond.tolist() == want.from_bond.tolist()
        assert set(asked[0]) <= set(cols.node[cols.dissented].tolist())  # only dissenters are asked
