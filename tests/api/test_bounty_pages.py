"""``GET /v1/bounties`` a page at a time, over real HTTP, on a network where rule 22 retired expired bounties to the
database: pages newest first across live and retired bounties, ``next_before_id`` to the end, ``after_id``, the 422s of
bad paging input, the client's ``all_bounties()``; the dashboard counts every bounty (a COUNT, no record read) and its
bounties page is bounded; a page reads at most ``limit + 1`` records."""

from __future__ import annotations

import httpx
import pytest

from cor_incentives.api import readviews
from cor_incentives.app import archive
from cor_incentives.client import CorClient
from cor_incentives.core.units import COR
from cor_incentives.dashboard import data
from support.network import make_network, sha

N_EXPIRING = 4  # bounties that expire and retire (two with entries, two without)
N_LIVE = 3


@pytest.fixture(scope="module")
def net(tmp_path_factory, api_helpers):
    """Bounties created alternately expiring and long-lived, so the retired ones sit between live ones; all the
    expiring ones expire and leave at an epoch close; one more live bounty after that, the newest."""
    tmp = tmp_path_factory.mktemp("bounty_pages")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=1, n_validators=1, params={"bounty_review_period_ticks": 0}, beacon=False)
    reviewers = [keys[n].address for n in ("carol", "modeldev", "faucet")]
    body = {"prize": str(10 * COR), "criteria": "page me", "winners": 1, "reviewers": reviewers}
    expiring, live = [], []
    for i in range(N_EXPIRING):
        expiring.append(eng.state.next_id)
        eng.submit_as(keys["alice"], "bounty.create", {**body, "deadline_tick": eng.state.tick + 2})
        if i < N_LIVE - 1:
            live.append(eng.state.next_id)
            eng.submit_as(keys["alice"], "bounty.create", {**body, "deadline_tick": eng.state.tick + 10_000})
    for bid in expiring[:2]:
        for n in ("bob", "dave"):
            eng.submit_as(keys[n], "bounty.submit", {"bounty": bid, "content_hash": sha(f"{n}{bid}")})
    eng.submit_as(keys["oracle"], "tick", {"ticks": 3})
    for bid in expiring:
        eng.submit_as(keys["bob"], "bounty.expire", {"bounty": bid})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    live.append(eng.state.next_id)
    eng.submit_as(keys["alice"], "bounty.create", {**body, "deadline_tick": eng.state.tick + 10_000})
    assert not set(expiring) & set(eng.state.bounties) and set(live) <= set(eng.state.bounties)  # rule 22 retired them
    server = api_helpers.start_server(url, tmp / "serve.log")
    yield eng, server, sorted(expiring + live, reverse=True), set(expiring)
    api_helpers.stop_server(server)
    eng.store.dispose()


def test_pages_go_newest_first_across_live_and_retired_bounties(net):
    eng, server, newest_first, retired = net
    with CorClient(server.base_url) as client:
        pages, before = [], None
        while True:
            page = client.bounties(limit=2, before_id=before)
            pages.append([b["id"] for b in page["bounties"]])
            assert page["next_before_id"] == (page["bounties"][-1]["id"] if page["next_before_id"] is not None else None)
            before = page["next_before_id"]
            if before is None:
                break
        assert pages == [newest_first[i : i + 2] for i in range(0, len(newest_first), 2)]
        assert any(set(p) & retired and set(p) - retired for p in pages)  # a page mixes retired and live bounties
        every = client.all_bounties(page=3)
        assert [b["id"] for b in every] == newest_first
        assert {b["id"] for b in every if b["status"] == "expired"} == retired
        for b in every:
            assert client.bounty(b["id"]) == b  # the list's record is the detail's, live or read back
        exact = client.bounties(limit=len(newest_first))
        assert [b["id"] for b in exact["bounties"]] == newest_first and exact["next_before_id"] is None  # no empty last page
        assert [b["id"] for b in client.bounties()["bounties"]] == newest_first  # default limit 100


def test_after_id_and_before_id_bound_the_page(net):
    _, server, newest_first, _ = net
    with CorClient(server.base_url) as client:
        lo, hi = newest_first[-2], newest_first[1]
        page = client.bounties(limit=100, after_id=lo, before_id=hi)
        assert [b["id"] for b in page["bounties"]] == [i for i in newest_first if lo < i < hi] and page["next_before_id"] is None
        page = client.bounties(limit=1, after_id=lo)
        assert [b["id"] for b in page["bounties"]] == newest_first[:1] and page["next_before_id"] == newest_first[0]
        assert client.bounties(after_id=newest_first[0])["bounties"] == []
        assert client.bounties(before_id=newest_first[-1]) == {"bounties": [], "next_before_id": None}
        assert [b["id"] for b in client.bounties(before_id=2**53 - 1)["bounties"]] == newest_first  # above every id


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-1",
        "limit=1001",
        "limit=100000000000000000000",
        "limit=ten",
        "after_id=-1",
        "before_id=x",
        "before_id=9007199254740992",
        "after_id=1.5",
    ],
)
def test_bad_paging_input_is_a_422_with_the_error_shape(net, query):
    r = httpx.get(f"{net[1].base_url}/v1/bounties?{query}")
    assert r.status_code == 422 and r.json()["error"] == "invalid_request", (query, r.text)


def test_the_dashboard_counts_retired_bounties_and_bounds_its_page(net, monkeypatch):
    eng, server, newest_first, retired = net
    overview = httpx.get(f"{server.base_url}/?format=json").json()
    assert overview["counts"]["bounties"] == len(newest_first) == archive.bounty_count(eng.state)
    assert archive.bounty_count(eng.state) == len(eng.state.bounties) + len(retired)
    page = httpx.get(f"{server.base_url}/bounties?format=json").json()
    assert page["total"] == len(newest_first) and [b["id"] for b in page["bounties"]] == newest_first
    monkeypatch.setattr(data, "MAX_BOUNTY_ROWS", 2)
    bounded = data.bounties(eng.state)
    assert bounded["total"] == len(newest_first) and [b["id"] for b in bounded["bounties"]] == newest_first[:2]

    def no_record_read(*_a, **_k):
        raise AssertionError("counting read a record")

    monkeypatch.setattr(archive.StoreHistory, "records_below", no_record_read)
    monkeypatch.setattr(archive.StoreHistory, "record", no_record_read)
    assert archive.bounty_count(eng.state) == len(newest_first)


def test_a_page_reads_at_most_limit_plus_one_records(net, monkeypatch):
    eng, _, newest_first, _ = net
    pulled: list[int] = []
    real = archive.newest_bounties

    def counting(*a, **k):
        for b in real(*a, **k):
            pulled.append(b.id)
            yield b

    monkeypatch.setattr(archive, "newest_bounties", counting)
    for limit in (1, 2, 3):
        pulled.clear()
        page, nxt = readviews.newest_bounties(eng.state, limit)
        assert [b.id for b in page] == newest_first[:limit] and nxt == newest_first[limit - 1]
        assert pulled == newest_first[: limit + 1]
