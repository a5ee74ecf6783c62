"""Rule 27 (``RULES_TASK_STUB``) through the engine: a settled task's whole record leaves the live state in its settling
event and the database holds it from that event on, so ``cor task show --json``, ``GET /v1/tasks/ID``, the dashboard
and ``archive.get_task`` show it whole (what rule 26 showed from its live record), and ``cor verify`` passes with slashes
of settled tasks inside the window (a commit mismatch the core slashed, an equivocation reported): its audit reads the
database's copy, not the stub. SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from cor_incentives.api.app import create_app
from cor_incentives.api.service import ApiService
from cor_incentives.app import views
from cor_incentives.app.archive import get_task
from cor_incentives.app.verify import verify_database, verify_store
from cor_incentives.cli.main import app
from cor_incentives.core.records import ClosedTask, Task, TaskState
from cor_incentives.core.rules import RULES_FINE_TUNE_RELEASE, RULES_TASK_STUB
from cor_incentives.store import db
from cor_incentives.store.projections import PRUNED_COLLECTION, pruned_key
from support.network import make_network
from support.scenario import PROMPTS, report_equivocation, settle_honest_task, settle_task_with_cheat


def network(url, tmp, rule_version):
    return make_network(
        url, tmp / f"keys-{rule_version}", n_miners=5, n_validators=3, params={"redundancy": 4, "rule_version": rule_version}, seed="stub"
    )


@pytest.fixture
def worlds(tmp_path, db_url):
    """The same work under rule 27 (on ``db_url``) and rule 26 (on a SQLite file): a settled task with a garbage output,
    a task whose first miner's reveal mismatched its commit (slashed by the core), an equivocation reported for it."""
    out = {}
    for rule_version, url in ((RULES_TASK_STUB, db_url), (RULES_FINE_TUNE_RELEASE, f"sqlite:///{tmp_path / 'old.db'}")):
        eng, keys = network(url, tmp_path, rule_version)
        settled = settle_honest_task(eng, keys, PROMPTS[0], with_garbage=True)
        seq_settled = eng.state.seq
        cheat = settle_task_with_cheat(eng, keys)
        report_equivocation(eng, keys, cheat)
        out[rule_version] = (eng, url, settled, cheat, seq_settled)
    yield out
    for eng, *_ in out.values():
        eng.store.dispose()


def test_a_settled_task_is_read_whole_from_its_settling_event_and_verify_passes(worlds):
    eng, url, settled, cheat, seq_settled = worlds[RULES_TASK_STUB]
    old, _, settled_26, cheat_26, _ = worlds[RULES_FINE_TUNE_RELEASE]
    s = eng.state
    assert (settled, cheat) == (settled_26, cheat_26)
    for tid in (settled, cheat):
        assert tid not in s.tasks and isinstance(s.closed_tasks[tid], ClosedTask)
        whole = get_task(s, tid)
        assert isinstance(whole, Task) and whole == old.state.tasks[tid]  # the record rule 26 keeps live, from the database
        assert whole.state == TaskState.SETTLED and whole.reports and whole.split
        assert s.closed_tasks[tid] == ClosedTask.of(whole)
        assert views.task(s, whole) == views.task(old.state, old.state.tasks[tid])
    with eng.store.reader() as conn:  # the row was written by the settling event's transaction
        raw = conn.execute(
            select(db.documents.c.data).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == pruned_key("task", settled))
        ).scalar()
    assert raw is not None and json.loads(raw)["n"] < s.pruned.count
    assert [x.offence for x in s.slashes] == [x.offence for x in old.state.slashes] and "equivocation" in {x.offence for x in s.slashes}
    assert "commit_mismatch" in {x.offence for x in s.slashes}
    assert s.ledger.balances == old.state.ledger.balances
    # the API and the CLI show it whole
    svc = ApiService.open(url)
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as api:
            for tid in (settled, cheat):
                got = api.get(f"/v1/tasks/{tid}")
                assert got.status_code == 200 and got.json() == json.loads(json.dumps(views.task(old.state, old.state.tasks[tid])))
            counts = api.get("/?format=json").json()["counts"]["tasks"]
            assert counts["SETTLED"] == 2 and counts["pruned"] == 0  # the stubs keep their state, and are not counted as pruned
            listed = api.get("/v1/tasks", params={"state": "SETTLED"}).json()["tasks"]
            assert sorted(t["id"] for t in listed) == sorted((settled, cheat))
    finally:
        svc.engine.store.dispose()
    shown = CliRunner().invoke(app, ["task", "show", str(settled), "--db", url, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == json.loads(json.dumps(views.task(old.state, old.state.tasks[settled])))
    # cor verify: the replay hands the same rows over, folds them, and the slash audit reads the database's copies
    report, state = verify_store(eng.store)
    assert report.ok, report.errors
    assert state.closed_tasks == s.closed_tasks
    report, _ = verify_database(url)
    assert report.ok, report.errors
    assert seq_settled < s.seq


def test_a_reopened_engine_reads_the_same_stubs_and_records(worlds):
    eng, url, settled, _, _ = worlds[RULES_TASK_STUB]
    from cor_incentives.app.engine import Engine

    eng.store.dispose()
    again = Engine.open(url)
    try:
        assert again.state.closed_tasks == eng.state.closed_tasks and get_task(again.state, settled) == get_task(eng.state, settled)
    finally:
        again.store.dispose()
