"""The O(log n) sampler: the same draws as the reference sampler; inclusion ∝ weight; no position effects."""

import itertools
from collections import Counter
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

import cor_incentives.core.sampling as sampling
from cor_incentives.core.sampling import WeightTree, capacity, reference_draw

NAMES = [f"n{i:03d}" for i in range(300)]
weights = st.one_of(st.just(0), st.integers(1, 20), st.integers(1, 10**6), st.integers(10**20, 10**24))
operations = st.lists(st.tuples(st.sampled_from(NAMES), weights), min_size=1, max_size=120)


def tree_of(ws: dict[str, int]) -> WeightTree:
    t = WeightTree()
    for n, w in ws.items():
        t.set(n, w)
    return t


def seeds(n: int):
    return (i.to_bytes(4, "big") for i in range(n))


@settings(max_examples=300, deadline=None)
@given(ops=operations, draws=st.lists(st.tuples(st.integers(1, 12), st.binary(min_size=1, max_size=16)), min_size=1, max_size=6))
def test_the_tree_draws_exactly_what_the_reference_draws(ops, draws):
    """Any history of weight changes (new nodes, raises, cuts, drops to zero, growth past the capacity)."""
    tree = WeightTree()
    for name, w in ops:
        tree.set(name, w)
        assert tree.total == sum(w for _, w in tree.slots())
        assert len(tree) == sum(1 for _, w in tree.slots() if w > 0)
    before = tree.slots()
    for k, seed in draws:
        got = tree.draw(k, seed)
        assert got == reference_draw(tree.slots(), k, seed)
        assert len(got) == len(set(got)) == min(k, len(tree))
        assert all(tree.weight(n) > 0 for n in got)
        assert tree.slots() == before  # certain nodes leave the pool only for the draw


def sampford_inclusion(ws: list[int], k: int) -> list[Fraction]:
    """Inclusion probabilities of Sampford's design, exactly: P(S) ∝ Σ_(i∈S) p_i Π_(j∈S∖i) λ_j with λ ∝ w / (W − k·w)."""
    total = sum(ws)
    p = [Fraction(w, total) for w in ws]
    lam = [Fraction(w, total - k * w) for w in ws]
    mass = {}
    for subset in itertools.combinations(range(len(ws)), k):
        mass[subset] = sum(p[i] * _prod(lam[j] for j in subset if j != i) for i in subset)
    z = sum(mass.values())
    return [sum(m for s, m in mass.items() if i in s) / z for i in range(len(ws))]


def _prod(xs):
    out = Fraction(1)
    for x in xs:
        out *= x
    return out


@settings(max_examples=60, deadline=None)
@given(ws=st.lists(st.integers(1, 40), min_size=2, max_size=8), k=st.integers(1, 4))
def test_the_design_includes_each_node_with_probability_k_w_over_w_exactly(ws, k):
    """The theorem the sampler rests on, in exact arithmetic: a split weighs the same as the whole."""
    if k >= len(ws) or max(ws) * k >= sum(ws):
        return  # certain nodes and "take all" are handled before this step
    pi = sampford_inclusion(ws, k)
    assert pi == [Fraction(k * w, sum(ws)) for w in ws]


def test_draws_follow_capped_pps_over_many_seeds():
    """The implementation: a certain node is always in; the rest share the remaining slots in proportion."""
    ws = {"big": 600, **{f"s{i}": 10 * (i + 1) for i in range(10)}, "near": 300}  # big: 600 × 3 ≥ 1450
    tree, runs, k = tree_of(ws), 8000, 3
    seen = Counter()
    for seed in seeds(runs):
        seen.update(tree.draw(k, seed))
    assert seen["big"] == runs
    rest = sum(w for n, w in ws.items() if n != "big")
    for n, w in ws.items():
        if n != "big":
            expected = runs * (k - 1) * w / rest
            assert abs(seen[n] - expected) < 5 * expected**0.5 + 5, (n, seen[n], expected)


def test_splitting_a_node_does_not_change_its_expected_slots():
    others = {f"o{i}": 10 + i for i in range(9)}
    whole, split = tree_of({**others, "op": 30}), tree_of({**others, "op1": 10, "op2": 10, "op3": 10})
    runs = 8000
    a = sum("op" in whole.draw(3, s) for s in seeds(runs))
    b = sum(len({"op1", "op2", "op3"} & set(split.draw(3, s))) for s in seeds(runs))
    expected = runs * 3 * 30 / (sum(others.values()) + 30)
    assert abs(a - expected) < 5 * expected**0.5 and abs(b - expected) < 5 * expected**0.5


def test_every_set_of_nodes_can_be_drawn_and_positions_do_not_matter():
    """Equal weights: every triple equally likely (an order-based scheme makes some triples impossible and
    others up to 2.5× as likely, and nodes choose their positions by when they join)."""
    tree, runs = tree_of({f"n{i}": 10 for i in range(10)}), 24_000
    triples = Counter(tuple(sorted(tree.draw(3, s))) for s in seeds(runs))
    assert len(triples) == 120
    expected = runs / 120
    assert max(abs(c - expected) for c in triples.values()) < 5 * expected**0.5
    # unequal weights: swapping two nodes' slots leaves the joint frequency of a pair unchanged
    ws = {f"n{i}": 5 + 3 * i for i in range(8)}
    swapped = dict(ws)
    swapped["n1"], swapped["n6"] = ws["n6"], ws["n1"]  # same weights, the two nodes in each other's slots
    a = Counter(frozenset(p) for s in seeds(runs) for p in itertools.combinations(tree_of(ws).draw(3, s), 2))
    b = Counter(frozenset(p) for s in seeds(runs) for p in itertools.combinations(tree_of(swapped).draw(3, s), 2))
    pair, mirrored = frozenset({"n1", "n3"}), frozenset({"n6", "n3"})  # n1 with n3 ↔ (in the swap) the node of n1's weight with n3
    assert abs(a[pair] - b[mirrored]) < 5 * (a[pair] ** 0.5) + 5


def test_capacity():
    assert [capacity(n) for n in (0, 1, 2, 3, 4, 5, 1000)] == [1, 1, 2, 4, 4, 8, 1024]


def test_proposals_per_draw_do_not_grow_with_the_pool():
    """Each proposal is one O(log n) descent; their number depends on the weights' spread, not on n."""
    calls = Counter()
    real = sampling.rand

    def counting(seed, counter, bound):
        calls["n"] += 1
        return real(seed, counter, bound)

    sampling.rand = counting
    try:
        per_draw = {}
        for n in (100, 10_000):
            tree = tree_of({f"n{i}": 1 + i % 7 for i in range(n)})
            calls.clear()
            for s in seeds(200):
                tree.draw(3, s)
            per_draw[n] = calls["n"] / 200
        assert per_draw[10_000] < 8 and per_draw[100] < 8
    finally:
        sampling.rand = real
