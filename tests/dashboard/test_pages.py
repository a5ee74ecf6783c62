"""The dashboard's pages over real HTTP (no browser): every page renders, shows the state's numbers,
links the others, and is also served as the JSON it is built from; errors and the vendored library."""

from __future__ import annotations

import re

import httpx
import pytest
from markupsafe import escape

from cor_incentives.app import views
from cor_incentives.app.archive import epoch_record, get_task, task_count
from cor_incentives.dashboard import data
from cor_incentives.dashboard.filters import cor, cor_compact, cor_short, ppb

PAGES = ("/", "/nodes", "/tasks", "/epochs", "/governance", "/bounties")


@pytest.fixture(scope="module")
def http(busy):
    with httpx.Client(base_url=busy.base_url, timeout=30) as c:
        yield c


def html(http, path: str) -> str:
    r = http.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), (path, r.status_code, r.text[:500])
    return r.text


def test_every_page_renders_and_links_the_others(busy, http):
    s = busy.engine.state
    paths = [
        *PAGES,
        f"/nodes/{busy.miner}",
        f"/nodes/{busy.slashed}",
        f"/tasks/{busy.settled}",
        f"/tasks/{busy.open_task}",
        "/epochs/0",
        f"/epochs/{busy.epochs_closed - 1}",
        f"/address/{busy.miner}",
        f"/address/{busy.keys['bob'].address}",
        "/nodes?role=validator",
        "/tasks?state=open",
        "/tasks?kind=user",
    ]
    for path in paths:
        page = html(http, path)
        for link in PAGES[1:]:
            assert f'href="{link}"' in page, (path, link)
        assert '<script src="/static/chart.umd.min.js">' in page and "?format=json" in page
    assert len(s.epochs) == busy.epochs_closed


