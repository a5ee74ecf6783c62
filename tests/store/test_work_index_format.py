"""The work index's chunk layouts (store/work_index_format.py): layout 2 round-trips any chunk (hypothesis: any int64
task ids, int32 nodes, flags; the reference is the arrays given), a layout-1 row (session 31's packed columns) still
decodes, and a malformed value of either is refused with ``MalformedChunk`` naming why."""

from __future__ import annotations

import tracemalloc
import zlib
from array import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.store.work_index_format import LAYOUT, MalformedChunk, decode_chunk, decode_names, encode_chunk, is_layout2

INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def chunks(draw: st.DrawFn) -> tuple[list[int], list[int], list[bool]]:
    n = draw(st.integers(0, 300))
    # task ids: any int64, or runs of one id as a flush's settled tasks give them (deltas 0 within, small between)
    if draw(st.booleans()):
        tasks = draw(st.lists(INT64, min_size=n, max_size=n))
    else:
        first = draw(st.integers(0, 2**40))
        steps = draw(st.lists(st.integers(-3, 300), min_size=n, max_size=n))
        tasks = [first + sum(steps[: i + 1]) for i in range(n)]
    nodes = draw(st.lists(draw(st.sampled_from([st.integers(0, 200), st.integers(0, 40_000), INT32])), min_size=n, max_size=n))
    flags = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return tasks, nodes, flags


def as_arrays(tasks: list[int], nodes: list[int], flags: list[bool]) -> tuple[array[int], array[int], array[int]]:
    return array("q", tasks), array("i", nodes), array("b", [int(f) for f in flags])


@settings(max_examples=300, deadline=None)
@given(chunks())
def test_layout_2_round_trips_any_chunk(chunk):
    tasks, nodes, flags = chunk
    value = encode_chunk(*as_arrays(tasks, nodes, flags))
    assert value[0] == LAYOUT and is_layout2(value, b"", b"")
    ts, nd, c = decode_chunk(len(tasks), value, b"", b"")
    assert ts.dtype == np.int64 and nd.dtype == np.int32 and c.dtype == np.int8
    assert ts.tolist() == tasks and nd.tolist() == nodes and c.tolist() == [int(f) for f in flags]


@settings(max_examples=100, deadline=None)
@given(chunks())
def test_layout_1_rows_still_decode(chunk):
    tasks, nodes, flags = chunk
    ts, nd, c = as_arrays(tasks, nodes, flags)
    assert not is_layout2(ts.tobytes(), nd.tobytes(), c.tobytes())
    got = decode_chunk(len(tasks), ts.tobytes(), nd.tobytes(), c.tobytes())
    assert [x.tolist() for x in got] == [tasks, nodes, [int(f) for f in flags]]


def settled(tasks: int, rows: int = 10, nodes: int = 1000) -> tuple[array[int], array[int], array[int]]:
    rng = np.random.default_rng(0)
    return (
        array("q", np.repeat(np.arange(1, tasks + 1) + 10**6, rows).tolist()),
        array("i", rng.integers(0, nodes, tasks * rows).tolist()),
        array("b", (rng.random(tasks * rows) > 0.1).astype(int).tolist()),
    )


def test_a_flushs_rows_take_a_fraction_of_layout_1():
    """125 settled tasks of 10 rows (a group commit's chunk): narrow widths and zlib, well under layout 1's 13 bytes a row."""
    ts, nd, c = settled(125)
    value = encode_chunk(ts, nd, c)
    assert value[1] & 0x10  # deflated: it paid
    assert value[1] & 3 == 0 and value[1] >> 2 & 3 == 1  # 1-byte task deltas, 2-byte nodes
    assert len(value) < 4 * len(ts) < 13 * len(ts)
    one_row = encode_chunk(array("q", [7]), array("i", [3]), array("b", [1]))
    assert one_row == bytes((LAYOUT, 0)) + (7).to_bytes(8, "little") + bytes([3, 1])  # too short to pay for zlib: stored as it is


def malformed(value: bytes, n: int, needle: str, nodes: bytes = b"", counted: bytes = b"") -> None:
    with pytest.raises(MalformedChunk, match=needle):
        decode_chunk(n, value, nodes, counted)


def test_malformed_chunks_are_refused_naming_why():
    ts, nd, c = settled(20)
    value = encode_chunk(ts, nd, c)
    n = len(ts)
    decode_chunk(n, value, b"", b"")  # (the value itself decodes)
    malformed(value, n + 1, "not the")  # a row count that is not the chunk's
    malformed(bytes([3]) + value[1:], n, "layout byte 3")
    malformed(value[:1] + bytes([value[1] | 0x20]) + value[2:], n, "flags")
    malformed(value[:1] + bytes([value[1] | 0x0C]) + value[2:], n, "8 bytes wide")
    malformed(value[:-1], n, "zlib")  # truncated
    malformed(value + b"x", n, "does not end")
    malformed(value[:2] + bytes([value[2] ^ 0xFF]) + value[3:], n, "zlib")  # a flipped byte: the stream (or its check) fails
    plain = encode_chunk(array("q", [1, 2]), array("i", [0, 1]), array("b", [1, 0]))
    assert not plain[1] & 0x10
    malformed(plain[:-1] + bytes([plain[-1] | 0x80]), 2, "bits set past")
    malformed(plain[:-1], 2, "not the")
    malformed(value, n, "layout 1", counted=c.tobytes())  # a layout-2 value with a counted column: neither layout
    bomb = bytes((LAYOUT, 0x10)) + zlib.compress(bytes(10**7), 1)
    tracemalloc.start()
    malformed(bomb, 2, "does not end")
    assert tracemalloc.get_traced_memory()[1] < 10**6  # decompressed no further than 2 rows' size (not the 10 MB)
    tracemalloc.stop()
    malformed(ts.tobytes(), n, "layout 1", nd.tobytes(), c.tobytes()[:-1])  # a layout-1 row short of a flag
    malformed(value, -1, "row count")
    with pytest.raises(ValueError, match="differ in length"):
        encode_chunk(ts, nd, c[:-1])


def test_a_chunks_new_names_are_a_json_list_of_names():
    assert decode_names('["0xa", "0xb"]') == ["0xa", "0xb"] and decode_names(b"[]") == []
    for bad in ("not json", '{"0xa": 1}', "[1, 2]", '["0xa", null]', '"0xa"'):
        with pytest.raises(MalformedChunk, match="new_names are not a list of names"):
            decode_names(bad)
