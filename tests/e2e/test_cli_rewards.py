"""`cor rewards` (across epochs, CSV) and `cor claim --all`, locally and through `--api` against a real `cor serve`."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal


def js(p):
    return json.loads(p.stdout)


def test_rewards_csv_and_claim_all_through_the_api(cli, served):
    api = ["--api", served]
    cli("node", "register", "--from", "alice", "--role", "validator", "--self-bond", "20000", "--commission-bps", "500")
    cli("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "1000", *api)
    for _ in range(3):
        cli("epoch", "close")  # the oracle, next to the database

    remote = js(cli("rewards", "bob", "--json", *api))
    assert remote == js(cli("rewards", "bob", "--json"))
    assert [e["epoch"] for e in remote["epochs"]] == [0, 1, 2] and remote["unclaimed_epochs"] == [0, 1, 2]
    # each epoch's total is the statement's total, and the CSV rows sum to the statements
    rows = list(csv.DictReader(io.StringIO(cli("rewards", "bob", "--csv", *api).stdout)))
    by_epoch: dict[int, int] = defaultdict(int)
    for r in rows:
        by_epoch[int(r["epoch"])] += int(r["amount_units"])
    for e in remote["epochs"]:
        st = js(cli("statement", "bob", "--epoch", str(e["epoch"]), "--json", *api))
        assert int(st["total_units"]) == int(e["total_units"]) == by_epoch[e["epoch"]] > 0
        assert len([r for r in rows if int(r["epoch"]) == e["epoch"]]) == len(st["items"])
    assert sum(by_epoch.values()) == int(remote["total_units"])
    assert [int(e["epoch"]) for e in js(cli("rewards", "bob", "--from-epoch", "2", "--json", *api))["epochs"]] == [2]

    def wallet():
        accounts = js(cli("balance", "bob", "--json"))["accounts"]
        return Decimal(next(v for k, v in accounts.items() if k.startswith("wallet:")))

    before = wallet()
    done = js(cli("claim", "bob", "--all", "--json", *api))
    assert wallet() - before == Decimal(done["total"])
    assert [c["epoch"] for c in done["claimed"]] == [0, 1, 2]
    assert int(done["total_units"]) == int(remote["unclaimed_units"])
    after = js(cli("rewards", "bob", "--json"))
    assert after["unclaimed_epochs"] == [] and all(e["claimed"] for e in after["epochs"])
    assert js(cli("claim", "bob", "--all", "--json", *api))["claimed"] == []  # nothing left: nothing sent
    p = cli("claim", "bob", "--json", *api, ok=False)
    assert js(p)["error"] == "invalid_claim"
