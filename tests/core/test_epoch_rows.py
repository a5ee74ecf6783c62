"""The close reads the epoch's rows as columns (``core.epoch_rows``, from the stores of ``core.epoch_columns``):
exactly the values the streams' per-row accessors give for the rows as records, and each node's in-consensus
tasks in row order."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import epoch_rows
from cor_incentives.core.epoch_columns import ValidationColumns, WorkColumns
from cor_incentives.core.epoch_rows import (
    first_seen,
    grouped_columns,
    grouped_order,
    grouped_values,
    tasks_by_node,
    validation_columns,
    work_columns,
)
from cor_incentives.core.records import TaskKind, ValidationRow, WorkRow
from cor_incentives.core.rewards import MINER_STREAM, VALIDATOR_STREAM
from cor_incentives.core.work_rewards import MAX_COMPLEXITY_UNITS

NODES = [f"0x{i:040x}" for i in range(7)]
KINDS = st.sampled_from([TaskKind.NETWORK, TaskKind.USER])

work_rows = st.builds(
    WorkRow,
    task=st.integers(1, 50),
    node=st.sampled_from(NODES),
    complexity_units=st.integers(0, 3 * MAX_COMPLEXITY_UNITS),
    quality_ppb=st.integers(0, 10**9),
    in_consensus=st.booleans(),
    precommitted=st.booleans(),
    kind=KINDS,
    fee_units=st.integers(0, 10**24),
)
validation_rows = st.builds(
    ValidationRow,
    task=st.integers(1, 50),
    node=st.sampled_from(NODES),
    agreement_ppb=st.integers(0, 10**9),
    on_time=st.booleans(),
    kind=KINDS,
    canary_failed=st.booleans(),
)


def by_accessors(spec, rows):
    return {
        "task": [r.task for r in rows],
        "node": [r.node for r in rows],
        "network": [spec.network(r) for r in rows],
        "units": [min(spec.units(r), MAX_COMPLEXITY_UNITS) for r in rows],
        "quality": [spec.quality(r) for r in rows],
        "in_consensus": [bool(spec.in_consensus(r)) for r in rows],
        "precommitted": [bool(spec.precommitted(r)) for r in rows],
    }


def as_lists(columns):
    return {k: columns.node_ids() if k == "node" else getattr(columns, k).tolist() for k in by_accessors(MINER_STREAM, [])}


def stored(store, rows):
    store.extend(rows)
    assert list(store) == rows  # the row views are the records appended
    return store


def assert_node_index_copied(columns, store, rows):
    """The rows' node indices are the store's int32 column copied as it is: the same indices (the names they give are
    checked by ``as_lists``), 4 bytes a row, and not a view of the store's buffer (which would refuse the next append)."""
    assert columns.node.dtype == np.int32
    assert columns.node.tolist() == list(store.node)
    if rows:
        store.append_row(rows[0])  # (a view of the buffer: BufferError)
        assert len(columns.node) == len(rows)


def reference_tasks_by_node(rows, spec):
    out: dict[str, list[int]] = {}
    for r in rows:
        if spec.in_consensus(r):
            out.setdefault(r.node, []).append(r.task)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(work_rows, max_size=60))
def test_work_columns_equal_the_miner_accessors(rows):
    columns = work_columns(store := stored(WorkColumns(), rows))
    assert as_lists(columns) == by_accessors(MINER_STREAM, rows)
    assert list(columns.fee) == [MINER_STREAM.bonus(r) for r in rows]
    nodes = sorted({r.node for r in rows})
    index = np.array([nodes.index(r.node) for r in rows], dtype=np.int64)
    assert tasks_by_node(columns, index, nodes) == reference_tasks_by_node(rows, MINER_STREAM)
    assert_node_index_copied(columns, store, rows)


@settings(max_examples=200, deadline=None)
@given(st.lists(validation_rows, max_size=60))
def test_validation_columns_equal_the_validator_accessors(rows):
    columns = validation_columns(store := stored(ValidationColumns(), rows))
    assert as_lists(columns) == by_accessors(VALIDATOR_STREAM, rows)
    assert columns.fee is None and all(VALIDATOR_STREAM.bonus(r) is None for r in rows)
    nodes = sorted({r.node for r in rows})
    index = np.array([nodes.index(r.node) for r in rows], dtype=np.int64)
    assert tasks_by_node(columns, index, nodes) == reference_tasks_by_node(rows, VALIDATOR_STREAM)
    assert_node_index_copied(columns, store, rows)


