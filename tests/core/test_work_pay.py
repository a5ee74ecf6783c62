"""Emission pays verified work: network work at the rate, a fee-bounded bonus on user tasks, the stream's budget.

Golden vectors (tests/vectors/work_pay.json, worked out by hand) for ``work_pay.settle_stream``; a
property test of its invariants; and the rules through the core: user tasks alone earn only the
bonus, validations of user tasks earn no emission, network work is paid at the rate, the budget
binds pro rata, the epoch record publishes every input, and a wash trader paying fees to its own
miners on its own model gets back less than it pays.
"""

import json
from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import epoch_rows
from cor_incentives.core.epoch_document import bonus_columns, bonus_rows_of
from cor_incentives.core.errors import InvalidInput, InvariantViolation
from cor_incentives.core.params import Params
from cor_incentives.core.streams import Stream
from cor_incentives.core.units import BPS, COR, PPB
from cor_incentives.core.work_pay import (
    BONUS_TABLE,
    BonusColumns,
    BonusRow,
    BonusTable,
    _group_sums,
    bonus_arrays,
    bonus_columns_int64,
    compute_bonus_cap,
    compute_bonus_equivalent,
    equivalents,
    settle_stream,
    within_equivalents,
)
from support.chain import Chain, addr
from support.market import MODEL, commit_reveal, h, market, network, submit, validate_all
from support.work_pay_reference import reference_settle

ROOT = Path(__file__).resolve().parents[2]
V = json.loads((ROOT / "tests/vectors/work_pay.json").read_text())


def _settle(case):
    return settle_stream(
        weighted=[int(x) for x in case["weighted"]],
        multiplier_ppb=case["multiplier_ppb"],
        eligible=case["eligible"],
        bonus_rows=[BonusRow(r["task"], r["node_index"], r["units"], r["quality_ppb"], int(r["fee_units"])) for r in case["bonus_rows"]],
        rate_units=int(case["rate_units"]),
        bonus_fee_bps=case["bonus_fee_bps"],
        budget=int(case["budget"]),
    )


@pytest.mark.parametrize("case", V["cases"], ids=lambda c: c["name"])
def test_vectors(case):
    pay, ex = _settle(case), case["expect"]
    for k in ("network_claim", "bonus", "claim", "reward"):
        assert [str(x) for x in getattr(pay, k)] == ex[k], k
    assert (str(pay.claims), str(pay.paid), str(pay.back_to_pool), pay.binding) == (ex["claims"], ex["paid"], ex["back_to_pool"], ex["binding"])


@settings(max_examples=200, deadline=None)
@given(
    nodes=st.lists(
        st.tuples(st.integers(0, 10**15), st.integers(0, 5 * PPB), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    rows=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 10**6), st.integers(0, PPB), st.integers(0, 10**22)), max_size=12),
    rate=st.integers(0, 10**20),
    bonus_bps=st.integers(0, BPS),
    budget=st.integers(0, 10**24),
)
def test_invariants(nodes, rows, rate, bonus_bps, budget):
    bonus_rows = [BonusRow(i, n % len(nodes), u, q, f) for i, (n, u, q, f) in enumerate(rows)]
    pay = settle_stream(
        weighted=[w for w, _, _ in nodes],
        multiplier_ppb=[m for _, m, _ in nodes],
        eligible=[e for _, _, e in nodes],
        bonus_rows=bonus_rows,
        rate_units=rate,
        bonus_fee_bps=bonus_bps,
        budget=budget,
    )
    assert pay.paid + pay.back_to_pool == budget and 0 <= pay.paid <= budget
    assert all(0 <= r <= c for r, c in zip(pay.reward, pay.claim))
    if pay.claims <= budget:
        assert pay.reward == pay.claim
    else:  # pro rata: the floors lose less than one unit per node
        assert budget - pay.paid < len(nodes)
    for n, (_, _, eligible) in enumerate(nodes):
        assert eligible or pay.claim[n] == 0
        for b in pay.bonuses[n]:
            assert b.bonus <= b.fee_units * bonus_bps // BPS and b.bonus <= b.equivalent


def _stream_cases(max_fee):
    """A stream's nodes (weighted units, multiplier, eligible), bonus rows (node, units, quality, fee ≤ max_fee),
    rate, bonus bps and budget."""
    return dict(
        nodes=st.lists(st.tuples(st.integers(0, 10**15), st.integers(0, 5 * PPB), st.booleans()), min_size=1, max_size=8),
        rows=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 10**6), st.integers(0, PPB), st.integers(0, max_fee)), max_size=30),
        rate=st.integers(0, 10**20),
        bonus_bps=st.integers(0, BPS),
        budget=st.integers(0, 10**24),
    )


