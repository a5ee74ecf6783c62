"""The measured attacks on the API, replayed: a poison pill from a fresh unfunded key, a bad command in
a group commit, and a writer waiting for the lock while reads go on. Real `cor serve` processes, real
SQLite files, real keys."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cor_incentives.app.engine import Engine, InternalError, Receipt
from cor_incentives.app.keys import Keystore
from cor_incentives.app.signing import sign_bytes, sign_command
from cor_incentives.core import apply as core_apply

from .conftest import make_network

COR_BIN = str(Path(sys.executable).parent / "cor")


def poison_payload(chain_id: str, actor: str, depth: int) -> bytes:
    """``session.open {"deposit": "0", "x": [[[…1…]]]}`` as canonical bytes (built by hand: no encoder recurses that deep)."""
    deep = "[" * depth + "1" + "]" * depth
    return (f'{{"actor":"{actor}","body":{{"deposit":"0","x":{deep}}},"chain_id":"{chain_id}","kind":"session.open","nonce":1}}').encode()


def test_poison_pill_from_a_fresh_unfunded_key(tmp_path, server_factory):
    net = make_network(tmp_path / "net", {"alice": "1000"})
    srv = server_factory(net.url, workers=2)
    fresh = Keystore(tmp_path / "attacker").new("mallory")
    with httpx.Client(base_url=srv.base_url, timeout=30) as http:
        before = http.get("/v1/status").json()["seq"]
        for depth, code in ((975, "payload_too_deep"), (7, "payload_too_deep"), (6, "unknown_field")):
            payload = poison_payload(net.chain_id, fresh.address, depth)
            r = http.post("/v1/commands", json={"payload": payload.decode(), "signature": sign_bytes(fresh.private_key, payload)})
            assert r.status_code == 400 and r.json()["error"] == code, (depth, r.text)
        # the same pill in the request body itself, not in the signed payload
        raw = b'{"payload": "x", "signature": "y", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        r = http.post("/v1/commands", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["error"] == "invalid_request"
        statuses = [http.get("/v1/status").status_code for _ in range(40)]  # still served, many times
        assert statuses == [200] * 40
        assert http.get("/v1/status").json()["seq"] == before
    for args in (["status", "--json"], ["verify", "--json"]):
        p = subprocess.run([COR_BIN, *args, "--db", net.url], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    again = server_factory(net.url)  # a restart still serves
    assert httpx.get(again.base_url + "/healthz").json()["ok"] is True


def test_a_bad_command_never_fails_the_others_in_its_group_commit(tmp_path, monkeypatch):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    eng = Engine.open(net.url, check_conservation=True)
    alice, bob = net.keys["alice"], net.keys["bob"]
    n = eng.next_nonce(alice.address)

    def transfer(nonce: int, amount: str) -> tuple[bytes, str]:
        return sign_command(alice.private_key, net.chain_id, "transfer", nonce, {"to": bob.address, "amount": amount})

    deep = poison_payload(net.chain_id, bob.address, 975)
    wrong_type = sign_command(bob.private_key, net.chain_id, "transfer", 1, {"to": [alice.address], "amount": "1"})
    boom = transfer(n + 1, "777")  # a handler that fails with a bug on this one command
    real = core_apply.process_transfer

    def buggy(state, actor, body):
        if body["amount"] == "777":
            state.ledger.transfer(f"wallet:{actor}", "dust", 5, "half-done")  # a mutation the bug leaves behind
            raise ValueError("a bug")
        real(state, actor, body)

    monkeypatch.setitem(core_apply.HANDLERS, "transfer", (buggy, False))
    results = eng.submit_batch([transfer(n, "1"), (deep, sign_bytes(bob.private_key, deep)), wrong_type, boom, transfer(n + 1, "2"), (b"{}", "0x00")])
    kinds = [type(r).__name__ if isinstance(r, BaseException) else "Receipt" for r in results]
    assert kinds == ["Receipt", "InvalidInput", "InvalidInput", "InternalError", "Receipt", "InvalidInput"], kinds
    assert [getattr(r, "code", None) for r in results[1:4]] == ["payload_too_deep", "invalid_address", "internal_error"]
    assert isinstance(results[3], InternalError) and isinstance(results[4], Receipt) and results[4].seq == results[0].seq + 1
    fresh = Engine.open(net.url, create=False)
    assert fresh.state.to_dict() == eng.state.to_dict()  # nothing of the failed command survived, in memory or in the log
    assert fresh.state.ledger.balance("dust") == 0


def test_reads_and_healthz_do_not_wait_for_another_writer(tmp_path, server_factory):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    srv = server_factory(net.url)
    alice, bob = net.keys["alice"], net.keys["bob"]
    with httpx.Client(base_url=srv.base_url, timeout=60) as http:
        nonce = http.get(f"/v1/nonce/{alice.address}").json()["nonce"]
        payload, sig = sign_command(alice.private_key, net.chain_id, "transfer", nonce, {"to": bob.address, "amount": "5"})
        locker = sqlite3.connect(net.db_path, isolation_level=None, timeout=5)
        locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        posted: dict[str, object] = {}

        def post() -> None:
            posted["response"] = httpx.post(srv.base_url + "/v1/commands", json={"payload": payload.decode(), "signature": sig}, timeout=60)

        writer = threading.Thread(target=post)
        writer.start()
        time.sleep(0.5)  # the server's writer is now waiting for the lock
        # a read that waited for the writer would block until the lock is released below (after the reads)
        for path in ["/healthz", "/v1/status", f"/v1/balances/{bob.address}", "/v1/chain"] * 3:
            assert http.get(path).status_code == 200
        assert writer.is_alive()
        locker.execute("ROLLBACK")
        locker.close()
        writer.join(60)
        r = posted["response"]
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]


def test_cli_on_a_locked_database_fails_clearly_within_the_lock_timeout(tmp_path):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    env = {"COR_KEYS_DIR": str(tmp_path / "net" / "keys"), "COR_DATABASE_URL": net.url, "COR_LOCK_TIMEOUT": "2", "PATH": "/usr/bin:/bin"}
    locker = sqlite3.connect(net.db_path, isolation_level=None, timeout=5)
    locker.execute("BEGIN IMMEDIATE")
    try:
        # a CLI that ignored COR_LOCK_TIMEOUT would wait for the lock forever: the 60 s bound fails it
        p = subprocess.run(
            [COR_BIN, "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
        assert json.loads(p.stdout)["error"] == "database_locked", p.stdout
        p = subprocess.run([COR_BIN, "status", "--json"], env=env, capture_output=True, text=True, timeout=60)  # reads still work
        assert p.returncode == 0 and json.loads(p.stdout)["chain"]["complete"] is True
    finally:
        locker.execute("ROLLBACK")
        locker.close()


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["balance", "0x" + "ab" * 20],
        ["node", "list"],
        ["epoch", "show", "0"],
        ["anchors"],
        ["gov", "params"],
        ["model", "list"],
        ["slash", "list"],
    ],
)
def test_read_commands_never_create_a_database(tmp_path, args):
    typo = tmp_path / "typo" / "cor.db"
    p = subprocess.run([COR_BIN, *args, "--json", "--db", f"sqlite:///{typo}"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert json.loads(p.stdout)["error"] == "no_database"
    assert not typo.parent.exists()


def test_a_write_to_a_read_only_database_is_a_clear_error(tmp_path):
    """The file is opened read-only by SQLite itself (as root, file modes would not stop a write)."""
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    ro_url = f"sqlite:///file:{net.db_path}?mode=ro&uri=true"
    env = {"COR_KEYS_DIR": str(tmp_path / "net" / "keys"), "PATH": "/usr/bin:/bin"}
    before = net.db_path.read_bytes()
    p = subprocess.run(
        [COR_BIN, "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--json", "--db", ro_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    assert json.loads(p.stdout)["error"] in ("database_readonly",), p.stdout
    assert net.db_path.read_bytes() == before
    p = subprocess.run([COR_BIN, "status", "--json", "--db", ro_url], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
