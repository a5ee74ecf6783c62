"""Golden vectors (tests/vectors/staking.json): slashing splits and reward-per-stake accounting."""

import json
from pathlib import Path

import pytest

from cor_incentives.core.slashing import slash
from cor_incentives.core.staking import credit_node_reward, settle_node_rewards
from support.chain import Chain, addr

DATA = json.loads((Path(__file__).parent.parent / "vectors" / "staking.json").read_text())


def _sub(
    obj,
):
    if isinstance(obj, str):
        import re

        return re.sub(r"@([a-z0-9_]+)", lambda m: addr(m.group(1)), obj)
    if isinstance(obj, dict):
        return {_sub(k): _sub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_sub(v) for v in obj]
    return obj


def _run(case):
    # the vectors move a few base units: no minimum position (rule 20; tests/core/test_min_position.py)
    chain = Chain(
        wallets=case["wallets"],
        params={"min_position_units": "1", **case["params"]},
        pools={k: int(v) for k, v in case["pools"].items()} if "pools" in case else None,
    )
    treasury0 = chain.balance("treasury")
    for step in _sub(case["steps"]):
        if "credit" in step:
            chain.state.ledger.begin()
            credit_node_reward(chain.state, step["credit"]["node"], "pool:network_incentives", step["credit"]["amount"], "test", {})
            chain.state.ledger.commit()
        elif "slash" in step:
            x = step["slash"]
            chain.state.ledger.begin()
            slash(chain.state, x["node"], x["offence"], x["offence_tick"], x["evidence"], x["reporter"])
            chain.state.ledger.commit()
        elif "settle" in step:
            chain.state.ledger.begin()
            settle_node_rewards(chain.state, step["settle"])
            chain.state.ledger.commit()
        elif "cancel" in step:
            who = addr(step["cancel"])
            (u,) = [u for u in chain.state.unbondings.values() if u.address == who]
            chain.submit(who, "stake.cancel_unbond", {"id": u.id})
        elif step.get("oracle"):
            chain.oracle(step["kind"], step["body"])
        else:
            chain.submit(addr(step["actor"]), step["kind"], step["body"])
    return chain, treasury0


@pytest.mark.parametrize("case", DATA["slashing"], ids=lambda c: c["name"])
def test_slashing_vector(case):
    chain, treasury0 = _run(case)
    record = chain.state.slashes[-1]
    for k, v in case["expect"]["slash"].items():
        assert getattr(record, k) == v, k
    for account, v in _sub(case["expect"]["balances"]).items():
        assert chain.balance(account) == v, account
    assert chain.balance("treasury") - treasury0 == case["expect"]["treasury_gain"]
    assert chain.balance(f"escrow:slash:{record.id}") == 0


@pytest.mark.parametrize("case", DATA["rewards"], ids=lambda c: c["name"])
def test_reward_vector(case):
    chain, _ = _run(case)
    expect = _sub(case["expect"])
    for account, v in expect["balances"].items():
        assert chain.balance(account) == v, account
    for want in expect["lines"]:
        (got,) = [i for i in chain.state.epochs[want["epoch"]].items if i.address == want["address"] and i.stream == want["stream"]]
        assert got.amount == want["amount"] and got.claimable, want
        for k, v in want["detail"].items():
            assert got.detail[k] == v, (want, k)
        assert got.amount == got.detail["node_reward"] * got.detail["stake_ticks"] // got.detail["node_stake_ticks"]
    commission = [i for e in (0, 1) for i in chain.state.epochs[e].items if i.stream.endswith(":commission")]
    rates = {str(e): {i.detail["commission_bps"] for i in commission if i in chain.state.epochs[e].items} for e in (0, 1)}
    assert rates == {e: {bps} for e, bps in expect["commission_bps"].items()}
    node = next(iter(chain.state.nodes.values()))
    assert sorted(node.positions) == sorted(expect["positions_after"])


@pytest.mark.parametrize("case", DATA["cancel"], ids=lambda c: c["name"])
def test_cancel_unbond_vector(case):
    """A cancelled unbonding pays what it was spared: exactly its pro-rata share of a counted penalty from rule version 8."""
    chain, treasury0 = _run(case)
    record = chain.state.slashes[-1]
    for k, v in case["expect"]["slash"].items():
        assert getattr(record, k) == v, k
    (line,) = [i for i in chain.state.earnings if i.detail.get("spared_slash_id") == record.id]
    assert -line.amount == case["expect"]["spared_piece"] and line.detail["returning"] == 1000
    for account, v in _sub(case["expect"]["balances"]).items():
        assert chain.balance(account) == v, account
    assert chain.balance("treasury") - treasury0 == case["expect"]["treasury_gain"]
    assert chain.state.unbondings == {}
