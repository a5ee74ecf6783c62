"""`cor model register|retire|show` through the console script (rule 25): a listing locks the deposit, an unfunded key is
refused with the code, a retired model is shown retiring, then retired once an epoch close took it out of the live state."""

from support.cli import j
from support.network import sha


def test_register_retire_show(cli):
    cli("init", "--seed", "mdl")
    cli("keys", "new", "lister", "--seed", "mdl", "--plaintext")
    card = ("--parameter-count", "1000000", "--quantization", "q4_0", "--context-length", "2048", "--content-hash", sha("w"))
    refused = cli("model", "register", "--from", "lister", "--id", "tiny", *card, "--json", ok=False)
    assert refused.returncode != 0 and "model_deposit_unfunded" in refused.stdout + refused.stderr  # an empty wallet
    cli("transfer", "--from", "faucet", "--to", "lister", "--amount", "10")
    listed = cli("model", "register", "--from", "lister", "--id", "tiny", *card)
    assert "10 COR locked in escrow:model:tiny" in listed.stdout
    assert j(cli("balance", "lister", "--json"))["total"] == "0"  # the escrow is not the key's account
    shown = j(cli("model", "show", "tiny", "--json"))
    assert shown["state"] == "listed" and shown["retired_tick"] is None
    stranger = cli("model", "retire", "tiny", "--from", "faucet", "--json", ok=False)
    assert stranger.returncode != 0 and "not_model_owner" in stranger.stdout + stranger.stderr
    cli("model", "retire", "tiny", "--from", "lister")
    assert j(cli("balance", "lister", "--json"))["total"] == "10"  # the deposit back at once
    shown = j(cli("model", "show", "tiny", "--json"))
    assert shown["state"] == "retiring" and shown["retired_tick"] is not None
    cli("epoch", "close")
    assert "tiny" not in [m["id"] for m in j(cli("model", "list", "--json"))]
    gone = j(cli("model", "show", "tiny", "--json"))  # read back from the database
    assert gone["state"] == "retired" and {k: v for k, v in gone.items() if k != "state"} == {k: v for k, v in shown.items() if k != "state"}
    missing = cli("model", "show", "nothing", "--json", ok=False)
    assert missing.returncode != 0 and "model_not_found" in missing.stdout + missing.stderr
    # the id is free again (session 29): a second listing, and the first stays readable
    cli("keys", "new", "relister", "--seed", "mdl", "--plaintext")
    cli("transfer", "--from", "faucet", "--to", "relister", "--amount", "10")
    cli("model", "register", "--from", "relister", "--id", "tiny", *card)
    newest = j(cli("model", "show", "tiny", "--json"))
    assert newest["state"] == "listed" and newest["owner"] != gone["owner"]
    assert [(x["owner"], x["registered_tick"]) for x in newest["listings"]] == [
        (gone["owner"], gone["registered_tick"]),
        (newest["owner"], newest["registered_tick"]),
    ]
    first = j(cli("model", "show", "tiny", "--at-tick", str(gone["registered_tick"]), "--json"))
    assert {k: v for k, v in first.items() if k != "listings"} == {k: v for k, v in gone.items() if k != "listings"}
    assert newest["registered_tick"] > gone["retired_tick"]  # the close that pruned the first moved time on
    retired = j(cli("model", "list", "--state", "retired", "--json"))
    assert [(m["id"], m["owner"], m["state"]) for m in retired] == [("tiny", gone["owner"], "retired")]
    every = j(cli("model", "list", "--state", "all", "--json"))
    assert [(m["owner"], m["state"]) for m in every if m["id"] == "tiny"] == [(gone["owner"], "retired"), (newest["owner"], "listed")]
    table = cli("model", "list", "--state", "all", "--limit", "1")
    assert "more: the next page is --after" in table.stderr and f"retired at {gone['retired_tick']}" not in table.stdout
    shown = cli("model", "show", "tiny")
    assert "listings" in shown.stdout and f"{gone['registered_tick']}-{gone['retired_tick']}" in shown.stdout
    bad = cli("model", "list", "--state", "gone", ok=False)
    assert bad.returncode != 0 and "invalid_model_state" in bad.stdout + bad.stderr
