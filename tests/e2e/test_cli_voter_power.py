"""Rule 29 through the console script: a whale (alice and bob, 40 % of the stake) cannot propose a parameter at the value
in force (param_change_no_op, a clear error, nothing written); abstaining with both keys on its own real change meets
quorum and pays nobody (the epoch's governance stream all back to the pool); one key voting no pays each key its share of
all the aged stake (2 000 of 10 000), not of the voters'; `cor verify` replays it all."""

from support.cli import gov_genesis, j


def test_a_whales_own_proposal_pays_its_stake_share_at_most(cli, tmp_path):
    genesis = gov_genesis(tmp_path / "genesis.json", "voter-power", ("alice", "bob", "carol"))
    cli("init", "--genesis", str(genesis), "--seed", "vp")
    for who, bond in (("alice", "2000"), ("bob", "2000"), ("carol", "6000")):
        cli("node", "register", "--from", who, "--role", "miner", "--self-bond", bond)
    cli("epoch", "close")
    cli("epoch", "close")  # epoch 2: the stake votes
    head = j(cli("status", "--json"))
    p = cli("gov", "propose", "--from", "alice", "--kind", "param_change", "--title", "noop", "--set", "max_commission_bps=2000", "--json", ok=False)
    assert p.returncode != 0 and j(p)["error"] == "param_change_no_op" and "value in force" in j(p)["message"]
    assert j(cli("status", "--json")) == head  # nothing written

    def own_proposal(alice: str, epoch: int) -> dict:
        pid = j(cli("gov", "propose", "--from", "alice", "--kind", "param_change", "--title", "own", "--set", "max_commission_bps=1999", "--json"))[
            "proposal"
        ]
        cli("gov", "vote", "--from", "alice", "--proposal", str(pid), "--option", alice)
        cli("gov", "vote", "--from", "bob", "--proposal", str(pid), "--option", "abstain")
        cli("tick", "--ticks", "10")
        assert j(cli("gov", "show", str(pid), "--json"))["result"] == "threshold not met"  # quorum met (40 %), REJECTED
        cli("epoch", "close")
        return j(cli("epoch", "show", str(epoch), "--json"))

    abstain = own_proposal("abstain", 2)
    g = abstain["streams"]["governance"]
    assert int(g["paid"]) == 0 and int(g["back_to_pool"]) == int(g["budget"]) > 0
    assert not [line for line in abstain["lines"] if line["stream"] == "governance"]

    no = own_proposal("no", 3)
    budget = int(no["streams"]["governance"]["budget"])
    paid = {line["address"]: int(line["amount_units"]) for line in no["lines"] if line["stream"] == "governance"}
    assert sorted(paid.values()) == [budget * 2_000 // 10_000] * 2  # each key 20 %: 40 % in all (rule 28: 25 % + 25 %)
    statement = j(cli("statement", "alice", "--epoch", "3", "--json"))
    line = next(i for i in statement["items"] if i["stream"] == "governance")
    assert int(line["detail"]["inputs"]["total_weight"]) == 10_000 * 10**18  # all the aged stake, not the voters' 4 000
    assert j(cli("verify", "--json"))["ok"]
