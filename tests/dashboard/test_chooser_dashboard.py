"""The dashboard for delegators: the sortable node chooser, a node's record, offence counters and net of
slashes, warnings on /address with its CSV, the estimator, governance quorum, /docs offline (vendored
Swagger UI), and a layout without horizontal overflow at 390 px and 1400 px (Chromium via Playwright)."""

from __future__ import annotations

import csv
import html
import io
import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cor_incentives.app import chooser, views
from cor_incentives.dashboard import data
from cor_incentives.dashboard.filters import bps, cor, cor_short, share
from support.network import COR

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "src/cor_incentives/dashboard/static/swagger-ui"
WIDTHS = (390, 1400)


@pytest.fixture(scope="module")
def http(busy):
    with httpx.Client(base_url=busy.base_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def jailed_delegator(busy):
    """dave delegates to the jailed miner (a real signed command): the delegator a warning is for."""
    busy.engine.submit_as(busy.keys["dave"], "stake.delegate", {"node": busy.slashed, "amount": str(10 * COR)})
    return busy.keys["dave"].address


def rows(page: str, table_id: str) -> list[str]:
    body = page.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0]
    return body.split("<tr")[2:]


def test_the_node_chooser_sorts_and_warns(busy, http, jailed_delegator):
    s = busy.engine.state
    records = chooser.node_records(s)
    for key, field in (("yield", "data-yield"), ("stake", "data-stake"), ("consensus", "data-consensus")):
        page = http.get("/nodes", params={"sort": key}).text
        values = [r.split(f'{field}="', 1)[1].split('"', 1)[0] for r in rows(page, "nodes-table")]
        numbers = [int(v) for v in values if v]
        assert len(values) == len(s.nodes) and numbers == sorted(numbers, reverse=True), key
        assert all(not v for v in values[len(numbers) :])  # nodes without a consensus rate last
        assert f'id="sort-{key}" href="/nodes?sort={key}"' in page.replace('class="sort on" ', "").replace('class="sort" ', "")
    page = http.get("/nodes").text
    jailed_row = next(r for r in rows(page, "nodes-table") if f'data-node="{busy.slashed}"' in r)
    assert "⚠ jailed" in jailed_row and bps(records[busy.slashed]["delegator_apr_bps"]) in jailed_row
    assert http.get("/nodes", params={"sort": "fame"}).status_code == 422
    assert http.get("/nodes", params={"sort": "yield", "format": "json"}).json()["nodes"][0]["delegator_yield_ppb"] == max(
        r["delegator_yield_ppb"] for r in records.values()
    )


def test_a_node_page_shows_its_record_offence_counters_and_net_of_slashes(busy, http):
    s = busy.engine.state
    page = http.get(f"/nodes/{busy.slashed}").text
    d = data.node_detail(s, busy.slashed)
    earned = sum(int(r["total_units"]) for r in d["rewards"])
    slashed = sum(x.total for x in s.slashes if x.node == busy.slashed)
    assert slashed > 0 and d["net"]["net_units"] == str(earned - slashed)
    assert f'title="{d["net"]["net"]} COR">{cor_short(d["net"]["net"])}' in page
    assert f'id="node-net-slashed">{cor_short(d["net"]["slashed"])}<' in page
    assert f'id="node-yield" title="{d["node"]["delegator_yield_ppb"]} ppb per epoch">{bps(d["node"]["delegator_apr_bps"])}<' in page
    offences = html.unescape(page.split('id="offences"', 1)[1].split("</table>", 1)[0])  # the text as shown ("node's" is escaped)
    for o in chooser.offence_counters(s, busy.slashed):
        assert o["text"] in offences
    assert 'id="node-warnings"' in page and "jailed" in page.split('id="node-warnings"', 1)[1][:300]
    [slash] = [x for x in s.slashes if x.node == busy.slashed]
    assert f'id="slash-{slash.id}"' in page


