"""``IntColumn``: an int64 array that every reader and writer takes for the list of its integers (core/int_column.py).

The close holds each node line's task ids and each stream's closed tasks as ``IntColumn`` slices instead of lists of
Python integers; nothing stored, hashed or published may change by a byte: the JSON view and text, the state codec's
encoding (state hash, snapshot), equality with the list, and a snapshot's round trip (which decodes a list)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.epoch_rows import first_seen
from cor_incentives.core.int_column import IntColumn
from cor_incentives.core.json_view import json_view
from cor_incentives.core.state import json_ready
from cor_incentives.core.state_codec import _any_dec, _any_enc
from cor_incentives.store import db
from cor_incentives.store.json_text import json_text

EDGES = [0, 1, -1, 2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, -(2**53), 2**63 - 1, -(2**63)]
int64s = st.one_of(st.sampled_from(EDGES), st.integers(-(2**63), 2**63 - 1), st.integers(0, 10**6))


@settings(max_examples=400, deadline=None)
@given(st.lists(int64s, max_size=30), st.integers(0, 30), st.integers(0, 30), st.booleans())
def test_a_column_is_written_hashed_and_compared_as_its_list(values, a, b, ranged_first):
    column = IntColumn(np.array(values, dtype=np.int64))
    if ranged_first:  # the slice inherits the whole column's range bound (tasks_by_node), which may exceed its own
        assert column.bound() == max(map(abs, values), default=0)
    part = column[a:b]  # a slice shares the buffer
    assert part.bound() >= max(map(abs, values[a:b]), default=0)
    for col, as_list in ((column, values), (part, values[a:b])):
        assert col == as_list and as_list == col and col == tuple(as_list) and col == IntColumn(np.array(as_list, dtype=np.int64))
        assert list(col) == as_list and col.tolist() == as_list and len(col) == len(as_list)
        assert all(type(v) is int for v in col)
        doc = {"tasks": col, "n": 1}
        ref = {"tasks": as_list, "n": 1}
        assert json_view(doc) == json_view(ref) and json_ready(doc) == json_ready(ref)
        assert json_text(doc) == json_text(ref) == db.dumps(json_view(ref))  # big values as decimal strings, as for the list
        assert _any_enc(doc) == _any_enc(ref) and _any_dec(_any_enc(doc)) == doc
        assert pickle.loads(pickle.dumps(col)) == col and copy.deepcopy(doc) == doc
    if values:
        assert column[0] == values[0] and column[-1] == values[-1]
        assert column != values[:-1] and column != [*values[:-1], values[-1] ^ 1]


def test_read_only_and_int64_only():
    column = IntColumn(np.arange(5, dtype=np.int64))
    with pytest.raises(ValueError):
        column.array[0] = 7
    with pytest.raises(AttributeError):
        column.array = np.zeros(2, dtype=np.int64)  # type: ignore[misc]
    for wrong in (np.arange(3, dtype=np.int32), np.arange(3, dtype=np.uint64), np.zeros((2, 2), dtype=np.int64), [1, 2, 3]):
        with pytest.raises(TypeError):
            IntColumn(wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash(column)


def test_a_slice_is_read_only_too():
    column = IntColumn(np.arange(4, dtype=np.int64))
    part = column[1:]
    assert part == [1, 2, 3] and isinstance(part, IntColumn)
    with pytest.raises(ValueError):
        part.array[0] = 9


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), max_size=40))
def test_first_seen_is_dict_fromkeys(task):
    seen = first_seen(np.array(task, dtype=np.int64))
    assert seen == list(dict.fromkeys(task)) and json_text(seen) == db.dumps(list(dict.fromkeys(task)))
