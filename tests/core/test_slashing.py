"""Slashing: offences dated from their evidence, stake bonded then stays slashable while it unbonds, counted offences
cost a fixed amount each, evidence re-derived (oracle reports checked against the core's own record, equivocation
canonical), and the audit ``cor verify`` runs."""

import pytest

from cor_incentives.app.signing import sign_scoped
from cor_incentives.core.errors import EngineError
from cor_incentives.core.rules import RULES_NEWCOMER_FLOOR, RULES_SLASHING
from cor_incentives.core.signatures import private_key_address
from cor_incentives.core.slashing import audit_slashes, counted_penalty, evidence_hash
from cor_incentives.core.tasks import commitment
from support.chain import CHAIN_ID, addr
from support.market import COR, MODEL, commit_reveal, market, submit, validate_all

NODE_KEY = "0x" + "42" * 32
NODE = private_key_address(NODE_KEY)
OTHER_KEY = "0x" + "43" * 32


def keyed_market():
    """A market whose first miner is NODE (a real key), so it can sign statements; task 1's miners are all three."""
    c = market(n_miners=2, params={"redundancy": 3})
    c.state.ledger.transfer("treasury", f"wallet:{NODE}", 10_000 * COR, "test funding")
    c.submit(NODE, "node.register", {"role": "miner", "self_bond": str(10_000 * COR), "models": ["smollm2-135m"]})
    tid = submit(c)
    assert NODE in {a.miner for a in c.state.tasks[tid].miners}
    return c, tid


def statements(tid, key=NODE_KEY, step="precommit"):
    scope = f"task:{tid}:{step}"
    return [sign_scoped(key, CHAIN_ID, scope, "0xaaa"), sign_scoped(key, CHAIN_ID, scope, "0xbbb")]


def refused(c, who, body, code):
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        if who == "oracle":
            c.oracle("slash.report", body)
        elif who.startswith("0x"):
            c.submit(who, "slash.report", body)
        else:
            c.as_(who, "slash.report", body)
    assert e.value.code == code, e.value
    assert c.state.to_dict() == before


def test_anyone_reports_equivocation_dated_at_the_task():
    c, tid = keyed_market()
    c.oracle("tick", {"ticks": 3})
    c.as_("user", "slash.report", {"node": NODE, "offence": "equivocation", "evidence": {"messages": statements(tid)}})
    s = c.state.slashes[-1]
    assert s.offence_tick == c.state.tasks[tid].created_tick < c.state.tick  # from the evidence, not the report
    assert s.total == 1000 * COR and s.to_reporter == 100 * COR and s.reporter == addr("user")
    assert c.state.nodes[NODE].jailed
    assert audit_slashes(c.state) == []


def test_one_equivocation_is_slashed_once_whatever_the_wrapping():
    c, tid = keyed_market()
    m1, m2 = statements(tid)
    c.as_("user", "slash.report", {"node": NODE, "offence": "equivocation", "evidence": {"messages": [m1, m2]}})
    refused(c, "user", {"node": NODE, "offence": "equivocation", "evidence": {"messages": [m2, m1]}}, "evidence_already_used")
    refused(c, "oracle", {"node": NODE, "offence": "equivocation", "evidence": {"messages": [m2, m1]}}, "evidence_already_used")
    third = sign_scoped(NODE_KEY, CHAIN_ID, f"task:{tid}:precommit", "0xccc")  # another pair for the same scope
    refused(c, "user", {"node": NODE, "offence": "equivocation", "evidence": {"messages": [m1, third]}}, "evidence_already_used")
    refused(c, "user", {"node": NODE, "offence": "equivocation", "evidence": {"messages": [m1, m2], "note": "again"}}, "invalid_evidence")
    refused(c, "user", {"node": NODE, "offence": "equivocation", "evidence": {"messages": [{**m1, "seen": "gossip"}, m2]}}, "invalid_evidence")
    assert evidence_hash(NODE, "equivocation", {"messages": [m1, m2]}) == evidence_hash(NODE, "equivocation", {"messages": [m2, third]})
    assert len(c.state.slashes) == 1


