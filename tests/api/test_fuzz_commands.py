"""Fuzz POST /v1/commands of a real `cor serve`: every kind, signed by a real key (funded, unfunded,
or the oracle), with bodies built from the kind's own field names and hostile values (nested, huge,
wrongly typed, non-ASCII digits, leading zeros, big integers, floats), plus hostile raw request bodies.

Every response is a JSON 2xx/4xx with an error code — never a 5xx — and a refused command changes
nothing: the log head stays where it was. At the end the whole log still verifies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.app.keys import Keystore
from cor_incentives.app.signing import sign_bytes
from cor_incentives.core.commands import SCHEMAS, Struct, Variant

from .conftest import make_network

COR_BIN = str(Path(sys.executable).parent / "cor")
KINDS = sorted(SCHEMAS)


def field_names(kind: str) -> list[str]:
    schema = SCHEMAS[kind]
    if isinstance(schema, Struct):
        return sorted(schema.fields)
    assert isinstance(schema, Variant)
    return sorted({schema.tag, *schema.common, *(f for case in schema.cases.values() for f in case)})


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "0",
            "01",
            "١٢",
            "１２",
            "𝟏𝟐",
            "1" * 5000,
            "-1",
            "1.5",
            "1e3",
            "0x" + "Ab" * 20,
            "0x" + "ab" * 20,
            "0x" + "00" * 32,
            "miner",
            "yes",
            "param_change",
            "ticks",
            "x" * 70_000,
            "\u0000",
            "😀",
        ]
    ),
    st.text(max_size=30),
)
hostile = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, dict]:
    kind = draw(st.sampled_from(KINDS + ["mint.everything"]))
    names = field_names(kind) if kind in SCHEMAS else ["amount"]
    chosen = draw(st.lists(st.sampled_from(names + ["x", "memo"]), unique=True, max_size=len(names) + 1))
    return kind, {name: draw(hostile) for name in chosen}


def encode(obj: object) -> bytes:
    """Canonical layout without the canonical checks (so big integers and floats reach the server)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@pytest.fixture(scope="module")
def live(tmp_path_factory, request):
    d = tmp_path_factory.mktemp("fuzz")
    net = make_network(d / "net", {"alice": "1000", "bob": "1000"})
    from support.server import start_server, stop_server

    srv = start_server(net.url, d / "serve.log")
    mallory = Keystore(d / "attacker").new("mallory")
    keys = {"alice": net.keys["alice"], "oracle": net.keys["oracle"], "mallory": mallory}
    with httpx.Client(base_url=srv.base_url, timeout=60) as http:
        yield net, http, keys
    stop_server(srv)
    p = subprocess.run([COR_BIN, "verify", "--json", "--db", net.url], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:]


def head(http: httpx.Client) -> int:
    return http.get("/v1/chain").json()["head_seq"]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(case=bodies(), signer=st.sampled_from(["alice", "oracle", "mallory"]), nonce_shift=st.sampled_from([0, 0, 0, 1, -1, 2**53]))
def test_signed_hostile_bodies_never_reach_a_5xx_and_refusals_change_nothing(live, case, signer, nonce_shift):
    net, http, keys = live
    kind, body = case
    key = keys[signer]
    nonce = http.get(f"/v1/nonce/{key.address}").json()["nonce"] + nonce_shift
    payload = encode({"chain_id": net.chain_id, "kind": kind, "actor": key.address, "nonce": nonce, "body": body})
    before = head(http)
    r = http.post("/v1/commands", json={"payload": payload.decode(), "signature": sign_bytes(key.private_key, payload)})
    assert r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/json") and ("error" in r.json() or r.status_code == 200), r.text
    if r.status_code != 200:
        assert head(http) == before, (kind, body, r.text)


raw_bodies = st.one_of(
    st.binary(max_size=2_000),
    hostile.map(encode),
    st.builds(lambda p, s: encode({"payload": p, "signature": s}), hostile, hostile),
    st.integers(1, 200_000).map(lambda n: b'{"payload":' + b"[" * n + b"]" * n + b',"signature":"0x"}'),
    st.integers(1, 200_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(raw=raw_bodies, content_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream"]))
def test_hostile_request_bodies_are_4xx_json(live, raw, content_type):
    _, http, _ = live
    before = head(http)
    r = http.post("/v1/commands", content=raw, headers={"content-type": content_type})
    assert 400 <= r.status_code < 500 and "error" in r.json(), (r.status_code, r.text[:300])
    assert head(http) == before
