"""The auditor recomputes each weighed task's spread and settled token counts (``validation.spread``,
``validation.tokens``) from the published reports and weights (rule 32), and ``cor task show`` shows the weights.

A devnet in a database (5 miners, 3 validators, every one on every task) where validator2 holds 25 000 of the 35 000 COR
of validator stake, so the stake-weighted lower median of three reports is validator2's, never the plain middle one.
The validators count apart (the prompt 9 / 10 / heavy 13, each output light 5 + j / 6 + j, heavy 20 + 3 j, the garbage
miners' 100) and reveal spreads 1 000 / 2 000 / heavy 3 000 ppb:

- task A (bound 14 input tokens, 48 output): 4 honest miners in consensus and one garbage miner out, no cap binds:
  settled_input 13 (the plain median would be 10), spread 3 000 (plain: 2 000), consensus_output the lower median of the
  four in consensus (not the upper one, not with the garbage miner's count);
- task B (heavy counts the prompt 30 > bound 14; max_output_tokens 8 below every count): both caps bind;
- task C (one honest output, four garbage): failed ``no_consensus`` (1 in consensus < min_consensus 2), its counts
  measured and no consensus output.

The epoch audits clean in-process, over ``cor audit --json`` and with the new checks counted; a published spread, input
count, miner count or consensus output off by one fails by the check's name; a rule-31 network's tasks publish no weight
and ``cor task show`` has no weight column there.

Each settled user task's price is recomputed from the model's card, the parameters, ``constants`` and the recomputed
counts (``task_fee.charged_units``, ``task_fee.payment``), its split from that price; the work and fee checks count the
recomputed tokens, so a published count off by one fails ``validation.tokens`` alone."""

from __future__ import annotations

import copy
import json

import pytest
from typer.testing import CliRunner

from cor_incentives import auditor
from cor_incentives.app.archive import get_task
from cor_incentives.app.published import published_getter
from cor_incentives.cli.main import app
from cor_incentives.core.pricing import quote
from cor_incentives.core.rules import RULES_PANEL_WEIGHTS
from cor_incentives.core.units import format_cor
from support.network import COR, make_network, run_commit_reveal, run_reports
from support.scenario import GARBAGE, HONEST, PROMPTS, scripted_reports, submit_task

HEAVY = 20_000  # COR bob delegates to validator2: 25 000 of the 35 000 of validator stake
PRICE_FACTOR = 955_000_000


def settle(eng, keys, prompt: str, max_out: int, honest: int, heavy_input: int) -> int:
    tid = submit_task(eng, keys, prompt, max_out=max_out)
    miners = [a.miner for a in get_task(eng.state, tid).miners]
    assert len(miners) == 5
    texts = HONEST[:honest] + [GARBAGE] * (5 - honest)
    run_commit_reveal(eng, keys, tid, dict(zip(miners, texts)))
    bad = {m for m, x in zip(miners, texts) if x == GARBAGE}
    heavy = keys["validator2"].address
    light = sorted(v for v in get_task(eng.state, tid).validators if v != heavy)
    assert len(light) == 2

    def reports(v: str) -> list[dict]:
        out = scripted_reports(get_task(eng.state, tid), bad, v)
        for j, r in enumerate(out):
            count = (20 + 3 * j if v == heavy else 5 + j + light.index(v)) if r["miner"] not in bad else 100
            r["output_tokens"] = count
        return out

    run_reports(
        eng,
        keys,
        tid,
        reports,
        input_tokens=lambda v: heavy_input if v == heavy else 9 + light.index(v),
        spread=lambda v: 3_000 if v == heavy else 1_000 * (1 + light.index(v)),
    )
    return tid


def build(tmp, rule_version: int | None):
    url = f"sqlite:///{tmp / 'cor.db'}"
    # a price factor off 1 (the controller's, 0.955): every factor of the quote moves the price (task_fee.charged_units)
    params = {"redundancy": 5, "price_factor_ppb": PRICE_FACTOR} | ({} if rule_version is None else {"rule_version": rule_version})
    eng, keys = make_network(url, tmp / "keys", n_miners=5, n_validators=3, params=params, seed="counts")
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["bob"].address, "amount": str(HEAVY * COR)})
    eng.submit_as(keys["bob"], "stake.delegate", {"node": keys["validator2"].address, "amount": str(HEAVY * COR)})
    a = settle(eng, keys, PROMPTS[0], 48, 4, 13)
    b = settle(eng, keys, PROMPTS[1], 8, 4, 30)
    c = settle(eng, keys, PROMPTS[0] + " ", 48, 1, 13)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    return eng, keys, url, (a, b, c)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    eng, keys, url, tasks = build(tmp_path_factory.mktemp("counts"), None)
    yield eng, keys, url, tasks
    eng.store.dispose()