@pytest.mark.parametrize(
    "mutate,code",
    [
        (lambda m, t: [m[0], m[0]], "invalid_evidence"),  # the same statement twice
        (lambda m, t: [m[0], {**m[1], "scope": f"task:{t + 1}:precommit"}], "invalid_evidence"),  # two scopes
        (lambda m, t: [m[0], sign_scoped(OTHER_KEY, CHAIN_ID, f"task:{t}:precommit", "0xbbb")], "invalid_evidence"),  # another key
        (lambda m, t: [m[0], {**m[1], "signature": "0x00"}], "invalid_signature"),
        (lambda m, t: [m[0]], "invalid_evidence"),
        (lambda m, t: statements(t, step="vote"), "invalid_evidence"),  # a scope that names no task step
        (lambda m, t: statements(t + 50), "evidence_not_derivable"),  # a task that does not exist
        (lambda m, t: statements(t, step="report"), "evidence_not_derivable"),  # NODE is a miner, not a validator of the task
    ],
)
def test_bad_equivocation_evidence_refused(mutate, code):
    c, tid = keyed_market()
    refused(c, "user", {"node": NODE, "offence": "equivocation", "evidence": {"messages": mutate(statements(tid), tid)}}, code)


def test_a_node_cannot_report_itself_and_stale_evidence_is_refused():
    c, tid = keyed_market()
    refused(c, NODE, {"node": NODE, "offence": "equivocation", "evidence": {"messages": statements(tid)}}, "self_report")
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})  # the task is unbonding_period_epochs (2) old: stake bonded then may be withdrawn
    refused(c, "user", {"node": NODE, "offence": "equivocation", "evidence": {"messages": statements(tid)}}, "evidence_too_old")


def test_the_oracle_cannot_make_up_date_or_pay_for_a_task_offence():
    c = market(n_miners=3)
    tid = submit(c)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    validate_all(c, tid, lambda v, m: (0, 900_000_000))
    honest = task.miners[0].miner
    assert task.state == "SETTLED" and not c.state.slashes
    refused(c, "oracle", {"node": honest, "offence": "commit_mismatch", "evidence": {"task": 10**6}}, "evidence_not_derivable")
    for offence in ("commit_mismatch", "poi_divergence", "missed_deadline"):
        refused(c, "oracle", {"node": honest, "offence": offence, "evidence": {"task": tid}}, "evidence_not_derivable")
    refused(c, "oracle", {"node": task.validators[0], "offence": "validator_deviation", "evidence": {"task": tid}}, "evidence_not_derivable")
    refused(c, "oracle", {"node": task.validators[0], "offence": "poi_divergence", "evidence": {"task": tid}}, "evidence_not_derivable")
    refused(c, "oracle", {"node": honest, "offence": "commit_mismatch", "evidence": {"task": tid, "why": "x"}}, "invalid_evidence")
    refused(c, "oracle", {"node": honest, "offence": "commit_mismatch", "evidence": {"task": tid}, "offence_tick": 0}, "offence_tick_not_accepted")
    refused(c, "oracle", {"node": honest, "offence": "commit_mismatch", "evidence": {"task": tid}, "reporter": addr("user")}, "reporter_not_allowed")
    refused(c, "user", {"node": honest, "offence": "commit_mismatch", "evidence": {"task": tid}}, "unauthorized_reporter")
    refused(c, "oracle", {"node": honest, "offence": "bribery", "evidence": {"task": tid}}, "unknown_offence")


