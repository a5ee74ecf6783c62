"""Bench: one ``epoch.close`` of N tasks × M nodes inside the engine, end to end, against a same-run DuckDB floor.

    python bench/epoch_e2e.py --tasks 1000000 --nodes 10000 [--json] [--seed-tasks 200] [--task-records] [--steps] [--postgresql] [--rules N]
                              [--out-of-consensus-bps N] [--hashes] [--record-costs]

What it builds (not timed):
    1. A seeded honest simulation (``sim``, the real core) runs one epoch of ``--seed-tasks`` tasks;
       every event but its ``epoch.close`` is stored in a real SQLite file (``--postgresql``: a fresh
       database on the test PostgreSQL server, tests/support/services.py) and ``Engine.open`` replays
       and projects it: real tasks, real work and validation rows, real earnings and stakes.
    2. The fast path: the engine's state is grown to ``--nodes`` nodes (a tenth validators) and
       ``--tasks`` tasks. Each new node is funded from the treasury by a ledger posting and
       registered by the core's own ``node.register`` handler (``staking.process_register``: self-bond,
       stake × ticks from its registration tick). Each new task repeats one of the simulated tasks
       (round robin): its miners' work rows and its validators' rows (each validation row with its template row's
       ``drawn_round`` and ``dissented``, so the grown epoch has as many escalations, proportionally, as the simulated
       one: the report's ``validation_rows_later_round``, ``validation_rows_dissented`` and ``escalated_network_tasks``
       count what the close's escalation rules read), with the nodes drawn uniformly
       from the nodes of that role (seeded); with ``--task-records`` its ``Task`` record is kept in
       ``state.tasks`` too, its own copy of the simulated task's record (``own_copy``), as a network holds its tasks'
       records until the prune retires them (core/prune.py: the tasks of the epoch just closed stay live). With
       ``--task-records`` the close runs with pruning on (``prune_closed_records`` 1; the simulation's genesis has 0), and
       under ``RULES_TASK_STUB`` (27, the default) each task, closed in its epoch, holds what the core leaves of it at the
       event that closed it: a ``ClosedTask`` stub in ``state.closed_tasks`` (made from its own decoded copy, the copy
       dropped), no whole record; ``--rules 26`` keeps the whole records instead, for the side by side.
       Conservation is checked after the growth.
    ``--out-of-consensus-bps N`` (N > 0): a mixed epoch instead of an honest one. The simulation has 1 lazy
       and 1 garbage miner of 10, 3 copier validators and 1 offline validator of 10 (``mixed_scenario``), so
       some of its tasks have work rows out of consensus (recorded by the core: no units, no quality, no fee),
       late validations (the offline validator's) and failed canaries (the copiers'). Each new task repeats
       a task with a row out of consensus while the epoch's work rows out of consensus are below N bps of
       its rows so far, else one without (the share ends within one task's rows of N); each row goes to a
       node of its simulated node's group (every 10th node of the role), so the cheaters stay a tenth to
       three tenths of the nodes and earn nothing, as in the simulation, while the others are paid. The report
       gives the shares reached (``out_of_consensus_bps`` of the work rows, ``late_validation_bps`` of the
       validations) and the user-task bonus rows of the close and how many are below their cap
       (``bonus_rows``, ``bonus_rows_below_cap``). Default 0: the honest epoch, every row in consensus.

What it times: the simulation's ``epoch.close`` event as the engine commits one: core apply (all
epoch steps: emission, work/validator rewards, APR, stakers, record, Merkle leaves and root),
append to the log, projections (balances, postings, nodes, the epoch document), commit. CPU seconds
of this process (steadier than wall time on a shared machine) and wall time; peak RSS before and
after the close (``ru_maxrss``); ``flush_rows``: the rows the close's projection flush wrote, per
table; ``outside_apply_seconds``: the CPU seconds after the apply, as the log append, ``Projector.project``
(the epoch document's text), ``Projector.flush`` (the rows' writes) and the commit (and its wall time);
``close_minor_faults``, ``close_system_seconds`` (and ``apply_…``): the minor page faults and system CPU seconds of
the close (of its apply), each fresh page's first touch (``getrusage``).
On PostgreSQL the server's CPU is not in ``close_seconds`` (another process): compare
``close_wall_seconds`` there. After the close (not part of ``close_seconds``): the epoch document the
projection stored, its text's size (``document_bytes``), the format the database stores it in and its stored size
(``document_format``, ``document_stored_bytes``: store/document_format.py), what ``json_text`` (what the projection writes it with) costs
when taken again (``document_text_seconds``), what the reference it equals costs, its ``json_view`` and JSON
encoding (``document_view_seconds``, ``document_dumps_seconds``), and whether the two texts are identical
(``document_text_identical``). ``--rules N`` closes under rule version N (e.g. 10: the document before it stated each input
once), for a before/after in one run. ``--hashes``: after the close, what a faster close must leave byte-identical
(``hashes``): the root, the state hash, and sha256 of the snapshot (``encode_state``), the document's text and, on SQLite,
the whole database's dump (``iterdump``). ``--record-costs``: after the close, what the live tasks cost
(``record_costs``): the oracle's state anchor, the engine's snapshot, retiring every live whole record and the window's
drop of every stub, in CPU s, with the records' and stubs' canonical bytes and memory and the RSS after each
(bench/README.md, "What the row does not time: live Task records").

Baseline (same run): DuckDB building a table from the same work and validation rows (numpy
columns extracted from the state, extraction not timed) and grouping them per node (count,
Σ precommitted, Σ units × quality in consensus): the aggregation any settlement of these rows does,
by a columnar engine (``duckdb_floor_rows``: the rows its groups counted). Goal: close ≤ 2 s at 1 M tasks × 10 k
nodes, ≤ 3× the floor, peak RSS ≤ 2 GB.
Prints one JSON object (``--json``) or a short summary.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
try:
    import cor_incentives  # noqa: F401
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(BENCH.parent / "src"))

CLOSE_TARGET_SECONDS = 2.0
FLOOR_RATIO_TARGET = 3.0
RSS_TARGET_MB = 2_048
VALIDATOR_SHARE = 10  # one node in ten is a validator


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def faults_and_system() -> tuple[int, float]:
    """This process's minor page faults and system CPU seconds so far (a fresh page's first touch is a fault: the
    kernel zeroes it, in system time)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt, usage.ru_stime


