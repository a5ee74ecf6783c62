"""Rule 24 (``RULES_SESSION_BOUND``): a session locks real money (``session.open`` needs a first deposit of at least
``session_min_deposit_units``) and a closed session leaves the live state at the next epoch close's prune (core/prune.py
``retire_sessions``), folded into ``pruned`` as ``session:<id>``.

The minimum's boundary (one base unit below is refused ``session_deposit_below_minimum`` with nothing written, the minimum
itself opens; an unfunded key and an open without a deposit are refused; a dedicated session pays its fee on top); the
retirement's boundary (closed before the close leaves at it, closed after waits for the next; open sessions stay; a task
still live names a retired session and reads nothing of it); the refusals of messages naming a retired session
(``session_not_found``, nothing changed); a session whose dedicated draw is still queued stays; no pruning and rule 23
keep everything; the old rule: a rule-23 log (free sessions) replays to the state hash main's code gave it; and a
property test over random session lives under rules 24 and 23 side by side, with snapshot replay."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core.apply import apply, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import content_hash
from cor_incentives.core.prune import SESSION, fold, retire_sessions
from cor_incentives.core.records import ClosedTask
from cor_incentives.core.rules import RULE_VERSIONS, RULES_SESSION_BOUND
from cor_incentives.core.sessions import RESERVE
from cor_incentives.core.state_codec import decode_state, encode_record, encode_state, state_hash
from support.chain import addr
from support.market import COR, live_task, market, submit

OLD = max(v for v in RULE_VERSIONS if v < RULES_SESSION_BOUND)
EPOCH = 20  # ticks
MIN = COR  # session_min_deposit_units' default
# the state hash main's code gave old_rule_log(), recorded once with main's src at 411361e (rule 23 the latest there)
MAIN_STATE_HASH_23 = "0xda84f5354424716f9aabc4eabc5154f9c0f716b8c51217173ab0a4bd2665b29a"


def chain(rule_version: int | None = None, prune: int = 1, beacon: bool = False):
    params = {"prune_closed_records": prune, "epoch_length_ticks": EPOCH}
    if rule_version is not None:
        params["rule_version"] = rule_version
    return market(params=params, beacon=beacon)


def refused(c, who: str, kind: str, body: dict, code: str) -> None:
    before, before_bytes, seq = c.state.to_dict(), encode_state(c.state), c.state.seq
    with pytest.raises(EngineError) as exc:
        c.as_(who, kind, body)
    assert exc.value.code == code, exc.value.message
    assert c.state.to_dict() == before and encode_state(c.state) == before_bytes and c.state.seq == seq


def open_session(c, who: str = "user", deposit: int = MIN, **extra) -> int:
    sid = c.state.next_id
    c.as_(who, "session.open", {"deposit": str(deposit), **extra})
    return sid


def close(c) -> None:
    c.oracle("epoch.close", {})


def test_the_first_deposit_must_reach_the_minimum():
    c = chain()
    assert c.state.params.session_min_deposit_units == MIN
    refused(c, "user", "session.open", {"deposit": str(MIN - 1)}, "session_deposit_below_minimum")
    refused(c, "user", "session.open", {}, "session_deposit_below_minimum")  # no deposit: 0
    refused(c, "nobody", "session.open", {"deposit": "0"}, "session_deposit_below_minimum")  # an unfunded key
    refused(c, "nobody", "session.open", {"deposit": str(MIN)}, "insufficient_funds")  # the minimum is real money
    with pytest.raises(EngineError) as exc:
        c.as_("user", "session.open", {"deposit": str(MIN - 1)})
    assert exc.value.details == {"minimum": str(MIN), "deposit": str(MIN - 1)} and "1 COR" in exc.value.message
    wallet = c.balance(f"wallet:{addr('user')}")
    sid = open_session(c, deposit=MIN)  # the minimum itself opens, into the escrow
    assert c.state.sessions[sid].is_open and c.balance(f"escrow:session:{sid}") == MIN
    assert c.balance(f"wallet:{addr('user')}") == wallet - MIN
    c.as_("user", "session.deposit", {"session": sid, "amount": "1"})  # a top-up has no minimum
    c.as_("user", "session.close", {"session": sid})  # and all of it returns at the close
    assert c.balance(f"wallet:{addr('user')}") == wallet


def test_the_minimum_is_governed():
    c = market(params={"session_min_deposit_units": str(5 * COR)})
    refused(c, "user", "session.open", {"deposit": str(5 * COR - 1)}, "session_deposit_below_minimum")
    open_session(c, deposit=5 * COR)


def test_a_dedicated_session_pays_its_fee_on_top_of_the_minimum():
    c = market(beacon=True)
    fee = 3 * c.state.params.dedicated_session_fee_units
    body = {"mode": "dedicated", "nodes": 3, "model": "smollm2-135m"}
    refused(c, "user", "session.open", {"deposit": str(MIN - 1), **body}, "session_deposit_below_minimum")
    treasury, wallet = c.balance("treasury"), c.balance(f"wallet:{addr('user')}")
    sid = open_session(c, deposit=MIN, **body)
    assert c.balance(f"escrow:session:{sid}") == MIN and c.balance("treasury") == treasury + fee
    assert c.balance(f"wallet:{addr('user')}") == wallet - MIN - fee


@pytest.mark.parametrize(("rule_version", "prune"), [(OLD, 1), (None, 0)])
def test_under_rule_23_a_free_session_opens_and_closed_sessions_stay(rule_version, prune):
    c = chain(rule_version, prune)
    if rule_version == OLD:
        sid = open_session(c, "nobody", 0)  # an unfunded key, no deposit: accepted (what rule 24 closes)
        assert c.state.sessions[sid].owner == addr("nobody")
    sid = open_session(c)
    c.as_("user", "session.close", {"session": sid})
    for _ in range(3):
        close(c)
    assert not c.state.sessions[sid].is_open and not any(r[1] == SESSION for r in c.state.retired)


def test_a_closed_session_leaves_at_the_next_close_folded_into_pruned():
    c = chain()
    kept, early, late = open_session(c), open_session(c), open_session(c)
    c.as_("user", "session.close", {"session": early})
    record = encode_record(c.state.sessions[early])
    c.oracle("tick", {"ticks": 3})
    assert early in c.state.sessions  # nothing leaves between closes
    count = c.state.pruned.count
    close(c)
    assert early not in c.state.sessions and kept in c.state.sessions and late in c.state.sessions and 1 in c.state.sessions
    rows = [r for r in c.state.retired if r[1] == SESSION]
    assert [(key, data) for _, _, key, _, data, _ in rows] == [(early, record)]
    assert c.state.pruned.count == count + len(c.state.retired)
    assert early not in c.state.closed_sessions
    c.as_("user", "session.close", {"session": late})  # closed after the close: it waits for the next
    c.oracle("tick", {"ticks": 1})
    assert late in c.state.sessions
    before = c.state.pruned.hash
    close(c)
    assert late not in c.state.sessions and kept in c.state.sessions
    expected = before
    for _, kind, key, _, data, _ in c.state.retired:
        expected = fold(expected, kind, key, content_hash(data))
    assert expected == c.state.pruned.hash and [r[2] for r in c.state.retired if r[1] == SESSION] == [late]
    c.state.check_entry_indexes()
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state) and state_hash(again) == state_hash(c.state)


def test_a_retired_sessions_tasks_stay_while_evidence_may_name_them():
    c = chain()
    sid = open_session(c, deposit=10 * COR)
    tid = submit(c, session=sid)
    c.as_("user", "task.cancel", {"task": tid})
    c.as_("user", "session.close", {"session": sid})
    close(c)
    assert sid not in c.state.sessions  # the session left; its closed task is still in the evidence window
    t = live_task(c, tid)  # (rule 27: its stub, which names no session)
    assert t.state == "CANCELLED" and (isinstance(t, ClosedTask) or t.session == sid)
    assert c.balance(f"escrow:session:{sid}") == 0 and f"escrow:session:{sid}" not in c.state.ledger.balances
    for _ in range(c.state.params.unbonding_period_epochs + 1):
        close(c)
    assert tid not in c.state.tasks and tid not in c.state.closed_tasks  # and leaves later, as rule 10 has it; nothing read the session meanwhile


def test_messages_naming_a_retired_session_are_refused_session_not_found():
    c = chain()
    sid = open_session(c, deposit=10 * COR)
    c.as_("user", "session.close", {"session": sid})
    refused(c, "user", "session.deposit", {"session": sid, "amount": str(COR)}, "session_closed")  # before: closed
    close(c)
    refused(c, "user", "session.deposit", {"session": sid, "amount": str(COR)}, "session_not_found")
    refused(c, "user", "session.close", {"session": sid}, "session_not_found")
    body = {"session": sid, "model": "smollm2-135m", "prompt_hash": "0x" + "ab" * 32, "prompt_bytes": 10, "input_tokens": 3, "max_output_tokens": 8}
    refused(c, "user", "task.submit", body, "session_not_found")
    refused(c, "nobody", "session.close", {"session": sid}, "session_not_found")  # anyone: the same answer


def test_a_session_whose_dedicated_draw_is_still_queued_stays():
    c = chain(beacon=True)
    sid = open_session(c, mode="dedicated", nodes=3, model="smollm2-135m")
    c.as_("user", "session.close", {"session": sid})  # closed before its miners were drawn
    assert (RESERVE, sid) in c.state.beacon.pending
    retire_sessions(c.state)
    assert sid in c.state.sessions
    c.state.beacon.pending.clear()
    retire_sessions(c.state)
    assert sid not in c.state.sessions


def test_a_dedicated_session_closed_before_its_draw_leaves_at_the_close_after_the_draw():
    c = chain(beacon=True)
    sid = open_session(c, mode="dedicated", nodes=3, model="smollm2-135m")
    c.as_("user", "session.close", {"session": sid})
    close(c)  # the close's prune runs with the draw still queued; the close's value draws its miners after it
    assert sid in c.state.sessions and len(c.state.sessions[sid].dedicated_miners) == 3 and not c.state.beacon.pending
    close(c)  # drawn: it leaves at the next close
    assert sid not in c.state.sessions
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)


def old_rule_log():
    """Under rule 23 with pruning on: an unfunded key opens three free sessions, a funded one opens, submits, cancels,
    closes; a dedicated one opened and closed; two closes (a parameter version is pruned: its folded hash takes the
    fields rule 23 knew, so rule 24's new parameter does not move it), another free session, a close."""
    c = chain(OLD)
    for _ in range(3):
        c.as_("nobody", "session.open", {})
    c.as_("user", "session.open", {"deposit": str(5 * COR), "redundancy": 2})
    sid = max(c.state.sessions)
    tid = submit(c, session=sid)
    c.as_("user", "task.cancel", {"task": tid})
    c.as_("user", "session.close", {"session": sid})
    c.as_("nobody", "session.close", {"session": sid - 1})
    c.as_("user", "session.open", {"deposit": str(2 * COR), "mode": "dedicated", "nodes": 3})
    c.as_("user", "session.close", {"session": max(c.state.sessions)})
    close(c)
    close(c)
    c.as_("nobody", "session.open", {"deposit": "0"})
    close(c)
    assert c.state.pruned.count == 5  # two epoch records, three parameter versions (as main pruned them)
    return c


def test_a_log_recorded_under_rule_23_replays_to_the_state_main_gave_it():
    assert OLD == 23
    c = old_rule_log()
    assert len(c.state.sessions) == 7 and sum(not s.is_open for s in c.state.sessions.values()) == 3  # all kept
    again = replay(c.events, check_each=True)
    assert state_hash(again) == state_hash(c.state) == MAIN_STATE_HASH_23
    assert encode_state(again) == encode_state(c.state)


LIFE = st.tuples(
    st.integers(0, 3),  # extra COR over the minimum in the first deposit
    st.booleans(),  # a top-up
    st.booleans(),  # a task submitted and cancelled
    st.booleans(),  # closed
)
ROUND = st.tuples(st.lists(LIFE, min_size=1, max_size=3), st.integers(0, 25), st.integers(0, 2), st.booleans(), st.booleans())


def actions_of(rounds: list) -> list[tuple]:
    """Each round: a few session lives (opened, maybe topped up, a task submitted and cancelled, closed), maybe the close
    of an earlier session, ticks, closes and maybe a snapshot."""
    out: list[tuple] = []
    for lives, ticks, closes, close_earlier, snapshot in rounds:
        for extra, top_up, task, closed in lives:
            out.append(("open", extra))
            out += [("deposit", -1)] if top_up else []
            out += [("task", -1)] if task else []
            out += [("close", -1)] if closed else []
        out += [("close", 0)] if close_earlier else []  # the oldest session still open
        out += [("tick", ticks)] if ticks else []
        out += [("epoch", 0)] * closes
        out += [("snapshot", 0)] if snapshot else []
    return out


def act(c, action: tuple, opened: list[int]) -> bool:
    name, arg = action
    if name == "tick":
        c.oracle("tick", {"ticks": arg})
        return True
    if name == "epoch":
        close(c)
        return True
    try:
        if name == "open":
            opened.append(open_session(c, deposit=MIN + arg * COR))
        elif name == "deposit":
            c.as_("user", "session.deposit", {"session": opened[-1], "amount": str(COR)})
        elif name == "task":
            tid = submit(c, session=opened[-1], max_out=8)
            c.as_("user", "task.cancel", {"task": tid})
        else:
            live = [s for s in opened if s in c.state.sessions and c.state.sessions[s].is_open]
            if not live:
                return False
            c.as_("user", "session.close", {"session": live[arg]})
    except EngineError:
        return False
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROUND, min_size=1, max_size=5))
def test_property_closed_sessions_leave_at_the_close_and_nothing_else_changes(rounds):
    c, old = chain(RULES_SESSION_BOUND), chain(OLD)  # (rule 25's model deposit would differ in the balances)
    opened: list[int] = []
    old_opened: list[int] = []
    snapshot = None
    retired: list[int] = []
    for action in actions_of(rounds):
        if action[0] == "snapshot":
            snapshot = (encode_state(c.state), len(c.events))
            continue
        epoch, live = c.state.epoch, set(c.state.sessions)
        closed_before = set(c.state.closed_sessions)
        done = act(c, action, opened)
        assert act(old, action, old_opened) == done
        if c.state.epoch > epoch:  # a close: exactly the sessions closed before it left, in id order
            gone = sorted(live - set(c.state.sessions))
            assert gone == sorted(closed_before) == [k for _, kind, k, _, _, _ in c.state.retired if kind == SESSION]
            retired += gone
        else:
            assert set(c.state.sessions) >= live  # nothing leaves between closes
        assert all(not s.is_open for s in (c.state.sessions[i] for i in c.state.closed_sessions))
    c.state.check_entry_indexes()
    # the same money, the same live sessions as under rule 23, every retired one closed there with nothing in escrow
    assert opened == old_opened
    assert c.state.ledger.balances == old.state.ledger.balances
    assert all(encode_record(s) == encode_record(old.state.sessions[i]) for i, s in c.state.sessions.items())
    assert set(c.state.sessions) | set(retired) == set(old.state.sessions) and not set(c.state.sessions) & set(retired)
    assert all(not old.state.sessions[i].is_open and old.state.sessions[i].open_tasks == 0 for i in retired)
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)
    if snapshot is not None:  # a state decoded from a snapshot replays the rest like the original
        state = decode_state(snapshot[0])
        assert state.closed_sessions == {i for i, s in state.sessions.items() if not s.is_open}
        for event in c.events[snapshot[1] :]:
            apply(state, event)
        assert encode_state(state) == encode_state(c.state) and state.closed_sessions == c.state.closed_sessions


