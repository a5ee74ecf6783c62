"""Rule 17 (RULES_USER_CANARIES): a user task carries the oracle's canary commitment (``task.canary_commit``) and is
audited like a network task (docs/rewards.md, "Canaries"; docs/design.md §3)."""

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.pricing import quote
from cor_incentives.core.rules import RULES_USER_CANARIES
from cor_incentives.core.state_codec import state_hash
from cor_incentives.core.tasks import commitment
from cor_incentives.core.validation import canary_commitment
from support.market import commit_reveal, draw_now, h, market, network, submit, validate_all

HONEST = (20_000_000, 850_000_000)
GARBAGE = (1_000_000_000, 50_000_000)
PROMPT = "What is the capital of France?"  # support.market.submit's default prompt
PLANT = "Lyon is a city known for its food."  # fluent, off-topic


def refused(c, actor, kind, body, code):
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.submit(actor, kind, body)
    assert e.value.code == code
    assert c.state.to_dict() == before


def offences(c, node):
    return [(s.offence, s.evidence, s.offence_tick) for s in c.state.slashes if s.node == node]


def commit_body(tid, planted_text, salt="u1"):
    return {"task": tid, "canary": canary_commitment(h(PROMPT), h(planted_text) if planted_text else None, salt)}


def planted_user_task(c, salt="u1"):
    """A user task the oracle commits to at once (CREATED), its planted output revealed by its first drawn miner."""
    tid = submit(c)
    c.oracle("task.canary_commit", commit_body(tid, PLANT, salt))
    draw_now(c, tid)
    task = c.state.tasks[tid]
    plant = sorted(a.miner for a in task.miners)[0]
    commit_reveal(c, tid, {a.miner: (PLANT if a.miner == plant else "Paris") for a in task.miners})
    draw_now(c, tid)
    return task, plant


def test_a_planted_user_task_fails_the_lazy_validator_and_charges_the_user_for_its_real_outputs():
    # rule 17 itself: from rule 18 the planter is paid as a miner and the task quoted at its redundancy (test_paid_planter.py)
    c = market(n_miners=3, n_validators=3, beacon=True, params={"rule_version": RULES_USER_CANARIES})
    escrow0 = c.balance("escrow:session:1")
    task, plant = planted_user_task(c)
    lazy = sorted(task.validators)[0]
    validate_all(c, task.id, lambda v, m: (0, 10**9) if v == lazy else GARBAGE if m == plant else HONEST)
    # the user task waits for the oracle's opening like a network task
    assert task.kind == "user" and task.state == "AUDITING" and task.canary is None
    refused(c, c.state.oracle, "task.canary", {"task": task.id, "planted": h(PLANT), "salt": "wrong"}, "canary_mismatch")
    c.oracle("task.canary", {"task": task.id, "planted": h(PLANT), "salt": "u1"})
    assert task.state == "SETTLED" and task.canary == "planted" and task.canary_failed == [lazy]
    a = task.assignment(plant)
    assert a.planted and not a.in_consensus and a.paid == 0 and a.distance_ppb is None
    assert all(x.in_consensus and x.paid > 0 for x in task.miners if x.miner != plant)
    # the lazy validator: agreement 0 (no fee share), an offence, its row marked for the canary forfeit
    assert task.agreement_ppb[lazy] == 0
    assert offences(c, lazy) == [("validator_deviation", {"task": task.id}, task.created_tick)]
    assert not any(e.address == lazy and e.stream == "task_fee:validator" for e in c.state.earnings)
    rows = {r.node: r for r in c.state.epoch_validations if r.task == task.id}
    assert rows[lazy].canary_failed and not any(rows[v].canary_failed for v in rows if v != lazy)
    assert all(r.node != plant for r in c.state.epoch_work if r.task == task.id)
    assert offences(c, plant) == []
    # the user pays the quote for its 2 real outputs, not 3: exactly one per-miner price less than a plain task
    q = quote(c.state.models[task.model], task.settled_input_tokens, task.output_tokens, c.state.params, 2)
    assert task.redundancy == 3 and task.charged == q.total_units
    full = quote(c.state.models[task.model], task.settled_input_tokens, task.output_tokens, c.state.params, 3)
    assert full.total_units - task.charged == full.per_miner_units * c.state.params.price_factor_ppb // 10**9
    assert c.balance("escrow:session:1") == escrow0 - task.charged
    # golden, by hand: per_miner = (base 10**15 + 12 × 10**13 + 20 × 3 × 10**13) × 0.8 (q8_0) = 1.376 × 10**15;
    # price = (1.376 × 10**15 × 2 real outputs + validation fee 10**15) × price_factor 1.0 = 3.752 × 10**15 (not 5.128);
    # the miners' part 3.752 × 10**15 × 7 000 // 10 000 shared by the two real miners (equal quality)
    assert task.charged == 3_752_000_000_000_000
    assert sorted(x.paid for x in task.miners) == [0, 1_313_200_000_000_000, 1_313_200_000_000_000]
    payment = [e for e in c.state.earnings if e.stream == "task_payment" and e.detail["task"] == task.id]
    assert [(e.amount, e.detail["quote"]["redundancy"], e.detail["planted_outputs"]) for e in payment] == [(-task.charged, 2, 1)]
    c.oracle("epoch.close", {})
    forfeit = [i for i in c.state.epochs[0].items if i.stream == "canary_forfeit"]
    assert [(i.address, i.detail["failed_canaries"]) for i in forfeit] == [(lazy, [task.id])]
    assert replay(c.events).to_dict() == c.state.to_dict()


