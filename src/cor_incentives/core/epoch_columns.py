"""The epoch's work and validation rows, held as columns while the epoch runs (docs/design.md §6).

A settled task appends one row per miner (``WorkRow``) and one per validator (``ValidationRow``). At a
million tasks that is eight million rows: as records (a journaled dataclass each, in a list) they do not
fit in 2 GB, and the close read them back into columns anyway. A ``WorkColumns`` / ``ValidationColumns``
store keeps each field as a column instead: integers and flags in ``array`` columns (amortised growth,
8 or 1 bytes a row), node ids and model ids interned to indices (``names``, in the order they first
appear in the rows), a task's kind as its index in ``KINDS``, and a user task's fee share, which can
exceed 64 bits, as an int64 ``array`` column while every share fits, as a list of Python ints from the first
that does not (``WorkColumns.fee_units``). The close reads the columns as numpy arrays (``epoch_rows``)
without building a record.

The store is what the rows were, and nothing else:

- ``append`` is the only write. Inside an event it journals one undo (``journal.on_undo``) that truncates
  every column and the interned names back, so a failing event leaves the store exactly as before, the
  interned names included (they stay "first appearance in the rows").
- Iterating (or indexing) gives the rows as records (``WorkRow`` / ``ValidationRow``), made on demand:
  views, tests and the state's canonical encoding read those. ``state_codec`` encodes a store exactly as
  it encoded the list of records, so the state hash and snapshots are unchanged.
- Two stores are equal when their rows are.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from .journal import on_undo
from .records import TaskKind, ValidationRow, WorkRow

if TYPE_CHECKING:  # numpy loads where the columns are read (the close), not with the state: a read command never needs it
    import numpy as np
    import numpy.typing as npt

KINDS: tuple[TaskKind, ...] = tuple(TaskKind)
"""A row's task kind is held as its index here."""
_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}


class Interned:
    """Strings interned to indices in the order they were first added; truncated back by an undo."""

    __slots__ = ("names", "index")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def of(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i

    def truncate(self, n: int) -> None:
        for name in self.names[n:]:
            del self.index[name]
        del self.names[n:]

    def __len__(self) -> int:
        return len(self.names)


def _ints(column: array[int], rows: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.int64]:
    """A copy of an ``array('q')`` column as int64 (a copy: a view would pin the array's buffer against growth); with
    ``rows`` (positions), a copy of those rows only, in that order (the buffer's view lives only for the gather)."""
    import numpy as np

    if not len(column):
        return np.zeros(0, dtype=np.int64)
    view = np.frombuffer(column, dtype=np.int64)
    return view.copy() if rows is None else view[rows]


def _flags(column: array[int]) -> npt.NDArray[np.bool_]:
    import numpy as np

    return np.frombuffer(column, dtype=np.int8).astype(bool) if len(column) else np.zeros(0, dtype=bool)


def _index(column: array[int], rows: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.int64]:
    """An ``array('i')`` column of indices as int64; with ``rows`` (positions), those rows only, in that order."""
    import numpy as np

    if not len(column):
        return np.zeros(0, dtype=np.int64)
    view = np.frombuffer(column, dtype=np.int32)
    return (view if rows is None else view[rows]).astype(np.int64)


class RowStore:
    """What both stores share: the task and node columns, the interned nodes, undo and row views."""

    ROW: ClassVar[type[Any]]
    __slots__ = ("task", "node", "nodes")

    def __init__(self) -> None:
        self.task = array("q")
        self.node = array("i")  # index into ``nodes``
        self.nodes = Interned()

    def __len__(self) -> int:
        return len(self.task)

    def __iter__(self) -> Iterator[Any]:
        return (self.row(i) for i in range(len(self.task)))

    def __getitem__(self, i: int) -> Any:
        return self.row(range(len(self.task))[i])

    def row(self, i: int) -> Any:
        raise NotImplementedError

    def _columns(self) -> tuple[array[int], ...]:
        raise NotImplementedError

    def _mark(self) -> None:
        """Journal the undo of the append about to happen (nothing outside an event)."""
        on_undo(_truncate, self, len(self.task), self._interned_lengths())

    def _interned_lengths(self) -> tuple[int, ...]:
        return (len(self.nodes),)

    def _truncate(self, n: int, interned: tuple[int, ...]) -> None:
        for column in self._columns():
            del column[n:]
        self.nodes.truncate(interned[0])

    def extend(self, rows: Iterable[Any]) -> None:
        """Append each row record (tests, the benchmark's fast path)."""
        for r in rows:
            self.append_row(r)

    def append_row(self, r: Any) -> None:
        raise NotImplementedError

    def plain_columns(self) -> list[list[Any]]:
        """Every field of the rows as a list of plain values (names, bools, a kind's value), in the record's field order:
        what the canonical encoding of the rows holds, column by column."""
        raise NotImplementedError

    def node_index(self) -> npt.NDArray[np.int32]:
        """Each row's node as its index in ``nodes.names``: a copy of the int32 column as it is (4 bytes a row; the close
        reads it to gather each row's index among its stream's nodes and to count and mark rows, which int32 indices do
        as int64 ones would: no column of 8 bytes a row made first, at 7.1 M validation rows 57 MB faulted in)."""
        import numpy as np

        if not len(self.node):
            return np.zeros(0, dtype=np.int32)
        return np.frombuffer(self.node, dtype=np.int32).copy()

    def tasks(self) -> npt.NDArray[np.int64]:
        return _ints(self.task)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RowStore) or type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def _key(self) -> tuple[Any, ...]:
        return (self._columns(), self.nodes.names)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} rows)"


