"""POST /v1/commands over real HTTP against a `cor serve` process on a temporary SQLite file:
a signed command is accepted and visible; every kind of bad request is refused with a JSON error
and leaves the log exactly as it was."""

from __future__ import annotations

import json

import httpx
import pytest

from cor_incentives.app.signing import authenticate, sign_command
from cor_incentives.core.events import GENESIS_PREV_HASH, Command, event_hash
from cor_incentives.core.signatures import SECP256K1_N
from cor_incentives.core.units import COR


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        yield c


def next_nonce(http, address: str) -> int:
    return http.get(f"/v1/nonce/{address}").json()["nonce"]


def wallet_units(http, address: str) -> int:
    return int(http.get(f"/v1/balances/{address}").json()["accounts_units"].get(f"wallet:{address}", "0"))


def signed(key, chain_id, kind, nonce, body):
    payload, sig = sign_command(key.private_key, chain_id, kind, nonce, body)
    return {"payload": payload.decode("ascii"), "signature": sig}


def test_signed_command_is_accepted_and_its_effect_visible(http, network, api_helpers):
    alice, bob = network.keys["alice"], network.keys["bob"]
    before_events = api_helpers.event_count(network)
    bob_before = wallet_units(http, bob.address)
    nonce = next_nonce(http, alice.address)

    r = http.post("/v1/commands", json=signed(alice, network.chain_id, "transfer", nonce, {"to": bob.address, "amount": str(5 * COR)}))

    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["seq"] == before_events and receipt["kind"] == "transfer" and receipt["actor"] == alice.address
    assert receipt["hash"].startswith("0x") and receipt["tick"] == 0 and receipt["epoch"] == 0
    assert api_helpers.event_count(network) == before_events + 1
    assert wallet_units(http, bob.address) == bob_before + 5 * COR
    balance = http.get(f"/v1/balances/{bob.address.upper().replace('0X', '0x')}").json()  # any case is accepted
    assert balance["address"] == bob.address and balance["accounts"][f"wallet:{bob.address}"] == "25000005"
    assert next_nonce(http, alice.address) == nonce + 1


def _high_s(signature: str) -> str:
    raw = bytes.fromhex(signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    v = raw[64]
    return "0x" + (raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])).hex()


