"""How a work index chunk (``db.work_index``, docs/design.md §6) holds its rows: packed columns (layout 1), or one narrow,
compressed value (layout 2, from session 32).

A chunk is the rows one flush took of one family and epoch: each row's task id (int64), node (an int32 index into the
epoch's interned names) and counted flag. Layout 1 (session 31) stores them as they are in memory, in three columns:
``tasks`` the int64s, ``nodes`` the int32s, ``counted`` one int8 a row (13 bytes a row, ~106 bytes a settled task).
Layout 2 stores the whole chunk in ``tasks`` and leaves ``nodes`` and ``counted`` empty:

    byte 0: 2 (the layout)
    byte 1: bits 0-1 the task deltas' width, bits 2-3 the nodes' width (0, 1, 2, 3: 1, 2, 4, 8 bytes), bit 4 set when the
            body is zlib-compressed (level 1, taken only when it is shorter), bits 5-7 zero
    body:   the first task id (int64) ‖ each next task id minus the one before (modulo 2**64) ‖ the nodes
            ‖ the counted flags as bits (row i is bit i % 8 of byte i // 8; the last byte's spare bits zero)

every integer little-endian and signed, in the narrowest of 1, 2, 4, 8 bytes that holds the chunk's least and greatest (the
nodes at most 4). A chunk's rows are one flush's settled tasks, a task's rows next to each other: its deltas are 0 within a
task and small between tasks (one byte), its nodes an epoch's few thousand (two bytes), and zlib takes most of the rest
(the runs of zeros, the repeated flags). ``row_count`` says how many rows the chunk holds; no row (``row_count`` 0): an
empty body.

Which layout a row has is in the row: layout 2 iff ``nodes`` and ``counted`` are empty and ``tasks`` is not (a layout-1
row of rows has one ``counted`` byte a row; a layout-1 row without rows has all three empty). Readers take both; writers
write layout 2. ``decode_chunk`` refuses anything else with ``MalformedChunk`` (a statement then reads the tasks' records;
``cor verify`` names the chunk).
"""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

LAYOUT = 2
_WIDTHS = (1, 2, 4, 8)
_DEFLATED = 0x10
ZLIB_LEVEL = 1


class MalformedChunk(ValueError):
    """A stored chunk that is no chunk of ``row_count`` rows in either layout (the message says why)."""


def _width(least: int, greatest: int) -> int:
    """The code (an index of ``_WIDTHS``) of the narrowest signed width that holds ``least`` .. ``greatest``."""
    for code, w in enumerate(_WIDTHS):
        bound = 1 << (8 * w - 1)
        if -bound <= least and greatest < bound:
            return code
    raise ValueError(f"{least}..{greatest} do not fit 8 bytes")


def _le(values: npt.NDArray[np.integer[Any]], width: int) -> bytes:
    import numpy as np

    return values.astype(np.dtype(f"<i{width}")).tobytes()


def encode_chunk(tasks: npt.ArrayLike, nodes: npt.ArrayLike, counted: npt.ArrayLike) -> bytes:
    """The layout-2 value of a chunk of rows (``tasks`` int64, ``nodes`` int32, ``counted`` flags: any array-likes, the
    ``array`` columns of ``projections.IndexChunk`` included, without a copy)."""
    import numpy as np

    ts = np.asarray(tasks, dtype=np.int64)
    nd = np.asarray(nodes, dtype=np.int32)
    flags = np.asarray(counted) != 0
    n = len(ts)
    if len(nd) != n or len(flags) != n:
        raise ValueError(f"a chunk's columns differ in length: {n} tasks, {len(nd)} nodes, {len(flags)} flags")
    if n == 0:
        return bytes((LAYOUT, 0))
    deltas = np.diff(ts.view(np.uint64)).view(np.int64)  # (modulo 2**64: any int64 ids)
    tw = _width(int(deltas.min()), int(deltas.max())) if n > 1 else 0
    nw = _width(int(nd.min()), int(nd.max()))
    body = b"".join((_le(ts[:1], 8), _le(deltas, _WIDTHS[tw]), _le(nd, _WIDTHS[nw]), np.packbits(flags, bitorder="little").tobytes()))
    packed = zlib.compress(body, ZLIB_LEVEL)
    flag_byte = tw | nw << 2
    if len(packed) < len(body):
        return bytes((LAYOUT, flag_byte | _DEFLATED)) + packed
    return bytes((LAYOUT, flag_byte)) + body


