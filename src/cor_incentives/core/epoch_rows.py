"""The epoch's work and validation rows as the close reads them: numpy columns (docs/design.md §6).

The rows are held as columns while the epoch runs (``epoch_columns``: ``WorkColumns`` /
``ValidationColumns``); ``work_columns`` and ``validation_columns`` hand a stream's columns to the
close's kernel (``compute_work_rewards``) without building a record: each column is one copy of an
``array`` buffer, each row's node an index into the interned node ids. The values are exactly what the
streams' per-row accessors give for the rows as records (``rewards.MINER_STREAM`` /
``VALIDATOR_STREAM``); only the way of reading them differs.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import compress
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .epoch_columns import ValidationColumns, WorkColumns
from .errors import InvariantViolation
from .int_column import IntColumn
from .units import PPB
from .work_rewards import MAX_COMPLEXITY_UNITS, group_counts


@dataclass(frozen=True)
class RowColumns:
    """One stream's rows, column by column, in row order."""

    task: npt.NDArray[np.int64]
    node: npt.NDArray[np.int32]  # index into ``names`` (int32: the store's column copied as it is)
    names: list[str]  # the node ids the rows index
    network: npt.NDArray[np.bool_]  # a network task's row (its work earns at the rate)
    units: npt.NDArray[np.int64]  # complexity units, at most MAX_COMPLEXITY_UNITS
    quality: npt.NDArray[np.int64]
    in_consensus: npt.NDArray[np.bool_]
    precommitted: npt.NDArray[np.bool_]
    fee: array[int] | list[int] | None  # a miner row's share of its user task's fee (None: a stream without a bonus): int64 while every
    # share fits (``WorkColumns.fee_units``), else the Python integers
    drawn_round: npt.NDArray[np.int8] | None = None  # validator rows: the round that drew the row (RULES_ESCALATION_PAY)
    dissented: npt.NDArray[np.bool_] | None = None  # validator rows: its report made the task escalate (RULES_ESCALATION_PAY)

    def __len__(self) -> int:
        return len(self.task)

    def fees(self, rows: npt.NDArray[np.intp]) -> Sequence[int] | npt.NDArray[np.int64]:
        """The fee shares of ``rows`` (positions, in that order): an int64 array when every one fits int64, else the list
        of the Python integers (a fee share may exceed 64 bits); the same integers either way. Gathered from the int64
        column's buffer when every share of the stream fits (no Python integer per row: at a million tasks 1.4 M of 3 M
        rows picked, ~0.08 s as integers), else looked up one by one."""
        fee = self.fee
        if fee is None:
            raise InvariantViolation("fee shares asked of a stream without fees")
        if isinstance(fee, array):  # int64: the buffer's view lives only for the gather (the column may grow again)
            picked: npt.NDArray[np.int64] = (np.frombuffer(fee, dtype=np.int64) if len(fee) else np.zeros(0, dtype=np.int64))[rows]
            return picked
        try:
            return np.fromiter(map(fee.__getitem__, rows.tolist()), dtype=np.int64, count=rows.size)
        except OverflowError:  # a share past int64: kept exact as Python integers
            return list(map(fee.__getitem__, rows.tolist()))

    def node_ids(self) -> list[str]:
        """Each row's node id."""
        return list(map(self.names.__getitem__, self.node.tolist()))

    @cached_property
    def rows_per_name(self) -> npt.NDArray[np.intp]:
        """Each name's row count (``np.bincount(node, minlength=len(names))``, a chunk at a time: ``group_counts``), counted
        once: the canary forfeits and the stream read it (``node`` is never changed in place; ``take`` makes new columns)."""
        counts: npt.NDArray[np.intp] = group_counts(self.node, len(self.names))
        return counts

    def network_units(self) -> npt.NDArray[np.int64] | npt.NDArray[np.uint8]:
        """Each row's units on a network task, 0 on a user task (``np.where(network, units, 0)``: what the stream's work
        counts). A units column of one value (a broadcast view, stride 0: the validators' one unit a row) of 1 gives
        the network flags' bytes as uint8 (1 on a network row, 0 else: the same integers), without a column of 8
        bytes a row (at 7.1 M validation rows the int64 column and its product with the quality ~0.04 s)."""
        units = self.units
        if units.ndim == 1 and units.size and units.strides == (0,) and int(units[0]) == 1:
            flags: npt.NDArray[np.uint8] = self.network.view(np.uint8)
            return flags
        counted: npt.NDArray[np.int64] = np.where(self.network, units, 0)
        return counted

    def take(self, keep: npt.NDArray[np.bool_]) -> RowColumns:
        """The rows where ``keep`` holds, in row order."""
        return replace(
            self,
            task=self.task[keep],
            node=self.node[keep],
            network=self.network[keep],
            units=self.units[keep],
            quality=self.quality[keep],
            in_consensus=self.in_consensus[keep],
            precommitted=self.precommitted[keep],
            fee=None if self.fee is None else list(compress(self.fee, keep.tolist())),
            drawn_round=None if self.drawn_round is None else self.drawn_round[keep],
            dissented=None if self.dissented is None else self.dissented[keep],
        )


