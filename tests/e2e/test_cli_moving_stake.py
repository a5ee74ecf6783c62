"""`cor stake redelegate` and `cor stake cancel-unbond` through a real `cor serve`, signed by an encrypted key."""

from __future__ import annotations

import json
from decimal import Decimal


def js(p):
    return json.loads(p.stdout)


def test_redelegate_and_cancel_unbond_through_the_api_with_an_encrypted_key(cli, served):
    api = ["--api", served]
    cli.env["COR_KEY_PASSPHRASE"] = "erin's passphrase"
    erin = js(cli("keys", "new", "erin", "--json"))
    assert erin["encrypted"] and "private_key" not in (cli.db.parent / "keys" / "erin.json").read_text()
    cli("transfer", "--from", "faucet", "--to", "erin", "--amount", "5000", "--json", *api)
    for n in ("alice", "bob"):
        cli("node", "register", "--from", n, "--role", "miner", "--self-bond", "1500", "--json", *api)
    keys = {k["name"]: k["address"] for k in js(cli("keys", "list", "--json"))}
    alice, bob = keys["alice"], keys["bob"]
    cli("stake", "delegate", "--from", "erin", "--node", "alice", "--amount", "1000", "--json", *api)

    r = js(cli("stake", "redelegate", "--from", "erin", "--from-node", "alice", "--to-node", "bob", "--amount", "400", "--json", *api))
    assert r["ok"] and r["kind"] == "stake.redelegate"
    bal = js(cli("balance", "erin", "--json", *api))
    assert bal["accounts"][f"delegated:{alice}:{erin['address']}"] == "600" and bal["accounts"][f"delegated:{bob}:{erin['address']}"] == "400"
    (moved,) = bal["redelegations"]
    assert (moved["from"], moved["to"], moved["amount"], moved["slashable"]) == (alice, bob, "400", True)
    assert js(cli("node", "show", "alice", "--json", *api))["redelegated_away"] == [moved]
    assert bal == js(cli("balance", "erin", "--json"))  # the API and the database say the same

    # no hop on while the move is young; errors are clear and change nothing
    p = cli("stake", "redelegate", "--from", "erin", "--from-node", "bob", "--to-node", "alice", "--amount", "1", "--json", *api, ok=False)
    assert p.returncode == 2 and js(p)["error"] == "redelegation_in_progress"
    p = cli("stake", "cancel-unbond", "--from", "erin", "--entry", "999999", "--json", *api, ok=False)
    assert p.returncode == 3 and js(p)["error"] == "unbonding_not_found"

    cli("stake", "undelegate", "--from", "erin", "--node", "alice", "--amount", "300", "--json", *api)
    (entry,) = js(cli("balance", "erin", "--json", *api))["unbonding_entries"]
    c = js(cli("stake", "cancel-unbond", "--from", "erin", "--entry", str(entry["id"]), "--amount", "100", "--json", *api))
    assert c["kind"] == "stake.cancel_unbond"
    bal = js(cli("balance", "erin", "--json", *api))
    assert bal["unbonding_entries"][0]["amount"] == "200" and bal["accounts"][f"delegated:{alice}:{erin['address']}"] == "400"
    assert Decimal(bal["total"]) == Decimal("5000")  # nothing created or lost: wallet + delegations + unbonding

    cli.env["COR_KEY_PASSPHRASE"] = "not erin's"
    p = cli("stake", "cancel-unbond", "--from", "erin", "--entry", str(entry["id"]), "--json", *api, ok=False)
    assert p.returncode == 4 and js(p)["error"] == "wrong_passphrase" and "Traceback" not in p.stderr
    assert js(cli("balance", "erin", "--json", *api))["unbonding_entries"][0]["amount"] == "200"
