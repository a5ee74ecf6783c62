"""Closed work leaves the live state (RULES_PRUNE, core/prune.py): the database keeps it, reads find
it there, the state hash commits to it, verify re-derives it, and memory follows open work."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import pytest
from sqlalchemy import select, update

from cor_incentives.app import views
from cor_incentives.app.anchors import checkpoint_for
from cor_incentives.app.archive import epoch_record, epoch_records, get_task
from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import state_fingerprint, verify_database, verify_store
from cor_incentives.core.apply import apply
from cor_incentives.core.errors import Conflict, NotFound
from cor_incentives.core.prune import RECORDS, fold
from cor_incentives.core.records import CLOSED_TASK_STATES, Pruned
from cor_incentives.core.rules import RULES_FINE_TUNE_RELEASE, RULES_PRUNE
from cor_incentives.core.state import State, json_ready
from cor_incentives.core.state_codec import encode_record, encode_state, hashed_fields, pruned_record_hash
from cor_incentives.store import db
from cor_incentives.store.projections import PROJECTION_LAYOUT, PROJECTION_LAYOUT_KEY, PRUNED_COLLECTION, pruned_key
from support.network import make_network
from support.scenario import run_scenario, settle_honest_task


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prune")
    # rule 26: a closed task's whole record stays live until the close past the window (from rule 27 it leaves at its
    # close and a stub stays: tests/app/test_task_stub_engine.py)
    eng = run_scenario(f"sqlite:///{tmp / 'cor.db'}", tmp / "keys", rule_version=RULES_FINE_TUNE_RELEASE)
    events = list(eng.store.iter_events())
    yield eng, events
    eng.store.dispose()


def replay(events, upto: int) -> State:
    state = State()
    for event in events[: upto + 1]:
        apply(state, event)
    return state


def pruned_rows(eng: Engine) -> dict[str, str]:
    with eng.store.reader() as conn:
        return {r.key: r.data for r in conn.execute(select(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION))}


def test_closed_tasks_and_earlier_epochs_leave_the_state_and_are_read_back(scenario):
    eng, events = scenario
    state = eng.state
    assert state.params.rule_version >= RULES_PRUNE and state.epoch == 2
    # the second close pruned epoch 0's tasks (created in epoch 0 = epoch 2 - unbonding_period_epochs) and slimmed its record
    before_close = max(e.seq for e in events if json.loads(e.payload)["kind"] == "epoch.close")
    whole = replay(events, before_close - 1)
    gone = [t for t in whole.tasks.values() if t.state in CLOSED_TASK_STATES and t.created_epoch == 0]
    assert gone and all(t.id not in state.tasks for t in gone)
    for t in gone:  # read back from the database, exactly as it left
        assert get_task(state, t.id) == t
        assert views.task(state, get_task(state, t.id)) == views.task(whole, t)
    slim = state.epochs[0]
    assert slim.items == [] and slim.reputation == {} and slim.root == whole.epochs[0].root and slim.leaves == whole.epochs[0].leaves
    assert epoch_record(state, 0) == whole.epochs[0]  # the whole record, from the database
    assert views.epoch(state, 0) == views.epoch(whole, 0) | {"onchain": None}
    address = next(iter(whole.epochs[0].leaves))
    assert views.statement(state, address, 0)["items"] == views.statement(whole, address, 0)["items"]
    assert [e for e, _ in epoch_records(state)] == [0, 1]
    assert views.status(state)["epochs_closed"] == 2
    with pytest.raises(NotFound) as exc:
        get_task(state, 10**6)
    assert exc.value.code == "task_not_found"


def test_the_running_hash_commits_to_exactly_what_was_pruned(scenario):
    eng, _ = scenario
    rows = pruned_rows(eng)
    assert len(rows) == eng.state.pruned.count > 0
    running = Pruned().hash
    for _, key, data in sorted((json.loads(d)["n"], k, d) for k, d in rows.items()):
        kind, ident = key.split(":")
        row = json.loads(data)
        record = json.dumps(row["record"], separators=(",", ":")).encode("ascii")
        # folded with the fields the rule it retired under knew (rule 31's Task.dissenters stays out of a rule-26 fold)
        running = fold(running, kind, int(ident), pruned_record_hash(RECORDS[kind], row["rules"], record))
    assert running == eng.state.pruned.hash
    task = get_task(eng.state, int(next(k for k in rows if k.startswith("task:")).split(":")[1]))
    assert json.loads(rows[pruned_key("task", task.id)])["record"] == json.loads(encode_record(task))


def test_verify_rederives_the_pruned_records_and_catches_an_edit(scenario):
    eng, _ = scenario
    report, replayed = verify_store(eng.store)
    assert report.ok, report.to_dict()
    assert state_fingerprint(replayed) == state_fingerprint(eng.state)
    assert encode_state(replayed) == encode_state(eng.state)
    # a pruned record edited in the database: verify names it (and the hash no longer folds)
    key = next(k for k in pruned_rows(eng) if k.startswith("task:"))
    with eng.store.engine.begin() as conn:
        original = conn.execute(
            select(db.documents.c.data).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key)
        ).scalar_one()
        doc = json.loads(original)
        doc["record"]["max_output_tokens"] += 1
        edited = json.dumps(doc, separators=(",", ":"))
        assert edited != original
        conn.execute(update(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key).values(data=edited))
    try:
        bad, _ = verify_store(eng.store)
        assert not bad.ok
        assert not bad.projections and any(key in message for message in bad.errors), bad.errors
        assert any("do not hash to the state's" in message for message in bad.errors), bad.errors
    finally:
        with eng.store.engine.begin() as conn:
            conn.execute(update(db.documents).where(db.documents.c.collection == PRUNED_COLLECTION, db.documents.c.key == key).values(data=original))


def test_each_pruned_row_holds_the_rule_version_it_retired_under_and_verify_reads_it(scenario):
    """The fold of a pruned record reads the rule version in force when it retired (state_codec.pruned_record_hash): the
    row keeps it, and ``cor verify`` refuses a row without it or with another than the replay's."""
    eng, _ = scenario
    rows = pruned_rows(eng)
    assert {json.loads(d)["rules"] for d in rows.values()} == {eng.state.params.rule_version}
    assert all(d.startswith('{"n":') and ',"rules":' in d for d in rows.values())
    key = next(k for k in rows if k.startswith("task:"))
    original = rows[key]

    def without_rules(doc):
        del doc["rules"]

    def another_rule(doc):
        doc["rules"] -= 1  # (the same fold: every field is known under both; the replay's copy differs)

    edits = ((without_rules, "does not say the rule version it retired under"), (another_rule, "differs from the one the replay pruned"))
    for edit, message in edits:
        doc = json.loads(original)
        edit(doc)
        with eng.store.engine.begin() as conn:
            where = (db.documents.c.collection == PRUNED_COLLECTION) & (db.documents.c.key == key)
            conn.execute(update(db.documents).where(where).values(data=json.dumps(doc, separators=(",", ":"))))
        try:
            bad, _ = verify_store(eng.store)
            assert not bad.ok and any(key in m and message in m for m in bad.errors), bad.errors
        finally:
            with eng.store.engine.begin() as conn:
                conn.execute(update(db.documents).where(where).values(data=original))
    report, _ = verify_store(eng.store)
    assert report.ok, report.to_dict()