@settings(max_examples=200, deadline=None)
@given(st.lists(work_rows, max_size=60), st.data(), st.integers(0, 2**70))
def test_some_rows_read_are_the_rows_picked(rows, data, big_fee):
    """``units``/``quality``/``model_index`` of some rows and ``RowColumns.fees`` are those rows' values, in the order
    asked (repeats included); the fees an int64 array while every one fits, else the Python integers themselves."""
    if rows and data.draw(st.booleans()):
        rows[0] = WorkRow(rows[0].task, rows[0].node, 1, 1, True, True, kind=TaskKind.USER, fee_units=big_fee)
    store = stored(WorkColumns(), rows)
    picked = np.array(data.draw(st.lists(st.integers(0, max(0, len(rows) - 1)), max_size=2 * len(rows) if rows else 0)), dtype=np.intp)
    assert store.units(picked).tolist() == store.units()[picked].tolist() == [rows[i].complexity_units for i in picked.tolist()]
    assert store.quality(picked).tolist() == [rows[i].quality_ppb for i in picked.tolist()]
    assert store.model_index(picked).dtype == np.int64
    assert store.model_index(picked).tolist() == store.model_index()[picked].tolist()
    fees = work_columns(store).fees(picked)
    expected = [rows[i].fee_units for i in picked.tolist()]
    assert list(fees) == expected and all(type(f) is int for f in (fees.tolist() if isinstance(fees, np.ndarray) else fees))
    assert isinstance(fees, np.ndarray) == all(f < 2**63 for f in expected)


def test_large_epoch_columns_keep_row_order():
    rng = random.Random(3)
    rows = [WorkRow(t, rng.choice(NODES), rng.randrange(1, 5000), rng.randrange(10**9), rng.random() < 0.8, True) for t in range(20_000)]
    columns = work_columns(stored(WorkColumns(), rows))
    assert columns.task.tolist() == list(range(20_000)) and len(columns) == 20_000
    nodes = sorted(NODES)
    index = np.array([nodes.index(r.node) for r in rows], dtype=np.int64)
    assert tasks_by_node(columns, index, nodes) == reference_tasks_by_node(rows, MINER_STREAM)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40), st.booleans()), max_size=80), st.booleans())
def test_tasks_by_node_is_each_nodes_tasks_in_consensus_in_row_order(rows, all_in_consensus):
    """Every row in consensus (the usual epoch: no selection first) or some not; nodes without a row in consensus
    (among them nodes without any row) absent; each node's tasks in row order, a task repeated as its rows are."""
    owners = [o for o, _, _ in rows]
    in_consensus = [True if all_in_consensus else c for _, _, c in rows]
    columns = work_columns(stored(WorkColumns(), [WorkRow(t, NODES[o], 1, 1, c, True) for (o, t, _), c in zip(rows, in_consensus)]))
    expected: dict[str, list[int]] = {}
    for (o, t, _), c in zip(rows, in_consensus):
        if c:
            expected.setdefault(NODES[o], []).append(t)
    got = tasks_by_node(columns, np.array(owners, dtype=np.int64), NODES)
    assert got == expected and list(got) == [n for n in NODES if n in expected]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.sampled_from(NODES), st.sampled_from(["jailed", "slashed this epoch"])),
    st.dictionaries(
        st.sampled_from(NODES),
        st.fixed_dictionaries({"stake_ticks": st.integers(0, 10**40), "stake": st.integers(0, 10**30), "commission_bps": st.integers(0, 2000)}),
    ),
    st.integers(0, 10**30),
)
def test_staking_account_dict_is_asdict(excluded, nodes, budget):
    import dataclasses

    from cor_incentives.core.streams import StakingAccount

    before = {n: dict(v) for n, v in nodes.items()}
    account = StakingAccount(6000, 5999, budget, budget // 2, budget // 3, False, 10**35, excluded, budget * 10, nodes)
    view = account.to_dict()
    assert view == dataclasses.asdict(account) and list(view) == list(dataclasses.asdict(account))
    view["nodes"].clear() if not nodes else next(iter(view["nodes"].values())).clear()
    assert account.nodes == before  # a copy: changing the view leaves the account as it was


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=80), st.booleans())
def test_first_seen_is_dict_fromkeys(tasks, runs):
    """The tasks behind the rows in the order they first appear: as ``dict.fromkeys``, whether each task's rows are one
    run (as the core appends them) or scattered."""
    rows = sorted(tasks, key=tasks.index) if runs else tasks
    assert first_seen(np.array(rows, dtype=np.int64)) == list(dict.fromkeys(rows))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-5, 9), max_size=80), st.booleans(), st.sampled_from([0, 10**6, 2**59]))
