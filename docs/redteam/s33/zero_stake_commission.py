"""Finding S1: `commission = all of node_reward when the node has no stake` reads the stake AT THE CLOSE
(node.stake_total), not the epoch's stake x ticks: when every position has left by the close, the operator takes the
whole reward, including what its delegators' stake x ticks earned (docs/rewards.md: 'Every position that held stake
at any time in the epoch is paid, including one that left before the close').
A: delegator leaves at mid-epoch, operator keeps its bond  -> delegator paid by stake x ticks.
B: same, and the operator unbonds its whole self-bond one tick before the close -> operator takes 100 %.
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/zero_stake_commission.py"""
from cor_incentives.core.units import COR
from support.chain import Chain, addr


def world(operator_exits: bool):
    c = Chain(wallets={"op": 10_000 * COR, "d": 10_000 * COR, "other": 10_000 * COR}, params={"epoch_length_ticks": 100})
    c.as_("op", "node.register", {"role": "validator", "self_bond": str(2000 * COR), "commission_bps": 1000})
    c.as_("other", "node.register", {"role": "validator", "self_bond": str(2000 * COR)})
    c.as_("d", "stake.delegate", {"node": addr("op"), "amount": str(8000 * COR)})
    c.oracle("epoch.close", {})
    e = c.state.epoch
    start = c.state.tick
    c.oracle("tick", {"ticks": 50})
    c.as_("d", "stake.undelegate", {"node": addr("op"), "amount": str(8000 * COR)})
    if operator_exits:
        c.oracle("tick", {"ticks": start + 99 - c.state.tick})
        c.as_("op", "stake.unbond", {"amount": str(2000 * COR)})
    c.oracle("epoch.close", {})
    rec = c.state.epochs[e]
    node = rec.staking["nodes"][addr("op")]
    lines = [(i.address == addr("op") and "op" or i.address == addr("d") and "d" or i.address[:8], i.stream, i.amount) for i in rec.items
             if i.stream.startswith("staking_apr") and (i.address in (addr("op"), addr("d")) or i.detail.get("node") == addr("op"))]
    return node, lines


for exits in (False, True):
    node, lines = world(exits)
    paid = {}
    for who, stream, amount in lines:
        if amount:
            paid[(who, stream)] = paid.get((who, stream), 0) + amount
    print(("B operator unbonds at end-1" if exits else "A operator stays"), "| stake at close", node.get("stake"), "stake_ticks", node.get("stake_ticks"))
    for k, v in sorted(paid.items()):
        print("   ", k, f"{v / COR:.6f} COR")
