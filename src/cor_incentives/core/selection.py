"""Node selection: who is assigned to a task (docs/design.md §4).

Miners and validators are drawn without replacement, each with inclusion probability proportional to
its weight stake × reputation (``pps_sample``), from a seed sha256(head_hash ‖ purpose): reproducible
from the log, not choosable by the requester. Network tasks prefer idle miners; a dedicated session
draws its miners once, when it opens, and every task among them.

    weight = max(1, stake_total × max(reputation_ppb, 10**7) // 10**9)
"""

from __future__ import annotations

import hashlib

from .staking import is_selectable
from .state import State
from .units import PPB


def _draw(seed: bytes, i: int, bound: int) -> int:
    return int.from_bytes(hashlib.sha256(seed + i.to_bytes(8, "big")).digest(), "big") % bound


def eligible_nodes(state: State, role: str, model: str | None = None) -> list[str]:
    """Selectable nodes of ``role`` (serving ``model`` when given), sorted."""
    out = []
    for nid in sorted(state.nodes):
        n = state.nodes[nid]
        if n.role == role and is_selectable(state, n) and (model is None or role != "miner" or model in n.models):
            out.append(nid)
    return out


def selection_weight(state: State, node_id: str) -> int:
    n = state.nodes[node_id]
    return max(1, n.stake_total * max(n.reputation_ppb, PPB // 100) // PPB)


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
