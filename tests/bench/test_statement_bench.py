"""``bench/statement.py``: its database is what a statement needs under both rules (each grown task's record names the
nodes of its rows, so rule 28's derived tasks are rule 27's named ones, same order), and it times the real paths (the
CLI's and the API's JSON equal, every time measured); ``bench/task_nodes_probe.py`` gives sane numbers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import statement  # noqa: E402
import task_nodes_probe  # noqa: E402


def test_both_rules_give_the_same_statement_and_every_path_is_timed() -> None:
    rows = statement.run([400], 60, [27, 28], 1)  # (run asserts the two rules' node-line tasks equal)
    assert [r["rules"] for r in rows] == [27, 28]
    old, new = rows
    assert old["address"] == new["address"] and old["tasks_named"] == new["tasks_named"] > 0
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
