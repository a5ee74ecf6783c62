"""A read-only column of integers held as one int64 array: a list of integers as every reader and writer sees it.

An epoch record states millions of integers (at 1 M tasks × 10 k nodes: each node line's task ids, 9.2 M of them,
and each stream's tasks in the order they closed, 2 M): as lists they are as many Python integers, made at the close
(``ndarray.tolist``), walked by the collector and again by the document's text. ``IntColumn`` keeps them as the
int64 array the close computed them in (a slice of one grouped array shares its buffer), and is written exactly as
the list it stands for:

- ``json_view`` gives the list (big integers past ±2**53 as decimal strings, as for any list), ``store.json_text``
  hands the array to orjson (``OPT_SERIALIZE_NUMPY``) when its range is within ±2**53, else the view;
- ``state_codec`` encodes it as the list of its integers (a snapshot decodes that list: a reader must take either);
- it equals any sequence of the same integers (``==``), iterates and indexes as Python integers, and is never
  changed in place (its array is read-only), so the journal has nothing to undo.

So nothing that is stored, hashed or published changes: the document's bytes, the state hash and a snapshot are
those of the lists. Values are int64 by construction (the array's dtype is checked): anything wider stays a list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:  # numpy is imported where a column is made or compared: reading a record's JSON needs none
    import numpy as np
    import numpy.typing as npt


class IntColumn(Sequence[int]):
    """The integers of a 1-D int64 array, read-only, as a sequence of Python integers.

    The column takes the array over without a copy (a slice of one grouped array per node): whoever made it writes it
    no more (the column's own view of it is read-only, so no reader can)."""

    __slots__ = ("array", "_bound")
    __hash__ = None  # type: ignore[assignment]  # like the list it stands for

    array: npt.NDArray[np.int64]
    _bound: list[int]  # [the largest |value|, or an upper bound of it], once known (a slice's is its parent's)

    def __init__(self, values: npt.NDArray[np.int64], _bound: list[int] | None = None) -> None:
        import numpy as np

        if not isinstance(values, np.ndarray) or values.dtype != np.int64 or values.ndim != 1:
            raise TypeError(f"an IntColumn holds a 1-D int64 array, not {type(values).__name__} {getattr(values, 'dtype', '')}")
        array = values.view()
        array.flags.writeable = False
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "_bound", [] if _bound is None else _bound)

    def bound(self) -> int:
        """An upper bound of |value| over the column (its largest, or its parent's when it is a slice): a writer checks
        the range of a column once (JSON's ±2**53), not of each of the thousands of slices of one grouped array."""
        if not self._bound:
            a = self.array
            self._bound.append(max(-int(a.min()), int(a.max())) if a.size else 0)
        return self._bound[0]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("an IntColumn is read-only")

    def __len__(self) -> int:
        return int(self.array.shape[0])

    @overload
    def __getitem__(self, i: int) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> IntColumn: ...
    def __getitem__(self, i: int | slice) -> int | IntColumn:
        if isinstance(i, slice):
            return IntColumn(self.array[i], self._bound if self._bound else None)
        value: int = self.array.item(i)
        return value

    def __iter__(self) -> Iterator[int]:
        return iter(self.array.tolist())

    def tolist(self) -> list[int]:
        """The list this column stands for."""
        values: list[int] = self.array.tolist()
        return values

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IntColumn):
            return len(other) == len(self) and bool((self.array == other.array).all())
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and self.tolist() == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"IntColumn({self.tolist()!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (IntColumn, (self.array.copy(), list(self._bound)))

    def __deepcopy__(self, memo: dict[int, Any]) -> IntColumn:
        return self  # read-only: a copy would be the same values

    def __copy__(self) -> IntColumn:
        return self
