"""Aggregating validators' reports: stake-weighted median, consensus, validator agreement (docs/design.md §5).

PoI (Proof of Inference)
    Each validator reports, per revealed miner, the cosine distance (ppb) of its output to the medoid
    of all outputs. The task's distance for a miner is the stake-weighted median of the reports; the
    miner is *in consensus* when that median ≤ ``poi_max_distance_ppb``.

PoUW (Proof of Useful Work)
    Each validator reports a quality score in [0, 10**9]; the miner's quality is the stake-weighted
    median. An output whose median quality is below ``consensus_min_quality_ppb`` is not in
    consensus whatever its distance.

Stake-weighted median
    Sort reports by value (ties by validator address), accumulate stake; the median is the first
    value at which 2 × cumulative ≥ total stake (the lower weighted median).

Validator agreement (Yuma-style clipping)
    For each miner, a validator's quality report counts only up to the consensus:
    clipped = min(report, consensus). Its deviation is
        (|clipped_quality − consensus_quality| + |distance − consensus_distance|) / 2
    averaged over the miners, and agreement = 10**9 − min(10**9, deviation). A deviation above
    ``validator_deviation_max_ppb`` is a *large deviation* (counted toward ``validator_deviation``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import invariant
from .units import PPB


def weighted_median(values_weights: list[tuple[int, int, str]]) -> int:
    """Lower stake-weighted median of ``(value, weight, tiebreak)`` triples."""
    invariant(len(values_weights) > 0, "median of nothing")
    items = sorted(values_weights, key=lambda t: (t[0], t[2]))
    total = sum(w for _, w, _ in items)
    if total == 0:
        return items[(len(items) - 1) // 2][0]
    cum = 0
    for value, weight, _ in items:
        cum += weight
        if 2 * cum >= total:
            return value
    return items[-1][0]  # pragma: no cover


@dataclass(frozen=True)
class Consensus:
    distance_ppb: dict[str, int]  # miner -> median distance
    quality_ppb: dict[str, int]  # miner -> median quality
    in_consensus: dict[str, bool]


def aggregate(
    reports: dict[str, dict[str, tuple[int, int]]], stakes: dict[str, int], miners: list[str], max_distance_ppb: int, min_quality_ppb: int = 0
) -> Consensus:
    """Stake-weighted medians per miner from ``reports[validator][miner] = (distance, quality)``.

    In consensus: median distance ≤ ``max_distance_ppb`` and median quality ≥ ``min_quality_ppb``
    (so that a useless output cannot be "in consensus" by being the reference of a small sample).
    """
    dist: dict[str, int] = {}
    qual: dict[str, int] = {}
    for m in miners:
        dist[m] = weighted_median([(r[m][0], stakes.get(v, 0), v) for v, r in reports.items()])
        qual[m] = weighted_median([(r[m][1], stakes.get(v, 0), v) for v, r in reports.items()])
    return Consensus(dist, qual, {m: dist[m] <= max_distance_ppb and qual[m] >= min_quality_ppb for m in miners})


def deviation_ppb(report: dict[str, tuple[int, int]], consensus: Consensus) -> int:
    """A validator's mean deviation from consensus, quality clipped at the consensus from above."""
    miners = sorted(consensus.distance_ppb)
    if not miners:
        return 0
    total = 0
    for m in miners:
        d, q = report[m]
        clipped = min(q, consensus.quality_ppb[m])
        total += (abs(clipped - consensus.quality_ppb[m]) + abs(d - consensus.distance_ppb[m])) // 2
    return total // len(miners)


def agreement_ppb(report: dict[str, tuple[int, int]], consensus: Consensus) -> int:
    """10**9 minus the (capped) deviation."""
    return PPB - min(PPB, deviation_ppb(report, consensus))
