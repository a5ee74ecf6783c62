"""Rule 31 (RULES_STAKE_TICKS_COMMISSION, finding S1) end to end: on a devnet, validator0 (commission 5 % from epoch 1)
has bob's delegation; in epoch 1 bob undelegates at tick 40 and the operator unbonds its whole self-bond at the last tick,
so no stake is left at the close. Under 31 bob's statement (``cor statement --json``, ``GET /v1/statements``) has its
``staking_apr:stake`` line (its stake × ticks share), the operator's commission line is 5 % and the commission formula
the statement cites says "no stake" is ``node_stake_ticks = 0``; under 30 the same log gave the operator the whole
reward. The outside auditor recomputes the epoch under both rules (over the API and in-process) and catches a published
epoch that paid rule 30's split under rule 31."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cor_incentives import auditor
from cor_incentives.api.app import create_app
from cor_incentives.app.published import published_getter
from cor_incentives.cli.main import app
from cor_incentives.core.epoch_document import COMMISSION_FORMULA, COMMISSION_TICKS_FORMULA
from cor_incentives.core.rules import RULES_STAKE_TICKS_COMMISSION
from cor_incentives.core.units import COR
from support.network import make_network

EPOCH = 100


@pytest.fixture(scope="module", params=[RULES_STAKE_TICKS_COMMISSION, RULES_STAKE_TICKS_COMMISSION - 1], ids=["rule_31", "rule_30"])
def net(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"stake_ticks{request.param}")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=3, n_validators=3, params={"rule_version": request.param, "epoch_length_ticks": EPOCH})
    op, bob = keys["validator0"], keys["bob"]
    eng.submit_as(keys["faucet"], "transfer", {"to": bob.address, "amount": str(20_000 * COR)})
    eng.submit_as(op, "node.set_commission", {"commission_bps": 500})
    eng.submit_as(bob, "stake.delegate", {"node": op.address, "amount": str(8_000 * COR)})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    start = eng.state.tick
    eng.submit_as(keys["oracle"], "tick", {"ticks": 40})
    eng.submit_as(bob, "stake.undelegate", {"node": op.address, "amount": str(8_000 * COR)})
    eng.submit_as(keys["oracle"], "tick", {"ticks": start + EPOCH - 1 - eng.state.tick})
    eng.submit_as(op, "stake.unbond", {"amount": str(eng.state.ledger.balance(f"bonded:{op.address}"))})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    yield request.param, eng, keys, url, tmp
    eng.store.dispose()


def apr(epoch, node):
    """The epoch's staking_apr lines of ``node``: {(address, stream): amount}."""
    out = {}
    for x in epoch["lines"]:
        if x["stream"].startswith("staking_apr:") and int(x["amount_units"]) and (x["address"] == node or x["detail"].get("node") == node):
            out[(x["address"], x["stream"])] = int(x["amount_units"])
    return out


def test_the_departed_delegator_is_paid_and_the_statement_names_the_rule(net):
    rule, eng, keys, url, tmp = net
    op, bob = keys["validator0"].address, keys["bob"].address
    client = TestClient(create_app(url))
    epoch = client.get("/v1/epochs/1").json()
    node = epoch["staking"]["nodes"][op]
    assert int(node["stake"]) == 0 and int(node["stake_ticks"]) > 0 and node["commission_bps"] == 500
    reward = next(int(x["detail"]["inputs"]["reward"]) for x in epoch["lines"] if x["stream"] == "staking_apr:node" and x["address"] == op)
    paid = apr(epoch, op)
    cli = CliRunner().invoke(app, ["statement", bob, "--epoch", "1", "--db", url, "--keys-dir", str(tmp / "keys"), "--json"])
    assert cli.exit_code == 0, cli.output
    api = client.get(f"/v1/statements/{bob}/1").json()
    mine = CliRunner().invoke(app, ["statement", op, "--epoch", "1", "--db", url, "--keys-dir", str(tmp / "keys"), "--json"])
    assert mine.exit_code == 0, mine.output
    (commission,) = [x for x in json.loads(mine.output)["items"] if x["stream"] == "staking_apr:commission"]
    if rule >= RULES_STAKE_TICKS_COMMISSION:
        rest = reward - reward * 500 // 10_000
        assert paid[(op, "staking_apr:commission")] == reward * 500 // 10_000
        for statement in (json.loads(cli.output), api):
            (line,) = [x for x in statement["items"] if x["stream"] == "staking_apr:stake" and x["detail"]["node"] == op]
            ticks, total = int(line["detail"]["stake_ticks"]), int(line["detail"]["node_stake_ticks"])
            assert ticks == 8_000 * COR * 40 and total == int(node["stake_ticks"])
            assert int(line["amount_units"]) == rest * ticks // total > 0
        assert commission["detail"]["formula"] == COMMISSION_TICKS_FORMULA and commission["detail"]["has_stake"] is True
    else:
        assert paid == {(op, "staking_apr:commission"): reward}
        assert not [x for x in api["items"] if x["stream"] == "staking_apr:stake"]
        assert commission["detail"]["formula"] == COMMISSION_FORMULA and commission["detail"]["has_stake"] is False


def test_the_auditor_recomputes_the_epoch(net):
    rule, eng, keys, url, tmp = net
    for get in (lambda path: TestClient(create_app(url)).get(path).json(), published_getter(eng.state)):
        report = auditor.audit_epoch(auditor.fetch_bundle(get, 1)).to_dict()
        assert report["ok"], {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        assert report["quantities"]["commission.amount"]["total"] >= 1


def test_the_auditor_catches_the_old_split_under_the_new_rule(net):
    """A published epoch that gave validator0's operator the whole APR (rule 30's split) under rule 31 fails the audit:
    its commission and the delegator's missing stake line; under rule 30 the other way round."""
    rule, eng, keys, url, tmp = net
    op, bob = keys["validator0"].address, keys["bob"].address
    bundle = auditor.fetch_bundle(published_getter(eng.state), 1)
    lines = bundle["epoch"]["lines"]
    reward = next(int(x["detail"]["inputs"]["reward"]) for x in lines if x["stream"] == "staking_apr:node" and x["address"] == op)
    ours = [
        x
        for x in lines
        if x["stream"].startswith("staking_apr:") and x["stream"] != "staking_apr:node" and (x["address"] == op or x["detail"].get("node") == op)
    ]
    for x in ours:
        lines.remove(x)
    if rule >= RULES_STAKE_TICKS_COMMISSION:  # forge rule 30's: all commission
        (c,) = [x for x in ours if x["stream"] == "staking_apr:commission"]
        lines.append({**c, "amount_units": str(reward)})
    else:  # forge rule 31's: 5 % and the stakers' lines (one for bob)
        (c,) = [x for x in ours if x["stream"] == "staking_apr:commission"]
        lines.append({**c, "amount_units": str(reward * 500 // 10_000)})
        node = bundle["epoch"]["staking"]["nodes"][op]
        rest = reward - reward * 500 // 10_000
        lines.append(
            {
                "address": bob,
                "stream": "staking_apr:stake",
                "amount_units": str(rest * 8_000 * COR * 40 // int(node["stake_ticks"])),
                "claimable": True,
                "detail": {"node": op, "node_reward": str(rest), "stake_ticks": str(8_000 * COR * 40), "node_stake_ticks": str(node["stake_ticks"])},
            }
        )
    report = auditor.audit_epoch(bundle).to_dict()
    bad = {q: v["total"] - v["matched"] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
    assert bad.get("commission.amount") == 1, bad
