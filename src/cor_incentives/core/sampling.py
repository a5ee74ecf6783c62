"""Weighted sampling without replacement, inclusion probability ∝ weight, in O(k log n).

The draw is Sampford's method (Sampford 1967), in integers, for k slots over nodes with weights w
(total W, p = w / W). Every random number is ``rand(seed, counter, bound)``, with the counter
counting up through the draw.

    1. Certain nodes first. While the heaviest node left has k·w ≥ W, it is taken (inclusion 1),
       it leaves the pool, and k drops by one. When k ≥ the number of nodes left, all of them are taken.
    2. One node is drawn ∝ w. Then k − 1 more are drawn with replacement, ∝ w / (W − k·w), each
       by rejection: propose i ∝ w, and accept it with probability (W − k·w_max) / (W − k·w_i).
    3. If a node repeats, the whole sample is thrown away and the draw goes back to 2.

Sampford proved that each node's inclusion probability is then exactly k·w / W. So an operator
that splits its weight over several nodes keeps the same expected number of slots. Every pair of
nodes has a positive chance to be drawn together, close to what independent draws would give, and
no node's position (slot) matters. An order-based scheme, such as systematic sampling over a fixed
or tree-shuffled order, lets nodes that are near each other in the order never meet. Others then
meet up to 2.5 times as often as at random, and an operator could pick such positions for its
nodes: this is measured in the tests.

``WeightTree`` keeps the weights on *slots* (handed out in the order nodes join, never moved). A
Fenwick tree holds the prefix sums, so a proposal ∝ w is one descent. A max tree finds the heaviest
node. Both cost O(log cap) per update and per query. A draw costs O(k log n) times the expected
number of proposals and restarts. These stay small while no node is close to certain (k·w well
below W). Growing past the capacity doubles it and rebuilds, O(1) per node on average.

``reference_draw`` runs the same algorithm with the same random numbers by linear scans over the
slots, O(n) per proposal. It is the executable specification; a property test checks that the two
give the same draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import invariant
from .journal import Journaled

MAX_PROPOSALS = 1_000_000  # a bound no real draw approaches (expected proposals are a handful)
# Rules ≥ 3: a Sampford step that has used this many random numbers stops, and the heaviest node is
# taken as certain (then the draw goes on for the other slots). A normal draw uses a handful; only a
# node whose inclusion m·w/W is within about 1 % of 1 gets here (the chance that a trial succeeds falls
# like ((m − 1)(1 − m·w/W))**(m − 2)), and without the bound a staker choosing its bond in base units
# could make a draw (and the oracle's tick that runs it) last for ever.
SAMPFORD_BUDGET = 1 << 16


def rand(seed: bytes, counter: int, bound: int) -> int:
    """The draw's ``counter``-th random integer in [0, bound)."""
    return int.from_bytes(hashlib.sha256(seed + counter.to_bytes(8, "big")).digest(), "big") % bound


def capacity(n: int) -> int:
    """The smallest power of two ≥ n (at least 1)."""
    return 1 << max(0, n - 1).bit_length()


