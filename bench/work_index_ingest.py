"""Bench: what the work index (``db.work_index``, docs/design.md §6) costs the ingest, a settled task at a time.

    python bench/work_index_ingest.py [--tasks 50000] [--nodes 1000] [--repeat 3] [--json]

The real ``Projector`` on the store's own SQLite engine (``Store``: its pragmas), fed as the batch path feeds it: each
event settles one task and appends its rows to the state's work columns as ``tasks._record_work`` does (3 miner rows, 7
validation rows: the mixed epoch's ~6.9 a task rounded up; nodes drawn from ``--nodes``, ~1 row in 10 not counted),
``Projector.project`` after each event, ``flush`` and the commit every 125 events (the batch path's group commit); at
the end an epoch's close (the columns replaced, the close row written). Times the same run with the index's part of
``project`` and ``flush`` turned off (no chunk buffered, none written) and prints the CPU and wall µs a settled task of
each, their difference (what the index costs), the index's bytes (and a settled task's, under each step of the chunks'
layout 2 taken one at a time: ``steps``) and the statement's read of one miner (``read_node_rows`` of the miners' family,
the second read), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from typing import Any

from sqlalchemy import func, select

from cor_incentives.core.apply import Applied
from cor_incentives.core.epoch_columns import ValidationColumns, WorkColumns
from cor_incentives.core.records import TaskKind
from cor_incentives.core.state import State
from cor_incentives.store import db, projections
from cor_incentives.store.projections import Projector, read_node_rows

MINER_ROWS, VALIDATOR_ROWS, EVENTS_A_TRANSACTION = 3, 7, 125


def ingest(tasks: int, nodes: int, index: bool) -> dict[str, Any]:
    rng = random.Random(0)
    names = ["0x" + rng.randbytes(20).hex() for _ in range(nodes)]
    miners, validators = names[: nodes * 9 // 10], names[nodes * 9 // 10 :]
    draws = [(rng.sample(miners, MINER_ROWS), rng.sample(validators, VALIDATOR_ROWS), rng.random()) for _ in range(tasks)]
    with tempfile.TemporaryDirectory(prefix="cor-bench-wi-") as tmp:
        store = db.Store(f"sqlite:///{tmp}/wi.db")
        store.create_schema()
        state = State()
        projector = Projector()
        projector.reset_from(state)
        taking = projections.take_index_rows
        if not index:  # (``Projector.project`` buffers the index's rows through the module's ``take_index_rows``)
            projections.take_index_rows = lambda *args: None
        work, vals = state.epoch_work, state.epoch_validations
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            seq = 0
            for start in range(0, tasks, EVENTS_A_TRANSACTION):
                with store.writer() as conn:
                    for t in range(start, min(tasks, start + EVENTS_A_TRANSACTION)):
                        ms, vs, r = draws[t]
                        for i, m in enumerate(ms):
                            work.append(t + 1, m, 100, 900_000_000, not (i == 2 and r < 0.3), True, "m", TaskKind.NETWORK, 0)
                        for i, v in enumerate(vs):
                            vals.append(t + 1, v, 900_000_000, not (i == 6 and r < 0.5), TaskKind.NETWORK, False)
                        seq += 1
                        state.seq = seq
                        projector.project(conn, state, Applied(seq, "task.validate", "0x", []))
                    if start + EVENTS_A_TRANSACTION >= tasks:  # the close: the columns replaced, the next epoch begins
                        state.epoch, state.epoch_work, state.epoch_validations = 1, WorkColumns(), ValidationColumns()
                        projector.epochs_projected_through = 0  # (no epoch record here: the close's document is not this bench's)
                        seq += 1
                        state.seq = seq
                        projector.project(conn, state, Applied(seq, "epoch.close", "0x", []))
                    projector.flush(conn, state)
        finally:
            projections.take_index_rows = taking
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        out: dict[str, Any] = {"cpu_us_a_task": 1e6 * cpu / tasks, "wall_us_a_task": 1e6 * wall / tasks}
        if index:
            with store.reader() as conn:
                t = db.work_index.c
                out["index_bytes"] = int(
                    conn.execute(select(func.sum(func.length(t.tasks) + func.length(t.nodes) + func.length(t.counted)))).scalar() or 0
                )
                out["index_rows"] = int(conn.execute(select(func.sum(t.row_count)).where(t.first_row >= 0)).scalar() or 0)
                out["bytes_a_task"] = out["index_bytes"] / tasks
                out["steps"] = layout_steps(conn, tasks)
                read_node_rows(conn, 0, "miner_work", miners[:1])  # (once untimed: numpy's import, the pages' first read)
                c0, w0 = time.process_time(), time.perf_counter()
                read = read_node_rows(conn, 0, "miner_work", miners[:1])
                assert read is not None
                ids, rows = read[miners[0]]
                out["read_cpu_ms"], out["read_wall_ms"] = 1e3 * (time.process_time() - c0), 1e3 * (time.perf_counter() - w0)
                assert rows == sum(1 for d in draws if miners[0] in d[0]) and len(ids) <= rows
        out["db_bytes"] = sum(os.path.getsize(f"{tmp}/{f}") for f in os.listdir(tmp) if f.startswith("wi.db"))  # (with its WAL)
        store.dispose()
    return out


def layout_steps(conn: Any, tasks: int) -> dict[str, float]:
    """Bytes a settled task of the stored chunks' rows under each step of layout 2 (store/work_index_format.py), one
    added at a time: layout 1 (8 + 4 + 1 bytes a row), the task ids as deltas in the narrowest width, the nodes in the
    narrowest width, the counted flags as bits, then zlib (level 1, where it pays: layout 2 itself)."""
    import numpy as np

    from cor_incentives.store.work_index_format import _WIDTHS, _width, decode_chunk

    t = db.work_index.c
    sizes = dict.fromkeys(("layout_1", "task_deltas", "narrow_nodes", "counted_bits", "zlib"), 0)
    for n, ts, nd, c in conn.execute(select(t.row_count, t.tasks, t.nodes, t.counted).where(t.first_row >= 0)):
        tasks_, nodes_, counted = decode_chunk(n, ts, nd, c)
        if not n:
            continue
        deltas = np.diff(tasks_)
        task_bytes = 8 + (_WIDTHS[_width(int(deltas.min()), int(deltas.max()))] * (n - 1) if n > 1 else 0)
        node_bytes = _WIDTHS[_width(int(nodes_.min()), int(nodes_.max()))] * n
        sizes["layout_1"] += 13 * n
        sizes["task_deltas"] += task_bytes + 5 * n
        sizes["narrow_nodes"] += task_bytes + node_bytes + n
        sizes["counted_bits"] += task_bytes + node_bytes + (n + 7) // 8 + 2
        sizes["zlib"] += len(ts) + len(nd) + len(c)
        assert len(ts) <= task_bytes + node_bytes + (n + 7) // 8 + 2  # (layout 2 keeps zlib only where it pays)
    return {k: round(v / tasks, 2) for k, v in sizes.items()}


def run(tasks: int, nodes: int, repeat: int) -> dict[str, Any]:
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for key, index in (("without", False), ("with", True)):
            got = ingest(tasks, nodes, index)
            if key not in best or got["cpu_us_a_task"] < best[key]["cpu_us_a_task"]:
                best[key] = got
    return {
        "tasks": tasks,
        "nodes": nodes,
        "without": {k: round(v, 2) for k, v in best["without"].items()},
        "with": {k: v if isinstance(v, dict) else round(v, 2) for k, v in best["with"].items()},
        "index_cpu_us_a_task": round(best["with"]["cpu_us_a_task"] - best["without"]["cpu_us_a_task"], 2),
        "load": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=50_000)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    print(json.dumps(run(a.tasks, a.nodes, a.repeat), indent=None if not a.json else 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
