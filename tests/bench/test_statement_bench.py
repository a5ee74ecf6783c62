"""``bench/statement.py``: its database is what a statement needs under both rules (each grown task's record names the
nodes of its rows, so rule 28's derived tasks are rule 27's named ones, same order), and it times the real paths (the
CLI's and the API's JSON equal, every time measured); ``bench/task_nodes_probe.py`` gives sane numbers;
``bench/work_index_ingest.py`` writes the index whole."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import statement  # noqa: E402
import task_nodes_probe  # noqa: E402
import work_index_ingest  # noqa: E402


def test_both_rules_give_the_same_statement_and_every_path_is_timed() -> None:
    rows = statement.run([400], 60, [27, 28], 1)  # (run asserts the node-line tasks equal: both rules, every path)
    assert [(r["rules"], r["path"]) for r in rows] == [(27, "lines"), (28, "index"), (28, "records")]
    old, new, records = rows
    assert old["address"] == new["address"] == records["address"] and old["tasks_named"] == new["tasks_named"] == records["tasks_named"] > 0
    assert new["index_bytes"] > 0 and new["read_peak_mb"] > 0  # (measure_path asserted the index served every work line of the address)
    assert all(r[k] > 0 for r in rows for k in ("view_cpu", "cli_cpu", "api_cpu", "view_wall", "cli_wall", "api_wall"))


def test_renamed_records_name_their_rows_nodes() -> None:
    import re

    kept = {1: b'{"id":1,"miners":[{"miner":"0xa"},{"miner":"0xb"}],"validators":["0xv"],"reports":{"0xv":{}}}', 2: b""}
    kept[2] = kept[1]

    class Row:
        def __init__(self, task: int, node: str) -> None:
            self.task, self.node = task, node

    class State:
        epoch_work = [Row(1, "0xa"), Row(1, "0xb"), Row(2, "0xb"), Row(2, "0xa")]  # the grown task's rows: a and b swapped
        epoch_validations = [Row(1, "0xv"), Row(2, "0xw")]

    out = statement.renamed(State(), kept, {2: 1})
    assert out[1] == kept[1]  # a template as it was
    assert re.findall(r'"0x[a-z]+"', out[2].decode()) == ['"0xb"', '"0xa"', '"0xw"', '"0xw"']  # one pass: no chained renames


def test_the_task_nodes_probe_reads_what_it_wrote() -> None:
    out = task_nodes_probe.run(500, 100)
    assert out["tasks"] == 500 and out["node_tasks"] > 0 and out["ingest_us_per_task_cpu"] > 0 and out["db_mb"] > 0


def test_the_work_index_ingest_bench_writes_the_index_whole() -> None:
    out = work_index_ingest.run(300, 100, 1)  # (ingest asserts one miner's read gives its rows: all of them, none lost)
    assert out["tasks"] == 300 and out["with"]["index_rows"] == 300 * 10  # every row stored, once
    steps = out["with"]["steps"]
    assert steps["layout_1"] == 10 * (8 + 4 + 1) and steps["zlib"] == out["with"]["bytes_a_task"] == round(out["with"]["index_bytes"] / 300, 2)
    assert steps["zlib"] < steps["counted_bits"] < steps["narrow_nodes"] < steps["task_deltas"] < steps["layout_1"]  # each step pays
    assert out["without"]["cpu_us_a_task"] > 0 and out["with"]["read_cpu_ms"] >= 0 and "index_bytes" not in out["without"]
