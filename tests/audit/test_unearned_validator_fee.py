"""Rule 30 (RULES_UNEARNED_VALIDATOR_FEE) end to end: a devnet (3 validators, every one on every task) settles a user task
whose three validators report apart (each at least the tolerance from the consensus they make: every agreement 0) and
one honest task, and closes the epoch. The user's statement (``cor statement [--json]``, ``GET /v1/statements``, ``cor
rewards --csv``) shows the ``task_payment`` line naming the validators' part as unearned (in words in the table's and the
CSV's "why"), no validator is paid from that task's fee, and the
outside auditor recomputes the epoch (over the API and in-process) with ``task_fee.validators_unearned`` checked; under
rule 29 the same log pays the three equally and the auditor recomputes that too."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cor_incentives import auditor
from cor_incentives.api.app import create_app
from cor_incentives.app.archive import get_task
from cor_incentives.app.published import published_getter
from cor_incentives.cli.main import app
from cor_incentives.core.rules import RULES_UNEARNED_VALIDATOR_FEE
from cor_incentives.core.units import format_cor
from support.api_reads import api_get
from support.network import make_network, run_commit_reveal, run_reports
from support.scenario import HONEST, PROMPTS, settle_honest_task, submit_task
from support.unearned_fee import APART


def settle_apart(eng, keys) -> int:
    tid = submit_task(eng, keys, PROMPTS[0])
    miners = [a.miner for a in get_task(eng.state, tid).miners]
    run_commit_reveal(eng, keys, tid, dict(zip(miners, HONEST)))
    order = sorted(get_task(eng.state, tid).validators)
    assert len(order) == 3
    run_reports(
        eng,
        keys,
        tid,
        lambda v: [{"miner": m, "poi_distance_ppb": APART[order.index(v)][0], "quality_ppb": APART[order.index(v)][1]} for m in miners],
    )
    task = get_task(eng.state, tid)
    assert task.state == "SETTLED" and sum(task.agreement_ppb.values()) == 0
    return tid


@pytest.fixture(scope="module", params=[RULES_UNEARNED_VALIDATOR_FEE, RULES_UNEARNED_VALIDATOR_FEE - 1], ids=["rule_30", "rule_29"])
def net(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"unearned{request.param}")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, keys = make_network(url, tmp / "keys", n_miners=3, n_validators=3, params={"rule_version": request.param, "redundancy": 3})
    apart = settle_apart(eng, keys)
    honest = settle_honest_task(eng, keys, PROMPTS[1], with_garbage=False)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    yield request.param, eng, keys, url, tmp, apart, honest
    eng.store.dispose()


def test_the_users_statement_names_the_unearned_part_and_no_validator_is_paid(net):
    rule, eng, keys, url, tmp, apart, honest = net
    alice = keys["alice"].address
    task = get_task(eng.state, apart)
    part = task.split["validators"]
    client = TestClient(create_app(url))
    api = client.get(f"/v1/statements/{alice}/0")
    assert api.status_code == 200, api.text
    cli = CliRunner().invoke(app, ["statement", alice, "--epoch", "0", "--db", url, "--keys-dir", str(tmp / "keys"), "--json"])
    assert cli.exit_code == 0, cli.output
    for statement in (api.json(), json.loads(cli.output)):
        (pay,) = [x for x in statement["items"] if x["stream"] == "task_payment" and x["detail"]["task"] == apart]
        (other,) = [x for x in statement["items"] if x["stream"] == "task_payment" and x["detail"]["task"] == honest]
        assert "validators_unearned" not in other["detail"]
        if rule >= RULES_UNEARNED_VALIDATOR_FEE:
            assert int(pay["detail"]["validators_unearned"]) == part > 0
        else:
            assert "validators_unearned" not in pay["detail"]
    # the table's "why" column and the CSV (cor rewards --csv) say it in words
    text = CliRunner().invoke(app, ["statement", alice, "--epoch", "0", "--db", url, "--keys-dir", str(tmp / "keys")], env={"COLUMNS": "400"})
    csv = CliRunner().invoke(app, ["rewards", alice, "--db", url, "--keys-dir", str(tmp / "keys"), "--csv"])
    assert text.exit_code == 0 and csv.exit_code == 0, (text.output, csv.output)
    said = f"task {apart}: no reporting validator agreed; its validators' part ({format_cor(part)} COR) went to the treasury"
    for out in (text.output, csv.output):
        assert (said in out) == (rule >= RULES_UNEARNED_VALIDATOR_FEE), out
        assert "no reporting validator agreed" not in out.replace(said, "")
    epoch = client.get("/v1/epochs/0").json()
    paid = {x["address"]: int(x["amount_units"]) for x in epoch["lines"] if x["stream"] == "task_fee:validator" and x["detail"]["task"] == apart}
    if rule >= RULES_UNEARNED_VALIDATOR_FEE:
        assert paid == {}
    else:
        assert sorted(paid) == sorted(task.agreement_ppb) and set(paid.values()) == {part // 3}
    honest_paid = [x for x in epoch["lines"] if x["stream"] == "task_fee:validator" and x["detail"]["task"] == honest]
    assert len(honest_paid) == 3


def test_the_auditor_recomputes_the_epoch(net):
    rule, eng, keys, url, tmp, apart, honest = net
    for get in (api_get(TestClient(create_app(url))), published_getter(eng.state)):
        report = auditor.audit_epoch(auditor.fetch_bundle(get, 0)).to_dict()
        assert report["ok"], {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        q = report["quantities"]
        if rule >= RULES_UNEARNED_VALIDATOR_FEE:
            assert q["task_fee.validators_unearned"]["total"] == 1
        else:
            assert "task_fee.validators_unearned" not in q
        assert q["task_fee.validator"]["total"] == 6  # three reporting validators on each of the two tasks


def test_the_auditor_catches_a_validator_paid_the_unearned_part(net):
    """A published epoch that paid the apart task's validators equally under rule 30 (what 1-30 did) fails the audit."""
    rule, eng, keys, url, tmp, apart, honest = net
    if rule < RULES_UNEARNED_VALIDATOR_FEE:
        pytest.skip("rule 29 pays them")
    get = published_getter(eng.state)
    bundle = auditor.fetch_bundle(get, 0)
    task = get_task(eng.state, apart)
    share = task.split["validators"] // 3
    for v in sorted(task.agreement_ppb):
        bundle["epoch"]["lines"].append(
            {"address": v, "stream": "task_fee:validator", "amount_units": str(share), "claimable": True, "detail": {"task": apart}}
        )
    for x in bundle["epoch"]["lines"]:
        if x["stream"] == "task_payment" and x["detail"].get("task") == apart:
            x["detail"] = {k: v for k, v in x["detail"].items() if k != "validators_unearned"}
    report = auditor.audit_epoch(bundle).to_dict()
    bad = {q: v["total"] - v["matched"] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
    assert bad.get("task_fee.validator") == 3 and bad.get("task_fee.validators_unearned") == 1


def test_cor_task_show_says_who_got_what_of_the_fee_and_names_the_unearned_part(net):
    """``cor task show`` (text and --json) and ``GET /v1/tasks/{id}``: the settled task's ``fee`` lists each line its price
    paid (miners, validators, router, royalty), the treasury's and the dust, adding up to the price; for the apart task
    under 30 no validator line and ``validators_unearned`` = the validators' part (in the treasury's), said in words in
    the text; under 29 the three validators' equal shares and no such sentence."""
    rule, eng, keys, url, tmp, apart, honest = net
    client = TestClient(create_app(url))
    for tid in (apart, honest):
        task = get_task(eng.state, tid)
        cli = CliRunner().invoke(app, ["task", "show", str(tid), "--db", url, "--json"])
        assert cli.exit_code == 0, cli.output
        api = client.get(f"/v1/tasks/{tid}")
        assert api.status_code == 200, api.text
        for view in (json.loads(cli.output), api.json()):
            fee = view["fee"]
            assert int(fee["price_units"]) == task.charged > 0
            paid = [(x["address"], x["stream"], int(x["amount_units"])) for x in fee["paid"]]
            total = sum(a for _, _, a in paid) + int(fee["treasury_units"]) + int(fee["dust_units"])
            assert total == task.charged and int(fee["dust_units"]) >= task.split["dust"]
            miners = {a.miner: a.paid for a in task.miners if a.paid}
            assert {w: a for w, s, a in paid if s == "task_fee:miner"} == miners
            validators = {w: a for w, s, a in paid if s == "task_fee:validator"}
            unearned = tid == apart and rule >= RULES_UNEARNED_VALIDATOR_FEE
            own = task.split["treasury"] + (0 if task.router else task.split["router"])
            if unearned:
                assert validators == {} and int(fee["validators_unearned_units"]) == task.split["validators"] > 0
                assert int(fee["treasury_units"]) == own + task.split["validators"]
            else:
                assert fee["validators_unearned"] is None and int(fee["treasury_units"]) == own
                assert sorted(validators) == sorted(task.agreement_ppb)
                if tid == apart:  # rule 29: the equal split
                    assert set(validators.values()) == {task.split["validators"] // 3}
        listed = client.get("/v1/tasks").json()["tasks"]  # a list's tasks carry no fee (it reads the settlement's epoch)
        assert listed and tid in {x["id"] for x in listed} and all("fee" not in x for x in listed)
        text = CliRunner().invoke(app, ["task", "show", str(tid), "--db", url], env={"COLUMNS": "400", "COR_KEYS_DIR": str(tmp / "keys")})
        assert text.exit_code == 0, text.output
        assert f"fee {format_cor(task.charged)} (the treasury's: {view['fee']['treasury']})" in text.output and "task_fee:treasury" in text.output
        assert ("task_fee:validators_unearned" in text.output) == (tid == apart and rule >= RULES_UNEARNED_VALIDATOR_FEE)
        said = f"the validators' part {format_cor(task.split['validators'])} went to the treasury, unearned"
        assert (said in text.output) == (tid == apart and rule >= RULES_UNEARNED_VALIDATOR_FEE), text.output
