"""Epoch work rewards: split one emission stream among nodes by weighted useful work (docs/design.md §6).

Concepts
--------
At an epoch's close the miner stream of ``pool:network_incentives`` is split among nodes by the
useful work they did that epoch, weighted by a bounded reputation multiplier (docs/design.md §5), after two
eligibility gates (precommit rate, score). The input is columnar: one row per (task, node)
assignment in the epoch, plus one reputation per node. Everything is an integer; every division
floors. Nothing here moves money: the caller posts ``reward`` and puts ``remainder`` where it belongs.

Formulas (what ``compute_work_rewards`` returns, per node n, summing over n's rows r)
----------------------------------------------------------------------------------------
::

    assignments_n        = number of rows r with node_index_r = n
    precommit_rate_bps_n = (Σ precommitted_r) × 10 000 // assignments_n                 (0 if no rows)
    score_bps_n          = (Σ quality_ppb_r × in_consensus_r) × 10 000 // (assignments_n × 10**9)
                                                                                         (0 if no rows)
    reason_n             = "no_assignments"           if assignments_n = 0
                         | "precommit_rate_below_min" elif precommit_rate_bps_n < min_precommit_rate_bps
                         | "score_below_min"          elif score_bps_n < min_score_bps
                         | None  (eligible)           otherwise                (checked in this order)
    work_n               = Σ complexity_units_r × quality_ppb_r × in_consensus_r
    multiplier_ppb_n     = min_ppb + (max_ppb − min_ppb) × reputation_ppb_n // 10**9
    weighted_n           = work_n × multiplier_ppb_n // 10**9 if eligible_n else 0
    total_weighted       = Σ weighted_n
    reward_n             = stream_amount × weighted_n // total_weighted       (0 if total_weighted = 0)
    distributed          = Σ reward_n
    remainder            = stream_amount − distributed

A missed or out-of-consensus row still counts in ``assignments_n`` but adds 0 to score and work.

Worked example (default parameters: gates 60 % / 50 %, multiplier [0.5, 1.5]). Node 0 has two rows,
(units 2, quality 0.9, in consensus, precommitted) and (units 1, quality 0.8, in consensus,
precommitted), and reputation 1.0: precommit_rate = 2 × 10 000 // 2 = 10 000 bps; score =
1.7e9 × 10 000 // (2 × 1e9) = 8 500 bps, so eligible; work = 2 × 0.9e9 + 1 × 0.8e9 = 2.6e9;
multiplier = 0.5e9 + 1e9 × 1e9 // 1e9 = 1.5e9; weighted = 2.6e9 × 1.5e9 // 1e9 = 3.9e9. If the other
nodes weigh 4.3e9 in total and the stream is 1 000 000 units, reward_0 = 10**6 × 3.9e9 // 8.2e9 =
475 609. (``tests/vectors/work_rewards.json`` has this case and five more, worked out by hand.)

Validators
----------
``compute_validator_rewards`` is the same kernel with validator inputs: per row (one assigned
validation) ``agreement_ppb`` and ``on_time``. It maps them as complexity_units = 1, quality_ppb =
agreement_ppb, in_consensus = precommitted = on_time. So work_n = Σ agreement over on-time
validations (= validations_n × mean agreement), the "precommit rate" gate reads as the on-time rate
(its reason is still ``"precommit_rate_below_min"``), and the score is the mean agreement with late
validations counting 0.

Where the remainder goes
------------------------
``remainder`` (the rounding dust of the floors, or the whole stream when no node has positive
weighted work) is returned, not posted: docs/design.md §6: a stream with no eligible earner stays in its
pool, and the caller does the same with rounding dust. ``distributed + remainder == stream_amount``
is checked with ``invariant`` on every call, as is ``remainder < number of nodes with weight > 0``.

Bounds (rejected with ``InvalidInput``, so the integer arithmetic below provably cannot overflow)
--------------------------------------------------------------------------------------------------
``complexity_units`` 0..MAX_COMPLEXITY_UNITS (10**6) per row; ``quality_ppb``, ``agreement_ppb`` and
``reputation_ppb`` 0..10**9; at most MAX_ASSIGNMENTS_PER_EPOCH (10**8) rows (10**7 tasks at
redundancy up to 10) and MAX_NODES (10**6) nodes; multiplier bounds at most MAX_MULTIPLIER_PPB
(5.0); ``stream_amount`` a valid ``Amount`` (0..2**256−1). See ``_count_and_sum`` for the int64 proof.

Two implementations, one answer: ``compute_work_rewards_reference`` is a per-row Python loop over the
formulas above; ``compute_work_rewards`` is the numpy columnar version used at epoch close (10**6
rows × 10**4 nodes in well under a second). Tests check that they agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .errors import InvalidInput, invariant
from .params import Params, check_param, param_default
from .units import BPS, PPB, amount

MAX_COMPLEXITY_UNITS = 10**6
MAX_ASSIGNMENTS_PER_EPOCH = 10**8
MAX_NODES = 10**6

REASON_NO_ASSIGNMENTS = "no_assignments"
REASON_PRECOMMIT_RATE_BELOW_MIN = "precommit_rate_below_min"
REASON_SCORE_BELOW_MIN = "score_below_min"
# Code 0 is "eligible"; the order of the others is the order of precedence.
_REASONS: tuple[str | None, ...] = (
    None,
    REASON_NO_ASSIGNMENTS,
    REASON_PRECOMMIT_RATE_BELOW_MIN,
    REASON_SCORE_BELOW_MIN,
)

_LOW_BITS = 32  # work products are summed as two int64 halves: hi × 2**32 + lo
_LOW_MASK = (1 << _LOW_BITS) - 1


@dataclass(frozen=True)
class WorkRewardParams:
    """The work split's four parameters, exactly as ``Params`` declares them (defaults, bounds, docs there).

    ``min_precommit_rate_bps`` and ``min_score_bps`` gate eligibility; the reputation multiplier runs
    linearly from ``reputation_multiplier_min_ppb`` at reputation 0 to ``..._max_ppb`` at 1, both at
    most MAX_MULTIPLIER_PPB, the bound this kernel's int64 sums are proven for."""

    min_precommit_rate_bps: int = param_default("min_precommit_rate_bps")
    min_score_bps: int = param_default("min_score_bps")
    reputation_multiplier_min_ppb: int = param_default("reputation_multiplier_min_ppb")
    reputation_multiplier_max_ppb: int = param_default("reputation_multiplier_max_ppb")

    def __post_init__(self) -> None:
        for f in fields(self):
            check_param(f.name, getattr(self, f.name))
        if self.reputation_multiplier_min_ppb > self.reputation_multiplier_max_ppb:
            raise InvalidInput("reputation_multiplier_min_ppb must not exceed reputation_multiplier_max_ppb", code="invalid_parameter")

    @classmethod
    def in_force(cls, p: Params) -> WorkRewardParams:
        """The ones in a parameter set."""
        return cls(p.min_precommit_rate_bps, p.min_score_bps, p.reputation_multiplier_min_ppb, p.reputation_multiplier_max_ppb)


