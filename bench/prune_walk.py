"""Probe: what the close's prune costs while the live state holds N Task records (core/prune.py ``process_prune``).

    python bench/prune_walk.py [--sizes 10000,100000,1000000] [--period U] [--old-open N] [--real-tasks] [--codec] [--json]

For each size N, a chain (``sim.chain.SimChain``: every event through ``core.apply.apply``, journaled, as the engine
applies it) with pruning on (``prune_closed_records`` 1, ``unbonding_period_epochs`` U, default 2) closes U epochs; then
N settled tasks are inserted (synthetic, as ``tasks._open_task`` inserts them: the next id, in creation order), N/U
created in each of the last U epochs (what a network keeps live: the last ``unbonding_period_epochs`` epochs' tasks),
and ``--old-open`` open tasks among the oldest epoch's (never closed: they stay). That build is not timed. Then one
``epoch.close`` through ``apply``: its horizon is the oldest epoch's tasks, which retire (1/U of the live tasks).
CPU seconds of this process: ``prune_seconds`` (``process_prune``, timed by wrapping it where ``apply`` calls it),
``close_seconds`` (the whole event, journaled), ``retired`` (tasks that left). Runs against any tree's src
(PYTHONPATH), for a paired before/after.

``--real-tasks``: the inserted tasks are copies of the settled tasks of a small simulated network
(``sim.runner.World``, scenario ``colluding_validators_30``, 2 epochs of 20 user and 20 network tasks: their assignments,
reports, criteria, token counts and splits; ~9 kB of canonical bytes each against the synthetic task's ~0.7 kB), each
with its own id and creation epoch. ``encode_record_us``: CPU µs of ``encode_record`` per retired task (the prune's
share that is the encoding), taken apart on the same tasks after the close. ``--codec``: before the close, CPU s of
``encode_state`` (a snapshot's bytes) and ``state_hash`` of the state holding the N tasks, with the collector paused as
the engine runs them (app/collector.py), and the snapshot's size.
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
from cor_incentives.core.state import task_names
from cor_incentives.core.state_codec import encode_record, encode_state, state_hash
from cor_incentives.core.units import COR
from cor_incentives.sim.chain import SimChain
from cor_incentives.sim.runner import World
from cor_incentives.sim.scenarios import SCENARIOS


def real_tasks() -> list[Task]:
    """The settled tasks of a small simulated network (their whole records: what a real task holds)."""
    scenario = dataclasses.replace(SCENARIOS["colluding_validators_30"], epochs=2, user_tasks_per_epoch=20, network_tasks_per_epoch=20)
    world = World(scenario, 1)
    for e in range(scenario.epochs):
        world.run_epoch(e)
    return [t for t in world.state.tasks.values() if t.state is TaskState.SETTLED]


def run(n: int, period: int, old_open: int, real: bool = False, codec: bool = False) -> dict[str, Any]:
    chain = SimChain({"wallet:0x" + "1" * 40: COR}, {"prune_closed_records": 1, "epoch_length_ticks": 10, "unbonding_period_epochs": period})
    chain.keep_events = False
    for _ in range(period):
        chain.oracle("epoch.close", {})
    state = chain.state
    first = Task(0, TaskKind.NETWORK, None, None, None, "m", "0x", 1, 1, 1, 1, 3, TaskState.SETTLED, state.tick, state.epoch - 1, 0, 0, "0x", [])
    templates = real_tasks() if real else [first]
    open_every = n // period // old_open if old_open else 0
    for j in range(n):
        tid = state.new_id()
        age = period - 1 - j * period // n  # epochs before the current one
        closed = TaskState.STARTED if age == period - 1 and open_every and j % open_every == 0 else TaskState.SETTLED
        template = templates[j % len(templates)]
        task = state.tasks[tid] = dataclasses.replace(template, id=tid, created_epoch=state.epoch - age, state=closed)
        state.node_refs.add(task_names(task))  # (the nodes a live task names, counted as tasks._open_task counts them)
    before = len(state.tasks)
    out: dict[str, Any] = {"tasks": n, "period": period}
    if codec:  # with the collector paused, as the engine runs them (app/collector.py)
        gc.collect()
        gc.disable()
        start = time.process_time()
        snapshot = encode_state(state)
        out["encode_state_seconds"] = round(time.process_time() - start, 4)
        start = time.process_time()
        state_hash(state)
        out["state_hash_seconds"] = round(time.process_time() - start, 4)
        gc.enable()
        out["snapshot_bytes"] = len(snapshot)
        del snapshot
    live = dict(state.tasks) if real else {}
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
    out.update(retired=retired, prune_seconds=round(sum(timed), 4), close_seconds=round(close, 4))
    if real:
        retiring = [t for tid, t in live.items() if tid not in state.tasks]
        del state.retired[:], live  # (what the close handed over, as the database takes it)
        gc.collect()
        start = time.process_time()
        kept = [encode_record(t) for t in retiring]
        out["encode_record_us"] = round((time.process_time() - start) / max(len(kept), 1) * 1e6, 2)
        out["record_bytes"] = sum(map(len, kept)) // max(len(kept), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--period", type=int, default=2, help="unbonding_period_epochs: the live tasks span this many epochs")
    parser.add_argument("--old-open", type=int, default=100, help="open tasks among the old half (they stay live)")
    parser.add_argument("--real-tasks", action="store_true", help="copies of a simulated network's settled tasks instead of a synthetic one")
    parser.add_argument("--codec", action="store_true", help="also time encode_state and state_hash of the state before the close")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for n in (int(x) for x in args.sizes.split(",")):
        out = run(n, args.period, args.old_open, args.real_tasks, args.codec)
        print(json.dumps(out) if args.json else " ".join(f"{k}={v}" for k, v in out.items()), flush=True)


if __name__ == "__main__":
    main()