def _cases(net, nonce):
    """(name, request kwargs, expected status, expected code) for every way a command is refused."""
    alice, bob, carol = net.keys["alice"], net.keys["bob"], net.keys["carol"]
    chain = net.chain_id
    transfer = {"to": bob.address, "amount": "1"}
    good = signed(alice, chain, "transfer", nonce, transfer)
    payload = good["payload"]
    by_carol = sign_command(carol.private_key, chain, "transfer", nonce, transfer)[1]
    spaced = json.dumps(json.loads(payload), sort_keys=True)  # ", " and ": " separators: not canonical
    unsorted = json.dumps({"nonce": nonce, "kind": "transfer", "chain_id": chain, "actor": alice.address, "body": transfer}, separators=(",", ":"))
    from cor_incentives.core.signatures import sign_message

    def raw_signed(text: str, key=alice):
        return {"payload": text, "signature": sign_message(key.private_key, text.encode("utf-8"))}

    fresh = "0x" + "42" * 20
    return [
        ("unsigned", {"json": {"payload": payload}}, 422, "invalid_request"),
        ("empty signature", {"json": {"payload": payload, "signature": ""}}, 401, "invalid_signature"),
        ("bad signature", {"json": {"payload": payload, "signature": "0x1234"}}, 401, "invalid_signature"),
        ("signature not hex", {"json": {"payload": payload, "signature": "0x" + "zz" * 65}}, 401, "invalid_signature"),
        ("high-s signature", {"json": {"payload": payload, "signature": _high_s(good["signature"])}}, 401, "invalid_signature"),
        ("signed by another key", {"json": {"payload": payload, "signature": by_carol}}, 401, "signer_is_not_actor"),
        (
            "signature of other bytes",
            {"json": {"payload": payload, "signature": signed(alice, chain, "transfer", nonce + 1, transfer)["signature"]}},
            401,
            "signer_is_not_actor",
        ),
        ("wrong chain id", {"json": signed(alice, "cor-other-chain", "transfer", nonce, transfer)}, 401, "wrong_chain"),
        ("non-canonical spacing", {"json": raw_signed(spaced)}, 400, "non_canonical_payload"),
        ("non-canonical key order", {"json": raw_signed(unsorted)}, 400, "non_canonical_payload"),
        ("payload not JSON", {"json": raw_signed("{not json")}, 400, "invalid_payload"),
        ("payload not an object", {"json": raw_signed("[1,2]")}, 400, "invalid_payload"),
        ("payload with a float", {"json": raw_signed(payload.replace('"amount":"1"', '"amount":1.5'))}, 400, "invalid_payload"),
        (
            "malformed request JSON",
            {"content": b'{"payload": "x", "signature": ', "headers": {"content-type": "application/json"}},
            422,
            "invalid_request",
        ),
        ("request not an object", {"json": ["payload", "signature"]}, 422, "invalid_request"),
        ("extra request field", {"json": {**good, "actor": alice.address}}, 422, "invalid_request"),
        ("unknown kind", {"json": signed(alice, chain, "mint.everything", nonce, {})}, 400, "unknown_command"),
        ("oracle-only kind", {"json": signed(alice, chain, "tick", nonce, {"ticks": 1})}, 401, "unauthorized_actor"),
        ("amount not base units", {"json": signed(alice, chain, "transfer", nonce, {"to": bob.address, "amount": "1.5"})}, 400, "invalid_amount"),
        (
            "insufficient funds",
            {"json": signed(alice, chain, "transfer", nonce, {"to": bob.address, "amount": str(10**9 * COR)})},
            409,
            "insufficient_funds",
        ),
        ("zero nonce", {"json": raw_signed(payload.replace(f'"nonce":{nonce}', '"nonce":0'))}, 400, "invalid_payload"),
        (
            "body too large",
            {"content": b'{"payload": "' + b"a" * (600 * 1024) + b'", "signature": "0x"}', "headers": {"content-type": "application/json"}},
            413,
            "request_too_large",
        ),
        (
            "actor is not the signer",
            {"json": {"payload": Command(chain, "transfer", fresh, 1, transfer).encode().decode(), "signature": good["signature"]}},
            401,
            "signer_is_not_actor",
        ),
    ]


def test_bad_commands_are_refused_with_json_and_change_nothing(http, network, api_helpers):
    alice = network.keys["alice"]
    nonce = next_nonce(http, alice.address)
    before = api_helpers.event_count(network)
    alice_before = http.get(f"/v1/balances/{alice.address}").json()
    for name, kw, status, code in _cases(network, nonce):
        r = http.post("/v1/commands", **kw)
        assert r.status_code == status, (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), name
        body = r.json()
        assert body["error"] == code, (name, body)
        assert isinstance(body["message"], str) and body["message"], name
        assert api_helpers.event_count(network) == before, name
    assert http.get(f"/v1/balances/{alice.address}").json() == alice_before
    assert next_nonce(http, alice.address) == nonce


def test_replayed_nonce_is_refused(http, network, api_helpers):
    alice, bob = network.keys["alice"], network.keys["bob"]
    nonce = next_nonce(http, alice.address)
    cmd = signed(alice, network.chain_id, "transfer", nonce, {"to": bob.address, "amount": "7"})
    assert http.post("/v1/commands", json=cmd).status_code == 200
    after_first = api_helpers.event_count(network)
    bob_after_first = wallet_units(http, bob.address)

    again = http.post("/v1/commands", json=cmd)  # the very same signed request, retried
    lower = http.post(
        "/v1/commands", json=signed(alice, network.chain_id, "transfer", nonce - 1 if nonce > 1 else nonce, {"to": bob.address, "amount": "8"})
    )

    for r in (again, lower):
        assert r.status_code == 409 and r.json()["error"] == "nonce_already_used", r.text
    assert api_helpers.event_count(network) == after_first
    assert wallet_units(http, bob.address) == bob_after_first