def mixed_scenario() -> Any:
    """The seed of a mixed epoch: the built-in ``copier_validators`` population (miners: 8 honest, 1 lazy, 1 garbage;
    validator-00..02, 30 % of validator stake, copy a constant report instead of evaluating) with its last validator
    offline (it never reports: its rows are late), in 3 rounds (an offline validator's escalations need the ticks)."""
    from cor_incentives.sim.scenarios import ROUTER, VALIDATOR_STAKES, NodeGroup, builtin_scenarios, miners

    validators = (
        NodeGroup("validator", "copier", 3, VALIDATOR_STAKES[:3]),
        NodeGroup("validator", "honest", 6, VALIDATOR_STAKES[3:9]),
        NodeGroup("validator", "offline", 1, VALIDATOR_STAKES[9:]),
    )
    nodes = miners(("honest", 8), ("lazy", 1), ("garbage", 1)) + validators + ROUTER
    return dataclasses.replace(builtin_scenarios()["copier_validators"], name="bench_mixed", nodes=nodes, rounds_per_epoch=3)


def simulated_epoch(tasks: int, *, mixed: bool = False) -> list[Any]:
    """The events of one seeded epoch with ``tasks`` tasks, ending at its ``epoch.close``: honest (``honest_only``),
    or with cheating miners, copier validators and an offline validator (``mixed``: ``mixed_scenario``)."""
    from cor_incentives.core.events import Command
    from cor_incentives.sim.runner import World
    from cor_incentives.sim.scenarios import builtin_scenarios

    base = mixed_scenario() if mixed else builtin_scenarios()["honest_only"]
    scenario = dataclasses.replace(base, epochs=1, user_tasks_per_epoch=tasks // 2, network_tasks_per_epoch=tasks - tasks // 2)
    world = World(scenario, 1, keep_events=True)
    world.run_epoch(0)
    events = list(world.chain.events)
    last_close = max(i for i, e in enumerate(events) if Command.decode(e.payload).kind == "epoch.close")
    return events[: last_close + 1]


def open_before_close(events: list[Any], url: str) -> Any:
    """Store every event but the last in a fresh database and open the engine on it (replayed and projected)."""
    from cor_incentives.app.engine import Engine
    from cor_incentives.core.events import Command
    from cor_incentives.store.db import Store

    store = Store(url)
    store.create_schema()
    with store.writer() as conn:
        for event in events[:-1]:
            cmd = Command.decode(event.payload)
            store.append(conn, event, cmd.kind, cmd.actor, cmd.nonce)
    store.dispose()
    return Engine.open(url)


def grow(
    state: Any,
    tasks: int,
    nodes: int,
    *,
    task_records: bool,
    seed: int = 0,
    out_of_consensus_bps: int | None = None,
    stub_closed: bool = False,
) -> dict[str, int]:
    """The fast path: grow the opened state to ``nodes`` nodes and ``tasks`` tasks (see the module doc).

    ``out_of_consensus_bps``: each new task repeats a simulated task that has a work row out of consensus while the
    epoch's work rows out of consensus are fewer than that share of its rows so far, else a task without one (each
    kind round robin): the share ends within one task's rows of the one asked; and each row goes to a node of its
    simulated node's group (``behave_alike``), so a lazy miner's rows stay a few nodes' rows. None: every simulated
    task in turn, each row to a node drawn from all nodes of its role.

    ``stub_closed`` (with ``task_records``: the rule in force stubs closed tasks, ``tasks.stubs_closed_tasks``): what the
    core holds then instead, every task of the bench being closed before its epoch's close: no whole record but the open
    tasks' (none: the simulated tasks settle in their epoch), a ``ClosedTask`` stub per task in ``state.closed_tasks``,
    each made as the core makes it (``ClosedTask.of`` of a decoded copy of the record with the node table, the copy then
    dropped: its nodes' addresses the node table's strings, its user's its own, as an event's actor is) and indexed
    in ``state.stub_epochs`` for the window's end; the node counts as for whole records (the stub names the same nodes)."""
    from cor_incentives.core import ledger as acct
    from cor_incentives.core.apply import conservation_holds
    from cor_incentives.core.records import ClosedTask
    from cor_incentives.core.staking import process_register
    from cor_incentives.core.state import task_names

    rng = random.Random(seed)
    p = state.params
    have = {role: sum(1 for n in state.nodes.values() if n.role == role) for role in ("miner", "validator", "router")}
    want_validators = max(have["validator"], nodes // VALIDATOR_SHARE)
    want_miners = max(have["miner"], nodes - want_validators - have["router"])
    for role, want in (("miner", want_miners), ("validator", want_validators)):
        bond = p.min_self_bond(role)
        for i in range(have[role], want):
            address = "0x" + rng.randbytes(20).hex()
            state.ledger.transfer("treasury", acct.wallet(address), bond, "bench_fund")
            process_register(state, address, {"role": role, "self_bond": str(bond), "commission_bps": 100 + i % 400, "models": []})
    state.ledger.commit()
    if state.selection is not None:  # the draws of a real network keep the index in step with registrations
        from cor_incentives.core.selection import sync

        sync(state)
    miners = sorted(n for n, v in state.nodes.items() if v.role == "miner")
    validators = sorted(n for n, v in state.nodes.items() if v.role == "validator")

    work_by_task: dict[int, list[Any]] = {}
    for r in state.epoch_work:
        work_by_task.setdefault(r.task, []).append(r)
    validations_by_task: dict[int, list[Any]] = {}
    for v in state.epoch_validations:
        validations_by_task.setdefault(v.task, []).append(v)
    templates = sorted(work_by_task)
    have_tasks = len(templates)
    out_of = {t: sum(1 for r in work_by_task[t] if not r.in_consensus) for t in templates}
    mixed = [t for t in templates if out_of[t]]
    clean = [t for t in templates if not out_of[t]]
    rows, out = len(state.epoch_work), sum(out_of.values())
    like = None if out_of_consensus_bps is None else behave_alike(state, miners, validators)
    picked = {True: 0, False: 0}
    whole, stubs = dict(state.tasks), state.closed_tasks if stub_closed else {}
    if task_records and stub_closed:  # the simulated tasks closed in their epoch: the core left their stubs at that event
        stub_simulated_tasks(state)
    for i in range(max(0, tasks - have_tasks)):
        if out_of_consensus_bps is None:
            template = templates[i % have_tasks]
        else:
            want_out = bool(mixed) and (not clean or out * 10_000 < out_of_consensus_bps * rows)
            kind = mixed if want_out else clean
            template = kind[picked[want_out] % len(kind)]
            picked[want_out] += 1
        task_id = state.new_id()
        work = work_by_task[template]
        rows, out = rows + len(work), out + out_of[template]
        chosen = rng.sample(miners, len(work)) if like is None else [rng.choice(like[r.node]) for r in work]
        for r, n in zip(work, chosen, strict=True):  # the rows the core would append, as columns (core/epoch_columns.py)
            state.epoch_work.append(task_id, n, r.complexity_units, r.quality_ppb, r.in_consensus, r.precommitted, r.model, r.kind, r.fee_units)
        checks = validations_by_task.get(template, [])
        chosen = rng.sample(validators, len(checks)) if like is None else [rng.choice(like[v.node]) for v in checks]
        for v, n in zip(checks, chosen, strict=True):
            state.epoch_validations.append(task_id, n, v.agreement_ppb, v.on_time, v.kind, v.canary_failed, v.drawn_round, v.dissented)
        if task_records and stub_closed and template in stubs:
            stub = ClosedTask.of(own_copy(whole[template], task_id), state.nodes)  # (the decoded copy dropped, as the core drops the record)
            stubs[task_id] = stub
            state.stub_epochs.push(stub)
            state.node_refs.add(task_names(stub))
        elif task_records and template in state.tasks:
            state.tasks[task_id] = own_copy(state.tasks[template], task_id)
            if hasattr(state, "node_refs"):  # (rule 23's count of the nodes live tasks name: core/state.py NodeRefs)
                state.node_refs.add(task_names(state.tasks[task_id]))
    conservation_holds(state)
    return {
        **escalations(state.epoch_validations),
        "work_rows_out_of_consensus": int((~state.epoch_work.consensus()).sum()),
        "validation_rows_late": int((~state.epoch_validations.on_time_flags()).sum()),
        "nodes": len(state.nodes),
        "miners": len(miners),
        "validators": len(validators),
        "tasks": have_tasks + max(0, tasks - have_tasks),
        "simulated_tasks": have_tasks,
        "work_rows": len(state.epoch_work),
        "validation_rows": len(state.epoch_validations),
        "task_records": len(state.tasks),
        "closed_task_stubs": len(state.closed_tasks),
    }


def escalations(validations: Any) -> dict[str, int]:
    """What the close's escalation rules read of the epoch's validation rows (core/epoch_rows.py ``escalation_paid``,
    ``escalation_shared``): the rows drawn in a later round than the first (``drawn_round`` > 0), the rows whose report
    made their task escalate (``dissented``), and the network tasks with a later-round row (the escalated tasks)."""
    import numpy as np

    from cor_incentives.core.epoch_rows import validation_columns

    columns = validation_columns(validations)
    later = (columns.drawn_round > 0) & columns.network if columns.drawn_round is not None else np.zeros(0, dtype=bool)
    return {
        "validation_rows_later_round": int(np.count_nonzero(later)),
        "validation_rows_dissented": int(np.count_nonzero(columns.dissented)) if columns.dissented is not None else 0,
        "escalated_network_tasks": int(np.unique(columns.task[later]).size),
    }


def stub_simulated_tasks(state: Any) -> None:
    """Each closed simulated task's whole record leaves ``state.tasks`` and its ``ClosedTask`` stub takes its place, as
    core/prune.py ``retire_closed_tasks`` did at the event that closed it under ``RULES_TASK_STUB`` with pruning on (the
    fold into ``pruned`` and the database row, that event's work, are not made: not the close's, nor live memory)."""
    from cor_incentives.core.records import CLOSED_TASK_STATES, ClosedTask

    for tid in [t for t, task in state.tasks.items() if task.state in CLOSED_TASK_STATES]:
        task = state.tasks.pop(tid)
        stub = state.closed_tasks[tid] = ClosedTask.of(task, state.nodes)
        state.stub_epochs.push(stub)


def own_copy(task: Any, task_id: int) -> Any:
    """A copy of the simulated ``task`` with id ``task_id`` holding its own containers (decoded from the template's
    canonical bytes, as a snapshot's task is): the canonical bytes of the template but for the id, and its own memory, as
    a real task's record is (``dataclasses.replace`` would share the template's lists and dicts: one copy's memory)."""
    from cor_incentives.core.state_codec import decode_record, encode_record

    copy = decode_record(type(task), encode_record(task))
    object.__setattr__(copy, "id", task_id)  # (a fresh record outside the state: nothing to journal)
    return copy


def record_costs(state: Any, close_peak_mb: float) -> dict[str, Any]:
    """What the live task records cost after the close (``--record-costs``), each with the collector paused as the engine
    runs it: the oracle's state anchor (``state_hash``: core/apply.py ``checked_state_anchor``, app/anchors.py), the
    snapshot the engine stores (``app.snapshots.snapshot_row``: ``encode_state``, its hash, zlib), and what the window's
    end costs: for each whole live task (rule 26) core/prune.py ``retire``'s work (``encode_record``, its
    ``pruned_record_hash`` and the fold, without popping it: ``retire_seconds``); for each closed task's stub
    (``RULES_TASK_STUB``) ``process_prune``'s drop of them all (``prune.drop_stubs``: ``State.stub_epochs``' buckets
    taken, the stubs popped, the nodes' counts taken off in bulk; ``drop_seconds``, run last, without a journal as in a
    replay: the stubs leave the state; ``stubs_dropped`` how many); the live records' and stubs' canonical bytes and memory,
    the process's RSS (``/proc/self/status`` VmRSS, MB) after the close and after each of the three and its peak so far
    after the anchor and after the snapshot (``close_peak_mb``, the process's peak through the close, build included,
    and the peaks since: not ``ru_maxrss`` when they start, which holds the bench's own DuckDB floor and document
    read-back run after the close, ~1.7 GB at 1 M tasks, and no engine's), and each one's own peak
    (``anchor_peak_rss_mb``, ``snapshot_peak_rss_mb``: ``VmHWM`` reset before it, ``reset_peak``); the state hash, the
    snapshot's hash and the sha256 of its stored bytes (``state_hash``, ``snapshot_hash``, ``snapshot_stored_sha256``:
    what a change to how they are written must leave identical)."""
    from cor_incentives.app.collector import engine_memory
    from cor_incentives.app.snapshots import snapshot_row
    from cor_incentives.core.prune import TASK, drop_stubs, fold
    from cor_incentives.core.state_codec import encode_record, pruned_record_hash, state_hash

    stubs = state.closed_tasks
    out: dict[str, Any] = {"task_records": len(state.tasks), "closed_task_stubs": len(stubs), "rss_mb_after_close": rss_mb()}
    with engine_memory():
        peak = close_peak_mb
        reset_peak()  # (``ru_maxrss`` too)
        start = time.process_time()
        out["state_hash"] = state_hash(state)
        out["anchor_seconds"] = time.process_time() - start
        out["rss_mb_after_anchor"], out["anchor_peak_rss_mb"] = rss_mb(), rss_mb("VmHWM")
        out["peak_rss_mb_after_anchor"] = peak = max(peak, out["anchor_peak_rss_mb"])
        reset_peak()
        start = time.process_time()
        row = snapshot_row(state)
        out["snapshot_seconds"] = time.process_time() - start
        out["snapshot_bytes"], out["snapshot_stored_bytes"] = row.size, len(row.data)
        out["snapshot_hash"], out["snapshot_stored_sha256"] = row.hash, hashlib.sha256(row.data).hexdigest()
        out["rss_mb_after_snapshot"], out["snapshot_peak_rss_mb"] = rss_mb(), rss_mb("VmHWM")
        out["peak_rss_mb_after_snapshot"] = max(peak, out["snapshot_peak_rss_mb"])
        del row
        rules, folded, size = state.params.rule_version, state.pruned.hash, 0
        start = time.process_time()
        for tid, task in state.tasks.items():
            data = encode_record(task)
            folded = fold(folded, TASK, tid, pruned_record_hash(type(task), rules, data, task))
            size += len(data)
        out["retire_seconds"] = time.process_time() - start
    out["task_record_bytes"] = size
    out["task_record_memory_bytes"] = record_memory(list(state.tasks.values())[-500:])
    out["stub_bytes"] = sum(len(encode_record(stub)) for stub in stubs.values())
    names = {n.id: n.id for n in state.nodes.values()}
    out["stub_memory_bytes"] = record_memory(list(stubs.values())[-500:], lambda stub: live_stub(stub, names))
    horizon = max((stub.created_epoch for stub in stubs.values()), default=0)
    with engine_memory():
        start = time.process_time()
        out["stubs_dropped"] = drop_stubs(state, horizon)  # (core/prune.py process_prune's drop)
        out["drop_seconds"] = time.process_time() - start
    out["stubs_left"] = len(stubs)
    out["rss_mb_after_drop"] = rss_mb()
    return out


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory now (VmRSS, MB; the peak is ``peak_rss_mb``), or another line of
    ``/proc/self/status`` (``VmHWM``: the peak since the process began or since ``reset_peak``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> None:
    """Start ``VmHWM`` again from the resident memory now (``/proc/self/clear_refs`` 5), so the peak of one step is seen
    under an earlier, higher one. It resets ``ru_maxrss`` (``peak_rss_mb``) too: read the process's peak before."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def record_memory(records: list[Any], make: Any = None) -> int:
    """The memory one of ``records`` holds, on average: what ``tracemalloc`` counts allocated (Python's allocator's own
    rounding and the collector's headers included, as RSS pays them) while a copy of each is made and kept: by ``make``,
    else decoded from its canonical bytes (``own_copy``: as the grown records and a snapshot's are made)."""
    import tracemalloc

    make = make or (lambda r: own_copy(r, r.id))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        copies = [make(r) for r in records]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del copies
    return held // max(1, len(records))


def live_stub(stub: Any, names: dict[str, str]) -> Any:
    """A copy of a closed task's ``stub`` as the engine holds one (``ClosedTask.of`` with the node table): decoded from its
    canonical bytes, then each node address it names the node table's ``str`` (``names``: each node's ``id``), its user's
    its own (an event's actor: one ``str`` a task)."""
    copy = own_copy(stub, stub.id)
    return dataclasses.replace(
        copy,
        router=None if copy.router is None else names.get(copy.router, copy.router),
        miners=tuple([names.get(a, a) for a in copy.miners]),
        validators=tuple([names.get(v, v) for v in copy.validators]),
    )


def behave_alike(state: Any, miners: list[str], validators: list[str]) -> dict[str, list[str]]:
    """Each simulated node's group of the grown nodes of its role (every k-th node, k the simulated nodes of the role):
    a grown node takes its rows from one simulated node only, so it behaves as that node did (a copier validator's group
    fails the canaries, an offline validator's group is late, a lazy miner's group is out of consensus), as a real
    epoch's cheaters are a few nodes, not a share of every node's rows."""
    groups: dict[str, list[str]] = {}
    for pool, rows in ((miners, state.epoch_work), (validators, state.epoch_validations)):
        simulated = sorted({r.node for r in rows})
        for k, node in enumerate(simulated):
            groups[node] = pool[k :: len(simulated)]
    return groups


def project_growth(engine: Any) -> None:
    """Write the grown nodes and balances to the projections, as the events that made them would have
    (so the timed close starts from projections that match the state), the grown work and validation rows into the
    work index included (the settling events' flushes write them, each its own rows: the close writes only its own)."""
    from cor_incentives.store.projections import take_index_rows

    state = engine.state
    projector = engine.projector
    take_index_rows(state, projector._cursors, projector._chunks, projector._closed)
    projector._nodes |= set(state.nodes)
    projector._accounts.update(dict.fromkeys(state.ledger.balances))
    projector._pending = True
    state.touched.clear()
    with engine.store.writer() as conn:
        projector.flush(conn, state)


def time_steps() -> dict[str, float]:
    """Have every epoch step and the projection flush add its CPU seconds to the returned dict (``--steps``:
    wraps ``core.epoch.EPOCH_STEPS`` and ``Projector.flush`` in this process only)."""
    from cor_incentives.core import epoch
    from cor_incentives.store.projections import Projector

    spent: dict[str, float] = {}

    def timed(name: str, fn: Any, wall: bool = False) -> Any:
        def run(*args: Any) -> Any:
            start, wall0 = time.process_time(), time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - start
                if wall:  # on PostgreSQL the server's part of a write is not this process's CPU
                    spent[name + "_wall"] = spent.get(name + "_wall", 0.0) + time.perf_counter() - wall0

        return run

    wrapped = {step: timed(step.__name__, step) for step in epoch.EPOCH_STEPS}
    epoch.EPOCH_STEPS[:] = [wrapped[step] for step in epoch.EPOCH_STEPS]
    epoch.ALWAYS = tuple(wrapped[step] for step in epoch.ALWAYS)
    Projector.flush = timed("projections_flush", Projector.flush, wall=True)  # type: ignore[method-assign]
    return spent


@contextlib.contextmanager
def database(tmp: str, postgresql: bool) -> Iterator[str]:
    """The URL of the bench's database: a SQLite file in ``tmp``, or a fresh PostgreSQL database (dropped after)."""
    if not postgresql:
        yield f"sqlite:///{tmp}/epoch.db"
        return
    sys.path.insert(0, str(BENCH.parent / "tests"))
    from support.services import drop_postgres_database, fresh_postgres_database

    name = f"bench_epoch_e2e_{os.getpid()}"
    try:
        yield fresh_postgres_database(name)
    finally:
        drop_postgres_database(name)


def time_close(engine: Any, close: Any) -> dict[str, Any]:
    """The ``epoch.close`` event as the engine commits one (``Engine.submit_batch``: under ``engine_memory``,
    apply, append, projections, commit)."""
    from cor_incentives.app.collector import engine_memory
    from cor_incentives.core.events import Command
    from cor_incentives.store import document_format

    cmd = Command.decode(close.payload)
    document_format.prepare(engine.projector.document_format)  # the codec's import: a running writer's first close paid it
    rss_before = peak_rss_mb()
    faults0, system0 = faults_and_system()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with engine_memory():
        with engine.store.writer() as conn:
            applied = engine._apply(close)
            apply_seconds, rss_applied = time.process_time() - cpu0, peak_rss_mb()
            faults_applied, system_applied = faults_and_system()
            engine.store.append(conn, close, cmd.kind, cmd.actor, cmd.nonce)
            appended = time.process_time()
            engine.projector.project(conn, engine.state, applied)
            projected = time.process_time()
            engine.projector.flush(conn, engine.state)
            flushed, flushed_wall = time.process_time(), time.perf_counter()
        committed = time.process_time()
        faults, system = faults_and_system()
    return {
        "close_seconds": committed - cpu0,
        "close_wall_seconds": time.perf_counter() - wall0,
        "apply_seconds": apply_seconds,
        "close_minor_faults": faults - faults0,
        "close_system_seconds": system - system0,
        "apply_minor_faults": faults_applied - faults0,
        "apply_system_seconds": system_applied - system0,
        "peak_rss_mb_before_close": rss_before,
        "peak_rss_mb_after_apply": rss_applied,
        "peak_rss_mb": peak_rss_mb(),
        "flush_rows": engine.projector.last_flush_rows,
        "outside_apply_seconds": {  # the close after its apply: the log row, the projections buffered and written, the commit
            "append": appended - cpu0 - apply_seconds,
            "project": projected - appended,
            "flush": flushed - projected,
            "commit": committed - flushed,
            "commit_wall": time.perf_counter() - flushed_wall,
        },
    }


def output_hashes(engine: Any, record: Any, url: str) -> dict[str, str]:
    """What a change to the close must leave byte-identical (``--hashes``): the epoch's Merkle root, the state hash, the
    snapshot's bytes (``encode_state``), the epoch document's text (``json_text``, what the projection stores) and, on
    SQLite, the whole database (``iterdump``: every table's rows and schema), each as sha256 (the root and state hash
    as they are)."""
    import sqlite3

    from cor_incentives.core.state_codec import encode_state, state_hash
    from cor_incentives.store.json_text import json_text

    out = {
        "root": record.root,
        "state_hash": state_hash(engine.state),
        "snapshot_sha256": hashlib.sha256(encode_state(engine.state)).hexdigest(),
        "document_sha256": hashlib.sha256(json_text(record).encode()).hexdigest(),
    }
    if url.startswith("sqlite:///"):
        dump, conn = hashlib.sha256(), sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            for line in conn.iterdump():
                dump.update(line.encode() + b"\n")
        finally:
            conn.close()
        out["sqlite_dump_sha256"] = dump.hexdigest()
    return out


def under_rules(state: Any, version: int | None, *, pruning: bool = False) -> None:
    """Run the close under rule version ``version`` (None: the opened state's) and, with ``pruning``, with
    ``prune_closed_records`` 1 (every parameter version of the opened state names them)."""
    from cor_incentives.core.params import ParamHistory

    h = state.params_history
    state.params_history = ParamHistory(tuple((e, close_params(p, version, pruning=pruning)) for e, p in h.versions))


def close_params(p: Any, version: int | None, *, pruning: bool) -> Any:
    """``p`` under rule version ``version`` (None: its own) and, with ``pruning``, ``prune_closed_records`` 1: a network
    that keeps its closed records in its database, as a task's record lives only until the prune retires it (the
    simulation's genesis has 0: it has no database, sim/chain.py)."""
    return p.replace(rule_version=p.rule_version if version is None else version, **({"prune_closed_records": 1} if pruning else {}))


def document_cost(record: Any) -> dict[str, Any]:
    """The closed epoch's document as the projection stores it: CPU seconds of ``json_text`` (what the projection
    writes), and of the reference it equals, ``json_view`` then the JSON encoding (``store.db.dumps``), each taken
    again after the close; whether the two texts are identical, and the size in bytes."""
    from cor_incentives.core.json_view import json_view
    from cor_incentives.store import db
    from cor_incentives.store.json_text import json_text

    start = time.process_time()
    text = json_text(record)
    texted = time.process_time()
    view = json_view(record)
    viewed = time.process_time()
    data = db.dumps(view)
    dumped = time.process_time()
    del view
    return {
        "document_text_seconds": texted - start,
        "document_view_seconds": viewed - texted,
        "document_dumps_seconds": dumped - viewed,
        "document_text_identical": text == data,
        "document_bytes": len(data.encode() if isinstance(data, str) else data),
    }


def stored_document(engine: Any, e: int) -> dict[str, Any]:
    """How the database stores epoch ``e``'s document (store/document_format.py): its format and stored bytes."""
    from cor_incentives.store.document_format import EPOCH_DOCUMENT_FORMAT_KEY

    with engine.store.reader() as conn:
        size = "octet_length" if engine.store.is_postgres else "length"  # SQLite: a BLOB's bytes, an ASCII text's characters
        stored = conn.exec_driver_sql(f"SELECT {size}(data) FROM documents WHERE collection = 'epoch' AND key = '{int(e)}'").scalar()
        return {"document_format": engine.store.get_meta(conn, EPOCH_DOCUMENT_FORMAT_KEY), "document_stored_bytes": stored}


def floor_columns(work: Any, validations: Any) -> dict[str, Any]:
    """The same rows as numpy columns (node index, units, quality, in consensus, precommitted), read from the
    epoch's column stores (core/epoch_columns.py): one node index over both streams."""
    import numpy as np

    names = list(work.nodes.names)
    index = {n: i for i, n in enumerate(names)}
    for n in validations.nodes.names:
        index.setdefault(n, len(index))
    to_shared = np.array([index[n] for n in validations.nodes.names], dtype=np.int64)
    return {
        "node_index": np.concatenate([work.node_index(), to_shared[validations.node_index()]]),
        "complexity_units": np.concatenate([work.units(), np.ones(len(validations), dtype=np.int64)]),
        "quality_ppb": np.concatenate([work.quality(), validations.quality()]),
        "in_consensus": np.concatenate([work.consensus(), validations.on_time_flags()]),
        "precommitted": np.concatenate([work.precommit(), validations.on_time_flags()]),
    }


def duckdb_floor(table: dict[str, Any], repeat: int = 3) -> tuple[float, int]:
    """CPU seconds (best of ``repeat``) for DuckDB to build its table from the rows and group them per node, and the
    rows its groups counted (Σ assignments)."""
    import duckdb

    from settle import FLOOR_QUERY

    con = duckdb.connect()
    best, counted = float("inf"), 0
    for _ in range(repeat):
        start = time.process_time()
        con.register("epoch_source", table)
        con.execute("CREATE OR REPLACE TABLE epoch_rows AS SELECT * FROM epoch_source")
        con.unregister("epoch_source")
        groups = con.execute(FLOOR_QUERY).fetchall()
        best = min(best, time.process_time() - start)
        counted = sum(int(g[1]) for g in groups)
    return best, counted


def bonus_rows_below_cap(record: Any) -> dict[str, int]:
    """The closed epoch's user-task bonus rows (of eligible miners, as the document states them) and how many of them
    earn less than their cap (the equivalent binds): read from the record after the close."""
    from cor_incentives.core.epoch_document import bonus_rows_of
    from cor_incentives.core.streams import LinePart, Stream, line

    node_line = line(Stream.MINER_WORK, LinePart.NODE)
    rows = below = 0
    for item in record.items:
        if item.stream == node_line:
            for b in bonus_rows_of(record.streams, item):
                rows += 1
                below += b["bonus"] < b["cap"]
    return {"bonus_rows": rows, "bonus_rows_below_cap": below}


def run(
    tasks: int,
    nodes: int,
    *,
    seed_tasks: int = 200,
    task_records: bool = False,
    directory: str | None = None,
    steps: bool = False,
    postgresql: bool = False,
    rules: int | None = None,
    out_of_consensus_bps: int = 0,
    hashes: bool = False,
    costs: bool = False,
) -> dict[str, Any]:
    if not 0 <= out_of_consensus_bps <= 10_000:
        raise ValueError(f"out_of_consensus_bps must be in 0..10000, got {out_of_consensus_bps}")
    mixed = out_of_consensus_bps > 0
    from cor_incentives.core.tasks import stubs_closed_tasks

    spent = time_steps() if steps else None
    with tempfile.TemporaryDirectory(prefix="cor-bench-e2e-", dir=directory) as tmp, database(tmp, postgresql) as url:
        wall0 = time.perf_counter()
        events = simulated_epoch(min(seed_tasks, tasks), mixed=mixed)
        engine = open_before_close(events, url)
        stub_closed = task_records and stubs_closed_tasks(close_params(engine.state.params, rules, pruning=True))
        sizes = grow(
            engine.state,
            tasks,
            nodes,
            task_records=task_records,
            out_of_consensus_bps=out_of_consensus_bps if mixed else None,
            stub_closed=stub_closed,
        )
        if rules is not None or task_records:  # (with records: pruning on, the tasks' records live as long as it keeps them)
            under_rules(engine.state, rules, pruning=task_records)
        project_growth(engine)
        if spent is not None:
            spent.clear()  # the growth's projection is not the close's
        table = floor_columns(engine.state.epoch_work, engine.state.epoch_validations)
        build_seconds = time.perf_counter() - wall0
        timing = time_close(engine, events[-1])
        floor, floor_rows = duckdb_floor(table)
        record = engine.state.epochs[engine.state.epoch - 1]
        stored = stored_document(engine, engine.state.epoch - 1)
        engine.store.dispose()
        identical = output_hashes(engine, record, url) if hashes else None
        live = record_costs(engine.state, timing["peak_rss_mb"]) if costs else None
    document = document_cost(record)
    bonuses = bonus_rows_below_cap(record)
    ratio = timing["close_seconds"] / floor
    return {
        "name": "epoch_e2e",
        "database": "postgresql" if postgresql else "sqlite",
        "epoch": "mixed" if mixed else "honest",
        "out_of_consensus_bps_asked": out_of_consensus_bps,
        **sizes,
        "out_of_consensus_bps": sizes["work_rows_out_of_consensus"] * 10_000 // max(1, sizes["work_rows"]),
        "late_validation_bps": sizes["validation_rows_late"] * 10_000 // max(1, sizes["validation_rows"]),
        **bonuses,
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in timing.items() if k != "outside_apply_seconds"},
        "outside_apply_seconds": {k: round(v, 4) for k, v in timing["outside_apply_seconds"].items()},
        "duckdb_floor_seconds": round(floor, 4),
        "duckdb_floor_rows": floor_rows,
        "ratio": round(ratio, 2),
        "root": record.root,
        "leaves": len(record.leaves),
        "items": len(record.items),
        "rule_version": engine.state.params.rule_version,
        "prune_closed_records": engine.state.params.prune_closed_records,
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in document.items()},
        **stored,
        "build_wall_seconds": round(build_seconds, 1),
        **({"step_seconds": {k: round(v, 4) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}} if spent is not None else {}),
        **({"hashes": identical} if identical is not None else {}),
        **({"record_costs": {k: round(v, 4) if isinstance(v, float) else v for k, v in live.items()}} if live is not None else {}),
        "targets": {"close_seconds_max": CLOSE_TARGET_SECONDS, "ratio_max": FLOOR_RATIO_TARGET, "peak_rss_mb_max": RSS_TARGET_MB},
        "holds": timing["close_seconds"] <= CLOSE_TARGET_SECONDS and ratio <= FLOOR_RATIO_TARGET and timing["peak_rss_mb"] <= RSS_TARGET_MB,
        "timing": "CPU seconds of this process (close: one run; DuckDB: best of 3); peak RSS of the whole process (build included)",
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--seed-tasks", type=int, default=200, help="tasks of the simulated epoch the others repeat")
    parser.add_argument("--task-records", action="store_true", help="keep a Task record per task in the live state")
    parser.add_argument("--steps", action="store_true", help="CPU seconds of each epoch step and of the projection flush (step_seconds)")
    parser.add_argument("--postgresql", action="store_true", help="on a fresh database of the test PostgreSQL server instead of SQLite")
    parser.add_argument("--rules", type=int, help="close under this rule version (default: the newest, as a new network runs)")
    parser.add_argument(
        "--out-of-consensus-bps",
        type=int,
        default=0,
        help="a mixed epoch: seed from cheating miners, copier validators and an offline validator, and repeat tasks so this "
        "share of the work rows (bps) is out of consensus (default 0: the honest epoch)",
    )
    parser.add_argument(
        "--hashes",
        action="store_true",
        help="after the close, sha256 of what a faster close must leave identical: root, state hash, snapshot, document, SQLite dump",
    )
    parser.add_argument(
        "--record-costs",
        action="store_true",
        help="after the close, CPU s of the state anchor (state_hash), the snapshot (snapshot_row) and retiring every live task",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run(
        args.tasks,
        args.nodes,
        seed_tasks=args.seed_tasks,
        task_records=args.task_records,
        steps=args.steps,
        postgresql=args.postgresql,
        rules=args.rules,
        out_of_consensus_bps=args.out_of_consensus_bps,
        hashes=args.hashes,
        costs=args.record_costs,
    )
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"epoch.close {report['tasks']:,} tasks × {report['nodes']:,} nodes ({report['epoch']}: "
            f"{report['out_of_consensus_bps']} bps of work rows out of consensus, {report['late_validation_bps']} bps of validations late, "
            f"{report['bonus_rows_below_cap']:,} of {report['bonus_rows']:,} bonuses below their cap): {report['close_seconds']:.3f} s CPU "
            f"({report['close_wall_seconds']:.3f} s wall), DuckDB floor {report['duckdb_floor_seconds']:.4f} s, "
            f"ratio {report['ratio']}, peak RSS {report['peak_rss_mb']:.0f} MB, root {report['root']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
