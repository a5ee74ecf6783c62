"""Wall-clock ETAs next to the ticks and epochs a deadline is given in (jail, unbonding, redelegation, voting, tasks).

The core counts time in ticks; how long a tick lasts is the oracle's cadence, a fact of the deployment
and not of the rules: ``cor serve --tick-seconds S`` (or ``$COR_TICK_SECONDS``) announces it, ``GET
/v1/status`` reports it as ``tick_seconds``, and every read then carries, next to each future deadline
``<key>`` it shows, ``<key>_eta``:

    ticks_left = target_tick − tick
    seconds    = ticks_left × tick_seconds
    at         = now + seconds (UTC, ISO 8601), and a text such as "in 2 h 05 min"

An epoch deadline (``mature_epoch``) is the first tick of that epoch, ``epoch_start_tick + (epoch −
current epoch) × epoch_length_ticks``: the earliest it can come (an epoch ends when the oracle closes
it). Without a tick length nothing is added. Estimates only: the oracle may tick faster or slower.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.errors import InvalidInput
from ..core.state import State

TICK_SECONDS_ENV = "COR_TICK_SECONDS"
TICK_KEYS = ("jailed_until_tick", "deadline_tick", "end_tick", "executable_tick")
EPOCH_KEYS = ("mature_epoch",)


def tick_seconds_setting(value: str | float | None = None) -> float | None:
    """The tick length given (``--tick-seconds``) or in ``$COR_TICK_SECONDS``; None when neither."""
    raw = value if value is not None else os.environ.get(TICK_SECONDS_ENV)
    if raw is None or raw == "":
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not 0 < seconds <= 86_400:
        raise InvalidInput(f"the tick length must be a number of seconds in (0, 86400], got {str(raw)[:40]!r}", code="invalid_tick_seconds")
    return seconds


def duration_text(seconds: float) -> str:
    s = int(round(seconds))
    d, rem = divmod(s, 86_400)
    h, rem = divmod(rem, 3_600)
    m, sec = divmod(rem, 60)
    if d:
        return f"in {d} d {h} h"
    if h:
        return f"in {h} h {m:02d} min"
    if m:
        return f"in {m} min {sec:02d} s"
    return f"in {sec} s"


def eta(state: State, target_tick: int, tick_seconds: float, now: datetime) -> dict[str, Any]:
    left = max(0, target_tick - state.tick)
    seconds = left * tick_seconds
    at = now + timedelta(seconds=seconds)
    return {"ticks_left": left, "seconds": round(seconds, 3), "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "text": duration_text(seconds)}


def epoch_start_tick(state: State, epoch: int) -> int:
    """The earliest first tick of a future ``epoch``."""
    return state.epoch_start_tick + (epoch - state.epoch) * state.params.epoch_length_ticks


def add_etas(state: State, data: Any, tick_seconds: float | None, now: datetime | None = None) -> Any:
    """``data`` (a read view) with ``<key>_eta`` next to every future deadline; unchanged without a tick length."""
    if tick_seconds is None or state.params_history is None:
        return data
    when = now or datetime.now(UTC)

    def walk(x: Any) -> Any:
        if isinstance(x, list):
            return [walk(v) for v in x]
        if not isinstance(x, dict):
            return x
        out = {k: walk(v) for k, v in x.items()}
        for k, v in x.items():
            if isinstance(v, bool) or not isinstance(v, int):
                continue
            if k in TICK_KEYS and v > state.tick:
                out[f"{k}_eta"] = eta(state, v, tick_seconds, when)
            elif k in EPOCH_KEYS and v > state.epoch:
                out[f"{k}_eta"] = eta(state, epoch_start_tick(state, v), tick_seconds, when)
            elif k == "ticks_to_epoch_end":
                out["epoch_end_eta"] = eta(state, state.tick + v, tick_seconds, when)
        return out

    result = walk(data)
    if isinstance(result, dict) and "ticks_to_epoch_end" in result:
        result["tick_seconds"] = tick_seconds
    return result