def is_layout2(tasks: bytes, nodes: bytes, counted: bytes) -> bool:
    """Whether a stored row's columns are in layout 2 (the module doc: ``nodes`` and ``counted`` empty, ``tasks`` not)."""
    return len(tasks) > 0 and len(nodes) == 0 and len(counted) == 0


def decode_names(new_names: str | bytes) -> list[str]:
    """A stored chunk's ``new_names`` (the names interned since the chunk before: a JSON list of strings), or
    ``MalformedChunk`` when it is not one."""
    try:
        names = json.loads(new_names)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(a, str) for a in names):
        raise MalformedChunk("its new_names are not a list of names")
    return names


def decode_chunk(n: int, tasks: bytes, nodes: bytes, counted: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.int8]]:
    """A stored chunk of ``n`` rows (its ``row_count``) in either layout: its tasks (int64), nodes (int32) and counted flags
    (int8, 0 or 1). Raises ``MalformedChunk`` naming what is wrong."""
    import numpy as np

    if n < 0:
        raise MalformedChunk(f"a row count of {n}")
    if not is_layout2(tasks, nodes, counted):
        if len(tasks) != 8 * n or len(nodes) != 4 * n or len(counted) != n:
            raise MalformedChunk(f"{len(tasks)}, {len(nodes)} and {len(counted)} bytes are no {n} rows of layout 1 (8, 4 and 1 bytes a row)")
        return (
            np.frombuffer(tasks, dtype="<i8").astype(np.int64),
            np.frombuffer(nodes, dtype="<i4").astype(np.int32),
            (np.frombuffer(counted, dtype=np.int8) != 0).astype(np.int8),
        )
    tasks = bytes(tasks)  # (a memoryview from some drivers)
    if len(tasks) < 2 or tasks[0] != LAYOUT:
        raise MalformedChunk(f"layout byte {tasks[0]}, not {LAYOUT}")
    flag_byte = tasks[1]
    if flag_byte & ~(0x0F | _DEFLATED):
        raise MalformedChunk(f"flags {flag_byte:#04x} set bits no layout-2 chunk sets")
    tw, nw = _WIDTHS[flag_byte & 3], _WIDTHS[flag_byte >> 2 & 3]
    if nw > 4:
        raise MalformedChunk("nodes 8 bytes wide (a node index is an int32)")
    size = 8 + tw * (n - 1) + nw * n + (n + 7) // 8 if n else 0
    body = tasks[2:]
    if flag_byte & _DEFLATED:
        try:
            d = zlib.decompressobj()
            body = d.decompress(body, size + 1)  # (never more than the rows' size: a bomb stops there)
            if not d.eof or d.unused_data:
                raise MalformedChunk("its zlib stream does not end where the value does")
        except zlib.error as exc:
            raise MalformedChunk(f"its zlib stream does not decompress: {exc}") from None
    if len(body) != size:
        raise MalformedChunk(f"a body of {len(body)} bytes, not the {size} of {n} rows ({tw}-byte task deltas, {nw}-byte nodes)")
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8)
    at = 8 + tw * (n - 1)
    ts = np.empty(n, dtype=np.int64)
    ts[0] = np.frombuffer(body, dtype="<i8", count=1)[0]
    ts[1:] = np.frombuffer(body, dtype=f"<i{tw}", count=n - 1, offset=8)
    np.cumsum(ts, out=ts)  # (numpy's int64 sums wrap modulo 2**64, as the writer's deltas)
    nd = np.frombuffer(body, dtype=f"<i{nw}", count=n, offset=at).astype(np.int32)
    flags = np.unpackbits(np.frombuffer(body, dtype=np.uint8, offset=at + nw * n), bitorder="little")
    if flags[n:].any():
        raise MalformedChunk("bits set past its last row's counted flag")
    return ts, nd, flags[:n].view(np.int8)