@pytest.fixture(scope="module")
def bundle(net):
    return auditor.fetch_bundle(published_getter(net[0].state), 0)


def mismatched(bundle) -> dict[str, list[str]]:
    report = auditor.audit_epoch(bundle).to_dict()
    return {q: [x["what"] for x in v["mismatches"]] for q, v in report["quantities"].items() if v["matched"] < v["total"]}


def shown(bundle, tid: int) -> dict:
    return bundle["tasks"][str(tid)]


def test_the_world_separates_the_weighted_lower_median_and_the_caps(net):
    """The world the checks run on: each settled number is one a wrong formula would miss (pinned from the core)."""
    eng, keys, _, (a, b, c) = net
    s = eng.state
    assert s.params.rule_version >= RULES_PANEL_WEIGHTS
    ta, tb, tc = (get_task(s, t) for t in (a, b, c))
    heavy = keys["validator2"].address
    assert ta.panel_weights[heavy] == 25_000 * COR and sum(ta.panel_weights.values()) == 35_000 * COR
    assert (ta.state, ta.spread_ppb, ta.settled_input_tokens) == ("SETTLED", 3_000, 13)  # the plain medians: 2 000, 10
    outs = sorted(x.output_tokens for x in ta.miners if x.in_consensus)
    assert len(outs) == 4 and outs[0] < outs[1] < outs[2] and ta.output_tokens == outs[1]  # the lower of the middle two
    assert [x.output_tokens for x in ta.miners if not x.in_consensus] == [100]  # counted with them, the median would move
    assert (tb.state, tb.settled_input_tokens, tb.output_tokens) == ("SETTLED", 14, 8)  # both caps bind
    assert min(x.output_tokens for x in tb.miners if x.in_consensus) > 8 and tb.input_counts[heavy] == 30
    assert (tc.state, tc.failure, tc.output_tokens, tc.settled_input_tokens) == ("FAILED", "no_consensus", None, 13)
    assert tc.panel_weights and all(x.output_tokens is not None for x in tc.miners)
    assert [x.output_tokens for x in tc.miners if x.in_consensus] == [20]  # one in consensus, min_consensus 2: no output


def test_the_epoch_audits_clean_with_the_spread_and_the_token_counts_recomputed(net, bundle):
    eng, keys, url, tasks = net
    report = auditor.audit_epoch(bundle).to_dict()
    assert report["ok"], mismatched(bundle)
    q = report["quantities"]
    assert set(tasks) <= {int(t) for t in bundle["tasks"]}
    assert q["validation.spread"]["total"] == 3
    assert q["validation.tokens"]["total"] == 3 * (1 + 5 + 1)  # the prompt, each reveal, the consensus output
    assert not [x for x in report["not_recomputed"] if "not recomputable" in x]
    cli = CliRunner().invoke(app, ["audit", "0", "--db", url, "--json"])
    assert cli.exit_code == 0, cli.output
    out = json.loads(cli.output)
    assert out["ok"] and out["quantities"]["validation.tokens"] == q["validation.tokens"]
    assert out["quantities"]["validation.spread"] == q["validation.spread"]


@pytest.mark.parametrize(
    "field,check",
    [
        ("spread_ppb", "validation.spread"),
        ("settled_input_tokens", "validation.tokens"),
        ("consensus_output_tokens", "validation.tokens"),
    ],
)
def test_a_task_number_off_by_one_fails_by_name(bundle, net, field, check):
    a = net[3][0]
    for delta in (1, -1):
        tampered = copy.deepcopy(bundle)
        shown(tampered, a)[field] += delta
        bad = mismatched(tampered)
        assert f"task {a}" in bad.get(check, []) or f"task {a} {field}" in bad.get(check, []), bad


def test_a_miners_count_off_by_one_fails_by_name(bundle, net):
    """The miner whose count is the task's consensus output: only its own count is named (the consensus output is
    recomputed from the validators' counts, not from the published per-miner ones)."""
    a = net[3][0]
    for delta in (1, -1):
        tampered = copy.deepcopy(bundle)
        t = shown(tampered, a)
        m = next(m for m in t["miners"] if m["in_consensus"] and m["output_tokens"] == t["consensus_output_tokens"])
        m["output_tokens"] += delta
        assert mismatched(tampered) == {"validation.tokens": [f"task {a} {m['miner']} output_tokens"]}


