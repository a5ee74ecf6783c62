"""Proof of Inference (PoI): how far each miner's output is from the consensus output (docs/design.md §5).

Concepts
    The revealed outputs of one task are embedded (``ai.embedding``). The *medoid* is the output whose
    summed cosine distance to all the others is smallest (ties: the lowest index); the validator
    chooses it only among the outputs whose PoUW quality passes the core's quality floor, best first
    (``ranked_distances_ppb``), so that cheaters in the majority never become the reference; when
    none passes there is no reference and every output is reported at ``MAX_DISTANCE_PPB``. Each output's PoI
    distance is its cosine distance to the medoid; a miner is in consensus when the stake-weighted
    median of the validators' reported distances is ≤ ``poi_max_distance_ppb`` (default 850 000 000,
    i.e. cosine similarity 0.15) — that comparison lives in the core, which sees only integers.
    The task's *spread* (``task_spread_ppb``) is the reference's distance to its nearest other valid output.
    From rule version 12 (``core/spread.py``) the validator reports raw distances and its spread, and the
    core sets the task's threshold from the validators' median spread: max(poi_max_distance_ppb,
    min(poi_spread_cap_ppb, spread × poi_spread_factor_bps // 10 000)). On a network under earlier rules
    it reports each distance less the task's *spread allowance* (``reported_distances_ppb``), so that the
    core's comparison with ``poi_max_distance_ppb`` applies the same threshold.

The float → integer boundary (the only one)
    distance_ppb(a, b) = clamp(floor((1 − cos(a, b)) × 10**9), 0, 2 × 10**9)

    cos(a, b) = Σ aᵢbᵢ / sqrt(Σ aᵢ² × Σ bᵢ²), each sum an exactly rounded ``math.fsum`` of float64
    products of the float32 components (a float32 × float32 product is exact in float64), so the
    integers depend on the vectors only, not on BLAS or summation order. Each pair's distance is
    computed once, floored once, and everything after — sums, the medoid choice, the reported
    distances — is integer arithmetic. An output's distance to itself is 0 by definition.

Calibration (all-MiniLM-L6-v2 int8, tests/ai/quality_cases.json)
    Three hand-written correct answers to one prompt, worded differently, lie 0.00–0.21 from their
    medoid (short factual and JSON answers ≤ 0.03; explanations of 60–100 words 0.08–0.21, so some
    honest paraphrases exceed the default 0.15). Unrelated texts, garbage, refusals and "I am not
    sure" lie 0.77–1.15; repetition loops and one-line answers to an "explain" prompt 0.24–0.59.
    Real miners sample, and a 135M model sampled at temperatures up to 1.0 lies much farther from
    its medoid than these paraphrases: the default threshold is chosen by ROC over 300 prompts with six
    sampling miners each and five kinds of cheating output (docs/poi-calibration.md, nodes/
    poi_calibration.py). It keeps 99 % of honest outputs in; lazy and garbage outputs are out (with
    the quality floor), generic restatements of the prompt and truncated outputs are not.

Limits
    At most ``MAX_OUTPUTS`` outputs per task (redundancy is a handful; this bounds the O(n²) pairs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..core.params import Params
from ..core.spread import spread_threshold_ppb
from ..core.units import PPB

if TYPE_CHECKING:
    from .embedding import Embedder

MAX_OUTPUTS = 64
MAX_DISTANCE_PPB = 2 * PPB  # cosine distance of opposite vectors
TASK_SPREAD_FACTOR_BPS = Params().poi_spread_factor_bps  # the governed defaults (core/params.py): threshold ≥ the task's spread × 1
TASK_SPREAD_CAP_PPB = Params().poi_spread_cap_ppb  # … up to this distance (calibrated: docs/poi-calibration.md)


@dataclass(frozen=True)
class PoiResult:
    """The medoid and every output's distance to it, in ppb."""

    medoid_index: int
    distances_ppb: tuple[int, ...]


def poi_distances_ppb(outputs: list[str], embedder: Embedder | None = None) -> list[int]:
    """Each output's cosine distance to the medoid output, in ppb."""
    return list(compute_poi(outputs, embedder).distances_ppb)


def medoid_index(outputs: list[str], embedder: Embedder | None = None) -> int:
    """Index of the output with the smallest summed distance to the others (lowest index on ties)."""
    return compute_poi(outputs, embedder).medoid_index


def compute_poi(outputs: list[str], embedder: Embedder | None = None) -> PoiResult:
    """Embed the outputs once; return the medoid and the distances to it."""
    _check_count(len(outputs))
    if embedder is None:
        from .embedding import get_embedder

        embedder = get_embedder()
    return poi_from_vectors(embedder.embed(outputs))


