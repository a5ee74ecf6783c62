"""``POST /v1/commands:batch``: several signed commands in one request, each accepted or refused on its
own (as if posted alone, in order), a refused one never failing the others. Real `cor serve`, real
SQLite file, real keys and signatures; the client's ``submit_batch`` / ``submit_many`` too."""

from __future__ import annotations

import httpx

from cor_incentives.app.engine import Engine
from cor_incentives.app.keys import Keystore
from cor_incentives.app.signing import sign_command
from cor_incentives.app.verify import verify_store
from cor_incentives.client import CorClient

from .conftest import make_network

UNIT = 10**18


def _wire(commands):
    return {"commands": [{"payload": p.decode(), "signature": s} for p, s in commands]}


def test_each_command_of_a_batch_gets_its_own_outcome_and_a_bad_one_fails_no_other(tmp_path, server_factory):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    srv = server_factory(net.url, workers=2)
    alice, bob = net.keys["alice"], net.keys["bob"]
    mallory = Keystore(tmp_path / "attacker").new("mallory")  # no funds

    def transfer(key, nonce, to, cor):
        return sign_command(key.private_key, net.chain_id, "transfer", nonce, {"to": to, "amount": str(cor * UNIT)})

    commands = [
        transfer(alice, 1, bob.address, 3),  # ok
        transfer(alice, 2, bob.address, 4),  # ok: consecutive nonces of one actor keep their order
        (transfer(alice, 3, bob.address, 5)[0], "0x" + "11" * 65),  # a signature that recovers to nobody
        transfer(mallory, 1, bob.address, 1),  # unfunded
        transfer(alice, 1, bob.address, 6),  # nonce 1 again: taken by the first command of this batch
        transfer(bob, 1, alice.address, 2),  # ok
        (b'{"actor":"x"}', "0x" + "22" * 65),  # not a command
    ]
    with httpx.Client(base_url=srv.base_url, timeout=60) as http:
        before = http.get("/v1/status").json()["seq"]
        balances = {k.address: sum(int(v) for v in http.get(f"/v1/balances/{k.address}").json()["accounts_units"].values()) for k in (alice, bob)}
        r = http.post("/v1/commands:batch", json=_wire(commands))
        assert r.status_code == 200, r.text
        out = r.json()
        assert [x["index"] for x in out["results"]] == list(range(len(commands)))
        assert [x["status"] for x in out["results"]] == [200, 200, 401, 409, 409, 200, 400]
        codes = [x.get("error") for x in out["results"]]
        assert codes[2:5] == ["invalid_signature", "insufficient_funds", "nonce_already_used"] and codes[6] is not None
        assert (out["accepted"], out["rejected"]) == (3, 4)
        seqs = [x["receipt"]["seq"] for x in out["results"] if x["status"] == 200]
        assert seqs == [before + 1, before + 2, before + 3]  # in request order, nothing else appended
        assert out["results"][1]["receipt"]["kind"] == "transfer" and out["results"][1]["receipt"]["actor"] == alice.address
        assert http.get("/v1/status").json()["seq"] == before + 3  # read on any worker
        after = {k.address: sum(int(v) for v in http.get(f"/v1/balances/{k.address}").json()["accounts_units"].values()) for k in (alice, bob)}
        assert after[alice.address] - balances[alice.address] == (-3 - 4 + 2) * UNIT
        assert after[bob.address] - balances[bob.address] == (3 + 4 - 2) * UNIT
        # the same outcomes as the one-command route gives, code for code
        lone = http.post("/v1/commands", json={"payload": commands[3][0].decode(), "signature": commands[3][1]})
        assert (lone.status_code, lone.json()["error"]) == (409, "insufficient_funds")
    report, _ = verify_store(Engine.open(net.url, create=False).store)
    assert report.ok


def test_a_malformed_batch_is_refused_whole_and_changes_nothing(tmp_path, server_factory):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    srv = server_factory(net.url)
    alice, bob = net.keys["alice"], net.keys["bob"]
    good = sign_command(alice.private_key, net.chain_id, "transfer", 1, {"to": bob.address, "amount": "1"})
    with httpx.Client(base_url=srv.base_url, timeout=60) as http:
        before = http.get("/v1/status").json()["seq"]
        too_many = _wire([good] * 257)
        extra_field = {"commands": [{"payload": good[0].decode(), "signature": good[1], "x": 1}]}
        for body in ({"commands": []}, too_many, extra_field, {"commands": "x"}, [], {"commands": [good[0].decode()]}, {"cmds": []}):
            r = http.post("/v1/commands:batch", json=body)
            assert r.status_code == 422 and r.json()["error"] == "invalid_request", (str(body)[:80], r.text)
        deep = b'{"commands": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
        r = http.post("/v1/commands:batch", content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["error"] == "invalid_request"
        r = http.post("/v1/commands:batch", content=b"x" * (600 * 1024), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"] == "request_too_large"
        assert http.get("/v1/status").json()["seq"] == before
        assert http.post("/v1/commands:batch", json=_wire([good])).json()["accepted"] == 1  # the server still takes a good one


def test_the_client_sends_batches_of_256_and_signs_consecutive_nonces(tmp_path, server_factory):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    srv = server_factory(net.url)
    alice, bob = net.keys["alice"], net.keys["bob"]
    with CorClient(srv.base_url, alice.private_key) as c:
        results = c.submit_many([("transfer", {"to": bob.address, "amount": str(i + 1)}) for i in range(300)])  # two requests
        assert [r["index"] for r in results] == list(range(300)) and {r["status"] for r in results} == {200}
        seqs = [r["receipt"]["seq"] for r in results]
        assert seqs == list(range(seqs[0], seqs[0] + 300))
        assert c.next_nonce(alice.address) == 301
        again = c.submit_batch([sign_command(alice.private_key, net.chain_id, "transfer", 5, {"to": bob.address, "amount": "1"})])
        assert again[0]["status"] == 409 and again[0]["error"] == "nonce_already_used"