def test_each_page_is_also_its_json(busy, http):
    s = busy.engine.state
    cases = {
        "/": data.overview(s),
        f"/nodes/{busy.miner}": data.node_detail(s, busy.miner),
        "/epochs/1": data.epoch_detail(s, 1),
        f"/tasks/{busy.settled}": data.task_detail(s, busy.settled),
        f"/address/{busy.miner}": data.address_detail(s, busy.miner),
        "/governance": data.governance(s),
        "/bounties": data.bounties(s),
        "/epochs": data.epoch_list(s),
        "/nodes": data.node_list(s),
        "/tasks": data.task_list(s),
    }
    for path, expected in cases.items():
        r = http.get(path, params={"format": "json"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", path
        assert r.json() == httpx.Response(200, json=expected).json(), path


def test_overview_numbers(busy, http):
    s = busy.engine.state
    page = html(http, "/")
    status = views.status(s)
    assert f'id="kpi-nodes">{len(s.nodes)}<' in page and f'id="kpi-tasks">{task_count(s)}<' in page and task_count(s) > len(s.tasks)
    assert f'id="kpi-epoch">{s.epoch}<' in page and f'id="kpi-events">{s.seq + 1}<' in page
    assert cor_compact(status["supply"]) == "1.00B" and ">1.00B<" in page
    for e in range(busy.epochs_closed):
        assert f'href="/epochs/{e}"' in page
    series = data.overview(s)["series"]
    assert series["epochs"] == list(range(busy.epochs_closed))
    assert all(v > 0 for v in series["target_apr_bps"]) and all(v > 0 for v in series["effective_apr_bps"])
    assert all(float(x) > 0 for x in series["paid"]["miners"]) and all(float(x) > 0 for x in series["emission"])


def test_node_page_numbers(busy, http):
    s = busy.engine.state
    n = views.node(s, busy.miner, detail=True)
    page = html(http, f"/nodes/{busy.miner}")
    assert f'id="node-delegators">{n["delegators"]}<' in page and n["delegators"] == 2
    assert f'id="node-reputation" data-bind="node.reputation_ppb" data-fmt="ppb">{ppb(n["reputation_ppb"])}<' in page
    assert cor_compact(n["stake_total"]) in page and cor_short(n["self_bond"]) in page
    for who, amount in n["delegations"].items():
        assert f'href="/address/{who}"' in page and cor_short(amount) in page
    history = data.node_detail(s, busy.miner)["reputation_history"]
    assert [h["epoch"] for h in history] == list(range(busy.epochs_closed))
    positions = page.split('id="positions"', 1)[1].split("</table>", 1)[0]
    assert n["positions"][0]["kind"] == "self_bond" and set(n["delegations"]) <= {p["address"] for p in n["positions"]}
    for p in n["positions"]:
        assert f'href="/address/{p["address"]}"' in positions and p["stake_ticks_units"] in positions
    assert sum(int(p["stake_ticks_units"]) for p in n["positions"]) == int(n["stake_ticks_units"])
    jailed = html(http, f"/nodes/{busy.slashed}")
    assert "equivocation" in jailed and "jailed" in jailed and f'"scope": "task:{busy.settled}:precommit"' in jailed.replace("&#34;", '"')
    [reason] = [x["reason"] for x in views.node(s, busy.slashed, detail=True)["slashes"]]
    assert reason.startswith(f"equivocation: it signed two different statements for one scope (task:{busy.settled}:precommit)")
    assert str(escape(reason)) in jailed


def test_task_page_shows_phase_distances_agreement_and_payments(busy, http):
    s = busy.engine.state
    t = views.task(s, get_task(s, busy.settled))  # live or pruned (core/prune.py)
    page = html(http, f"/tasks/{busy.settled}")
    assert re.search(r'class="step now">SETTLED<', page)
    for m in t["miners"]:
        assert ppb(m["poi_distance_ppb"]) in page and ppb(m["quality_ppb"]) in page and cor(m["paid"]) in page
    assert "3/3 reported" in page and cor(t["charged"]) in page and cor(t["refunded"]) in page
    open_page = html(http, f"/tasks/{busy.open_task}")
    assert re.search(r'class="step now">PREPARED<', open_page)


def test_address_page_statement_and_proof(busy, http):
    s = busy.engine.state
    page = html(http, f"/address/{busy.miner}")
    for e in range(busy.epochs_closed):
        st = views.statement(s, busy.miner, e)
        assert f'id="epoch-{e}"' in page and cor(st["total"]) in page
        if busy.miner in epoch_record(s, e).leaves:
            proof = views.proof(s, busy.miner, e)
            assert proof["root"] in page and all(h in page for h in proof["proof"])
    assert "node_reward × stake_ticks // node_stake_ticks" in page  # the formula of a staker's share is on its line


def test_governance_and_bounties_pages(busy, http):
    page = html(http, "/governance")
    assert "Longer unbonding" in page and "unbonding_period_epochs" in page and ("EXECUTED" in page or "PASSED" in page)
    assert "Parameter history" in page
    bounties = html(http, "/bounties")
    assert "Bounties and challenges" in bounties
    if busy.bounty is not None:
        assert "Best PoUW prompt set" in bounties


def test_page_errors(busy, http):
    r = http.get("/epochs/999")
    assert r.status_code == 404 and "epoch_not_found" in r.text and r.headers["content-type"].startswith("text/html")
    r = http.get("/epochs/999", params={"format": "json"})
    assert r.status_code == 404 and r.json()["error"] == "epoch_not_found"
    assert http.get("/nodes/" + "0x" + "12" * 20).status_code == 404
    assert http.get("/tasks/99999").status_code == 404
    for bad in ("/nodes/0x12", "/tasks/x", "/?format=xml", "/tasks?state=DONE", "/nodes?role=king"):
        r = http.get(bad)
        assert r.status_code == 422 and r.json()["error"] == "invalid_request", bad


def test_vendored_chart_library_and_schema(busy, http):
    r = http.get("/static/chart.umd.min.js")
    assert r.status_code == 200 and r.text.startswith("/*!\n * Chart.js v4.") and len(r.content) > 100_000
    assert "MIT" in http.get("/static/chart.js.LICENSE.md").text
    assert http.get("/static/dashboard.js").status_code == 200 and http.get("/static/dashboard.css").status_code == 200
    assert http.get("/static/nothing.js").status_code == 404
    paths = http.get("/openapi.json").json()["paths"]
    assert "/v1/tasks" in paths and not any(p == "/" or p.startswith(("/nodes", "/address", "/static")) for p in paths)


def test_task_page_says_an_unopened_canary_judged_nobody_out_of_consensus(busy, http):
    """Rule 36: a user task whose canary commitment the oracle never opens settles as ``unopened``; its page says so and
    why its out-of-consensus miner was not slashed. (Last in this module: it adds a task to the shared network.)"""
    from api.network_activity import submit_task
    from cor_incentives.core.validation import canary_commitment
    from dashboard.conftest import settle_scored

    eng, keys = busy.engine, busy.keys
    tid = submit_task(eng, keys)
    task = eng.state.tasks[tid]
    eng.submit_as(keys["oracle"], "task.canary_commit", {"task": tid, "canary": canary_commitment(task.prompt_hash, None, "d1")})
    settle_scored(eng, keys, tid, 2)  # step 2: its last miner answers garbage, out of consensus
    task = eng.state.tasks[tid]
    assert task.state == "AUDITING"
    slashes = len(eng.state.slashes)
    eng.submit_as(keys["oracle"], "tick", {"ticks": eng.state.params.canary_open_deadline_ticks})  # never opened
    t = views.task(eng.state, get_task(eng.state, tid))
    assert t["state"] == "SETTLED" and t["canary"] == "unopened"
    assert any(m["revealed"] and not m["in_consensus"] for m in t["miners"]) and len(eng.state.slashes) == slashes
    page = html(http, f"/tasks/{tid}")
    assert "Canary: unopened — the oracle did not open its commitment in time" in page and "(rule 36)" in page
