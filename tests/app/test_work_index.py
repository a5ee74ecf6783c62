"""The work index (``db.work_index``, written by ``Projector``; docs/design.md §6): a rule-28 statement reads its work
lines' tasks from the rows the settling events appended, packed per flush, instead of every task record of the epoch.

The reference is the path before it, kept: the same statement with the index turned off (``archive.work_index`` gives
None: the bulk read of the tasks' records) and with the bulk read off too (every task by ``get_task``). On SQLite and
PostgreSQL, over simulated lives (canaries with a paid planter, failed tasks, lazy and garbage miners, copier and offline
validators, several epochs) written to a database and projected by the engine's catch-up, also when that projection
stops mid-epoch and a new process (``reset_from``) goes on; and over a live network, commands submitted one by one,
restarted mid-epoch. An epoch the index does not hold whole (no close row, a chunk deleted, a count that is not the
line's ``assignments``) gives the records' statement. End to end: ``cor statement --json`` and ``GET /v1/statements``.
The read (``read_node_rows``, session 32) against the whole-epoch read before it, kept here as the reference
(``whole_epoch_read``): the same rows for every node, the same fallbacks, one read a family, and no whole-epoch array
held (tracemalloc).
"""

from __future__ import annotations

import dataclasses
import json
from array import array
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from cor_incentives.app import archive, views
from cor_incentives.app.engine import Engine
from cor_incentives.core.epoch_document import node_tasks
from cor_incentives.core.events import Command
from cor_incentives.core.rules import RULES_SLIM_NODE_LINES
from cor_incentives.sim import runner
from cor_incentives.sim.scenarios import ROUTER, VALIDATOR_STAKES, NodeGroup, Scenario, miners
from cor_incentives.sim.strategies import Environment
from cor_incentives.store import db
from cor_incentives.store.projections import CLOSED_ROW, read_node_rows
from cor_incentives.store.work_index_format import LAYOUT, decode_chunk, encode_chunk

WORK_LINES = ("miner_work:node", "miner_work:none", "validator_work:node", "validator_work:none")


def simulated_events(epochs: int = 3, seed: int = 7) -> list[Any]:
    """A simulated life under the latest rules (28 or later): lazy and garbage miners, copier and offline validators,
    four tasks in ten canaries (planted outputs: a paid planter when it settles), ``epochs`` closes."""
    vals = (
        NodeGroup("validator", "copier", 2, VALIDATOR_STAKES[:2]),
        NodeGroup("validator", "honest", 7, VALIDATOR_STAKES[2:9]),
        NodeGroup("validator", "offline", 1, VALIDATOR_STAKES[9:]),
    )
    nodes = miners(("honest", 8), ("lazy", 1), ("garbage", 1)) + vals + ROUTER
    env = Environment.from_dict({**Environment().to_dict(), "canary_rate": 0.4})
    scenario = Scenario(
        name="work_index", nodes=nodes, env=env, epochs=epochs, user_tasks_per_epoch=5, network_tasks_per_epoch=5, rounds_per_epoch=3, seeds=(seed,)
    )
    world = runner.World(scenario, seed, keep_events=True)
    for e in range(epochs):
        world.run_epoch(e)
    assert world.chain.state.params.rule_version >= RULES_SLIM_NODE_LINES
    return list(world.chain.events)


def write_log(url: str, events: list[Any]) -> None:
    """Append ``events`` to the database's log as they are (no projection: the engine's catch-up projects them)."""
    store = db.Store(url)
    try:
        store.create_schema()
        with store.engine.begin() as conn:
            rows = []
            for e in events:
                cmd = Command.decode(e.payload)
                rows.append(db.event_row(e, cmd.kind, cmd.actor, cmd.nonce))
            store.append_many(conn, rows)
    finally:
        store.dispose()


def all_statements(state: Any, epochs: range) -> dict[tuple[int, str], str]:
    out = {}
    for e in epochs:
        record = views.epoch_record(state, e)
        for a in sorted({i.address for i in record.items}):
            out[(e, a)] = json.dumps(views.statement(state, a, e), sort_keys=True)
    return out


def three_ways(state: Any, epochs: range, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[Any, str], dict[Any, str], dict[Any, str]]:
    """Every statement of ``epochs`` through the index, through the bulk read (index off), one task at a time (both off)."""
    read: list[tuple[int, str]] = []
    original = archive.work_index
    monkeypatch.setattr(views, "work_index", lambda s, e, f, a: (read.append((e, f)), original(s, e, f, a))[1])
    indexed = all_statements(state, epochs)
    assert read  # (the index was asked)
    monkeypatch.setattr(views, "work_index", lambda s, e, f, a: None)
    bulk = all_statements(state, epochs)
    monkeypatch.setattr(views, "get_tasks", lambda s, ids: {})
    one_by_one = all_statements(state, epochs)
    monkeypatch.undo()
    return indexed, bulk, one_by_one


def served_by_index(state: Any, e: int) -> int:
    """How many work lines of closed epoch ``e`` the index gives tasks to (the others are read from the records), checking
    each against ``node_tasks`` over the records."""
    record = views.epoch_record(state, e)
    items = list(record.items)
    served = 0
    for before, after in zip(items, views.indexed_lines(state, record, items), strict=True):
        if "tasks" in after.detail and "tasks" not in before.detail:
            assert after.detail["tasks"] == node_tasks(record.streams, before, lambda t: archive.get_task(state, t))
            served += 1
    return served


def work_lines(state: Any, e: int) -> int:
    return sum(1 for i in views.epoch_record(state, e).items if i.stream in WORK_LINES)


def index_rows(url: str) -> dict[tuple[int, str], tuple[int, int]]:
    """(epoch, family) -> (chunks, the close row's count or -1)."""
    store = db.Store(url, create=False)
    try:
        with store.reader() as conn:
            rows = conn.execute(select(db.work_index.c.epoch, db.work_index.c.family, db.work_index.c.first_row, db.work_index.c.row_count)).all()
    finally:
        store.dispose()
    out: dict[tuple[int, str], tuple[int, int]] = {}
    for e, f, first, n in rows:
        chunks, total = out.get((e, f), (0, -1))
        out[(e, f)] = (chunks, n) if first == CLOSED_ROW else (chunks + 1, total)
    return out


