"""Rule 18: a canary's planter is paid as a typical in-consensus miner of its task (core/tasks.py; docs/rewards.md, *Canaries*).

Before it the miner the oracle privately told to reveal the planted output earned nothing for the task, and ignoring the
instruction (revealing its own output) earned the normal pay and left the canary void (attack plant_refusal). Here: a
canary on a chain under rules 18 and 17 (the planter's row, its line at the close, its reputation and offences), the
fee share of a user task's planter, a leaked planted output paying nobody, the golden vector, and replays.
"""

import json
from pathlib import Path

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.pricing import complexity_units, quote
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_PAID_PLANTER
from cor_incentives.core.state_codec import encode_state
from cor_incentives.core.tasks import planter_quality_ppb
from cor_incentives.core.units import PPB
from cor_incentives.core.validation import canary_commitment
from support.market import MODEL, commit_reveal, draw_now, h, market, submit, validate_all

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "planter_quality.json").read_text())
PLANTED_TEXT = "an answer to another prompt"
CAUGHT = (1_000_000_000, 50_000_000)  # every validator evaluates: the planted output is far and poor
QA, QB = 800_000_001, 900_000_000  # the two in-consensus miners' qualities; the planter's: (QA + QB) // 2 = 850 000 000


@pytest.mark.parametrize("case", VECTORS["quality"], ids=lambda c: c["case"])
def test_the_planters_quality_is_the_in_consensus_median(case):
    assert planter_quality_ppb(case["qualities"]) == case["quality_ppb"]


def test_rule_18_says_what_changed():
    assert LATEST >= RULES_PAID_PLANTER == 18 and "plant_refusal" in RULE_VERSIONS[18]


def _canary(rule_version: int, leak: bool = False):
    """A network canary on a chain under ``rule_version``: miners[0] reveals the planted output (with ``leak``, miners[1]
    too), the others their own; every validator catches the planted output. Returns (chain, task, planter, winners)."""
    n = 4 if leak else 3  # two in-consensus miners either way
    c = market(n_miners=n, n_validators=3, beacon=True, params={"rule_version": rule_version, "redundancy": n})
    tid = c.state.next_id
    body = {"model": MODEL, "prompt_hash": h("q"), "prompt_bytes": 5, "input_tokens": 8, "max_output_tokens": 32}
    c.oracle("task.network", {**body, "canary": canary_commitment(h("q"), h(PLANTED_TEXT), "c1")})
    draw_now(c, tid)
    task = c.state.tasks[tid]
    planters = [a.miner for a in task.miners][: 2 if leak else 1]
    commit_reveal(c, tid, {a.miner: PLANTED_TEXT if a.miner in planters else f"Paris {a.miner}" for a in task.miners})
    draw_now(c, tid)
    winners = [a.miner for a in task.miners if a.miner not in planters]
    quality = dict(zip(winners, (QA, QB)))
    validate_all(c, tid, lambda v, m: CAUGHT if m in planters else (20_000_000, quality[m]))
    c.oracle("task.canary", {"task": tid, "planted": h(PLANTED_TEXT), "salt": "c1"})
    assert task.state == "SETTLED" and task.canary == "planted" and task.canary_failed == []
    return c, task, planters[0], winners


def _offences(c, node):
    """The node's task offences: slashed, or forgiven within its allowance (rule 7)."""
    n = c.state.nodes[node]
    return [s.offence for s in c.state.slashes if s.node == node] + ["forgiven"] * (n.forgiven + n.forgiven_prev)


def test_rule_18_pays_the_planter_the_tasks_units_at_the_in_consensus_median_quality():
    c, task, planter, winners = _canary(RULES_PAID_PLANTER)
    rep_before = c.state.nodes[planter].reputation_ppb
    a = task.assignment(planter)
    assert a.planted and not a.in_consensus and a.distance_ppb is None  # still out of the consensus
    assert a.quality_ppb == (QA + QB) // 2 == 850_000_000  # credited: the in-consensus median, not the planted output's
    rows = {r.node: r for r in c.state.epoch_work if r.task == task.id}
    units = complexity_units(c.state.params, c.state.models[task.model], task.settled_input_tokens, task.output_tokens)
    assert units > 0 and all(rows[w].complexity_units == units and rows[w].in_consensus for w in winners)
    p = rows[planter]
    assert (p.complexity_units, p.quality_ppb, p.in_consensus, p.precommitted) == (units, 850_000_000, True, True)
    assert c.state.nodes[planter].reputation_ppb == rep_before and _offences(c, planter) == []
    # at the close: the planter's miner_work line is the work formula over its one row (docs/rewards.md, Network work)
    c.oracle("epoch.close", {})
    doc = c.state.epochs[0]
    [line] = [i for i in doc.items if i.address == planter and i.stream == "miner_work:node"]
    inputs = line.detail["inputs"]
    pp = c.state.params
    multiplier = pp.reputation_multiplier_min_ppb + (pp.reputation_multiplier_max_ppb - pp.reputation_multiplier_min_ppb) * rep_before // PPB
    work = units * 850_000_000
    weighted = work * multiplier // PPB
    assert (inputs["assignments"], inputs["work"], inputs["multiplier_ppb"], inputs["weighted"]) == (1, work, multiplier, weighted)
    assert inputs["network_claim"] == weighted * pp.network_work_rate_units // PPB > 0
    assert int(inputs["reward"]) == inputs["claim"] == inputs["network_claim"]  # the budget does not bind here
    assert encode_state(replay(c.events)) == encode_state(c.state)


