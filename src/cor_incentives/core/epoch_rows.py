"""The epoch's work and validation rows as columns, for the close (docs/design.md §6).

``compute_work_rewards`` reads columns; the rows are records. Reading them one row at a time
through a stream's accessors costs a Python call per field per row, which at a million tasks (eight
million rows) is most of the close. ``work_columns`` and ``validation_columns`` read each field of
every row in one C-level pass (``operator.attrgetter`` under ``map``), so a stream's columns, its
node index and its per-node task lists cost a few passes at C speed. The values are exactly what
the streams' accessors give (``rewards.MINER_STREAM`` / ``VALIDATOR_STREAM``); only the way of
reading them differs.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from .records import TaskKind, ValidationRow, WorkRow
from .work_rewards import MAX_COMPLEXITY_UNITS


@dataclass(frozen=True)
class RowColumns:
    """One stream's rows, column by column, in row order."""

    task: list[int]
    node: list[str]
    network: npt.NDArray[np.bool_]  # a network task's row (its work earns at the rate)
    units: list[int]  # complexity units, at most MAX_COMPLEXITY_UNITS
    quality: npt.NDArray[np.int64]
    in_consensus: npt.NDArray[np.bool_]
    precommitted: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.task)


def _field(rows: list[Any], name: str) -> list[Any]:
    return list(map(operator.attrgetter(name), rows))


def _flags(values: list[Any]) -> npt.NDArray[np.bool_]:
    return np.fromiter(map(bool, values), dtype=bool, count=len(values))


def _network(rows: list[Any]) -> npt.NDArray[np.bool_]:
    kinds = _field(rows, "kind")
    return np.fromiter(map(operator.eq, kinds, repeat(TaskKind.NETWORK)), dtype=bool, count=len(kinds))


def work_columns(rows: list[WorkRow]) -> RowColumns:
    """Miner rows: units = complexity_units (capped), quality = quality_ppb, in consensus, precommitted."""
    cap = MAX_COMPLEXITY_UNITS
    units = [u if u <= cap else cap for u in _field(rows, "complexity_units")]
    in_consensus = _flags(_field(rows, "in_consensus"))
    return RowColumns(
        task=_field(rows, "task"),
        node=_field(rows, "node"),
        network=_network(rows),
        units=units,
        quality=np.array(_field(rows, "quality_ppb"), dtype=np.int64),
        in_consensus=in_consensus,
        precommitted=_flags(_field(rows, "precommitted")),
    )


def validation_columns(rows: list[ValidationRow]) -> RowColumns:
    """Validator rows: units = 1, quality = agreement_ppb, in consensus = precommitted = on time."""
    on_time = _flags(_field(rows, "on_time"))
    return RowColumns(
        task=_field(rows, "task"),
        node=_field(rows, "node"),
        network=_network(rows),
        units=[1] * len(rows),
        quality=np.array(_field(rows, "agreement_ppb"), dtype=np.int64),
        in_consensus=on_time,
        precommitted=on_time,
    )


def tasks_by_node(columns: RowColumns, node_index: npt.NDArray[np.int64], nodes: list[str]) -> dict[str, list[int]]:
    """Each node's tasks whose row is in consensus, in row order (nodes without one are absent)."""
    chosen = np.flatnonzero(columns.in_consensus)
    if chosen.size == 0:
        return {}
    owners = node_index[chosen]
    order = np.argsort(owners, kind="stable")
    tasks = np.array(columns.task, dtype=np.int64)[chosen][order].tolist()
    bounds = np.searchsorted(owners[order], np.arange(len(nodes) + 1)).tolist()
    return {nodes[i]: tasks[bounds[i] : bounds[i + 1]] for i in range(len(nodes)) if bounds[i] < bounds[i + 1]}