def test_an_offence_the_core_found_is_slashed_once():
    c = market(n_miners=3)
    tid = submit(c)
    task = c.state.tasks[tid]
    cheat = task.miners[0].miner
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners}, wrong_reveal={cheat})
    (s,) = c.state.slashes
    assert (s.node, s.offence, s.evidence, s.offence_tick, s.reporter) == (cheat, "commit_mismatch", {"task": tid}, task.created_tick, None)
    refused(c, "oracle", {"node": cheat, "offence": "commit_mismatch", "evidence": {"task": tid}}, "evidence_already_used")
    assert audit_slashes(c.state) == []


def test_unbonding_after_the_assignment_does_not_escape_the_slash():
    """The operator and a delegator unbond everything between the precommit and the mismatched reveal: their unbonding
    entries started after the offence (dated at the task's creation), so the slash takes its 5 % from them."""
    c = market(n_miners=3)
    tid = submit(c)
    task = c.state.tasks[tid]
    cheat = task.miners[0].miner
    c.as_("user", "stake.delegate", {"node": cheat, "amount": str(1000 * COR)})
    for a in task.miners:
        c.submit(a.miner, "task.precommit", {"task": tid, "commit": commitment(tid, a.miner, "0x" + "11" * 32, "salt")})
    c.oracle("tick", {"ticks": 1})
    c.submit(cheat, "stake.unbond", {"amount": str(2000 * COR)})
    c.as_("user", "stake.undelegate", {"node": cheat, "amount": str(1000 * COR)})
    c.submit(cheat, "task.reveal", {"task": tid, "output_hash": "0x" + "22" * 32, "salt": "salt"})  # the validators count
    (s,) = c.state.slashes
    assert s.total == 3000 * COR * 500 // 10_000 and s.slashable == 3000 * COR
    assert c.balance(f"unbonding:{cheat}") == 1900 * COR and c.balance(f"unbonding:{addr('user')}") == 950 * COR


def test_stake_that_unbonded_before_the_task_is_not_slashed():
    c = market(n_miners=3)
    c.as_("user", "stake.delegate", {"node": addr("m0"), "amount": str(1000 * COR)})
    c.as_("user", "stake.undelegate", {"node": addr("m0"), "amount": str(1000 * COR)})
    c.oracle("tick", {"ticks": 1})
    tid = submit(c)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, wrong_reveal={addr("m0")})
    (s,) = c.state.slashes
    assert s.node == addr("m0") and s.total == 100 * COR and c.balance(f"unbonding:{addr('user')}") == 1000 * COR


def test_a_counted_offence_costs_a_fixed_amount_whatever_the_stake():
    """A PoI divergence costs poi_divergence's 1 % of the miner minimum (1 000 COR) = 10 COR, on a 2 000 or a 20 000 COR node,
    taken pro rata from its positions."""
    c = market(n_miners=3)
    rich = addr("m2")
    c.as_("user", "stake.delegate", {"node": rich, "amount": str(18_000 * COR)})
    for _ in range(2):
        tid = submit(c)
        task = c.state.tasks[tid]
        miners = [a.miner for a in task.miners]
        commit_reveal(c, tid, {m: "Paris" if m not in (addr("m0"), rich) else f"junk {m}" for m in miners})
        validate_all(c, tid, lambda v, m: (900_000_000, 0) if m in (addr("m0"), rich) else (0, 900_000_000))
    by_node = {}
    for s in c.state.slashes:
        assert s.offence == "poi_divergence" and s.penalty == counted_penalty(c.state, s.node, "poi_divergence") == 10 * COR
        by_node.setdefault(s.node, []).append(s)
    for slashes in by_node.values():
        for s in slashes:
            assert s.total == sum(s.by_account.values()) and 10 * COR - len(s.by_account) < s.total <= 10 * COR
    rich_slash = by_node[rich][0]
    assert rich_slash.by_account[f"delegated:{rich}:{addr('user')}"] == 10 * COR * 18_000 // 20_000
    assert audit_slashes(c.state) == []