class WeightTree(Journaled):
    """Integer weights on slots: prefix sums (Fenwick) and maxima, for O(log n) Sampford draws.

    Journaled like every record (``core.journal``): a refused event leaves the slots and sums as they were."""

    def __init__(self) -> None:
        self.cap = 1
        self.fen = [0, 0]  # 1-based Fenwick array over slots 1..cap
        self.mx = [0, 0]  # max tree: mx[cap + s − 1] is slot s, mx[j] = max(mx[2j], mx[2j + 1])
        self.ids: list[str] = [""]  # slot -> node ("" for slot 0)
        self.slot: dict[str, int] = {}
        self.weights = [0, 0]  # slot -> weight
        self.total = 0
        self.count = 0  # slots with a positive weight

    def __len__(self) -> int:
        return self.count

    def weight(self, node: str) -> int:
        s = self.slot.get(node)
        return self.weights[s] if s is not None else 0

    @classmethod
    def from_slots(cls, slots: list[tuple[str, int]]) -> WeightTree:
        """The tree whose ``slots()`` are ``slots`` (a snapshot's): each node takes its slot in that order."""
        tree = cls()
        for node, w in slots:
            invariant(w >= 0 and node not in tree.slot, f"slot of {node} is repeated or negative")
            tree.slot[node] = len(tree.ids)
            tree.ids.append(node)
        tree._rebuild({s: w for s, (_, w) in enumerate(slots, start=1)})
        return tree

    def slots(self) -> list[tuple[str, int]]:
        """(node, weight) by slot: the input of ``reference_draw``."""
        return [(self.ids[s], self.weights[s]) for s in range(1, len(self.ids))]

    def set(self, node: str, w: int) -> None:
        """Give ``node`` weight ``w`` (a new node takes the next slot). O(log cap)."""
        invariant(w >= 0, f"weight of {node} is negative")
        s = self.slot.get(node)
        if s is None:
            if w == 0:
                return
            s = len(self.ids)
            if s > self.cap:
                self._grow()
            self.ids.append(node)
            self.slot[node] = s
        self._put(s, w)

    def set_many(self, items: Iterable[tuple[str, int]]) -> None:
        """``set(node, w)`` for each item in order, leaving exactly what those calls would (the same
        slots, weights and sums). When they are many (most of the tree's slots), the sums are rebuilt
        once in O(cap) instead of O(log cap) per item, and journaled as a few whole-list writes."""
        items = list(items)
        for node, w in items:
            invariant(w >= 0, f"weight of {node} is negative")
        if len(items) * self.cap.bit_length() < self.cap:  # few: one by one is cheaper
            for node, w in items:
                self.set(node, w)
            return
        new: dict[int, int] = {}
        for node, w in items:
            s = self.slot.get(node)
            if s is None:
                if w == 0:
                    continue
                s = len(self.ids)
                self.ids.append(node)
                self.slot[node] = s
            new[s] = w
        self._rebuild(new)

    def _rebuild(self, new: dict[int, int]) -> None:
        """Give the slots in ``new`` their weight and rebuild every sum from the weights: the capacity
        doubled until it holds every slot, Fenwick sums and maxima as ``_grow`` computes them. O(cap)."""
        cap = self.cap
        while len(self.ids) - 1 > cap:
            cap *= 2
        weights = list(self.weights) + [0] * (cap + 1 - len(self.weights))
        for s, w in new.items():
            weights[s] = w
        fen = list(weights)
        fen[0] = 0
        for i in range(1, cap + 1):  # each cell passes its sum to its parent
            j = i + (i & -i)
            if j <= cap:
                fen[j] += fen[i]
        mx = [0] * cap + weights[1 : cap + 1]
        for j in range(cap - 1, 0, -1):
            a, b = mx[2 * j], mx[2 * j + 1]
            mx[j] = a if a >= b else b
        self.cap, self.weights, self.fen, self.mx = cap, weights, fen, mx
        self.total = sum(weights)
        self.count = sum(1 for w in weights if w > 0)

    def _put(self, s: int, w: int) -> None:
        delta = w - self.weights[s]
        if delta == 0:
            return
        self.count += (w > 0) - (self.weights[s] > 0)
        self.weights[s] = w
        self.total += delta
        i = s
        while i <= self.cap:
            self.fen[i] += delta
            i += i & -i
        j = self.cap + s - 1
        self.mx[j] = w
        while j > 1:
            j //= 2
            self.mx[j] = max(self.mx[2 * j], self.mx[2 * j + 1])

    def _grow(self) -> None:
        self.cap *= 2
        self.weights += [0] * (self.cap + 1 - len(self.weights))
        self.fen = [0] * (self.cap + 1)
        for i in range(1, self.cap + 1):  # O(cap): each cell passes its sum to its parent
            self.fen[i] += self.weights[i]
            j = i + (i & -i)
            if j <= self.cap:
                self.fen[j] += self.fen[i]
        self.mx = [0] * (2 * self.cap)
        self.mx[self.cap : 2 * self.cap] = self.weights[1 : self.cap + 1]
        for j in range(self.cap - 1, 0, -1):
            self.mx[j] = max(self.mx[2 * j], self.mx[2 * j + 1])

    def _locate(self, t: int) -> int:
        """The slot whose interval [C, C + w) in slot order holds t (0 ≤ t < total)."""
        pos, size = 0, self.cap
        while size > 1:
            half = size // 2
            if t >= self.fen[pos + half]:
                t -= self.fen[pos + half]
                pos += half
            size = half
        return pos + 1

    def _heaviest(self) -> int:
        """The slot of the largest weight (the lowest slot among equals)."""
        if self.cap == 1:
            return 1
        j = 1
        while j < self.cap:
            j = 2 * j if self.mx[2 * j] >= self.mx[2 * j + 1] else 2 * j + 1
        return j - self.cap + 1

    def _positive_slots(self) -> list[int]:
        """Slots with a positive weight, in slot order, by prefix search: O(count · log cap)."""
        out, c = [], 0
        while c < self.total:
            out.append(self._locate(c))
            c += self.weights[out[-1]]
        return out

    def draw(self, k: int, seed: bytes, bounded: bool = True, excluding: Iterable[str] = ()) -> list[str]:
        """Up to ``k`` distinct nodes, inclusion probability k·w / W (certain nodes first).

        ``bounded`` (rules ≥ 3): a Sampford step past ``SAMPFORD_BUDGET`` takes the heaviest as certain.
        ``excluding`` (rules ≥ 19's escalation): nodes left out, their slots at weight 0 for the draw: the same draw as
        ``reference_draw`` over ``slots()`` with those nodes' weights 0; a node not in the tree (or of weight 0) changes
        nothing. Each weight the draw sets to 0 (the excluded nodes', then each certain node's as it leaves the pool) is
        put back after it, last first (also when it raises), so the tree is as it was. O((k + |excluding|) log n)."""
        taken: list[int] = []
        saved: list[tuple[int, int]] = []

        def leave(s: int) -> None:  # out of the pool for the rest of the draw
            saved.append((s, self.weights[s]))
            self._put(s, 0)

        try:
            for node in excluding:
                s = self.slot.get(node)
                if s is not None and self.weights[s] > 0:
                    leave(s)
            m = wanted = min(k, self.count)
            while m > 0:
                if m >= self.count:
                    taken += self._positive_slots()
                    break
                s = self._heaviest()
                if self.weights[s] * m >= self.total:
                    taken.append(s)  # certain
                    leave(s)
                    m -= 1
                    continue
                picks = _sampford(m, self.total, self.weights[s], self._locate, self.weights, seed, SAMPFORD_BUDGET if bounded else None)
                if picks is None:  # stalled: the heaviest, all but certain, is taken as certain
                    taken.append(s)
                    leave(s)
                    m -= 1
                    continue
                taken += picks
                break
        finally:
            for s, w in reversed(saved):
                self._put(s, w)
        chosen = [self.ids[s] for s in taken]
        invariant(len(set(chosen)) == len(chosen) == wanted, "sampling: wrong number of distinct nodes")
        return chosen