def test_a_user_task_committed_to_no_plant_settles_as_a_plain_task():
    c = market(n_miners=3, n_validators=3, beacon=True)
    tid = submit(c)
    c.oracle("task.canary_commit", commit_body(tid, None, "n1"))
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    validate_all(c, tid, lambda v, m: HONEST)
    assert task.state == "AUDITING"
    c.oracle("task.canary", {"task": tid, "salt": "n1"})
    assert task.state == "SETTLED" and task.canary == "none" and task.canary_failed == []
    q = quote(c.state.models[task.model], task.settled_input_tokens, task.output_tokens, c.state.params, 3)
    assert task.charged == q.total_units  # nothing planted: the full quote
    payment = [e for e in c.state.earnings if e.stream == "task_payment" and e.detail["task"] == tid]
    assert "planted_outputs" not in payment[0].detail


def test_the_commitment_is_refused_before_rule_17_on_a_network_task_twice_late_and_by_anyone_but_the_oracle():
    old = market(n_miners=3, n_validators=3, beacon=True, params={"rule_version": RULES_USER_CANARIES - 1})
    tid = submit(old)
    refused(old, old.state.oracle, "task.canary_commit", commit_body(tid, PLANT), "user_canaries_not_in_force")
    c = market(n_miners=3, n_validators=3, beacon=True)
    nid = network(c)
    refused(c, c.state.oracle, "task.canary_commit", commit_body(nid, PLANT), "not_user_task")
    tid = submit(c)
    refused(c, "0x" + "11" * 20, "task.canary_commit", commit_body(tid, PLANT), "unauthorized_actor")
    refused(c, c.state.tasks[tid].user, "task.canary_commit", commit_body(tid, PLANT), "unauthorized_actor")
    refused(c, c.state.oracle, "task.canary_commit", {"task": 10**6, "canary": h("x")}, "task_not_found")
    c.oracle("task.canary_commit", commit_body(tid, PLANT))
    refused(c, c.state.oracle, "task.canary_commit", commit_body(tid, None, "other"), "canary_already_committed")
    # the window: CREATED, PREPARED (miners drawn) and STARTED (a precommit: a hash, no output) take it ...
    late = submit(c)
    draw_now(c, late)
    t = c.state.tasks[late]
    assert t.state == "PREPARED"
    first = sorted(a.miner for a in t.miners)[0]
    c.submit(first, "task.precommit", {"task": late, "commit": commitment(late, first, h("Paris"), "salt")})
    assert t.state == "STARTED"
    c.oracle("task.canary_commit", commit_body(late, None, "s"))
    assert t.canary_commit is not None
    # ... but once the reveals open (PRECOMMITTED) no commitment is taken: the oracle never chooses after seeing an output
    revealed = submit(c)
    draw_now(c, revealed)
    r = c.state.tasks[revealed]
    for m in sorted(a.miner for a in r.miners):
        c.submit(m, "task.precommit", {"task": revealed, "commit": commitment(revealed, m, h("Paris"), "salt")})
    assert r.state == "PRECOMMITTED"
    refused(c, c.state.oracle, "task.canary_commit", commit_body(revealed, "Paris"), "canary_commit_window_closed")
    for m in sorted(a.miner for a in r.miners):
        c.submit(m, "task.reveal", {"task": revealed, "output_hash": h("Paris"), "salt": "salt"})
    draw_now(c, revealed)
    refused(c, c.state.oracle, "task.canary_commit", commit_body(revealed, "Paris"), "canary_commit_window_closed")
    validate_all(c, revealed, lambda v, m: HONEST)
    assert r.state == "SETTLED" and r.canary_commit is None  # no commitment: it settles without an audit
    refused(c, c.state.oracle, "task.canary_commit", commit_body(revealed, "Paris"), "canary_commit_window_closed")
    # without a beacon (the first rules) there are no canaries at all
    plain = market(n_miners=3, n_validators=3, beacon=False)
    tid = submit(plain)
    refused(plain, plain.state.oracle, "task.canary_commit", commit_body(tid, PLANT), "first_rules")