def test_the_audit_names_a_slash_its_evidence_does_not_support():
    c = market(n_miners=3)
    c.oracle("tick", {"ticks": 5})
    tid = submit(c)
    task = c.state.tasks[tid]
    cheat = task.miners[0].miner
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners}, wrong_reveal={cheat})
    s = c.state.slashes[-1]
    s.offence_tick = 0  # back-dated
    assert any("dated at tick 0" in p for p in audit_slashes(c.state))
    s.offence_tick = task.created_tick
    s.evidence = {"task": 10**6}
    assert any("does not exist" in p for p in audit_slashes(c.state))
    s.evidence = {"task": tid}
    s.node = task.miners[1].miner  # an honest miner of the same task
    assert any("shows no commit_mismatch" in p for p in audit_slashes(c.state))


def test_rule_versions_before_slashing_keep_the_first_slashing_rules():
    """A genesis naming rule version RULES_SLASHING - 1 slashes as logs recorded then did (core/slashing_first.py): the oracle
    reports any offence with the tick and reporter it names, counted offences wait for their per-node threshold, a new node
    starts at reputation 0.5 whatever is jailed; the same genesis on the latest rules refuses that report."""
    old = market(n_miners=4, params={"rule_version": RULES_SLASHING - 1})
    assert old.state.params.reputation_initial_ppb == 500_000_000 == old.state.nodes[addr("m0")].reputation_ppb
    report = {"node": addr("m0"), "offence": "commit_mismatch", "evidence": {"task": 1, "made": "up"}, "offence_tick": 0, "reporter": addr("user")}
    old.oracle("slash.report", report)
    (s,) = old.state.slashes
    assert (s.offence_tick, s.reporter, s.derived, s.total) == (0, addr("user"), False, 2000 * COR * 500 // 10_000)
    assert audit_slashes(old.state) == []  # rules 1-3 took the oracle's evidence as given: nothing to re-derive
    tid = submit(old)
    miners = [a.miner for a in old.state.tasks[tid].miners]
    commit_reveal(old, tid, {m: "Paris" if m != miners[1] else "junk" for m in miners})
    validate_all(old, tid, lambda v, m: (900_000_000, 0) if m == miners[1] else (0, 900_000_000))
    assert old.state.offence_log[f"{miners[1]}|poi_divergence"] == [(0, tid)]  # counted, below the threshold of 3: no slash
    assert [x.node for x in old.state.slashes] == [addr("m0")]

    new = market(n_miners=3)
    assert new.state.params.rule_version >= RULES_SLASHING
    refused(new, "oracle", report, "offence_tick_not_accepted")
    refused(new, "oracle", {k: v for k, v in report.items() if k != "offence_tick"}, "reporter_not_allowed")
    refused(new, "oracle", {"node": addr("m0"), "offence": "commit_mismatch", "evidence": {"task": 1, "made": "up"}}, "invalid_evidence")


def test_a_new_key_never_starts_above_a_jailed_node_of_its_role():
    """Rules 4-12 (rule 13 floors this cap at reputation_newcomer_floor_ppb: tests/core/test_newcomer_floor.py)."""
    c = market(n_miners=3, params={"rule_version": RULES_NEWCOMER_FLOOR - 1})
    tid = submit(c)
    cheat = c.state.tasks[tid].miners[0].miner
    c.state.nodes[cheat].reputation_ppb = 100_000_000  # a bad record
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, wrong_reveal={cheat})
    assert c.state.nodes[cheat].jailed
    c.as_("dev", "node.register", {"role": "miner", "self_bond": str(1000 * COR), "models": [MODEL]})
    c.as_("router", "stake.delegate", {"node": cheat, "amount": str(1 * COR)})  # unrelated traffic
    fresh = c.state.nodes[addr("dev")]
    assert fresh.reputation_ppb == fresh.reputation_start_ppb <= c.state.nodes[cheat].reputation_ppb
    c.as_("user", "node.register", {"role": "validator", "self_bond": str(2000 * COR)})  # another role: the initial value
    assert c.state.nodes[addr("user")].reputation_ppb == 500_000_000
