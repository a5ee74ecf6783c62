"""`cor bounty` and `cor community` through the console script on a real SQLite file: fund a bounty with
three named reviewers, submit, refuse an award before the deadline, pay on the third approval, refuse a
non-reviewer and a self-submission, expire with a refund; appoint a curator, attest, refuse a
self-attestation, and find the community reward in the next statement."""

from cor_incentives.core.units import COR
from support.cli import j


def wallet(cli, name, keys):
    return j(cli("balance", name, "--json"))["accounts"][f"wallet:{keys[name]}"]


def refused(cli, args, code):
    p = cli(*args, "--json", ok=False)
    assert p.returncode != 0, args
    assert j(p)["error"] == code, (args, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr


def test_bounty_and_community_flow(cli, tmp_path):
    keys = j(cli("init", "--seed", "bty", "--json"))["keys"]
    for name in ("erin", "frank", "gina"):  # new keys: nothing in their wallets
        keys[name] = j(cli("keys", "new", name, "--seed", "bty", "--plaintext", "--json"))["address"]
    work = tmp_path / "fix.patch"
    work.write_text("--- a/x\n+++ b/x\n@@ fix @@\n")

    b = j(
        cli(
            "bounty",
            "create",
            "--from",
            "alice",
            "--prize",
            "100",
            "--winners",
            "2",
            "--reviewer",
            "carol",
            "--reviewer",
            "erin",
            "--reviewer",
            "frank",
            "--criteria",
            "Make the flaky test pass 1000 times in a row.",
            "--duration-ticks",
            "5",
            "--json",
        )
    )
    bid = str(b["bounty"])
    assert wallet(cli, "alice", keys) == "24999900"
    small = ("bounty", "create", "--from", "alice", "--prize", "9.99", "--criteria", "c", "--duration-ticks", "5")
    refused(cli, small, "prize_below_minimum")  # rule 21: bounty_min_prize_units = 10 COR
    refused(cli, ("bounty", "submit", "--from", "gina", "--bounty", bid, "--content-hash", "0x" + "ef" * 32), "entry_deposit_unfunded")
    cli("bounty", "submit", "--from", "bob", "--bounty", bid, "--file", str(work))
    cli("bounty", "submit", "--from", "dave", "--bounty", bid, "--content-hash", "0x" + "ab" * 32)
    refused(cli, ("bounty", "award", "--from", "carol", "--bounty", bid, "--submission", "bob"), "deadline_not_reached")
    refused(cli, ("bounty", "submit", "--from", "alice", "--bounty", bid, "--content-hash", "0x" + "cd" * 32), "self_submission")
    deadline = j(cli("bounty", "show", bid, "--json"))["deadline_tick"]
    cli("tick", "--ticks", str(deadline - j(cli("status", "--json"))["tick"]))
    for reviewer in ("carol", "erin"):
        cli("bounty", "award", "--from", reviewer, "--bounty", bid, "--submission", "bob")
    assert wallet(cli, "bob", keys) == "24999999"  # 2 of the 3 approvals it needs; its 1 COR entry deposit held (rule 21)
    cli("bounty", "award", "--from", "frank", "--bounty", bid, "--submission", "bob")
    assert wallet(cli, "bob", keys) == "25000049"

    before = j(cli("status", "--json"))["seq"]
    refused(cli, ("bounty", "award", "--from", "dave", "--bounty", bid, "--submission", "dave"), "not_a_reviewer")
    p = cli("bounty", "award", "--from", "dave", "--bounty", bid, "--submission", "dave", ok=False)  # human output too
    assert p.returncode != 0 and "error (not_a_reviewer)" in p.stderr and "is not a reviewer of bounty" in " ".join(p.stderr.split())
    refused(cli, ("bounty", "award", "--from", "carol", "--bounty", bid, "--submission", "bob"), "already_awarded")
    refused(cli, ("bounty", "expire", "--from", "bob", "--bounty", bid), "review_period_not_over")
    assert j(cli("status", "--json"))["seq"] == before

    shown = j(cli("bounty", "show", bid, "--json"))
    assert shown["status"] == "open" and shown["escrow"] == "52" and shown["prizes_by_rank"] == ["50", "50"]
    assert shown["deposits_held"] == "2" and [e["deposit"] for e in shown["entries"]] == ["1", "1"]
    assert [e["rank"] for e in shown["entries"]] == [1, None] and shown["review_quorum"] == 3
    assert shown["entries"][0]["awarded_by"] == [keys["carol"], keys["erin"], keys["frank"]]
    review_end = shown["review_ends_tick"]
    tick = j(cli("status", "--json"))["tick"]
    cli("tick", "--ticks", str(review_end - tick))
    cli("bounty", "expire", "--from", "bob", "--bounty", bid)
    assert wallet(cli, "alice", keys) == "24999950"
    assert wallet(cli, "bob", keys) == "25000050" and wallet(cli, "dave", keys) == "25000000"  # both deposits back
    listed = j(cli("bounty", "list", "--json"))
    assert listed[0]["id"] == int(bid) and listed[0]["status"] == "expired" and listed[0]["escrow"] == "0"
    refused(cli, ("bounty", "award", "--from", "carol", "--bounty", bid, "--submission", "dave"), "bounty_expired")

    cli("community", "appoint", "--curator", "carol")
    refused(cli, ("community", "appoint", "--curator", "carol"), "already_curator")
    cli("community", "attest", "--from", "carol", "--member", "bob", "--kind", "support", "--points", "40", "--reference", "forum/t/17")
    refused(
        cli,
        ("community", "attest", "--from", "carol", "--member", "carol", "--kind", "forum", "--points", "5", "--reference", "forum/t/18"),
        "self_attestation",
    )
    refused(
        cli,
        ("community", "attest", "--from", "dave", "--member", "bob", "--kind", "forum", "--points", "5", "--reference", "forum/t/19"),
        "not_a_curator",
    )
    shown = j(cli("community", "show", "--json"))
    assert shown["curators"] == [keys["carol"]] and shown["points"] == {keys["bob"]: 40}
    epoch = shown["epoch"]
    cli("epoch", "close")
    st = j(cli("statement", "bob", "--epoch", str(epoch), "--json"))
    (line,) = [i for i in st["items"] if i["stream"] == "community"]
    assert line["claimable"] and int(line["amount_units"]) > 0 and line["detail"]["points"] == 40
    # rule 31: 40 points at the rate (4 COR a point), the rest of the stream in the pool (rules 1-30: the whole stream)
    assert int(line["amount_units"]) == 40 * int(line["detail"]["rate_units"]) == 160 * COR and not line["detail"]["budget_binding"]
    assert int(st["claimable_units"]) >= int(line["amount_units"])
    assert j(cli("community", "show", "--json"))["points"] == {}
    assert j(cli("verify", "--json"))["ok"]