def distances_from_vectors(vectors: Sequence[Sequence[float]] | np.ndarray) -> list[int]:
    """Each vector's cosine distance to the medoid vector, in ppb (no model needed)."""
    return list(poi_from_vectors(vectors).distances_ppb)


def poi_from_vectors(vectors: Sequence[Sequence[float]] | np.ndarray) -> PoiResult:
    """Medoid and distances-to-medoid for hand-made or embedded vectors."""
    matrix = pairwise_distances_ppb(vectors)
    medoid = medoid_from_distances(matrix)
    return PoiResult(medoid_index=medoid, distances_ppb=tuple(matrix[medoid]))


def pairwise_distances_ppb(vectors: Sequence[Sequence[float]] | np.ndarray) -> list[list[int]]:
    """Symmetric matrix of cosine distances in ppb, zero on the diagonal."""
    rows = _as_rows(vectors)
    norms_sq = [math.fsum((row * row).tolist()) for row in rows]
    n = len(rows)
    matrix = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            d = cosine_distance_ppb(rows[i], rows[j], norms_sq[i], norms_sq[j])
            matrix[i][j] = matrix[j][i] = d
    return matrix


def cosine_distance_ppb(a: np.ndarray, b: np.ndarray, a_norm_sq: float, b_norm_sq: float) -> int:
    """floor((1 − cos(a, b)) × 10**9), clamped to [0, 2 × 10**9]: the float → int boundary."""
    dot = math.fsum((a * b).tolist())
    cosine = dot / math.sqrt(a_norm_sq * b_norm_sq)
    distance_ppb = math.floor((1.0 - cosine) * PPB)
    return min(max(distance_ppb, 0), MAX_DISTANCE_PPB)


def ranked_distances_ppb(
    matrix: list[list[int]],
    quality_ppb: Sequence[int],
    tiebreak: Sequence[str],
    min_quality_ppb: int = 0,
    *,
    reference: TaskReference | None = None,
) -> list[int]:
    """Each output's distance to the medoid of the outputs that pass the quality floor.

    The reference is chosen only among the outputs whose quality is at least ``min_quality_ppb``
    (the core's ``consensus_min_quality_ppb``), by their summed distances to each other. So two
    cheaters out of three miners cannot make one of their outputs the reference and push the honest
    output out: an output below the floor is out of consensus anyway, and it never decides where the
    others are measured from. When no output passes the floor there is no reference: every output is
    reported at ``MAX_DISTANCE_PPB`` (nobody in consensus by this validator's report), so that two
    cheaters below the floor cannot measure each other at distance 0 and carry a miner into consensus
    through other validators' quality scores. Among the candidates the outputs are ranked best quality
    first (ties by ``tiebreak``), which decides a tie of summed distances (with two candidates there
    always is one), so the better output wins it. ``reference``: the task's ``task_reference`` of these arguments,
    when the caller has it already (computed here when not).
    """
    n = len(matrix)
    if reference is None:
        reference = task_reference(matrix, quality_ppb, tiebreak, min_quality_ppb)
    medoid = reference.medoid
    if medoid is None:
        return [MAX_DISTANCE_PPB] * n
    return [matrix[medoid][i] for i in range(n)]


def task_spread_ppb(
    matrix: list[list[int]],
    quality_ppb: Sequence[int],
    tiebreak: Sequence[str],
    min_quality_ppb: int,
    *,
    reference: TaskReference | None = None,
) -> int:
    """The task's spread: the reference's distance to its nearest other output above the quality floor (0 when the
    reference is alone, or when there is no reference). What a validator reveals as ``spread_ppb`` from rule 12.
    ``reference``: as ``ranked_distances_ppb``."""
    if reference is None:
        reference = task_reference(matrix, quality_ppb, tiebreak, min_quality_ppb)
    candidates, medoid = reference
    if medoid is None:
        return 0
    return min((matrix[medoid][j] for j in candidates if j != medoid), default=0)