def test_nonce_gaps_are_allowed_but_never_reused(http, network):
    dave, bob = network.keys["dave"], network.keys["bob"]
    n = next_nonce(http, dave.address)
    assert http.post("/v1/commands", json=signed(dave, network.chain_id, "transfer", n + 10, {"to": bob.address, "amount": "1"})).status_code == 200
    assert next_nonce(http, dave.address) == n + 11
    r = http.post("/v1/commands", json=signed(dave, network.chain_id, "transfer", n + 5, {"to": bob.address, "amount": "1"}))
    assert r.status_code == 409 and r.json()["error"] == "nonce_already_used"


def test_chain_and_nonce_endpoints(http, network, api_helpers):
    chain = http.get("/v1/chain").json()
    assert chain["chain_id"] == network.chain_id
    assert chain["head_seq"] == api_helpers.event_count(network) - 1
    assert chain["signing"]["scheme"] == "eip191_personal_sign" and "docs/signing.md" in chain["signing"]["docs"]
    assert {"transfer", "stake.delegate", "node.register"} <= set(chain["kinds"])
    fresh = "0x" + "ab" * 20
    assert http.get(f"/v1/nonce/{fresh}").json() == {"address": fresh, "nonce": 1}
    r = http.get("/v1/nonce/0x1234")
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_reads_include_commands_written_by_other_processes(http, network):
    """Another writer (here an Engine in the test process) appends; the server's next read shows it."""
    carol, dave = network.keys["carol"], network.keys["dave"]
    before = wallet_units(http, dave.address)
    other = network.engine()
    receipt = other.submit_as(carol, "transfer", {"to": dave.address, "amount": str(3 * COR)})
    other.store.engine.dispose()
    assert wallet_units(http, dave.address) == before + 3 * COR
    assert http.get("/v1/status").json()["seq"] == receipt.seq
    # and the server's next write follows the other process's event
    n = next_nonce(http, dave.address)
    r = http.post("/v1/commands", json=signed(dave, network.chain_id, "transfer", n, {"to": carol.address, "amount": "1"}))
    assert r.status_code == 200 and r.json()["seq"] == receipt.seq + 1


def test_raw_event_log_re_verifies(http, network, api_helpers):
    """An auditor re-hashes the chain and re-checks every signature from /v1/events alone.

    The log is made long enough for several pages here, not left to the tests before it: under pytest-xdist a test may
    run on a worker whose copy of this module's network holds only its genesis."""
    alice, bob = network.keys["alice"], network.keys["bob"]
    n = next_nonce(http, alice.address)
    for nonce in range(n, n + 4):
        r = http.post("/v1/commands", json=signed(alice, network.chain_id, "transfer", nonce, {"to": bob.address, "amount": "1"}))
        assert r.status_code == 200, r.text
    events, after, pages = [], -1, 0
    while True:
        page = http.get("/v1/events", params={"after": after, "limit": 3}).json()
        events += page["events"]
        pages += 1
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert len(events) == api_helpers.event_count(network) and pages >= 2
    prev = GENESIS_PREV_HASH
    for i, e in enumerate(events):
        assert e["seq"] == i and e["prev_hash"] == prev
        assert event_hash(e["prev_hash"], e["seq"], e["payload"].encode("ascii"), e["signature"]) == e["hash"]
        cmd = authenticate(e["payload"].encode("ascii"), e["signature"])
        assert (cmd.actor, cmd.kind, cmd.nonce) == (e["actor"], e["kind"], e["nonce"])
        prev = e["hash"]
    assert http.get("/v1/events", params={"after": 10**6}).json()["events"] == []
    assert http.get("/v1/events", params={"limit": 0}).status_code == 422


