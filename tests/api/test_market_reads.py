"""The reads node agents and the dashboard use, over real HTTP against a network with activity:
tasks (list filters, one task), blobs, models, quotes, sessions, statements, proofs, proposals,
parameters and bounties; their 404s and the 422s of bad query parameters."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from api.network_activity import OUTPUTS, PROMPT, QUALITY_PPB, bounties_enabled, build
from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
from cor_incentives.client import ApiError, CorClient
from cor_incentives.core.merkle import verify_proof
from cor_incentives.core.units import COR

MISSING_ADDRESS = "0x" + "77" * 20


@pytest.fixture(scope="module")
def net(tmp_path_factory, api_helpers):
    d = tmp_path_factory.mktemp("activity")
    activity = build(f"sqlite:///{d / 'cor.db'}", d / "keys")
    server = api_helpers.start_server(f"sqlite:///{d / 'cor.db'}", d / "serve.log")
    activity.server = server
    activity.url = f"sqlite:///{d / 'cor.db'}"
    yield activity
    api_helpers.stop_server(server)


@pytest.fixture
def client(net):
    with CorClient(net.server.base_url) as c:
        yield c


def error_of(call) -> tuple[str, int]:
    with pytest.raises(ApiError) as err:
        call()
    return err.value.code, err.value.status


# --- tasks -----------------------------------------------------------------------------------


def test_tasks_newest_first_with_filters(net, client):
    settled = [*reversed(net.later), net.settled]  # newest first
    everything = client.tasks()
    assert [t["id"] for t in everything] == [net.open_task, *settled]
    assert [t["id"] for t in client.tasks(state="SETTLED")] == settled
    assert [t["id"] for t in client.tasks(state="open")] == [net.open_task]
    assert client.tasks(kind="network") == [] and len(client.tasks(kind="user")) == 2 + len(net.later)
    assert [t["id"] for t in client.tasks(limit=1)] == [net.open_task]
    assert [t["id"] for t in client.tasks(after_id=net.later[-1])] == [net.open_task]
    assert [t["id"] for t in client.tasks(before_id=net.open_task)] == settled
    assert client.tasks(after_id=net.later[-1], before_id=net.open_task) == []


def test_tasks_assigned_to_a_miner_or_a_validator(net, client):
    open_task = client.task(net.open_task)
    miner, validator = open_task["miners"][0]["miner"], client.task(net.settled)["validators"][0]["validator"]
    mine = client.tasks(state="open", assigned=miner.upper().replace("0X", "0x"))
    assert [t["id"] for t in mine] == [net.open_task]
    assert net.settled in [t["id"] for t in client.tasks(assigned=validator)]
    assert client.tasks(assigned=MISSING_ADDRESS) == []


def test_one_task_has_its_phase_distances_quality_agreement_and_payments(net, client):
    t = client.task(net.settled)
    assert t["state"] == "SETTLED" and t["model"] == BUNDLED_MODEL_ID and t["session"] == net.session
    assert t["prompt_hash"] == "0x" + hashlib.sha256(PROMPT.encode()).hexdigest()
    assert sorted(m["poi_distance_ppb"] for m in t["miners"]) == [40_000_000, 55_000_000, 70_000_000]
    assert all(m["in_consensus"] and m["paid"] != "0" for m in t["miners"])
    assert all(v["reported"] and v["agreement_ppb"] == 10**9 for v in t["validators"])
    assert int(t["charged_units"]) + int(t["refunded_units"]) == int(t["escrowed_units"])
    o = client.task(net.open_task)
    assert o["state"] == "PREPARED" and o["deadline_tick"] is not None and o["closed_tick"] is None


def test_task_errors(net, client):
    assert error_of(lambda: client.task(10**9)) == ("task_not_found", 404)
    base = net.server.base_url
    for query in ("state=DONE", "kind=robot", "limit=0", "limit=1001", "after_id=-1", "before_id=x", "assigned=0x12", "limit=ten"):
        r = httpx.get(f"{base}/v1/tasks?{query}")
        assert r.status_code == 422 and r.json()["error"] == "invalid_request", (query, r.text)
    r = httpx.get(f"{base}/v1/tasks/abc")
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


# --- blobs -----------------------------------------------------------------------------------


def test_blobs_round_trip_content_addressed(net, client):
    data = b"\x00\x01 an output \xff"
    h = client.put_blob(data)
    assert h == "0x" + hashlib.sha256(data).hexdigest()
    assert client.put_blob(data) == h  # idempotent
    assert client.get_blob(h) == data and client.get_blob(h.upper().replace("0X", "0x")) == data
    # what the miners revealed is there too, by the hash in the task
    revealed = {client.get_blob(m["output_hash"]).decode() for m in client.task(net.settled)["miners"]}
    assert revealed == set(OUTPUTS)
    r = httpx.put(f"{net.server.base_url}/v1/blobs", content=b"abc", headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and r.json() == {"hash": "0x" + hashlib.sha256(b"abc").hexdigest(), "size": 3}


def test_blob_errors(net, client):
    base = net.server.base_url
    assert error_of(lambda: client.get_blob("0x" + "ab" * 32)) == ("blob_not_found", 404)
    r = httpx.get(f"{base}/v1/blobs/0x" + "ab" * 32)
    assert r.status_code == 404 and r.headers["content-type"] == "application/json" and r.json()["error"] == "blob_not_found"
    assert httpx.get(f"{base}/v1/blobs/0x1234").status_code == 422
    assert error_of(lambda: client.put_blob(b"")) == ("empty_blob", 400)
    limit = 256 * 1024
    assert client.put_blob(b"x" * limit).startswith("0x")
    assert error_of(lambda: client.put_blob(b"x" * (limit + 1))) == ("blob_too_large", 413)
    r = httpx.put(f"{base}/v1/blobs", content=b"x" * (600 * 1024))  # above the server's body limit: refused before it is read
    assert r.status_code == 413 and r.json()["error"] == "request_too_large"


# --- market ----------------------------------------------------------------------------------


def test_models_quote_and_session(net, client):
    [m] = client.models()
    assert m["id"] == BUNDLED_MODEL_ID and m["tier"] == "tiny" and m["owner"] == net.keys["modeldev"].address
    q = client.quote(BUNDLED_MODEL_ID, 14, 48)
    assert q["redundancy"] == 3 and q["total"] == client.task(net.open_task)["escrowed"]  # escrow = the quote at max_output_tokens (same epoch)
    q5 = client.quote(BUNDLED_MODEL_ID, 14, 48, redundancy=5)
    assert q5["redundancy"] == 5 and int(q5["total_units"]) > int(q["total_units"])
    s = client.session(net.session)
    assert s["owner"] == net.keys["alice"].address and s["open"] and s["open_tasks"] == 1
    assert s["deposit_units"] == str(int(s["deposit_units"])) and int(s["deposit_units"]) < 50 * COR


def test_market_errors(net, client):
    base = net.server.base_url
    assert error_of(lambda: client.quote("no-such-model", 1, 1)) == ("model_not_found", 404)
    assert error_of(lambda: client.session(10**9)) == ("session_not_found", 404)
    for query in (
        "model=x",
        f"model={BUNDLED_MODEL_ID}&input_tokens=-1&max_output_tokens=1",
        f"model={BUNDLED_MODEL_ID}&input_tokens=1&max_output_tokens=1&redundancy=0",
        f"model={BUNDLED_MODEL_ID}&input_tokens=1&max_output_tokens=99999999999",
    ):
        r = httpx.get(f"{base}/v1/quote?{query}")
        assert r.status_code == 422 and r.json()["error"] == "invalid_request", (query, r.text)


# --- statements and proofs -------------------------------------------------------------------


def test_statement_and_proof_of_a_miner(net, client):
    st = client.statement(net.miner, net.closed_epoch)
    assert st["epoch"] == 0 and st["items"] and st["root"] == client.epoch(0)["root"]
    streams = {i["stream"] for i in st["items"]}
    assert "miner_work" in streams or "miner_work:stake" in streams
    work = next(i for i in st["items"] if i["stream"].startswith("miner_work"))
    assert "formula" in work["detail"] or "why" in work["detail"]
    assert sum(int(i["amount_units"]) for i in st["items"]) == int(st["total_units"])
    p = client.proof(net.miner, net.closed_epoch)
    assert p["amount_units"] == st["claimable_units"] and not p["claimed"]
    assert verify_proof(p["root"], (net.miner, 0, int(p["amount_units"])), p["proof"])


def test_statement_and_proof_errors(net, client):
    assert error_of(lambda: client.statement(net.miner, 7)) == ("epoch_not_found", 404)
    assert error_of(lambda: client.proof(MISSING_ADDRESS, 0)) == ("no_leaf", 404)
    empty = client.statement(MISSING_ADDRESS, 0)
    assert empty["items"] == [] and empty["total"] == "0"
    r = httpx.get(f"{net.server.base_url}/v1/statements/0xnope/0")
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = httpx.get(f"{net.server.base_url}/v1/proofs/{net.miner}/-1")
    assert r.status_code == 422


# --- governance and bounties -----------------------------------------------------------------


def test_proposals_and_params(net, client):
    [p] = client.proposals()
    assert p["id"] == net.proposal and p["title"] == "Longer unbonding" and p["status"] in ("PASSED", "EXECUTED")
    assert p["votes"][net.keys["bob"].address] == "yes" and len(p["votes"]) == 6
    assert float(p["tally"]["yes"]) > float(p["tally"]["no"]) > 0 and p["body"]["changes"] == {"unbonding_period_epochs": 3}
    assert client.proposal(net.proposal) == p
    params = client.params()
    assert params["in_force"]["redundancy"] == 3 and params["history"][0]["from_epoch"] == 0
    names = {e["name"] for e in params["schema"]}
    assert "unbonding_period_epochs" in names and set(params["in_force"]) == names
    assert set(params["controllers"]) >= {"price", "staking"}


def test_params_and_proposals_are_what_cor_gov_prints(net, client):
    """The API and `cor gov show|params --json` serve one view (app/views.py)."""
    import json

    from cor_incentives.app import views

    engine = net.engine
    engine.refresh()
    s = engine.state
    assert client.proposal(net.proposal) == json.loads(json.dumps(views.proposal_view(s, s.proposals[net.proposal]), default=str))
    assert set(client.params()) == {"epoch", "in_force", "schema", "history", "controllers", "constants"}


def test_governance_errors(net, client):
    assert error_of(lambda: client.proposal(10**9)) == ("proposal_not_found", 404)
    assert httpx.get(f"{net.server.base_url}/v1/proposals/first").status_code == 422


def test_bounties(net, client):
    page = client.bounties()
    bounties = page["bounties"]
    assert page["next_before_id"] is None and client.all_bounties() == bounties  # one page holds them all
    if not bounties_enabled():  # the core has no bounty commands yet: the list is empty and reads still answer
        assert bounties == []
    else:
        [b] = bounties
        assert b["id"] == net.bounty and b["sponsor"] == net.keys["carol"].address and b["status"] == "open"
        assert b["prize"] == "500" and b["prize_units"] == str(500 * COR) and b["escrow"] == "500"
        assert client.bounty(net.bounty) == b
    assert error_of(lambda: client.bounty(10**9)) == ("bounty_not_found", 404)
    assert httpx.get(f"{net.server.base_url}/v1/bounties/x").status_code == 422


def test_open_tasks_come_from_the_open_task_index(net):
    """state=open reads the core's index of open tasks (one pending deadline each); same answer as a full scan."""
    from cor_incentives.api.readviews import newest_open_tasks, newest_tasks, task_list

    s = net.engine.state
    for state in ("open", "PREPARED", "COMMITTED"):
        fast = task_list(s, state, None, None, 100, None)["tasks"]
        slow = [
            t
            for t in newest_tasks(s, None)
            if (t.state in ("PREPARED", "STARTED", "PRECOMMITTED", "COMMITTED") if state == "open" else t.state == state)
        ]
        assert [t["id"] for t in fast] == [t.id for t in slow]
    assert [t.id for t in newest_open_tasks(s, None)] == [net.open_task]