def test_a_fully_claimed_epoch_leaves_with_its_claim_marks(tmp_path):
    eng, keys = make_network(
        f"sqlite:///{tmp_path / 'cor.db'}", tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="backends"
    )
    settle_honest_task(eng, keys, "What is the capital of France?", with_garbage=False)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    leaves = dict(eng.state.epochs[0].leaves)
    assert leaves
    by_address = {k.address: k for k in keys.values()}
    for who, amount in leaves.items():
        p = views.proof(eng.state, who, 0)
        eng.submit_as(by_address.get(who, keys["dave"]), "reward.claim", {"address": who, "epoch": 0, "amount": str(amount), "proof": p["proof"]})
    assert all(f"0|{a}" in eng.state.claimed for a in leaves)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    assert 0 not in eng.state.epochs and not any(c.startswith("0|") for c in eng.state.claimed)
    who, amount = next(iter(leaves.items()))
    with pytest.raises(Conflict) as exc:
        eng.submit_as(by_address.get(who, keys["dave"]), "reward.claim", {"address": who, "epoch": 0, "amount": str(amount), "proof": []})
    assert exc.value.code == "nothing_to_claim"
    assert views.epoch(eng.state, 0)["root"] is not None  # still readable, from the database
    assert views.rewards(eng.state, who)["epochs"][0]["epoch"] == 0
    eng.store.dispose()


def live_size(state: State) -> int:
    """Bytes of the state's snapshot, without the window of recent event hashes (bounded by CHECKPOINT_WINDOW events)."""
    body = json.loads(encode_state(state))["state"]
    body.pop("recent_hashes")
    return len(json.dumps(body))


def claim_all(eng: Engine, keys: dict, e: int) -> None:
    by_address = {k.address: k for k in keys.values()}
    for who, amount in dict(eng.state.epochs[e].leaves).items():
        p = views.proof(eng.state, who, e)
        eng.submit_as(by_address.get(who, keys["dave"]), "reward.claim", {"address": who, "epoch": e, "amount": str(amount), "proof": p["proof"]})