def _settle_as_the_reference(nodes, rows, rate, bonus_bps, budget, as_rows):
    """settle_stream on the bonus rows given as ``as_rows(rows)`` against the row-by-row reference
    (tests/support/work_pay_reference.py): every field the reference has, and the stream account's columns are the
    reference's bonus rows, node after node. Returns the pay and the reference."""
    bonus_rows = [BonusRow(i, n % len(nodes), u, q, f) for i, (n, u, q, f) in enumerate(rows)]
    args = dict(weighted=[w for w, _, _ in nodes], multiplier_ppb=[m for _, m, _ in nodes], eligible=[e for _, _, e in nodes])
    pay = settle_stream(**args, bonus_rows=as_rows(bonus_rows), rate_units=rate, bonus_fee_bps=bonus_bps, budget=budget)
    ref = reference_settle(**args, bonus_rows=bonus_rows, rate_units=rate, bonus_fee_bps=bonus_bps, budget=budget)
    assert {k: getattr(pay, k) for k in ref} == ref
    columns, _ = bonus_columns(pay)
    flat = [b for bs in ref["bonuses"] for b in bs]
    assert columns == {k: [getattr(b, k) for b in flat] for k in ("task", "units", "quality_ppb", "fee_units")}
    return pay, ref


@settings(max_examples=200, deadline=None)
@given(**_stream_cases(10**30), as_columns=st.booleans())
def test_columns_settle_as_the_row_by_row_reference(nodes, rows, rate, bonus_bps, budget, as_columns):
    """The bonus rows settled as columns give what the previous row-by-row code gave (tests/support/work_pay_reference.py):
    every node's claims and rewards, and each node's bonus rows in the same order with the same arithmetic; and the
    stream account's columns are those rows, node after node."""
    pay, ref = _settle_as_the_reference(nodes, rows, rate, bonus_bps, budget, BonusColumns.of_rows if as_columns else list)
    assert [count for _, count in bonus_columns(pay)[1]] == [len(bs) for bs in ref["bonuses"]]


INT64_MAX = 2**63 - 1


def _by_the_formulas(units, quality, multiplier, fee, rate, bps):
    equivalent = [compute_bonus_equivalent(u, q, m, rate) for u, q, m in zip(units, quality, multiplier)]
    cap = [compute_bonus_cap(f, bps) for f in fee]
    return equivalent, cap, [min(e, c) for e, c in zip(equivalent, cap)]


def _int64_columns(*columns):
    return [np.array(c, dtype=np.int64) for c in columns]


def _as_lists(got):
    """``bonus_columns_int64``'s answer as lists of Python integers (its caps and bonuses are int64 arrays)."""
    if got is None:
        return None
    equivalent, cap, bonus = got
    assert cap.dtype == bonus.dtype == np.int64
    return equivalent, cap.tolist(), bonus.tolist()


