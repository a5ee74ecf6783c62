"""Probe: what a closed task's stub (rule 27, ``ClosedTask``) costs against its whole record (design.md §9 "Pruning").

    python bench/task_stub.py [--sizes 20000,100000] [--sample 2000] [--json]

Session 29 measured the proposal with a ``TaskStub`` of its own; since rule 27 this is the core's ``ClosedTask``, made
by ``ClosedTask.of`` as the settling event makes it, and ``state_hash_stubs_seconds`` / ``snapshot_stubs_seconds`` run the
real ``state_hash`` and ``encode_state`` of a state holding the N stubs in ``State.closed_tasks``.
``TaskStub`` holds exactly what the core reads of a closed
(settled, failed, cancelled) task inside the window (the readers and their lines: bench/README.md, "A closed task's
stub"): ``id``, ``kind``, ``user``, ``state``, ``created_epoch``, ``created_tick``, ``router``, the miners' addresses,
``validators`` (every round's) and whether it carries a canary commitment (no reader of a closed task reads more; the
archive views and ``cor verify``'s slash audit read the retired whole record). The tasks are the settled tasks of a
small simulated network (``prune_walk.real_tasks``: ``sim.runner.World``, scenario ``colluding_validators_30``, 2
epochs of 20 user and 20 network tasks: 46 escalated to a second round, 10 validators, 34 with 5; 3 miners each), and
each stub is made from one of them.

Per task (the templates, each measured once): ``full_bytes`` and ``stub_bytes``, the canonical bytes
(``state_codec.encode_record``, the codec's own encoder, on the Task and on the stub); ``full_mem`` and ``stub_mem``,
bytes of memory a copy holds (``tracemalloc`` over ``--sample`` copies): ``*_mem`` by ``copy.deepcopy`` (its own
lists and dicts, the address strings shared, as a record the engine built holds its nodes' ids), ``*_mem_decoded`` by
``decode_record`` of its canonical bytes (every string its own, as a state loaded from a snapshot holds them, and as
``epoch_e2e --task-records`` grows its records).

Per size N (N ids, the templates in turn): the state's ``tasks`` field as the anchor and the snapshot write it: CPU s of
``state_hash``'s share (the codec's fast encoder of ``dict[int, Task]`` or ``dict[int, TaskStub]``, orjson, sha256, as
``state_codec._encode`` writes the state's fields, unpacked) and of ``encode_state``'s (packed, the text kept), with the
collector paused as the engine runs them. ``full_*`` for N whole records (``dataclasses.replace`` copies: shared lists,
which the walk reads the same), ``stub_*`` for N stubs; ``*_per_task_us`` their per-task µs; ``scaled_1m_*`` the same
times ×1 M/N and the memory ×1 M. The check ``state_hash_full_seconds`` runs the real ``state_hash`` of a state holding
the N whole records (less the same state without them): the model's share should be close to it.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from cor_incentives.core.events import content_hash
from cor_incentives.core.records import ClosedTask, Task
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import _fast, _write, decode_record, encode_record, encode_state, state_hash

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prune_walk import real_tasks  # noqa: E402  (the same source as --real-tasks)

TaskStub = ClosedTask  # the rule-27 stub the core keeps (core/records.py), built as the core builds it


def stub_of(task: Task) -> ClosedTask:
    return ClosedTask.of(task)


def per_copy_memory(make: Any, sample: int) -> int:
    """Bytes of memory one copy holds (tracemalloc over ``sample`` copies made by ``make(i)``), rounded down."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    kept = [make(i) for i in range(sample)]
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del kept
    return held // sample


def tasks_field_seconds(hint: Any, tasks: dict[int, Any], packed: bool) -> tuple[float, int]:
    """CPU s to write ``tasks`` as the state's ``tasks`` field (unpacked and hashed: the anchor; packed and kept: the
    snapshot), and the bytes written."""
    gc.collect()
    gc.disable()
    start = time.process_time()
    data = _write(lambda ranged: _fast(hint, None, packed, ranged)(tasks), False, packed)
    if not packed:
        content_hash(data)
    seconds = time.process_time() - start
    gc.enable()
    return seconds, len(data)


