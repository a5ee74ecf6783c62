"""Epoch settlement: golden vectors (emission, APR with/without the budget guard, pass-through),
claims against Merkle proofs, statements that add up, and the root against OpenZeppelin's."""

import json
import subprocess
from pathlib import Path

import pytest

from cor_incentives.app import views
from cor_incentives.core.errors import EngineError
from cor_incentives.core.units import COR, format_cor, parse_cor
from support.chain import Chain, addr
from support.market import commit_reveal, market, network, submit, validate_all

ROOT = Path(__file__).resolve().parents[2]
V = json.loads((ROOT / "tests/vectors/epoch_rewards.json").read_text())


def test_emission_schedule_vector():
    c = Chain(wallets={"x": 1})
    pool = c.balance("pool:network_incentives")
    for e, expect in enumerate(V["emission"]["epochs"]):
        c.oracle("epoch.close", {})
        rec = c.state.epochs[e]
        assert format_cor(rec.streams["emission"]["budget"]) == expect
    for k, v in V["emission"]["split_epoch0"].items():
        assert format_cor(c.state.epochs[0].streams[k]["budget"]) == v
        assert c.state.epochs[0].streams[k]["paid"] == 0
    assert c.balance("pool:network_incentives") == pool


@pytest.mark.parametrize("case", V["apr"], ids=lambda c: c["name"])
def test_apr_vectors(case):
    params = {"epochs_per_year": 100, "epoch_length_ticks": 10, "min_self_bond_validator_units": "1", "emission_per_epoch_units": "0"}
    c = Chain(
        wallets={"A": 10_000 * COR, "B": 10_000 * COR, "d": 10_000 * COR},
        params=params,
        pools={"pool:staking": parse_cor(case["staking_pool"]), "treasury": 10**9 * COR},
    )
    c.as_("A", "node.register", {"role": "validator", "self_bond": str(1000 * COR)})
    c.as_("B", "node.register", {"role": "validator", "self_bond": str(1000 * COR), "commission_bps": 1000})
    c.as_("d", "stake.delegate", {"node": addr("B"), "amount": str(2000 * COR)})
    pool = c.balance("pool:staking")
    c.oracle("epoch.close", {})
    ex = case["expect"]
    for who in ("A", "B", "d"):
        assert format_cor(c.balance(f"claimable:{addr(who)}")) == ex[f"claimable:@{who}"], who
    st = c.state.epochs[0].staking
    assert st["effective_apr_bps"] == ex["effective_apr_bps"] and st["budget_binding"] == ex["budget_binding"]
    assert format_cor(pool - c.balance("pool:staking")) == ex["pool_drop"]


def settled_epoch():
    c = market(n_miners=4, params={"redundancy": 3, "epoch_length_ticks": 50})
    c.as_("user", "stake.delegate", {"node": sorted(c.state.nodes)[0], "amount": str(500 * COR)})
    for i in range(4):
        tid = submit(c) if i % 2 else network(c, f"network prompt {i}")
        t = c.state.tasks[tid]
        commit_reveal(c, tid, {a.miner: "Paris" for a in t.miners})
        validate_all(c, tid, lambda v, m: (5_000_000, 800_000_000))
    c.oracle("epoch.close", {})
    return c


def test_statements_leaves_and_claimable_agree():
    c = settled_epoch()
    rec = c.state.epochs[0]
    assert rec.root and len(rec.leaves) >= 7
    assert rec.streams["miners"]["paid"] > 0 and rec.streams["validators"]["paid"] > 0
    for s in ("miners", "validators"):
        assert rec.streams[s]["paid"] <= rec.streams[s]["budget"]
    addresses = {i.address for i in rec.items}
    total_claimable_items = 0
    for a in addresses:
        st = views.statement(c.state, a, 0)
        assert sum(int(i["amount_units"]) for i in st["items"]) == int(st["total_units"])
        assert sum(int(i["amount_units"]) for i in st["items"] if i["claimable"]) == int(st["claimable_units"])
        total_claimable_items += int(st["claimable_units"])
    assert total_claimable_items == sum(rec.leaves.values())
    assert sum(rec.leaves.values()) == sum(v for k, v in c.state.ledger.balances.items() if k.startswith("claimable:"))


def test_claim_once_with_proof_and_refuse_bad():
    c = settled_epoch()
    rec = c.state.epochs[0]
    who, amount = next(iter(rec.leaves.items()))
    p = views.proof(c.state, who, 0)
    bad = [
        ({"amount": str(amount + 1)}, "invalid_proof"),
        ({"proof": list(reversed(p["proof"])) + ["0x" + "00" * 32]}, "invalid_proof"),
        ({"epoch": 5}, "epoch_not_found"),
    ]
    body = {"address": who, "epoch": 0, "amount": str(amount), "proof": p["proof"]}
    for change, code in bad:
        before = c.state.to_dict()
        with pytest.raises(EngineError) as e:
            c.oracle("reward.claim", {**body, **change})
        assert e.value.code == code and c.state.to_dict() == before
    wallet = c.balance(f"wallet:{who}")
    c.oracle("reward.claim", body)
    assert c.balance(f"wallet:{who}") == wallet + amount and c.balance(f"claimable:{who}") == 0
    with pytest.raises(EngineError) as e:
        c.oracle("reward.claim", body)
    assert e.value.code == "already_claimed"


def test_root_equals_openzeppelin():
    c = settled_epoch()
    rec = c.state.epochs[0]
    leaves = [[a, "0", str(v)] for a, v in rec.leaves.items()]
    out = subprocess.run(
        ["node", str(ROOT / "tests/js/oz_merkle.mjs")], input=json.dumps(leaves), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    oz = json.loads(out.stdout)
    assert oz["root"] == rec.root
    for (a, _, _), proof in zip(leaves, oz["proofs"]):
        assert views.proof(c.state, a, 0)["proof"] == proof


def test_ineligible_node_statement_says_why():
    c = market(n_miners=3, params={"epoch_length_ticks": 50, "min_score_bps": 9000})
    tid = submit(c)
    t = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in t.miners})
    validate_all(c, tid, lambda v, m: (5_000_000, 800_000_000))  # score 80 % < 90 % gate
    c.oracle("epoch.close", {})
    st = views.statement(c.state, t.miners[0].miner, 0)
    none = [i for i in st["items"] if i["stream"] == "miner_work:none"]
    assert none and none[0]["detail"]["why"] == "score_below_min"
    assert c.state.epochs[0].streams["miners"]["paid"] == 0