@st.composite
def _rows_near_the_bounds(draw):
    """Rows whose largest values sit at (or just under) the bounds ``bonus_columns_int64`` accepts: max(q) × max(m) and
    max(u) × (max(q) × max(m) // 1e9) + max(u) up to 2**63 − 1, max(f) × bps up to 2**63 − 1, rate up to 2**63 × 1e9."""
    n = draw(st.integers(1, 12))
    q_max = draw(st.one_of(st.integers(1, PPB), st.integers(1, INT64_MAX)))
    m_max = draw(st.one_of(st.just(INT64_MAX // q_max), st.integers(0, INT64_MAX // q_max)))
    u_max = min(INT64_MAX // PPB, INT64_MAX // (q_max * m_max // PPB + 1))
    u_max = draw(st.one_of(st.just(u_max), st.integers(0, u_max)))
    bps = draw(st.one_of(st.integers(0, BPS), st.integers(0, INT64_MAX)))
    f_max = INT64_MAX // max(bps, 1)
    rate = draw(st.one_of(st.integers(0, 10**20), st.integers(0, 2**63 * PPB - 1), st.integers(0, 2**63 - 1).map(lambda h: h * PPB)))

    def column(top):
        return [top] + draw(st.lists(st.one_of(st.integers(0, top), st.integers(max(0, top - 3), top)), min_size=n - 1, max_size=n - 1))

    return column(u_max), column(q_max), column(m_max), column(f_max), rate, bps


@settings(max_examples=500, deadline=None)
@given(_rows_near_the_bounds())
def test_int64_bonus_columns_are_the_formulas_up_to_the_bounds(rows):
    """Up to its bounds (values at and just under them included) the int64 path gives exactly what the formulas give
    row by row in Python integers, and it is taken (not refused)."""
    units, quality, multiplier, fee, rate, bps = rows
    got = _as_lists(bonus_columns_int64(*_int64_columns(units, quality, multiplier, fee), rate, bps))
    assert got is not None
    assert got == _by_the_formulas(units, quality, multiplier, fee, rate, bps)
    assert all(type(v) is int for column in got for v in column)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(*[st.one_of(st.integers(0, 2**32), st.integers(2**62, INT64_MAX), st.integers(-3, 3)) for _ in range(4)]), min_size=1, max_size=8
    ),
    rate=st.one_of(st.integers(-1, 10**20), st.integers(2**63 * PPB - 3, 2**64 * PPB)),
    bps=st.one_of(st.integers(-1, BPS), st.integers(2**62, 2**64)),
)
def test_int64_bonus_columns_refuse_or_agree(rows, rate, bps):
    """Beyond the bounds (products past 2**63, negative values, a rate of 2**63 × 1e9 or more) the int64 path refuses
    (the caller applies the formulas row by row); whatever it does not refuse is exactly the formulas'."""
    units, quality, multiplier, fee = (list(c) for c in zip(*rows))
    got = _as_lists(bonus_columns_int64(*_int64_columns(units, quality, multiplier, fee), rate, bps))
    assert got is None or got == _by_the_formulas(units, quality, multiplier, fee, rate, bps)


@pytest.mark.parametrize(
    "units, quality, multiplier, fee, rate, bps",
    [
        ([1], [2**31], [2**32], [0], 1, 1),  # max(q) × max(m) = 2**63
        ([PPB + 1], [PPB], [INT64_MAX // PPB], [0], 1, 1),  # max(u) × (max(q) × max(m) // 1e9) + max(u) past 2**63
        ([INT64_MAX // PPB + 1], [0], [0], [0], 1, 1),  # max(u) × 1e9 past 2**63
        ([1], [1], [1], [2**62], 1, 2),  # max(f) × bps = 2**63
        ([1], [1], [1], [1], 2**63 * PPB, 1),  # rate // 1e9 = 2**63
        ([1], [-1], [1], [1], 1, 1),  # a negative value
        ([1], [1], [1], [1], -1, 1),
        ([1], [1], [1], [0], 1, 2**63),  # a share past int64 (every fee 0: max(f) × bps is 0)
    ],
)
def test_int64_bonus_columns_refuse_past_each_bound(units, quality, multiplier, fee, rate, bps):
    """One past a bound, the int64 path refuses (at the bound it is taken: the property test above)."""
    assert bonus_columns_int64(*_int64_columns(units, quality, multiplier, fee), rate, bps) is None


def _int64_bonus_columns(bonus_rows):
    return BonusColumns(*(np.array(c, dtype=np.int64) for c in zip(*bonus_rows))) if bonus_rows else BonusColumns([], [], [], [], [])


def _int32_node_bonus_columns(bonus_rows):
    columns = _int64_bonus_columns(bonus_rows)
    return replace(columns, node_index=np.asarray(columns.node_index, dtype=np.int32))


@settings(max_examples=200, deadline=None)
@given(**_stream_cases(10**14))
def test_int64_columns_settle_as_the_row_by_row_reference(nodes, rows, rate, bonus_bps, budget):
    """The close's columns as int64 arrays (fees that fit: the int64 bonus path is taken) settle exactly as the
    row-by-row reference (tests/support/work_pay_reference.py), bonus rows and account columns included."""
    pay, _ = _settle_as_the_reference(nodes, rows, rate, bonus_bps, budget, _int64_bonus_columns)
    assert all(type(v) is int for column in pay.bonus_table.values() for v in column)


@settings(max_examples=200, deadline=None)
@given(**_stream_cases(10**14), chunk=st.integers(1, 6), columns=st.sampled_from(["int64", "int32 nodes", "rows"]))
def test_bonus_rows_grouped_a_chunk_at_a_time_settle_as_the_reference(nodes, rows, rate, bonus_bps, budget, chunk, columns):
    """``settle_stream`` groups the eligible nodes' bonus rows by ``epoch_rows.grouped_values`` (each node's rows, in row
    order, and its count: the bounds of its rows and each row's multiplier), a chunk of rows at a time: with chunks of 1 to
    6 rows, so that a node's rows span several chunks, it settles as the row-by-row reference (claims, rewards, each
    node's bonus rows, the account's columns and each node's ``(first, count)`` in them); the columns as int64 arrays, with
    the node indexes int32 (as the close hands them), or as lists."""
    as_columns = {"int64": _int64_bonus_columns, "int32 nodes": _int32_node_bonus_columns, "rows": BonusColumns.of_rows}[columns]
    with patch.object(epoch_rows, "GROUP_CHUNK", chunk):
        pay, ref = _settle_as_the_reference(nodes, rows, rate, bonus_bps, budget, as_columns)
    firsts = [sum(len(bs) for bs in ref["bonuses"][:n]) for n in range(len(nodes))]
    assert list(pay.bonus_at) == [(first, len(bs)) for first, bs in zip(firsts, ref["bonuses"], strict=True)]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.integers(0, 10**6), st.integers(INT64_MAX // 8, INT64_MAX // 8 + 3), st.integers(0, INT64_MAX), st.integers(-3, -1)),
        max_size=12,
    ),
    cuts=st.lists(st.integers(0, 12), max_size=6),
)
def test_group_sums_are_the_python_sums_or_refused(values, cuts):
    """Per-node sums by int64 running sums equal the Python sums of the slices, also where they pass 2**63 (each value
    split in two halves); refused (None) when a value is negative, or there is none."""
    bounds = sorted({0, len(values), *(min(c, len(values)) for c in cuts)})
    got = _group_sums(np.array(values, dtype=np.int64), np.array(bounds, dtype=np.intp))
    if values and min(values) >= 0:
        assert got == [sum(values[a:b]) for a, b in zip(bounds, bounds[1:])]
        assert all(type(v) is int for v in got)
    else:
        assert got is None


def test_group_sums_past_int64_are_exact() -> None:
    """Sums far past 2**63 (the bonus rows' caps at a million tasks: count × max passes it): the halves' sums, exact."""
    values = [INT64_MAX, INT64_MAX - 1, 2**32 - 1, 2**32, 0, INT64_MAX] * 1000
    bounds = [0, 1, 2, 6, 3000, 6000]
    got = _group_sums(np.array(values, dtype=np.int64), np.array(bounds, dtype=np.intp))
    assert got == [sum(values[a:b]) for a, b in zip(bounds, bounds[1:])]
    assert got[-1] > 2**64


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 10**6), st.integers(0, INT64_MAX // 4)),
            st.integers(0, PPB - 1),
            st.one_of(st.integers(0, 10**6), st.integers(0, INT64_MAX // 2)),
        ),
        max_size=12,
    ),
    rate=st.sampled_from([0, 7, PPB - 1, PPB, 3 * COR, 42 * COR + 5, 2**70 + 3]),
    above=st.booleans(),
)
def test_within_equivalents_is_each_bonus_at_most_its_equivalent(rows, rate, above):
    """``within_equivalents`` (int64 only) says what the Python integers say, bonus ≤ a × (rate // 10**9) + low for every
    row, with a row pushed one above its equivalent (``above``, where that still fits int64) or not; and ``equivalents``
    is a × (rate // 10**9) + low, the low part counted only when the rate has one."""
    rh, rl = divmod(rate, PPB)
    rows = [(a, low if rl else 0, b) for a, low, b in rows]
    if above and rows and rows[0][0] * rh + rows[0][1] + 1 < INT64_MAX:
        a, low, _ = rows[0]
        rows[0] = (a, low, a * rh + low + 1)
    a, low, bonus = (np.array(column, dtype=np.int64) for column in zip(*rows)) if rows else (np.zeros(0, dtype=np.int64),) * 3
    expected = [x * rh + lo for x, lo, _ in rows]
    assert equivalents(a, low, rate) == expected
    assert within_equivalents(a, low, bonus, rate) == all(b <= e for (_, _, b), e in zip(rows, expected))


def _group_sums_whole_columns(values, bounds):
    """``_group_sums`` as it was before it took its running sums a chunk at a time (session 28): full columns of the
    halves and their running sums. Kept as the reference the chunked one must equal."""
    if values.size == 0 or values.size >= 2**31 or int(values.min()) < 0:
        return None

    def group(column):
        running = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(column)))
        return (running[bounds[1:]] - running[bounds[:-1]]).tolist()

    if values.size * int(values.max()) < INT64_MAX + 1:
        return group(values)
    return [h * 2**32 + low for h, low in zip(group(values >> 32), group(values & 0xFFFFFFFF), strict=True)]


def _within_equivalents_whole_columns(a, low, bonus, rate_units):
    """``within_equivalents`` as it was before it tested a chunk at a time (session 28): the reference."""
    rh = rate_units // PPB
    if not rh:
        return bool((bonus <= low).all())
    limit = INT64_MAX // rh
    return bool(((a > limit) | (bonus - low <= np.minimum(a, limit) * rh)).all())


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.integers(0, 10**6), st.integers(INT64_MAX // 8, INT64_MAX // 8 + 3), st.integers(0, INT64_MAX), st.integers(-3, -1)),
        max_size=40,
    ),
    cuts=st.lists(st.integers(0, 40), max_size=12),
    chunk=st.sampled_from([1, 2, 3, 7, 16, None]),
)
def test_group_sums_a_chunk_at_a_time_are_the_whole_columns_sums(values, cuts, chunk):
    """The running sums taken ``chunk`` rows at a time (bounds inside a chunk, at its ends, repeated: empty groups, at 0
    and at the end) give what the whole columns gave, and the Python sums of the slices; refused alike."""
    bounds = np.array(sorted([0, len(values), *(min(c, len(values)) for c in cuts)]), dtype=np.int64)
    column = np.array(values, dtype=np.int64)
    got = _group_sums(column, bounds, chunk=chunk)
    assert got == _group_sums_whole_columns(column, bounds)
    if got is not None:
        assert got == [sum(values[a:b]) for a, b in zip(bounds.tolist(), bounds[1:].tolist())]


def test_group_sums_of_a_close_sized_column_are_the_whole_columns_sums() -> None:
    """At the default chunk on ~20 chunks of bonus-like values (past 2**63 in all: the halves' path) with 3 000 groups,
    some empty, some spanning chunks: the reference's sums."""
    rng = np.random.default_rng(29)
    values = rng.integers(0, 10**16, 20 * 2**16 + 123, dtype=np.int64)
    bounds = np.concatenate(([0], np.sort(rng.integers(0, values.size + 1, 3_000)), [values.size])).astype(np.int64)
    got = _group_sums(values, bounds)
    assert got == _group_sums_whole_columns(values, bounds) and len(got) == bounds.size - 1
    assert sum(got) == int(values.astype(object).sum()) > 2**63


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, INT64_MAX // 4), st.integers(0, PPB - 1), st.integers(0, INT64_MAX // 2)),
        max_size=30,
    ),
    rate=st.sampled_from([0, 7, PPB - 1, PPB, 3 * COR, 42 * COR + 5, 2**70 + 3]),
    above=st.integers(0, 40),
    chunk=st.sampled_from([1, 2, 5, 16, None]),
)
def test_within_equivalents_a_chunk_at_a_time_is_the_whole_columns_test(rows, rate, above, chunk):
    """Tested ``chunk`` rows at a time, with one row (anywhere: first, mid-chunk, last) pushed one above its equivalent
    where that fits int64: the answer of the whole-column test, and of the Python integers."""
    rh, rl = divmod(rate, PPB)
    rows = [(a, low if rl else 0, min(b, a * rh + (low if rl else 0))) for a, low, b in rows]  # every bonus within
    if rows:
        i = above % len(rows)
        a, low, _ = rows[i]
        if a * rh + low + 1 <= INT64_MAX:
            rows[i] = (a, low, a * rh + low + 1)
    a, low, bonus = (np.array(column, dtype=np.int64) for column in zip(*rows)) if rows else (np.zeros(0, dtype=np.int64),) * 3
    got = within_equivalents(a, low, bonus, rate, chunk=chunk)
    assert got == _within_equivalents_whole_columns(a, low, bonus, rate)
    assert got == all(b <= x * rh + lo for x, lo, b in rows)