def test_verify_endpoint(http):
    report = http.get("/v1/verify").json()
    assert report["ok"] and report["hash_chain"] and report["conservation"] and report["projections"], report


def test_metrics_and_health(http, network, api_helpers):
    alice, bob = network.keys["alice"], network.keys["bob"]
    n = next_nonce(http, alice.address)
    http.post("/v1/commands", json=signed(alice, network.chain_id, "transfer", n, {"to": bob.address, "amount": "1"}))
    http.post("/v1/commands", json=signed(alice, network.chain_id, "transfer", n, {"to": bob.address, "amount": "1"}))
    assert http.get("/healthz").json()["ok"] is True
    r = http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples["cor_events_total"] == api_helpers.event_count(network)
    assert samples["cor_commands_accepted_total"] >= 1
    assert samples['cor_commands_rejected_total{code="nonce_already_used"}'] >= 1
    assert samples["cor_epoch"] == 0 and samples["cor_tick"] == 0
    assert samples['cor_nodes{role="miner"}'] == 0
    assert samples['cor_http_request_duration_seconds_count{method="POST",route="/v1/commands"}'] >= 2
    buckets = {frozenset(k.split("{", 1)[1].rstrip("}").split(",")) for k in samples if k.startswith("cor_http_request_duration_seconds_bucket{")}
    assert frozenset(['method="POST"', 'route="/v1/commands"', 'le="+Inf"']) in buckets  # labels in any order (the exposition format's rule)


def test_every_request_is_one_json_log_line(http, server):
    http.get("/v1/status")
    lines = [json.loads(x) for x in server.log().splitlines() if x.startswith("{")]
    assert lines, server.log()
    assert all({"method", "path", "status", "ms"} <= set(x) for x in lines)
    accepted = [x for x in lines if x["path"] == "/v1/commands" and x["status"] == 200]
    assert accepted and all(isinstance(x["seq"], int) for x in accepted)
    assert all("seq" not in x for x in lines if x["status"] != 200 or x["method"] == "GET")


def test_http_errors_are_json(http):
    for r, status, code in [
        (http.get("/v1/nowhere"), 404, "not_found"),
        (http.delete("/v1/status"), 405, "method_not_allowed"),
        (http.get("/v1/epochs/abc"), 422, "invalid_request"),
        (http.get("/v1/epochs/7"), 404, "epoch_not_found"),
    ]:
        assert r.status_code == status and r.json()["error"] == code, r.text


def test_a_delegation_below_the_minimum_position_is_refused_and_changes_nothing(http, network, api_helpers):
    """Rule 20 over HTTP: carol registers a miner; bob's delegation of one base unit to it is refused with 409
    ``position_below_minimum`` and leaves the log and bob's balances as they were; 1 COR (min_position_units) is taken."""
    carol, bob = network.keys["carol"], network.keys["bob"]
    register = {"role": "miner", "self_bond": str(1_000 * COR), "models": []}
    assert (
        http.post("/v1/commands", json=signed(carol, network.chain_id, "node.register", next_nonce(http, carol.address), register)).status_code == 200
    )
    before, nonce = api_helpers.event_count(network), next_nonce(http, bob.address)
    bob_before = http.get(f"/v1/balances/{bob.address}").json()
    r = http.post("/v1/commands", json=signed(bob, network.chain_id, "stake.delegate", nonce, {"node": carol.address, "amount": "1"}))
    assert r.status_code == 409 and r.json()["error"] == "position_below_minimum", r.text
    assert "min_position_units 1 COR" in r.json()["message"]
    assert api_helpers.event_count(network) == before and next_nonce(http, bob.address) == nonce
    assert http.get(f"/v1/balances/{bob.address}").json() == bob_before
    r = http.post("/v1/commands", json=signed(bob, network.chain_id, "stake.delegate", nonce, {"node": carol.address, "amount": str(COR)}))
    assert r.status_code == 200, r.text
