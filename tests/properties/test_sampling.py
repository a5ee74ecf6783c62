"""The O(log n) sampler: the same draws as the reference sampler; inclusion ∝ weight; no position effects."""

import itertools
from collections import Counter
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

import cor_incentives.core.sampling as sampling
from cor_incentives.core.journal import journal
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


def _tree_state(tree: WeightTree):
    """Everything a draw could leave changed: slots, sums, maxima, totals."""
    return (tree.cap, list(tree.ids), dict(tree.slot), list(tree.weights), list(tree.fen), list(tree.mx), tree.total, tree.count)


excluded_sets = st.one_of(
    st.lists(st.sampled_from(NAMES), max_size=40),  # named twice, absent from the tree, weight 0: all allowed
    st.just(NAMES),  # every node
    st.lists(st.text(min_size=1, max_size=3), max_size=5),  # names the tree never saw
)


@settings(max_examples=300, deadline=None)
@given(
    ops=operations,
    excluding=excluded_sets,
    draws=st.lists(st.tuples(st.integers(1, 400), st.binary(min_size=1, max_size=16), st.booleans()), min_size=1, max_size=4),
)
def test_a_draw_excluding_nodes_is_the_reference_draw_with_their_weights_0_and_leaves_the_tree_as_it_was(ops, excluding, draws):
    """``draw`` with ``excluding`` (rules ≥ 19's escalation): the reference draw over the tree's slots with the excluded nodes at
    weight 0, bounded or not, k up to above what is left; the tree's slots, sums, maxima, total and count unchanged."""
    tree = WeightTree()
    for name, w in ops:
        tree.set(name, w)
    before = _tree_state(tree)
    gone = set(excluding)
    zeroed = [(n, 0 if n in gone else w) for n, w in tree.slots()]
    left = sum(1 for _, w in zeroed if w > 0)
    for k, seed, bounded in draws:
        if not bounded:
            k = min(k, 3)  # unbounded Sampford steps with k ≥ 4 can run for ever on near-certain nodes
        got = tree.draw(k, seed, bounded, excluding)
        assert got == reference_draw(zeroed, k, seed, bounded)
        assert len(got) == len(set(got)) == min(k, left)
        assert not gone & set(got) and all(tree.weight(n) > 0 for n in got)
        assert _tree_state(tree) == before


@settings(max_examples=100, deadline=None)
@given(ops=operations, excluding=st.lists(st.sampled_from(NAMES), max_size=40), k=st.integers(1, 12), fail_after=st.integers(0, 6))
def test_a_draw_excluding_nodes_that_raises_leaves_the_tree_as_it_was(ops, excluding, k, fail_after):
    """The excluded weights come back also when the draw fails midway (here: its n-th random number raises)."""
    tree = WeightTree()
    for name, w in ops:
        tree.set(name, w)
    before = _tree_state(tree)
    real, calls = sampling.rand, Counter()

    def failing(seed, counter, bound):
        calls["n"] += 1
        if calls["n"] > fail_after:
            raise RuntimeError("boom")
        return real(seed, counter, bound)

    sampling.rand = failing
    try:
        try:
            tree.draw(k, b"seed", excluding=excluding)
        except RuntimeError:
            pass
    finally:
        sampling.rand = real
    assert _tree_state(tree) == before


def test_a_draw_excluding_nodes_never_draws_them_and_draws_the_rest_in_proportion():
    """Inclusion stays ∝ weight over the nodes left: the excluded heavy node is never drawn, the others as if it were gone."""
    ws = {"heavy": 500, **{f"s{i}": 10 * (i + 1) for i in range(10)}}
    tree, runs, k = tree_of(ws), 6000, 3
    seen = Counter()
    for seed in seeds(runs):
        seen.update(tree.draw(k, seed, excluding=["heavy", "s0", "absent"]))
    assert seen["heavy"] == seen["s0"] == 0
    rest = sum(w for n, w in ws.items() if n not in ("heavy", "s0"))
    for n, w in ws.items():
        if n not in ("heavy", "s0"):
            expected = runs * k * w / rest
            assert abs(seen[n] - expected) < 5 * expected**0.5 + 5, (n, seen[n], expected)