def test_memory_follows_open_work_not_history(tmp_path):
    """Each epoch settles a task, closes, and its leaves are claimed: once the evidence window has passed the live
    state stops growing (tasks, statement lines, parameter versions and claimed epochs all leave it)."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="backends")
    sizes, live_tasks = [], []
    for e in range(8):
        settle_honest_task(eng, keys, f"Prompt number {e}: name a prime number.", with_garbage=False)
        eng.submit_as(keys["oracle"], "epoch.close", {})
        claim_all(eng, keys, e)
        sizes.append(live_size(eng.state))
        live_tasks.append(len(eng.state.tasks))
    window = eng.state.params.unbonding_period_epochs
    assert max(live_tasks) <= window + 1 and live_tasks[-1] == live_tasks[-2] == live_tasks[-3]
    assert len(eng.state.epochs) <= 2 and len(eng.state.params_history.versions) <= 2
    assert not any(c.startswith(f"{e}|") for c in eng.state.claimed for e in range(6))
    assert sizes[-1] - sizes[4] < 200, sizes  # flat (a few digits of counters), while history grew by 4 epochs
    history = sum(len(d) for d in pruned_rows(eng).values())
    assert history > sizes[-1] / 2, (history, sizes)  # the database holds what left: it grows, the state does not
    assert eng.state.pruned.count >= 8 + 6  # tasks, epoch records, parameter versions
    assert [e for e, _ in epoch_records(eng.state)] == list(range(8))
    # a reopen (snapshot + tail) and a full replay give the same state
    a = Engine.open(url, create=False)
    b = Engine.open(url, create=False, snapshots=False)
    assert encode_state(a.state) == encode_state(b.state) == encode_state(eng.state)
    assert json_ready(asdict(epoch_record(a.state, 0))) == json_ready(asdict(epoch_record(b.state, 0)))
    report, _ = verify_store(eng.store)
    assert report.ok, report.errors
    for x in (a, b, eng):
        x.store.dispose()


def test_a_database_with_pruned_rows_of_format_1_is_named_by_verify_and_reprojected_by_the_next_writer(tmp_path):
    """Rows written before they held the rule version (``PRUNED_ROW_FORMAT`` 1, ``{"n", "record"}``, under the layout
    digest of the fields alone): ``cor verify`` names the layout, the next writer re-projects the log, and the rows then
    hold the rule version and verify."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng = run_scenario(url, tmp_path / "keys")
    rules = eng.state.params.rule_version
    eng.store.dispose()
    old_layout = hashlib.sha256(json.dumps(hashed_fields(None), sort_keys=True).encode()).hexdigest()[:16]
    assert old_layout != PROJECTION_LAYOUT
    store = db.Store(url)
    with store.engine.begin() as conn:
        db.upsert(conn, db.meta, {"key": PROJECTION_LAYOUT_KEY}, {"value": old_layout})
        where = db.documents.c.collection == PRUNED_COLLECTION
        rows = conn.execute(select(db.documents.c.key, db.documents.c.data).where(where)).all()
        assert rows
        for key, data in rows:
            doc = json.loads(data)
            assert doc.pop("rules") == rules
            conn.execute(update(db.documents).where(where & (db.documents.c.key == key)).values(data=json.dumps(doc, separators=(",", ":"))))
    store.dispose()
    report, _ = verify_database(url)
    assert not report.ok and any(f"another record layout ({old_layout}" in e for e in report.errors), report.errors
    writer = Engine.open(url)
    writer.store.dispose()
    store = db.Store(url)
    with store.reader() as conn:
        after = dict(conn.execute(select(db.documents.c.key, db.documents.c.data).where(db.documents.c.collection == PRUNED_COLLECTION)).all())
    store.dispose()
    assert sorted(after) == sorted(k for k, _ in rows) and {json.loads(d)["rules"] for d in after.values()} == {rules}
    report, _ = verify_database(url)
    assert report.ok, report.errors


def test_verify_from_a_snapshot_folds_the_rows_pruned_before_it_with_the_rule_version_each_keeps(tmp_path):
    """``cor verify --from-snapshot`` replays only the tail, so the rows pruned before the snapshot are folded with the rule
    version their row keeps (not one the replay gives): they fold to the state's hash, and one without it is named."""
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="fold")
    settle_honest_task(eng, keys, "What is the capital of France?", with_garbage=False)
    for _ in range(3):
        eng.submit_as(keys["oracle"], "epoch.close", {})
    early = set(pruned_rows(eng))
    assert any(k.startswith("task:") for k in early)
    eng.submit_as(keys["oracle"], "epoch.close", {"checkpoint": checkpoint_for(eng.state, with_state=True)})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    rows = len(pruned_rows(eng))
    assert rows > len(early)
    head = eng.state.seq
    eng.store.dispose()
    report, state = verify_database(url, from_snapshot=True)
    assert report.ok, report.errors
    assert report.from_snapshot is not None and report.events == head - report.from_snapshot  # the early rows were not replayed
    assert state.pruned.count == rows
    key = next(k for k in sorted(early) if k.startswith("task:"))
    store = db.Store(url)
    where = (db.documents.c.collection == PRUNED_COLLECTION) & (db.documents.c.key == key)
    with store.engine.begin() as conn:
        doc = json.loads(conn.execute(select(db.documents.c.data).where(where)).scalar_one())
        del doc["rules"]
        conn.execute(update(db.documents).where(where).values(data=json.dumps(doc, separators=(",", ":"))))
    store.dispose()
    report, _ = verify_database(url, from_snapshot=True)
    assert not report.ok and any(key in e and "does not say the rule version" in e for e in report.errors), report.errors