@pytest.fixture(scope="module")
def sim_events() -> list[Any]:
    return simulated_events()


def test_simulated_lives_statements_through_the_index_equal_the_records(db_url, sim_events, monkeypatch):
    write_log(db_url, sim_events)
    eng = Engine.open(db_url)  # the catch-up projects the whole log, the work index with it
    try:
        state = eng.state
        assert state.epoch == 3
        tasks = [t for t in state.tasks.values() if hasattr(t, "canary")]
        assert any(t.canary == "planted" and t.state == "SETTLED" for t in tasks)  # a paid planter's row
        assert any(t.state == "FAILED" for t in tasks)  # rows out of consensus
        assert any(set(t.validators) - set(t.reports) for t in tasks)  # validators who did not report
        for e in range(3):
            assert served_by_index(state, e) == work_lines(state, e) > 0  # every work line from the index
        counts = index_rows(db_url)
        assert {k for k in counts} == {(e, f) for e in range(3) for f in ("miner_work", "validator_work")}
        indexed, bulk, one_by_one = three_ways(state, range(3), monkeypatch)
        assert indexed == bulk == one_by_one
        named = sum(len(x["detail"].get("tasks", [])) for s in indexed.values() for x in json.loads(s)["items"])
        assert named > 0
    finally:
        eng.store.dispose()


def project_in_two(url: str, events: list[Any]) -> Engine:
    """The first process projects the log up to the middle of epoch 1; a second one (``reset_from``: its cursor at the
    rows the state holds there) projects the rest. Returns the second one's engine."""
    kinds = [Command.decode(e.payload).kind for e in events]
    closes = [i for i, k in enumerate(kinds) if k == "epoch.close"]
    middle = (closes[0] + closes[1]) // 2
    assert "task.validate" in kinds[closes[0] : middle] and "task.validate" in kinds[middle : closes[1]]  # rows on both sides
    write_log(url, events[: middle + 1])
    first = Engine.open(url)
    assert first.state.epoch == 1 and len(first.state.epoch_work) > 0  # stopped with rows of epoch 1 projected
    first.store.dispose()
    write_log(url, events[middle + 1 :])
    return Engine.open(url)


def test_a_projection_stopped_mid_epoch_goes_on_from_its_cursor(db_url, sim_events, monkeypatch):
    """Chunks from two processes tile epoch 1: the index serves every line, the same statements."""
    eng = project_in_two(db_url, sim_events)
    try:
        assert index_rows(db_url)[(1, "miner_work")][0] == index_rows(db_url)[(1, "validator_work")][0] == 2
        for e in range(3):
            assert served_by_index(eng.state, e) == work_lines(eng.state, e)
        indexed, bulk, one_by_one = three_ways(eng.state, range(3), monkeypatch)
        assert indexed == bulk == one_by_one
    finally:
        eng.store.dispose()


