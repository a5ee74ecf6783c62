"""Probe: what the close's prune costs while the live state holds N Task records (core/prune.py ``process_prune``).

    python bench/prune_walk.py [--sizes 10000,100000,1000000] [--period U] [--old-open N] [--json]

For each size N, a chain (``sim.chain.SimChain``: every event through ``core.apply.apply``, journaled, as the engine
applies it) with pruning on (``prune_closed_records`` 1, ``unbonding_period_epochs`` U, default 2) closes U epochs; then
N settled tasks are inserted (synthetic, as ``tasks._open_task`` inserts them: the next id, in creation order), N/U
created in each of the last U epochs (what a network keeps live: the last ``unbonding_period_epochs`` epochs' tasks),
and ``--old-open`` open tasks among the oldest epoch's (never closed: they stay). That build is not timed. Then one
``epoch.close`` through ``apply``: its horizon is the oldest epoch's tasks, which retire (1/U of the live tasks).
CPU seconds of this process: ``prune_seconds`` (``process_prune``, timed by wrapping it where ``apply`` calls it),
``close_seconds`` (the whole event, journaled), ``retired`` (tasks that left). Runs against any tree's src
(PYTHONPATH), for a paired before/after.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import time
from typing import Any

import cor_incentives.core.apply as apply_module
from cor_incentives.core.records import Task, TaskKind, TaskState
from cor_incentives.core.units import COR
from cor_incentives.sim.chain import SimChain


def run(n: int, period: int, old_open: int) -> dict[str, Any]:
    chain = SimChain({"wallet:0x" + "1" * 40: COR}, {"prune_closed_records": 1, "epoch_length_ticks": 10, "unbonding_period_epochs": period})
    chain.keep_events = False
    for _ in range(period):
        chain.oracle("epoch.close", {})
    state = chain.state
    first = Task(0, TaskKind.NETWORK, None, None, None, "m", "0x", 1, 1, 1, 1, 3, TaskState.SETTLED, state.tick, state.epoch - 1, 0, 0, "0x", [])
    open_every = n // period // old_open if old_open else 0
    for j in range(n):
        tid = state.new_id()
        age = period - 1 - j * period // n  # epochs before the current one
        closed = TaskState.STARTED if age == period - 1 and open_every and j % open_every == 0 else TaskState.SETTLED
        state.tasks[tid] = dataclasses.replace(first, id=tid, created_epoch=state.epoch - age, state=closed)
    before = len(state.tasks)
    timed: list[float] = []
    original = apply_module.process_prune

    def prune(s: Any) -> None:
        start = time.process_time()
        original(s)
        timed.append(time.process_time() - start)

    apply_module.process_prune = prune
    gc.collect()
    gc.freeze()
    start = time.process_time()
    chain.oracle("epoch.close", {})
    close = time.process_time() - start
    gc.unfreeze()
    apply_module.process_prune = original
    retired = before - len(state.tasks)
    return {"tasks": n, "period": period, "retired": retired, "prune_seconds": round(sum(timed), 4), "close_seconds": round(close, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--period", type=int, default=2, help="unbonding_period_epochs: the live tasks span this many epochs")
    parser.add_argument("--old-open", type=int, default=100, help="open tasks among the old half (they stay live)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for n in (int(x) for x in args.sizes.split(",")):
        out = run(n, args.period, args.old_open)
        print(json.dumps(out) if args.json else " ".join(f"{k}={v}" for k, v in out.items()), flush=True)


if __name__ == "__main__":
    main()