def work_columns(rows: WorkColumns) -> RowColumns:
    """Miner rows: units = complexity_units (capped), quality = quality_ppb, in consensus, precommitted, fee = fee_units."""
    units = rows.units()
    np.minimum(units, MAX_COMPLEXITY_UNITS, out=units)  # capped in place (a copy of the column)
    return RowColumns(
        task=rows.tasks(),
        node=rows.node_index(),
        names=list(rows.nodes.names),
        network=rows.network(),
        units=units,
        quality=rows.quality(),
        in_consensus=rows.consensus(),
        precommitted=rows.precommit(),
        fee=rows.fee_units,
    )


def validation_columns(rows: ValidationColumns) -> RowColumns:
    """Validator rows: units = 1, quality = agreement_ppb, in consensus = precommitted = on time; no fee."""
    on_time = rows.on_time_flags()
    return RowColumns(
        task=rows.tasks(),
        node=rows.node_index(),
        names=list(rows.nodes.names),
        network=rows.network(),
        units=np.broadcast_to(np.int64(1), (len(rows),)),  # one unit a row: a read-only view of one value, no column of ones
        quality=rows.quality(),
        in_consensus=on_time,
        precommitted=on_time,
        fee=None,
        drawn_round=rows.rounds(),
        dissented=rows.dissent(),
    )


def tasks_by_node(columns: RowColumns, node_index: npt.NDArray[np.integer[Any]], nodes: list[str]) -> dict[str, IntColumn]:
    """Each node's tasks whose row is in consensus, in row order (nodes without one are absent), as ``IntColumn`` slices
    of the one grouped array (no Python integer per task: the lists they stand for are written, hashed and snapshotted).

    Every row is grouped by a stable grouping of a key per row (``grouped_values``): its node, or ``len(nodes)`` (past
    every node) for a row out of consensus, so the rows left out come after all the others and the selection costs no
    pass over them; each node's bounds are the running count of the keys. Each node's list is made from its own slice
    of the grouped tasks (no list of every task sliced again). The usual epoch has every row in consensus: then the key
    is the node."""
    if node_index.size == 0:
        return {}
    n = len(nodes)
    kept = columns.in_consensus
    key = node_index.astype(_key_type(n + 1))  # a copy: the rows out of consensus get the key past every node
    if not kept.all():
        key[~kept] = n
    tasks, counts = grouped_values(columns.task.astype(np.int64, copy=False), key, n + 1)
    bounds = [0, *np.cumsum(counts[:n]).tolist()]
    grouped = IntColumn(tasks[: bounds[-1]])
    grouped.bound()  # once: each node's slice inherits it
    return {nodes[i]: grouped[bounds[i] : bounds[i + 1]] for i in range(n) if bounds[i] < bounds[i + 1]}


def _key_type(groups: int) -> type[np.integer[Any]]:
    """The key type ``grouped_order`` sorts ``groups`` groups by: 16 bits when they fit (a radix sort), else int64."""
    return np.uint16 if groups <= 2**16 else np.int64


def grouped_order(owners: npt.NDArray[np.integer[Any]], groups: int) -> npt.NDArray[np.intp]:
    """The stable order that sorts ``owners`` (values in 0..groups-1): rows grouped by owner, each group's rows in
    row order. NumPy's stable sort is a radix sort for 16-bit keys (linear time): used when the owners fit."""
    keys = owners.astype(_key_type(groups), copy=False)
    order: npt.NDArray[np.intp] = np.argsort(keys, kind="stable")
    return order


GROUP_CHUNK = 2**16  # rows a chunk of ``grouped_values`` groups by its own sort (its temporaries stay in the cache)