def test_first_seen_is_dict_fromkeys_spread_or_not(tasks, runs, spread):
    """Whatever the values' range: within 4 per row (a flag per value) or wider (a sort), negative or near 2**63 (9 × 2**59)."""
    rows = sorted(tasks, key=tasks.index) if runs else tasks
    rows = [t * spread if spread and t > 0 else t for t in rows] if spread else rows
    assert first_seen(np.array(rows, dtype=np.int64)) == list(dict.fromkeys(rows))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 70_000), max_size=80), st.booleans())
def test_grouped_order_is_the_stable_sort(owners, small):
    keys = np.array([o % 300 if small else o for o in owners], dtype=np.int64)
    groups = 300 if small else 70_001
    assert grouped_order(keys, groups).tolist() == np.argsort(keys, kind="stable").tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(-(2**63), 2**63 - 1)), max_size=120), st.integers(1, 130), st.booleans())
def test_grouped_values_is_one_stable_sort_whatever_the_chunks(rows, chunk, small):
    """Chunk by chunk (one row a chunk, a few, all the rows in one): the values in the order of one stable sort of the
    owners and each group's count; 16-bit owners (a radix sort per chunk) or int64, groups without a row included."""
    owners = np.array([o for o, _ in rows], dtype=np.uint16 if small else np.int64)
    values = np.array([v for _, v in rows], dtype=np.int64)
    got, counts = grouped_values(values, owners, 12, chunk)
    assert got.tolist() == values[np.argsort(owners, kind="stable")].tolist()
    assert counts.tolist() == np.bincount(owners.astype(np.int64), minlength=12).tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(-(2**63), 2**70), st.booleans()), max_size=120), st.integers(1, 130), st.booleans())
def test_grouped_columns_are_each_column_in_one_stable_sort_whatever_the_chunks(rows, chunk, small):
    """Several columns of their own dtypes (int64, Python integers past 64 bits, flags) grouped together chunk by chunk:
    each column in the order of one stable sort of the owners, its dtype kept, and each group's count."""
    owners = np.array([o for o, _, _ in rows], dtype=np.uint16 if small else np.int64)
    wide = np.array([v for _, v, _ in rows], dtype=object)
    narrow = np.array([v % 2**63 for _, v, _ in rows], dtype=np.int64)
    flags = np.array([f for _, _, f in rows], dtype=bool)
    got, counts = grouped_columns((narrow, wide, flags), owners, 12, chunk)
    order = np.argsort(owners, kind="stable")
    assert [g.tolist() for g in got] == [narrow[order].tolist(), wide[order].tolist(), flags[order].tolist()]
    assert [g.dtype for g in got] == [np.dtype(np.int64), np.dtype(object), np.dtype(bool)]
    assert counts.tolist() == np.bincount(owners.astype(np.int64), minlength=12).tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40), st.booleans()), max_size=80),
    st.sampled_from(["every row", "some rows", "no row"]),
    st.sampled_from([None, 1, 3, 7]),
    st.sampled_from([np.int64, np.int32]),
)
def test_tasks_by_node_leaves_out_the_rows_out_of_consensus_whatever_their_share(rows, share, chunk, dtype):
    """All the rows grouped by node, then the rows out of consensus left out: the reference's tasks per node (in row
    order, nodes without a row in consensus absent) whether every row, some or none is in consensus; each node's bounds
    are its rows less its rows out of consensus. The rows grouped in chunks of the default size (one chunk here) or of
    1, 3 or 7 rows (``GROUP_CHUNK``)."""
    in_consensus = [{"every row": True, "no row": False}.get(share, c) for _, _, c in rows]
    records = [WorkRow(t, NODES[o], 1, 1, c, True) for (o, t, _), c in zip(rows, in_consensus)]
    columns = work_columns(stored(WorkColumns(), records))
    default = epoch_rows.GROUP_CHUNK
    epoch_rows.GROUP_CHUNK = chunk or default
    try:
        got = tasks_by_node(columns, np.array([o for o, _, _ in rows], dtype=dtype), NODES)  # (int32: as the close's)
    finally:
        epoch_rows.GROUP_CHUNK = default
    assert got == reference_tasks_by_node(records, MINER_STREAM)
    assert sum(map(len, got.values())) == sum(in_consensus) and list(got) == sorted(got, key=NODES.index)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([2**16 - 2, 2**16 - 1, 2**16]), st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40), st.booleans()), max_size=40))