def test_the_address_page_warns_a_delegator_of_a_jailed_node_and_its_csv_sums_to_the_statements(busy, http, jailed_delegator):
    page = http.get(f"/address/{jailed_delegator}").text
    assert 'id="address-warnings"' in page and f"node {busy.slashed} is jailed" in page
    assert f'id="download-csv" href="/address/{jailed_delegator}/rewards.csv"' in page
    r = http.get(f"/address/{busy.miner}/rewards.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    s = busy.engine.state
    assert lines
    for e in {int(x["epoch"]) for x in lines}:
        assert sum(int(x["amount_units"]) for x in lines if int(x["epoch"]) == e) == int(views.statement(s, busy.miner, e)["total_units"])
        assert sum(Decimal(x["amount"]) for x in lines if int(x["epoch"]) == e) == Decimal(views.statement(s, busy.miner, e)["total"])
    assert 'id="address-warnings"' not in http.get(f"/address/{busy.miner}").text
    assert http.get("/address/0x12/rewards.csv").status_code == 422


def test_the_slashed_operator_s_statement_links_its_slash(busy, http):
    s = busy.engine.state
    [slash] = [x for x in s.slashes if x.node == busy.slashed]
    page = http.get(f"/address/{busy.slashed}").text
    assert f'href="/nodes/{busy.slashed}#slash-{slash.id}"' in page and f'href="/v1/slashes/{slash.id}"' in page
    assert http.get(f"/v1/slashes/{slash.id}").json()["evidence_hash"] == slash.evidence_hash


def test_the_estimator_page_shows_the_same_estimate_as_the_cli(busy, http):
    s = busy.engine.state
    node = busy.miner
    page = http.get("/estimate", params={"node": node, "amount": "1000"}).text
    est = chooser.estimate_delegation(s, node, 1000 * COR)
    assert f'id="estimate-total">{cor(est["per_epoch"]["total"])} COR<' in page
    for a in est["assumptions"]:
        assert a.replace("'", "&#39;") in page
    page = http.get("/estimate", params={"role": "validator", "self_bond": "6000"}).text
    est = chooser.estimate_operator(s, "validator", 6000 * COR)
    assert f'id="estimate-total">{cor(est["per_epoch"]["total"])} COR<' in page and f'id="estimate-apr">{bps(est["apr_bps"])}<' in page
    page = http.get("/estimate", params={"role": "validator", "self_bond": "1"}).text
    assert 'id="estimate-error"' in page and "below_min_self_bond" in page and "1 COR" in page
    assert 'id="estimate-result"' not in http.get("/estimate").text
    assert http.get("/estimate", params={"amount": "abc", "node": node, "format": "json"}).json()["error"]["error"] == "invalid_amount"


def test_governance_shows_quorum_progress_and_the_reason(busy, http):
    s = busy.engine.state
    page = http.get("/governance").text
    prop = s.proposals[busy.proposal]
    q = data.quorum(s, prop)
    assert q["reason"] and q["reason"] in page and q["met"]
    turnout = sum(prop.tally.values())
    assert q["turnout_bps"] == turnout * 10_000 // prop.total_power and f'class="quorum-progress">{bps(q["turnout_bps"])}<' in page
    assert q["progress_bps"] == 10_000


def test_amounts_and_shares_never_read_zero_or_in_scientific_notation(busy, http):
    assert cor_short("0.000000000000000003") == "0.000000000000000003" and cor_short("-0.00001234567") == "-0.0000123456"
    assert share(43_063) == "0.0043%" and share(0) == "< 0.0000001%" and share(0, False) == "0%" and share(123_456_789) == "12.34%"
    s = busy.engine.state
    page = http.get("/").text
    status = views.status(s)
    assert int(status["bonded_units"]) > 0 and f'id="kpi-bonded-ratio">{share(status["bonded_ratio_ppb"])}<' in page
    assert "0.00%</span>" not in page.split('id="kpi-bonded-ratio"', 1)[1][:40]


def test_docs_use_the_vendored_swagger_ui_pinned_in_package_json(http):
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert (
        lock["packages"]["node_modules/swagger-ui-dist"]["version"]
        == json.loads((ROOT / "package.json").read_text())["devDependencies"]["swagger-ui-dist"]
    )
    dist = ROOT / "node_modules/swagger-ui-dist"
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"):
        assert (VENDORED / name).read_bytes() == (dist / name).read_bytes(), name
    page = http.get("/docs").text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page and "/static/swagger-ui/swagger-ui.css" in page and "cdn" not in page.lower()
    assert http.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200


PAGES = ("/", "/nodes", "/nodes?sort=yield", "/tasks", "/epochs", "/governance", "/bounties", "/estimate?node={miner}&amount=1000")


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_wider_than_the_screen(busy, browser, width, jailed_delegator):
    context = browser.new_context(viewport={"width": width, "height": 860}, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    paths = [
        *(p.format(miner=busy.miner) for p in PAGES),
        f"/nodes/{busy.miner}",
        f"/nodes/{busy.slashed}",
        f"/tasks/{busy.settled}",
        f"/epochs/{busy.epochs_closed - 1}",
        f"/address/{busy.miner}",
        f"/address/{jailed_delegator}",
    ]
    try:
        for path in paths:
            assert page.goto(busy.base_url + path).ok, path
            page.wait_for_load_state("networkidle")
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= width, (path, width, scroll)
        assert errors == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_docs_render_their_operations_offline(busy, browser, width):
    """Every request that does not go to the server itself is refused: Swagger UI must come from the server."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(busy.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    try:
        assert page.goto(busy.base_url + "/docs").ok
        page.wait_for_selector(".opblock", timeout=30_000)
        ops = page.locator(".opblock").count()
        paths = httpx.get(busy.base_url + "/openapi.json", timeout=30).json()["paths"]
        assert ops >= sum(len(v) for v in paths.values()) > 20
        assert page.locator(".opblock-summary-path", has_text="/v1/estimate").count() == 1
        assert outside == []
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    finally:
        context.close()


@pytest.mark.browser
def test_the_node_chooser_sorts_by_clicking_a_column(busy, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(busy.base_url + "/nodes")
        for key, attr in (("yield", "data-yield"), ("stake", "data-stake")):
            page.click(f"#sort-{key}")
            page.wait_for_url(f"**/nodes?sort={key}")
            values = page.eval_on_selector_all(
                f"#nodes-table tbody tr[{attr}]", f"rows => rows.map(r => BigInt(r.getAttribute('{attr}')).toString())"
            )
            assert [int(v) for v in values] == sorted((int(v) for v in values), reverse=True) and len(values) == len(busy.engine.state.nodes)
            assert page.locator(f"#sort-{key}.on").count() == 1
    finally:
        context.close()