def test_bonus_table_makes_each_arithmetic_column_once_when_read():
    """The inputs are given, the arithmetic made on first read and kept (a name: a copy of that column); it reads as the
    dict of ``BONUS_TABLE``, in that order."""
    made: list[str] = []

    def make(name, values):
        return lambda: made.append(name) or list(values)

    inputs = {"task": [7], "units": [2], "quality_ppb": [3], "fee_units": [4]}
    table = BonusTable(inputs, {"equivalent": make("equivalent", [9]), "cap": make("cap", [5]), "bonus": "cap"})
    assert made == [] and list(table) == list(BONUS_TABLE) and len(table) == 7
    assert table["bonus"] == [5] and made == ["cap"] and table["bonus"] is not table["cap"]
    assert table == {"task": [7], "units": [2], "quality_ppb": [3], "fee_units": [4], "equivalent": [9], "cap": [5], "bonus": [5]}
    assert made == ["cap", "equivalent"] and table["equivalent"] is table["equivalent"]
    with pytest.raises(KeyError):
        table["other"]
    with pytest.raises(InvariantViolation):
        BonusTable({"task": []}, {"cap": "task"})


def test_invariant_guards_the_columns():
    with pytest.raises(InvariantViolation):
        settle_stream(weighted=[1], multiplier_ppb=[], eligible=[True], bonus_rows=[], rate_units=1, bonus_fee_bps=0, budget=1)