DEFAULT_WORK_REWARD_PARAMS = WorkRewardParams()


@dataclass(frozen=True)
class WorkRewards:
    """Per-node outcome of one stream's split; tuples indexed by node, all plain Python values."""

    assignments: tuple[int, ...]
    precommit_rate_bps: tuple[int, ...]
    score_bps: tuple[int, ...]
    eligible: tuple[bool, ...]
    reason: tuple[str | None, ...]
    work: tuple[int, ...]
    multiplier_ppb: tuple[int, ...]
    weighted: tuple[int, ...]
    reward: tuple[int, ...]
    total_weighted: int
    distributed: int
    remainder: int
    stream_amount: int

    def for_node(self, node: int) -> dict[str, object]:
        """One node's line: every input of its formula and its reward (for reward statements)."""
        return {
            "assignments": self.assignments[node],
            "precommit_rate_bps": self.precommit_rate_bps[node],
            "score_bps": self.score_bps[node],
            "eligible": self.eligible[node],
            "reason": self.reason[node],
            "work": self.work[node],
            "multiplier_ppb": self.multiplier_ppb[node],
            "weighted": self.weighted[node],
            "total_weighted": self.total_weighted,
            "stream_amount": self.stream_amount,
            "reward": self.reward[node],
        }


class _Rows(NamedTuple):
    """Checked columns: int64 / bool numpy arrays of one length (the units may be uint8 and the node indexes int32:
    ``_int_column``'s ``keep_uint8``, ``keep_int32``); units None means 1 per row."""

    node_index: np.ndarray
    complexity_units: np.ndarray | None
    quality_ppb: np.ndarray
    in_consensus: np.ndarray
    precommitted: np.ndarray
    reputation_ppb: np.ndarray
    stream_amount: int
    cut_rows: np.ndarray | None = None  # rows whose work counts less (``work_cut``), distinct ...
    cut_ppb: np.ndarray | None = None  # ... and by how much of their quality (0..quality_ppb)


