"""The marketplace stream's usage per model: the int64 group sums (``rewards.model_usage``) are the row-by-row sums in
Python integers (``rewards.model_usage_by_row``), up to the bounds that make them exact and past them (row by row)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.rewards import model_usage, model_usage_by_row

INT64_MAX = 2**63 - 1
NAMES = ["m0", "m1", "m2", "m3", "m4"]


@st.composite
def _rows(draw):
    n = draw(st.integers(0, 40))
    u_max = draw(st.one_of(st.integers(0, 10**6), st.integers(0, INT64_MAX)))
    at_bound = INT64_MAX // max(u_max, 1)  # max(units) × max(quality) just under 2**63; one more: just past it
    q_max = draw(st.one_of(st.just(at_bound), st.just(min(at_bound + 1, INT64_MAX)), st.integers(0, at_bound), st.integers(0, INT64_MAX)))
    near = lambda top: st.one_of(st.integers(0, top), st.integers(max(0, top - 2), top))  # noqa: E731
    model = draw(st.lists(st.integers(0, len(NAMES) - 1), min_size=n, max_size=n))
    units = draw(st.lists(near(u_max), min_size=n, max_size=n))
    quality = draw(st.lists(near(q_max), min_size=n, max_size=n))
    known = draw(st.sets(st.sampled_from(NAMES)))
    return [np.array(c, dtype=np.int64) for c in (model, units, quality)], known


@settings(max_examples=400, deadline=None)
@given(_rows())
def test_model_usage_is_the_row_by_row_sum(rows):
    (model, units, quality), known = rows
    got = model_usage(model, units, quality, NAMES, known)
    assert got == model_usage_by_row(model, units, quality, NAMES, known)
    assert all(type(v) is int for v in got.values())


def test_model_usage_sums_past_64_bits_exactly():
    """Products at the bound (max(units) × max(quality) just under 2**63) summed over many rows: the totals pass 2**64."""
    q = INT64_MAX // 3
    model, units, quality = (np.array(c, dtype=np.int64) for c in ([0] * 100 + [2] * 3, [3] * 103, [q] * 100 + [5] * 3))
    got = model_usage(model, units, quality, NAMES, {"m0", "m2"})
    assert got == {"m0": 100 * 3 * q, "m2": 45} and got["m0"] > 2**64
