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
from collections.abc import Sequence
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
    group's row count (``np.bincount(owners, minlength=groups)``), made ``chunk`` rows at a time (``GROUP_CHUNK``): each chunk's rows are
    grouped by their own stable sort and written straight to their places in the result, after the rows of their group
    in earlier chunks (``base``: the group's start plus its rows in the chunks before). The same array as one stable
    sort of every row, without that sort's order and buffer and the keys' cast for ``bincount`` (three temporaries of
    8 bytes a row, each faulted in: at 6.9 M rows of 1 001 groups 0.35 s against 0.12 in a micro run)."""
    rows, chunk = owners.size, chunk or GROUP_CHUNK
    starts = range(0, rows, chunk)
    per_chunk = np.zeros((len(starts), groups), dtype=np.int64)
    for c, s in enumerate(starts):
        per_chunk[c] = np.bincount(owners[s : s + chunk], minlength=groups)
    counts: npt.NDArray[np.int64] = per_chunk.sum(axis=0)
    before = np.cumsum(per_chunk, axis=0) - per_chunk  # each group's rows in the chunks before
    base = (np.cumsum(counts) - counts) + before  # where a group's first row of each chunk goes
    out = np.empty(rows, dtype=np.int64)
    step = np.arange(min(chunk, rows), dtype=np.int64)
    for c, s in enumerate(starts):
        keys = owners[s : s + chunk]
        order = grouped_order(keys, groups)
        in_chunk = np.cumsum(per_chunk[c]) - per_chunk[c]  # where each group's rows start within the chunk's order
        # the chunk's i-th row in its order belongs to the group repeated there (each group's count, in group order)
        out[np.repeat(base[c] - in_chunk, per_chunk[c]) + step[: keys.size]] = values[s : s + chunk][order]
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
    runs = np.concatenate(([0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1))
    return _cut_in_runs(runs, columns.in_consensus, columns.network, columns.quality, validators_per_task, order)


def task_runs(task: npt.NDArray[np.int64]) -> npt.NDArray[np.intp] | None:
    """Where each run of equal task ids starts, when no id has two runs (each task's rows together, as the core appends
    them); None otherwise (or without rows)."""
    if task.size == 0:
        return None
    starts = np.concatenate(([0], np.flatnonzero(task[1:] != task[:-1]) + 1))
    return starts if _distinct(task[starts]) else None


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


def escalation_paid(columns: RowColumns, starts: npt.NDArray[np.intp] | None = None) -> EscalationCut:
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

    Read column by column, no Python per task or per node (the same integers as the loop it replaced, kept as
    tests/support/escalation_paid_reference.py: tests/core/test_escalation_paid_vectorised.py). The escalated tasks'
    rows (found by the tasks' runs, ``starts``: ``task_runs``, when the caller has them) give each task's left, Σ, D and
    owed by ``np.add.reduceat``. The charges are running sums: a dissenter's take for its i-th debt (its debts in task
    order) is min(owed_i, capacity − what it paid before), and what it paid before is min(capacity, S_i−1), S the
    running sum of its debts (each take is min(owed, what is left), and what is left only falls), so take_i =
    min(C, S_i) − min(C, S_i−1) with C = min(capacity, S): only the first rows of a dissenter worth its debts are read
    (``_take_in_row_order``), and its charge is cut from its rows by the same pattern (each row gives min(due, A_r) −
    min(due, A_r−1), A the running sum of what its rows count). 1 M tasks, 10 % escalated, 1 000 validators
    (/work/coord/s34/esc_scale.py): 9.8 s as the loop."""
    task, rnd, dis = columns.task, columns.drawn_round, columns.dissented
    if task.size == 0 or rnd is None or dis is None:
        return NO_CUT
    network = columns.network
    later = np.flatnonzero((rnd > 0) & network)
    if later.size == 0:
        return NO_CUT
    on, agreement, node = columns.in_consensus, columns.quality, columns.node
    rows, starts = _escalated_rows(task, network, later, task_runs(task) if starts is None else starts)
    sizes = np.diff(np.append(starts, rows.size))
    group = np.repeat(np.arange(starts.size), sizes)  # each row's task (its place in the grouping)
    r_rnd, r_dis, r_on = rnd[rows], dis[rows], on[rows]
    r_agr = agreement[rows].astype(np.int64, copy=False)
    first = r_rnd == 0
    left = np.add.reduceat(first.astype(np.int64), starts) * PPB - np.add.reduceat(np.where(first & r_on & ~r_dis, r_agr, 0), starts)
    paid_later = (r_rnd > 0) & ~r_dis & r_on  # the later rounds' other rows that count
    total = np.add.reduceat(np.where(paid_later, r_agr, 0), starts)
    dissenters = np.add.reduceat(r_dis.astype(np.int64), starts)
    owed = np.maximum(total - left, 0) // np.maximum(dissenters, 1)  # a task without a dissenter: nobody owes it
    short = np.flatnonzero(paid_later & (left < total)[group])  # the later rows counted in proportion (positions in rows)
    short_task, short_agr = group[short], r_agr[short]
    unfunded = _times_over(short_agr, left[short_task], total[short_task])
    # what the escalated rows count before any charge: a dissenting row 0, a short row its unfunded count (by row)
    dissenting = np.flatnonzero(r_dis)  # positions in rows, task by task, each task's in row order
    dis_rows, short_rows = rows[dissenting], rows[short]
    changed = np.concatenate((dis_rows, short_rows))
    by_row = np.argsort(changed, kind="stable")
    changed = changed[by_row]
    # each dissenter's debts in task order (the tasks by their first row), their running sum, its capacity up to it
    dis_node = node[dis_rows].astype(np.int64)
    debt_order = np.lexsort((dis_rows, rows[starts][group[dissenting]], dis_node))
    debt, debtor = owed[group[dissenting]][debt_order], dis_node[debt_order]
    reach = _running_per_group(debt, debtor)  # Σ of the debtor's debts up to and including this one
    owes = np.zeros(len(columns.names), dtype=np.int64)
    if debt.size:
        last = np.append(np.flatnonzero(debtor[1:] != debtor[:-1]), debt.size - 1)
        owes[debtor[last]] = reach[last]
    before = np.concatenate((np.zeros(dis_rows.size, dtype=np.int64), unfunded))[by_row]
    charged = _take_in_row_order(columns, owes, changed, before)[2]  # min(capacity, Σ debts): what each dissenter pays
    cap = charged[debtor]
    take = np.minimum(cap, reach) - np.minimum(cap, reach - debt)
    takes = np.empty_like(take)
    takes[debt_order] = take  # back in task order
    paid_in = np.concatenate(([0], np.cumsum(takes)))
    ends = np.cumsum(dissenters)
    funded = paid_in[ends] - paid_in[ends - dissenters]
    # the later rows' counts with what their dissenters paid; each dissenter's charge from its rows after those cuts
    counted = _times_over(short_agr, (left + funded)[short_task], total[short_task])  # left + funded ≤ Σ (D × owed ≤ Σ − left)
    after = np.concatenate((np.zeros(dis_rows.size, dtype=np.int64), counted))[by_row]
    charge_rows, charge_cut, _ = _take_in_row_order(columns, charged, changed, after)
    all_rows = np.concatenate((dis_rows, short_rows, charge_rows)).astype(np.int64, copy=False)
    all_cut = np.concatenate((r_agr[dissenting] * r_on[dissenting], short_agr - counted, charge_cut))  # a late row: no work, no cut
    ascending = np.argsort(all_rows, kind="stable")
    all_rows, all_cut = all_rows[ascending], all_cut[ascending]
    if all_rows.size:  # a row cut twice (its escalation and a charge): one cut, their sum
        firsts = np.concatenate(([0], np.flatnonzero(all_rows[1:] != all_rows[:-1]) + 1))
        all_rows, all_cut = all_rows[firsts], np.add.reduceat(all_cut, firsts)
    kept = all_cut != 0
    return EscalationCut(all_rows[kept], all_cut[kept].astype(np.int64, copy=False), int(starts.size))


def _escalated_rows(
    task: npt.NDArray[np.int64], network: npt.NDArray[np.bool_], later: npt.NDArray[np.intp], runs: npt.NDArray[np.intp] | None
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The network rows of the tasks with a row in ``later``, grouped by task (each task's rows in row order), and where
    each task's rows start. With ``runs`` (each task one run of rows: ``task_runs``) only the runs holding a later row
    are read (the tasks by their first row); else every row's task is looked up and the rows grouped by a stable sort
    (the tasks by id)."""
    if runs is not None:
        hit = np.searchsorted(runs, later, side="right") - 1  # ascending (``later`` is)
        hit = hit[np.concatenate(([True], hit[1:] != hit[:-1]))]
        begin, length = runs[hit], np.diff(np.append(runs, task.size))[hit]
        run = np.repeat(np.arange(hit.size), length)
        rows = np.repeat(begin - (np.cumsum(length) - length), length) + np.arange(int(length.sum()))
        keep = network[rows]
        rows, run = rows[keep], run[keep]
        return rows, np.concatenate(([0], np.flatnonzero(run[1:] != run[:-1]) + 1))
    rows = np.flatnonzero(np.isin(task, np.unique(task[later])) & network)
    rows = rows[np.argsort(task[rows], kind="stable")]  # the tasks by id (each one's rows in row order)
    ordered = task[rows]
    return rows, np.concatenate(([0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1))


SCAN_CHUNK = 2**16  # the rows ``_take_in_row_order`` reads first (each further chunk twice the one before)


def _take_in_row_order(
    columns: RowColumns, need: npt.NDArray[np.int64], changed: npt.NDArray[np.intp], worth: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each node's ``need`` (by node index; 0: none) taken from its network rows in row order, each row giving
    min(what is still needed, what it is worth): its agreement when in consensus, else 0, or ``worth`` for the rows
    ``changed`` (ascending). Returns the rows taken from (by node, each node's in row order), what each gave, and what
    each node got: min(need, Σ its rows' worth). A running sum per node: the row with running worth A gives
    min(need, A) − min(need, A − its worth). Only the rows of nodes still short are read, a chunk of rows at a time in
    row order (``SCAN_CHUNK``, doubling), so a dissenter that pays from its first rows costs no pass over its others."""
    node, network, on, agreement = columns.node, columns.network, columns.in_consensus, columns.quality
    got = np.zeros(need.size, dtype=np.int64)
    taken_rows: list[npt.NDArray[np.intp]] = []
    taken: list[npt.NDArray[np.int64]] = []
    start, size = 0, SCAN_CHUNK
    short = need > 0
    while start < node.size and short.any():
        end = min(node.size, start + size)
        sel = np.flatnonzero(short[node[start:end]] & network[start:end]) + start
        if sel.size:
            value = np.where(on[sel], agreement[sel], 0).astype(np.int64, copy=False)
            lo, hi = np.searchsorted(changed, [start, end])
            if hi > lo:  # the chunk's changed rows, by their place in the chunk (a row of a node not read: not picked)
                local = sel - start
                is_changed = np.zeros(end - start, dtype=bool)
                is_changed[changed[lo:hi] - start] = True
                now = np.zeros(end - start, dtype=np.int64)
                now[changed[lo:hi] - start] = worth[lo:hi]
                value = np.where(is_changed[local], now[local], value)
            owner = node[sel]
            order = grouped_order(owner, need.size)
            owner, value, sel = owner[order], value[order], sel[order]
            upto = _running_per_group(value, owner) + got[owner]
            limit = need[owner]
            give = np.minimum(limit, upto) - np.minimum(limit, upto - value)
            gave = np.flatnonzero(give)
            taken_rows.append(sel[gave])
            taken.append(give[gave])
            last = np.append(np.flatnonzero(owner[1:] != owner[:-1]), owner.size - 1)
            got[owner[last]] = np.minimum(limit[last], upto[last])
            short = got < need
        start, size = end, 2 * size
    if not taken:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64), got
    return np.concatenate(taken_rows), np.concatenate(taken), got


def _times_over(a: npt.NDArray[np.int64], x: npt.NDArray[np.int64], t: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """a × x // t exactly (floor division, each row): in int64 where the product fits (|a × x| < 2**62 by a float bound,
    a factor 2 of margin), in Python integers where it may not (an agreement of 10**9 times a leftover past ~4.6
    validations)."""
    out: npt.NDArray[np.int64] = a * x // np.maximum(t, 1)
    wide = np.flatnonzero(np.abs(a.astype(np.float64) * x.astype(np.float64)) >= 2.0**62)
    if wide.size:
        out[wide] = [ai * xi // ti for ai, xi, ti in zip(a[wide].tolist(), x[wide].tolist(), t[wide].tolist())]
    return out


def _running_per_group(values: npt.NDArray[np.int64], groups: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
    """The running sum of ``values`` within each run of equal ``groups`` (inclusive), in their order."""
    if values.size == 0:
        return values.copy()
    running: npt.NDArray[np.int64] = np.cumsum(values)
    firsts = np.concatenate(([0], np.flatnonzero(groups[1:] != groups[:-1]) + 1))
    lengths = np.diff(np.append(firsts, values.size))
    running -= np.repeat(running[firsts] - values[firsts], lengths)
    return running
