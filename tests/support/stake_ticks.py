"""A validator whose delegator leaves during an epoch and whose operator may unbond its whole self-bond before the close
(finding S1, rule 31 ``RULES_STAKE_TICKS_COMMISSION``; docs/redteam/s33/zero_stake_commission.py).

Written against the core's public messages only (no rule-31 name), so that main's code before the rule can run the same
builders (tests/core/test_stake_ticks_commission.py records the state hash a rule-30 log replays to)."""

from __future__ import annotations

from typing import Any

from cor_incentives.core.units import COR
from support.chain import Chain, addr

EPOCH = 100  # epoch_length_ticks
BOND, DELEGATION = 2000 * COR, 8000 * COR


def chain(rule_version: int | None = None, commission_bps: int = 1000, delegation: int = DELEGATION) -> Chain:
    """``op`` (a validator, self-bond 2 000 COR, ``commission_bps``) with ``d``'s delegation, ``other`` (a validator, 2 000
    COR); the first epoch closed, so the next starts with both stakes in place."""
    params: dict[str, Any] = {"epoch_length_ticks": EPOCH}
    if rule_version is not None:
        params["rule_version"] = rule_version
    c = Chain(wallets={"op": 10_000 * COR, "d": 2 * delegation + 10_000 * COR, "other": 10_000 * COR}, params=params)
    c.as_("op", "node.register", {"role": "validator", "self_bond": str(BOND), "commission_bps": commission_bps})
    c.as_("other", "node.register", {"role": "validator", "self_bond": str(BOND)})
    if delegation:
        c.as_("d", "stake.delegate", {"node": addr("op"), "amount": str(delegation)})
    c.oracle("epoch.close", {})
    return c


def until(c: Chain, start: int, at: int) -> None:
    """Tick to ``start + at`` (nothing if there already)."""
    if c.state.tick < start + at:
        c.oracle("tick", {"ticks": start + at - c.state.tick})


def epoch(c: Chain, leave_at: int | None = 50, unbond_at: int | None = EPOCH - 1, close_at: int = EPOCH - 1) -> int:
    """One epoch of ``op``: ``d`` undelegates all of its stake at tick ``leave_at`` of the epoch (None: it stays), the
    operator unbonds its whole self-bond at ``unbond_at`` (None: it keeps it), the epoch closes at ``close_at``. Returns
    the epoch closed."""
    e, start = c.state.epoch, c.state.tick
    steps = sorted((at, what) for at, what in ((leave_at, "leave"), (unbond_at, "unbond")) if at is not None)
    for at, what in steps:
        until(c, start, at)
        if what == "leave":
            held = c.balance(f"delegated:{addr('op')}:{addr('d')}")
            if held:
                c.as_("d", "stake.undelegate", {"node": addr("op"), "amount": str(held)})
        else:
            held = c.balance(f"bonded:{addr('op')}")
            if held:
                c.as_("op", "stake.unbond", {"amount": str(held)})
    until(c, start, close_at)
    c.oracle("epoch.close", {})
    return e


def previous_rule_log() -> Chain:
    """The log the replay test pins (rule 30): an epoch where the delegator leaves at tick 50 and the operator keeps its
    bond, then one where the delegator (back) leaves at tick 30 and the operator unbonds at the last tick."""
    c = chain(30)
    epoch(c, leave_at=50, unbond_at=None)
    c.as_("d", "stake.delegate", {"node": addr("op"), "amount": str(DELEGATION)})
    epoch(c, leave_at=30, unbond_at=EPOCH - 1)
    return c
