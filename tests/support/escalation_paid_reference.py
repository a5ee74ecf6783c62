"""Rule 31's ``escalation_paid`` as it first landed (a Python loop per escalated task, a pass over every row per dissenting
node), kept unchanged as the reference the vectorised ``core.epoch_rows.escalation_paid`` must equal bit for bit
(tests/core/test_escalation_paid_vectorised.py)."""

from __future__ import annotations

import numpy as np

from cor_incentives.core.epoch_rows import NO_CUT, EscalationCut, RowColumns
from cor_incentives.core.units import PPB


def escalation_paid_reference(columns: RowColumns) -> EscalationCut:
    """The loop ``epoch_rows.escalation_paid`` replaced (the rule-31 code as it landed, unchanged): a Python loop per
    escalated network task and, per dissenting node, a pass over every row."""
    task, rnd, dis = columns.task, columns.drawn_round, columns.dissented
    if task.size == 0 or rnd is None or dis is None:
        return NO_CUT
    later = np.flatnonzero((rnd > 0) & columns.network)
    if later.size == 0:
        return NO_CUT
    escalated = np.unique(task[later])
    rows = np.flatnonzero(np.isin(task, escalated) & columns.network)
    rows = rows[np.argsort(task[rows], kind="stable")]  # a task's rows together, in row order
    starts = np.concatenate(([0], np.flatnonzero(task[rows][1:] != task[rows][:-1]) + 1, [rows.size]))
    on, agreement, node = columns.in_consensus, columns.quality, columns.node
    counted: dict[int, int] = {}  # row -> what it counts before any charge (only rows that count less than their agreement or are charged)
    plans: list[
        tuple[int, list[int], int, int, int, list[int]]
    ] = []  # (first row of the task, later rows, left, Σ later, owed per dissenter, dissenters' nodes)
    for a, b in zip(starts[:-1].tolist(), starts[1:].tolist()):
        mine = rows[a:b]
        first = mine[rnd[mine] == 0]
        later_rows = [r for r in mine[rnd[mine] > 0].tolist() if not dis[r]]
        dissenting = [r for r in mine.tolist() if dis[r]]
        for r in dissenting:
            counted[r] = 0
        left = first.size * PPB - sum(int(agreement[r]) for r in first.tolist() if on[r] and not dis[r])
        total = sum(int(agreement[r]) for r in later_rows if on[r])
        for r in later_rows:  # unfunded: what the first round left, shared in proportion to agreement
            if on[r] and left < total:
                counted[r] = int(agreement[r]) * left // total
        owed = max(0, total - left) // len(dissenting) if dissenting else 0
        plans.append((int(mine[0]), later_rows, left, total, owed, [int(node[r]) for r in dissenting]))
    # each dissenter's capacity: its rows' counts before any charge
    owing = {n for *_, nodes in plans for n in nodes}
    own_rows = {n: np.flatnonzero((node == n) & columns.network) for n in sorted(owing)}  # a user task's row has no work here
    capacity = {n: sum(counted.get(r, int(agreement[r]) if on[r] else 0) for r in rs.tolist()) for n, rs in own_rows.items()}
    charged = dict.fromkeys(own_rows, 0)
    cut: dict[int, int] = {}
    for _, later_rows, left, total, owed, nodes in sorted(plans, key=lambda p: p[0]):  # the tasks in row order
        funded = 0
        for n in nodes:
            take = min(owed, capacity[n] - charged[n])
            charged[n] += take
            funded += take
        for r in later_rows:
            if on[r] and left < total:
                counted[r] = int(agreement[r]) if left + funded >= total else int(agreement[r]) * (left + funded) // total
    for r, c in counted.items():
        if on[r] and c < int(agreement[r]):
            cut[r] = int(agreement[r]) - c
    for n, rs in own_rows.items():  # the charges, from the dissenter's rows in row order
        due = charged[n]
        for r in rs.tolist():
            if due == 0:
                break
            if not on[r]:
                continue
            take = min(due, int(agreement[r]) - cut.get(r, 0))
            if take:
                cut[r] = cut.get(r, 0) + take
                due -= take
    found = sorted(r for r, c in cut.items() if c)
    return EscalationCut(np.array(found, dtype=np.int64), np.array([cut[r] for r in found], dtype=np.int64), len(plans))