def test_rule_17_pays_the_planter_nothing_and_replays_the_same():
    c, task, planter, winners = _canary(RULES_PAID_PLANTER - 1)
    a = task.assignment(planter)
    assert a.planted and a.quality_ppb is None and a.paid == 0
    assert planter not in {r.node for r in c.state.epoch_work if r.task == task.id}
    assert {r.node for r in c.state.epoch_work if r.task == task.id} == set(winners)
    c.oracle("epoch.close", {})
    assert not [i for i in c.state.epochs[0].items if i.address == planter and i.stream.startswith("miner_work") and i.amount]
    assert encode_state(replay(c.events)) == encode_state(c.state)


def test_a_planted_output_revealed_twice_pays_neither():
    """Only the miner the oracle told has the planted output: a second copy means it was shared, and sharing must not pay."""
    c, task, planter, winners = _canary(RULES_PAID_PLANTER, leak=True)
    planted = [a for a in task.miners if a.planted]
    assert len(planted) == 2 and all(a.quality_ppb is None and a.paid == 0 for a in planted)
    assert {r.node for r in c.state.epoch_work if r.task == task.id} == set(winners)
    assert encode_state(replay(c.events)) == encode_state(c.state)


def _user_canary(rule_version: int):
    """A user task the oracle commits to (task.canary_commit, rule 17), its first drawn miner revealing the planted output."""
    c = market(n_miners=3, n_validators=3, beacon=True, params={"rule_version": rule_version})
    tid = submit(c)
    task = c.state.tasks[tid]
    c.oracle("task.canary_commit", {"task": tid, "canary": canary_commitment(task.prompt_hash, h(PLANTED_TEXT), "u1")})
    draw_now(c, tid)
    planter = task.miners[0].miner
    commit_reveal(c, tid, {a.miner: PLANTED_TEXT if a.miner == planter else f"Paris {a.miner}" for a in task.miners})
    draw_now(c, tid)
    winners = [a.miner for a in task.miners if a.miner != planter]
    quality = dict(zip(winners, (QA, QB)))
    validate_all(c, tid, lambda v, m: CAUGHT if m == planter else (20_000_000, quality[m]))
    c.oracle("task.canary", {"task": tid, "planted": h(PLANTED_TEXT), "salt": "u1"})
    assert task.state == "SETTLED" and task.canary == "planted"
    return c, task, planter, winners


def test_a_user_tasks_planter_takes_a_fee_share_at_its_credited_quality():
    """Rule 18 on a user canary (rule 17): the task is quoted at its redundancy like any other, and the planter shares the
    miners' part at the in-consensus median quality; under rule 17 the quote left its output out and it was paid nothing."""
    c, task, planter, winners = _user_canary(RULES_PAID_PLANTER)
    q = quote(c.state.models[task.model], task.settled_input_tokens, task.output_tokens, c.state.params, task.redundancy)
    assert task.redundancy == 3 and task.charged == q.total_units  # the price is the task's full quote, as for any user task
    pool = task.split["miners"]
    total = QA + QB + 850_000_000
    paid = {a.miner: a.paid for a in task.miners}
    assert paid == {winners[0]: pool * QA // total, winners[1]: pool * QB // total, planter: pool * 850_000_000 // total}
    fee = [i for i in c.state.earnings if i.address == planter and i.stream == "task_fee:miner"]
    assert [(i.amount, i.detail["quality_ppb"], i.detail["total_quality_ppb"], i.detail.get("planted")) for i in fee] == [
        (paid[planter], 850_000_000, total, True)
    ]
    payment = [e for e in c.state.earnings if e.stream == "task_payment" and e.detail["task"] == task.id]
    assert [(e.detail["quote"]["redundancy"], "planted_outputs" in e.detail) for e in payment] == [(3, False)]
    rows = {r.node: r for r in c.state.epoch_work if r.task == task.id}
    assert rows[planter].fee_units == paid[planter] and rows[planter].quality_ppb == 850_000_000 and rows[planter].in_consensus
    assert encode_state(replay(c.events)) == encode_state(c.state)
    # the same canary under rule 17: 2 of 3 outputs quoted, the planter unpaid and without a row
    c17, t17, p17, _ = _user_canary(RULES_PAID_PLANTER - 1)
    q17 = quote(c17.state.models[t17.model], t17.settled_input_tokens, t17.output_tokens, c17.state.params, 2)
    assert t17.charged == q17.total_units < task.charged and t17.assignment(p17).paid == 0
    assert p17 not in {r.node for r in c17.state.epoch_work if r.task == t17.id}
    assert encode_state(replay(c17.events)) == encode_state(c17.state)


def test_the_fee_share_vector():
    [case] = VECTORS["fee_share"]
    total = sum(case["winners"]) + case["planter"]
    assert [case["pool"] * q // total for q in case["winners"] + [case["planter"]]] == case["shares"]
    assert planter_quality_ppb(case["winners"]) == case["planter"]
