"""End to end through the `cor` console script: a delegator sees its stake × time in `cor node show`
while the epoch runs, the statement explains its share by the same numbers after the close, and a
commission change shows as pending until the next epoch."""

from cor_incentives.core.units import COR
from support.cli import j


def test_stake_time_visible_then_paid_by_it(cli):
    keys = j(cli("init", "--seed", "stake-time", "--json"))["keys"]
    alice, bob = keys["alice"], keys["bob"]
    # a validator: drawable with no task (from rule 14 a miner earns no staking APR in an epoch without a task of its model)
    cli("node", "register", "--from", "alice", "--role", "validator", "--self-bond", "2000", "--commission-bps", "1000")
    cli("tick", "--ticks", "40")
    cli("stake", "delegate", "--from", "bob", "--node", "alice", "--amount", "500")  # at tick 40 of 100
    cli("node", "commission", "--from", "alice", "--bps", "1500")  # in force from epoch 1
    cli("tick", "--ticks", "20")

    show = j(cli("node", "show", "alice", "--json"))
    assert show["commission_bps"] == 1000 and show["commission_next_bps"] == 1500
    # tick 60: alice 2000 COR × 60 ticks, bob 500 COR × 20 ticks
    assert show["stake_epoch"] == 0 and show["stake_ticks_units"] == str(2000 * COR * 60 + 500 * COR * 20)
    assert show["idle_stake_ticks_units"] == "0"  # selectable all along
    assert show["positions"] == [
        {"address": alice, "kind": "self_bond", "stake": "2000", "stake_ticks_units": str(2000 * COR * 60), "share_ppb": 923_076_923},
        {"address": bob, "kind": "delegation", "stake": "500", "stake_ticks_units": str(500 * COR * 20), "share_ppb": 76_923_076},
    ]
    human = cli("node", "show", "alice").stdout
    assert "stake × time in epoch 0" in human and "7.69 %" in human and "92.30 %" in human

    cli("epoch", "close")  # to tick 100: alice 2000 × 100, bob 500 × 60
    lines = [i for i in j(cli("statement", "bob", "--epoch", "0", "--json"))["items"] if "node_stake_ticks" in i["detail"]]
    assert lines, "bob earned no staker reward"
    for line in lines:
        d = {k: int(v) if k in ("node_reward", "stake_ticks", "node_stake_ticks") else v for k, v in line["detail"].items()}  # big ints as strings
        assert d["node"] == alice and d["stake_ticks"] == 500 * COR * 60 and d["node_stake_ticks"] == 2000 * COR * 100 + 500 * COR * 60
        assert int(line["amount_units"]) == d["node_reward"] * d["stake_ticks"] // d["node_stake_ticks"]
    after = j(cli("node", "show", "alice", "--json"))
    assert after["commission_bps"] == 1500 and after["commission_next_bps"] is None
    assert after["stake_epoch"] == 1 and after["stake_ticks_units"] == "0" and [p["share_ppb"] for p in after["positions"]] == [0, 0]
    assert j(cli("verify", "--json"))["ok"]
