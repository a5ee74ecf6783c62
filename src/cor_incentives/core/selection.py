"""Node selection: who is assigned to a task (docs/design.md §4).

Miners and validators are drawn without replacement. Each node's inclusion probability is
proportional to its weight (capped at 1):

    weight = max(1, stake_total × max(reputation_ppb, 10**7) // 10**9)   if selectable, else 0

The same weight applies to user tasks, network tasks, validators and dedicated sessions. A node
that splits its stake over several nodes therefore gets the same expected number of slots.

With a beacon (``beacon.py``), a draw's seed comes from the beacon value revealed after the draw
was requested. The sampler is Sampford's method (``sampling.WeightTree``): inclusion exactly ∝
weight, every set of nodes possible, and no effect from where a node sits. It runs over an index
kept up to date as weights change: one tree per role, plus one per (miner, model). A draw costs
O(k log n), however many nodes are registered.
    ``draw(state, role, k, seed, model=None, among=None, excluding=())``
        ``among`` restricts the draw to a few nodes (a dedicated session's). Those few get a tree of
        their own, built for the draw. ``excluding`` leaves a few nodes out of the pool's tree for
        the draw (rules ≥ 19: an escalation's validators already on the task), O(log n) each.
    ``state.touch(node)``
        must follow any change to a node's stake, reputation, bond or jail (``staking.get_node``
        calls it, and so do the reputation updates): it marks the node in the index. Before each draw, ``sync`` re-reads the marked
        nodes. At every epoch close, ``check_index`` compares the whole index with the weights
        recomputed from the state (the nodes its ``sync`` re-read with the weights that read gave,
        every other node read again).

Without a beacon (a log from before the beacon), the first rules apply unchanged. ``sample_nodes``
seeds its draw with sha256(head_hash ‖ purpose) and uses ``pps_sample``: systematic PPS over an
order shuffled by the seed, O(n log n) per draw. Network tasks there prefer idle miners.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable

from .errors import InvariantViolation, invariant
from .records import ROLES, Node
from .rules import rules_since
from .sampling import SelectionIndex, WeightTree
from .staking import is_selectable
from .state import State
from .units import PPB


def selection_weight(state: State, node_id: str) -> int:
    """stake × max(reputation, 1 %) in base units, at least 1 (whether or not the node is selectable)."""
    n = state.nodes[node_id]
    return stake_weight(n.stake_total, n.reputation_ppb)


def stake_weight(stake_total: int, reputation_ppb: int) -> int:
    """``selection_weight``'s formula: max(1, stake × max(reputation, 1 %) // 10**9)."""
    return max(1, stake_total * max(reputation_ppb, PPB // 100) // PPB)


def draw_weight(state: State, node: Node) -> int:
    """The node's weight in draws: ``selection_weight`` when it is selectable, else 0."""
    return selection_weight(state, node.id) if is_selectable(state, node) else 0


def draw_weights(state: State, node_ids: Iterable[str]) -> dict[str, int]:
    """``draw_weight`` of each node (in the order given), the roles' minimum self-bonds looked up once. For ``sync`` and
    ``check_index``, which weigh every node at an epoch close."""
    p = state.params
    minimum = {role: p.min_self_bond(role) for role in ROLES}
    nodes = state.nodes
    out: dict[str, int] = {}
    for node_id in node_ids:
        n = nodes[node_id]
        out[node_id] = stake_weight(n.stake_total, n.reputation_ppb) if is_selectable(state, n, minimum[n.role]) else 0
    return out


# --- the index (networks with a beacon) ----------------------------------------------------------


def pool_keys(node: Node) -> list[str]:
    """The pools a node is drawn from: its role, and for a miner (miner, model) for every model it serves."""
    return [node.role] + [f"miner|{m}" for m in node.models] if node.role == "miner" else [node.role]


def pool_key(role: str, model: str | None) -> str:
    return f"miner|{model}" if role == "miner" and model is not None else role


def index(state: State) -> SelectionIndex:
    idx = state.selection
    if idx is None:
        raise InvariantViolation("selection index missing (a network without a beacon draws with sample_nodes)")
    return idx


def sync(state: State) -> SelectionIndex:
    """Bring the index up to date with the marked nodes (all nodes when the minimum bonds changed)."""
    return _sync(state)[0]


def _sync(state: State) -> tuple[SelectionIndex, dict[str, int]]:
    """``sync``, and the weight it read from the state for each marked node."""
    idx = index(state)
    p = state.params
    bonds = (p.min_self_bond_miner_units, p.min_self_bond_validator_units, p.min_self_bond_router_units)
    if bonds != idx.bonds:
        idx.bonds = bonds
        idx.marked |= set(state.nodes)
    new = sorted(n for n in idx.marked if n not in idx.weights)  # slots in a deterministic order
    changed: dict[str, list[tuple[str, int]]] = {}  # pool key -> (node, weight) in that order (trees are independent)
    fresh = draw_weights(state, new + sorted(idx.marked - set(new)))
    nodes = state.nodes
    for node_id, w in fresh.items():
        if idx.weights.get(node_id) != w:
            idx.weights[node_id] = w
            for key in pool_keys(nodes[node_id]):
                if key not in idx.trees:
                    idx.trees[key] = WeightTree()
                changed.setdefault(key, []).append((node_id, w))
    for key, items in changed.items():
        idx.trees[key].set_many(items)  # an epoch close re-weighs every node: one rebuild, not n updates
    idx.marked.clear()
    return idx, fresh


def check_index(state: State) -> None:
    """Invariant: every tree holds exactly the weights recomputed from the state (``draw_weights``: the nodes ``sync``
    re-read just now with the weights it read, every other node read here), whatever ``idx.weights`` says."""
    if state.selection is None:
        return
    idx, fresh = _sync(state)  # (the state does not change in between: its weights are this check's own)
    rest = draw_weights(state, [n for n in state.nodes if n not in fresh])
    trees, empty = idx.trees, WeightTree()
    for node_id, node in state.nodes.items():
        w = fresh[node_id] if node_id in fresh else rest[node_id]
        for key in pool_keys(node):
            if trees.get(key, empty).weight(node_id) != w:  # (the message built only on failure)
                invariant(False, f"selection index: {node_id} in {key} is stale")


def pool_size(state: State, role: str, model: str | None = None) -> int:
    """Selectable nodes of ``role`` (serving ``model``): O(1)."""
    tree = sync(state).trees.get(pool_key(role, model))
    return len(tree) if tree is not None else 0


def draw(
    state: State, role: str, k: int, seed: bytes, model: str | None = None, among: list[str] | None = None, excluding: Collection[str] = ()
) -> list[str]:
    """Up to ``k`` distinct selectable nodes of ``role`` (serving ``model``), inclusion ∝ weight: O(k log n).

    ``excluding``: nodes left out of this draw (an escalation's validators already on the task), their weights 0 in the
    tree for the draw and put back after it (``WeightTree.draw``'s ``excluding``): O((k + |excluding|) log n).
    On a network without a beacon (no index) the same draw runs over a tree built for it from the
    selectable nodes in id order: O(n log n), for the rare draw a newer feature makes there."""
    bounded = rules_since(state.params, 3)
    if state.selection is None:
        pool = among if among is not None else eligible_nodes(state, role, model)
        tree = WeightTree()
        tree.set_many((n, draw_weight(state, state.nodes[n])) for n in pool)
        return tree.draw(k, seed, bounded, excluding)
    idx = sync(state)
    if among is not None:
        tree = WeightTree()
        tree.set_many((n, idx.weights.get(n, 0)) for n in among)
        return tree.draw(k, seed, bounded, excluding)
    pool_tree = idx.trees.get(pool_key(role, model))
    return pool_tree.draw(k, seed, bounded, excluding) if pool_tree is not None else []


# --- the first rules (networks without a beacon) ---------------------------------------------------


def _draw(seed: bytes, i: int, bound: int) -> int:
    return int.from_bytes(hashlib.sha256(seed + i.to_bytes(8, "big")).digest(), "big") % bound


def eligible_nodes(state: State, role: str, model: str | None = None) -> list[str]:
    """Selectable nodes of ``role`` (serving ``model`` when given), sorted: O(n)."""
    out = []
    for nid in sorted(state.nodes):
        n = state.nodes[nid]
        if n.role == role and is_selectable(state, n) and (model is None or role != "miner" or model in n.models):
            out.append(nid)
    return out


def sample_nodes(
    state: State, role: str, k: int, purpose: str, model: str | None = None, among: list[str] | None = None, prefer: set[str] | None = None
) -> list[str]:
    """Draw up to ``k`` distinct nodes with inclusion probability proportional to stake × reputation.

    Seeded by the log head and ``purpose``. With ``prefer``, nodes in it are drawn first (network
    tasks prefer idle miners). See ``pps_sample``: splitting stake over several nodes does not raise
    an operator's expected number of slots.
    """
    pool = among if among is not None else eligible_nodes(state, role, model)
    seed = hashlib.sha256(bytes.fromhex(state.head_hash[2:]) + purpose.encode()).digest()
    chosen: list[str] = []
    groups = [[n for n in pool if n in prefer], [n for n in pool if n not in prefer]] if prefer else [list(pool)]
    for g, group in enumerate(groups):
        if len(chosen) < k and group:
            chosen += pps_sample({n: selection_weight(state, n) for n in group}, k - len(chosen), seed + bytes([g]))
    return chosen


def pps_sample(weights: dict[str, int], k: int, seed: bytes) -> list[str]:
    """Systematic sampling proportional to size, without replacement, in integers.

    A node whose weight w satisfies w × k ≥ W (the total) is certain to be chosen and is taken first
    (then the rest is sampled for the remaining slots). Otherwise the nodes, in an order shuffled by
    the seed, cover consecutive intervals of length w × k on [0, k × W); k targets u, u + W, …,
    u + (k−1)W with one random u in [0, W) pick the nodes whose interval holds a target. Each node's
    inclusion probability is exactly w × k / W: stake split over many nodes earns the same expected
    number of slots as the same stake in one node (a sequential draw without replacement favours
    the many small nodes).
    """
    order = sorted(weights, key=lambda n: hashlib.sha256(seed + n.encode()).digest())
    pool = [(n, weights[n]) for n in order if weights[n] > 0]
    chosen: list[str] = []
    while pool and len(chosen) < k:
        m = k - len(chosen)
        if m >= len(pool):
            chosen += [n for n, _ in pool]
            break
        total = sum(w for _, w in pool)
        certain = [n for n, w in pool if w * m >= total]
        if certain:
            take = certain[:m]
            chosen += take
            pool = [(n, w) for n, w in pool if n not in take]
            continue
        u = _draw(seed, len(chosen), total)
        target, cum = u, 0
        for n, w in pool:
            lo, cum = cum * m, cum + w
            if lo <= target < cum * m:
                chosen.append(n)
                target += total
        break
    return chosen


def busy_miners(state: State) -> set[str]:
    """Miners with an assignment in an open task."""
    out: set[str] = set()
    for ids in state.deadlines.values():
        for tid in ids:
            out.update(a.miner for a in state.tasks[tid].miners)
    return out
