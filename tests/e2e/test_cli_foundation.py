"""End to end through the `cor` console script on a real SQLite file: init, register nodes,
delegate, unbond, report an equivocation, verify; then tamper with one event row and watch verify name it."""

import json
import sqlite3
from decimal import Decimal

from cor_incentives.ai.bundled import BUNDLED_MODEL_ID as MODEL
from cor_incentives.app.keys import Keystore
from cor_incentives.app.signing import sign_scoped
from support.cli import j


def test_foundation_flow_and_tamper(cli):
    init = j(cli("init", "--seed", "e2e", "--json"))
    keys = init["keys"]
    assert init["supply"] == str(10**9 * 10**18)
    status = j(cli("status", "--json"))
    assert status["pools"]["pool:staking"] == "100000000" and status["epoch"] == 0

    cli("node", "register", "--from", "alice", "--role", "miner", "--self-bond", "1500", "--commission-bps", "500", "--model", MODEL)
    for name in ("faucet", "modeldev"):
        cli("node", "register", "--from", name, "--role", "miner", "--self-bond", "1000", "--model", MODEL)
    cli("node", "register", "--from", "carol", "--role", "validator", "--self-bond", "2500")
    cli("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "1000")
    cli("stake", "delegate", "--from", "dave", "--node", "carol", "--amount", "300.5")
    task = j(cli("task", "network", "--model", MODEL, "--json"))["task"]  # created at tick 0
    cli("tick", "--ticks", "2")
    assert keys["alice"] in {m["miner"] for m in j(cli("task", "show", str(task), "--json"))["miners"]}
    cli("stake", "unbond", "--from", "alice", "--amount", "200")
    cli("stake", "undelegate", "--from", "bob", "--node", "alice", "--amount", "400")
    # alice signed two different precommits for the task (gossip shows both); dave reports the pair
    alice_key = Keystore(cli.env["COR_KEYS_DIR"]).get("alice").private_key
    scope = f"task:{task}:precommit"
    pair = [sign_scoped(alice_key, "cor-devnet-1", scope, m) for m in ("0x" + "aa" * 32, "0x" + "bb" * 32)]
    r = j(
        cli(
            "slash",
            "report",
            "--from",
            "dave",
            "--node",
            "alice",
            "--offence",
            "equivocation",
            "--evidence",
            json.dumps({"messages": pair}),
            "--json",
        )
    )
    assert r["ok"] and r["kind"] == "slash.report"

    nodes = {n["id"]: n for n in j(cli("node", "list", "--json"))}
    alice = nodes[keys["alice"]]
    assert alice["state"] == "jailed"
    assert alice["self_bond"] == "1170"  # (1500 - 200) - 10%
    bob = j(cli("balance", "bob", "--json"))
    assert bob["accounts"][f"delegated:{keys['alice']}:{keys['bob']}"] == "540"  # 600 - 10%
    assert bob["accounts"][f"unbonding:{keys['bob']}"] == "360"  # unbonding began after the offence (the task's creation): slashed too
    slashes = j(cli("slash", "list", "--json"))
    assert j(cli("balance", "alice", "--json"))["accounts"][f"unbonding:{keys['alice']}"] == "180"
    # 10% of: alice's bond 1300 (130), bob's delegation 600 (60), both unbonding entries 400 (40) and 200 (20); the
    # reporter is paid 10% of alice's own pieces, 130 + 20 (rule 29: not of bob's)
    assert slashes[0]["total"] == "250" and slashes[0]["to_reporter"] == "15" and slashes[0]["burned"] == "125"
    assert slashes[0]["offence_tick"] == 0 and slashes[0]["reporter"] == keys["dave"]
    assert j(cli("balance", "dave", "--json"))["accounts"][f"wallet:{keys['dave']}"] == "24999714.5"  # 25M - 300.5 + 15

    # alice signs two reveals for the same task and reports them from another key of hers (modeldev): the scope is its
    # own offence, but dated before her jail it takes only alice's own stake, and the reporter 10% of that
    reveal = [sign_scoped(alice_key, "cor-devnet-1", f"task:{task}:reveal", m) for m in ("0x" + "cc" * 32, "0x" + "dd" * 32)]
    modeldev = j(cli("balance", "modeldev", "--json"))["accounts"][f"wallet:{keys['modeldev']}"]
    args = ("slash", "report", "--from", "modeldev", "--node", "alice", "--offence", "equivocation")
    assert j(cli(*args, "--evidence", json.dumps({"messages": reveal}), "--json"))["ok"]
    second = j(cli("slash", "list", "--json"))[1]
    assert second["total"] == "135" and second["to_reporter"] == "13.5"  # 10% of alice's bond 1170 (117) and entry 180 (18)
    assert sorted(k.split("#")[0] for k in second["by_account"]) == [f"bonded:{keys['alice']}", f"unbonding:{keys['alice']}"]
    bob = j(cli("balance", "bob", "--json"))["accounts"]
    assert bob[f"delegated:{keys['alice']}:{keys['bob']}"] == "540" and bob[f"unbonding:{keys['bob']}"] == "360"  # spared
    mine = j(cli("balance", "modeldev", "--json"))["accounts"][f"wallet:{keys['modeldev']}"]
    assert Decimal(mine) - Decimal(modeldev) == Decimal("13.5")  # alice's keys together: -135 of her stake, +13.5

    # bad input: clear error, non-zero exit, nothing changes
    before = j(cli("status", "--json"))["seq"]
    for args, code in [
        (("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "1e3"), "invalid_amount"),
        (("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "-4"), "invalid_amount"),
        (("stake", "delegate", "--from", "bob", "--node", "0x" + "12" * 20, "--amount", "4"), "node_not_found"),
        (("node", "register", "--from", "dave", "--role", "miner", "--self-bond", "10"), "self_bond_below_minimum"),
        (
            ("slash", "report", "--from", "dave", "--node", "alice", "--offence", "equivocation", "--evidence", json.dumps({"messages": pair[::-1]})),
            "evidence_already_used",
        ),
        (("slash", "report", "--node", "alice", "--offence", "commit_mismatch", "--evidence", json.dumps({"task": task})), "evidence_not_derivable"),
        (("stake", "withdraw", "--from", "bob"), "unbonding_not_mature"),
        (("transfer", "--from", "nobody", "--to", "bob", "--amount", "1"), "key_not_found"),
    ]:
        p = cli(*args, "--json", ok=False)
        assert p.returncode != 0, args
        assert j(p)["error"] == code, (args, p.stdout)
        assert "Traceback" not in p.stderr
    p = cli("stake", "bond", "--from", "alice", "--amount", "abc", ok=False)
    assert p.returncode != 0 and "invalid_amount" in p.stderr and "Traceback" not in p.stderr
    assert j(cli("status", "--json"))["seq"] == before

    cli("epoch", "close")
    cli("epoch", "close")
    cli("stake", "withdraw", "--from", "bob")
    assert "unbonding_entries" in j(cli("balance", "bob", "--json"))
    report = j(cli("verify", "--json"))
    assert report["ok"] and report["hash_chain"] and report["conservation"] and report["slashes"] and report["events"] >= 12
    assert report["epochs_checked"] == 2

    # tamper with one stored event: verify fails and names that row
    con = sqlite3.connect(run_db := cli.db)
    seq, payload = con.execute("SELECT seq, payload FROM events WHERE kind='stake.delegate' ORDER BY seq LIMIT 1").fetchone()
    con.execute("UPDATE events SET payload=? WHERE seq=?", (payload.replace('"amount":"1000', '"amount":"9000'), seq))
    con.commit()
    con.close()
    p = cli("verify", "--json", ok=False)
    assert p.returncode == 1
    report = j(p)
    assert not report["ok"] and not report["hash_chain"] and report["first_bad_seq"] == seq
    assert report["errors"][0].startswith(f"seq {seq}:")
    human = cli("verify", ok=False)
    assert "FAILED" in human.stdout and f"first bad seq: {seq}" in human.stdout
    assert run_db.exists()