def test_an_epoch_the_index_does_not_hold_whole_reads_the_records(tmp_path, sim_events, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng = project_in_two(url, sim_events)
    try:
        state = eng.state
        reference = all_statements(state, range(3))
        with eng.store.engine.begin() as conn:
            t = db.work_index.c
            at = lambda e, f, first: (t.epoch == e, t.family == f, t.first_row == first)  # noqa: E731
            second = conn.execute(select(func.max(t.first_row)).where(t.epoch == 1, t.family == "validator_work")).scalar()
            assert second > 0
            conn.execute(update(db.work_index).where(*at(1, "validator_work", second)).values(first_row=second + 1))
            assert read_node_rows(conn, 1, "validator_work", ()) is None  # a chunk that does not start where the one before ends
            conn.execute(update(db.work_index).where(*at(1, "validator_work", second + 1)).values(first_row=second))
            assert read_node_rows(conn, 1, "validator_work", ()) is not None
            conn.execute(delete(db.work_index).where(*at(1, "miner_work", 0)))  # the chunks do not start at row 0
            conn.execute(delete(db.work_index).where(*at(1, "validator_work", second)))  # they stop short of the count
            conn.execute(update(db.work_index).where(*at(0, "miner_work", CLOSED_ROW)).values(row_count=t.row_count + 1))
            conn.execute(delete(db.work_index).where(*at(2, "validator_work", CLOSED_ROW)))  # no close row
            for e, f in ((1, "miner_work"), (1, "validator_work"), (0, "miner_work"), (2, "validator_work")):
                assert read_node_rows(conn, e, f, ()) is None
            assert read_node_rows(conn, 0, "validator_work", ()) is not None and read_node_rows(conn, 2, "miner_work", ()) is not None
        miner_lines = lambda e: sum(1 for i in views.epoch_record(state, e).items if i.stream in WORK_LINES[:2])  # noqa: E731
        assert served_by_index(state, 0) == work_lines(state, 0) - miner_lines(0) > 0  # the miners' lines from the records
        assert served_by_index(state, 1) == 0
        assert served_by_index(state, 2) == miner_lines(2) > 0
        assert all_statements(state, range(3)) == reference
        with eng.store.engine.begin() as conn:  # epoch 0's validator chunk cut short: malformed (the read logs it)
            value = conn.execute(select(t.tasks).where(*at(0, "validator_work", 0))).scalar_one()
            conn.execute(update(db.work_index).where(*at(0, "validator_work", 0)).values(tasks=value[:-1]))
            assert read_node_rows(conn, 0, "validator_work", ()) is None
        assert served_by_index(state, 0) == 0  # epoch 0's work lines all from the records now
        assert all_statements(state, range(3)) == reference
    finally:
        eng.store.dispose()


def test_a_node_count_other_than_the_lines_assignments_reads_the_records(tmp_path, sim_events, monkeypatch):
    """The index gives a node's rows; a line whose ``assignments`` differ (a chunk's node column altered) is not served."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    write_log(url, sim_events)
    eng = Engine.open(url)
    try:
        state = eng.state
        reference = all_statements(state, range(1))
        with eng.store.engine.begin() as conn:
            _, nodes, _, _ = chunk_at(conn, 0, "miner_work", 0)
            set_chunk(conn, 0, "miner_work", 0, nodes=[0 if nodes[0] else 1, *nodes[1:]])  # one row moved to another node
        moved = served_by_index_unchecked(state, 0)
        assert moved == work_lines(state, 0) - 2  # the two nodes whose counts changed are read from the records
        assert all_statements(state, range(1)) == reference
    finally:
        eng.store.dispose()


def served_by_index_unchecked(state: Any, e: int) -> int:
    record = views.epoch_record(state, e)
    items = list(record.items)
    return sum(1 for b, a in zip(items, views.indexed_lines(state, record, items), strict=True) if "tasks" in a.detail and "tasks" not in b.detail)


# --- a live network: commands one by one (``submit_batch``), a restart mid-epoch -------------------------------------


def live_network(url: str, keys_path: Any) -> tuple[Engine, dict, list[int]]:
    from support.network import make_network
    from support.scenario import PROMPTS, settle_honest_task, submit_task

    eng, keys = make_network(url, keys_path, n_miners=5, n_validators=4, params={"rule_version": RULES_SLIM_NODE_LINES})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    tasks = [settle_honest_task(eng, keys, PROMPTS[i % len(PROMPTS)], with_garbage=i % 2 == 0) for i in range(2)]
    eng.store.dispose()
    eng = Engine.open(url)  # a restart mid-epoch: the projector's cursor from the state it loads (reset_from)
    tasks += [settle_honest_task(eng, keys, PROMPTS[i % len(PROMPTS)], with_garbage=i % 2 == 1) for i in range(2, 4)]
    unanswered = submit_task(eng, keys, PROMPTS[0])  # no miner precommits: the close's own tick fails it, its rows appended
    eng.submit_as(keys["oracle"], "epoch.close", {})  # in the closing event (taken from the columns the close replaced)
    assert archive.get_task(eng.state, unanswered).state == "FAILED"
    assert unanswered in views.epoch_record(eng.state, 1).streams["miners"]["tasks"]
    return eng, keys, tasks


def test_a_live_network_restarted_mid_epoch(db_url, tmp_path, monkeypatch):
    eng, _, tasks = live_network(db_url, tmp_path / "keys")
    try:
        assert index_rows(db_url)[(1, "miner_work")][0] >= 2  # epoch 1's rows from two processes
        assert served_by_index(eng.state, 1) == work_lines(eng.state, 1) > 0
        indexed, bulk, one_by_one = three_ways(eng.state, range(2), monkeypatch)
        assert indexed == bulk == one_by_one
        named = {t for s in indexed.values() for x in json.loads(s)["items"] for t in x["detail"].get("tasks", [])}
        assert named == set(tasks)
    finally:
        eng.store.dispose()


def test_cli_and_api_statements_read_the_index(tmp_path, monkeypatch):
    """``cor statement --json`` and ``GET /v1/statements/<address>/<epoch>`` on a database with the index: the statement
    the records give, with no task record read (the index gave every work line its tasks)."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from cor_incentives.api.app import create_app
    from cor_incentives.api.service import ApiService
    from cor_incentives.cli.main import app

    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, _, _ = live_network(url, tmp_path / "keys")
    record = views.epoch_record(eng.state, 1)
    nodes = sorted({i.address for i in record.items if i.stream in WORK_LINES})
    expected = {n: json.loads(json.dumps(views.statement(eng.state, n, 1))) for n in nodes}
    assert any(x["detail"].get("tasks") for s in expected.values() for x in s["items"])
    eng.store.dispose()
    asked: list[Any] = []
    original = archive.read_node_rows
    monkeypatch.setattr(archive, "read_node_rows", lambda conn, e, f, a: (asked.append((e, f)), original(conn, e, f, a))[1])
    monkeypatch.setattr(views, "get_tasks", lambda state, ids: {} if not list(ids) else pytest.fail(f"task records read: {list(ids)[:5]}"))
    svc = ApiService.open(url)
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as client:
            for n in nodes:
                got = client.get(f"/v1/statements/{n}/1")
                assert got.status_code == 200, got.text
                assert got.json() == expected[n]
                cli = CliRunner().invoke(app, ["statement", n, "--epoch", "1", "--db", url, "--keys-dir", str(tmp_path / "keys"), "--json"])
                assert cli.exit_code == 0, cli.output
                assert json.loads(cli.output) == expected[n]
    finally:
        svc.engine.store.dispose()
    assert {(1, "miner_work"), (1, "validator_work")} <= set(asked)


def test_dataclass_replace_keeps_the_line(sim_events):
    """(``indexed_lines`` writes ``tasks`` into a copy: the record's line is not changed.)"""
    from cor_incentives.core.records import EarningItem

    item = EarningItem("0xabc", "miner_work:node", 5, {"inputs": {"assignments": 0}}, True)
    copy = dataclasses.replace(item, detail={**item.detail, "tasks": []})
    assert "tasks" not in item.detail and copy.detail["tasks"] == []


# --- cor verify compares the index with the replay's rows (app/verify.py ``ReplayedIndex``) ------------------------------


def verify_report(url: str, monkeypatch: pytest.MonkeyPatch | None = None, **kw: Any) -> Any:
    """``verify_database``'s report. The simulator signs every event with one placeholder signature: with ``monkeypatch``
    the signatures are not checked (every other check is; the live network's tests below check them too)."""
    from cor_incentives.app import verify

    if monkeypatch is not None:
        monkeypatch.setattr(verify, "signed_by_actor", lambda cmd, signer: None)
    report, _ = verify.verify_database(url, **kw)
    return report


def only_projections_fail(report: Any, *needles: str) -> str:
    """The report fails the projections check alone, with an error naming every needle; returns that error."""
    assert not report.ok and not report.projections, report.errors
    assert report.hash_chain and report.replay and report.conservation and report.roots_match, report.errors
    hits = [e for e in report.errors if all(n in e for n in needles)]
    assert hits, report.errors
    return hits[0]


def chunk_at(conn: Any, e: int, f: str, first: int) -> tuple[list[int], list[int], list[int], str]:
    """The stored chunk's rows (tasks, nodes, counted flags, decoded from its layout) and its new_names."""
    t = db.work_index.c
    n, ts, nd, c, names = conn.execute(
        select(t.row_count, t.tasks, t.nodes, t.counted, t.new_names).where(t.epoch == e, t.family == f, t.first_row == first)
    ).one()
    tasks, nodes, counted = decode_chunk(n, ts, nd, c)
    return tasks.tolist(), nodes.tolist(), counted.tolist(), names


def set_chunk(conn: Any, e: int, f: str, first: int, layout: int = LAYOUT, **values: Any) -> None:
    """Store the chunk with ``values`` changed: its rows (``tasks``, ``nodes``, ``counted``, as lists) written in ``layout``
    (1: session 31's packed columns), any other column as given."""
    t = db.work_index.c
    rows = dict(zip(("tasks", "nodes", "counted"), chunk_at(conn, e, f, first)[:3], strict=True)) if first != CLOSED_ROW else {}
    packed = {k: values.pop(k) for k in ("tasks", "nodes", "counted") if k in values}
    if packed or layout != LAYOUT:
        columns = as_layout(layout, **{**rows, **packed})
        values.update(dict(zip(("tasks", "nodes", "counted"), columns, strict=True)))
    conn.execute(update(db.work_index).where(t.epoch == e, t.family == f, t.first_row == first).values(**values))


def as_layout(layout: int, tasks: list[int], nodes: list[int], counted: list[int]) -> tuple[bytes, bytes, bytes]:
    if layout == 1:
        return array("q", tasks).tobytes(), array("i", nodes).tobytes(), array("b", counted).tobytes()
    return encode_chunk(array("q", tasks), array("i", nodes), array("b", counted)), b"", b""


def bump_first_task(url: str, e: int, f: str) -> None:
    """Add 1 to the task id of row 0 of epoch ``e``'s stored ``f`` chunk that starts at row 0 (the rest as stored)."""
    store = db.Store(url)
    try:
        with store.engine.begin() as conn:
            ts, _, _, _ = chunk_at(conn, e, f, 0)
            set_chunk(conn, e, f, 0, tasks=[ts[0] + 1, *ts[1:]])
    finally:
        store.dispose()


def swap_two_rows_nodes(conn: Any, strict: bool = True) -> int:
    """Swap the nodes of two counted rows of one of epoch 1's miner_work chunks that belong to different nodes and tasks
    (every node keeps its row count and counted rows: the read serves the chunk as stored); not ``strict``: else a counted and
    an uncounted row of two nodes (each node keeps its row count: its ``assignments``). Returns the first one's row."""
    t = db.work_index.c
    for (first,) in conn.execute(select(t.first_row).where(t.epoch == 1, t.family == "miner_work", t.first_row >= 0)).all():
        task, nodes, c, _ = chunk_at(conn, 1, "miner_work", first)
        pairs = [(i, j) for i in range(len(c)) for j in range(i + 1, len(c)) if c[i] and c[j] and nodes[i] != nodes[j] and task[i] != task[j]]
        if not pairs and not strict:  # (one event's rows a chunk: a counted and an uncounted row of one task)
            pairs = [(i, j) for i in range(len(c)) for j in range(i + 1, len(c)) if c[i] != c[j] and nodes[i] != nodes[j]]
        if pairs:
            i, j = pairs[0]
            nodes[i], nodes[j] = nodes[j], nodes[i]
            set_chunk(conn, 1, "miner_work", first, nodes=nodes)
            return int(first) + i
    raise AssertionError("no two counted rows of different nodes and tasks in a chunk")


@pytest.mark.parametrize("compare_rows", [None, 1, 7])
def test_verify_checks_the_index_of_a_clean_database(db_url, sim_events, compare_rows, monkeypatch):
    """Chunks written by two processes (a projection stopped mid-epoch) verify ok: every (epoch, family) compared, the
    stored rows with the replay's all at once or a few at a time (``compare_rows``)."""
    from cor_incentives.app import verify

    if compare_rows is not None:
        monkeypatch.setattr(verify, "COMPARE_ROWS", compare_rows)
    eng = project_in_two(db_url, sim_events)
    eng.store.dispose()
    report = verify_report(db_url, monkeypatch)
    assert report.ok, report.errors
    assert report.work_index_checked == 6  # 3 closed epochs x 2 families (the open epoch 3 has no rows yet)


def test_verify_skips_only_events_that_move_no_cursor(sim_events):
    """``ReplayedIndex.take`` skips ``take_index_rows`` after an event when ``unmoved`` says every cursor is at its
    columns' end: the reference, ``take_index_rows`` run on copies of the cursors after every event of a simulated life,
    then moves no cursor and closes no epoch. Both answers are seen (rows appended, closes; events that add none)."""
    from cor_incentives.app.verify import ReplayedIndex
    from cor_incentives.core.apply import apply
    from cor_incentives.core.state import State
    from cor_incentives.store.projections import index_cursors, take_index_rows

    state = State()
    index = ReplayedIndex.__new__(ReplayedIndex)  # (no database: only the cursors)
    index.cursors = index_cursors(state)
    seen = {True: 0, False: 0}
    for event in sim_events:
        apply(state, event, atomic=False)
        unmoved = index.unmoved(state)
        seen[unmoved] += 1
        copies, closed = [dataclasses.replace(c) for c in index.cursors], []
        take_index_rows(state, copies, None, closed)
        if unmoved:
            assert copies == index.cursors and closed == [], event.seq
        index.cursors = copies
    assert seen[True] > 500 and seen[False] > 20, seen


def test_verify_skips_no_event_that_moves_one_family_or_closes_an_empty_epoch():
    """The shapes a simulated life may not show: rows appended to one family only, and a close of an epoch that has no
    row of a family (the bench's log: no task at all), whose columns are replaced at the same length 0. After each step
    ``unmoved`` is True exactly when ``take_index_rows`` (on copies of the cursors) moves nothing and closes nothing."""
    from cor_incentives.app.verify import ReplayedIndex
    from cor_incentives.core.epoch_columns import ValidationColumns, WorkColumns
    from cor_incentives.core.records import TaskKind
    from cor_incentives.core.state import State
    from cor_incentives.store.projections import index_cursors, take_index_rows

    state = State()
    index = ReplayedIndex.__new__(ReplayedIndex)  # (no database: only the cursors)
    index.cursors = index_cursors(state)

    def step() -> bool:
        unmoved = index.unmoved(state)
        copies, closed = [dataclasses.replace(c) for c in index.cursors], []
        take_index_rows(state, copies, None, closed)
        assert unmoved == (copies == index.cursors and closed == []), (copies, index.cursors, closed)
        index.cursors = copies
        return unmoved

    assert step()
    state.epoch_validations.append(7, "0xabc", 10**9, True, TaskKind.USER, False)
    assert not step() and step()
    state.epoch, state.epoch_work, state.epoch_validations = 1, WorkColumns(), ValidationColumns()  # a close, no work rows
    assert not step() and step()
    state.epoch_work.append(8, "0xabc", 1, 10**9, True, False, "m", TaskKind.USER, 0)  # a miner's row only
    assert not step() and step()
    state.epoch, state.epoch_work = 2, WorkColumns()  # a close replacing the work columns only
    assert not step() and step()
    state.epoch, state.epoch_validations = 3, ValidationColumns()  # the validation columns only, both at length 0
    assert not step() and step()
    state.epoch, state.epoch_work = 4, WorkColumns()  # the work columns only, both at length 0
    assert not step() and step()


def test_verify_of_a_live_network_restarted_mid_epoch(tmp_path):
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, _, _ = live_network(url, tmp_path / "keys")
    eng.store.dispose()
    report = verify_report(url)
    assert report.ok, report.errors
    assert report.work_index_checked >= 4  # epochs 0 and 1 closed (the close's own rows included), epoch 2 open


TAMPERS = ["swap_nodes", "task_id", "counted", "drop_close", "close_count", "drop_first_chunk", "drop_last_chunk", "move_chunk", "extra", "malformed"]


@pytest.mark.parametrize("compare_rows", [None, 5])
@pytest.mark.parametrize("tamper", TAMPERS)
def test_a_changed_index_fails_verify(db_url, sim_events, tamper, compare_rows, monkeypatch):
    """Each change named (epoch, family, the row or chunk); ``compare_rows`` 5: verify compares the stored rows with the
    replay's a few at a time (``verify.COMPARE_ROWS``, 65 536 rows: more than these epochs hold), as at a large epoch."""
    from cor_incentives.app import verify

    if compare_rows is not None:
        monkeypatch.setattr(verify, "COMPARE_ROWS", compare_rows)
    eng = project_in_two(db_url, sim_events)
    try:
        with eng.store.engine.begin() as conn:
            t = db.work_index.c
            if tamper == "swap_nodes":
                row = swap_two_rows_nodes(conn)
                index = read_node_rows(conn, 1, "miner_work", ())
                assert index is not None  # the read serves it (every node's count kept): only verify can tell
                needles: tuple[str, ...] = ("epoch 1 miner_work", f"row {row} differs")
            elif tamper == "task_id":
                ts, _, _, _ = chunk_at(conn, 0, "validator_work", 0)
                set_chunk(conn, 0, "validator_work", 0, tasks=[*ts[:3], ts[3] + 1, *ts[4:]])
                needles = ("epoch 0 validator_work", "row 3 differs", "stored task")
            elif tamper == "counted":
                _, _, c, _ = chunk_at(conn, 2, "miner_work", 0)
                set_chunk(conn, 2, "miner_work", 0, counted=[1 - c[0], *c[1:]])
                needles = ("epoch 2 miner_work", "row 0 differs")
            elif tamper == "drop_close":
                conn.execute(delete(db.work_index).where(t.epoch == 2, t.family == "validator_work", t.first_row == CLOSED_ROW))
                needles = ("epoch 2 validator_work", "no close row")
            elif tamper == "close_count":
                set_chunk(conn, 0, "miner_work", CLOSED_ROW, row_count=t.row_count + 1)
                needles = ("epoch 0 miner_work", "close row says")
            elif tamper == "drop_first_chunk":  # epoch 0 is in the table: epoch 1 is no migration's first epoch
                conn.execute(delete(db.work_index).where(t.epoch == 1, t.family == "miner_work", t.first_row == 0))
                needles = ("epoch 1 miner_work", "start at row")
            elif tamper == "drop_last_chunk":
                last = conn.execute(select(func.max(t.first_row)).where(t.epoch == 1, t.family == "validator_work")).scalar()
                assert last > 0
                conn.execute(delete(db.work_index).where(t.epoch == 1, t.family == "validator_work", t.first_row == last))
                needles = ("epoch 1 validator_work", f"the stored rows end at row {last}")
            elif tamper == "move_chunk":
                second = conn.execute(select(func.max(t.first_row)).where(t.epoch == 1, t.family == "validator_work")).scalar()
                set_chunk(conn, 1, "validator_work", second, first_row=second + 1)
                needles = ("epoch 1 validator_work", "does not follow")
            elif tamper == "malformed":  # a layout-2 chunk cut short: no chunk of its rows
                value = conn.execute(select(t.tasks).where(t.epoch == 1, t.family == "miner_work", t.first_row == 0)).scalar_one()
                conn.execute(update(db.work_index).where(t.epoch == 1, t.family == "miner_work", t.first_row == 0).values(tasks=value[:-1]))
                assert read_node_rows(conn, 1, "miner_work", ()) is None  # the read refuses it (a statement reads the records)
                needles = ("epoch 1 miner_work", "chunk at row 0 is malformed")
            else:
                empty = {"tasks": b"", "nodes": b"", "counted": b"", "new_names": "[]"}
                conn.execute(db.work_index.insert().values(epoch=7, family="miner_work", first_row=0, row_count=0, **empty))
                needles = ("epoch 7 miner_work", "does not produce")
    finally:
        eng.store.dispose()
    only_projections_fail(verify_report(db_url, monkeypatch), *needles)


def test_chunks_stored_in_session_31s_layout_still_read_and_verify(db_url, sim_events, monkeypatch):
    """Every chunk of epochs 0 and 1 rewritten in layout 1 (three packed columns, as session 31 wrote them; epoch 2 stays
    in layout 2): the statements are the records' and the index serves every work line; verify is ok, and still names a
    row changed in a layout-1 chunk."""
    eng = project_in_two(db_url, sim_events)
    try:
        state = eng.state
        with eng.store.engine.begin() as conn:
            t = db.work_index.c
            assert all(len(nd) == len(c) == 0 < len(ts) for ts, nd, c in conn.execute(select(t.tasks, t.nodes, t.counted).where(t.first_row >= 0)))
            for e, f, first in conn.execute(select(t.epoch, t.family, t.first_row).where(t.epoch <= 1, t.first_row >= 0)).all():
                set_chunk(conn, e, f, first, layout=1)
            old = conn.execute(select(t.row_count, t.tasks, t.nodes, t.counted).where(t.epoch <= 1, t.first_row >= 0)).all()
            assert old and all(len(ts) == 8 * n and len(nd) == 4 * n and len(c) == n for n, ts, nd, c in old)
        for e in range(3):
            assert served_by_index(state, e) == work_lines(state, e) > 0
        indexed, bulk, one_by_one = three_ways(state, range(3), monkeypatch)
        assert indexed == bulk == one_by_one
    finally:
        eng.store.dispose()
    report = verify_report(db_url, monkeypatch)
    assert report.ok and report.work_index_checked == 6, report.errors
    bump_first_task(db_url, 1, "validator_work")  # (kept in layout 2 by set_chunk: the other chunks of epoch 1 in layout 1)
    only_projections_fail(verify_report(db_url, monkeypatch), "epoch 1 validator_work", "row 0 differs")


def test_an_index_the_table_lacks_or_begins_mid_epoch_verifies(tmp_path, sim_events, monkeypatch):
    """An epoch without any row (projected before the table existed) is fine, and so is the first epoch the table holds
    starting at a later row (migrated during it: the engine's projector began at the rows it loaded)."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng = project_in_two(url, sim_events)
    try:
        with eng.store.engine.begin() as conn:
            t = db.work_index.c
            conn.execute(delete(db.work_index).where(t.epoch == 0))
            conn.execute(delete(db.work_index).where(t.epoch == 1, t.first_row == 0))
            assert read_node_rows(conn, 1, "miner_work", ()) is None  # (the read gives the records)
    finally:
        eng.store.dispose()
    report = verify_report(url, monkeypatch)
    assert report.ok, report.errors
    assert report.work_index_checked == 4


def test_cor_verify_json_names_the_index_difference(tmp_path):
    """``cor verify --json`` on a live network's database (real signatures) whose epoch 1 has two rows' nodes swapped."""
    from typer.testing import CliRunner

    from cor_incentives.cli.main import app

    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, _, _ = live_network(url, tmp_path / "keys")
    try:
        with eng.store.engine.begin() as conn:
            row = swap_two_rows_nodes(conn, strict=False)
            assert read_node_rows(conn, 1, "miner_work", ()) is not None
    finally:
        eng.store.dispose()
    out = CliRunner().invoke(app, ["verify", "--json", "--db", url])
    assert out.exit_code == 1, out.output
    report = json.loads(out.output)
    assert report["ok"] is False and report["projections"] is False and report["replay"] is True
    assert any("work index: epoch 1 miner_work" in e and f"row {row} differs" in e for e in report["errors"]), report["errors"]


def test_verify_from_an_anchored_snapshot_compares_the_epochs_it_replays_from_row_0(tmp_path):
    """``--from-snapshot`` at a close anchored mid-epoch (epoch 2 has rows at the snapshot): epoch 2 is not compared (its
    rows before the snapshot are not replayed), epoch 3, replayed from its row 0, is; a change in epoch 2 is found only
    by the verify from genesis."""
    from cor_incentives.app.anchors import checkpoint_for
    from support.scenario import PROMPTS, settle_honest_task

    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys, _ = live_network(url, tmp_path / "keys")
    try:
        settle_honest_task(eng, keys, PROMPTS[0], with_garbage=True)
        head = eng.state.seq
        eng.submit_as(keys["oracle"], "epoch.close", {"checkpoint": checkpoint_for(eng.state, with_state=True)})
        settle_honest_task(eng, keys, PROMPTS[1], with_garbage=False)
        assert eng.state.epoch == 3 and len(eng.state.epoch_work) > 0
    finally:
        eng.store.dispose()
    whole, tail = verify_report(url), verify_report(url, from_snapshot=True)
    assert whole.ok and tail.ok, (whole.errors, tail.errors)
    assert tail.from_snapshot == head
    assert whole.work_index_checked == 8 and tail.work_index_checked == 2  # epochs 0-3 / epoch 3 (2 families each)
    bump_first_task(url, 2, "miner_work")
    assert verify_report(url, from_snapshot=True).ok  # (epoch 2's rows before the snapshot are not replayed)
    only_projections_fail(verify_report(url), "epoch 2 miner_work", "row 0 differs")
    bump_first_task(url, 3, "validator_work")
    only_projections_fail(verify_report(url, from_snapshot=True), "epoch 3 validator_work", "row 0 differs")


# --- one node's rows, not the epoch's arrays (``read_node_rows``) ----------------------------------------------------


def whole_epoch_read(conn: Any, epoch: int, family: str) -> tuple[Any, Any, Any, list[str]] | None:
    """The read before session 32's s32-stmtmem, kept as the reference: every chunk of the epoch decoded into whole-epoch
    arrays (tasks, nodes, counted) and its names, or None (the same checks; node indices within all of the epoch's names)."""
    import numpy as np

    t = db.work_index.c
    rows = conn.execute(
        select(t.first_row, t.row_count, t.tasks, t.nodes, t.counted, t.new_names).where(t.epoch == epoch, t.family == family).order_by(t.first_row)
    ).all()
    if not rows or rows[0][0] != CLOSED_ROW:
        return None
    total, at, names, tasks, nodes, counted = int(rows[0][1]), 0, [], [], [], []
    for first, n, ts, nd, c, new in rows[1:]:
        if first != at:
            return None
        try:
            chunk = decode_chunk(int(n), ts, nd, c)
            more = json.loads(new)
        except ValueError:
            return None
        if not isinstance(more, list) or not all(isinstance(a, str) for a in more):
            return None
        tasks.append(chunk[0])
        nodes.append(chunk[1])
        counted.append(chunk[2] != 0)
        names += more
        at += n
    if at != total:
        return None
    arrays = [np.concatenate(x) if x else np.zeros(0, d) for x, d in ((tasks, np.int64), (nodes, np.int32), (counted, bool))]
    if len(arrays[1]) and not 0 <= int(arrays[1].min()) <= int(arrays[1].max()) < len(names):
        return None
    return arrays[0], arrays[1], arrays[2], names


def reference_rows(conn: Any, epoch: int, family: str, addresses: list[str]) -> dict[str, tuple[list[int], int]] | None:
    """``read_node_rows`` by the old path: the whole epoch's arrays masked by each node (``WorkIndex.node_tasks``)."""
    whole = whole_epoch_read(conn, epoch, family)
    if whole is None:
        return None
    tasks, nodes, counted, names = whole
    out = {}
    for a in addresses:
        if a not in names:
            out[a] = ([], 0)
            continue
        mine = nodes == names.index(a)
        out[a] = (tasks[mine & counted].tolist(), int(mine.sum()))
    return out


def every_epochs_names(conn: Any) -> dict[tuple[int, str], list[str]]:
    t = db.work_index.c
    out: dict[tuple[int, str], list[str]] = {}
    for e, f, new in conn.execute(select(t.epoch, t.family, t.new_names).order_by(t.epoch, t.family, t.first_row)):
        out.setdefault((e, f), []).extend(json.loads(new))
    return out


def test_node_rows_equal_the_whole_epoch_reads(db_url, sim_events):
    """Every node of every epoch and family (the chunks of two processes in epoch 1), all asked in one pass and each alone,
    and a node without a row: the old path's rows; then every fallback (a chunk moved, deleted, cut short, with new_names
    that are no names or a node index past the names; the close row dropped or its count changed): None from both."""
    eng = project_in_two(db_url, sim_events)
    try:
        with eng.store.engine.begin() as conn:
            t = db.work_index.c
            names = every_epochs_names(conn)
            assert len(names) == 6 and all(names.values())
            for (e, f), ns in names.items():
                asked = [*ns, "0xnobody"]
                together = read_node_rows(conn, e, f, asked)
                assert together is not None and together == reference_rows(conn, e, f, asked)
                assert together["0xnobody"] == ([], 0) and sum(n for _, n in together.values()) == total_rows(conn, e, f) > 0
                assert any(ids for ids, _ in together.values())
                for a in ns[:3]:
                    assert read_node_rows(conn, e, f, [a]) == {a: together[a]}
            second = conn.execute(select(func.max(t.first_row)).where(t.epoch == 1, t.family == "miner_work")).scalar()
            assert second > 0  # (two chunks)
            tampers = [
                lambda: set_chunk(conn, 1, "miner_work", second, first_row=second + 1),
                lambda: conn.execute(delete(db.work_index).where(t.epoch == 1, t.family == "miner_work", t.first_row == 0)),
                lambda: set_chunk(
                    conn,
                    1,
                    "miner_work",
                    0,
                    tasks=chunk_at(conn, 1, "miner_work", 0)[0][:-1],
                    nodes=chunk_at(conn, 1, "miner_work", 0)[1][:-1],
                    counted=chunk_at(conn, 1, "miner_work", 0)[2][:-1],
                ),  # noqa: E501
                lambda: set_chunk(conn, 1, "miner_work", second, new_names='{"a": 1}'),
                lambda: set_chunk(conn, 1, "miner_work", second, new_names="[1, 2]"),
                lambda: set_chunk(conn, 1, "miner_work", second, new_names="not json"),
                lambda: set_chunk(conn, 1, "miner_work", 0, nodes=[len(names[(1, "miner_work")]), *chunk_at(conn, 1, "miner_work", 0)[1][1:]]),
                lambda: set_chunk(conn, 1, "miner_work", 0, nodes=[-1, *chunk_at(conn, 1, "miner_work", 0)[1][1:]]),
                lambda: conn.execute(update(db.work_index).where(t.epoch == 1, t.family == "miner_work", t.first_row == 0).values(tasks=b"\x02")),
                lambda: conn.execute(delete(db.work_index).where(t.epoch == 1, t.family == "miner_work", t.first_row == CLOSED_ROW)),
                lambda: set_chunk(conn, 1, "miner_work", CLOSED_ROW, row_count=t.row_count + 1),
            ]
            for n, tamper in enumerate(tampers):
                saved = conn.begin_nested()
                tamper()
                asked = names[(1, "miner_work")]
                assert reference_rows(conn, 1, "miner_work", asked) is None, n
                assert read_node_rows(conn, 1, "miner_work", asked) is None, n
                saved.rollback()
            assert read_node_rows(conn, 1, "miner_work", ()) is not None  # (every tamper undone)
    finally:
        eng.store.dispose()


def total_rows(conn: Any, e: int, f: str) -> int:
    t = db.work_index.c
    return int(conn.execute(select(t.row_count).where(t.epoch == e, t.family == f, t.first_row == CLOSED_ROW)).scalar_one())


def test_a_node_index_before_its_name_is_refused(tmp_path, sim_events):
    """Stricter than the whole-epoch read: a chunk's node index must be of a name interned by then (a writer interns a
    node before its row), not only of one some later chunk interns; the old read took it, this one gives None."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng = project_in_two(url, sim_events)
    try:
        with eng.store.engine.begin() as conn:
            t = db.work_index.c
            second = conn.execute(select(func.max(t.first_row)).where(t.epoch == 1, t.family == "validator_work")).scalar()
            first_names, later = json.loads(chunk_at(conn, 1, "validator_work", 0)[3]), json.loads(chunk_at(conn, 1, "validator_work", second)[3])
            if not later:  # (every validator interned by the first chunk: move its last name to the second)
                set_chunk(conn, 1, "validator_work", 0, new_names=json.dumps(first_names[:-1]))
                set_chunk(conn, 1, "validator_work", second, new_names=json.dumps(first_names[-1:]))
                last = len(first_names) - 1
                assert last in chunk_at(conn, 1, "validator_work", 0)[1]  # a row of it in the first chunk
            else:
                last = len(first_names)
                set_chunk(conn, 1, "validator_work", 0, nodes=[last, *chunk_at(conn, 1, "validator_work", 0)[1][1:]])
            assert whole_epoch_read(conn, 1, "validator_work") is not None
            assert read_node_rows(conn, 1, "validator_work", ()) is None
    finally:
        eng.store.dispose()


def big_index(url: str, rows: int, nodes: int, chunk: int) -> list[str]:
    """A closed epoch 0 of ``rows`` miner rows in chunks of ``chunk`` rows (10 rows a task, nodes spread over the rows,
    random counted flags), written as the projector writes them; returns the epoch's names."""
    import numpy as np

    rng = np.random.default_rng(5)
    names = [f"0x{i:040x}" for i in range(nodes)]
    tasks = np.repeat(np.arange(rows // 10, dtype=np.int64) * 3 + 1000, 10)
    node = rng.integers(0, nodes, rows).astype(np.int32)
    node[:nodes] = np.arange(nodes)  # (every name interned by the first chunk)
    counted = (rng.random(rows) < 0.8).astype(np.int8)
    store = db.Store(url)
    try:
        store.create_schema()
        with store.engine.begin() as conn:
            values = [
                {"epoch": 0, "family": "miner_work", "first_row": a, "row_count": len(tasks[a : a + chunk]), "nodes": b"", "counted": b""}
                | {
                    "tasks": encode_chunk(tasks[a : a + chunk], node[a : a + chunk], counted[a : a + chunk]),
                    "new_names": json.dumps(names if a == 0 else []),
                }
                for a in range(0, rows, chunk)
            ]
            values.append(
                {
                    "epoch": 0,
                    "family": "miner_work",
                    "first_row": CLOSED_ROW,
                    "row_count": rows,
                    "tasks": b"",
                    "nodes": b"",
                    "counted": b"",
                    "new_names": "[]",
                }
            )
            conn.execute(db.work_index.insert(), values)
    finally:
        store.dispose()
    return names


def test_one_nodes_read_holds_no_whole_epoch_array(db_url):
    """400 000 rows (whole-epoch arrays of 13 bytes a row: 5.2 MB, the old read's peak above that): one node's read by
    ``read_node_rows`` peaks under 1 MB and under a fifth of the old path's (tracemalloc: numpy's buffers counted), with
    the same rows; chunks of 1 000 rows as real flushes write them. (On PostgreSQL libpq's buffers are not traced: what
    bounds them is the read's server-side cursor, ``STREAM_CHUNKS`` chunks at a time.)"""
    import tracemalloc

    names = big_index(db_url, 400_000, 1000, 1000)
    store = db.Store(db_url, create=False)
    try:
        with store.reader() as conn:
            read_node_rows(conn, 0, "miner_work", names[:1])  # (once untimed: numpy's import, the pages)
            peaks = {}
            for name, read in (("old", reference_rows), ("new", read_node_rows)):
                tracemalloc.start()
                got = read(conn, 0, "miner_work", names[:2])
                peaks[name] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                peaks[name + "_rows"] = got
    finally:
        store.dispose()
    assert peaks["new_rows"] == peaks["old_rows"] and 300 < peaks["new_rows"][names[0]][1] < 500
    assert peaks["old"] > 5_000_000, peaks["old"]
    assert peaks["new"] < 1_000_000 and peaks["new"] * 5 < peaks["old"], (peaks["new"], peaks["old"])


def test_a_statement_reads_each_family_once_for_all_its_lines(tmp_path, sim_events, monkeypatch):
    """``indexed_lines`` over every line of an epoch (many nodes, both families) asks each family's index once, for the
    nodes of its lines in one pass; the lines it serves are those the records derive (``served_by_index``)."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng = project_in_two(url, sim_events)
    try:
        state = eng.state
        asked: list[tuple[int, str, list[str]]] = []
        original = archive.work_index
        monkeypatch.setattr(views, "work_index", lambda s, e, f, a: (asked.append((e, f, list(a))), original(s, e, f, a))[1])
        record = views.epoch_record(state, 1)
        items = list(record.items)
        assert served_by_index(state, 1) == work_lines(state, 1) > 0
        families = sorted(f for _, f, _ in asked)
        assert families == ["miner_work", "validator_work"]  # one read a family
        for _, f, nodes in asked:
            lines = {i.address for i in items if i.stream in (f"{f}:node", f"{f}:none") and "tasks" not in i.detail}
            assert sorted(nodes) == sorted(lines) and len(nodes) > 1 and len(set(nodes)) == len(nodes)
    finally:
        eng.store.dispose()
