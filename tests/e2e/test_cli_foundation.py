"""End to end through the `cor` console script on a real SQLite file: init, register nodes,
delegate, unbond, slash, verify; then tamper with one event row and watch verify name it."""

import sqlite3

from support.cli import j


def test_foundation_flow_and_tamper(cli):
    init = j(cli("init", "--seed", "e2e", "--json"))
    keys = init["keys"]
    assert init["supply"] == str(10**9 * 10**18)
    status = j(cli("status", "--json"))
    assert status["pools"]["pool:staking"] == "100000000" and status["epoch"] == 0

    cli("node", "register", "--from", "alice", "--role", "miner", "--self-bond", "1500", "--commission-bps", "500")
    cli("node", "register", "--from", "carol", "--role", "validator", "--self-bond", "2500")
    cli("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "1000")
    cli("stake", "delegate", "--from", "dave", "--node", "carol", "--amount", "300.5")
    cli("tick", "--ticks", "2")
    cli("stake", "unbond", "--from", "alice", "--amount", "200")
    cli("stake", "undelegate", "--from", "bob", "--node", "alice", "--amount", "400")
    r = j(
        cli(
            "slash",
            "report",
            "--node",
            "alice",
            "--offence",
            "commit_mismatch",
            "--offence-tick",
            "1",
            "--evidence",
            '{"task": "t-1", "commit": "0xaa", "reveal": "0xbb"}',
            "--reporter",
            "dave",
            "--json",
        )
    )
    assert r["ok"] and r["kind"] == "slash.report"

    nodes = {n["id"]: n for n in j(cli("node", "list", "--json"))}
    alice = nodes[keys["alice"]]
    assert alice["state"] == "jailed"
    assert alice["self_bond"] == "1235"  # (1500 - 200) - 5%
    bob = j(cli("balance", "bob", "--json"))
    assert bob["accounts"][f"delegated:{keys['alice']}:{keys['bob']}"] == "570"  # 600 - 5%
    assert bob["accounts"][f"unbonding:{keys['bob']}"] == "380"  # unbonding began after the offence: slashed too
    slashes = j(cli("slash", "list", "--json"))
    assert j(cli("balance", "alice", "--json"))["accounts"][f"unbonding:{keys['alice']}"] == "190"
    # 5% of: alice's bond 1300 (65), bob's delegation 600 (30), both unbonding entries 400 (20) and 200 (10)
    assert slashes[0]["total"] == "125" and slashes[0]["to_reporter"] == "12.5" and slashes[0]["burned"] == "62.5"
    assert j(cli("balance", "dave", "--json"))["accounts"][f"wallet:{keys['dave']}"] == "24999712"  # 25M - 300.5 + 12.5

    # bad input: clear error, non-zero exit, nothing changes
    before = j(cli("status", "--json"))["seq"]
    for args, code in [
        (("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "1e3"), "invalid_amount"),
        (("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "-4"), "invalid_amount"),
        (("stake", "delegate", "--from", "bob", "--node", "0x" + "12" * 20, "--amount", "4"), "node_not_found"),
        (("node", "register", "--from", "dave", "--role", "miner", "--self-bond", "10"), "self_bond_below_minimum"),
        (
            (
                "slash",
                "report",
                "--node",
                "alice",
                "--offence",
                "commit_mismatch",
                "--offence-tick",
                "1",
                "--evidence",
                '{"task": "t-1", "commit": "0xaa", "reveal": "0xbb"}',
            ),
            "evidence_already_used",
        ),
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
    assert report["ok"] and report["hash_chain"] and report["conservation"] and report["events"] >= 12
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
