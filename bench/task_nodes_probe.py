"""Probe: what a per-node task projection (``task_nodes``, not built: design.md §6, s30-stmt) would cost, the table alone.

    python bench/task_nodes_probe.py [--tasks 50000] [--nodes 1000]

A table ``task_nodes(epoch, node, stream, task)`` (primary key in that order: the index a statement reads) on the
store's own SQLite engine (``Store``: its pragmas), written as the ingest would: each settled task's 3 miner rows and 7
validation rows (the mixed epoch's ~6.9 a task), one ``executemany`` per 125-event transaction (the batch path's group
commit). Prints CPU and wall µs a task at the ingest (the rows' making included), the statement's read (one node's
ids by the index, then the epoch's account list filtered by them, keeping its order) and the database's size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, select

from cor_incentives.store.db import Store

MINER_ROWS, VALIDATOR_ROWS, EVENTS_A_TRANSACTION = 3, 7, 125


def run(tasks: int, nodes: int) -> dict[str, float | int]:
    md = MetaData()
    tn = Table(
        "task_nodes",
        md,
        Column("epoch", Integer, primary_key=True),
        Column("node", String(64), primary_key=True),
        Column("stream", String(32), primary_key=True),
        Column("task", BigInteger, primary_key=True),
    )
    rng = random.Random(0)
    names = ["0x" + rng.randbytes(20).hex() for _ in range(nodes)]
    miners, validators = names[: nodes * 9 // 10], names[nodes * 9 // 10 :]
    out: dict[str, float | int] = {"tasks": tasks, "nodes": nodes}
    with tempfile.TemporaryDirectory(prefix="cor-bench-tn-") as tmp:
        store = Store(f"sqlite:///{tmp}/tn.db")
        store.create_schema()
        md.create_all(store.engine)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for start in range(0, tasks, EVENTS_A_TRANSACTION):
            with store.writer() as conn:
                batch: list[tuple[int, str, str, int]] = []
                for t in range(start + 1, min(tasks, start + EVENTS_A_TRANSACTION) + 1):
                    batch += [(3, n, "miner_work", t) for n in rng.sample(miners, MINER_ROWS)]
                    batch += [(3, n, "validator_work", t) for n in rng.sample(validators, VALIDATOR_ROWS)]
                conn.exec_driver_sql("INSERT INTO task_nodes (epoch, node, stream, task) VALUES (?, ?, ?, ?)", batch)
        out["ingest_us_per_task_cpu"] = round((time.process_time() - cpu0) / tasks * 1e6, 1)
        out["ingest_us_per_task_wall"] = round((time.perf_counter() - wall0) / tasks * 1e6, 1)
        cpu0 = time.process_time()
        with store.reader() as conn:
            mine = {r[0] for r in conn.execute(select(tn.c.task).where(tn.c.epoch == 3, tn.c.node == miners[0], tn.c.stream == "miner_work"))}
        ordered = [t for t in range(1, tasks + 1) if t in mine]  # the account's ``tasks`` order, as node_tasks gives it
        out["read_ms_cpu"] = round((time.process_time() - cpu0) * 1e3, 2)
        out["node_tasks"] = len(ordered)
        out["db_mb"] = round(os.path.getsize(f"{tmp}/tn.db") / 1e6, 3)
        store.dispose()
    out["load"] = os.getloadavg()[0]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--nodes", type=int, default=1_000)
    a = parser.parse_args(argv)
    print(json.dumps(run(a.tasks, a.nodes)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