def test_a_failed_task_published_with_a_consensus_output_fails(bundle, net):
    c = net[3][2]
    tampered = copy.deepcopy(bundle)
    shown(tampered, c)["consensus_output_tokens"] = 1
    assert f"task {c} consensus_output_tokens" in mismatched(tampered).get("validation.tokens", [])


def test_a_validators_count_moved_moves_the_recomputation(bundle, net):
    """The recomputation reads the validators' published counts: the heavy validator's prompt count moved down by 2
    (still above the light ones) moves the recomputed settled input by 2, so the published 13 is named."""
    eng, keys, _, (a, _, _) = net
    tampered = copy.deepcopy(bundle)
    heavy = next(v for v in shown(tampered, a)["validators"] if v["validator"] == keys["validator2"].address)
    heavy["input_tokens"] -= 2
    (q,) = [x for x in auditor.audit_epoch(tampered).to_dict()["quantities"]["validation.tokens"]["mismatches"]]
    assert q == {"what": f"task {a} settled_input_tokens", "recomputed": "11", "published": "13"}


def test_cor_task_show_has_a_weight_column(net):
    eng, keys, url, (a, _, c) = net
    for tid in (a, c):
        task = get_task(eng.state, tid)
        text = CliRunner().invoke(app, ["task", "show", str(tid), "--db", url], env={"COLUMNS": "400", "COR_KEYS_DIR": "/nonexistent"})
        assert text.exit_code == 0, text.output
        head = next(x for x in text.output.splitlines() if "validator" in x and "agreement" in x)
        assert "weight" in head.split("agreement")[1]
        rows = {cells[0]: cells for x in text.output.splitlines() for cells in [[c.strip() for c in x.strip("│ ").split("│")]] if len(cells) == 5}
        for v, w in task.panel_weights.items():  # validator, reported, agreement, spread, weight (in COR)
            assert rows[v][1] == "yes" and rows[v][4] == format_cor(w), rows[v]
        assert {format_cor(w) for w in task.panel_weights.values()} == {"5000", "25000"}


def test_a_rule_31_network_publishes_no_weight_and_shows_no_weight_column(tmp_path):
    eng, keys, url, (a, b, c) = build(tmp_path, RULES_PANEL_WEIGHTS - 1)
    try:
        view = auditor.fetch_bundle(published_getter(eng.state), 0)
        assert not any("weight" in v for t in view["tasks"].values() for v in t["validators"])
        report = auditor.audit_epoch(view).to_dict()
        assert report["ok"] and "validation.tokens" not in report["quantities"] and "validation.spread" not in report["quantities"]
        (note,) = [x for x in report["not_recomputed"] if x.startswith("not recomputable")]
        assert "spread and token counts of 3 task(s)" in note
        text = CliRunner().invoke(app, ["task", "show", str(a), "--db", url], env={"COLUMNS": "400", "COR_KEYS_DIR": "/nonexistent"})
        assert text.exit_code == 0, text.output
        assert "weight" not in text.output
    finally:
        eng.store.dispose()


def test_each_user_task_is_priced_from_its_card_the_params_and_the_recomputed_counts(net, bundle):
    """Tasks A and B (user tasks) are priced by the auditor: the quote at their settled counts (at most the escrow) is
    the core's charge, each factor of it moves the number (quantization q4_1 0.6, context 8 192 → 1.1, price factor
    0.955, a validation fee, both token prices), and the user's task_payment line is −price."""
    eng, _, url, (a, b, c) = net
    s = eng.state
    model = s.models[get_task(s, a).model]
    (first, p0), *_ = s.params_history.versions  # the parameters of epoch 0 (the controller moved the factor at its close)
    assert first == 0 and model.quantization == "q4_1" and model.context_length == 8_192 and p0.price_factor_ppb == PRICE_FACTOR
    assert p0.validation_fee_units and p0.input_price_per_token_units and p0.output_price_per_token_units
    views = auditor._numbers(bundle)
    card = next(m for m in views["models"] if m["id"] == model.id)
    for tid in (a, b):
        t = get_task(s, tid)
        q = quote(model, t.settled_input_tokens or 0, t.output_tokens or 0, p0, t.redundancy)
        p = auditor.params_for_epoch(views["params"], 0)
        assert t.charged == q.total_units == auditor.task_price(views["tasks"][str(tid)], p, views["params"]["constants"], card)
    report = auditor.audit_epoch(bundle).to_dict()
    assert report["ok"], mismatched(bundle)
    for check in ("task_fee.charged_units", "task_fee.payment"):
        assert report["quantities"][check] == {"matched": 2, "total": 2, "mismatches": []}  # A and B; C failed, no price
    assert not [x for x in report["not_recomputed"] if "price" in x or "quote" in x]
    cli = json.loads(CliRunner().invoke(app, ["audit", "0", "--db", url, "--json"]).output)
    assert cli["quantities"]["task_fee.charged_units"] == report["quantities"]["task_fee.charged_units"]


