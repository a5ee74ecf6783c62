"""Reputation: per node and role, an exponentially weighted moving average in [0, 10**9] (docs/design.md §5).

    reputation ← reputation + α × (observation − reputation),   α = 1 − 2^(−1/half_life_tasks)

α is computed exactly in ppb by integer bisection (no float). Observations:
    miner:     50% success (precommitted, revealed on time, in consensus) + 30% quality
               + 20% latency rank (first reveal 10**9 … last 0)
    validator: its agreement with the consensus when on time, else 0
New nodes start at ``reputation_initial_ppb``. Every change is tied to the task that caused it.

Only network tasks (the oracle's) can raise a reputation; a user task can only lower it
(``update_for_task``). Reputation multiplies network emission and selection weight, so a task anyone
can pay for themselves, fees to their own miners, must not buy it; failing a user task still costs.
"""

from __future__ import annotations

from functools import lru_cache

from .units import PPB

MINER_WEIGHTS_BPS = {"success": 5_000, "quality": 3_000, "latency": 2_000}


@lru_cache(maxsize=64)
def alpha_ppb(half_life_tasks: int) -> int:
    """floor(10**9 × (1 − 2^(−1/h))) exactly, by bisection on x^h ≤ 10**(9h) / 2."""
    lo, hi = 0, PPB  # largest x with x^h * 2 <= PPB^h is floor(PPB * 2^(-1/h))
    target = PPB**half_life_tasks
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if 2 * mid**half_life_tasks <= target:
            lo = mid
        else:
            hi = mid - 1
    return PPB - lo


def update(reputation: int, observation: int, half_life_tasks: int) -> int:
    """One EWMA step (floors toward zero change)."""
    a = alpha_ppb(half_life_tasks)
    return reputation + a * (observation - reputation) // PPB if observation >= reputation else reputation - a * (reputation - observation) // PPB


def update_for_task(reputation: int, observation: int, half_life_tasks: int, network_task: bool) -> int:
    """One EWMA step for an observation on a task: a user task's step may lower the reputation, never raise it."""
    new = update(reputation, observation, half_life_tasks)
    return new if network_task else min(reputation, new)


def miner_observation(success: bool, quality_ppb: int, latency_ppb: int) -> int:
    w = MINER_WEIGHTS_BPS
    return ((PPB if success else 0) * w["success"] + quality_ppb * w["quality"] + latency_ppb * w["latency"]) // 10_000


def multiplier_ppb(reputation: int, lo_ppb: int, hi_ppb: int) -> int:
    """The bounded performance multiplier on network rewards."""
    return lo_ppb + (hi_ppb - lo_ppb) * reputation // PPB