def grouped_values(
    values: npt.NDArray[np.int64], owners: npt.NDArray[np.integer[Any]], groups: int, chunk: int | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``values[grouped_order(owners, groups)]`` (the values grouped by owner, each group's in row order) and each
    group's row count (``np.bincount(owners, minlength=groups)``): ``grouped_columns`` of one column."""
    (grouped,), counts = grouped_columns((values,), owners, groups, chunk)
    return grouped, counts


def grouped_columns(
    columns: Sequence[npt.NDArray[Any]], owners: npt.NDArray[np.integer[Any]], groups: int, chunk: int | None = None
) -> tuple[list[npt.NDArray[Any]], npt.NDArray[np.int64]]:
    """Each of ``columns`` (one value a row, any dtype) grouped by owner, each group's in row order
    (``column[grouped_order(owners, groups)]``), and each group's row count (``np.bincount(owners, minlength=groups)``),
    made ``chunk`` rows at a time (``GROUP_CHUNK``): each chunk's rows are grouped by their own stable sort and written
    straight to their places in the result, after the rows of their group in earlier chunks (``base``: the group's start
    plus its rows in the chunks before). The same arrays as one stable sort of every row, without that sort's order and
    buffer and the keys' cast for ``bincount`` (three temporaries of 8 bytes a row, each faulted in: at 6.9 M rows of
    1 001 groups 0.35 s against 0.12 in a micro run); several columns share each chunk's order and places, and each is
    read a chunk at a time (in the cache) instead of gathered whole in the grouped order (a random read a row: the
    1.3 M bonus rows of 9 000 nodes, four columns, grouped and gathered 0.12 s against 0.09 grouped together, micro run
    under load)."""
    rows, chunk = owners.size, chunk or GROUP_CHUNK
    starts = range(0, rows, chunk)
    per_chunk = np.zeros((len(starts), groups), dtype=np.int64)
    for c, s in enumerate(starts):
        per_chunk[c] = np.bincount(owners[s : s + chunk], minlength=groups)
    counts: npt.NDArray[np.int64] = per_chunk.sum(axis=0)
    before = np.cumsum(per_chunk, axis=0) - per_chunk  # each group's rows in the chunks before
    base = (np.cumsum(counts) - counts) + before  # where a group's first row of each chunk goes
    out = [np.empty(rows, dtype=column.dtype) for column in columns]
    step = np.arange(min(chunk, rows), dtype=np.int64)
    for c, s in enumerate(starts):
        keys = owners[s : s + chunk]
        order = grouped_order(keys, groups)
        in_chunk = np.cumsum(per_chunk[c]) - per_chunk[c]  # where each group's rows start within the chunk's order
        # the chunk's i-th row in its order belongs to the group repeated there (each group's count, in group order)
        at = np.repeat(base[c] - in_chunk, per_chunk[c]) + step[: keys.size]
        for grouped, column in zip(out, columns, strict=True):
            grouped[at] = column[s : s + chunk][order]
    return out, counts


def first_seen(task: npt.NDArray[np.int64], starts: npt.NDArray[np.intp] | None = None) -> Sequence[int]:
    """The distinct values of ``task`` in the order they first appear (``dict.fromkeys``). A task's rows are appended
    together when it closes, so the first row of each run is usually a new task: when those are all distinct, they
    are the answer (each value has exactly one run: an ``IntColumn``, no Python integer per task); otherwise every
    row is looked at. ``starts``: ``task_runs(task)`` when the caller has it."""
    if task.size == 0:
        return []
    runs = task_runs(task) if starts is None else starts
    if runs is not None:
        return IntColumn(task[runs].astype(np.int64, copy=False))
    return list(dict.fromkeys(task.tolist()))


def _distinct(values: npt.NDArray[np.int64]) -> bool:
    """Whether no value of the (non-empty) ``values`` repeats: by a flag per value of their range when it spans fewer
    than 4 values per row (an epoch's task ids: a flag each, ~1 byte per id, no sort), else by a sort."""
    low, high = int(values.min()), int(values.max())
    if high - low < 4 * values.size:
        flags = np.zeros(high - low + 1, dtype=bool)
        flags[values - low] = True
        return int(np.count_nonzero(flags)) == values.size
    ordered = np.sort(values)
    return not bool((ordered[1:] == ordered[:-1]).any())


class EscalationCut(NamedTuple):
    """What ``escalation_shared`` finds: the escalation rows whose work counts less (ascending) and by how much of their
    agreement (0 for a row that does not count: ``compute_work_rewards``'s ``work_cut``), and how many network tasks had
    rows past the first round's."""

    rows: npt.NDArray[np.int64]
    cut_ppb: npt.NDArray[np.int64]
    tasks: int
    from_bond: npt.NDArray[np.int64] | None = None  # RULES_ESCALATION_FUNDED: validation units each node (by name index) pays from its bond


NO_CUT = EscalationCut(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0)


def escalation_shared(columns: RowColumns, validators_per_task: int, starts: npt.NDArray[np.intp] | None = None) -> EscalationCut:
    """Which validation rows' work counts less from ``RULES_ESCALATION_SHARE``, and by how much. A network task's rows
    together count at most ``validators_per_task`` whole validations: its first ``validators_per_task`` rows in draw
    order (its first round) count at their agreement, as before; the rows after them (its escalation rounds) share what
    the first left of that:

        left    = validators_per_task × 10**9 − Σ agreement of the first rows that count (on time)
        counted = min(agreement, left // L)      L = the task's rows after the first that count (on time)

    so a task's validation is paid once: an escalation's validators are paid from what its first round did not earn (a
    late first-round validator's row, the agreement a disagreement cost), never from the first round's pay. The cut of
    a later row is agreement − counted (0 for a row that does not count: it has no work). Integers throughout (left ≤
    32 × 10**9); the floors are unclaimed and stay in the pool. Only the rows of a network task with more than
    ``validators_per_task`` rows are read again: the usual epoch has none (``NO_CUT``).

    A task's rows are appended together when it closes, in draw order (``tasks._record_work``, once per task), so each
    task is one run of equal ids (``starts``: ``task_runs``, when the caller has them); when the runs' first ids are not
    all distinct (a task in two runs: never written by the core) the rows are taken in task order (a stable sort: each
    task's rows keep their order). The tasks of one row count are read as one table (a task a line), not row by row; the
    rows found are in row order (one table's are; several tables' are sorted)."""
    task = columns.task
    if task.size == 0:
        return NO_CUT
    runs = task_runs(task) if starts is None else starts
    if runs is not None:
        return _cut_in_runs(runs, columns.in_consensus, columns.network, columns.quality, validators_per_task, None)
    order = np.argsort(task, kind="stable")
    ordered = task[order]
    runs = run_starts(ordered)
    return _cut_in_runs(runs, columns.in_consensus, columns.network, columns.quality, validators_per_task, order)


def task_runs(task: npt.NDArray[np.int64]) -> npt.NDArray[np.intp] | None:
    """Where each run of equal task ids starts, when no id has two runs (each task's rows together, as the core appends
    them); None otherwise (or without rows)."""
    if task.size == 0:
        return None
    starts = run_starts(task)
    return starts if _distinct(task[starts]) else None


def run_starts(values: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Where each run of equal consecutive ``values`` starts (the first at 0)."""
    starts: npt.NDArray[np.intp] = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))
    return starts


def _cut_in_runs(
    starts: npt.NDArray[np.intp],
    on_time: npt.NDArray[np.bool_],
    network: npt.NDArray[np.bool_],
    quality: npt.NDArray[np.int64],
    cap: int,
    order: npt.NDArray[np.intp] | None,
) -> EscalationCut:
    """``escalation_shared`` over the rows in ``order`` (None: as they are), whose tasks are runs starting at ``starts``;
    a task's rows share its kind, so its first row says whether it is a network task."""
    lengths = np.diff(np.append(starts, on_time.size))
    first_row = starts if order is None else order[starts]
    over = (lengths > cap) & network[first_row]
    if not over.any():
        return NO_CUT
    over_starts, over_lengths = starts[over], lengths[over]
    found_rows, found_cuts = [], []
    for length in np.flatnonzero(np.bincount(over_lengths)).tolist():  # the tasks of one row count as a table (usually one or two counts)
        table = over_starts[over_lengths == length][:, None] + np.arange(length)  # a task a line, its rows in order
        rows = table if order is None else order[table]
        counts, counted = on_time[rows], quality[rows]
        if not counts.all():
            counted *= counts  # a row that does not count: 0 (no work, so no cut)
        left = cap * PPB - counted[:, :cap].sum(axis=1)  # ≥ 0: cap rows of ≤ 10**9
        later_count = np.count_nonzero(counts[:, cap:], axis=1)
        cut = counted[:, cap:] - (left // np.maximum(later_count, 1))[:, None]  # agreement − min(agreement, left // L) ...
        np.maximum(cut, 0, out=cut)  # ... = max(agreement − left // L, 0)
        found_cuts.append(cut.ravel())
        found_rows.append(rows[:, cap:].ravel())
    if len(found_rows) == 1 and order is None:  # one table: its rows already in row order
        return EscalationCut(found_rows[0].astype(np.int64, copy=False), found_cuts[0], int(np.count_nonzero(over)))
    rows, cuts = np.concatenate(found_rows).astype(np.int64, copy=False), np.concatenate(found_cuts)
    if len(found_rows) > 1 or order is not None:  # tables of several row counts, or tasks taken out of row order
        ascending = np.argsort(rows, kind="stable")
        rows, cuts = rows[ascending], cuts[ascending]
    return EscalationCut(rows, cuts, int(np.count_nonzero(over)))


def escalation_paid(
    columns: RowColumns,
    starts: npt.NDArray[np.intp] | None = None,
    bond_units: npt.NDArray[np.int64] | Callable[[npt.NDArray[np.intp]], npt.NDArray[np.int64]] | None = None,
) -> EscalationCut:
    """Which validation rows' work counts less from ``RULES_ESCALATION_PAY``, and by how much: an escalation is paid by
    the reports that made it. For each network task with a row of a later round (``drawn_round`` > 0; the first round is
    the rows recorded in round 0, so the task's own record, not ``validators_per_task`` at the close):

        dissenting rows (``dissented``: the report made the task escalate)  count 0
        left      = F × 10**9 − Σ agreement of the first round's other rows that count (on time)        F = round-0 rows
        need      = max(0, Σ agreement of the later rounds' other rows that count − left)
        owed      = need // D by each of the task's D dissenters (D = 0: nothing is owed)
        funded    = what the dissenters pay of it: each dissenter's owed taken, task by task in row order, from its
                    capacity = Σ over its rows of what they count before any charge (its dissenting rows 0, its
                    later-round rows at their unfunded count below), as far as it reaches
        counted   = agreement × min(1, (left + funded) / Σ)  of each later-round row        Σ = Σ their agreement
                    (agreement × (left + funded) // Σ when short; in full when left + funded ≥ Σ)

    and each dissenter's funded charges are cut from its rows in row order (each row down to 0 at most). So an honest
    validator drawn into an escalation is paid for its validation as in a first round, as far as the dissenters' other
    validations of the epoch pay for it; a dissenter earns nothing for the task it disputed and pays for the escalation
    with what it earned elsewhere. Nobody is paid from the pool for an escalation beyond what its first round left and
    its dissenters gave up, so a cartel's escalation seats earn at most what its own dissenters pay. Integers
    throughout; the floors (need // D, the proportional counts) are unclaimed and stay in the pool.

    ``bond_units`` (``RULES_ESCALATION_FUNDED``, by name index): each node's capacity grows by that many validation units
    after its rows (its rows pay first); ``from_bond`` says how many of them each node's debts took (min(Σ debts −
    what its rows paid, bond_units)), and they fund the escalation as its rows would. The caller charges them. A
    callable instead is given the name indices of the nodes that owe (ascending) and returns ``bond_units`` with theirs
    (any value elsewhere: a node that owes nothing takes nothing), so only the debtors' bonds are read.

    Read column by column, no Python per task or per node (the same integers as the loop it replaced, kept as
    tests/support/escalation_paid_reference.py: tests/core/test_escalation_paid_vectorised.py). The escalated tasks'
    rows (found by the tasks' runs, ``starts``: ``task_runs``, when the caller has them) give each task's left, Σ, D and
    owed by ``np.add.reduceat``. The charges are running sums: a dissenter's take for its i-th debt (its debts in task
    order) is min(owed_i, capacity − what it paid before), and what it paid before is min(capacity, S_i−1), S the
    running sum of its debts (each take is min(owed, what is left), and what is left only falls), so take_i =
    min(C, S_i) − min(C, S_i−1) with C = min(capacity, S). C is found by reading each dissenter's network rows in row
    order only until they are worth its debts (``_rows_until``: a chunk of rows at a time, only the rows of dissenters
    still short); its charge is cut from those same rows (each row gives min(due, A_r) − min(due, A_r−1), A the running
    sum of what its rows count after the escalations are funded: at least what they counted before, so the rows read
    reach C), with no second pass over the columns: the scan keeps the rows it read, their nodes and worths and where the
    changed rows fall among them (``_Read``), and the charges go back to row order, so the cuts merge without a sort.
    The escalated tasks' row columns are freed once read (the close's peak memory is here). 1 M tasks, 10 % escalated, 1 000 validators
    (/work/coord/s34/esc_scale.py): 9.8 s as the loop."""
    task, rnd, dis = columns.task, columns.drawn_round, columns.dissented
    if task.size == 0 or rnd is None or dis is None:
        return NO_CUT
    network = columns.network
    is_later = (rnd > 0) & network
    if not is_later.any():
        return NO_CUT
    on, agreement, node = columns.in_consensus, columns.quality, columns.node
    rows, starts, group = _escalated_rows(task, network, is_later, task_runs(task) if starts is None else starts)
    ascending = _ascending(rows)  # always so when the tasks are runs: the tasks then come by their first row
    r_dis, r_on = dis[rows], on[rows]
    r_agr = agreement[rows].astype(np.int64, copy=False)
    first = rnd[rows] == 0
    counts = r_on & ~r_dis  # the rows that count: on time, not dissenting
    value = np.where(counts, r_agr, 0)
    total = np.add.reduceat(value, starts)
    value *= first  # (in place) the first round's
    first_sum = np.add.reduceat(value, starts)
    left = np.add.reduceat(first, starts, dtype=np.int64) * PPB - first_sum
    total -= first_sum  # Σ agreement of the later rounds' rows that count
    dissenters = np.add.reduceat(r_dis, starts, dtype=np.int64)
    owed = np.maximum(total - left, 0) // np.maximum(dissenters, 1)  # a task without a dissenter: nobody owes it
    short_mask = counts & ~first & (left < total)[group]  # the later rows counted in proportion
    changed_at = np.flatnonzero(short_mask | r_dis)  # the rows counting less than their agreement (positions in rows)
    is_short = short_mask[changed_at]
    del value, first, counts, short_mask, r_dis  # (freed once read, as below: the close's peak is here)
    short = changed_at[is_short]
    dissenting = changed_at[~is_short]  # task by task, each task's in row order
    short_task, short_agr = group[short], r_agr[short]
    unfunded = _times_over(short_agr, left[short_task], total[short_task])
    # the changed rows by row: their agreement when they count (a late row: no work, no cut) and what they count before
    # any charge (a dissenting row 0, a short row its unfunded count)
    changed = rows[changed_at]
    by_row = None if ascending else np.argsort(changed, kind="stable")
    base = np.where(r_on[changed_at], r_agr[changed_at], 0)
    before = np.zeros(changed.size, dtype=np.int64)
    before[is_short] = unfunded
    if by_row is not None:
        changed, base, before = changed[by_row], base[by_row], before[by_row]
    # each dissenter's debts in task order (the tasks by their first row), their running sum, its capacity up to it
    dis_rows, dis_task = rows[dissenting], group[dissenting]
    dis_node = node[dis_rows]
    if ascending:  # the dissenting rows already in task order, each task's in row order: a stable grouping by node
        debt_order = grouped_order(dis_node, len(columns.names))
    else:
        debt_order = np.lexsort((dis_rows, rows[starts][dis_task], dis_node))
    # the escalated tasks' rows are not read again: freed before the scan (~85 MB at 1 M tasks with the columns freed
    # above; what the close allocates past its peak is fresh pages, each faulted in)
    del rows, group, r_on, r_agr, changed_at, short, dissenting, dis_rows
    debt, debtor = owed[dis_task][debt_order], dis_node[debt_order]
    reach = _running_per_group(debt, debtor)  # Σ of the debtor's debts up to and including this one
    owes = np.zeros(len(columns.names), dtype=np.int64)
    if debt.size:
        last = np.append(np.flatnonzero(debtor[1:] != debtor[:-1]), debt.size - 1)
        owes[debtor[last]] = reach[last]
    charged, read = _rows_until(columns, owes, changed, before - base)  # min(capacity, Σ debts): what each dissenter pays
    from_bond = None
    paying = charged
    if bond_units is not None:  # RULES_ESCALATION_FUNDED: what its rows cannot pay, from its bond (after the rows)
        bonds = bond_units(np.flatnonzero(owes)) if callable(bond_units) else bond_units
        from_bond = np.minimum(owes - charged, np.maximum(bonds, 0))
        paying = charged + from_bond
    cap = paying[debtor]
    take = np.minimum(cap, reach) - np.minimum(cap, reach - debt)
    takes = np.empty_like(take)
    takes[debt_order] = take  # back in task order
    paid_in = np.concatenate(([0], np.cumsum(takes)))
    ends = np.cumsum(dissenters)
    funded = paid_in[ends] - paid_in[ends - dissenters]
    # the later rows' counts with what their dissenters paid; each dissenter's charge from the rows read, after those cuts
    counted = unfunded  # (its own: not read again) only the rows of a task its dissenters paid for count more
    paid = np.flatnonzero(funded[short_task])
    paid_task = short_task[paid]  # left + funded ≤ Σ (D × owed ≤ Σ − left)
    counted[paid] = _times_over(short_agr[paid], (left + funded)[paid_task], total[paid_task])
    after = np.zeros(is_short.size, dtype=np.int64)
    after[is_short] = counted
    if by_row is not None:
        after = after[by_row]
    base -= after  # each changed row's cut ...
    charge_rows, charge_cut = _charges(charged, read, after - before, base)  # ... and its charge (in place); the others'
    del read, before, after, counted, unfunded, short_task, short_agr, is_short
    rows_cut, cut = _merge_cuts(changed, base, charge_rows, charge_cut)
    kept = cut != 0
    return EscalationCut(rows_cut[kept], cut[kept], int(starts.size), from_bond)


def _ascending(values: npt.NDArray[Any]) -> bool:
    """Whether ``values`` strictly ascend."""
    return values.size < 2 or bool((values[1:] > values[:-1]).all())


def _merge_cuts(
    rows: npt.NDArray[np.intp], cut: npt.NDArray[np.int64], more_rows: npt.NDArray[np.intp], more_cut: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The cuts of ``rows`` and of ``more_rows`` (each ascending, none in both) in one ascending list of rows."""
    rows = rows.astype(np.int64, copy=False)
    if more_rows.size == 0:
        return rows, cut
    at = np.searchsorted(rows, more_rows)
    merged_cut: npt.NDArray[np.int64] = np.insert(cut, at, more_cut)
    return np.insert(rows, at, more_rows), merged_cut


def _escalated_rows(
    task: npt.NDArray[np.int64], network: npt.NDArray[np.bool_], is_later: npt.NDArray[np.bool_], runs: npt.NDArray[np.intp] | None
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The network rows of the tasks with a row where ``is_later``, grouped by task (each task's rows in row order),
    where each task's rows start, and each row's task (its place among them). With ``runs`` (each task one run of rows:
    ``task_runs``) only the runs holding a later row are read (the tasks by their first row: the runs whose
    ``np.logical_or.reduceat`` of ``is_later`` holds); else every row's task is looked up and the rows grouped by a
    stable sort (the tasks by id)."""
    if runs is not None:
        hit = np.flatnonzero(np.logical_or.reduceat(is_later, runs))
        begin, length = runs[hit], np.diff(np.append(runs, task.size))[hit]
        run = np.repeat(np.arange(hit.size), length)
        firsts = np.cumsum(length) - length
        rows = np.repeat(begin - firsts, length)
        rows += np.arange(rows.size)
        keep = network[rows]
        if keep.all():  # a task's rows share its kind: the usual case, no copy
            return rows, firsts, run
        rows, run = rows[keep], run[keep]  # (every task keeps its later row: the tasks' places stay 0, 1, ...)
        return rows, run_starts(run), run
    rows = np.flatnonzero(np.isin(task, np.unique(task[is_later])) & network)
    rows = rows[np.argsort(task[rows], kind="stable")]  # the tasks by id (each one's rows in row order)
    ordered = task[rows]
    starts = run_starts(ordered)
    return rows, starts, np.repeat(np.arange(starts.size), np.diff(np.append(starts, rows.size)))


SCAN_CHUNK = 2**16  # the rows ``_rows_until`` reads at a time


class _Read(NamedTuple):
    """The network rows ``_rows_until`` read (ascending), their nodes and worths (before any charge), and where the
    changed rows among them are: ``at`` (places in ``rows``) of the changed rows ``which`` (places in ``changed``)."""

    rows: npt.NDArray[np.intp]
    owner: npt.NDArray[np.int32]
    worth: npt.NDArray[np.int64]
    at: npt.NDArray[np.intp]
    which: npt.NDArray[np.intp]


def _rows_until(
    columns: RowColumns, need: npt.NDArray[np.int64], changed: npt.NDArray[np.intp], change: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], _Read]:
    """What each node gets of its ``need`` (by node index; 0: none) from its network rows: min(need, Σ their worth), a row
    worth its agreement when in consensus, else 0, plus ``change`` for the rows ``changed`` (ascending; a change ≤ 0 and
    never below the row's worth); and the rows read (``_Read``, in row order: what ``_charges`` takes from). Only the rows
    of nodes still short are read, ``SCAN_CHUNK`` rows at a time in row order, so a dissenter worth its debts in its
    first rows costs no pass over its others, and the rows read past the one that made a node's need are at most a
    chunk's; each chunk's sums by node are exact integers (``np.add.at``, int64: Σ of at most 2**31 rows of ≤ 10**9
    each), and its changed rows are found among its rows read (a ``searchsorted`` within the chunk's)."""
    node, network, on, agreement = columns.node, columns.network, columns.in_consensus, columns.quality
    got = np.zeros(need.size, dtype=np.int64)
    parts: list[tuple[npt.NDArray[Any], ...]] = []
    start, read = 0, 0
    short = need > 0
    while start < node.size and short.any():
        end = min(node.size, start + SCAN_CHUNK)
        sel = np.flatnonzero(short[node[start:end]] & network[start:end]) + start
        if sel.size:
            owner = node[sel]
            worth = np.where(on[sel], agreement[sel], 0).astype(np.int64, copy=False)
            lo, hi = np.searchsorted(changed, [start, end])
            which = np.flatnonzero(short[node[changed[lo:hi]]]) + lo  # the chunk's changed rows of the nodes read ...
            at = np.searchsorted(sel, changed[which])  # ... each among them (a changed row is a network row)
            worth[at] += change[which]
            sums = np.zeros(need.size, dtype=np.int64)
            np.add.at(sums, owner, worth)
            got = np.minimum(need, got + sums)  # a node not read: + 0
            parts.append((sel, owner, worth, at + read, which))
            read += sel.size
            short = got < need
        start = end
    if not parts:
        empty = np.zeros(0, dtype=np.intp)
        return got, _Read(empty, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64), empty, empty)
    return got, _Read(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def _charges(
    due: npt.NDArray[np.int64], read: _Read, change: npt.NDArray[np.int64], cut: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Each node's ``due`` (by node index) taken from its rows ``read`` in row order, each row giving min(what is still
    due, what it counts): its worth as read, plus ``change`` for the changed rows. The rows read must be worth the due
    (``_rows_until`` read each node's rows until they were worth at least that, counted no higher). What a changed row
    gives is added to its ``cut`` (in place, by place in ``changed``); returns the other rows given from (ascending) and
    what each gave. A running sum per node (its rows grouped by a stable sort): the row with running count A gives
    min(due, A) − min(due, A − its count)."""
    if read.rows.size == 0:
        return read.rows, read.worth
    worth = read.worth  # (``_rows_until``'s own)
    worth[read.at] += change[read.which]
    order = grouped_order(read.owner, due.size)
    owner, value = read.owner[order], worth[order]
    upto = _running_per_group(value, owner)
    limit = due[owner]  # (0 for a node that pays nothing: it gives nothing)
    give = np.subtract(upto, value, out=value)  # (in place: each array the close allocates is fresh pages)
    np.minimum(limit, give, out=give)
    give = np.subtract(np.minimum(limit, upto, out=upto), give, out=give)
    given = np.empty_like(give)
    given[order] = give  # back in row order
    cut[read.which] += given[read.at]
    given[read.at] = 0
    gave = np.flatnonzero(given)
    return read.rows[gave], given[gave]


def _times_over(a: npt.NDArray[np.int64], x: npt.NDArray[np.int64], t: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """a × x // t exactly (floor division, each row): in int64 where the product fits, in Python integers where it may
    not (an agreement of 10**9 times a leftover past ~4.6 validations). Every product fits when max |a| × max |x| <
    2**62 (exact, in Python integers: one check, the usual epoch's case); else each row's by a float bound (|a × x| <
    2**62, a factor 2 of margin)."""
    out: npt.NDArray[np.int64] = a * x
    out //= np.maximum(t, 1)
    if a.size == 0 or max(int(a.max()), -int(a.min())) * max(int(x.max()), -int(x.min())) < 2**62:  # every product fits
        return out
    wide = np.flatnonzero(np.abs(a.astype(np.float64) * x.astype(np.float64)) >= 2.0**62)
    if wide.size:
        out[wide] = [ai * xi // ti for ai, xi, ti in zip(a[wide].tolist(), x[wide].tolist(), t[wide].tolist())]
    return out


def _running_per_group(values: npt.NDArray[np.int64], groups: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
    """The running sum of ``values`` within each run of equal ``groups`` (inclusive), in their order."""
    if values.size == 0:
        return values.copy()
    running: npt.NDArray[np.int64] = np.cumsum(values)
    firsts = run_starts(groups)
    lengths = np.diff(np.append(firsts, values.size))
    running -= np.repeat(running[firsts] - values[firsts], lengths)
    return running