def test_rule_16_logs_replay_to_the_same_state_bytes():
    """A user task's settlement under rule 16 is the one it always was: same state hash on replay, full quote, no audit."""
    c = market(n_miners=3, n_validators=3, beacon=True, params={"rule_version": RULES_USER_CANARIES - 1})
    tid = submit(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    validate_all(c, tid, lambda v, m: HONEST)
    assert task.state == "SETTLED" and task.canary_commit is None and task.canary is None
    q = quote(c.state.models[task.model], task.settled_input_tokens, task.output_tokens, c.state.params, task.redundancy)
    assert task.charged == q.total_units
    again = replay(c.events)
    assert state_hash(again) == state_hash(c.state) and again.to_dict() == c.state.to_dict()


def test_a_user_canary_whose_plant_nobody_revealed_is_void_and_charges_the_full_quote():
    c = market(n_miners=3, n_validators=3, beacon=True)
    tid = submit(c)
    c.oracle("task.canary_commit", commit_body(tid, PLANT, "v1"))
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})  # the asked miner did not plant
    draw_now(c, tid)
    validate_all(c, tid, lambda v, m: HONEST)
    c.oracle("task.canary", {"task": tid, "planted": h(PLANT), "salt": "v1"})
    assert task.canary == "void" and not any(a.planted for a in task.miners)
    q = quote(c.state.models[task.model], task.settled_input_tokens, task.output_tokens, c.state.params, 3)
    assert task.charged == q.total_units
    # not opened by its deadline: a committed user task settles as "unopened", like a network task
    other = submit(c)
    c.oracle("task.canary_commit", commit_body(other, PLANT, "v2"))
    draw_now(c, other)
    t = c.state.tasks[other]
    commit_reveal(c, other, {a.miner: "Paris" for a in t.miners})
    draw_now(c, other)
    validate_all(c, other, lambda v, m: HONEST)
    assert t.state == "AUDITING"
    c.oracle("tick", {"ticks": c.state.params.canary_open_deadline_ticks})
    assert t.state == "SETTLED" and t.canary == "unopened"  # RULES_UNOPENED_CANARY
    assert replay(c.events).to_dict() == c.state.to_dict()
