"""The command ingress (api/ingress.py) answers the submit routes exactly as FastAPI's routes do: two
identical networks, one app with the ingress and one without, the same requests (accepted, refused,
malformed, oversized, batches) give the same statuses, headers and bytes, and the same logs.
Real SQLite files, real keys, real signatures."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from cor_incentives.api import ingress
from cor_incentives.api.app import create_app
from cor_incentives.api.ingress import CommandIngress
from cor_incentives.api.middleware import MAX_BODY_BYTES
from cor_incentives.app.engine import Engine
from cor_incentives.app.signing import sign_command

from .conftest import make_network


def _signed(key, chain_id: str, kind: str, nonce: int, body: dict) -> dict[str, str]:
    payload, sig = sign_command(key.private_key, chain_id, kind, nonce, body)
    return {"payload": payload.decode("ascii"), "signature": sig}


def _requests(net) -> list[tuple[str, str, object]]:
    """(method, path, body) in order: a body that is a dict is sent as JSON, bytes as they are, a
    list of bytes as a chunked body of those pieces."""
    alice, bob, oracle = net.keys["alice"], net.keys["bob"], net.keys["oracle"]
    one = _signed(alice, net.chain_id, "transfer", 1, {"to": bob.address, "amount": "5"})
    batch = [
        _signed(alice, net.chain_id, "transfer", 2, {"to": bob.address, "amount": "1"}),
        {"payload": one["payload"], "signature": "0x" + "11" * 65},  # a bad signature among good ones
        _signed(bob, net.chain_id, "transfer", 1, {"to": alice.address, "amount": str(10**30)}),  # unfunded
        _signed(alice, net.chain_id, "transfer", 3, {"to": bob.address, "amount": "2"}),
        _signed(oracle, net.chain_id, "treasury.spend", 1, {"to": bob.address, "amount": "1", "memo": "x"}),  # a kind that may not exist
    ]
    non_canonical = json.dumps(json.loads(one["payload"]), indent=1)
    return [
        ("POST", "/v1/commands", one),
        ("POST", "/v1/commands", one),  # replayed: nonce_already_used
        ("POST", "/v1/commands", {"payload": one["payload"], "signature": "0x" + "22" * 65}),
        ("POST", "/v1/commands", {"payload": non_canonical, "signature": one["signature"]}),
        ("POST", "/v1/commands", {"payload": one["payload"]}),  # not the shape: 422
        ("POST", "/v1/commands", b"{not json"),
        ("POST", "/v1/commands", b""),
        ("POST", "/v1/commands", [b'{"payload": "', b"x" * (MAX_BODY_BYTES + 10), b'"}']),  # chunked, over the limit: 413
        ("POST", "/v1/commands:batch", {"commands": batch}),
        ("POST", "/v1/commands:batch", {"commands": []}),
        ("POST", "/v1/commands:batch", b"[1, 2]"),
        ("GET", "/v1/commands", None),  # not a submit: FastAPI's 405 either way
        ("POST", "/v1/commands/", one),
        ("POST", "/v1/commands?x=1", _signed(alice, net.chain_id, "transfer", 4, {"to": bob.address, "amount": "3"})),
    ]


def _send(client: TestClient, method: str, path: str, body: object):
    if isinstance(body, dict):
        return client.request(method, path, json=body)
    if isinstance(body, list):
        return client.request(method, path, content=iter(body), headers={"content-type": "application/json"})
    return client.request(method, path, content=body, headers={"content-type": "application/json"} if body is not None else None)


def test_ingress_answers_like_the_routes(tmp_path, monkeypatch):
    alloc = {"alice": "1000", "bob": "10"}
    with_ingress, plain = (make_network(tmp_path / name, alloc) for name in ("ingress", "routes"))
    assert with_ingress.chain_id == plain.chain_id and with_ingress.keys["alice"].address == plain.keys["alice"].address
    served = []
    real = ingress.submit_one
    monkeypatch.setattr(ingress, "submit_one", lambda svc, raw: served.append(len(raw)) or real(svc, raw))

    app = create_app(with_ingress.url)
    assert CommandIngress in [m.cls for m in app.user_middleware]
    bare = create_app(plain.url)
    bare.user_middleware = [m for m in bare.user_middleware if m.cls is not CommandIngress]  # before its first request
    answers = []
    with TestClient(app, raise_server_exceptions=False) as a, TestClient(bare, raise_server_exceptions=False) as b:
        for method, path, body in _requests(with_ingress):
            ra, rb = _send(a, method, path, body), _send(b, method, path, body)
            assert (ra.status_code, ra.content) == (rb.status_code, rb.content), (method, path)
            assert ra.headers.get("content-type") == rb.headers.get("content-type")
            assert ra.headers.get("content-length") == rb.headers.get("content-length")
            answers.append(ra.status_code)
        metrics_a, metrics_b = a.get("/metrics").text, b.get("/metrics").text
    assert served, "the ingress served none of the single submits"
    assert 200 in answers and {401, 400, 409, 413, 422, 405} <= set(answers), answers
    route_lines = [line for line in metrics_a.splitlines() if 'route="/v1/commands' in line and "_count" in line]
    assert route_lines and route_lines == [line for line in metrics_b.splitlines() if 'route="/v1/commands' in line and "_count" in line]
    ea, eb = Engine.open(with_ingress.url, create=False), Engine.open(plain.url, create=False)
    assert ea.state.head_hash == eb.state.head_hash and ea.state.seq == eb.state.seq >= 3


@pytest.mark.parametrize("path", ["/v1/commands", "/v1/commands:batch"])
def test_a_client_gone_before_its_body_gets_no_answer_and_changes_nothing(tmp_path, path):
    import asyncio

    net = make_network(tmp_path / "net", {"alice": "10"})
    app = create_app(net.url)
    sent: list[dict] = []

    async def run() -> None:
        messages = [{"type": "http.request", "body": b'{"pay', "more_body": True}, {"type": "http.disconnect"}]

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b"", "root_path": ""}
        await app(scope, receive, send)

    head = Engine.open(net.url, create=False).state.seq
    asyncio.run(run())
    assert sent == [] and Engine.open(net.url, create=False).state.seq == head