# --- through the core ------------------------------------------------------------------------------


def _run(c, tid):
    t = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in t.miners})
    validate_all(c, tid, lambda v, m: (5_000_000, 800_000_000))
    return c.state.tasks[tid]


def _items(rec, stream_prefix):
    return [i for i in rec.items if i.stream.startswith(stream_prefix)]


def test_user_tasks_alone_earn_only_the_fee_bounded_bonus():
    c = market(n_miners=3, params={"epoch_length_ticks": 60})
    tasks = [_run(c, submit(c, f"question {i}")) for i in range(3)]
    assert all(t.state == "SETTLED" for t in tasks)
    fee_share = {}
    for t in tasks:
        for a in t.miners:
            fee_share[a.miner] = fee_share.get(a.miner, 0) + a.paid
    c.oracle("epoch.close", {})
    rec = c.state.epochs[0]
    p = c.state.params
    miners = rec.streams["miners"]
    assert 0 < miners["paid"] == miners["claims"] == miners["bonus_claims"] and miners["network_claims"] == 0
    assert miners["paid"] <= sum(fee_share.values()) * p.user_task_bonus_fee_bps // BPS
    assert miners["back_to_pool"] == miners["budget"] - miners["paid"] and not miners["budget_binding"]
    for node, fee in fee_share.items():
        got = sum(i.amount for i in _items(rec, Stream.MINER_WORK) if i.address == node)
        assert 0 < got <= fee * p.user_task_bonus_fee_bps // BPS
        line = next(i for i in _items(rec, Stream.MINER_WORK) if i.address == node and i.stream.endswith(":node"))
        rows = bonus_rows_of(rec.streams, line)  # cited in the stream's columns (rule version 11 on)
        assert "bonus_rows" not in line.detail["inputs"] and line.detail["bonus_rows_at"][1] == len(rows)
        assert {r["task"] for r in rows} == {t.id for t in tasks if t.assignment(node)}
        assert all(r["bonus"] == min(r["equivalent"], r["cap"]) == r["cap"] for r in rows)  # the fee cap binds at devnet prices
    assert rec.streams["validators"]["paid"] == 0  # validating user tasks earns the validators' fee share, not emission
    assert not [i for i in _items(rec, Stream.VALIDATOR_WORK) if i.amount]
    assert rec.streams["marketplace"]["paid"] == 0  # usage bought by users earns royalties, not emission