def run(n: int, templates: list[Task], stubs: list[TaskStub]) -> dict[str, Any]:
    k = len(templates)
    full = {i: dataclasses.replace(templates[i % k], id=i) for i in range(n)}
    short = {i: dataclasses.replace(stubs[i % k], id=i) for i in range(n)}
    out: dict[str, Any] = {"tasks": n}
    for name, hint, d in (("full", dict[int, Task], full), ("stub", dict[int, TaskStub], short)):
        for packed in (False, True):  # warm: the fast encoder is generated at its first use
            tasks_field_seconds(hint, dict(list(d.items())[:k]), packed)
        hashed, size = tasks_field_seconds(hint, d, packed=False)
        snap, _ = tasks_field_seconds(hint, d, packed=True)
        out[f"{name}_hash_seconds"] = round(hashed, 4)
        out[f"{name}_snapshot_seconds"] = round(snap, 4)
        out[f"{name}_field_bytes"] = size
        out[f"{name}_hash_per_task_us"] = round(hashed / n * 1e6, 2)
        out[f"{name}_snapshot_per_task_us"] = round(snap / n * 1e6, 2)
        out[f"scaled_1m_{name}_hash_seconds"] = round(hashed * 1_000_000 / n, 1)
        out[f"scaled_1m_{name}_snapshot_seconds"] = round(snap * 1_000_000 / n, 1)
    del short
    state = State()  # the check: the real state hash of a state holding the N records, less the empty state's
    state_hash(state)  # (warm)
    gc.collect()
    gc.disable()
    start = time.process_time()
    state_hash(state)
    empty = time.process_time() - start
    state.tasks = full  # type: ignore[assignment]
    start = time.process_time()
    state_hash(state)
    out["state_hash_full_seconds"] = round(time.process_time() - start - empty, 4)
    state.tasks = {}  # type: ignore[assignment]
    state.closed_tasks = {i: ClosedTask.of(templates[i % k]) for i in range(n)}  # type: ignore[assignment]  # (as the core makes them)
    start = time.process_time()
    state_hash(state)
    out["state_hash_stubs_seconds"] = round(time.process_time() - start - empty, 4)
    out["state_hash_per_stub_us"] = round((time.process_time() - start - empty) / n * 1e6, 2)
    start = time.process_time()
    encode_state(state, kept=False)
    out["snapshot_stubs_seconds"] = round(time.process_time() - start, 4)
    out["snapshot_per_stub_us"] = round((time.process_time() - start) / n * 1e6, 2)
    gc.enable()
    return out


def per_record(templates: list[Task], stubs: list[TaskStub], sample: int) -> dict[str, Any]:
    """Canonical bytes and memory of one whole record and of one stub (averages over the templates)."""
    k = len(templates)
    full_text = [encode_record(t) for t in templates]
    stub_text = [encode_record(s) for s in stubs]
    full_mem = per_copy_memory(lambda i: copy.deepcopy(templates[i % k]), sample)
    stub_mem = per_copy_memory(lambda i: ClosedTask.of(templates[i % k]), sample)  # (made as the core makes it)
    full_mem_decoded = per_copy_memory(lambda i: decode_record(Task, full_text[i % k]), sample)
    stub_mem_decoded = per_copy_memory(lambda i: decode_record(TaskStub, stub_text[i % k]), sample)
    return {
        "templates": k,
        "full_bytes": sum(map(len, full_text)) // k,
        "stub_bytes": sum(map(len, stub_text)) // k,
        "full_mem": full_mem,
        "stub_mem": stub_mem,
        "full_mem_decoded": full_mem_decoded,
        "stub_mem_decoded": stub_mem_decoded,
        "scaled_1m_full_mem_gb": round(full_mem * 1_000_000 / 1e9, 2),
        "scaled_1m_stub_mem_gb": round(stub_mem * 1_000_000 / 1e9, 2),
        "scaled_1m_full_mem_decoded_gb": round(full_mem_decoded * 1_000_000 / 1e9, 2),
        "scaled_1m_stub_mem_decoded_gb": round(stub_mem_decoded * 1_000_000 / 1e9, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--sample", type=int, default=2000, help="copies whose memory tracemalloc measures")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    templates = real_tasks()
    stubs = [stub_of(t) for t in templates]
    head = per_record(templates, stubs, args.sample)
    print(json.dumps(head) if args.json else " ".join(f"{k}={v}" for k, v in head.items()), flush=True)
    for n in (int(x) for x in args.sizes.split(",")):
        out = run(n, templates, stubs)
        print(json.dumps(out) if args.json else " ".join(f"{k}={v}" for k, v in out.items()), flush=True)


if __name__ == "__main__":
    main()