def _truncate(store: RowStore, n: int, interned: tuple[int, ...]) -> None:
    store._truncate(n, interned)


class WorkColumns(RowStore):
    """The epoch's miner rows (``WorkRow``) as columns."""

    ROW = WorkRow
    __slots__ = ("complexity_units", "quality_ppb", "in_consensus", "precommitted", "model", "kind", "fee_units", "_wide_at", "models")

    def __init__(self) -> None:
        super().__init__()
        self.complexity_units = array("q")
        self.quality_ppb = array("q")
        self.in_consensus = array("b")
        self.precommitted = array("b")
        self.model = array("i")  # index into ``models``
        self.kind = array("b")  # index into KINDS
        # a user task's fee share, which may exceed 64 bits: int64 while every share fits (the close gathers them from the
        # buffer), a list of the Python integers from the first share that does not (``_wide_at``: its row) on; so the
        # column's form depends on its rows alone (a truncation below ``_wide_at`` takes it back to int64)
        self.fee_units: array[int] | list[int] = array("q")
        self._wide_at: int | None = None
        self.models = Interned()

    def append(
        self,
        task: int,
        node: str,
        complexity_units: int,
        quality_ppb: int,
        in_consensus: bool,
        precommitted: bool,
        model: str,
        kind: TaskKind,
        fee_units: int,
    ) -> None:
        """Append a miner's row (journaled: an event that fails later takes it back)."""
        self._mark()
        self.task.append(task)
        self.node.append(self.nodes.of(node))
        self.complexity_units.append(complexity_units)
        self.quality_ppb.append(quality_ppb)
        self.in_consensus.append(in_consensus)
        self.precommitted.append(precommitted)
        self.model.append(self.models.of(model))
        self.kind.append(_KIND_INDEX[kind])
        self._append_fee(fee_units)

    def _append_fee(self, fee_units: int) -> None:
        if self._wide_at is None:
            try:
                self.fee_units.append(fee_units)
                return
            except OverflowError:  # past int64: this column holds Python integers from now on
                self._wide_at = len(self.fee_units)
                self.fee_units = list(self.fee_units)
        self.fee_units.append(fee_units)

    def append_row(self, r: WorkRow) -> None:
        self.append(r.task, r.node, r.complexity_units, r.quality_ppb, r.in_consensus, r.precommitted, r.model, r.kind, r.fee_units)

    def row(self, i: int) -> WorkRow:
        return WorkRow(
            self.task[i],
            self.nodes.names[self.node[i]],
            self.complexity_units[i],
            self.quality_ppb[i],
            bool(self.in_consensus[i]),
            bool(self.precommitted[i]),
            self.models.names[self.model[i]],
            KINDS[self.kind[i]],
            self.fee_units[i],
        )

    def _columns(self) -> tuple[Any, ...]:
        return (
            self.task,
            self.node,
            self.complexity_units,
            self.quality_ppb,
            self.in_consensus,
            self.precommitted,
            self.model,
            self.kind,
            self.fee_units,
        )

    def _interned_lengths(self) -> tuple[int, ...]:
        return (len(self.nodes), len(self.models))

    def plain_columns(self) -> list[list[Any]]:
        return [
            self.task.tolist(),
            _names(self.node, self.nodes),
            self.complexity_units.tolist(),
            self.quality_ppb.tolist(),
            _bools(self.in_consensus),
            _bools(self.precommitted),
            _names(self.model, self.models),
            _kind_values(self.kind),
            list(self.fee_units),
        ]

    def _truncate(self, n: int, interned: tuple[int, ...]) -> None:
        super()._truncate(n, interned)
        self.models.truncate(interned[1])
        if self._wide_at is not None and n <= self._wide_at:  # every share left fits int64 again
            self.fee_units, self._wide_at = array("q", self.fee_units), None

    def _key(self) -> tuple[Any, ...]:
        return (*super()._key(), self.models.names)

    def units(self, rows: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.int64]:
        """Each row's complexity units (``rows``: those rows only, in that order)."""
        return _ints(self.complexity_units, rows)

    def quality(self, rows: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.int64]:
        """Each row's quality (``rows``: those rows only, in that order)."""
        return _ints(self.quality_ppb, rows)

    def consensus(self) -> npt.NDArray[np.bool_]:
        return _flags(self.in_consensus)

    def precommit(self) -> npt.NDArray[np.bool_]:
        return _flags(self.precommitted)

    def network(self) -> npt.NDArray[np.bool_]:
        return _is_network(self.kind)

    def model_index(self, rows: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.int64]:
        """Each row's model as its index in ``models.names`` (``rows``: those rows only, in that order)."""
        return _index(self.model, rows)


