"""Bench: settle one epoch's work rewards at scale, against a DuckDB group-by floor (docs/design.md §10).

    python bench/settle.py --tasks 1000000 --nodes 10000 [--seed S] [--assignments-per-task 3]

Generates a random epoch (numpy Generator seeded by --seed): every task is assigned to
``--assignments-per-task`` distinct nodes (default 3, the default redundancy), so rows = tasks × 3.
Node traits (precommit reliability, consensus rate, quality level) vary per node so that the
eligibility gates bite. Then it times ``compute_work_rewards`` (best of --repeat) and, in the same
run, a DuckDB group-by over the same rows already loaded in a DuckDB table (count, Σ precommitted,
Σ units × quality where in consensus, per node: the aggregation floor). It also checks that the
vectorised kernel equals the reference on a 20 000-row sample and that DuckDB's sums equal the
kernel's. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

try:
    from cor_incentives.core import work_rewards
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cor_incentives.core import work_rewards

from cor_incentives.core.units import COR, PPB

SETTLE_TARGET_SECONDS = 2.0
FLOOR_RATIO_TARGET = 5.0
REFERENCE_SAMPLE_ROWS = 20_000
STREAM_AMOUNT = 1_000_000 * COR  # one epoch's miner stream; the size does not change the cost

FLOOR_QUERY = """
SELECT node_index,
       count(*) AS assignments,
       sum(precommitted::BIGINT) AS precommitted,
       coalesce(sum(complexity_units * quality_ppb) FILTER (WHERE in_consensus), 0) AS work
FROM epoch_rows
GROUP BY node_index
"""


def generate_epoch(tasks: int, nodes: int, per_task: int, seed: int) -> dict[str, np.ndarray]:
    """Rows of (task, node) assignments; each task goes to ``per_task`` distinct nodes."""
    if not 1 <= per_task <= nodes:
        raise SystemExit(f"--assignments-per-task must be within 1..{nodes}")
    rng = np.random.default_rng(seed)
    # Distinct nodes per task: base + j × stride (mod nodes), with (per_task − 1) × stride < nodes.
    base = rng.integers(0, nodes, tasks)
    max_stride = (nodes - 1) // (per_task - 1) if per_task > 1 else 1
    stride = rng.integers(1, max_stride + 1, tasks)
    node_index = ((base[:, None] + np.arange(per_task)[None, :] * stride[:, None]) % nodes).ravel()
    rows = node_index.size

    precommit_probability = rng.uniform(0.4, 1.0, nodes)  # about a third of nodes fail the 60 % gate
    consensus_probability = rng.uniform(0.7, 1.0, nodes)
    quality_floor_ppb = rng.integers(200_000_000, 900_000_001, nodes)
    complexity_units = np.repeat(rng.integers(1, 2_001, tasks), per_task)
    return {
        "node_index": node_index.astype(np.int64),
        "complexity_units": complexity_units.astype(np.int64),
        "quality_ppb": rng.integers(quality_floor_ppb[node_index], PPB + 1).astype(np.int64),
        "in_consensus": rng.random(rows) < consensus_probability[node_index],
        "precommitted": rng.random(rows) < precommit_probability[node_index],
        "reputation_ppb": rng.integers(0, PPB + 1, nodes).astype(np.int64),
    }


def best_of(repeat: int, run) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--assignments-per-task", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    epoch = generate_epoch(args.tasks, args.nodes, args.assignments_per_task, args.seed)
    rows = int(epoch["node_index"].size)

    def settle(sample: int | None = None, kernel=work_rewards.compute_work_rewards):
        columns = {k: (v[:sample] if sample and k != "reputation_ppb" else v) for k, v in epoch.items()}
        return kernel(**columns, stream_amount=STREAM_AMOUNT)

    settle_seconds, result = best_of(args.repeat, settle)

    sample = min(rows, REFERENCE_SAMPLE_ROWS)
    reference_matches = settle(sample) == settle(sample, work_rewards.compute_work_rewards_reference)

    con = duckdb.connect()
    table = {k: v for k, v in epoch.items() if k != "reputation_ppb"}
    con.register("epoch_source", table)
    con.execute("CREATE TABLE epoch_rows AS SELECT * FROM epoch_source")
    con.unregister("epoch_source")
    duckdb_seconds, floor_rows = best_of(args.repeat, lambda: con.execute(FLOOR_QUERY).fetchall())
    duckdb_threads = con.execute("SELECT current_setting('threads')").fetchone()[0]

    by_node = {int(node): (int(count), int(work)) for node, count, _, work in floor_rows}
    duckdb_agrees = all(by_node.get(n, (0, 0)) == (result.assignments[n], result.work[n]) for n in range(args.nodes))

    ratio = settle_seconds / duckdb_seconds
    met_settle = settle_seconds <= SETTLE_TARGET_SECONDS
    met_ratio = ratio <= FLOOR_RATIO_TARGET
    report = {
        "tasks": args.tasks,
        "assignments_per_task": args.assignments_per_task,
        "rows": rows,
        "rows_note": f"rows = tasks * {args.assignments_per_task} (one row per assigned node)",
        "nodes": args.nodes,
        "seed": args.seed,
        "settle_seconds": round(settle_seconds, 4),
        "duckdb_floor_seconds": round(duckdb_seconds, 4),
        "ratio": round(ratio, 2),
        "targets": {"settle_seconds_max": SETTLE_TARGET_SECONDS, "ratio_max": FLOOR_RATIO_TARGET},
        "met_settle_target": met_settle,
        "met_ratio_target": met_ratio,
        "met_targets": met_settle and met_ratio,
        "reference_sample_rows": sample,
        "reference_matches": reference_matches,
        "duckdb_agrees": duckdb_agrees,
        "eligible_nodes": sum(result.eligible),
        "stream_amount": str(STREAM_AMOUNT),
        "distributed": str(result.distributed),
        "remainder": str(result.remainder),
        "timing": f"best of {args.repeat}; numpy single-threaded, duckdb threads={duckdb_threads}",
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "duckdb": duckdb.__version__,
    }
    print(json.dumps(report))
    return 0 if reference_matches and duckdb_agrees else 1


if __name__ == "__main__":
    raise SystemExit(main())
