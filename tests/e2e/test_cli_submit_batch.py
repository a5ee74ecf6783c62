"""`cor submit --batch FILE`: lines signed elsewhere and lines signed here with --from, against the
database and through a real `cor serve` (POST /v1/commands:batch); each accepted or refused on its own."""

from __future__ import annotations

import json
from decimal import Decimal

from cor_incentives.app.keys import Keystore
from cor_incentives.app.signing import sign_command


def js(p):
    return json.loads(p.stdout)


def _setup(cli, tmp_path):
    keys = {k["name"]: k["address"] for k in js(cli("keys", "list", "--json"))}
    chain_id = js(cli("status", "--json"))["chain_id"]
    carol = Keystore(cli.env["COR_KEYS_DIR"]).get("carol")
    signed = sign_command(
        carol.private_key, chain_id, "transfer", js(cli("balance", "carol", "--json"))["nonce"] + 1, {"to": keys["bob"], "amount": str(2 * 10**18)}
    )
    lines = [
        {"kind": "transfer", "body": {"to": keys["bob"], "amount": str(10**18)}},  # signed here by alice
        {"payload": signed[0].decode(), "signature": signed[1]},  # signed elsewhere by carol
        {"kind": "transfer", "body": {"to": keys["bob"], "amount": str(10**40)}},  # alice cannot pay it
        {"kind": "transfer", "body": {"to": keys["bob"], "amount": str(3 * 10**18)}},  # alice, next nonce
    ]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def _check(out, before, after):
    assert [r["status"] for r in out["results"]] == [200, 200, 409, 200]
    assert out["results"][2]["error"] == "insufficient_funds" and (out["accepted"], out["rejected"]) == (3, 1)
    seqs = [r["receipt"]["seq"] for r in out["results"] if r["status"] == 200]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    assert after - before == Decimal(6)


def test_submit_batch_against_the_database(cli, tmp_path):
    cli("init", "--seed", "batch")
    path = _setup(cli, tmp_path)
    before = Decimal(js(cli("balance", "bob", "--json"))["total"])
    p = cli("submit", "--batch", str(path), "--from", "alice", "--json", ok=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr  # one refused: exit 1, the others landed
    _check(js(p), before, Decimal(js(cli("balance", "bob", "--json"))["total"]))
    table = cli("submit", "--batch", str(path), "--from", "alice", ok=False)  # again: carol's nonce is used now
    assert table.returncode == 1 and "nonce_already_used" in table.stdout and "insufficient_funds" in table.stdout
    missing = cli("submit", "--batch", str(path), "--json", ok=False)  # unsigned lines and no --from
    assert missing.returncode == 2 and js(missing)["error"] == "missing_signer"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "transfer", "body": {}}\n{"nope": 1}\n')
    p = cli("submit", "--batch", str(bad), "--from", "alice", "--json", ok=False)
    assert p.returncode == 2 and js(p)["error"] == "invalid_batch_file" and "line 2" in js(p)["message"]


def test_submit_batch_through_the_api(cli, served, tmp_path):
    path = _setup(cli, tmp_path)
    before = Decimal(js(cli("balance", "bob", "--json"))["total"])
    p = cli("submit", "--batch", str(path), "--from", "alice", "--json", "--api", served, ok=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    _check(js(p), before, Decimal(js(cli("balance", "bob", "--json"))["total"]))