class ValidationColumns(RowStore):
    """The epoch's validator rows (``ValidationRow``) as columns."""

    ROW = ValidationRow
    __slots__ = ("agreement_ppb", "on_time", "kind", "canary_failed", "drawn_round", "dissented")

    def __init__(self) -> None:
        super().__init__()
        self.agreement_ppb = array("q")
        self.on_time = array("b")
        self.kind = array("b")
        self.canary_failed = array("b")
        self.drawn_round = array("b")  # the round that drew the row's validator (``escalation_rounds_max`` ≤ 8)
        self.dissented = array("b")

    def append(
        self,
        task: int,
        node: str,
        agreement_ppb: int,
        on_time: bool,
        kind: TaskKind,
        canary_failed: bool,
        drawn_round: int = 0,
        dissented: bool = False,
    ) -> None:
        """Append a validator's row (journaled: an event that fails later takes it back)."""
        self._mark()
        self.task.append(task)
        self.node.append(self.nodes.of(node))
        self.agreement_ppb.append(agreement_ppb)
        self.on_time.append(on_time)
        self.kind.append(_KIND_INDEX[kind])
        self.canary_failed.append(canary_failed)
        self.drawn_round.append(drawn_round)
        self.dissented.append(dissented)

    def append_row(self, r: ValidationRow) -> None:
        self.append(r.task, r.node, r.agreement_ppb, r.on_time, r.kind, r.canary_failed, r.drawn_round, r.dissented)

    def row(self, i: int) -> ValidationRow:
        return ValidationRow(
            self.task[i],
            self.nodes.names[self.node[i]],
            self.agreement_ppb[i],
            bool(self.on_time[i]),
            KINDS[self.kind[i]],
            bool(self.canary_failed[i]),
            self.drawn_round[i],
            bool(self.dissented[i]),
        )

    def _columns(self) -> tuple[Any, ...]:
        return (self.task, self.node, self.agreement_ppb, self.on_time, self.kind, self.canary_failed, self.drawn_round, self.dissented)

    def plain_columns(self) -> list[list[Any]]:
        return [
            self.task.tolist(),
            _names(self.node, self.nodes),
            self.agreement_ppb.tolist(),
            _bools(self.on_time),
            _kind_values(self.kind),
            _bools(self.canary_failed),
            self.drawn_round.tolist(),
            _bools(self.dissented),
        ]

    def quality(self) -> npt.NDArray[np.int64]:
        return _ints(self.agreement_ppb)

    def rounds(self) -> npt.NDArray[np.int8]:
        """Each row's drawn round (int8, as stored)."""
        import numpy as np

        out: npt.NDArray[np.int8] = np.frombuffer(self.drawn_round, dtype=np.int8).copy() if len(self.drawn_round) else np.zeros(0, dtype=np.int8)
        return out

    def dissent(self) -> npt.NDArray[np.bool_]:
        return _flags(self.dissented)

    def on_time_flags(self) -> npt.NDArray[np.bool_]:
        return _flags(self.on_time)

    def canary(self) -> npt.NDArray[np.bool_]:
        return _flags(self.canary_failed)

    def network(self) -> npt.NDArray[np.bool_]:
        return _is_network(self.kind)


def _names(column: array[int], interned: Interned) -> list[str]:
    return list(map(interned.names.__getitem__, column))


def _bools(column: array[int]) -> list[bool]:
    return list(map(bool, column))


def _kind_values(column: array[int]) -> list[str]:
    values = [k.value for k in KINDS]
    return list(map(values.__getitem__, column))


def _is_network(column: array[int]) -> npt.NDArray[np.bool_]:
    import numpy as np

    kinds: npt.NDArray[np.int8] = np.frombuffer(column, dtype=np.int8) if len(column) else np.zeros(0, dtype=np.int8)
    network: npt.NDArray[np.bool_] = kinds == _KIND_INDEX[TaskKind.NETWORK]
    return network


__all__ = ["KINDS", "Interned", "RowStore", "ValidationColumns", "WorkColumns"]
