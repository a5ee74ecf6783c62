"""Bench: one node's statement of an epoch of N tasks, through the CLI and the API, under rule 27 and rule 28.

    python bench/statement.py [--tasks 1000,10000,50000] [--nodes 1000] [--rules 27,28] [--paths lines,index,records] [--repeat 3] [--json]

Rule 28 (``RULES_SLIM_NODE_LINES``) took the task ids out of the work streams' node lines; a statement derives them
(``core/epoch_document.node_tasks``): it walks the stream account's ``tasks`` (every task of the stream in the epoch)
and reads each task's record (``app/views.statement_details`` through ``app/archive.get_task``): under rule 27 a
settled task's record is in the database (its live entry a ``ClosedTask`` stub), so a statement reads every task of the
epoch from the database. This measures what that costs.

What it builds (not timed), per (N, rule): bench/epoch_e2e.py's database: a seeded honest simulated epoch of 200 tasks,
stored and opened by the engine, grown to N tasks and ``--nodes`` nodes by its fast path with task records under
``RULES_TASK_STUB`` (each task closed: a ``ClosedTask`` stub live), pruning on, the close under rule ``--rules``. Each
task's whole record (the stub's source, its own decoded copy) is written to the database's ``pruned`` documents as the
projector writes a retired record (``pruned_document``), as the settling event would have under rule 27. Then the epoch
closes through the engine (``epoch_e2e.time_close``).

What it times, per statement (CPU seconds of this process and wall seconds; the best of ``--repeat`` for each path):
``cli``: ``cor statement ADDRESS --epoch E --json`` (typer's CliRunner, the real command; its ``connect`` is given the
already open engine, so the engine's open, the same for every command, is not timed); ``api``: ``GET
/v1/statements/{address}/{epoch}`` (FastAPI's TestClient on an ``ApiService`` of the same engine); ``view``:
``views.statement`` alone. The address: the lowest miner address with a miner_work node line. The
statements of both rules are checked equal (same tasks, same order) for the same N.

The paths (``--paths``, one row each): ``lines`` (rule 27: the lines name their tasks), ``index`` (rule 28: the work
index the projector wrote, ``views.indexed_lines``; the run fails unless it served every work line of the address) and
``records`` (rule 28 with the index turned off: the tasks' records read in bulk, as before session 31). The grown
epoch's rows reach the index at its close (the fast path appends them without events: the close's flush writes them
as one chunk, which adds their bytes to ``close_seconds``), then are rewritten in chunks of ``FLUSH_ROWS`` rows as a
real epoch's flushes write them (``rechunk``); ``index_bytes``: the epoch's index, both families. ``read_peak_mb``
(path ``index``): what ``views.indexed_lines`` holds at its peak reading the address's lines (tracemalloc).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import epoch_e2e  # noqa: E402  (the engine database's fast path)


def write_task_rows(engine: Any, records: dict[int, bytes], rules: int) -> int:
    """Each task's whole record as a ``pruned`` document (``projections.pruned_document``, as the projector writes the
    record a settling event retired under rule 27); ``n`` (its place in the running hash) is not read by a statement."""
    from cor_incentives.store import db
    from cor_incentives.store.projections import pruned_document

    rows = [pruned_document("task", tid, i, data, rules) for i, (tid, data) in enumerate(sorted(records.items()))]
    with engine.store.writer() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(db.documents.insert(), [{"collection": c, "key": k, "data": d} for c, k, d in rows[i : i + 5000]])
    return len(rows)


def renamed(state: Any, kept: dict[int, bytes], template_of: dict[int, int]) -> dict[int, bytes]:
    """Each grown task's record with its template's nodes renamed to the nodes its rows went to: the fast path draws the
    nodes of a grown task's work and validation rows afresh (``grow``) and keeps the template's record, so its record
    is made to name the nodes of its rows (the k-th row's node of the template becomes the k-th row's node of the task,
    in one pass over the record's text), as a real task's record names the nodes of its rows."""
    import re

    nodes: dict[int, list[str]] = {}
    for r in state.epoch_work:
        nodes.setdefault(r.task, []).append(r.node)
    for v in state.epoch_validations:
        nodes.setdefault(v.task, []).append(v.node)
    out = dict(kept)
    for tid, template in template_of.items():
        names = dict(zip(nodes[template], nodes[tid], strict=True))
        pattern = re.compile("|".join(re.escape(f'"{n}"') for n in names))
        out[tid] = pattern.sub(lambda m, names=names: f'"{names[m.group(0)[1:-1]]}"', kept[tid].decode("ascii")).encode("ascii")
    return out


def build(tmp: str, tasks: int, nodes: int, rules: int) -> tuple[Any, dict[str, Any]]:
    """The engine on a database whose epoch holds ``tasks`` tasks, closed under ``rules`` (see the module doc)."""
    from cor_incentives.core import records
    from cor_incentives.core.state_codec import encode_record

    url = f"sqlite:///{tmp}/statement{rules}_{tasks}.db"
    events = epoch_e2e.simulated_epoch(min(200, tasks))
    engine = epoch_e2e.open_before_close(events, url)
    kept: dict[int, bytes] = {}
    template_of: dict[int, int] = {}
    of, own_copy = records.ClosedTask.of, epoch_e2e.own_copy
    records.ClosedTask.of = classmethod(lambda cls, task, nodes=None: (kept.__setitem__(task.id, encode_record(task)), of(task, nodes))[1])  # type: ignore[method-assign, assignment]
    epoch_e2e.own_copy = lambda task, task_id: (template_of.__setitem__(task_id, task.id), own_copy(task, task_id))[1]
    try:
        sizes = epoch_e2e.grow(engine.state, tasks, nodes, task_records=True, stub_closed=True)
    finally:
        records.ClosedTask.of, epoch_e2e.own_copy = of, own_copy  # type: ignore[method-assign]
    kept = renamed(engine.state, kept, template_of)
    epoch_e2e.under_rules(engine.state, rules, pruning=True)
    epoch_e2e.project_growth(engine)
    written = write_task_rows(engine, kept, rules)
    close = epoch_e2e.time_close(engine, events[-1])
    built = {"task_rows_written": written, "close_seconds": round(close["close_seconds"], 3)}
    rechunk(engine, engine.state.epoch - 1)
    return engine, {**sizes, **built, "index_bytes": index_bytes(engine, engine.state.epoch - 1)}


FLUSH_ROWS = 1000
"""The rows of one work index chunk as a projector flushing every 125 events writes them (~8.5 rows a settled task)."""


def rechunk(engine: Any, e: int, rows: int = FLUSH_ROWS) -> None:
    """Epoch ``e``'s work index rewritten in chunks of ``rows`` rows, as the projector of a real epoch writes it (one
    chunk a flush; the fast path's rows reach the index at the close as one chunk), the epoch's names in the first."""
    import json

    import numpy as np
    from sqlalchemy import delete, select

    from cor_incentives.store import db
    from cor_incentives.store.work_index_format import decode_chunk, encode_chunk

    t = db.work_index.c
    with engine.store.writer() as conn:
        for family in ("miner_work", "validator_work"):
            at = (t.epoch == e, t.family == family, t.first_row >= 0)
            stored = conn.execute(select(t.row_count, t.tasks, t.nodes, t.counted, t.new_names).where(*at).order_by(t.first_row)).all()
            columns = [np.concatenate(c) for c in zip(*(decode_chunk(n, ts, nd, c) for n, ts, nd, c, _ in stored), strict=True)]
            names = [a for *_, new in stored for a in json.loads(new)]
            conn.execute(delete(db.work_index).where(*at))
            conn.execute(
                db.work_index.insert(),
                [
                    {"epoch": e, "family": family, "first_row": a, "row_count": len(columns[0][a : a + rows]), "nodes": b"", "counted": b""}
                    | {"tasks": encode_chunk(*(c[a : a + rows] for c in columns)), "new_names": json.dumps(names if a == 0 else [])}
                    for a in range(0, len(columns[0]), rows)
                ],
            )


def timed(fn: Any, repeat: int) -> tuple[Any, float, float]:
    """``fn()``'s result and its best CPU and wall seconds of ``repeat`` runs."""
    best_cpu = best_wall = float("inf")
    out = None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        best_cpu, best_wall = min(best_cpu, time.process_time() - c0), min(best_wall, time.perf_counter() - w0)
    return out, best_cpu, best_wall


def measure(engine: Any, address: str, e: int, repeat: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The statement of ``address`` in epoch ``e`` through the view, the CLI and the API: its JSON and the seconds."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from cor_incentives.api.app import create_app
    from cor_incentives.api.service import ApiService
    from cor_incentives.app import views
    from cor_incentives.cli import epochs as cli_epochs
    from cor_incentives.cli.common import Net
    from cor_incentives.cli.main import app

    out: dict[str, Any] = {}
    view, out["view_cpu"], out["view_wall"] = timed(lambda: views.statement(engine.state, address, e), repeat)
    connect = cli_epochs.connect
    cli_epochs.connect = lambda db, api: Net(engine=engine)  # type: ignore[assignment]
    try:
        runner = CliRunner()
        cli, out["cli_cpu"], out["cli_wall"] = timed(lambda: runner.invoke(app, ["statement", address, "--epoch", str(e), "--json"]), repeat)
    finally:
        cli_epochs.connect = connect  # type: ignore[assignment]
    assert cli.exit_code == 0, cli.output
    with TestClient(create_app(service=ApiService(engine)), raise_server_exceptions=True) as client:
        got, out["api_cpu"], out["api_wall"] = timed(lambda: client.get(f"/v1/statements/{address}/{e}"), repeat)
    assert got.status_code == 200, got.text
    body = got.json()
    assert json.loads(cli.output) == body
    del view
    return {k: round(v, 4) for k, v in out.items()}, body


def measure_path(engine: Any, address: str, e: int, repeat: int, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``measure`` by one path: ``lines`` (rule 27: the lines name their tasks), ``index`` (rule 28: the work index,
    ``views.indexed_lines``; every work line of the address must be served by it) or ``records`` (rule 28 with the index
    turned off: the tasks' records in bulk, ``archive.get_tasks``)."""
    from cor_incentives.app import views

    if path == "index":
        record = engine.state.epochs.get(e) or views.epoch_record(engine.state, e)
        mine = [i for i in record.items if i.address == address]
        assert views.derived_task_ids(record, views.indexed_lines(engine.state, record, mine)) == [], "the index did not serve every line"
        times, body = measure(engine, address, e, repeat)
        return {**times, "read_peak_mb": round(read_peak(engine, record, mine) / 1e6, 3)}, body
    if path == "lines":
        return measure(engine, address, e, repeat)
    work_index = views.work_index
    views.work_index = lambda *_: None  # type: ignore[assignment]
    try:
        return measure(engine, address, e, repeat)
    finally:
        views.work_index = work_index  # type: ignore[assignment]


def read_peak(engine: Any, record: Any, mine: list[Any]) -> int:
    """The bytes ``views.indexed_lines`` holds at its peak (tracemalloc: numpy's buffers included) reading the index for
    the address's lines ``mine`` (the query's rows, the decoded chunks, the tasks written in)."""
    import tracemalloc

    from cor_incentives.app import views

    tracemalloc.start()
    try:
        views.indexed_lines(engine.state, record, mine)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def index_bytes(engine: Any, e: int) -> int:
    """The bytes of epoch ``e``'s work index (both families' packed columns and names)."""
    from sqlalchemy import func, select

    from cor_incentives.store import db

    t = db.work_index.c
    with engine.store.reader() as conn:
        n = conn.execute(
            select(func.sum(func.length(t.tasks) + func.length(t.nodes) + func.length(t.counted) + func.length(t.new_names))).where(t.epoch == e)
        ).scalar()
    return int(n or 0)


def node_line_tasks(body: dict[str, Any]) -> list[tuple[str, list[int]]]:
    return [(i["stream"], i["detail"].get("tasks")) for i in body["items"] if "tasks" in i["detail"]]


PATHS = ("lines", "index", "records")


def run(sizes: list[int], nodes: int, rule_list: list[int], repeat: int, paths: tuple[str, ...] = PATHS) -> list[dict[str, Any]]:
    from collections import Counter

    from cor_incentives.core.rules import RULES_SLIM_NODE_LINES

    rows = []
    for tasks in sizes:
        seen: dict[int, Any] = {}
        for rules in rule_list:
            with tempfile.TemporaryDirectory(prefix="cor-bench-stmt-") as tmp:
                engine, sizes_built = build(tmp, tasks, nodes, rules)
                e = engine.state.epoch - 1
                record = engine.state.epochs[e]
                counts = Counter(i.address for i in record.items if i.stream.startswith("miner_work") and i.stream.endswith(":node"))
                address = min(counts)  # the same address under both rules (the fast path is seeded)
                for path in [p for p in (("index", "records") if rules >= RULES_SLIM_NODE_LINES else ("lines",)) if p in paths]:
                    times, body = measure_path(engine, address, e, repeat, path)
                    tasks_named = sum(len(t or ()) for _, t in node_line_tasks(body))
                    seen[(rules, path)] = node_line_tasks(body)
                    rows.append(
                        {
                            "tasks": tasks,
                            "rules": rules,
                            "path": path,
                            "nodes": sizes_built["nodes"],
                            "address": address,
                            "lines": len(body["items"]),
                            "tasks_named": tasks_named,
                            **times,
                            "close_seconds": sizes_built["close_seconds"],
                            "index_bytes": sizes_built["index_bytes"],
                            "load": os.getloadavg()[0],
                        }
                    )
                engine.store.dispose()
        if len(seen) > 1:
            first = next(iter(seen.values()))
            assert all(v == first for v in seen.values()), "the statements' tasks differ between rules or paths"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="1000,10000,50000")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rules", default="27,28")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paths", default="lines,index,records", help="lines (rule 27), index and records (rule 28: the work index, the records)")
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args(argv)
    rows = run([int(x) for x in a.tasks.split(",")], a.nodes, [int(x) for x in a.rules.split(",")], a.repeat, tuple(a.paths.split(",")))
    if a.json:
        print(json.dumps({"name": "statement", "rows": rows, "cpus": os.cpu_count()}, indent=1))
    else:
        for r in rows:
            print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