@pytest.mark.parametrize("kind", ["session.close", "epoch.close"])
def test_a_refused_close_leaves_the_closed_sessions_index_as_it_was(monkeypatch, kind):
    """``state.closed_sessions`` (derived, journaled like ``sessions``): a session.close or an epoch close refused after its
    writes leaves it, the sessions and pruned as they were; a decoded snapshot rebuilds it; it is in no hash or snapshot."""
    from cor_incentives.core import apply as apply_module
    from support.chain import refusing

    c = chain()
    first, second = open_session(c), open_session(c)
    c.as_("user", "session.close", {"session": first})
    c.oracle("tick", {"ticks": 3})
    before, before_bytes = set(c.state.closed_sessions), encode_state(c.state)
    assert before == {first} and decode_state(before_bytes).closed_sessions == {first}
    body = {"session": second} if kind == "session.close" else {}
    send = (lambda: c.as_("user", kind, body)) if kind == "session.close" else (lambda: close(c))
    monkeypatch.setitem(apply_module.HANDLERS, kind, (refusing(apply_module.HANDLERS[kind][0]), apply_module.HANDLERS[kind][1]))
    with pytest.raises(EngineError, match="refused after the writes"):
        send()
    assert c.state.closed_sessions == before and encode_state(c.state) == before_bytes
    c.state.check_entry_indexes()
    monkeypatch.undo()
    send()
    c.state.check_entry_indexes()
    assert c.state.closed_sessions == ({first, second} if kind == "session.close" else set())
    assert "closed_sessions" not in c.state.to_dict() and b"closed_sessions" not in encode_state(c.state)