def test_a_charged_units_off_by_one_fails_by_name_alone(bundle, net):
    """The split is computed from the recomputed price, so only the published charge is named."""
    for tid in net[3][:2]:
        for delta in (1, -1):
            tampered = copy.deepcopy(bundle)
            shown(tampered, tid)["charged_units"] = str(int(shown(tampered, tid)["charged_units"]) + delta)
            assert mismatched(tampered) == {"task_fee.charged_units": [f"task {tid}"]}


def test_a_task_payment_line_off_by_one_fails_by_name(bundle, net):
    a = net[3][0]
    tampered = copy.deepcopy(bundle)
    (line,) = [x for x in tampered["epoch"]["lines"] if x["stream"] == "task_payment" and x["detail"]["task"] == a]
    line["amount_units"] = str(int(line["amount_units"]) - 1)
    assert mismatched(tampered)["task_fee.payment"] == [f"task {a}"]


@pytest.mark.parametrize("field", ["settled_input_tokens", "consensus_output_tokens"])
def test_a_published_count_off_by_one_fails_validation_tokens_alone(bundle, net, field):
    """The work rows and the price count the recomputed tokens: a wrong published count is named once, by its check, and
    no payout that moved by the right count is called wrong."""
    for tid in net[3][:2]:
        for delta in (1, -1):
            tampered = copy.deepcopy(bundle)
            shown(tampered, tid)[field] += delta
            assert mismatched(tampered) == {"validation.tokens": [f"task {tid} {field}"]}


def test_a_validators_count_moved_moves_the_price(bundle, net):
    """The other way round: the heavy validator's prompt count moved down by 2 moves the recomputed settled input to 11, so
    the price the auditor recomputes is the quote at 11 and the published charge (at 13) is named too."""
    eng, keys, _, (a, _, _) = net
    tampered = copy.deepcopy(bundle)
    heavy = next(v for v in shown(tampered, a)["validators"] if v["validator"] == keys["validator2"].address)
    heavy["input_tokens"] -= 2
    t = get_task(eng.state, a)
    at_11 = quote(eng.state.models[t.model], 11, t.output_tokens, eng.state.params_history.versions[0][1], t.redundancy).total_units
    report = auditor.audit_epoch(tampered).to_dict()["quantities"]
    assert report["task_fee.charged_units"]["mismatches"] == [{"what": f"task {a}", "recomputed": str(at_11), "published": str(t.charged)}]


def test_the_escrow_caps_the_price(bundle, net):
    """price = min(quote, escrowed): a published escrow 1 below the charge brings the recomputed price down to it."""
    b = net[3][1]
    tampered = copy.deepcopy(bundle)
    charged = int(shown(tampered, b)["charged_units"])
    shown(tampered, b)["escrowed_units"] = str(charged - 1)
    (x,) = auditor.audit_epoch(tampered).to_dict()["quantities"]["task_fee.charged_units"]["mismatches"]
    assert x == {"what": f"task {b}", "recomputed": str(charged - 1), "published": str(charged)}


@pytest.mark.parametrize("missing", ["quantization_factor_ppb", "context_factor_ppb", "card"])
def test_without_the_factor_tables_or_the_card_the_price_is_not_recomputable(bundle, missing):
    tampered = copy.deepcopy(bundle)
    if missing == "card":
        tampered["models"] = []
    else:
        del tampered["params"]["constants"][missing]
    report = auditor.audit_epoch(tampered).to_dict()
    assert report["ok"] and "task_fee.charged_units" not in report["quantities"]
    assert report["quantities"]["task_fee.payment"]["total"] == 2  # the published price still checked against the line
    (note,) = [x for x in report["not_recomputed"] if "charged_units" in x]
    assert note.startswith("not recomputable: the price (charged_units) of 2 user task(s)")
