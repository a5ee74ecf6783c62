"""``work_pay.settle_stream`` as it was before its bonus rows became columns (one ``Bonus`` record per row, grouped
per node in a Python loop): kept as the reference the columnar version is compared with (tests/core/test_work_pay.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cor_incentives.core.work_pay import (
    Bonus,
    BonusRow,
    compute_bonus_cap,
    compute_bonus_equivalent,
    compute_network_claim,
    compute_reward_from_claim,
)


def reference_settle(
    *,
    weighted: Sequence[int],
    multiplier_ppb: Sequence[int],
    eligible: Sequence[bool],
    bonus_rows: Sequence[BonusRow],
    rate_units: int,
    bonus_fee_bps: int,
    budget: int,
) -> dict[str, Any]:
    nodes = len(weighted)
    network_claim = [compute_network_claim(w, rate_units) if e else 0 for w, e in zip(weighted, eligible)]
    bonuses: list[list[Bonus]] = [[] for _ in range(nodes)]
    for r in bonus_rows:
        if not eligible[r.node_index]:
            continue
        equivalent = compute_bonus_equivalent(r.units, r.quality_ppb, multiplier_ppb[r.node_index], rate_units)
        cap = compute_bonus_cap(r.fee_units, bonus_fee_bps)
        bonuses[r.node_index].append(Bonus(r.task, r.units, r.quality_ppb, r.fee_units, equivalent, cap, min(equivalent, cap)))
    bonus = [sum(b.bonus for b in bs) for bs in bonuses]
    claim = [c + b for c, b in zip(network_claim, bonus)]
    claims = sum(claim)
    reward = [compute_reward_from_claim(c, claims, budget) for c in claim]
    return {
        "network_claim": tuple(network_claim),
        "bonus": tuple(bonus),
        "claim": tuple(claim),
        "reward": tuple(reward),
        "bonuses": tuple(tuple(bs) for bs in bonuses),
        "claims": claims,
        "paid": sum(reward),
    }
