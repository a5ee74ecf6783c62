"""What verified work earns from an emission stream: a governed rate, a bounded user-task bonus, a budget.

Concepts
--------
Emission pays verified useful work, never volume anyone can create for themselves. Network tasks are
issued by the oracle (not by anyone who profits from them) and earn emission at a governed *rate*
per verified work unit. User tasks are paid by their fees; a miner may earn on top a small *bonus*,
never more than the same work would earn in a network task, nor more than ``user_task_bonus_fee_bps``
of its own fee from the task (so fees paid to one's own miners never come back as more emission
than they cost: see ``params.validate_params``). Everything a stream owes is bounded by the stream's
*budget* for the epoch; what is not earned stays in ``pool:network_incentives``.

Inputs come from ``work_rewards`` (eligibility gates, work, reputation multiplier and weighted work
per node, over the node's *network* rows only) and, for the bonus, the user-task rows in consensus
(``BonusColumns``, one value per row; or ``BonusRow`` records), of which the eligible nodes' are paid.

Formulas (all integers; every division floors)
----------------------------------------------
::

    network_claim_n = weighted_n × rate_units // 10**9
                      (weighted_n = Σ_network units_r × quality_ppb_r × multiplier_ppb_n // 10**9, 0 if ineligible)
    per user row r of node n:
      equivalent_r  = units_r × quality_ppb_r × multiplier_ppb_n // 10**9 × rate_units // 10**9
      cap_r         = fee_units_r × bonus_fee_bps // 10 000
      bonus_r       = min(equivalent_r, cap_r)
    claim_n         = network_claim_n + Σ_r bonus_r
    claims          = Σ_n claim_n
    reward_n        = claim_n                         when claims ≤ budget
                    = budget × claim_n // claims      when claims > budget (the budget binds: pro rata)
    paid            = Σ_n reward_n
    back_to_pool    = budget − paid                   (stays in pool:network_incentives)

The units: ``units_r`` are complexity units (``pricing.complexity_units``: measured tokens × the
model's listed tier weight), ``quality_ppb`` the consensus PoUW quality, so units × quality // 10**9
is one *work unit* per complexity unit at quality 1.0; the rate is in base units of COR per work
unit. For validators the same formula runs with one unit per on-time validation and the agreement as
its quality, and no bonus.

Invariants (checked on the way out): 0 ≤ reward_n ≤ claim_n; paid ≤ budget; bonus_r ≤ cap_r and
bonus_r ≤ equivalent_r; back_to_pool = budget − paid; when the budget does not bind every claim is
paid in full.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from itertools import repeat
from operator import add, le
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import invariant
from .units import BPS, PPB

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class BonusRow(NamedTuple):
    """One user-task row that may earn a bonus: a miner in consensus on a settled user task (a named tuple:
    an epoch has one per user-task row in consensus, built and read in one pass)."""

    task: int
    node_index: int
    units: int
    quality_ppb: int
    fee_units: int


class Bonus(NamedTuple):
    """A bonus row's arithmetic, for the miner's statement (a named tuple, like ``BonusRow``)."""

    task: int
    units: int
    quality_ppb: int
    fee_units: int
    equivalent: int
    cap: int
    bonus: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "units": self.units,
            "quality_ppb": self.quality_ppb,
            "fee_units": self.fee_units,
            "equivalent": self.equivalent,
            "cap": self.cap,
            "bonus": self.bonus,
        }


@dataclass(frozen=True)
class BonusColumns:
    """Bonus rows as columns, one value per row in row order (what the close hands ``settle_stream``: no record per row);
    a column is a sequence of integers or an int64 array (the node indexes: int32 too, as the close's are)."""

    task: Sequence[int] | npt.NDArray[np.int64]
    node_index: Sequence[int] | npt.NDArray[np.int64] | npt.NDArray[np.int32]
    units: Sequence[int] | npt.NDArray[np.int64]
    quality_ppb: Sequence[int] | npt.NDArray[np.int64]
    fee_units: Sequence[int] | npt.NDArray[np.int64]

    @staticmethod
    def of_rows(rows: Sequence[BonusRow]) -> BonusColumns:
        return BonusColumns(
            task=[r.task for r in rows],
            node_index=[r.node_index for r in rows],
            units=[r.units for r in rows],
            quality_ppb=[r.quality_ppb for r in rows],
            fee_units=[r.fee_units for r in rows],
        )


BONUS_TABLE = ("task", "units", "quality_ppb", "fee_units", "equivalent", "cap", "bonus")
"""The columns of ``StreamPay.bonus_table``: a paid bonus row's inputs and arithmetic."""


class BonusTable(Mapping[str, Sequence[int]]):
    """``StreamPay.bonus_table``: the columns of ``BONUS_TABLE`` (in that order), the inputs given as lists and the
    arithmetic columns (equivalent, cap, bonus) made by a function when first read, then kept (a column given as another
    column's name is a copy of that column's list: the same integers). From rule version 11 the
    epoch document states the inputs only (``epoch_document.BONUS_COLUMNS``): at a million tasks the close would
    otherwise make ~4 M Python integers (the equivalents past 64 bits) that nothing reads."""

    __slots__ = ("_columns", "_make")

    def __init__(self, inputs: Mapping[str, Sequence[int]], arithmetic: Mapping[str, Callable[[], list[int]] | str]) -> None:
        invariant(set(inputs) | set(arithmetic) == set(BONUS_TABLE) and not set(inputs) & set(arithmetic), "work pay: bonus table columns")
        self._columns: dict[str, Sequence[int]] = dict(inputs)
        self._make = dict(arithmetic)

    def __getitem__(self, name: str) -> Sequence[int]:
        column = self._columns.get(name)
        if column is None:
            make = self._make.pop(name)
            column = self._columns[name] = list(self[make]) if isinstance(make, str) else make()
        return column

    def __iter__(self) -> Iterator[str]:
        return iter(BONUS_TABLE)

    def __len__(self) -> int:
        return len(BONUS_TABLE)

    def __repr__(self) -> str:
        return f"BonusTable({dict(self)!r})"


@dataclass(frozen=True)
class StreamPay:
    """Per node: network claim, bonus, claim, reward; and the stream's account for the epoch.

    The bonus rows of eligible nodes are columns (``bonus_table``, ``BONUS_TABLE``), node after node in node
    order, each node's rows in row order; ``bonus_at[n]`` is node n's ``(first, count)`` in them."""

    network_claim: tuple[int, ...]
    bonus: tuple[int, ...]
    claim: tuple[int, ...]
    reward: tuple[int, ...]
    bonus_table: Mapping[str, Sequence[int]]
    bonus_at: tuple[tuple[int, int], ...]
    rate_units: int
    bonus_fee_bps: int
    budget: int
    claims: int
    paid: int
    back_to_pool: int
    binding: bool

    @cached_property
    def bonuses(self) -> tuple[tuple[Bonus, ...], ...]:
        """Each node's bonus rows as records (the statement of rule versions 1-10, tests)."""
        rows = [Bonus(*values) for values in zip(*(self.bonus_table[name] for name in BONUS_TABLE), strict=True)]
        return tuple(tuple(rows[first : first + count]) for first, count in self.bonus_at)

    def for_node(self, n: int) -> dict[str, Any]:
        """The node's line: every input of its formula and its reward."""
        return {
            "rate_units": self.rate_units,
            "network_claim": self.network_claim[n],
            "bonus_fee_bps": self.bonus_fee_bps,
            "bonus": self.bonus[n],
            "bonus_rows": [b.to_dict() for b in self.bonuses[n]],
            "claim": self.claim[n],
            "claims": self.claims,
            "budget": self.budget,
            "budget_binding": self.binding,
            "reward": self.reward[n],
        }

    def for_node_own(self, n: int) -> dict[str, Any]:
        """The node's own results (rule version 11 on: the stream-wide inputs and the bonus rows are in the stream account)."""
        return {"network_claim": self.network_claim[n], "bonus": self.bonus[n], "claim": self.claim[n], "reward": self.reward[n]}

    def account(self) -> dict[str, Any]:
        """The stream's inputs and totals for the epoch record."""
        return {
            "rate_units": self.rate_units,
            "bonus_fee_bps": self.bonus_fee_bps,
            "network_claims": sum(self.network_claim),
            "bonus_claims": sum(self.bonus),
            "claims": self.claims,
            "budget_binding": self.binding,
        }


# --- the formulas ----------------------------------------------------------------------------------


def compute_network_claim(weighted: int, rate_units: int) -> int:
    """What a node's weighted network work earns at the rate (weighted is in work units × 10**9)."""
    return weighted * rate_units // PPB


def compute_bonus_equivalent(units: int, quality_ppb: int, multiplier_ppb: int, rate_units: int) -> int:
    """What a user-task row's work would earn as network work."""
    return units * quality_ppb * multiplier_ppb // PPB * rate_units // PPB


def compute_bonus_cap(fee_units: int, bonus_fee_bps: int) -> int:
    """The most a user-task row's bonus may be: a share of the miner's fee from the task."""
    return fee_units * bonus_fee_bps // BPS


def compute_reward_from_claim(claim: int, claims: int, budget: int) -> int:
    """A node's reward: its claim in full, or its pro-rata share of the budget when the claims exceed it."""
    return claim if claims <= budget else budget * claim // claims


# --- the bonus formulas over columns ----------------------------------------------------------------

_INT64 = 2**63  # every int64 value v holds -2**63 <= v < 2**63
BONUS_CHUNK = 2**16  # rows ``bonus_arrays`` computes at a time (its temporaries stay in the cache)


def _int_column(values: Sequence[int] | npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """``values`` as an array that gives back exactly the same Python integers: int64 when every value fits, else an
    array of the Python integers themselves (object)."""
    import numpy as np

    if isinstance(values, np.ndarray):
        if values.dtype == np.int64:
            return values
        values = values.tolist()
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return np.array(values, dtype=object)


def _held(values: npt.NDArray[Any]) -> Sequence[int]:
    """A bonus table's input column as the record holds it: an ``IntColumn`` of an int64 column (no Python integer per
    row; written, hashed and compared as the list), the list of an object column (a value past int64: exact)."""
    import numpy as np

    from .int_column import IntColumn

    if values.dtype == np.int64:
        return IntColumn(values)
    held: list[int] = values.tolist()
    return held


def bonus_columns_int64(
    units: npt.NDArray[Any],
    quality_ppb: npt.NDArray[Any],
    multiplier_ppb: npt.NDArray[Any],
    fee_units: npt.NDArray[Any],
    rate_units: int,
    bonus_fee_bps: int,
) -> tuple[list[int], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """The equivalents (a list: ``equivalents``), caps and bonuses of ``bonus_arrays``, or None where it gives None."""
    arrays = bonus_arrays(units, quality_ppb, multiplier_ppb, fee_units, rate_units, bonus_fee_bps)
    if arrays is None:
        return None
    a, low, cap, bonus = arrays
    return equivalents(a, low, rate_units), cap, bonus


def bonus_arrays(
    units: npt.NDArray[Any],
    quality_ppb: npt.NDArray[Any],
    multiplier_ppb: npt.NDArray[Any],
    fee_units: npt.NDArray[Any],
    rate_units: int,
    bonus_fee_bps: int,
    chunk: int | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """``compute_bonus_equivalent``, ``compute_bonus_cap`` and their minimum for every row, computed on int64 columns
    where bounds on the columns prove every intermediate value exact; None when they do not (a column that is not
    int64, a negative value, a bound exceeded: the caller applies the formulas row by row). The equivalents are Python
    integers (they may exceed 64 bits); caps and bonuses fit int64.

    Exactness (all values non-negative, P = 10**9, every ``//`` floors):

    * ``a = u × q × m // P``: with ``x = q × m = xh × P + xl`` (0 ≤ xl < P), ``u × x = u × xh × P + u × xl``, so
      ``a = u × xh + u × xl // P``. Held in int64 when max(q) × max(m), max(u) × P and max(u) × (max(q) × max(m) // P) + max(u)
      are below 2**63.
    * ``equivalent = a × rate // P``: with ``rate = rh × P + rl``, ``equivalent = a × rh + a × rl // P``; with
      ``a = ah × P + al``, ``a × rl // P = ah × rl + al × rl // P`` (al × rl < P × P, ah × rl ≤ a): int64. ``a × rh`` is
      taken in Python integers.
    * ``cap = f × bps // 10 000`` in int64 when bps and max(f) × bps are below 2**63.
    * ``bonus = min(equivalent, cap)``: ``equivalent ≥ cap`` exactly when ``a × rh ≥ d = cap − a × rl // P``: when
      a > (2**63 − 1) // rh (then a × rh > 2**63 − 1 ≥ d), else by comparing a × rh, which fits int64; where
      equivalent < cap, ``equivalent = a × rh + a × rl // P`` fits int64 too.

    Returned as int64 arrays: ``a`` and ``a × rl // P`` (``low``; the equivalent is ``a × rh + low``, ``equivalents``),
    the caps and the bonuses. Each row's values depend on that row alone: they are made ``chunk`` rows at a time
    (``BONUS_CHUNK``) into the four arrays, so the ~15 temporaries are a chunk's (in the cache, reused from one chunk to
    the next) instead of full columns each faulted in (at 1.3 M bonus rows ~23 k page faults, ~0.2 GB, of the close).
    """
    import numpy as np

    fee = fee_units
    if not all(c.dtype == np.int64 for c in (units, quality_ppb, multiplier_ppb, fee)) or units.size == 0:
        return None
    if min(int(units.min()), int(quality_ppb.min()), int(multiplier_ppb.min()), int(fee.min()), rate_units, bonus_fee_bps) < 0:
        return None
    big_u, qm = int(units.max()), int(quality_ppb.max()) * int(multiplier_ppb.max())
    rh, rl = divmod(rate_units, PPB)
    if qm >= _INT64 or big_u * PPB >= _INT64 or big_u * (qm // PPB) + big_u >= _INT64 or rh >= _INT64:
        return None
    if bonus_fee_bps >= _INT64 or int(fee.max()) * bonus_fee_bps >= _INT64:  # (the share itself must fit int64, too)
        return None
    rows, chunk = units.size, chunk or BONUS_CHUNK
    a, low, cap, bonus = (np.empty(rows, dtype=np.int64) for _ in range(4))
    limit = (_INT64 - 1) // rh if rh else 0  # a ≤ limit: a × rh fits int64; a > limit: a × rh > 2**63 − 1 ≥ d
    for start in range(0, rows, chunk):
        at = slice(start, start + chunk)
        u = units[at]
        xh, xl = np.divmod(quality_ppb[at] * multiplier_ppb[at], PPB)
        a_ = a[at]
        np.add(u * xh, u * xl // PPB, out=a_)
        low_ = low[at]
        if rl:
            ah, al = np.divmod(a_, PPB)
            np.add(ah * rl, al * rl // PPB, out=low_)  # a × rl // P
        else:
            low_[:] = 0
        cap_ = cap[at]
        np.floor_divide(fee[at] * bonus_fee_bps, BPS, out=cap_)
        d = cap_ - low_
        if rh:
            below = np.minimum(a_, limit) * rh
            binds = (a_ > limit) | (below >= d)
        else:
            below = np.zeros_like(a_)
            binds = below >= d
        np.copyto(bonus[at], np.where(binds, cap_, below + low_))
    return a, low, cap, bonus


def equivalents(a: npt.NDArray[np.int64], low: npt.NDArray[np.int64], rate_units: int) -> list[int]:
    """Each row's ``equivalent = a × rh + low`` in Python integers (``rh = rate_units // 10**9``; ``a`` and ``low`` as
    ``bonus_arrays`` gives them): it may exceed 64 bits."""
    rh, rl = divmod(rate_units, PPB)
    high: list[int] = (a.astype(object) * rh).tolist() if rh else [0] * a.size
    return list(map(add, high, low.tolist())) if rl else high


def within_equivalents(
    a: npt.NDArray[np.int64], low: npt.NDArray[np.int64], bonus: npt.NDArray[np.int64], rate_units: int, chunk: int | None = None
) -> bool:
    """Whether ``bonus_r ≤ equivalent_r = a_r × rh + low_r`` for every row, without the equivalents' Python integers
    (``bonus_arrays``' columns; bonus and low are int64 and non-negative, so ``bonus_r − low_r`` is exact): ``a_r × rh``
    exceeds 2**63 − 1 ≥ ``bonus_r − low_r`` where ``a_r > (2**63 − 1) // rh``, and fits int64 elsewhere. Tested ``chunk``
    rows at a time (``BONUS_CHUNK``), as ``bonus_arrays`` makes the columns: each row's test is its own, and the
    temporaries are a chunk's (in the cache) instead of five full columns faulted in (at 1.3 M bonus rows ~53 MB, ~0.04 s
    of the close)."""
    import numpy as np

    rh = rate_units // PPB
    chunk = chunk or BONUS_CHUNK
    limit = (_INT64 - 1) // rh if rh else 0
    for start in range(0, bonus.size, chunk):
        at = slice(start, start + chunk)
        if not rh:
            holds = bool((bonus[at] <= low[at]).all())
        else:
            a_ = a[at]
            holds = bool(((a_ > limit) | (bonus[at] - low[at] <= np.minimum(a_, limit) * rh)).all())
        if not holds:
            return False
    return True


def _group_sums(values: npt.NDArray[np.int64], bounds: npt.NDArray[np.intp], chunk: int | None = None) -> list[int] | None:
    """Σ values[bounds[n] : bounds[n + 1]] for each n (``bounds`` non-decreasing, from 0 to ``values.size``), exactly, by
    int64 running sums when every value is non-negative and there are fewer than 2**31 of them; None otherwise (the caller
    sums in Python integers). One running sum when the total is provably below 2**63 (count × max); else each value split
    as hi × 2**32 + lo (hi < 2**31, lo < 2**32), so the running sums of hi (< 2**31 × 2**31) and of lo (< 2**31 × 2**32)
    stay in int64, and a group's sum is Σ hi × 2**32 + Σ lo in Python integers (as ``rewards.model_usage``).

    The running sums are taken ``chunk`` rows at a time (``BONUS_CHUNK``), each chunk's from the total of the chunks
    before, and kept at the bounds only: the same sums, without full columns of the halves and their running sums (at
    1.3 M bonus rows six temporaries of ~11 MB, faulted in)."""
    if values.size == 0 or values.size >= 2**31 or int(values.min()) < 0:
        return None
    import numpy as np

    whole = values.size * int(values.max()) < _INT64
    chunk = chunk or BONUS_CHUNK
    at_bounds = [np.zeros(bounds.size, dtype=np.int64) for _ in range(1 if whole else 2)]  # Σ part[:p] at each bound p
    carry = [0] * len(at_bounds)
    for start in range(0, values.size, chunk):
        end = min(start + chunk, values.size)
        # the bounds p with start < p ≤ end: Σ part[:p] is the chunks' before plus this chunk's running sum at p − 1
        first, last = np.searchsorted(bounds, [start, end], side="right").tolist()
        where = bounds[first:last] - (start + 1)
        part = values[start:end]
        for i, column in enumerate((part,) if whole else (part >> 32, part & 0xFFFFFFFF)):
            running = np.cumsum(column)
            at_bounds[i][first:last] = running[where] + carry[i]
            carry[i] += int(running[-1])
    sums = [(r[1:] - r[:-1]).tolist() for r in at_bounds]
    if whole:
        grouped: list[int] = sums[0]
        return grouped
    return [h * 2**32 + low for h, low in zip(sums[0], sums[1], strict=True)]


# --- one stream ------------------------------------------------------------------------------------


def settle_stream(
    *,
    weighted: Sequence[int],
    multiplier_ppb: Sequence[int],
    eligible: Sequence[bool],
    bonus_rows: Sequence[BonusRow] | BonusColumns,
    rate_units: int,
    bonus_fee_bps: int,
    budget: int,
) -> StreamPay:
    """Claims and rewards of every node of one stream (see the module's formulas)."""
    import numpy as np  # here, not with the module: the epoch document (and so every read command) imports this module

    from .epoch_rows import grouped_columns

    nodes = len(weighted)
    invariant(len(multiplier_ppb) == nodes and len(eligible) == nodes, "work pay: per-node columns differ in length")
    network_claim = [compute_network_claim(w, rate_units) if e else 0 for w, e in zip(weighted, eligible)]
    rows = bonus_rows if isinstance(bonus_rows, BonusColumns) else BonusColumns.of_rows(bonus_rows)
    # the rows of eligible nodes, node after node (a stable grouping: each node's rows stay in row order), and each node's
    # count of them: its rows are [bounds[n] : bounds[n + 1]] of the grouped columns. A row of an ineligible node is keyed
    # past every node (``nodes``): grouped after all the others, then left out (no gather of the rows kept first)
    owner = np.asarray(rows.node_index)
    if owner.dtype != np.int32:  # (the close's node indexes are int32, read as they are; anything else as int64)
        owner = owner.astype(np.int64, copy=False)
    paid_row = np.asarray(eligible, dtype=bool)[owner]
    key = owner if paid_row.all() else np.where(paid_row, owner, nodes)
    by_node, counts = grouped_columns([_int_column(c) for c in (rows.task, rows.units, rows.quality_ppb, rows.fee_units)], key, nodes + 1)
    counts = counts[:nodes]
    task, units, quality, fee_units = (column[: int(counts.sum())] for column in by_node)
    multiplier = np.repeat(_int_column(multiplier_ppb), counts)  # each row's node's multiplier
    bounds_at = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(counts)))
    bounds = bounds_at.tolist()
    fast = bonus_arrays(units, quality, multiplier, fee_units, rate_units, bonus_fee_bps)
    arithmetic: dict[str, Callable[[], list[int]] | str]  # the equivalent, cap and bonus columns: made when first read
    if fast is not None:
        a, low, cap_at, bonus_at = fast
        invariant(bool((bonus_at <= cap_at).all()), "work pay: a bonus above its cap")
        invariant(within_equivalents(a, low, bonus_at, rate_units), "work pay: a bonus above its equivalent")
        grouped = _group_sums(bonus_at, bounds_at)
        if grouped is None:
            row_bonus = bonus_at.tolist()
            grouped = [sum(row_bonus[bounds[n] : bounds[n + 1]]) for n in range(nodes)]
        bonus = grouped
        every_cap = bool((bonus_at == cap_at).all())  # (the usual epoch: the fee share binds)
        arithmetic = {"equivalent": partial(equivalents, a, low, rate_units), "cap": cap_at.tolist, "bonus": bonus_at.tolist}
        if every_cap:  # the bonus column is the cap's integers again, not new ones
            arithmetic["bonus"] = "cap"
    else:  # a value beyond what int64 columns hold exactly: the formulas row by row, in Python integers
        fee = fee_units.tolist()
        equivalent = list(map(compute_bonus_equivalent, units.tolist(), quality.tolist(), multiplier.tolist(), repeat(rate_units)))
        cap = list(map(compute_bonus_cap, fee, repeat(bonus_fee_bps)))
        row_bonus = list(map(min, equivalent, cap))
        invariant(all(map(le, row_bonus, cap)), "work pay: a bonus above its cap")
        invariant(all(map(le, row_bonus, equivalent)), "work pay: a bonus above its equivalent")
        bonus = [sum(row_bonus[bounds[n] : bounds[n + 1]]) for n in range(nodes)]
        arithmetic = {"equivalent": lambda: equivalent, "cap": lambda: cap, "bonus": lambda: row_bonus}
    claim = [c + b for c, b in zip(network_claim, bonus)]
    claims = sum(claim)
    reward = [compute_reward_from_claim(c, claims, budget) for c in claim]
    paid = sum(reward)
    inputs = {"task": _held(task), "units": _held(units), "quality_ppb": _held(quality), "fee_units": _held(fee_units)}
    out = StreamPay(
        network_claim=tuple(network_claim),
        bonus=tuple(bonus),
        claim=tuple(claim),
        reward=tuple(reward),
        bonus_table=BonusTable(inputs, arithmetic),
        bonus_at=tuple((bounds[n], bounds[n + 1] - bounds[n]) for n in range(nodes)),
        rate_units=rate_units,
        bonus_fee_bps=bonus_fee_bps,
        budget=budget,
        claims=claims,
        paid=paid,
        back_to_pool=budget - paid,
        binding=claims > budget,
    )
    invariant(all(0 <= r <= c for r, c in zip(reward, claim)), "work pay: a reward exceeds its claim")
    invariant(0 <= paid <= budget, f"work pay: paid {paid} outside 0..budget {budget}")
    invariant(out.binding or reward == claim, "work pay: a claim under the budget was not paid in full")
    return out
