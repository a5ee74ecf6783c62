"""Governance through the console script: stake votes once bonded for a whole epoch, a parameter change
passes and applies from its epoch, `cor gov params --json` shows the history, a vetoed proposal burns its
deposit, one below quorum fails and forfeits its deposit to the treasury, bad input is refused, and
`cor verify` replays it all."""

from support.cli import gov_genesis, j


def test_governance_end_to_end(cli, tmp_path):
    genesis = gov_genesis(tmp_path / "genesis.json", "gov-test", ("alice", "bob", "carol", "dave"))
    cli("init", "--genesis", str(genesis), "--seed", "gov")
    cli("node", "register", "--from", "alice", "--role", "miner", "--self-bond", "6000")
    cli("node", "register", "--from", "bob", "--role", "miner", "--self-bond", "3000")
    cli("node", "register", "--from", "carol", "--role", "miner", "--self-bond", "1000")
    p = cli("gov", "propose", "--from", "dave", "--kind", "param_change", "--title", "early", "--set", "max_commission_bps=3000", "--json", ok=False)
    assert p.returncode != 0 and j(p)["error"] == "no_voting_power"  # fresh stake does not vote
    cli("epoch", "close")
    cli("epoch", "close")  # epoch 2: the stake bonded in epoch 0 votes

    p1 = j(
        cli(
            "gov",
            "propose",
            "--from",
            "dave",
            "--kind",
            "param_change",
            "--title",
            "raise commission cap",
            "--set",
            "max_commission_bps=3000",
            "--effective-epoch",
            "4",
            "--json",
        )
    )["proposal"]
    cli("gov", "vote", "--from", "alice", "--proposal", str(p1), "--option", "yes")
    cli("gov", "vote", "--from", "bob", "--proposal", str(p1), "--option", "no")
    p = cli("gov", "vote", "--from", "alice", "--proposal", str(p1), "--option", "no", "--json", ok=False)
    assert p.returncode != 0 and j(p)["error"] == "already_voted"
    p = cli("gov", "propose", "--from", "dave", "--kind", "param_change", "--title", "x", "--set", "max_commission_bps=20000", "--json", ok=False)
    assert p.returncode != 0 and j(p)["error"] == "parameter_out_of_bounds"

    cli("tick", "--ticks", "10")
    assert j(cli("gov", "show", str(p1), "--json"))["status"] == "PASSED"
    p = cli("gov", "vote", "--from", "carol", "--proposal", str(p1), "--option", "yes", "--json", ok=False)
    assert p.returncode != 0 and j(p)["error"] == "voting_closed"

    p2 = j(cli("gov", "propose", "--from", "dave", "--kind", "treasury_spend", "--title", "grant", "--to", "dave", "--amount", "10", "--json"))[
        "proposal"
    ]
    cli("gov", "vote", "--from", "alice", "--proposal", str(p2), "--option", "veto")
    p3 = j(
        cli(
            "gov",
            "propose",
            "--from",
            "dave",
            "--kind",
            "param_change",
            "--title",
            "quiet",
            "--set",
            "max_commission_bps=2500",
            "--effective-epoch",
            "5",
            "--json",
        )
    )["proposal"]
    cli("gov", "vote", "--from", "carol", "--proposal", str(p3), "--option", "yes")  # 10 % of stake: below quorum
    before = j(cli("status", "--json"))
    cli("epoch", "close")  # epoch 2 closes at tick 60: p1 executes; p2 and p3 end at tick 60 as well
    shown = {d["id"]: d for d in j(cli("gov", "show", "--json"))}
    assert shown[p1]["status"] == "EXECUTED"
    assert shown[p2]["status"] == "VETOED"
    assert shown[p3]["status"] == "REJECTED" and shown[p3]["result"] == "quorum not met"
    after = j(cli("status", "--json"))
    assert float(after["burned"]) == float(before["burned"]) + 1000  # the vetoed deposit
    assert float(after["treasury"]) == float(before["treasury"]) + 1000  # the deposit of the one below quorum

    params = j(cli("gov", "params", "--json"))
    assert params["epoch"] == 3 and params["in_force"]["max_commission_bps"] == 2000
    by_epoch = {h["from_epoch"]: h["params"]["max_commission_bps"] for h in params["history"]}
    assert by_epoch[0] == 2000 and by_epoch[4] == 3000
    cli("epoch", "close")
    assert j(cli("gov", "params", "--json"))["in_force"]["max_commission_bps"] == 3000
    cli("node", "commission", "--from", "carol", "--bps", "500")
    assert j(cli("verify", "--json"))["ok"]
