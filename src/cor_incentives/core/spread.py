"""A task's PoI threshold from its spread (rule ``RULES_TASK_SPREAD``; docs/rewards.md, *Consensus*).

Honest miners sampling a small model can answer one prompt farther apart than ``poi_max_distance_ppb``.
Each validator measures the task's *spread* (the distance from its reference output to the nearest
other output above the quality floor: how far apart the task's two closest valid outputs are) and
reveals it with its raw distances, committed with them. The core settles:

    spread    = the stake-weighted (lower) median of the revealed spreads      (``validation.weighted_median``)
    threshold = max(poi_max_distance_ppb, min(poi_spread_cap_ppb, spread × poi_spread_factor_bps // 10 000))

and a miner is in consensus when its consensus distance ≤ threshold (and its quality ≥ the floor).
A coalition below half of the reporting stake cannot move the median past the honest spreads, so
reporting the largest spread loosens nothing; the cap bounds what even a majority could loosen.
Before the rule the threshold is ``poi_max_distance_ppb`` and validators shift their own distances.
"""

from __future__ import annotations

from .errors import invariant
from .params import Params
from .records import Task
from .units import BPS, PPB
from .validation import weighted_median


def spread_threshold_ppb(max_distance_ppb: int, cap_ppb: int, factor_bps: int, spread_ppb: int) -> int:
    """max(max_distance_ppb, min(cap_ppb, spread_ppb × factor_bps // 10 000)): the one place of the formula."""
    out = max(max_distance_ppb, min(cap_ppb, spread_ppb * factor_bps // BPS))
    invariant(max_distance_ppb <= out <= max(max_distance_ppb, cap_ppb), "the task threshold left [poi_max_distance_ppb, cap]")
    return out


def task_threshold_ppb(p: Params, spread_ppb: int) -> int:
    """The task's PoI threshold under the parameters ``p``."""
    return spread_threshold_ppb(p.poi_max_distance_ppb, p.poi_spread_cap_ppb, p.poi_spread_factor_bps, spread_ppb)


def settled_spread_ppb(task: Task, stakes: dict[str, int]) -> int | None:
    """The stake-weighted median of the spreads revealed for the task (None when none is revealed)."""
    revealed = [(s, stakes.get(v, 0), v) for v, s in task.spreads.items() if v in task.reports]
    if not revealed:
        return None
    out = weighted_median(revealed)
    invariant(0 <= out <= 2 * PPB, "a spread outside [0, 2 × 10**9]")
    return out


def consensus_threshold_ppb(p: Params, task: Task, stakes: dict[str, int]) -> tuple[int | None, int]:
    """(the task's spread, its threshold): from its revealed spreads under the rule, else (None, poi_max_distance_ppb)."""
    if not task.spread_rule:
        return None, p.poi_max_distance_ppb
    spread = settled_spread_ppb(task, stakes)
    return spread, task_threshold_ppb(p, spread or 0)
