"""The dashboard in Debian's Chromium (Playwright): the overview's charts are drawn from its JSON with
real data, a node page and an address statement show the expected numbers, every page renders
without a script error, and the overview follows the network while it runs."""

from __future__ import annotations

import pytest

from cor_incentives.app import views
from cor_incentives.dashboard.filters import cor, ppb
from support.network import COR
from support.services import artifacts_dir

pytestmark = pytest.mark.browser

CHARTS_JS = """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map((canvas) => {
  const chart = Chart.getChart(canvas);
  return {name: canvas.dataset.chart, type: chart ? chart.config.type : null, labels: chart ? chart.data.labels.length : 0,
          datasets: chart ? chart.data.datasets.map((d) => ({label: d.label, points: d.data.length,
                                                             nonzero: d.data.filter((x) => x !== null && x !== 0).length,
                                                             sum: d.data.reduce((a, x) => a + (x || 0), 0)})) : [],
          width: canvas.clientWidth, height: canvas.clientHeight};
})"""
REFRESHED_JS = "() => window.corDashboard && window.corDashboard.refreshes >= 1"


def open_page(page, busy, path: str):
    response = page.goto(busy.base_url + path)
    assert response is not None and response.ok, path
    page.wait_for_function(REFRESHED_JS, timeout=15_000)
    return {c["name"]: c for c in page.evaluate(CHARTS_JS)}


def test_overview_charts_have_data_and_a_screenshot(busy, page):
    charts = open_page(page, busy, "/")
    assert set(charts) == {"supply", "pools", "apr", "streams"}
    for c in charts.values():
        assert c["datasets"] and c["width"] > 100 and c["height"] > 100, c
        assert any(d["nonzero"] for d in c["datasets"]), c
    epochs = busy.epochs_closed
    status = views.status(busy.engine.state)
    [supply] = charts["supply"]["datasets"]
    assert abs(supply["sum"] - float(status["supply"])) / float(status["supply"]) < 1e-6  # the doughnut adds up to the supply
    streams = {d["label"]: d for d in charts["streams"]["datasets"]}
    assert charts["streams"]["labels"] == epochs and all(d["points"] == epochs for d in streams.values())
    assert streams["miners"]["nonzero"] == epochs and streams["emission"]["nonzero"] == epochs
    apr = {d["label"]: d for d in charts["apr"]["datasets"]}
    assert apr["target APR %"]["nonzero"] == epochs and apr["effective APR %"]["nonzero"] == epochs
    assert page.locator("#kpi-nodes").text_content() == str(len(busy.engine.state.nodes))
    assert page.locator("#latest-epochs tbody tr").count() == epochs
    shot = artifacts_dir() / "dashboard-overview.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    assert page.errors == []


def test_node_page_shows_its_numbers(busy, page):
    s = busy.engine.state
    n = views.node(s, busy.miner, detail=True)
    charts = open_page(page, busy, f"/nodes/{busy.miner}")
    assert page.locator("#node-delegators").text_content() == str(n["delegators"]) == "2"
    assert page.locator("#node-reputation").text_content() == ppb(n["reputation_ppb"])
    assert page.locator("#node-stake").get_attribute("title") == f"{n['stake_total']} COR"
    assert page.locator("#delegations tbody tr").count() == 2
    [reputation] = charts["reputation"]["datasets"]
    assert reputation["points"] == busy.epochs_closed and reputation["nonzero"] == busy.epochs_closed
    assert charts["rewards"]["datasets"] and any(d["nonzero"] for d in charts["rewards"]["datasets"])
    open_page(page, busy, f"/nodes/{busy.slashed}")
    assert "jailed" in page.locator("#node-jail").text_content()
    assert page.locator("#slashes tbody tr:not(.slash-reason)").count() == 1 and "equivocation" in page.locator("#slashes").text_content()
    assert page.locator("#slashes tbody tr.slash-reason").count() == 1  # each slash is followed by its one-line reason
    page.locator("#slashes details summary").click()
    assert '"scope": "task:' in page.locator("#slashes details pre").text_content()
    assert page.errors == []


def test_address_statement_and_claim_proof(busy, page):
    s = busy.engine.state
    open_page(page, busy, f"/address/{busy.miner}")
    last = busy.epochs_closed - 1
    st = views.statement(s, busy.miner, last)
    proof = views.proof(s, busy.miner, last)
    section = page.locator(f"#epoch-{last}")
    assert section.locator(".st-total").text_content() == cor(st["total"])
    assert section.locator(".st-claimable").text_content() == cor(st["claimable"])
    assert section.locator("table.items tbody tr").count() == len(st["items"])
    assert proof["root"] in section.locator("table.proof").text_content()
    assert section.locator("table.proof td.mono div").count() == len(proof["proof"])
    assert page.locator("#balance-total").text_content() == cor(views.balance(s, busy.miner)["total"])
    assert page.errors == []


def test_every_page_renders_without_errors(busy, page):
    for path in ("/nodes", "/tasks", "/epochs", f"/epochs/{busy.epochs_closed - 1}", f"/tasks/{busy.settled}", "/governance", "/bounties"):
        charts = open_page(page, busy, path)
        for c in charts.values():
            assert c["datasets"] and any(d["nonzero"] for d in c["datasets"]), (path, c)
    assert page.errors == []


def test_address_search_goes_to_the_address(busy, page):
    open_page(page, busy, "/")
    page.fill("#address-search input", busy.keys["bob"].address.upper().replace("0X", "0x"))
    page.press("#address-search input", "Enter")
    page.wait_for_url(f"**/address/{busy.keys['bob'].address}")
    assert page.errors == []


def test_overview_updates_after_new_events(busy, page):
    """Runs last (the module's network changes): a new node and a transfer appear without a reload."""
    open_page(page, busy, "/")
    eng, keys = busy.engine, busy.keys
    eng.refresh()
    nodes, events = len(eng.state.nodes), eng.state.seq + 1
    assert page.locator("#kpi-nodes").text_content() == str(nodes)
    newcomer = keys["alice"]
    eng.submit_as(newcomer, "node.register", {"role": "validator", "self_bond": str(5_000 * COR), "models": []})
    page.wait_for_function(f"document.getElementById('kpi-nodes').textContent === '{nodes + 1}'", timeout=15_000)
    assert page.locator("#kpi-events").text_content() == str(events + 1)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    page.wait_for_function(f"document.querySelectorAll('#latest-epochs tbody tr').length === {busy.epochs_closed + 1}", timeout=15_000)
    streams = {c["name"]: c for c in page.evaluate(CHARTS_JS)}["streams"]
    assert streams["labels"] == busy.epochs_closed + 1
    assert page.errors == []
