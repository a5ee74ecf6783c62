"""Validators' reports: commitments, consensus, dissent, agreement and canaries (docs/design.md §5).

Commitment (a report is committed before anyone's report is public)
    commit = sha256("report|task_id|validator|" ‖ canonical_json(reports) ‖ "|" ‖ salt) as 0x-hex,
    where ``reports`` is exactly the list the validator later reveals (``task.validate``), criteria
    included, and canonical_json sorts keys and drops whitespace (``events.canonical_json``).

PoI (Proof of Inference) and PoUW (Proof of Useful Work)
    Each validator reports, per revealed miner, the cosine distance (ppb) of its output to the
    medoid of all outputs, and a quality score in [0, 10**9].

Stake-weighted median
    Sort reports by value (ties by validator address), accumulate stake; the median is the first
    value at which 2 × cumulative ≥ total stake (the lower weighted median).

Consensus (two steps, for each miner and each measure: distance and quality)
    first   = the stake-weighted median of all reports;
    kept    = the reports within ``dissent_bound_ppb`` of ``first`` (``first`` itself always is);
    value   = the stake-weighted median of the kept reports.
    A bloc below half the reporting stake cannot move ``first`` past the honest reports; the second
    step also keeps its reports, when they are far off, from pulling ``value`` to the edge of the
    honest ones. The miner is *in consensus* when value(distance) ≤ ``poi_max_distance_ppb`` and
    value(quality) ≥ ``consensus_min_quality_ppb``.

Dissent (escalation)
    A report *dissents* on a miner when its distance or its quality is further than
    ``dissent_bound_ppb`` from ``first``. A task with any dissenting report is *disputed*: it draws
    more validators before it settles (``tasks``).

Agreement (symmetric: reporting a quality above the consensus costs as much as below it)
    deviation_m  = (|quality − value_q| + |distance − value_d|) / 2          for each miner m
    score_m      = 10**9 − min(10**9, deviation_m² × 10**9 // tolerance²)    tolerance = agreement_tolerance_ppb
    agreement    = Σ score_m // number of miners
    deviation    = Σ deviation_m // number of miners (above ``validator_deviation_max_ppb``: a large
                   deviation, counted toward the offence ``validator_deviation``)

First rules (a network whose genesis has no beacon; its logs replay as they were)
    value = the stake-weighted median of all reports (nothing trimmed, no escalation, no canaries);
    deviation as above with each quality clipped at the consensus from above, min(q, value_q), and
    agreement = 10**9 − min(10**9, deviation) (linear).

Canaries
    A validator *passes* a canary when its report puts the planted output out of consensus:
    distance > ``poi_max_distance_ppb`` or quality < ``consensus_min_quality_ppb``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .errors import invariant
from .events import canonical_json
from .units import PPB

Report = dict[str, tuple[int, int]]  # miner -> (distance_ppb, quality_ppb)


def report_commitment(
    task_id: int, validator: str, reports: list[dict[str, Any]], salt: str, input_tokens: int | None = None, spread_ppb: int | None = None
) -> str:
    """The commitment to a validator's reports: sha256("report|task|validator|" ‖ canonical reports ‖ "|" ‖ salt);
    from RULES_MEASURED_TOKENS, with its count of the prompt: sha256("report|task|validator|" ‖ canonical reports ‖
    "|" ‖ input_tokens ‖ "|" ‖ salt) (each report's output_tokens is inside the canonical reports); from
    RULES_TASK_SPREAD, with its spread of the task too: … ‖ "|" ‖ input_tokens ‖ "|" ‖ spread_ppb ‖ "|" ‖ salt."""
    body = canonical_json(reports).decode("ascii")
    counted = "" if input_tokens is None else f"{input_tokens}|"
    spread = "" if spread_ppb is None else f"{spread_ppb}|"
    return "0x" + hashlib.sha256(f"report|{task_id}|{validator}|{body}|{counted}{spread}{salt}".encode()).hexdigest()


def canary_commitment(prompt_hash: str, planted_output_hash: str | None, salt: str) -> str:
    """The oracle's commitment in a network task: sha256("canary|prompt_hash|planted output hash or none|salt")."""
    return "0x" + hashlib.sha256(f"canary|{prompt_hash}|{planted_output_hash or 'none'}|{salt}".encode()).hexdigest()


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


def trimmed_median(values_weights: list[tuple[int, int, str]], bound: int) -> tuple[int, int]:
    """(first median, median of the values within ``bound`` of it)."""
    first = weighted_median(values_weights)
    kept = [t for t in values_weights if abs(t[0] - first) <= bound]
    value = weighted_median(kept)
    invariant(abs(value - first) <= bound, "the consensus value left the bound around the first median")
    return first, value


@dataclass(frozen=True)
class Consensus:
    distance_ppb: dict[str, int]  # miner -> consensus distance
    quality_ppb: dict[str, int]  # miner -> consensus quality
    in_consensus: dict[str, bool]
    disputed: bool = False  # some report dissents (further than the bound from a first median)


def aggregate(
    reports: dict[str, Report],
    stakes: dict[str, int],
    miners: list[str],
    max_distance_ppb: int,
    min_quality_ppb: int = 0,
    dissent_bound_ppb: int = 2 * PPB,
) -> Consensus:
    """Two-step stake-weighted medians per miner from ``reports[validator][miner] = (distance, quality)``.

    In consensus: value(distance) ≤ ``max_distance_ppb`` and value(quality) ≥ ``min_quality_ppb``
    (so that a useless output cannot be "in consensus" by being the reference of a small sample).
    """
    dist: dict[str, int] = {}
    qual: dict[str, int] = {}
    disputed = False
    for m in miners:
        d_first, dist[m] = trimmed_median([(r[m][0], stakes.get(v, 0), v) for v, r in reports.items()], dissent_bound_ppb)
        q_first, qual[m] = trimmed_median([(r[m][1], stakes.get(v, 0), v) for v, r in reports.items()], dissent_bound_ppb)
        disputed = disputed or any(abs(r[m][0] - d_first) > dissent_bound_ppb or abs(r[m][1] - q_first) > dissent_bound_ppb for r in reports.values())
    return Consensus(dist, qual, {m: dist[m] <= max_distance_ppb and qual[m] >= min_quality_ppb for m in miners}, disputed)


def dissenters(reports: dict[str, Report], stakes: dict[str, int], miners: list[str], dissent_bound_ppb: int) -> list[str]:
    """The validators whose report dissents (``aggregate``'s ``disputed``, validator by validator): on some miner, its
    distance or its quality is further than ``dissent_bound_ppb`` from that measure's first median over ``reports``; in
    the reports' order. ``aggregate(...).disputed`` is exactly ``bool(dissenters(...))``."""
    firsts = [
        (
            m,
            weighted_median([(r[m][0], stakes.get(v, 0), v) for v, r in reports.items()]),
            weighted_median([(r[m][1], stakes.get(v, 0), v) for v, r in reports.items()]),
        )
        for m in miners
    ]
    return [v for v, r in reports.items() if any(abs(r[m][0] - d) > dissent_bound_ppb or abs(r[m][1] - q) > dissent_bound_ppb for m, d, q in firsts)]


def miner_deviation_ppb(report: tuple[int, int], consensus: Consensus, miner: str) -> int:
    """(|quality − consensus quality| + |distance − consensus distance|) // 2: both directions cost alike."""
    d, q = report
    return (abs(q - consensus.quality_ppb[miner]) + abs(d - consensus.distance_ppb[miner])) // 2


def deviation_ppb(report: Report, consensus: Consensus) -> int:
    """A validator's mean deviation from the consensus over the miners."""
    miners = sorted(consensus.distance_ppb)
    if not miners:
        return 0
    return sum(miner_deviation_ppb(report[m], consensus, m) for m in miners) // len(miners)


def score_ppb(deviation: int, tolerance_ppb: int) -> int:
    """10**9 at no deviation, falling with its square to 0 at ``tolerance_ppb``."""
    return PPB - min(PPB, deviation * deviation * PPB // (tolerance_ppb * tolerance_ppb))


def agreement_ppb(report: Report, consensus: Consensus, tolerance_ppb: int) -> int:
    """Mean over the miners of each miner's score (10**9 when there is nothing to agree on)."""
    miners = sorted(consensus.distance_ppb)
    if not miners:
        return PPB
    out = sum(score_ppb(miner_deviation_ppb(report[m], consensus, m), tolerance_ppb) for m in miners) // len(miners)
    invariant(0 <= out <= PPB, f"agreement {out} outside [0, 10**9]")
    return out


def deviation_first_rules_ppb(report: Report, consensus: Consensus) -> int:
    """The first rules (networks without a beacon): the mean deviation with each quality clipped at the
    consensus from above (Yuma-style: a quality above the consensus counted only up to it)."""
    miners = sorted(consensus.distance_ppb)
    if not miners:
        return 0
    return sum(miner_deviation_ppb((report[m][0], min(report[m][1], consensus.quality_ppb[m])), consensus, m) for m in miners) // len(miners)


def agreement_first_rules_ppb(report: Report, consensus: Consensus) -> int:
    """The first rules: 10**9 minus the clipped deviation (linear)."""
    return PPB - min(PPB, deviation_first_rules_ppb(report, consensus))


def passes_canary(report: tuple[int, int], max_distance_ppb: int, min_quality_ppb: int) -> bool:
    """Whether a report on a planted output puts it out of consensus (distance too far or quality too low)."""
    d, q = report
    return d > max_distance_ppb or q < min_quality_ppb
