"""A statement under rule 28 reads the tasks its work lines derive (``epoch_document.node_tasks``) in a few queries
(``views.derived_task_ids``, ``archive.get_tasks``: 500 ids a query) instead of one ``get_task`` each, and a pruned
row's record is decoded from its text as stored (``archive._decoded``) instead of parsed and written again.

The old path is kept as the reference: the same statement with the bulk read turned off (every task read by
``get_task``, one query each), on SQLite and PostgreSQL: same lines, same tasks in the same order."""

from __future__ import annotations

import json

import pytest

from cor_incentives.app import archive, views
from cor_incentives.core.records import Task
from cor_incentives.core.rules import RULES_SLIM_NODE_LINES, RULES_TASK_STUB
from cor_incentives.core.state_codec import encode_record
from cor_incentives.store.projections import pruned_document


def network(url: str, keys, rule_version: int):
    from support.network import make_network
    from support.scenario import PROMPTS, settle_honest_task

    eng, keys = make_network(url, keys, n_miners=5, n_validators=4, params={"rule_version": rule_version})
    for name in [n for n in keys if n.startswith(("miner", "validator"))]:  # commission lines, which cite their node line
        eng.submit_as(keys[name], "node.set_commission", {"commission_bps": min(500, eng.state.params.max_commission_change_bps)})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    tasks = [settle_honest_task(eng, keys, PROMPTS[i % len(PROMPTS)], with_garbage=i % 2 == 0) for i in range(4)]
    eng.submit_as(keys["oracle"], "epoch.close", {})
    return eng, tasks


def statements(eng) -> dict[str, str]:
    record = views.epoch_record(eng.state, 1)
    return {a: json.dumps(views.statement(eng.state, a, 1), sort_keys=True) for a in sorted({i.address for i in record.items})}


def test_the_bulk_read_gives_the_statement_the_one_by_one_reads_gave(db_url, tmp_path, monkeypatch):
    eng, tasks = network(db_url, tmp_path / "keys", RULES_SLIM_NODE_LINES)
    monkeypatch.setattr(views, "work_index", lambda state, e, family, addresses: None)  # the records' paths (the index: test_work_index)
    try:
        assert eng.state.params.rule_version >= RULES_TASK_STUB
        assert not any(isinstance(eng.state.tasks.get(t), Task) for t in tasks)  # stubs live: every record from the database
        one_by_one: list[int] = []
        record = archive.StoreHistory.record
        monkeypatch.setattr(archive.StoreHistory, "record", lambda self, cls, kind, key: (one_by_one.append(key), record(self, cls, kind, key))[1])
        bulk = statements(eng)
        assert one_by_one == []  # the bulk read found every task: no query of one task
        named = [t for s in bulk.values() for x in json.loads(s)["items"] for t in x["detail"].get("tasks", [])]
        assert set(named) == set(tasks)  # the statements name every settled task (on the lines of its nodes)
        monkeypatch.setattr(views, "get_tasks", lambda state, ids: {})  # the old path: every task by get_task
        old = statements(eng)
        assert sorted(set(one_by_one)) == sorted(tasks)  # (the old path read each task by itself)
        assert bulk == old
    finally:
        eng.store.dispose()


def test_lines_that_name_their_tasks_derive_none(tmp_path):
    eng, _ = network(f"sqlite:///{tmp_path / 'cor.db'}", tmp_path / "keys", RULES_SLIM_NODE_LINES - 1)
    try:
        record = views.epoch_record(eng.state, 1)
        work = [i for i in record.items if i.stream in ("miner_work:node", "validator_work:node")]
        assert work and all("tasks" in i.detail for i in work)
        assert views.derived_task_ids(record, list(record.items)) == []
    finally:
        eng.store.dispose()


def test_derived_ids_are_the_work_accounts_tasks_in_order(tmp_path):
    eng, tasks = network(f"sqlite:///{tmp_path / 'cor.db'}", tmp_path / "keys", RULES_SLIM_NODE_LINES)
    try:
        record = views.epoch_record(eng.state, 1)
        miner = next(i for i in record.items if i.stream == "miner_work:node")
        mine = [i for i in record.items if i.address == miner.address]
        assert views.derived_task_ids(record, mine) == [int(t) for t in record.streams["miners"]["tasks"]]
        assert sorted(views.derived_task_ids(record, mine)) == sorted(tasks)
        stake = [i for i in record.items if not i.stream.startswith(("miner_work", "validator_work"))]
        assert views.derived_task_ids(record, stake) == []  # no work line: nothing to derive
        found = archive.get_tasks(eng.state, [*tasks, 10**9, -1])
        assert sorted(found) == sorted(tasks)  # an id found nowhere is absent
        assert all(found[t] == archive.get_task(eng.state, t) for t in tasks)
    finally:
        eng.store.dispose()


@pytest.mark.parametrize("rules", [None, 28])
def test_a_row_is_decoded_as_the_parsed_path_decodes_it(tmp_path, rules):
    eng, tasks = network(f"sqlite:///{tmp_path / 'cor.db'}", tmp_path / "keys", RULES_SLIM_NODE_LINES)
    try:
        t = archive.get_task(eng.state, tasks[0])
        _, _, raw = pruned_document("task", t.id, 7, encode_record(t), 28)
        if rules is None:  # layout 1: no rule version
            raw = raw.replace(',"rules":28', "")
        assert archive._decoded(Task, raw) == archive._decoded_parsed(Task, raw) == t
        spaced = json.dumps(json.loads(raw))  # another layout (spaces: as a server's json type might give it back)
        assert archive._ROW_HEAD.match(spaced) is None
        assert archive._decoded(Task, spaced) == t
    finally:
        eng.store.dispose()
