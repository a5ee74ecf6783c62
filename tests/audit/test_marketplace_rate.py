"""Rule 31 (RULES_MARKETPLACE_RATE) end to end: a devnet (3 miners, 3 validators) settles one network task of the bundled
model (owner ``modeldev``) and closes the epoch. The owner's statement (``cor statement [--json]``, ``GET /v1/statements``,
``cor rewards --csv``) shows its ``marketplace`` line: under 31 the usage at ``marketplace_usage_rate_units`` (in words in
the table's and the CSV's "why"), the rest of the stream left in the pool; under 30 the whole stream. The outside auditor
recomputes the epoch (over the API and in-process) under both, and catches a rule-31 epoch that paid the whole stream."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cor_incentives import auditor
from cor_incentives.api.app import create_app
from cor_incentives.app.published import published_getter
from cor_incentives.cli.main import app
from cor_incentives.core.rules import RULES_MARKETPLACE_RATE
from cor_incentives.core.units import PPB, format_cor
from support.audit_scenario import network_task, run_task
from support.network import make_network

BINDING = str(10**30)  # a rate at which the one task's claim exceeds the stream's budget


@pytest.fixture(
    scope="module",
    params=[(RULES_MARKETPLACE_RATE, None), (RULES_MARKETPLACE_RATE, BINDING), (RULES_MARKETPLACE_RATE - 1, None)],
    ids=["rule_31", "rule_31_binding", "rule_30"],
)
def net(request, tmp_path_factory):
    rule, rate = request.param
    tmp = tmp_path_factory.mktemp(f"marketplace{rule}")
    url = f"sqlite:///{tmp / 'cor.db'}"
    params = {"rule_version": rule, "redundancy": 3} | ({"marketplace_usage_rate_units": rate} if rate else {})
    eng, keys = make_network(url, tmp / "keys", n_miners=3, n_validators=3, params=params)
    run_task(eng, keys, network_task(eng, keys, "Name a prime number."), garbage=False, seed=0)
    run_task(eng, keys, network_task(eng, keys, "Name a city."), garbage=True, seed=1)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    yield rule, eng, keys, url, tmp
    eng.store.dispose()


def test_the_owners_statement_shows_the_usage_at_the_rate(net):
    rule, eng, keys, url, tmp = net
    dev = keys["modeldev"].address
    client = TestClient(create_app(url))
    api = client.get(f"/v1/statements/{dev}/0")
    assert api.status_code == 200, api.text
    cli = CliRunner().invoke(app, ["statement", dev, "--epoch", "0", "--db", url, "--keys-dir", str(tmp / "keys"), "--json"])
    assert cli.exit_code == 0, cli.output
    epoch = client.get("/v1/epochs/0").json()
    stream = epoch["streams"]["marketplace"]
    budget = int(stream["budget"])
    rate = eng.state.params.marketplace_usage_rate_units
    binding = rule >= RULES_MARKETPLACE_RATE and rate == int(BINDING)
    for statement in (api.json(), json.loads(cli.output)):
        (line,) = [x for x in statement["items"] if x["stream"] == "marketplace"]
        inputs = line["detail"]["inputs"]
        usage = int(inputs["usage"])
        assert usage > 0
        if binding:  # one model: the whole budget, pro rata (budget × claim // claim)
            assert int(line["amount_units"]) == budget < int(inputs["claim"]) == usage * rate // PPB == int(inputs["claims"])
        elif rule >= RULES_MARKETPLACE_RATE:
            assert int(line["amount_units"]) == usage * rate // PPB == int(inputs["claim"]) < budget
            assert int(inputs["marketplace_usage_rate_units"]) == rate
        else:
            assert int(line["amount_units"]) == budget and "claim" not in inputs
    if binding:
        assert stream["budget_binding"] is True and int(stream["paid"]) == budget and int(stream["claims"]) == usage * rate // PPB
    elif rule >= RULES_MARKETPLACE_RATE:
        assert int(stream["rate_units"]) == rate and int(stream["paid"]) == usage * rate // PPB and stream["budget_binding"] is False
        assert int(stream["back_to_pool"]) == budget - usage * rate // PPB
    else:
        assert int(stream["paid"]) == budget and "rate_units" not in stream
    # the table's "why" column and the CSV (cor rewards --csv) say it in words
    text = CliRunner().invoke(app, ["statement", dev, "--epoch", "0", "--db", url, "--keys-dir", str(tmp / "keys")], env={"COLUMNS": "400"})
    csv = CliRunner().invoke(app, ["rewards", dev, "--db", url, "--keys-dir", str(tmp / "keys"), "--csv"])
    assert text.exit_code == 0 and csv.exit_code == 0, (text.output, csv.output)
    said = f"units of usage in network tasks × {format_cor(rate)} COR a unit = {format_cor(usage * rate // PPB)} COR"
    pro_rata = f"pro rata: the claims ({format_cor(usage * rate // PPB)} COR) exceeded the stream's budget ({format_cor(budget)} COR)"
    for out in (text.output, csv.output):
        assert (said in out) == (rule >= RULES_MARKETPLACE_RATE), out
        assert (pro_rata in out) == binding, out


def test_the_auditor_recomputes_the_epoch(net):
    rule, eng, keys, url, tmp = net
    for get in (lambda path, c=TestClient(create_app(url)): c.get(path).json(), published_getter(eng.state)):
        report = auditor.audit_epoch(auditor.fetch_bundle(get, 0)).to_dict()
        assert report["ok"], {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        q = report["quantities"]
        assert q["marketplace.share"]["total"] == 1 and q["marketplace.paid"]["total"] == 1
        assert ("marketplace.claims" in q) == (rule >= RULES_MARKETPLACE_RATE)


def test_the_auditor_catches_the_whole_stream_paid_under_rule_31(net):
    """A published rule-31 epoch that paid the owner the whole stream (what 1-30 did) fails the audit."""
    rule, eng, keys, url, tmp = net
    if rule < RULES_MARKETPLACE_RATE:
        pytest.skip("rule 30 pays the whole stream")
    bundle = auditor.fetch_bundle(published_getter(eng.state), 0)
    stream = bundle["epoch"]["streams"]["marketplace"]
    if stream["budget_binding"]:
        pytest.skip("the claims exceed the budget: the whole stream is due")
    for x in bundle["epoch"]["lines"]:
        if x["stream"] == "marketplace":
            x["amount_units"] = str(stream["budget"])
    stream["paid"] = stream["budget"]
    report = auditor.audit_epoch(bundle).to_dict()
    bad = {q: v["total"] - v["matched"] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
    assert bad.get("marketplace.share") == 1 and bad.get("marketplace.paid") == 1