def _draw_before_s30(tree: WeightTree, k: int, seed: bytes, bounded: bool = True) -> list[str]:
    """``WeightTree.draw`` as it was before session 30 merged ``draw_excluding`` into it (kept as a reference)."""
    taken: list[int] = []
    saved: list[tuple[int, int]] = []

    def take(s: int) -> None:
        taken.append(s)
        saved.append((s, tree.weights[s]))
        tree._put(s, 0)

    try:
        m = min(k, tree.count)
        while m > 0:
            if m >= tree.count:
                taken += tree._positive_slots()
                break
            s = tree._heaviest()
            if tree.weights[s] * m >= tree.total:
                take(s)
                m -= 1
                continue
            budget = sampling.SAMPFORD_BUDGET if bounded else None
            picks = sampling._sampford(m, tree.total, tree.weights[s], tree._locate, tree.weights, seed, budget)
            if picks is None:
                take(s)
                m -= 1
                continue
            taken += picks
            break
    finally:
        for s, w in reversed(saved):
            tree._put(s, w)
    chosen = [tree.ids[s] for s in taken]
    assert len(set(chosen)) == len(chosen) == min(k, tree.count)
    return chosen


def _draw_excluding_before_s30(tree: WeightTree, k: int, seed: bytes, excluding, bounded: bool = True) -> list[str]:
    """``WeightTree.draw_excluding`` as it was before session 30 (kept as a reference)."""
    saved: list[tuple[int, int]] = []
    try:
        for node in excluding:
            s = tree.slot.get(node)
            if s is not None and tree.weights[s] > 0:
                saved.append((s, tree.weights[s]))
                tree._put(s, 0)
        return _draw_before_s30(tree, k, seed, bounded)
    finally:
        for s, w in reversed(saved):
            tree._put(s, w)


@settings(max_examples=400, deadline=None)
@given(
    ops=operations,
    draws=st.lists(
        st.tuples(st.integers(1, 400), st.binary(min_size=1, max_size=16), st.booleans(), st.one_of(st.none(), excluded_sets)), min_size=1, max_size=4
    ),
)
def test_the_merged_draw_is_the_old_draw_and_draw_excluding(ops, draws):
    """``WeightTree.draw(k, seed, bounded, excluding)`` (one function since session 30) draws what the old ``draw`` (no
    ``excluding``) and ``draw_excluding`` drew, through the same weight writes in the same order (what the journal records
    and undoes), and leaves the tree as they did."""
    tree = WeightTree()
    for name, w in ops:
        tree.set(name, w)
    for k, seed, bounded, excluding in draws:
        if not bounded:
            k = min(k, 3)  # unbounded Sampford steps with k ≥ 4 can run for ever on near-certain nodes
        runs = []
        for new in (False, True):
            puts: list[tuple[int, int]] = []
            real = tree._put
            tree._put = lambda s, w, real=real, puts=puts: (puts.append((s, w)), real(s, w))[1]
            try:
                if new:
                    got = tree.draw(k, seed, bounded) if excluding is None else tree.draw(k, seed, bounded, excluding)
                elif excluding is None:
                    got = _draw_before_s30(tree, k, seed, bounded)
                else:
                    got = _draw_excluding_before_s30(tree, k, seed, excluding, bounded)
            finally:
                del tree._put
            runs.append((got, puts, _tree_state(tree)))
        assert runs[0] == runs[1]


class _Refused(Exception):
    pass


@settings(max_examples=200, deadline=None)
@given(ops=operations, excluding=excluded_sets, k=st.integers(1, 12), later=st.lists(st.tuples(st.sampled_from(NAMES), weights), max_size=5))
def test_a_draw_excluding_nodes_inside_a_refused_event_is_undone_by_the_journal(ops, excluding, k, later):
    """Inside an event's journal (as an escalation's tick runs it): the draw's temporary writes are journaled, so the
    event refused after it (and after more weight changes) leaves the tree exactly as before the event, and the draw
    in an accepted event leaves it as the changes alone would (the draw itself nets to nothing)."""
    tree = WeightTree()
    for name, w in ops:
        tree.set(name, w)
    before = _tree_state(tree)
    try:
        with journal():
            got = tree.draw(k, b"event", excluding=excluding)
            for name, w in later:
                tree.set(name, w)
            raise _Refused
    except _Refused:
        pass
    assert _tree_state(tree) == before
    with journal():
        again = tree.draw(k, b"event", excluding=excluding)
    assert again == got and _tree_state(tree) == before
