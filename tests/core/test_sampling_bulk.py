"""``WeightTree.set_many`` (one rebuild of the sums) and ``from_slots`` leave exactly what the ``set``
calls one by one leave: the same slots, weights, Fenwick sums, maxima, capacity, totals, and so the
same draws; and a refused event undoes a bulk rebuild like any other write (core journal)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.errors import EngineError
from cor_incentives.core.journal import journal
from cor_incentives.core.sampling import WeightTree


def _layout(t: WeightTree) -> tuple[object, ...]:
    return (t.cap, list(t.ids), dict(t.slot), list(t.weights), list(t.fen), list(t.mx), t.total, t.count)


NODES = st.sampled_from([f"n{i}" for i in range(40)])
ITEMS = st.lists(st.tuples(NODES, st.integers(min_value=0, max_value=10**20)), max_size=120)


@settings(max_examples=200, deadline=None)
@given(before=ITEMS, items=ITEMS, seed=st.binary(min_size=1, max_size=8))
def test_set_many_equals_set_one_by_one(before, items, seed):
    one, bulk = WeightTree(), WeightTree()
    for node, w in before:  # a tree already in use
        one.set(node, w)
        bulk.set(node, w)
    for node, w in items:
        one.set(node, w)
    bulk.set_many(items)
    assert _layout(bulk) == _layout(one)
    if one.count:
        assert bulk.draw(min(3, one.count), seed) == one.draw(min(3, one.count), seed)


@settings(max_examples=100, deadline=None)
@given(slots=st.lists(st.integers(min_value=0, max_value=10**20), max_size=100))
def test_from_slots_equals_the_slots_set_one_by_one(slots):
    named = [(f"n{i}", w) for i, w in enumerate(slots)]
    bulk = WeightTree.from_slots(named)
    assert bulk.slots() == named
    one = WeightTree()
    for node, w in named:  # what from_slots did before: every node takes its slot, weight 0 or not
        s = len(one.ids)
        if s > one.cap:
            one._grow()
        one.ids.append(node)
        one.slot[node] = s
        one._put(s, w)
    assert _layout(bulk) == _layout(one)


def test_a_bulk_rebuild_is_undone_with_its_event():
    tree = WeightTree()
    tree.set_many([(f"n{i}", i + 1) for i in range(50)])
    before = _layout(tree)
    with pytest.raises(EngineError), journal():
        tree.set_many([(f"n{i}", 7) for i in range(100)])  # re-weighs every node, adds 50, grows the capacity
        assert tree.cap == 128 and tree.total == 700
        raise EngineError("refused")
    assert _layout(tree) == before