# --- a task's answer -------------------------------------------------------------------------


def test_task_result_is_the_best_output_in_consensus(net, client):
    """The `result` of a settled task is the in-consensus output with the best quality; `cor task result`
    prints its text, locally and through --api; an open task has none (`no_result`)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    t = client.task(net.settled)
    best = max((m for m in t["miners"] if m["in_consensus"]), key=lambda m: m["quality_ppb"])
    assert t["result"]["miner"] == best["miner"] and t["result"]["quality_ppb"] == max(QUALITY_PPB)
    assert client.get_blob(t["result"]["output_hash"]).decode() == OUTPUTS[0]  # the 0.9-quality answer
    assert client.task(net.open_task)["result"] is None
    cor = str(Path(sys.executable).parent / "cor")
    for where in (["--api", net.server.base_url], ["--db", net.url]):
        p = subprocess.run([cor, "task", "result", str(net.settled), *where], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and p.stdout.strip().endswith(OUTPUTS[0]), p.stderr
        p = subprocess.run([cor, "task", "result", str(net.settled), "--json", *where], capture_output=True, text=True, timeout=120)
        assert json.loads(p.stdout)["text"] == OUTPUTS[0] and json.loads(p.stdout)["result"] == t["result"]
        p = subprocess.run([cor, "task", "result", str(net.open_task), "--json", *where], capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and json.loads(p.stdout)["error"] == "no_result"