def test_network_work_is_paid_at_the_rate():
    c = market(n_miners=3, params={"epoch_length_ticks": 60})
    t = _run(c, network(c, "Name a prime number."))
    assert t.state == "SETTLED"
    c.oracle("epoch.close", {})
    rec = c.state.epochs[0]
    p = c.state.params
    for a in t.miners:
        line = next(i for i in _items(rec, Stream.MINER_WORK) if i.address == a.miner and i.stream.endswith(":node"))
        x = line.detail["inputs"]
        assert x["eligible"] and x["work"] == t.input_tokens * 0 + (t.input_tokens + t.output_tokens) * 800_000_000
        assert x["weighted"] == x["work"] * x["multiplier_ppb"] // PPB
        assert x["network_claim"] == x["weighted"] * p.network_work_rate_units // PPB == x["claim"] == x["reward"]
        assert "params" not in line.detail and rec.streams["miners"]["params"]["network_work_rate_units"] == p.network_work_rate_units
        assert sum(i.amount for i in _items(rec, Stream.MINER_WORK) if i.address == a.miner) == x["reward"]
    streams = rec.streams
    assert streams["miners"]["rate_units"] == p.network_work_rate_units and streams["miners"]["network_claims"] == streams["miners"]["paid"]
    assert streams["validators"]["paid"] > 0 and streams["validators"]["rate_units"] == p.network_validation_rate_units
    for v in t.validators:
        line = next(i for i in _items(rec, Stream.VALIDATOR_WORK) if i.address == v and i.stream.endswith(":node"))
        x = line.detail["inputs"]
        assert x["work"] == t.agreement_ppb[v] and x["reward"] == x["weighted"] * p.network_validation_rate_units // PPB
    emission = streams["emission"]
    assert emission["scheduled"] == p.emission_per_epoch_units and emission["pool_balance"] >= emission["budget"]
    assert emission["emission_split_bps"] == dict(p.emission_split_bps)


