"""A draw can't be stalled by a staker choosing its weight (rules ≥ 3): Sampford's step has a budget.

A node whose inclusion k·w/W is just below 1 makes almost every Sampford trial fail; before the
bound, weights a staker can set in base units made a draw loop for ever (or raise after a million
proposals). The attacks below are exactly that: one node at (W_rest − ε)/(k − 1) beside twenty equal
nodes, for ε of 1, 10**3 and 10**6 base units, and k of 3 and 5 at the edge of the budget.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import cor_incentives.core.sampling as sampling
from cor_incentives.core.rules import LATEST, RULE_VERSIONS
from cor_incentives.core.sampling import SAMPFORD_BUDGET, WeightTree, reference_draw

SMALL = [10**20] * 20


def attack_weights(k: int, eps: int) -> dict[str, int]:
    """A heavy node with k·w = W − (k − 1)·... just below certain: (k − 1)·w = W_rest − eps."""
    heavy = (sum(SMALL) - eps) // (k - 1)
    return {"heavy": heavy, **{f"n{i:02d}": w for i, w in enumerate(SMALL)}}


def tree_of(ws: dict[str, int]) -> WeightTree:
    t = WeightTree()
    for n, w in ws.items():
        t.set(n, w)
    return t


class Counting:
    def __init__(self, monkeypatch):
        self.calls = 0
        real = sampling.rand

        def counted(seed: bytes, counter: int, bound: int) -> int:
            self.calls += 1
            return real(seed, counter, bound)

        monkeypatch.setattr(sampling, "rand", counted)


def test_the_attack_weights_are_just_below_certain():
    for k, eps in [(3, 1), (3, 10**3), (3, 10**6), (5, 1)]:
        ws = attack_weights(k, eps)
        assert k * ws["heavy"] < sum(ws.values())  # not certain by k·w ≥ W: the Sampford step runs


def test_an_attacker_cannot_stall_a_draw(monkeypatch):
    counting = Counting(monkeypatch)
    for k, eps in [(3, 1), (3, 10**3), (3, 10**6), (5, 1), (5, 10**12)]:
        ws = attack_weights(k, eps)
        tree = tree_of(ws)
        slots = list(ws.items())
        for i in range(3):
            seed = i.to_bytes(4, "big")
            counting.calls = 0
            chosen = tree.draw(k, seed)
            # one Sampford step within the budget, then k − 1 slots among twenty equal nodes (a handful)
            assert counting.calls <= SAMPFORD_BUDGET + 2 + 1000, (k, eps, counting.calls)
            assert "heavy" in chosen and len(set(chosen)) == k
            assert chosen == reference_draw(slots, k, seed)  # the O(n) reference takes the same way out


def test_unbounded_rules_would_spend_far_more_than_the_budget(monkeypatch):
    """Rules 1-2 on the same attack: the step is still running after ten budgets (it would run for ~W/ε proposals)."""
    limit = 10 * SAMPFORD_BUDGET
    real = sampling.rand

    def stop_after_limit(seed: bytes, counter: int, bound: int) -> int:
        if counter > limit:
            raise TimeoutError(counter)
        return real(seed, counter, bound)

    monkeypatch.setattr(sampling, "rand", stop_after_limit)
    try:
        tree_of(attack_weights(3, 10**6)).draw(3, b"\x00", bounded=False)
        stalled = False
    except TimeoutError:
        stalled = True
    assert stalled


weights = st.one_of(st.integers(1, 20), st.integers(1, 10**6), st.integers(10**20, 10**24))


@settings(max_examples=200, deadline=None)
@given(ws=st.lists(weights, min_size=2, max_size=30), k=st.integers(1, 8), seed=st.binary(min_size=1, max_size=8))
def test_the_bound_changes_no_draw_that_finishes_within_it(ws, k, seed):
    tree = tree_of({f"n{i:02d}": w for i, w in enumerate(ws)})
    bounded = tree.draw(k, seed)
    calls = {"n": 0}
    real = sampling.rand

    def counted(s: bytes, c: int, b: int) -> int:
        calls["n"] = max(calls["n"], c)
        return real(s, c, b)

    sampling.rand = counted
    try:
        unbounded = tree.draw(k, seed, bounded=False)
    finally:
        sampling.rand = real
    if calls["n"] < SAMPFORD_BUDGET:
        assert bounded == unbounded


def test_the_bound_is_a_rule_version():
    """New networks run it; older logs keep the unbounded step (selection and bounty draws pass rules_since(p, 3))."""
    assert LATEST >= 3 and "SAMPFORD_BUDGET" in RULE_VERSIONS[3]
