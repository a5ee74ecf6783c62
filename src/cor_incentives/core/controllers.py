"""Controllers: the "regular review" made mechanical (docs/design.md §8).

At each epoch close every enabled controller measures a signal, compares it with its target and
moves one parameter by a bounded, rate-limited step toward the target; the new value applies from
the next epoch (a new parameter version). Governance sets target, bounds and maximum step
(proposal kind ``controller``). Each adjustment is recorded in the epoch record with its inputs.

    error_bps = measured_bps − target_bps                       (signed)
    step      = clamp(max_step × error_bps // 10 000, −max_step, +max_step)
    new       = clamp(current + direction × step, min_value, max_value)

Controllers (defaults)
    price:   measures utilisation = miner assignments × task_span_ticks // (selectable miners ×
             epoch_length_ticks) in bps (task_span = precommit + reveal + validation deadlines);
             moves ``price_factor_ppb`` up when busy, down when idle. Target 6000 bps, bounds
             [0.5, 2.0] × 10**9, max step 0.05 × 10**9 per epoch.
    staking: measures the bonded ratio (bonded / supply, bps); moves ``max_epoch_drain_bps`` up when
             too little is bonded (more APR budget), down when more than the target is bonded.
             Target 5000 bps, bounds [10, 500] bps, max step 10 bps per epoch.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidInput
from .params import PARAM_FIELDS
from .records import Controller
from .rules import rules_since
from .selection import eligible_nodes
from .state import State, assert_ready
from .units import BPS

DEFAULT_CONTROLLERS = (
    Controller("price", "price_factor_ppb", 6_000, 500_000_000, 2_000_000_000, 50_000_000, +1),
    Controller("staking", "max_epoch_drain_bps", 5_000, 10, 500, 10, -1),
)


def adjust(c: Controller, current: int, measured_bps: int) -> int:
    """One bounded, rate-limited step toward the target (pure)."""
    error = measured_bps - c.target_bps
    step = max(-c.max_step, min(c.max_step, c.max_step * error // BPS if error >= 0 else -(c.max_step * -error // BPS)))
    return max(c.min_value, min(c.max_value, current + c.direction * step))


def check_controller_settings(name: str, current: Controller, body: dict[str, Any]) -> Controller:
    """A controller with governance's new settings, refused when out of the parameter's own bounds."""
    f = PARAM_FIELDS[current.param]
    lo, hi = f.metadata["min"], f.metadata["max"]
    vals = {}
    for key in ("target_bps", "min_value", "max_value", "max_step"):
        v = body.get(key, getattr(current, key))
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InvalidInput(f"controller {name}.{key} must be a non-negative integer", code="invalid_controller")
        vals[key] = v
    if vals["target_bps"] > BPS:
        raise InvalidInput("target_bps must be at most 10000", code="invalid_controller")
    if not lo <= vals["min_value"] <= vals["max_value"] <= hi:
        raise InvalidInput(f"controller bounds must satisfy {lo} <= min <= max <= {hi} ({current.param})", code="invalid_controller")
    enabled = body.get("enabled", current.enabled)
    if not isinstance(enabled, bool):
        raise InvalidInput("enabled must be true or false", code="invalid_controller")
    return Controller(name, current.param, vals["target_bps"], vals["min_value"], vals["max_value"], vals["max_step"], current.direction, enabled)


def measure(state: State, name: str) -> dict[str, int]:
    """The signal a controller reads at epoch close, with its inputs."""
    p = state.params
    if name == "price":
        miners = len(eligible_nodes(state, "miner"))
        assignments = len(state.epoch_work)
        span = p.precommit_deadline_ticks + p.reveal_deadline_ticks + p.validation_deadline_ticks
        capacity = miners * p.epoch_length_ticks
        util = min(BPS, assignments * span * BPS // capacity) if capacity else 0
        return {"measured_bps": util, "assignments": assignments, "task_span_ticks": span, "selectable_miners": miners}
    bonded = sum(n.stake_total for n in state.nodes.values())
    supply = state.genesis_supply + state.minted
    return {"measured_bps": bonded * BPS // supply if supply else 0, "bonded": bonded, "supply": supply}


def process_controllers(state: State) -> dict[str, Any]:
    """Adjust every enabled controller's parameter for the next epoch; return the record.

    Rules 2 on: the step starts from the value the next epoch would have (a governance change
    executed at this close included), so a controller moves a parameter governance set instead of
    overwriting it; the controller's own bounds still hold. Rules 1: from the closing epoch's value."""
    p = assert_ready(state).at(state.epoch + 1) if rules_since(state.params, 2) else state.params
    record: dict[str, Any] = {}
    changes: dict[str, int] = {}
    for name in sorted(state.controllers):
        c = state.controllers[name]
        if not c.enabled:
            continue
        signal = measure(state, name)
        current = getattr(p, c.param)
        new = adjust(c, current, signal["measured_bps"])
        record[name] = {
            **signal,
            "param": c.param,
            "target_bps": c.target_bps,
            "before": current,
            "after": new,
            "bounds": [c.min_value, c.max_value],
            "max_step": c.max_step,
        }
        if new != current:
            changes[c.param] = new
    if changes:
        nxt = state.epoch + 1
        state.params_history = assert_ready(state).with_changes(nxt, changes)
    return record
