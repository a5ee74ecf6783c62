"""A dapp signs with ethers v6 (`Wallet.signMessage`) and posts with fetch: the API accepts it.

Runs tests/js/sign_command.mjs with node against a live `cor serve`; the script writes its own
canonical JSON (sorted keys, ASCII escapes), exactly as docs/signing.md tells a dapp developer to.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from cor_incentives.core.events import Command
from cor_incentives.core.units import COR

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "js" / "sign_command.mjs"


def run_ethers(base_url: str, private_key: str, kind: str, body: dict) -> dict:
    node = shutil.which("node")
    assert node, "node (20+) is required: the tests run the ethers.js reference signer"
    assert (ROOT / "node_modules" / "ethers").is_dir(), "run `npm ci` (make test does) to install ethers"
    p = subprocess.run([node, str(SCRIPT), base_url, private_key, kind, json.dumps(body)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_ethers_signed_transfer_is_accepted(server, network):
    alice, bob = network.keys["alice"], network.keys["bob"]
    before = httpx.get(f"{server.base_url}/v1/balances/{bob.address}").json()["accounts_units"][f"wallet:{bob.address}"]
    body = {"to": bob.address, "amount": str(12 * COR + 5)}

    out = run_ethers(server.base_url, alice.private_key, "transfer", body)

    assert out["status"] == 200, out
    assert out["response"]["kind"] == "transfer" and out["response"]["actor"] == alice.address
    cmd = Command.decode(out["payload"])
    assert cmd.encode().decode("ascii") == out["payload"]  # the JS canonical form is byte-identical to Python's
    assert cmd.body == body
    after = httpx.get(f"{server.base_url}/v1/balances/{bob.address}").json()["accounts_units"][f"wallet:{bob.address}"]
    assert int(after) == int(before) + 12 * COR + 5
    # a bounty whose criteria text has characters that must be escaped to stay ASCII
    tick = httpx.get(f"{server.base_url}/v1/chain").json()["tick"]
    text = 'café ☕ 😀 \u007f "q" \\ \n'
    bounty = {"prize": str(10 * COR), "criteria": text, "deadline_tick": tick + 50, "winners": 1}  # bounty_min_prize_units (rule 21)
    out = run_ethers(server.base_url, alice.private_key, "bounty.create", bounty)
    assert out["status"] == 200, out
    cmd = Command.decode(out["payload"])
    assert cmd.encode().decode("ascii") == out["payload"] and cmd.body == bounty and cmd.body["criteria"] == text


def test_ethers_signed_delegation_is_accepted(server, network):
    carol, dave = network.keys["carol"], network.keys["dave"]
    reg = run_ethers(
        server.base_url, carol.private_key, "node.register", {"role": "validator", "self_bond": str(2000 * COR), "commission_bps": 100, "models": []}
    )
    assert reg["status"] == 200, reg
    out = run_ethers(server.base_url, dave.private_key, "stake.delegate", {"node": carol.address, "amount": str(250 * COR)})
    assert out["status"] == 200, out
    node = httpx.get(f"{server.base_url}/v1/nodes/{carol.address}").json()
    assert node["delegations"] == {dave.address: "250"} and node["stake_total"] == "2250"


def test_ethers_wrong_key_is_refused(server, network):
    """ethers signs as bob a command that names alice as actor: refused, nothing appended."""
    import sqlite3

    alice, bob = network.keys["alice"], network.keys["bob"]
    node = shutil.which("node")
    assert node
    script = (
        "import { Wallet } from 'ethers';"
        f"const payload = process.argv[1];"
        f"const sig = await new Wallet('{bob.private_key}').signMessage(payload);"
        "const r = await fetch(process.argv[2] + '/v1/commands', {method: 'POST', headers: {'content-type': 'application/json'},"
        " body: JSON.stringify({payload, signature: sig})});"
        "process.stdout.write(JSON.stringify({status: r.status, response: await r.json()}));"
    )
    nonce = httpx.get(f"{server.base_url}/v1/nonce/{alice.address}").json()["nonce"]
    payload = Command(network.chain_id, "transfer", alice.address, nonce, {"to": bob.address, "amount": "1"}).encode().decode()
    con = sqlite3.connect(network.db_path)
    before = con.execute("SELECT count(*) FROM events").fetchone()[0]
    p = subprocess.run([node, "--input-type=module", "-e", script, payload, server.base_url], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == 401 and out["response"]["error"] == "signer_is_not_actor"
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == before
    con.close()


@pytest.mark.parametrize("value", [{"b": 1, "a": [True, None, "x"], "é": {"z": "", "Z": 2**53 - 1}}])
def test_js_canonical_json_equals_python(value):
    node = shutil.which("node")
    assert node
    # the script's canonicalJson alone (importing the whole script would run its command-line part)
    src = SCRIPT.read_text().split("async function getJson")[0]
    p = subprocess.run(
        [node, "--input-type=module", "-e", src + "process.stdout.write(canonicalJson(JSON.parse(process.argv[1])));", json.dumps(value)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    from cor_incentives.core.events import canonical_json

    assert p.stdout == canonical_json(value).decode("ascii")
