"""Rule 31 (RULES_COMMUNITY_RATE) end to end: a devnet appoints dave a curator; in epoch 1 dave attests bob for 1 point
and carol for 300 (past the per-member cap at the rate), and the epoch closes. The members' statements (``cor statement
[--json]``, ``GET /v1/statements``, ``cor rewards --csv``) show the community line with its rate, claim and cap, and say
in words "N points at R COR a point" (and the cap for carol); the outside auditor recomputes the epoch (over the API
and in-process) with ``community.claim`` and ``community.rate_units`` checked, and catches a forged rule-30 split. Under
rule 30 the same log splits the stream by points (1 and 300 of 301) and the auditor recomputes that too."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cor_incentives import auditor
from cor_incentives.api.app import create_app
from cor_incentives.app.published import published_getter
from cor_incentives.cli.main import app
from cor_incentives.core.rules import RULES_COMMUNITY_RATE
from cor_incentives.core.units import COR, format_cor
from support.api_reads import api_get
from support.network import make_network

POINTS = {"bob": 1, "carol": 300}


BINDING = {"community_rate_per_point_units": str(20 * COR), "community_member_cap_bps": 10_000}
"""Rule 31 with a rate and a cap at which the claims exceed the stream (bob 20 COR, carol 6 000 COR capped at the whole
stream): pro rata."""


@pytest.fixture(
    scope="module",
    params=[(RULES_COMMUNITY_RATE, {}), (RULES_COMMUNITY_RATE, BINDING), (RULES_COMMUNITY_RATE - 1, {})],
    ids=["rule_31", "rule_31_binding", "rule_30"],
)
def net(request, tmp_path_factory):
    rule, params = request.param
    tmp = tmp_path_factory.mktemp(f"community{rule}")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=3, n_validators=3, params={"rule_version": rule, **params})
    for who in POINTS:
        eng.submit_as(keys["faucet"], "transfer", {"to": keys[who].address, "amount": str(2_000 * COR)})
    eng.submit_as(keys["oracle"], "community.appoint", {"curator": keys["dave"].address})
    eng.submit_as(keys["oracle"], "epoch.close", {})  # epoch 1's snapshot: bob and carol eligible
    for who, points in POINTS.items():
        for i in range(0, points, 100):
            body = {"member": keys[who].address, "kind": "forum", "points": min(100, points - i), "reference": f"{who}-{i}"}
            eng.submit_as(keys["dave"], "community.attest", body)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    yield rule, eng, keys, url, tmp
    eng.store.dispose()


def expected(rule, budget, rate, cap_bps):
    """Each member's reward by docs/rewards.md, Community stream."""
    if rule < RULES_COMMUNITY_RATE:
        return {who: budget * p // sum(POINTS.values()) for who, p in POINTS.items()}
    claims = {who: min(p * rate, budget * cap_bps // 10_000) for who, p in POINTS.items()}
    total = sum(claims.values())
    return {who: c if total <= budget else budget * c // total for who, c in claims.items()}


def test_the_members_statements_show_the_rate_and_the_cap(net):
    rule, eng, keys, url, tmp = net
    p = eng.state.params
    client = TestClient(create_app(url))
    budget = int(client.get("/v1/epochs/1").json()["streams"]["community"]["budget"])
    want = expected(rule, budget, p.community_rate_per_point_units, p.community_member_cap_bps)
    binding = p.community_member_cap_bps == 10_000
    rate = format_cor(p.community_rate_per_point_units)
    claims = 20 * COR + budget  # (binding) carol's 6 000 COR capped at the whole stream
    if binding:  # each pro rata
        assert want == {"bob": budget * 20 * COR // claims, "carol": budget * budget // claims} and sum(want.values()) < budget
    elif rule >= RULES_COMMUNITY_RATE:
        assert want == {"bob": 4 * COR, "carol": budget // 4}  # the rate; the cap (2 500 bps)
    else:
        assert want["bob"] == budget // 301 and want["bob"] > 13 * COR  # the finding: one point, 1/301 of the stream
    for who in POINTS:
        address = keys[who].address
        api = client.get(f"/v1/statements/{address}/1")
        assert api.status_code == 200, api.text
        cli = CliRunner().invoke(app, ["statement", address, "--epoch", "1", "--db", url, "--keys-dir", str(tmp / "keys"), "--json"])
        assert cli.exit_code == 0, cli.output
        for statement in (api.json(), json.loads(cli.output)):
            (line,) = [x for x in statement["items"] if x["stream"] == "community"]
            assert int(line["amount_units"]) == want[who] and line["detail"]["points"] == POINTS[who]
            if rule >= RULES_COMMUNITY_RATE:
                capped = who == "carol"  # (binding: 6 000 COR past the cap, the whole stream)
                assert int(line["detail"]["rate_units"]) == p.community_rate_per_point_units and line["detail"]["capped"] is capped
                assert line["detail"]["budget_binding"] is binding
            else:
                assert "rate_units" not in line["detail"]
        text = CliRunner().invoke(app, ["statement", address, "--epoch", "1", "--db", url, "--keys-dir", str(tmp / "keys")], env={"COLUMNS": "400"})
        csv = CliRunner().invoke(app, ["rewards", address, "--db", url, "--keys-dir", str(tmp / "keys"), "--csv"])
        assert text.exit_code == 0 and csv.exit_code == 0, (text.output, csv.output)
        said = f"{POINTS[who]} points at {rate} COR a point"
        capped = (
            f"capped at 100 % of the stream ({format_cor(budget)} COR)"
            if binding
            else f"capped at 25 % of the stream ({format_cor(budget // 4)} COR)"
        )
        for out in (text.output, csv.output):
            assert (said in out) == (rule >= RULES_COMMUNITY_RATE), out
            assert (capped in out) == (rule >= RULES_COMMUNITY_RATE and who == "carol"), out
            said_binding = f"pro rata: the epoch's claims ({format_cor(claims)} COR) exceeded the stream ({format_cor(budget)} COR)"
            assert (said_binding in out) is binding and ("pro rata" in out) is binding, out


def test_the_auditor_recomputes_the_epoch(net):
    rule, eng, keys, url, tmp = net
    for get in (api_get(TestClient(create_app(url))), published_getter(eng.state)):
        report = auditor.audit_epoch(auditor.fetch_bundle(get, 1)).to_dict()
        assert report["ok"], {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        q = report["quantities"]
        assert q["community.reward"]["total"] == 2
        if rule >= RULES_COMMUNITY_RATE:
            assert q["community.claim"]["total"] == 2 and q["community.rate_units"]["total"] == 1
        else:
            assert "community.claim" not in q


def test_the_auditor_catches_the_stream_split_by_points_under_rule_31(net):
    """A published epoch that split the stream by points under rule 31 (what 1-30 did) fails the audit."""
    rule, eng, keys, url, tmp = net
    if rule < RULES_COMMUNITY_RATE:
        pytest.skip("rule 30 splits it by points")
    bundle = auditor.fetch_bundle(published_getter(eng.state), 1)
    budget = int(bundle["epoch"]["streams"]["community"]["budget"])
    for x in bundle["epoch"]["lines"]:
        if x["stream"] == "community":
            x["amount_units"] = str(budget * x["detail"]["points"] // 301)
    report = auditor.audit_epoch(bundle).to_dict()
    bad = {q: v["total"] - v["matched"] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
    assert bad.get("community.reward") == 2