def test_the_budget_binds_pro_rata_and_the_rest_stays_in_the_pool():
    c = market(n_miners=3, params={"epoch_length_ticks": 60, "network_work_rate_units": str(10**9 * COR)})
    for i in range(2):
        _run(c, network(c, f"network prompt {i}"))
    pool = c.balance("pool:network_incentives")
    c.oracle("epoch.close", {})
    miners = c.state.epochs[0].streams["miners"]
    assert miners["budget_binding"] and miners["claims"] > miners["budget"]
    assert miners["budget"] - len(c.state.nodes) < miners["paid"] <= miners["budget"]
    rewards = {}
    for i in _items(c.state.epochs[0], Stream.MINER_WORK):
        if i.stream.endswith(":node"):
            x = i.detail["inputs"]
            assert x["reward"] == miners["budget"] * x["claim"] // miners["claims"]
            rewards[i.address] = x["reward"]
    assert sum(rewards.values()) == miners["paid"]
    streams = c.state.epochs[0].streams
    paid = sum(s["paid"] for k, s in streams.items() if k != "emission")
    assert pool - c.balance("pool:network_incentives") == paid  # every unpaid unit stayed in the pool


def test_a_wash_trader_gets_back_less_than_it_pays():
    """The attacker owns a model only its 3 miners serve, the router and the session; it pays user tasks on it.
    Everything its addresses receive (fees, bonus, royalty, marketplace) is less than the fees it paid."""
    names = ["a0", "a1", "a2", "h0", "h1", "h2", "v0", "v1", "v2", "att", "dev"]
    c = Chain(wallets={n: 1_000_000 * COR for n in names}, params={"epoch_length_ticks": 80})
    body = {"parameter_count": 70_000_000_000, "quantization": "q2_k", "context_length": 32768, "license": "mit"}
    c.as_("att", "model.register", {"id": "own-70b", **body, "content_hash": h("own")})
    c.as_("dev", "model.register", {"id": MODEL, **body, "parameter_count": 135_000_000, "content_hash": h("w")})
    for m in ("a0", "a1", "a2"):
        c.as_(m, "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": ["own-70b"]})
    for m in ("h0", "h1", "h2"):
        c.as_(m, "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": [MODEL]})
    for v in ("v0", "v1", "v2"):
        c.as_(v, "node.register", {"role": "validator", "self_bond": str(5000 * COR)})
    c.as_("att", "node.register", {"role": "router", "self_bond": str(1000 * COR)})
    c.as_("att", "session.open", {"deposit": str(100 * COR)})
    session = max(c.state.sessions)
    paid = 0
    for i in range(4):
        tid = c.state.next_id
        prompt = f"wash {i}"
        c.as_(
            "att",
            "task.submit",
            {
                "session": session,
                "model": "own-70b",
                "prompt_hash": h(prompt),
                "prompt_bytes": 40,
                "input_tokens": 15_624,
                "max_output_tokens": 64,
                "router": addr("att"),
            },
        )
        t = _run(c, tid)
        assert t.state == "SETTLED" and {a.miner for a in t.miners} == {addr(m) for m in ("a0", "a1", "a2")}
        paid += t.charged
    _run(c, network(c))  # honest network work on the common model: the attacker's miners cannot get it
    c.oracle("epoch.close", {})
    mine = {addr(n) for n in ("a0", "a1", "a2", "att")}
    earned = ("task_fee:", Stream.MINER_WORK, Stream.VALIDATOR_WORK, Stream.MARKETPLACE)  # all but staking APR, which the stake earns anyway
    back = sum(i.amount for i in c.state.epochs[0].items if i.address in mine and i.stream.startswith(earned))
    assert 0 < back < paid
    p = c.state.params
    kept = (p.fee_split_bps["miners"] + p.fee_split_bps["router"] + p.fee_split_bps["model_royalty"]) / BPS
    assert back / paid < kept + p.user_task_bonus_fee_bps / BPS  # what it gets back is its fee shares plus at most the bonus