def test_tasks_by_node_around_the_16_bit_keys(n, rows):
    """With ``n`` nodes the rows out of consensus take key ``n``: 16-bit keys while n + 1 ≤ 2**16, int64 past it; the
    rows sit on the last nodes, where a key that wrapped around would mix them with the rows left out."""
    nodes = [f"n{i:06d}" for i in range(n)]
    owners = [n - 1 - o for o, _, _ in rows]
    records = [WorkRow(t, nodes[o], 1, 1, c, True) for o, (_, t, c) in zip(owners, rows)]
    expected: dict[str, list[int]] = {}
    for r in records:
        if r.in_consensus:
            expected.setdefault(r.node, []).append(r.task)
    got = tasks_by_node(work_columns(stored(WorkColumns(), records)), np.array(owners, dtype=np.int64), nodes)
    assert got == expected and list(got) == sorted(expected)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.data())
def test_rows_of_nodes_is_isin(names, data):
    """The canary forfeits' row mask: a row's node among the chosen nodes, as ``np.isin`` says (a node chosen twice,
    none chosen, every node chosen)."""
    from cor_incentives.core.rewards import rows_of_nodes

    node = np.array(data.draw(st.lists(st.integers(0, names - 1), max_size=60)), dtype=np.int64)
    chosen = data.draw(st.lists(st.integers(0, names - 1), max_size=names + 2))
    got = rows_of_nodes(node, chosen, names)
    assert got.dtype == bool and got.tolist() == np.isin(node, chosen).tolist()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_canary_forfeits_name_each_failed_canary_in_row_order(data):
    """``canary_forfeits`` (grouped by a stable sort): a validator past ``canary_failures_max`` failed canaries gets one
    ``canary_forfeit`` line naming its failed canaries' tasks in row order, the lines in name order, with its count of
    validations; its rows count at agreement 0, every other row as it was. Checked against the rows read one by one
    (caps 0-2: a validator at the cap keeps its rows)."""
    from cor_incentives.core.rewards import canary_forfeits
    from support.chain import Chain

    names = ["v-b", "v-a", "v-c", "v-d"]  # interned in this order: index order is not name order
    picked = data.draw(st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, 10**9)), max_size=40))
    rows = ValidationColumns()
    for task, (n, failed, agreement) in enumerate(picked):
        rows.append(task, names[n], agreement, True, TaskKind.NETWORK, failed)
    cap = data.draw(st.integers(0, 2))
    state = Chain(params={"canary_failures_max": cap}).state
    assert state.params.canary_failures_max == cap
    columns = canary_forfeits(state, rows)
    failed_by: dict[str, list[int]] = {}
    for task, (n, failed, _) in enumerate(picked):
        if failed:
            failed_by.setdefault(names[n], []).append(task)
    out = sorted(n for n, tasks in failed_by.items() if len(tasks) > cap)
    lines = [i for i in state.earnings if i.stream == "canary_forfeit"]
    assert [i.address for i in lines] == out
    for item in lines:
        assert item.detail["failed_canaries"] == failed_by[item.address]
        assert item.detail["validations_forfeited"] == sum(1 for n, _, _ in picked if names[n] == item.address)
    assert columns.quality.tolist() == [0 if names[n] in out else a for n, _, a in picked]


@settings(max_examples=200, deadline=None)
@given(st.lists(work_rows, max_size=60), st.lists(validation_rows, max_size=60), st.integers(0, 3))
def test_network_units_and_rows_per_name(work, validations, other):
    """``network_units`` is ``np.where(network, units, 0)``: int64 for the miners' units, the network flags' bytes as
    uint8 for the validators' one unit a row (a broadcast view of 1), ``np.where`` again for a broadcast view of
    another value; ``rows_per_name`` is each name's ``bincount``, counted again for the columns ``take`` makes."""
    for columns in (work_columns(stored(WorkColumns(), work)), validation_columns(stored(ValidationColumns(), validations))):
        got = columns.network_units()
        assert got.tolist() == np.where(columns.network, columns.units, 0).tolist()
        one_unit = columns.units.strides == (0,)
        assert got.dtype == (np.uint8 if one_unit and len(columns) else np.int64)
        assert columns.rows_per_name.tolist() == np.bincount(columns.node, minlength=len(columns.names)).tolist()
        assert columns.rows_per_name is columns.rows_per_name  # counted once
        keep = np.arange(len(columns)) % 2 == 0
        kept = columns.take(keep)
        assert kept.rows_per_name.tolist() == np.bincount(columns.node[keep], minlength=len(columns.names)).tolist()
        if len(columns):
            units = np.broadcast_to(np.int64(other), (len(columns),))
            from dataclasses import replace

            same = replace(columns, units=units)
            assert same.network_units().tolist() == np.where(columns.network, other, 0).tolist()
            assert same.network_units().dtype == (np.uint8 if other == 1 else np.int64)