# --- public entry points -----------------------------------------------------------------------


def compute_work_rewards(
    *,
    node_index: npt.ArrayLike,
    complexity_units: npt.ArrayLike,
    quality_ppb: npt.ArrayLike,
    in_consensus: npt.ArrayLike,
    precommitted: npt.ArrayLike,
    reputation_ppb: npt.ArrayLike,
    stream_amount: int,
    params: WorkRewardParams = DEFAULT_WORK_REWARD_PARAMS,
    work_cut: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> WorkRewards:
    """Split ``stream_amount`` among nodes by weighted work (vectorised; see the module formulas). ``work_cut`` = (rows,
    cut_ppb): those rows' work counts at quality_ppb − cut_ppb (the validators stream from ``RULES_ESCALATION_SHARE``: an
    escalation round's rows, ``epoch_rows.escalation_shared``); the score gate reads quality_ppb either way."""
    rows = _check_work_rows(node_index, complexity_units, quality_ppb, in_consensus, precommitted, reputation_ppb, stream_amount, work_cut)
    return _settle_vectorised(rows, params)


def compute_work_rewards_reference(
    *,
    node_index: npt.ArrayLike,
    complexity_units: npt.ArrayLike,
    quality_ppb: npt.ArrayLike,
    in_consensus: npt.ArrayLike,
    precommitted: npt.ArrayLike,
    reputation_ppb: npt.ArrayLike,
    stream_amount: int,
    params: WorkRewardParams = DEFAULT_WORK_REWARD_PARAMS,
    work_cut: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> WorkRewards:
    """Same as ``compute_work_rewards``, as a plain per-row Python loop (the executable spec)."""
    rows = _check_work_rows(node_index, complexity_units, quality_ppb, in_consensus, precommitted, reputation_ppb, stream_amount, work_cut)
    return _settle_reference(rows, params)


def compute_validator_rewards(
    *,
    node_index: npt.ArrayLike,
    agreement_ppb: npt.ArrayLike,
    on_time: npt.ArrayLike,
    reputation_ppb: npt.ArrayLike,
    stream_amount: int,
    params: WorkRewardParams = DEFAULT_WORK_REWARD_PARAMS,
) -> WorkRewards:
    """Split a validator stream by agreement-weighted on-time validations (vectorised)."""
    rows = _check_validator_rows(node_index, agreement_ppb, on_time, reputation_ppb, stream_amount)
    return _settle_vectorised(rows, params)


def compute_validator_rewards_reference(
    *,
    node_index: npt.ArrayLike,
    agreement_ppb: npt.ArrayLike,
    on_time: npt.ArrayLike,
    reputation_ppb: npt.ArrayLike,
    stream_amount: int,
    params: WorkRewardParams = DEFAULT_WORK_REWARD_PARAMS,
) -> WorkRewards:
    """Same as ``compute_validator_rewards``, as a plain per-row Python loop."""
    rows = _check_validator_rows(node_index, agreement_ppb, on_time, reputation_ppb, stream_amount)
    return _settle_reference(rows, params)


# --- the formulas, one node at a time (used by the reference) --------------------------------


def compute_precommit_rate_bps(precommitted_count: int, assignments: int) -> int:
    """Share of assignments precommitted by the deadline, floored to bps; 0 without assignments."""
    return precommitted_count * BPS // assignments if assignments else 0


def compute_score_bps(counted_quality_ppb: int, assignments: int) -> int:
    """Mean quality over all assignments (out-of-consensus rows as 0), floored to bps; 0 without any."""
    return counted_quality_ppb * BPS // (assignments * PPB) if assignments else 0


def get_ineligibility_reason(assignments: int, precommit_rate_bps: int, score_bps: int, params: WorkRewardParams) -> str | None:
    """The first gate a node fails, in order of precedence, or None when it is eligible."""
    if assignments == 0:
        return REASON_NO_ASSIGNMENTS
    if precommit_rate_bps < params.min_precommit_rate_bps:
        return REASON_PRECOMMIT_RATE_BELOW_MIN
    if score_bps < params.min_score_bps:
        return REASON_SCORE_BELOW_MIN
    return None


def compute_multiplier_ppb(reputation_ppb: int, params: WorkRewardParams) -> int:
    """Reputation multiplier: linear from the min bound at reputation 0 to the max at reputation 1."""
    lo, hi = params.reputation_multiplier_min_ppb, params.reputation_multiplier_max_ppb
    return lo + (hi - lo) * reputation_ppb // PPB


def compute_weighted_work(work: int, multiplier_ppb: int, eligible: bool) -> int:
    """Work scaled by the multiplier, floored; 0 for an ineligible node."""
    return work * multiplier_ppb // PPB if eligible else 0


def compute_reward(stream_amount: int, weighted: int, total_weighted: int) -> int:
    """A node's pro-rata share of the stream, floored; 0 when nobody has weighted work."""
    return stream_amount * weighted // total_weighted if total_weighted else 0


# --- kernels --------------------------------------------------------------------------------------


def _settle_reference(rows: _Rows, params: WorkRewardParams) -> WorkRewards:
    """Per-row loop, then the scalar formulas per node; Python ints throughout."""
    node_count = len(rows.reputation_ppb)
    assignments = [0] * node_count
    precommitted = [0] * node_count
    counted_quality = [0] * node_count
    work = [0] * node_count
    if rows.complexity_units is None:  # validators: one unit per row
        units_column = [1] * len(rows.node_index)
    else:
        units_column = rows.complexity_units.tolist()
    for node, units, quality, in_consensus, was_precommitted in zip(
        rows.node_index.tolist(),
        units_column,
        rows.quality_ppb.tolist(),
        rows.in_consensus.tolist(),
        rows.precommitted.tolist(),
    ):
        assignments[node] += 1
        if was_precommitted:
            precommitted[node] += 1
        if in_consensus:
            counted_quality[node] += quality
            work[node] += units * quality
    if rows.cut_rows is not None and rows.cut_ppb is not None:  # rows whose work counts less (0 on a row not counted)
        nodes, unit_of = rows.node_index.tolist(), units_column
        for r, cut in zip(rows.cut_rows.tolist(), rows.cut_ppb.tolist()):
            work[nodes[r]] -= unit_of[r] * cut

    rate = [compute_precommit_rate_bps(precommitted[n], assignments[n]) for n in range(node_count)]
    score = [compute_score_bps(counted_quality[n], assignments[n]) for n in range(node_count)]
    reason = [get_ineligibility_reason(assignments[n], rate[n], score[n], params) for n in range(node_count)]
    eligible = [r is None for r in reason]
    multiplier = [compute_multiplier_ppb(rep, params) for rep in rows.reputation_ppb.tolist()]
    weighted = [compute_weighted_work(work[n], multiplier[n], eligible[n]) for n in range(node_count)]
    total_weighted = sum(weighted)
    reward = [compute_reward(rows.stream_amount, w, total_weighted) for w in weighted]
    return _finish(assignments, rate, score, eligible, reason, work, multiplier, weighted, reward, rows.stream_amount)


def _settle_vectorised(rows: _Rows, params: WorkRewardParams) -> WorkRewards:
    """Columnar: int64 group sums per node, gates as array ops, big-int arithmetic per node only."""
    node_count = rows.reputation_ppb.size
    assignments, precommitted, counted_quality, work = _count_and_sum(rows, node_count)

    has_rows = assignments > 0
    safe_assignments = np.maximum(assignments, 1)
    rate = np.where(has_rows, precommitted * BPS // safe_assignments, 0)
    # S × 10**4 // (A × 10**9) == S // (A × 10**5): the same rational number, hence the same floor;
    # this form keeps S × 10**4 (up to 10**21) out of int64.
    score = np.where(has_rows, counted_quality // (safe_assignments * (PPB // BPS)), 0)
    reason_code = np.select(
        [~has_rows, rate < params.min_precommit_rate_bps, score < params.min_score_bps],
        [1, 2, 3],
        default=0,
    )
    eligible = reason_code == 0

    lo, hi = params.reputation_multiplier_min_ppb, params.reputation_multiplier_max_ppb
    # (hi − lo) × reputation ≤ 5·10**9 × 10**9 = 5·10**18 < 2**63 − 1 ≈ 9.22·10**18.
    multiplier = lo + (hi - lo) * rows.reputation_ppb // PPB

    # Past this point values exceed int64: object arrays of Python ints, one element per node.
    weighted = np.where(eligible, work * multiplier.astype(object) // PPB, 0)
    total_weighted = int(weighted.sum()) if node_count else 0
    if total_weighted:
        reward = rows.stream_amount * weighted // total_weighted
    else:
        reward = np.zeros(node_count, dtype=object)
    return _finish(
        assignments.tolist(),
        rate.tolist(),
        score.tolist(),
        eligible.tolist(),
        [_REASONS[c] for c in reason_code.tolist()],
        [int(w) for w in work.tolist()],
        multiplier.tolist(),
        [int(w) for w in weighted.tolist()],
        [int(r) for r in reward.tolist()],
        rows.stream_amount,
    )


def _count_and_sum(rows: _Rows, node_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per node: assignments, precommitted count, Σ counted quality (int64) and work (Python ints).

    No int64 overflow, given the bounds checked on the way in (2**63 − 1 ≈ 9.22·10**18), with
    R ≤ 10**8 rows:
    - counts ≤ R = 10**8; precommitted × 10 000 ≤ 10**12;
    - counted quality per row ≤ 10**9, so Σ per node ≤ 10**8 × 10**9 = 10**17;
    - units × quality per row ≤ 10**6 × 10**9 = 10**15 < 2**50; it is split as hi × 2**32 + lo with
      hi < 2**18 and lo < 2**32, so Σ hi ≤ 10**8 × 2**18 < 2.7·10**13 and Σ lo < 10**8 × 2**32
      < 4.3·10**17; work = Σ hi × 2**32 + Σ lo is then assembled in Python ints (it can reach 10**23).
    When the rows' count × max(units) × max(quality) is below 2**63 (every per-node sum of products is at most that), the
    products are summed as they are, without the split (the usual epoch: 3 M rows × 10**12 < 2**63); the products are
    made a chunk of rows at a time (``_product_sums``).
    Group sums use ``np.add.at`` on int64 (integer adds, exact); ``np.bincount`` is used only without
    weights (plain counts), since weighted bincount accumulates in float64. A sum over the rows where a column holds
    (precommitted, in consensus) is the sum over every row less the sum over the rows where it does not: every row is
    within the bounds above, so both sums and their difference are exact int64; only the rows left out are gathered
    (a realistic epoch leaves out a few per cent), never a copy of the rows kept, and once when one column is both
    (validators: on time). A column true in every row (the usual epoch) leaves out nothing.
    """
    idx = rows.node_index
    assignments = group_counts(idx, node_count).astype(np.int64, copy=False)
    late = _rows_without(rows.precommitted)
    late_idx = None if late is None else idx[late]
    precommitted = assignments if late_idx is None else assignments - np.bincount(late_idx, minlength=node_count)
    if rows.in_consensus is rows.precommitted:  # one column for both (validators: on time): its rows left out once
        out, out_idx = late, late_idx
    else:
        out = _rows_without(rows.in_consensus)
        out_idx = None if out is None else idx[out]
    counted_quality = _sum_kept(idx, rows.quality_ppb, out, out_idx, node_count)
    if rows.complexity_units is None:  # validators: one unit per row, work is the counted quality
        work = counted_quality.astype(object)
    else:
        work = _product_sums(idx, rows.complexity_units, rows.quality_ppb, out, out_idx, node_count)
    if rows.cut_rows is not None and rows.cut_ppb is not None and rows.cut_rows.size:
        # the rows whose work counts less (a few, not the column): units × cut ≤ 10**15 per row, Σ over ≤ 10**8 rows as
        # the products above (a row not counted has a cut of 0: ``_check_cut``)
        cut_rows = rows.cut_rows
        units = np.ones(cut_rows.size, dtype=np.int64) if rows.complexity_units is None else rows.complexity_units[cut_rows]
        work = work - _product_sums(idx[cut_rows], units, rows.cut_ppb, None, None, node_count)
    return assignments, precommitted, counted_quality, work


PRODUCT_CHUNK = 2**16
"""Rows whose units × quality ``_product_sums`` makes at a time, in one buffer (512 KiB of int64)."""


def _product_sums(
    idx: np.ndarray, units: np.ndarray, quality: np.ndarray, out: np.ndarray | None, out_idx: np.ndarray | None, node_count: int
) -> np.ndarray:
    """Σ units × quality per node over the rows not in ``out`` (``_sum_kept`` of the products), as Python integers (an
    object array). The products are made ``PRODUCT_CHUNK`` rows at a time into one buffer and summed chunk by chunk
    (``np.add.at``: exact int64 adds), instead of a column of every row's product (at 7.1 M validation rows a 57 MB
    temporary, faulted in). Summed as they are when the rows' count × max(units) × max(quality) (at least every product)
    is below 2**63, else as int64 sums of their high and low 32 bits (``_count_and_sum``'s bounds): the same integers
    either way."""
    rows = idx.size
    whole = _products_fit_int64(units, quality)

    def parts(product: np.ndarray) -> tuple[np.ndarray, ...]:  # what is summed: the products, or their high and low bits
        return (product,) if whole else (product >> _LOW_BITS, product & _LOW_MASK)

    sums = [np.zeros(node_count, dtype=np.int64) for _ in range(1 if whole else 2)]
    buffer = np.empty(min(rows, PRODUCT_CHUNK), dtype=np.int64)
    for start in range(0, rows, PRODUCT_CHUNK):
        end = min(start + PRODUCT_CHUNK, rows)
        product = np.multiply(units[start:end], quality[start:end], out=buffer[: end - start])
        for into, part in zip(sums, parts(product), strict=True):
            np.add.at(into, idx[start:end], part)
    if out is not None and out_idx is not None and out.size:
        sums = [kept - _group_sum(out_idx, gone, node_count) for kept, gone in zip(sums, parts(units[out] * quality[out]), strict=True)]
    work: np.ndarray = sums[0].astype(object) if whole else sums[0].astype(object) * (1 << _LOW_BITS) + sums[1].astype(object)
    return work


def _rows_without(flags: np.ndarray) -> np.ndarray | None:
    """The positions of the rows where ``flags`` is false, or None when it is true in every row."""
    return None if flags.all() else np.flatnonzero(~flags)


def _sum_kept(idx: np.ndarray, values: np.ndarray, out: np.ndarray | None, out_idx: np.ndarray | None, node_count: int) -> np.ndarray:
    """Σ values per node over the rows not in ``out`` (positions; ``out_idx`` their nodes): the sum over every row less
    the sum over those rows (callers bound the values so that the sum over every row fits int64)."""
    total = _group_sum(idx, values, node_count)
    if out is None or out_idx is None:
        return total
    kept: np.ndarray = total - _group_sum(out_idx, values[out], node_count)
    return kept


def _products_fit_int64(units: np.ndarray, quality: np.ndarray) -> bool:
    """Whether every sum of some of the rows' products ``units × quality`` (non-negative) fits int64: the rows' count ×
    max(units) × max(quality) (at least their largest product) is below 2**63."""
    return units.size == 0 or units.size * int(units.max()) * int(quality.max()) < 2**63


COUNT_CHUNK = 2**16
"""Rows ``group_counts`` counts at a time (their intp cast, 512 KiB, stays in the cache)."""


def group_counts(owners: np.ndarray, groups: int, chunk: int | None = None) -> np.ndarray:
    """``np.bincount(owners, minlength=groups)`` (each group's row count, intp), counted ``chunk`` rows at a time
    (``COUNT_CHUNK``): the same counts, without bincount's cast of a whole column narrower than intp (the epoch's int32
    node indexes) into a temporary of 8 bytes a row, faulted in (7.1 M rows: 0.026 s against 0.009 in a micro run). A
    chunk holding a value past the counts so far lengthens them, as bincount's own result is as long as its largest
    value + 1; a negative value is refused by bincount, as it is in one call."""
    chunk = chunk or COUNT_CHUNK
    if owners.size <= chunk:
        return np.bincount(owners, minlength=groups)
    counts = np.zeros(groups, dtype=np.intp)
    for start in range(0, owners.size, chunk):
        part = np.bincount(owners[start : start + chunk], minlength=counts.size)
        if part.size > counts.size:
            counts = np.concatenate((counts, np.zeros(part.size - counts.size, dtype=np.intp)))
        counts += part
    return counts


def _group_sum(idx: np.ndarray, values: np.ndarray, node_count: int) -> np.ndarray:
    """Σ values per node, exact int64 (callers bound the values so the sums fit).

    The values are viewed as ``np.int64`` itself: an int64 column whose dtype is another instance (an unpickled one)
    takes ``np.add.at``'s generic loop, about 20× slower (5.3 M rows: 0.39 against 0.018 s)."""
    out = np.zeros(node_count, dtype=np.int64)
    np.add.at(out, idx, values.astype(np.int64, copy=False).view(np.int64))
    return out


def _finish(
    assignments: list[int],
    rate: list[int],
    score: list[int],
    eligible: list[bool],
    reason: list[str | None],
    work: list[int],
    multiplier: list[int],
    weighted: list[int],
    reward: list[int],
    stream_amount: int,
) -> WorkRewards:
    """Assemble the result and check the split's invariants on the way out."""
    total_weighted = sum(weighted)
    distributed = sum(reward)
    remainder = stream_amount - distributed
    invariant(distributed + remainder == stream_amount, "work rewards: distributed + remainder != stream")
    invariant(0 <= remainder <= stream_amount, f"work rewards: remainder {remainder} outside 0..stream")
    invariant(all(r >= 0 for r in reward), "work rewards: negative reward")
    earners = sum(1 for w in weighted if w > 0)
    invariant(
        remainder == stream_amount if total_weighted == 0 else remainder < earners,
        f"work rewards: remainder {remainder} not below the {earners} earners' rounding",
    )
    invariant(all(w == 0 for w, e in zip(weighted, eligible) if not e), "work rewards: an ineligible node has weight")
    return WorkRewards(
        assignments=tuple(assignments),
        precommit_rate_bps=tuple(rate),
        score_bps=tuple(score),
        eligible=tuple(bool(e) for e in eligible),
        reason=tuple(reason),
        work=tuple(work),
        multiplier_ppb=tuple(multiplier),
        weighted=tuple(weighted),
        reward=tuple(reward),
        total_weighted=total_weighted,
        distributed=distributed,
        remainder=remainder,
        stream_amount=stream_amount,
    )


# --- input checks -------------------------------------------------------------------------------


def _check_work_rows(
    node_index: npt.ArrayLike,
    complexity_units: npt.ArrayLike,
    quality_ppb: npt.ArrayLike,
    in_consensus: npt.ArrayLike,
    precommitted: npt.ArrayLike,
    reputation_ppb: npt.ArrayLike,
    stream_amount: int,
    work_cut: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> _Rows:
    reputation = _int_column("reputation_ppb", reputation_ppb, PPB, "reputation_out_of_range")
    columns = {
        "node_index": node_index,
        "complexity_units": complexity_units,
        "quality_ppb": quality_ppb,
        "in_consensus": in_consensus,
        "precommitted": precommitted,
    }
    arrays = {name: _column(name, values) for name, values in columns.items()}
    _check_shape(arrays, reputation)
    quality = _int_column("quality_ppb", arrays["quality_ppb"], PPB, "quality_out_of_range")
    in_consensus = _bool_column("in_consensus", arrays["in_consensus"])
    cut_rows, cut_ppb = _check_cut(work_cut, quality, in_consensus)
    return _Rows(
        node_index=_int_column("node_index", arrays["node_index"], reputation.size - 1, "node_index_out_of_range", keep_int32=True),
        complexity_units=_int_column(
            "complexity_units", arrays["complexity_units"], MAX_COMPLEXITY_UNITS, "complexity_units_out_of_range", keep_uint8=True
        ),
        quality_ppb=quality,
        in_consensus=in_consensus,
        precommitted=_bool_column("precommitted", arrays["precommitted"]),
        reputation_ppb=reputation,
        stream_amount=_stream(stream_amount),
        cut_rows=cut_rows,
        cut_ppb=cut_ppb,
    )


def _check_cut(
    work_cut: tuple[npt.ArrayLike, npt.ArrayLike] | None, quality: np.ndarray, in_consensus: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``work_cut``'s rows (distinct and ascending, each a row) and cuts (0..that row's quality, 0 on a row not in
    consensus), as int64 columns."""
    if work_cut is None:
        return None, None
    rows = _int_column("work_cut rows", work_cut[0], max(quality.size - 1, 0), "invalid_column")
    cut = _int_column("work_cut", work_cut[1], PPB, "quality_out_of_range")
    if rows.size != cut.size:
        raise InvalidInput(f"work_cut has {rows.size} rows and {cut.size} cuts", code="mismatched_lengths")
    if rows.size and (bool((np.diff(rows) <= 0).any()) or bool((cut > quality[rows]).any()) or bool((cut[~in_consensus[rows]] > 0).any())):
        raise InvalidInput(
            "work_cut rows must be distinct rows in ascending order, each cut within its row's quality and 0 on a row not in "
            "consensus (it has no work)",
            code="invalid_column",
        )
    return rows, cut


def _check_validator_rows(
    node_index: npt.ArrayLike,
    agreement_ppb: npt.ArrayLike,
    on_time: npt.ArrayLike,
    reputation_ppb: npt.ArrayLike,
    stream_amount: int,
) -> _Rows:
    reputation = _int_column("reputation_ppb", reputation_ppb, PPB, "reputation_out_of_range")
    columns = {"node_index": node_index, "agreement_ppb": agreement_ppb, "on_time": on_time}
    arrays = {name: _column(name, values) for name, values in columns.items()}
    _check_shape(arrays, reputation)
    on_time_column = _bool_column("on_time", arrays["on_time"])
    return _Rows(
        node_index=_int_column("node_index", arrays["node_index"], reputation.size - 1, "node_index_out_of_range", keep_int32=True),
        complexity_units=None,
        quality_ppb=_int_column("agreement_ppb", arrays["agreement_ppb"], PPB, "agreement_out_of_range"),
        in_consensus=on_time_column,
        precommitted=on_time_column,
        reputation_ppb=reputation,
        stream_amount=_stream(stream_amount),
    )


def _check_shape(arrays: dict[str, np.ndarray], reputation: np.ndarray) -> None:
    lengths = {name: int(a.size) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"row columns must all have the same length, got {lengths}", code="mismatched_lengths")
    rows = next(iter(lengths.values()))
    if rows > MAX_ASSIGNMENTS_PER_EPOCH:
        raise InvalidInput(
            f"{rows} assignment rows exceed the limit of {MAX_ASSIGNMENTS_PER_EPOCH} per epoch",
            code="too_many_assignments",
        )
    if rows and reputation.size == 0:
        raise InvalidInput(f"{rows} assignment rows but no nodes (reputation_ppb is empty)", code="node_index_out_of_range")
    if reputation.size > MAX_NODES:
        raise InvalidInput(f"{reputation.size} nodes exceed the limit of {MAX_NODES}", code="too_many_nodes")


def _column(name: str, values: npt.ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be a one-dimensional column, got shape {array.shape}", code="invalid_column")
    return array


def _int_column(name: str, values: npt.ArrayLike, max_value: int, code: str, *, keep_uint8: bool = False, keep_int32: bool = False) -> np.ndarray:
    """An integer column within 0..max_value, as int64; floats, bools and huge ints are refused. With ``keep_uint8`` a
    uint8 column stays uint8 (the units of ``RowColumns.network_units``, the network flags' bytes: its only use is its
    product with the int64 quality, int64 and exact either way; no int64 copy of 8 bytes a row). With ``keep_int32`` an
    int32 column stays int32 (the close's node indexes: only ever an index or a group, ``group_counts``, ``np.add.at``
    and gathers take it as it is; no int64 copy of 8 bytes a row)."""
    array = _column(name, values)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise InvalidInput(f"{name} must hold integers within 0..{max_value}, got dtype {array.dtype}", code="invalid_column")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > max_value:
        raise InvalidInput(f"{name} must be within 0..{max_value}, got values in {low}..{high}", code=code)
    if (keep_uint8 and array.dtype == np.uint8) or (keep_int32 and array.dtype == np.int32):
        return array
    return array.astype(np.int64, copy=False)


def _bool_column(name: str, values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.zeros(0, dtype=bool)
    if values.dtype.kind != "b":
        raise InvalidInput(f"{name} must hold booleans, got dtype {values.dtype}", code="invalid_column")
    return values


def _stream(stream_amount: int) -> int:
    return int(amount(stream_amount))