def test_the_bonus_is_bounded_below_the_treasury_share():
    Params(user_task_bonus_fee_bps=1_000)  # 1000 × 7000 < 800 × 10000: allowed
    with pytest.raises(InvalidInput) as e:
        Params(user_task_bonus_fee_bps=1_200)  # 1200 × 7000 ≥ 800 × 10000
    assert e.value.code == "invalid_parameter"
    with pytest.raises(InvalidInput):
        Params(user_task_bonus_fee_bps=1, fee_split_bps={"miners": 7800, "validators": 1200, "router": 500, "model_royalty": 500, "treasury": 0})


@settings(max_examples=150, deadline=None)
@given(
    nodes=st.lists(st.tuples(st.integers(0, 10**20), st.integers(PPB // 2, 2 * PPB), st.booleans()), min_size=1, max_size=6),
    rows=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 10**6), st.integers(PPB // 2, PPB), st.integers(0, 10**14)), min_size=1, max_size=30),
    unbound=st.one_of(st.none(), st.integers(0, 29)),
    budget=st.integers(0, 10**24),
)
def test_every_bonus_at_its_cap_or_one_below_settles_as_the_reference(nodes, rows, unbound, budget):
    """At 3 COR a work unit and a 3 % fee share every bonus is its cap (the close's usual epoch: the bonuses are the caps'
    integers again); one row at quality 0 (``unbound``) is paid its equivalent, 0, instead. Either way the
    rows settle as the row-by-row reference."""
    if unbound is not None:
        n, u, _, f = rows[unbound % len(rows)]
        rows[unbound % len(rows)] = (n, u, 0, f + 10**6)  # quality 0: its equivalent 0, below its cap
    pay, _ = _settle_as_the_reference(nodes, rows, 3 * COR, 300, budget, _int64_bonus_columns)
    paid = [(b, c, e) for b, c, e in zip(pay.bonus_table["bonus"], pay.bonus_table["cap"], pay.bonus_table["equivalent"], strict=True)]
    assert all(b == c for b, c, _ in paid) == (unbound is None or not any(b < c for b, c, _ in paid))


@pytest.mark.parametrize("rate_units", [0, 7, 3 * PPB, 3 * COR + 123_456_789])
def test_bonus_arrays_a_chunk_at_a_time_are_the_formulas_of_every_row(rate_units):
    """``bonus_arrays`` computes its columns ``chunk`` rows at a time (``BONUS_CHUNK`` by default): at every chunk size,
    including chunks that end mid-column and a single row, each row's equivalent (``a × rh + low``), cap and bonus are
    the row formulas' (``compute_bonus_equivalent``, ``compute_bonus_cap``, their minimum)."""
    rng = np.random.default_rng(26)
    n = 1_000
    units = rng.integers(0, 1_000, n, dtype=np.int64)
    quality = rng.integers(0, PPB + 1, n, dtype=np.int64)
    multiplier = rng.integers(0, 3 * PPB, n, dtype=np.int64)
    fee = rng.integers(0, 10**15, n, dtype=np.int64)
    bps = 2_500
    equivalent = [compute_bonus_equivalent(*r, rate_units) for r in zip(units.tolist(), quality.tolist(), multiplier.tolist())]
    cap = [compute_bonus_cap(f, bps) for f in fee.tolist()]
    assert any(e < c for e, c in zip(equivalent, cap)) or rate_units > PPB  # (both sides of the minimum, where the rate allows)
    for chunk in (1, 3, 64, 999, 1_000, None):
        arrays = bonus_arrays(units, quality, multiplier, fee, rate_units, bps, chunk=chunk)
        assert arrays is not None
        a, low, cap_at, bonus_at = arrays
        assert equivalents(a, low, rate_units) == equivalent, chunk
        assert cap_at.tolist() == cap and bonus_at.tolist() == list(map(min, equivalent, cap)), chunk
