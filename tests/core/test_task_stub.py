"""Rule 27 (``RULES_TASK_STUB``): with pruning on, the event that closes a task retires its whole record at its end
(folded into ``pruned`` as ``task:<id>``, handed to the database through ``state.retired`` in that event) and leaves a
``ClosedTask`` stub in ``State.closed_tasks``, which the close past the window drops without a second fold. Rule 26 kept
the whole record live until that close. Every reader of a closed task inside the window reads the stub and answers as
it did from the whole record: the property test runs the same random lives under 26 and 27 side by side."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cor_incentives.app.signing import sign_scoped
from cor_incentives.core import apply as apply_module
from cor_incentives.core.apply import replay
from cor_incentives.core.errors import Conflict, EngineError
from cor_incentives.core.prune import TASK, fold
from cor_incentives.core.records import CLOSED_TASK_STATES, ClosedTask, Task, TaskState
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_FINE_TUNE_RELEASE, RULES_TASK_STUB
from cor_incentives.core.signatures import private_key_address
from cor_incentives.core.slashing import audit_slashes
from cor_incentives.core.state import task_names
from cor_incentives.core.state_codec import decode_record, encode_state, pruned_record_hash, state_hash
from cor_incentives.core.tasks import commitment, report_commitment
from support.chain import CHAIN_ID, addr
from support.market import COR, MODEL, commit_reveal, draw_now, h, market, network, submit, validate_all
from support.replays import replays_as_recorded, resumed_from_snapshot, through_snapshot

OLD, NEW = RULES_FINE_TUNE_RELEASE, RULES_TASK_STUB
NODE_KEY = "0x" + "42" * 32
NODE = private_key_address(NODE_KEY)  # a miner with a real key: equivocation evidence signed by it
# the state hash main's code (afd72f0, rule 26 the latest) gave old_rule_log(), recorded once with main's src
MAIN_STATE_HASH_26 = "0x8276431f8e9616dd8596b5ee6ca7aae49989e22c6ad72b20630c055a83a6b8ce"


def chain(rule_version: int, unbonding: int = 1, **params):
    """A market with a beacon and pruning on under ``rule_version``; its miners are m0-m2 and NODE (a real key)."""
    p = {"prune_closed_records": 1, "epoch_length_ticks": 20, "unbonding_period_epochs": unbonding, "rule_version": rule_version, **params}
    c = market(n_miners=3, n_validators=3, beacon=True, params=p)
    c.as_("user", "transfer", {"to": NODE, "amount": str(3_000 * COR)})
    c.submit(NODE, "node.register", {"role": "miner", "self_bond": str(2_000 * COR), "models": [MODEL]})
    return c


def settle(c, tid: int, judge=lambda v, m: (0, 900_000_000)) -> None:
    draw_now(c, tid)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners})
    draw_now(c, tid)
    validate_all(c, tid, judge)


def refusal(c, actor: str, kind: str, body: dict) -> tuple[str, str] | None:
    try:
        if actor == "oracle":
            c.oracle(kind, body)
        else:
            c.submit(actor if actor.startswith("0x") else addr(actor), kind, body)
    except EngineError as e:
        return e.code, e.message
    return None


def test_rule_27_stubs_closed_tasks_and_later_rules_keep_it():
    assert RULES_TASK_STUB == 27 and "stub" in RULE_VERSIONS[27] and LATEST >= RULES_TASK_STUB


def test_the_settling_event_retires_the_whole_record_and_leaves_its_stub():
    c = chain(NEW)
    tid = submit(c)
    before = (c.state.pruned.hash, c.state.pruned.count)
    settle(c, tid)
    assert tid not in c.state.tasks and not c.state.closing
    stub = c.state.closed_tasks[tid]
    rows = [r for r in c.state.retired if r[1] == TASK]
    assert len(rows) == 1
    seq, _, key, n, data, rules = rows[0]
    assert (seq, key, n, rules) == (c.state.seq, tid, before[1], NEW)  # handed over by the settling event itself
    whole = decode_record(Task, data)
    assert whole.state == TaskState.SETTLED and whole.closed_tick == c.state.tick and whole.reports
    assert stub == ClosedTask.of(whole) and task_names(stub) == task_names(whole)
    # folded with the fields rule NEW knew (a later rule's field, e.g. 31's Task.dissenters, stays out of its fold)
    assert c.state.pruned.hash == fold(before[0], TASK, tid, pruned_record_hash(Task, NEW, data)) and c.state.pruned.count == before[1] + 1
    c.state.check_entry_indexes()


def test_a_cancel_and_a_failure_leave_stubs_too_and_the_window_drops_them_without_a_second_fold():
    c = chain(NEW, epoch_length_ticks=100)
    cancelled = submit(c)
    c.as_("user", "task.cancel", {"task": cancelled})
    failed = submit(c)
    draw_now(c, failed)
    c.oracle("tick", {"ticks": 30})  # no precommit: failed at its deadline (too_few_precommits)
    assert {s.state for s in c.state.closed_tasks.values()} == {TaskState.CANCELLED, TaskState.FAILED}
    assert set(c.state.closed_tasks) == {cancelled, failed} and not c.state.tasks
    named = dict(c.state.node_refs.counts)
    assert all(named.get(m) for m in c.state.closed_tasks[failed].miners)  # the stub holds the node counts
    miners = c.state.closed_tasks[failed].miners
    for _ in range(3):
        if not c.state.closed_tasks:
            break
        c.state.retired.clear()
        count = c.state.pruned.count
        c.oracle("epoch.close", {})
        others = [r for r in c.state.retired if r[1] != TASK]
        assert not [r for r in c.state.retired if r[1] == TASK] and c.state.pruned.count == count + len(others)  # no second fold
        c.state.check_entry_indexes()
    assert not c.state.closed_tasks and c.state.epoch == 1  # created in epoch 0, window 1: dropped by epoch 0's close
    assert not any(c.state.node_refs.named(m) for m in miners)  # their names dropped with the stub
    assert refusal(c, "user", "task.cancel", {"task": cancelled})[0] == "task_not_found"


def closed_world(rule_version: int):
    """A settled user task (its validators drawn, no canary), a settled network task, a cancelled task."""
    c = chain(rule_version, unbonding=2)
    user_task = submit(c)
    settle(c, user_task)
    net_task = network(c)
    settle(c, net_task)
    cancelled = submit(c)
    c.as_("user", "task.cancel", {"task": cancelled})
    return c, user_task, net_task, cancelled


def test_every_command_naming_a_closed_task_is_refused_by_its_stub_as_by_its_whole_record():
    old, new = closed_world(OLD), closed_world(NEW)
    _, user_task, net_task, cancelled = new
    assert user_task in new[0].state.closed_tasks and user_task in old[0].state.tasks
    w = old[0].state.tasks[user_task]
    miner, validator = w.miners[0].miner, w.validators[0]
    probes = []
    for tid in (user_task, net_task, cancelled):
        t = old[0].state.tasks[tid]
        m = t.miners[0].miner if t.miners else miner
        v = t.validators[0] if t.validators else validator
        probes += [
            ("user", "task.cancel", {"task": tid}),
            ("m0", "task.cancel", {"task": tid}),
            (m, "task.precommit", {"task": tid, "commit": h("c")}),
            ("user", "task.precommit", {"task": tid, "commit": h("c")}),
            (m, "task.precommit", {"task": tid, "commit": "bad"}),
            (m, "task.reveal", {"task": tid, "output_hash": h("o"), "salt": "s"}),
            ("user", "task.reveal", {"task": tid, "output_hash": h("o"), "salt": "s"}),
            (v, "task.report_commit", {"task": tid, "commit": h("r")}),
            (m, "task.report_commit", {"task": tid, "commit": h("r")}),
            (v, "task.validate", {"task": tid, "reports": [], "salt": "s"}),
            ("user", "task.validate", {"task": tid, "reports": [], "salt": "s"}),
            ("oracle", "task.canary_commit", {"task": tid, "canary": h("c")}),
            ("oracle", "task.canary", {"task": tid, "salt": "s"}),
            ("oracle", "slash.report", {"node": m, "offence": "missed_deadline", "evidence": {"task": tid}}),
            ("oracle", "slash.report", {"node": v, "offence": "validator_deviation", "evidence": {"task": tid}}),
            ("oracle", "slash.report", {"node": addr("user"), "offence": "poi_divergence", "evidence": {"task": tid}}),
        ]
    codes = set()
    for actor, kind, body in probes:
        expected = refusal(old[0], actor, kind, body)
        got = refusal(new[0], actor, kind, body)
        assert got == expected and got is not None, (kind, body)
        codes.add(got[0])
    assert {"not_task_owner", "task_not_cancellable", "not_assigned", "precommit_window_over", "reveal_window_closed"} <= codes
    assert {"report_commit_window_closed", "validation_window_closed", "no_canary_commit", "not_user_task", "evidence_not_derivable"} <= codes


def test_equivocation_evidence_on_a_settled_task_is_judged_from_its_stub_as_from_its_record():
    worlds = []
    for rule_version in (OLD, NEW):
        c = chain(rule_version)
        for _ in range(6):  # until NODE serves a task
            tid = submit(c)
            draw_now(c, tid)
            if NODE in {a.miner for a in c.state.tasks[tid].miners}:
                break
        settle(c, tid)
        worlds.append((c, tid))
    (old, tid), (new, tid2) = worlds
    assert tid == tid2 and tid in new.state.closed_tasks
    scope = f"task:{tid}:precommit"
    evidence = {"messages": [sign_scoped(NODE_KEY, CHAIN_ID, scope, "0xaaa"), sign_scoped(NODE_KEY, CHAIN_ID, scope, "0xbbb")]}
    wrong = {
        "messages": [sign_scoped(NODE_KEY, CHAIN_ID, f"task:{tid}:report", "0xaaa"), sign_scoped(NODE_KEY, CHAIN_ID, f"task:{tid}:report", "0xbbb")]
    }
    body = {"node": NODE, "offence": "equivocation"}
    assert refusal(old, "user", "slash.report", body | {"evidence": wrong}) == refusal(new, "user", "slash.report", body | {"evidence": wrong})
    assert refusal(old, "user", "slash.report", body | {"evidence": evidence}) is None
    assert refusal(new, "user", "slash.report", body | {"evidence": evidence}) is None
    assert [(s.node, s.offence, s.offence_tick, s.total, s.evidence_hash) for s in new.state.slashes] == [
        (s.node, s.offence, s.offence_tick, s.total, s.evidence_hash) for s in old.state.slashes
    ]
    assert new.state.ledger.balances == old.state.ledger.balances
    assert audit_slashes(old.state) == [] == audit_slashes(new.state)  # an equivocation reads what the stub keeps


def test_the_slash_audit_reads_the_database_copy_of_a_settled_task_before_its_stub():
    """A commit mismatch in a settled task: ``_shows`` reads the whole record, which the audit takes from the database's
    copies (here: the row the settling event handed over); given none, the stub cannot show it and the audit says so."""
    c = chain(NEW)
    tid = submit(c)
    draw_now(c, tid)
    liar = c.state.tasks[tid].miners[0].miner
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, wrong_reveal={liar})
    copies = {r[2]: decode_record(Task, r[4]) for r in c.state.retired if r[1] == TASK}
    draw_now(c, tid)
    validate_all(c, tid, lambda v, m: (0, 900_000_000))
    copies |= {r[2]: decode_record(Task, r[4]) for r in c.state.retired if r[1] == TASK}
    assert tid in c.state.closed_tasks and tid in copies and [s.offence for s in c.state.slashes] == ["commit_mismatch"]
    assert audit_slashes(c.state, copies) == []
    problems = audit_slashes(c.state)
    assert len(problems) == 1 and "not at hand" in problems[0]


def test_a_refused_event_leaves_no_fold_no_stub_and_no_retired_row(monkeypatch):
    c = chain(NEW)
    tid = submit(c)
    before = encode_state(c.state)
    seq, rows = c.state.seq, list(c.state.retired)

    def refuse_after(state, actor, accounts):  # the event's writes and the retire are done: then refused
        raise Conflict("refused after the close", code="test_refusal")

    monkeypatch.setattr(apply_module, "note_accounts", refuse_after)
    with pytest.raises(EngineError):
        c.as_("user", "task.cancel", {"task": tid})
    assert encode_state(c.state) == before and c.state.seq == seq and c.state.retired == rows
    assert tid in c.state.tasks and tid not in c.state.closed_tasks and not c.state.closing
    c.state.check_entry_indexes()
    monkeypatch.undo()
    c.as_("user", "task.cancel", {"task": tid})
    assert tid in c.state.closed_tasks and [r[2] for r in c.state.retired if r[1] == TASK and r[0] == c.state.seq] == [tid]


def test_under_rule_26_or_with_pruning_off_a_closed_task_stays_whole():
    for c in (chain(OLD), chain(NEW, prune_closed_records=0)):
        tid = submit(c)
        settle(c, tid)
        assert c.state.tasks[tid].state == TaskState.SETTLED and not c.state.closed_tasks
        assert not [r for r in c.state.retired if r[1] == TASK]


def test_a_snapshot_of_stubs_decodes_to_the_same_state_and_indexes():
    c, *_ = closed_world(NEW)
    state = through_snapshot(c.state)
    assert encode_state(state) == encode_state(c.state) and state_hash(state) == state_hash(c.state)
    assert state.closed_tasks == c.state.closed_tasks and state.entry_indexes() == c.state.entry_indexes()
    assert list(state.closed_tasks) == list(c.state.closed_tasks)  # (their order is in the hash)


def test_a_queued_draw_of_a_task_cancelled_before_it_finds_only_the_stub_and_skips_it():
    c = chain(NEW, unbonding=0)
    tid = submit(c)
    c.as_("user", "task.cancel", {"task": tid})
    assert ("task:miners", tid) in [tuple(p) for p in c.state.beacon.pending] and tid in c.state.closed_tasks
    c.oracle("tick", {"ticks": 1})  # the draw runs: the task is not in State.tasks, skipped as a closed one is
    assert not c.state.beacon.pending and c.state.closed_tasks[tid].state == TaskState.CANCELLED
    c.oracle("epoch.close", {})
    assert tid not in c.state.closed_tasks
    assert encode_state(replay(c.events, check_each=True)) == encode_state(c.state)


# --- an old log --------------------------------------------------------------------------------------------------------


def old_rule_log():
    """Under rule 26 with pruning on: a settled, a cancelled and a failed task, three closes (the window retires them)."""
    c = chain(OLD)
    tid = submit(c)
    settle(c, tid)
    cancelled = submit(c)
    c.as_("user", "task.cancel", {"task": cancelled})
    failed = submit(c)
    draw_now(c, failed)
    c.oracle("tick", {"ticks": 30})
    for _ in range(3):
        c.oracle("epoch.close", {})
    assert c.state.pruned.count >= 3 and not c.state.tasks
    return c


def test_a_log_recorded_under_rule_26_replays_to_the_state_main_gave_it():
    c = old_rule_log()
    again = replay(c.events, check_each=True)
    assert state_hash(again) == state_hash(c.state) == MAIN_STATE_HASH_26
    assert encode_state(again) == encode_state(c.state) and not again.closed_tasks


# --- property: rules 26 and 27 side by side ------------------------------------------------------------------------------

ACTORS = ["m0", "m1", "m2", NODE, "v0", "v1", "v2", "user", "router"]
STEP = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 1), st.integers(0, 8)),
    st.tuples(st.just("network"), st.just(0), st.just(0)),
    st.tuples(st.just("drive"), st.integers(0, 12), st.integers(0, 3)),
    st.tuples(st.just("drive"), st.integers(0, 12), st.integers(0, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 12), st.integers(0, 8)),
    st.tuples(st.just("precommit"), st.integers(0, 12), st.integers(0, 8)),
    st.tuples(st.just("reveal"), st.integers(0, 12), st.integers(0, 8)),
    st.tuples(st.just("report"), st.integers(0, 12), st.integers(0, 8)),
    st.tuples(st.just("canary_commit"), st.integers(0, 12), st.just(0)),
    st.tuples(st.just("canary"), st.integers(0, 12), st.just(0)),
    st.tuples(st.just("equivocation"), st.integers(0, 12), st.integers(0, 2)),
    st.tuples(st.just("offence"), st.integers(0, 12), st.integers(0, 8)),
    st.tuples(st.just("tick"), st.sampled_from([1, 5, 17]), st.just(0)),
    st.tuples(st.just("close"), st.just(0), st.just(0)),
    st.tuples(st.just("snapshot"), st.just(0), st.just(0)),
)
OFFENCES = ["missed_deadline", "commit_mismatch", "poi_divergence", "validator_deviation"]
SCOPES = ["precommit", "reveal", "report"]


def _who(k: int) -> str:
    a = ACTORS[k % len(ACTORS)]
    return a if a.startswith("0x") else addr(a)


def act(c, step: tuple) -> tuple[str, str] | None:
    """One step on ``c`` (the same commands in both worlds: they read only what the two worlds share); the refusal."""
    name, n, k = step
    tid = 2 + n  # (ids 1.. are the session and the tasks; a number past them names no task)
    open_task = c.state.tasks.get(tid)
    try:
        if name == "submit":
            submit(c, **({"router": addr("router")} if n else {}))
        elif name == "network":
            network(c)
        elif name == "drive" and open_task is not None and open_task.state not in CLOSED_TASK_STATES:
            if k == 0 or open_task.state in ("CREATED", "COMMITTED") and not open_task.drawn_in(open_task.round):
                c.oracle("tick", {"ticks": 1})
            elif open_task.state in ("PREPARED", "STARTED", "PRECOMMITTED"):
                wrong = {a.miner for a in open_task.miners[:1]} if k == 3 else set()
                commit_reveal(c, tid, {a.miner: "Paris" for a in open_task.miners if a.commit is None or open_task.state == "PRECOMMITTED"}, wrong)
            else:
                judge = (lambda v, m: (0, 900_000_000)) if k != 2 else (lambda v, m: (900_000_000 if m == NODE else 0, 900_000_000))
                validate_all(c, tid, judge)
        elif name == "cancel":
            c.submit(_who(k), "task.cancel", {"task": tid})
        elif name == "precommit":
            miner = _who(k)
            c.submit(miner, "task.precommit", {"task": tid, "commit": commitment(tid, miner, h("o"), "salt")})
        elif name == "reveal":
            c.submit(_who(k), "task.reveal", {"task": tid, "output_hash": h("o" if k % 2 else "x"), "salt": "salt"})
        elif name == "report":
            v = _who(k)
            reports = [{"miner": m, "poi_distance_ppb": 0, "quality_ppb": 900_000_000, "output_tokens": 20} for m in ACTORS[:3]]
            c.submit(v, "task.report_commit", {"task": tid, "commit": report_commitment(tid, v, reports, "s", 12, 0)})
        elif name == "canary_commit":
            c.oracle("task.canary_commit", {"task": tid, "canary": h("canary")})
        elif name == "canary":
            c.oracle("task.canary", {"task": tid, "salt": "s"})
        elif name == "equivocation":
            scope = f"task:{tid}:{SCOPES[k]}"
            messages = [sign_scoped(NODE_KEY, CHAIN_ID, scope, "0xaaa"), sign_scoped(NODE_KEY, CHAIN_ID, scope, "0xbbb")]
            c.as_("user", "slash.report", {"node": NODE, "offence": "equivocation", "evidence": {"messages": messages}})
        elif name == "offence":
            c.oracle("slash.report", {"node": _who(k), "offence": OFFENCES[k % 4], "evidence": {"task": tid}})
        elif name == "tick":
            c.oracle("tick", {"ticks": n})
        elif name == "close":
            c.oracle("epoch.close", {})
    except EngineError as e:
        return e.code, e.message
    return None


def shared(c) -> dict:
    """What rules 26 and 27 must agree on: balances, claimables and roots, slashes, nodes, open tasks, time."""
    s = c.state
    return {
        "balances": dict(s.ledger.balances),
        "epochs": {e: (r.root, dict(r.leaves)) for e, r in s.epochs.items()},
        "claimed": set(s.claimed),
        "slashes": [(x.node, x.offence, x.offence_tick, x.total, x.evidence_hash) for x in s.slashes],
        "nodes": {a: (n.reputation_ppb, n.stake_total, n.jailed_until_tick) for a, n in s.nodes.items()},
        "open": {t: v for t, v in s.tasks.items() if v.state not in CLOSED_TASK_STATES},
        "evidence_used": set(s.evidence_used),
        "time": (s.tick, s.epoch, s.next_id),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(STEP, min_size=15, max_size=50))
def test_property_rules_26_and_27_answer_every_command_alike_and_27_keeps_only_stubs(steps):
    """After every command: the same acceptance or refusal (code and message) under 26 and 27, the same balances,
    claimables, roots, slashes, nodes and open tasks; 27's live state holds no closed task whole, and for each closed task
    26 still holds whole, 27 holds exactly its stub (``ClosedTask.of`` the record 26 holds), and nothing else; the event
    that closed a task under 27 handed over exactly that record (the bytes 26 holds); 27's derived indexes equal a
    rebuild. A snapshot of 27 decoded mid-way replays the rest to the same state, and both logs replay whole."""
    old, new = chain(OLD), chain(NEW)
    handed: dict[int, bytes] = {}  # task id -> the bytes the event that closed it handed over (each event's rows)
    submit_new = new.submit

    def submit_and_take(actor, kind, body):
        try:
            return submit_new(actor, kind, body)
        finally:
            for r in new.state.retired:
                if r[1] == TASK and r[0] == new.state.seq:
                    assert handed.setdefault(r[2], r[4]) == r[4]

    new.submit = submit_and_take
    snapshot = None
    dropped: set = set()
    for step in steps:
        if step[0] == "snapshot":
            snapshot = (encode_state(new.state), len(new.events))
            continue
        stubs_before = set(new.state.closed_tasks) | set(handed)
        live_before = set(new.state.closed_tasks)
        named_stub = 2 + step[1] in live_before
        got, expected = act(new, step), act(old, step)
        assert got == expected, step
        assert shared(new) == shared(old), step
        closed_old = {t: v for t, v in old.state.tasks.items() if v.state in CLOSED_TASK_STATES}
        assert not any(v.state in CLOSED_TASK_STATES for v in new.state.tasks.values())
        assert new.state.closed_tasks == {t: ClosedTask.of(v) for t, v in closed_old.items()}
        fresh = set(new.state.closed_tasks) - stubs_before
        assert fresh <= set(handed) and all(decode_record(Task, handed[t]) == old.state.tasks[t] for t in fresh)
        if fresh:
            event("a task closed and left a stub")
        if named_stub and step[0] not in ("tick", "close", "submit", "network", "drive"):
            event(f"a command naming a stub: {got[0] if got else 'accepted'}")
        if live_before - set(new.state.closed_tasks):
            dropped.add(step)
        new.state.check_entry_indexes()
    event(f"slashes: {min(len(new.state.slashes), 3)}{'+' if len(new.state.slashes) >= 3 else ''}")
    event(f"stubs dropped at a window's end: {bool(dropped)}")
    for c in (new, old):
        replays_as_recorded(c.events, c.state)
    if snapshot is not None:
        assert resumed_from_snapshot(snapshot, new.events, new.state).entry_indexes() == new.state.entry_indexes()