def _sampford(m: int, total: int, w_max: int, locate: Callable[[int], int], weights: list[int], seed: bytes, budget: int | None) -> list[int] | None:
    """Steps 2-3 for ``m`` slots over a pool of ``total`` with no certain node (m·w_max < total).

    None when ``budget`` random numbers were used without a sample (rules ≥ 3; see ``SAMPFORD_BUDGET``)."""
    invariant(0 < m * w_max < total, "sampling: a certain node reached the Sampford step")
    counter = 0
    for _ in range(MAX_PROPOSALS):
        first = locate(rand(seed, counter, total))
        counter += 1
        picks = [first]
        while len(picks) < m:
            while True:
                if budget is not None and counter >= budget:
                    return None
                i = locate(rand(seed, counter, total))
                accept = rand(seed, counter + 1, total - m * weights[i]) < total - m * w_max
                counter += 2
                if accept:
                    break
            if i in picks:
                break
            picks.append(i)
        if len(picks) == m:
            return picks
    if budget is not None:
        return None
    raise AssertionError("sampling: no sample within MAX_PROPOSALS")  # pragma: no cover


def reference_draw(slots: list[tuple[str, int]], k: int, seed: bytes, bounded: bool = True) -> list[str]:
    """The same draw as ``WeightTree.draw`` over ``slots`` (slot i+1 = slots[i]), by linear scans: O(n) per proposal."""
    weights = {s: w for s, (_, w) in enumerate(slots, start=1) if w > 0}
    taken: list[int] = []
    m = min(k, len(weights))
    while m > 0:
        if m >= len(weights):
            return [slots[s - 1][0] for s in taken + sorted(weights)]
        heaviest = min(weights, key=lambda s: (-weights[s], s))  # the lowest slot among equals
        picks = None if weights[heaviest] * m >= sum(weights.values()) else _reference_sampford(weights, m, seed, bounded)
        if picks is None:  # certain (k·w ≥ W), or a stalled step under the bound: the heaviest is taken
            taken.append(heaviest)
            del weights[heaviest]
            m -= 1
            continue
        return [slots[s - 1][0] for s in taken + picks]
    return [slots[s - 1][0] for s in taken]


def _reference_sampford(weights: dict[int, int], m: int, seed: bytes, bounded: bool) -> list[int] | None:
    def propose(t: int) -> int:  # ∝ w: the slot whose interval in slot order holds t
        for s in sorted(weights):
            if t < weights[s]:
                return s
            t -= weights[s]
        raise AssertionError("target beyond the total")

    total, w_max, counter = sum(weights.values()), max(weights.values()), 0
    while True:
        picks = [propose(rand(seed, counter, total))]
        counter += 1
        repeated = False
        while len(picks) < m and not repeated:
            while True:  # ∝ w / (W − m·w): propose ∝ w, accept with (W − m·w_max) / (W − m·w)
                if bounded and counter >= SAMPFORD_BUDGET:
                    return None
                i = propose(rand(seed, counter, total))
                accepted = rand(seed, counter + 1, total - m * weights[i]) < total - m * w_max
                counter += 2
                if accepted:
                    break
            repeated = i in picks
            picks.append(i)
        if not repeated:
            return picks


@dataclass
class SelectionIndex(Journaled):
    """A weight tree per pool, and the nodes marked since the last sync (``selection.sync``).

    The weights are derived from the nodes; the slot order is not (nodes take slots as they first get
    a weight, and a draw reads that order), so a state snapshot carries the index (core/state_codec.py)."""

    trees: dict[str, WeightTree] = field(default_factory=dict)  # pool key -> tree
    weights: dict[str, int] = field(default_factory=dict)  # node -> weight in its trees
    marked: set[str] = field(default_factory=set)  # nodes to re-read before the next draw
    bonds: tuple[int, int, int] = (0, 0, 0)  # the minimum self-bonds the weights were read with