def reported_distances_ppb(
    matrix: list[list[int]],
    quality_ppb: Sequence[int],
    tiebreak: Sequence[str],
    min_quality_ppb: int,
    max_distance_ppb: int,
    cap_ppb: int = TASK_SPREAD_CAP_PPB,
    factor_bps: int = TASK_SPREAD_FACTOR_BPS,
    *,
    reference: TaskReference | None = None,
) -> list[int]:
    """The PoI distances a validator reports: ``ranked_distances_ppb`` less the task's spread allowance.

    The task's *spread* is the reference's distance to its nearest other output above the quality floor:
    how far the closest two valid outputs of the task lie apart. When even they lie farther apart than
    the core's threshold ``max_distance_ppb`` (honest miners sampling a small model disagree), an output
    as close to the reference as that is as much in agreement as the task allows:

        threshold = max(max_distance_ppb, min(cap_ppb, spread × factor_bps // 10 000))   (core/spread.py)
        allowance = threshold − max_distance_ppb
        reported  = max(0, distance − allowance)

    so reported ≤ max_distance_ppb exactly when distance ≤ threshold, and the core's comparison (which
    sees one number per miner) applies the task's threshold. In a task whose valid outputs agree (spread
    within the threshold) nothing changes. A cheater seated beside two honest outputs that agree gains
    nothing: the spread is theirs. No reference (nothing above the floor): every output at
    ``MAX_DISTANCE_PPB``, as ``ranked_distances_ppb``. (The rules before version 12: from it the core applies the
    threshold to raw distances and the validators' median spread.) ``reference``: as ``ranked_distances_ppb``.
    """
    n = len(matrix)
    if reference is None:
        reference = task_reference(matrix, quality_ppb, tiebreak, min_quality_ppb)
    medoid = reference.medoid
    if medoid is None:
        return [MAX_DISTANCE_PPB] * n
    spread = task_spread_ppb(matrix, quality_ppb, tiebreak, min_quality_ppb, reference=reference)
    threshold = spread_threshold_ppb(max_distance_ppb, cap_ppb, factor_bps, spread)
    allowance = threshold - max_distance_ppb
    return [max(0, matrix[medoid][i] - allowance) for i in range(n)]  # ``ranked_distances_ppb`` less the allowance


class TaskReference(NamedTuple):
    """A task's outputs at or above the quality floor (indices, ascending), and the reference among them (None when
    there is none): ``task_reference``."""

    candidates: tuple[int, ...]
    medoid: int | None


def task_reference(matrix: list[list[int]], quality_ppb: Sequence[int], tiebreak: Sequence[str], min_quality_ppb: int) -> TaskReference:
    """The outputs at or above the quality floor, and the reference among them (an O(n²) medoid: a caller that needs
    the distances and the spread of one task computes it once and passes it to each, as ``reference``)."""
    if not len(quality_ppb) == len(tiebreak) == len(matrix):
        raise ValueError("one quality score and one tiebreak per output")
    candidates = [i for i in range(len(matrix)) if quality_ppb[i] >= min_quality_ppb]
    return TaskReference(tuple(candidates), _reference(matrix, candidates, quality_ppb, tiebreak) if candidates else None)


def _reference(matrix: list[list[int]], candidates: list[int], quality_ppb: Sequence[int], tiebreak: Sequence[str]) -> int:
    """The medoid of the candidates, ranked best quality first (ties by ``tiebreak``)."""
    order = sorted(candidates, key=lambda i: (-quality_ppb[i], tiebreak[i]))
    ranked = [[matrix[i][j] for j in order] for i in order]
    return order[medoid_from_distances(ranked)]


def medoid_from_distances(matrix: list[list[int]]) -> int:
    """Row with the smallest integer sum; the lowest index wins a tie."""
    _check_count(len(matrix))
    sums = [sum(row) for row in matrix]
    return min(range(len(sums)), key=lambda i: (sums[i], i))


def _as_rows(vectors: Sequence[Sequence[float]] | np.ndarray) -> list[np.ndarray]:
    """Validate vectors: 1..MAX_OUTPUTS rows of one length, finite, non-zero; as float64 rows."""
    _check_count(len(vectors))
    try:
        array = np.asarray(vectors)
    except ValueError as exc:  # ragged rows
        raise ValueError(f"vectors must be a 2-D array (n, d) with rows of one length: {exc}") from None
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"vectors must be a non-empty 2-D array (n, d), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"vectors must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("vectors must be finite (no NaN or infinity)")
    rows = [array[i] for i in range(array.shape[0])]
    for i, row in enumerate(rows):
        if not np.any(row):
            raise ValueError(f"vector {i} is all zeros; its cosine distance is undefined")
    return rows


def _check_count(n: int) -> None:
    """Refuse an empty task or more outputs than MAX_OUTPUTS."""
    if n == 0:
        raise ValueError("PoI needs at least one output, got an empty list")
    if n > MAX_OUTPUTS:
        raise ValueError(f"PoI takes at most {MAX_OUTPUTS} outputs per task, got {n}")
