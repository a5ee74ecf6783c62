"""Rule 29 (``RULES_SELF_REPORT``): an operator must not profit from reporting its own equivocation.

The operator signs two statements for every scope of its tasks (offline, after they settled or were cancelled) and
reports each pair from a second key the core cannot link to it. Under rules 4-28 the reporter took slash_reporter_bps of
the whole slash, delegators' pieces included, and each scope slashed every position again (the s33 audit's finding R1:
+4 217 COR net). From rule 29 the reporter is paid from the operator's own pieces only, and a scope dated before a slash
that jailed the node takes the operator's own positions only. Then: the boundaries of "before the jail", the audit
(``cor verify``) re-deriving the new amounts, and a rule-28 log replaying to the hash main's code gave it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.app.signing import sign_scoped
from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.rules import RULES_SELF_REPORT
from cor_incentives.core.signatures import private_key_address
from cor_incentives.core.slashing import audit_slashes, jailed_since, own_pieces, reporter_share
from cor_incentives.core.state_codec import state_hash
from cor_incentives.core.units import BPS, COR
from support.chain import addr
from support.market import MODEL, market, submit
from support.replays import replayed_to, through_snapshot

NODE_KEY = "0x" + "42" * 32
OP = private_key_address(NODE_KEY)
OLD = RULES_SELF_REPORT - 1
DELEGATOR = addr("user")


def self_report_chain(rule_version: int, *, delegated: int = 99_000, bond: int = 1_000, tasks: int = 3, jail_ticks: int | None = None):
    """The audit's reproduction: OP (self-bond ``bond``) with ``delegated`` COR from ``user``, drawn for the first
    ``tasks`` tasks it gets (each cancelled: no deadline missed); returns (chain, OP's task ids)."""
    params = {"redundancy": 2, "rule_version": rule_version}
    if jail_ticks is not None:
        params["jail_duration_ticks"] = jail_ticks
    c = market(n_miners=1, params=params)
    c.as_("dev", "transfer", {"to": OP, "amount": str(2 * bond * COR)})  # funding in the log: the chain replays
    c.submit(OP, "node.register", {"role": "miner", "self_bond": str(bond * COR), "models": [MODEL]})
    c.submit(OP, "transfer", {"to": addr("op2"), "amount": str(1 * COR)})  # op2: the operator's second key, funded by it
    if delegated:
        c.as_("user", "stake.delegate", {"node": OP, "amount": str(delegated * COR)})
    return c, served_tasks(c, tasks)


def served_tasks(c, n: int) -> list[int]:
    out: list[int] = []
    k = 0
    while len(out) < n:
        tid = submit(c, prompt=f"q{c.state.tick}-{k}")
        k += 1
        if OP in {a.miner for a in c.state.tasks[tid].miners}:
            out.append(tid)
        c.as_("user", "task.cancel", {"task": tid})
    return out


def pair(c, tid: int, phase: str = "precommit") -> list[dict]:
    scope = f"task:{tid}:{phase}"
    return [sign_scoped(NODE_KEY, c.state.chain_id, scope, m) for m in ("0xaaa", "0xbbb")]


def report(c, tid: int, phase: str = "precommit", reporter: str = "op2"):
    body = {"node": OP, "offence": "equivocation", "evidence": {"messages": pair(c, tid, phase)}}
    if reporter == "oracle":
        c.oracle("slash.report", body)
    else:
        c.as_(reporter, "slash.report", body)
    return c.state.slashes[-1]


def report_every_scope(c, tasks: list[int]) -> None:
    for tid in tasks:
        for phase in ("precommit", "reveal"):
            report(c, tid, phase)


def money(c) -> dict[str, int]:
    return {
        "bond": c.balance(f"bonded:{OP}"),
        "op2": c.balance(f"wallet:{addr('op2')}"),
        "delegated": c.balance(f"delegated:{OP}:{DELEGATOR}"),
    }


def every_scope_reported(rule_version: int):
    """The chain of ``self_report_chain(rule_version)`` after op2 reported every scope, its ``money`` before and after,
    what the operator's bond lost and what op2 gained."""
    c, tasks = self_report_chain(rule_version)
    before = money(c)
    report_every_scope(c, tasks)
    after = money(c)
    return c, before, after, before["bond"] - after["bond"], after["op2"] - before["op2"]


# --- the finding, before and after ------------------------------------------------------------------------------------


def test_under_rule_28_self_reporting_every_scope_pays_the_operator_off_its_delegators():
    c, before, after, op_loss, op2_gain = every_scope_reported(OLD)
    # the audit's numbers (/work/coord/s33/zeroaudit/self_report_equivocation.out): 6 slashes of 10 % of every position
    assert len(c.state.slashes) == 6 and all(s.to_reporter == s.total * 1_000 // BPS for s in c.state.slashes)
    kept = 9**6, 10**6  # each of the 6 slashes keeps 90 % of every position (exact in base units here)
    assert op_loss == before["bond"] - before["bond"] * kept[0] // kept[1]  # 468.56 COR
    assert before["delegated"] - after["delegated"] == before["delegated"] - before["delegated"] * kept[0] // kept[1]  # 46 387.34
    assert op2_gain == (op_loss + before["delegated"] - after["delegated"]) // 10  # 10 % of everything: 4 685.59 COR
    assert op2_gain - op_loss > 4_217 * COR  # the audit's +4 217.03 COR net


def test_under_rule_29_the_self_report_costs_the_operator_and_the_delegators_pay_one_lapse():
    c, before, after, op_loss, op2_gain = every_scope_reported(RULES_SELF_REPORT)
    assert len(c.state.slashes) == 6  # every scope still its own offence
    assert op_loss == before["bond"] - before["bond"] * 9**6 // 10**6  # its own stake pays for every scope, as under 28
    assert op2_gain == sum(own_pieces(OP, s.by_account) * 1_000 // BPS for s in c.state.slashes)
    assert 0 < op2_gain <= op_loss // 10 and op2_gain - op_loss < 0  # never a gain
    assert before["delegated"] - after["delegated"] == 99_000 * COR // 10  # one lapse: 10 % once
    first, rest = c.state.slashes[0], c.state.slashes[1:]
    assert set(first.by_account) == {f"bonded:{OP}", f"delegated:{OP}:{DELEGATOR}"}
    assert all(set(s.by_account) == {f"bonded:{OP}"} and s.slashable == s.total * 10 for s in rest)
    assert audit_slashes(c.state) == []
    replayed_to(c.events, c.state)


def test_under_rule_29_a_stranger_reporting_the_first_lapse_is_paid_from_the_operators_pieces_only():
    c, tasks = self_report_chain(RULES_SELF_REPORT)
    s = report(c, tasks[0], reporter="m0")  # a real stranger: the same share as the operator's second key would get
    own = s.by_account[f"bonded:{OP}"]
    assert own == 100 * COR and s.total == own + 9_900 * COR
    assert s.to_reporter == own * 1_000 // BPS == 10 * COR and s.burned == s.total // 2
    assert s.to_treasury == s.total - s.burned - s.to_reporter
    oracle = report(c, tasks[1], reporter="oracle")
    assert oracle.reporter is None and oracle.to_reporter == 0 and set(oracle.by_account) == {f"bonded:{OP}"}


def test_with_no_delegations_rule_29_pays_what_rule_28_paid():
    runs = {}
    for rule in (OLD, RULES_SELF_REPORT):
        c, tasks = self_report_chain(rule, delegated=0)
        report_every_scope(c, tasks)
        runs[rule] = [(s.total, s.to_reporter, s.burned, s.to_treasury) for s in c.state.slashes]
    assert runs[OLD] == runs[RULES_SELF_REPORT] and len(runs[OLD]) == 6


def test_the_operators_own_unbonding_entry_is_its_piece_and_the_delegators_entry_is_spared_after_the_jail():
    c, tasks = self_report_chain(RULES_SELF_REPORT)
    c.submit(OP, "stake.unbond", {"amount": str(200 * COR)})  # after the tasks' creation: slashable
    c.as_("user", "stake.undelegate", {"node": OP, "amount": str(9_000 * COR)})
    first = report(c, tasks[0])
    mine = [k for k in first.by_account if k.startswith(f"unbonding:{OP}#")]
    theirs = [k for k in first.by_account if k.startswith(f"unbonding:{DELEGATOR}#")]
    assert len(mine) == len(theirs) == 1
    assert own_pieces(OP, first.by_account) == first.by_account[f"bonded:{OP}"] + first.by_account[mine[0]] == 100 * COR
    assert first.to_reporter == 10 * COR
    second = report(c, tasks[1])
    assert set(second.by_account) == {f"bonded:{OP}", mine[0]}  # the delegator's entry and delegation spared
    assert second.total == 90 * COR and second.slashable == 900 * COR and second.to_reporter == 9 * COR
    assert audit_slashes(c.state) == []


# --- the boundaries of "before the jail" --------------------------------------------------------------------------------


def test_a_scope_double_signed_after_the_unjail_is_a_new_lapse_and_takes_every_position():
    c, tasks = self_report_chain(RULES_SELF_REPORT, tasks=1, jail_ticks=3)
    report(c, tasks[0])
    c.oracle("tick", {"ticks": 3})
    c.submit(OP, "stake.bond", {"amount": str(c.state.params.min_self_bond("miner") - c.balance(f"bonded:{OP}"))})
    c.submit(OP, "node.unjail", {})
    (late,) = served_tasks(c, 1)
    s = report(c, late)
    assert s.by_account.get(f"delegated:{OP}:{DELEGATOR}", 0) > 0  # a new lapse: the delegators pay again
    again = report(c, tasks[0], "reveal")  # an old scope reported now: dated before both jails, the operator's only
    assert set(again.by_account) == {f"bonded:{OP}"}
    assert audit_slashes(c.state) == []


def test_jailed_since_compares_ids_strictly():
    c, tasks = self_report_chain(RULES_SELF_REPORT, tasks=1)
    s = report(c, tasks[0])
    assert jailed_since(c.state, OP, s.id - 1) and not jailed_since(c.state, OP, s.id)  # an offence before the slash only
    assert not jailed_since(c.state, OP, s.id - 1, before_id=s.id)  # the audit of s itself does not count s
    assert jailed_since(c.state, OP, s.id - 1, before_id=s.id + 1)
    assert not jailed_since(c.state, addr("m0"), 0)  # never slashed


def test_a_jail_by_another_offence_caps_an_equivocation_dated_before_it():
    c, tasks = self_report_chain(RULES_SELF_REPORT, tasks=2)
    from cor_incentives.core.slashing import slash

    jail = slash(c.state, OP, "commit_mismatch", c.state.tasks[tasks[1]].created_tick, {"task": tasks[1]}, None, tasks[1])
    assert jail.jailed_until_tick is not None and f"delegated:{OP}:{DELEGATOR}" in jail.by_account
    s = report(c, tasks[0])
    assert set(s.by_account) == {f"bonded:{OP}"}


def test_a_counted_offence_jails_nobody_and_caps_nothing():
    c, tasks = self_report_chain(RULES_SELF_REPORT, tasks=2)
    from cor_incentives.core.slashing import slash

    miss = slash(c.state, OP, "missed_deadline", c.state.tasks[tasks[1]].created_tick, {"task": tasks[1]}, None, tasks[1])
    assert miss.jailed_until_tick is None and miss.id > tasks[0]
    s = report(c, tasks[0])  # dated before the counted slash, but no jail came between: every position
    assert f"delegated:{OP}:{DELEGATOR}" in s.by_account


def test_reporter_share_by_rule():
    pieces = {f"bonded:{OP}": 1_001, f"delegated:{OP}:{DELEGATOR}": 99_000, f"unbonding:{OP}#7": 9, f"redelegation:{OP}#8": 10}
    new, old = SimpleNamespace(rule_version=RULES_SELF_REPORT, slash_reporter_bps=1_000), SimpleNamespace(rule_version=OLD, slash_reporter_bps=1_000)
    assert own_pieces(OP, pieces) == 1_020
    assert reporter_share(new, OP, pieces) == 102 and reporter_share(old, OP, pieces) == 10_002  # floors
    assert own_pieces(OP, {f"delegated:{OP}:{OP[:-1]}0": 5, f"unbonding:{DELEGATOR}#1": 5}) == 0


# --- the audit re-derives the amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper, says",
    [
        (lambda s: setattr(s, "to_reporter", s.to_reporter + 1), "the reporter was paid"),
        (lambda s: s.by_account.__setitem__(f"delegated:{OP}:{DELEGATOR}", 1), "more than the operator's own stake"),
        (lambda s: s.by_account.__setitem__(f"unbonding:{DELEGATOR}#1", 1), "more than the operator's own stake"),
    ],
)
def test_the_audit_names_a_wrong_reporter_share_and_a_capped_slash_that_took_delegators_stake(tamper, says):
    c, tasks = self_report_chain(RULES_SELF_REPORT, tasks=2)
    report(c, tasks[0])
    s = report(c, tasks[1])
    assert audit_slashes(c.state) == []
    tamper(s)
    problems = audit_slashes(c.state)
    assert len(problems) == 1 and says in problems[0] and f"slash {s.id}" in problems[0]


def test_the_audit_of_a_rule_28_chain_reads_the_whole_slash():
    c, tasks = self_report_chain(OLD, tasks=2)
    report(c, tasks[0])
    s = report(c, tasks[1])
    assert audit_slashes(c.state) == [] and s.to_reporter == s.total * 1_000 // BPS
    s.to_reporter = own_pieces(OP, s.by_account) * 1_000 // BPS  # the new rule's amount on an old slash
    assert "the reporter was paid" in audit_slashes(c.state)[0]


# --- replay: a rule-28 log replays to the hash main's code gave it ------------------------------------------------------

# the state hash main's code (1e98ba4, rule 28 its latest) gave self_report_chain(28) + report_every_scope after replay,
# recorded once with its src
MAIN_STATE_HASH_28 = "0x13aa11a985556be16ef66194224242792c5e44c2fbbb46da8119d3625ad2cfa8"


def test_a_rule_28_log_replays_to_the_hash_main_gave_it_and_a_rule_29_log_replays_through_a_snapshot():
    c, tasks = self_report_chain(OLD)
    report_every_scope(c, tasks)
    old = replay(c.events, check_each=True)
    assert old.params.rule_version == OLD and state_hash(old) == MAIN_STATE_HASH_28
    c29, tasks29 = self_report_chain(RULES_SELF_REPORT)
    report_every_scope(c29, tasks29)
    new = replay(c29.events, check_each=True)
    assert state_hash(new) == state_hash(c29.state) != state_hash(old)
    through_snapshot(new)


# --- property: random lives under rules 28 and 29 side by side --------------------------------------------------------

ACTION = st.one_of(
    st.tuples(st.just("report"), st.integers(0, 2), st.sampled_from(["precommit", "reveal"]), st.sampled_from(["op2", "m0", "oracle"])),
    st.tuples(st.just("unbond"), st.integers(1, 400)),
    st.tuples(st.just("undelegate"), st.integers(1, 40_000)),
    st.tuples(st.just("tick"), st.integers(1, 30)),
)


def act(c, tasks: list[int], action: tuple) -> None:
    kind = action[0]
    try:
        if kind == "report":
            report(c, tasks[action[1]], action[2], action[3])
        elif kind == "unbond":
            c.submit(OP, "stake.unbond", {"amount": str(action[1] * COR)})
        elif kind == "undelegate":
            c.as_("user", "stake.undelegate", {"node": OP, "amount": str(action[1] * COR)})
        else:
            c.oracle("tick", {"ticks": action[1]})
    except EngineError:
        pass  # refused: nothing changed (the Chain checked conservation after every applied event)


def holdings(c, address: str) -> int:
    """What ``address`` holds: its wallet, its stake in OP, its unbonding entries."""
    stake = c.balance(f"bonded:{OP}") if address == OP else c.balance(f"delegated:{OP}:{address}")
    return c.balance(f"wallet:{address}") + stake + c.balance(f"unbonding:{address}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    delegated=st.integers(0, 200_000),
    bond=st.integers(1_000, 5_000),
    actions=st.lists(ACTION, min_size=1, max_size=12),
)
def test_random_lives_under_28_and_29_side_by_side(delegated, bond, actions):
    lives = {}
    for rule in (OLD, RULES_SELF_REPORT):
        c, tasks = self_report_chain(rule, delegated=delegated, bond=bond)
        start = {a: holdings(c, a) for a in (OP, DELEGATOR, addr("op2"))}
        for action in actions:
            act(c, tasks, action)
        lives[rule] = c, {a: holdings(c, a) - v for a, v in start.items()}
    (old, d_old), (new, d_new) = lives[OLD], lives[RULES_SELF_REPORT]
    assert len(old.state.slashes) == len(new.state.slashes)  # every scope is slashed under both rules
    assert d_new[OP] == d_old[OP]  # the operator's own stake pays the same for every scope
    assert d_new[DELEGATOR] >= d_old[DELEGATOR]  # delegators never lose more, and pay a lapse once
    assert sum(s.by_account.get(f"delegated:{OP}:{DELEGATOR}", 0) > 0 for s in new.state.slashes) <= 1
    for s in new.state.slashes:
        assert s.to_reporter == (own_pieces(OP, s.by_account) * 1_000 // BPS if s.reporter else 0)
    assert d_new[addr("op2")] + d_new[OP] <= 0  # the operator's two keys never gain (op2 spends nothing here)
    assert d_new[addr("op2")] <= -d_new[OP] // 10
    assert audit_slashes(new.state) == [] and audit_slashes(old.state) == []
    for c, _ in lives.values():
        through_snapshot(replayed_to(c.events, c.state))


@pytest.mark.parametrize("rule", [OLD, RULES_SELF_REPORT])
def test_the_standalone_auditor_recomputes_the_reporters_share_from_the_operators_own_slash_lines(rule):
    from cor_incentives import auditor
    from cor_incentives.app import views

    c, tasks = self_report_chain(rule, tasks=2)
    c.submit(OP, "stake.unbond", {"amount": str(100 * COR)})  # an own entry: its piece is the operator's line too
    report(c, tasks[0])
    report(c, tasks[1], reporter="m0")
    c.oracle("epoch.close", {})
    slashes = [views.slash(s) for s in c.state.slashes]
    r = auditor.Report(0)
    auditor.audit_slashes(r, views.epoch(c.state, 0), slashes, c.state.params.to_dict())
    q = r.quantities["slash.to_reporter"]
    assert (q.total, q.matched) == (2, 2) and r.ok
    wrong = [{**x, "to_reporter_units": str(int(x["total_units"]) // 10)} for x in slashes]  # the other rule's share
    r = auditor.Report(0)
    auditor.audit_slashes(r, views.epoch(c.state, 0), wrong, c.state.params.to_dict())
    q = r.quantities["slash.to_reporter"]  # under 29 the capped second slash is all the operator's: both shares agree
    assert [m["what"] for m in q.mismatches] == ([] if rule == OLD else [f"slash {slashes[0]['id']}"])
