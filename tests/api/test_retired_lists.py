"""The lists that include what left the live state: on a network where closed tasks were pruned (``RULES_PRUNE``) and
nodes with nothing left retired (rule 23), ``GET /v1/tasks`` pages across live and pruned tasks with
``next_before_id`` (and the client follows it), and the dashboard counts the pruned tasks without reading them;
``cor node list --state``, ``GET /v1/nodes?state=`` and the dashboard's node list show the retired nodes (each key's newest
record, by address, a page at a time, read lazily), with the errors of bad input."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cor_incentives.api import readviews
from cor_incentives.api.app import create_app
from cor_incentives.api.service import ApiService
from cor_incentives.app import archive, chooser
from cor_incentives.cli.main import app
from cor_incentives.client import CorClient
from cor_incentives.core.units import COR
from cor_incentives.dashboard import data
from support.network import make_network
from support.scenario import PROMPTS, settle_honest_task, submit_task

RETIRING = {"miner3": 2_000, "miner4": 2_000, "validator2": 5_000, "router0": 1_000}  # name: the self-bond make_network gave it


class Net:
    def __init__(self, eng, keys, url, pruned_tasks, live_tasks):
        self.eng, self.keys, self.url = eng, keys, url
        self.pruned_tasks, self.live_tasks = pruned_tasks, live_tasks
        self.retired = sorted(keys[n].address for n in RETIRING if n != "router0")
        self.again = keys["router0"].address  # retired, then registered again: live


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """Three tasks settled in epoch 0 and pruned; four nodes unbond everything, withdraw and retire; router0 registers
    again; then one settled and one open task, live."""
    tmp = tmp_path_factory.mktemp("retired_lists")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=5, n_validators=3, beacon=False)
    pruned = [settle_honest_task(eng, keys, PROMPTS[i % len(PROMPTS)], with_garbage=False) for i in range(3)]
    eng.submit_as(keys["oracle"], "epoch.close", {})
    for name, bond in RETIRING.items():
        eng.submit_as(keys[name], "stake.unbond", {"amount": str(bond * COR)})
    for _ in range(eng.state.params.unbonding_period_epochs):
        eng.submit_as(keys["oracle"], "epoch.close", {})
    for name in RETIRING:
        eng.submit_as(keys[name], "stake.withdraw", {})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    assert not {keys[n].address for n in RETIRING} & set(eng.state.nodes)  # rule 23 retired them
    eng.submit_as(keys["router0"], "node.register", {"role": "router", "self_bond": str(1_000 * COR), "models": []})
    live = [settle_honest_task(eng, keys, PROMPTS[0], with_garbage=False), submit_task(eng, keys, PROMPTS[1])]
    assert not set(pruned) & set(eng.state.tasks) and set(live) <= set(eng.state.tasks) | set(eng.state.closed_tasks)  # (rule 27: a stub)
    yield Net(eng, keys, url, pruned, live)
    eng.store.dispose()


@pytest.fixture(scope="module")
def api(net):
    svc = ApiService.open(net.url)
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as client:
            yield client
    finally:
        svc.engine.store.dispose()


# --- GET /v1/tasks: next_before_id ------------------------------------------------------------


def test_task_pages_go_newest_first_across_live_and_pruned_tasks(net, api):
    newest_first = sorted(net.pruned_tasks + net.live_tasks, reverse=True)
    pages, before = [], None
    while True:
        page = api.get("/v1/tasks", params={"limit": 3} | ({"before_id": before} if before is not None else {})).json()
        pages.append([t["id"] for t in page["tasks"]])
        before = page["next_before_id"]
        assert before == (page["tasks"][-1]["id"] if before is not None else None) and len(pages) <= len(newest_first)  # it ends
        if before is None:
            break
    assert pages == [newest_first[i : i + 3] for i in range(0, len(newest_first), 3)]
    assert any(set(p) & set(net.pruned_tasks) and set(p) & set(net.live_tasks) for p in pages)  # a page mixes both
    exact = api.get("/v1/tasks", params={"limit": len(newest_first)}).json()
    assert [t["id"] for t in exact["tasks"]] == newest_first and exact["next_before_id"] is None  # no empty last page
    for t in exact["tasks"]:
        detail = api.get(f"/v1/tasks/{t['id']}").json()  # the list's record is the detail's, live or read back; the detail
        assert "fee" not in t and {k: v for k, v in detail.items() if k != "fee"} == t  # adds one task's fee breakdown


def test_next_before_id_follows_the_filters(net, api):
    settled = sorted([*net.pruned_tasks, net.live_tasks[0]], reverse=True)
    page = api.get("/v1/tasks", params={"state": "SETTLED", "limit": 1}).json()
    assert [t["id"] for t in page["tasks"]] == settled[:1] and page["next_before_id"] == settled[0]
    page = api.get("/v1/tasks", params={"state": "SETTLED", "limit": 3, "before_id": settled[0]}).json()
    assert [t["id"] for t in page["tasks"]] == settled[1:] and page["next_before_id"] is None  # the open task is newer
    page = api.get("/v1/tasks", params={"state": "open", "limit": 1}).json()
    assert [t["id"] for t in page["tasks"]] == net.live_tasks[1:] and page["next_before_id"] is None
    page = api.get("/v1/tasks", params={"after_id": settled[1], "limit": 2}).json()
    assert [t["id"] for t in page["tasks"]] == [*reversed(net.live_tasks)] and page["next_before_id"] is None
    assert api.get("/v1/tasks", params={"kind": "network"}).json() == {"tasks": [], "next_before_id": None}


def test_the_client_follows_next_before_id(net, api, monkeypatch):
    newest_first = sorted(net.pruned_tasks + net.live_tasks, reverse=True)
    with CorClient("http://testserver") as client:
        monkeypatch.setattr(client, "http", api)  # the app in process
        assert [t["id"] for t in client.all_tasks(page=2)] == newest_first
        assert [t["id"] for t in client.all_tasks(state="SETTLED", page=1)] == [i for i in newest_first if i != net.live_tasks[1]]
        assert [t["id"] for t in client.tasks(limit=2)] == newest_first[:2]  # tasks() still returns the list
        assert client.task_page(limit=2)["next_before_id"] == newest_first[1]
        monkeypatch.undo()  # the client closes its own


def test_a_task_page_views_limit_tasks_and_pulls_one_more(net, monkeypatch):
    newest_first = sorted(net.pruned_tasks + net.live_tasks, reverse=True)
    pulled: list[int] = []
    real = archive.newest_tasks

    def counting(*a, **k):
        for t in real(*a, **k):
            pulled.append(t.id)
            yield t

    monkeypatch.setattr(archive, "newest_tasks", counting)
    for limit in (1, 2, 3):
        pulled.clear()
        page = readviews.task_list(net.eng.state, None, None, None, limit, None)
        assert [t["id"] for t in page["tasks"]] == newest_first[:limit] and page["next_before_id"] == newest_first[limit - 1]
        assert pulled == newest_first[: limit + 1]


# --- the dashboard counts the pruned tasks -------------------------------------------------------


def test_the_dashboard_counts_pruned_tasks_without_reading_them(net, api, monkeypatch):
    s = net.eng.state
    total = len(net.pruned_tasks) + len(net.live_tasks)
    data._overview_cache["key"] = None
    counts = api.get("/?format=json").json()["counts"]["tasks"]
    assert (counts["total"], counts["pruned"], counts["open"]) == (total, len(net.pruned_tasks), 1)
    assert counts["SETTLED"] == 1  # by state: the live ones (a pruned task's record is not read)
    assert f'id="kpi-tasks">{total}<' in api.get("/").text
    assert f"{total} in all" in api.get("/tasks").text
    assert archive.task_count(s) == total == len(s.tasks) + len(s.closed_tasks) + len(net.pruned_tasks)  # (rule 27: the settled one a stub)

    def no_record_read(*_a, **_k):
        raise AssertionError("counting read a record")

    monkeypatch.setattr(archive.StoreHistory, "records_below", no_record_read)
    monkeypatch.setattr(archive.StoreHistory, "record", no_record_read)
    assert archive.task_count(s) == total and data.task_counts(s)["total"] == total


def test_the_dashboard_counts_retired_nodes_apart_from_live_ones(net, api, monkeypatch):
    s = net.eng.state
    data._overview_cache["key"] = None
    counts = api.get("/?format=json").json()["counts"]
    # four records retired (router0's first one among them: it registered again and is live)
    assert (counts["nodes"], counts["nodes_retired"]) == (len(s.nodes), len(RETIRING))
    assert net.again in s.nodes and not set(net.retired) & set(s.nodes)
    assert f'id="kpi-nodes-retired">{len(RETIRING)}<' in api.get("/").text

    def no_record_read(*_a, **_k):
        raise AssertionError("counting read a record")

    monkeypatch.setattr(archive.StoreHistory, "records_below", no_record_read)
    monkeypatch.setattr(archive.StoreHistory, "record", no_record_read)
    assert archive.retired_node_count(s) == len(RETIRING)


# --- cor node list / GET /v1/nodes / the dashboard: --state retired|all -----------------------------


def test_the_api_lists_retired_nodes_a_page_at_a_time(net, api):
    s = net.eng.state
    everyone = sorted([*s.nodes, *net.retired])
    default = api.get("/v1/nodes").json()
    assert [n["id"] for n in default["nodes"]] == sorted(s.nodes) and default["next_after_id"] is None  # unchanged: live only
    assert default["state"] == "live" and net.again in [n["id"] for n in default["nodes"]]
    retired = api.get("/v1/nodes", params={"state": "retired"}).json()
    assert [n["id"] for n in retired["nodes"]] == net.retired and retired["next_after_id"] is None  # router0 is live again
    assert {n["state"] for n in retired["nodes"]} == {"retired"} and {n["stake_total"] for n in retired["nodes"]} == {"0"}
    for n in retired["nodes"]:
        detail = api.get(f"/v1/nodes/{n['id']}").json()
        assert {k: detail[k] for k in n} == n  # the list's row is the node page's
    for state, expected in (("retired", net.retired), ("all", everyone)):
        pages, after = [], None
        while True:
            page = api.get("/v1/nodes", params={"state": state, "limit": 2} | ({"after_id": after} if after else {})).json()
            pages.append([n["id"] for n in page["nodes"]])
            after = page["next_after_id"]
            assert after == (page["nodes"][-1]["id"] if after is not None else None) and len(pages) <= len(expected)  # it ends
            if after is None:
                break
        assert pages == [expected[i : i + 2] for i in range(0, len(expected), 2)], state
    every = api.get("/v1/nodes", params={"state": "all", "limit": len(everyone)}).json()
    assert [n["id"] for n in every["nodes"]] == everyone and every["next_after_id"] is None  # no empty last page
    assert {n["id"]: n["state"] for n in every["nodes"] if n["state"] == "retired"} == dict.fromkeys(net.retired, "retired")
    miners = api.get("/v1/nodes", params={"state": "retired", "role": "miner"}).json()["nodes"]
    assert [n["id"] for n in miners] == sorted(net.keys[m].address for m in ("miner3", "miner4"))
    upper = net.retired[0].upper().replace("0X", "0x")
    assert [n["id"] for n in api.get("/v1/nodes", params={"state": "retired", "after_id": upper}).json()["nodes"]] == net.retired[1:]
    live_page = api.get("/v1/nodes", params={"limit": 2}).json()  # a limit pages the live nodes too
    assert [n["id"] for n in live_page["nodes"]] == sorted(s.nodes)[:2] and live_page["next_after_id"] == sorted(s.nodes)[1]


@pytest.mark.parametrize(
    "query",
    [
        "state=gone",
        "state=",
        "limit=0",
        "limit=-1",
        "limit=1001",
        "limit=ten&state=all",
        "after_id=0x12",
        "after_id=node&state=retired",
        "state=retired&window=0",
    ],
)
def test_bad_node_list_input_is_a_422_with_the_error_shape(api, query):
    r = api.get(f"/v1/nodes?{query}")
    assert r.status_code == 422 and r.json()["error"] == "invalid_request", (query, r.text)


@pytest.mark.parametrize("query", ["state=retired&sort=stake", "state=all&sort=yield", "limit=5&sort=consensus"])
def test_a_page_takes_no_sort_400(api, query):
    r = api.get(f"/v1/nodes?{query}")
    assert r.status_code == 400 and r.json()["error"] == "invalid_sort" and "address order" in r.json()["message"], r.text


def test_the_cli_lists_retired_nodes(net, api):
    runner = CliRunner()
    base = ["node", "list", "--db", net.url]
    out = runner.invoke(app, [*base, "--state", "retired", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == api.get("/v1/nodes", params={"state": "retired"}).json()["nodes"]  # the API's rows
    out = runner.invoke(app, [*base, "--json"])
    assert [n["id"] for n in json.loads(out.output)] == sorted(net.eng.state.nodes)  # default unchanged
    out = runner.invoke(app, [*base, "--state", "all", "--limit", "2", "--after", net.retired[0], "--json"])
    everyone = sorted([*net.eng.state.nodes, *net.retired])
    start = everyone.index(net.retired[0]) + 1
    assert [n["id"] for n in json.loads(out.output)] == everyone[start : start + 2]
    table = runner.invoke(app, [*base, "--state", "retired", "--limit", "2"])
    assert table.exit_code == 0 and table.output.count("retired") >= 2, table.output
    assert f"--after {net.retired[1]}" in table.output  # the next page's hint (stderr, mixed in by the runner)
    for bad, code in (
        (["--state", "gone"], "invalid_node_state"),
        (["--state", "retired", "--sort", "stake"], "invalid_sort"),
        (["--after", "0x12", "--state", "all"], "invalid_address"),
    ):
        r = runner.invoke(app, [*base, *bad, "--json"])
        assert r.exit_code == 2 and json.loads(r.output)["error"] == code, (bad, r.output)
    for bad in (["--limit", "0"], ["--limit", "-1"], ["--limit", "1001"], ["--limit", "ten"]):
        r = runner.invoke(app, [*base, "--state", "retired", *bad])
        assert r.exit_code == 2 and "Traceback" not in r.output and "--limit" in r.output, (bad, r.output)


def test_the_dashboard_lists_retired_nodes(net, api):
    page = api.get("/nodes", params={"state": "retired"})
    assert page.status_code == 200 and all(a in page.text for a in net.retired) and 'id="node-states"' in page.text
    doc = api.get("/nodes", params={"state": "retired", "format": "json"}).json()
    assert [n["id"] for n in doc["nodes"]] == net.retired and doc["total"] is None and doc["next_after_id"] is None
    live = api.get("/nodes", params={"format": "json"}).json()
    assert [n["id"] for n in live["nodes"]] == sorted(net.eng.state.nodes) and live["total"] == len(net.eng.state.nodes)
    after = api.get("/nodes", params={"state": "all", "after": net.retired[0], "format": "json"}).json()
    assert [n["id"] for n in after["nodes"]] == [a for a in sorted([*net.eng.state.nodes, *net.retired]) if a > net.retired[0]]
    assert api.get("/nodes", params={"state": "gone"}).status_code == 422


def test_a_node_page_reads_the_retired_records_lazily(net, monkeypatch):
    reads: list[int] = []
    real = archive.StoreHistory.retired_nodes_after

    def counting(self, after=None, page=200):
        reads.append(page)
        yield from real(self, after, page)

    monkeypatch.setattr(archive.StoreHistory, "retired_nodes_after", counting)
    page = chooser.node_table(net.eng.state, which="retired", limit=1)
    assert [n["id"] for n in page["nodes"]] == net.retired[:1] and page["next_after_id"] == net.retired[0]
    assert reads == [2]  # rows asked a page of limit + 1
    # the database read a page at a time: pages of 1 row still give each key's newest record, in address order
    h = net.eng.state.history
    assert [n.id for n in real(h, None, 1)] == [n.id for n in real(h, None, 200)] == sorted([*net.retired, net.again])
