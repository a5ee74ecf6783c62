"""All-or-nothing events: a refused event changes nothing anywhere in the state, and a consequence
that cannot happen never blocks the oracle's time.

The fingerprint compared is the whole serialised state plus the derived draw index (the weight
trees the beacon's draws read), so nothing a refusal could leave behind goes unseen.
"""

from __future__ import annotations

import json

import pytest

from cor_incentives.core import apply as apply_module
from cor_incentives.core.apply import replay
from cor_incentives.core.errors import Conflict, EngineError
from cor_incentives.core.journal import JDict, JList, JSet, attempt, journal
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state
from support.chain import addr
from support.exact import exact
from support.market import MODEL, h, market, submit


def fingerprint(state: State) -> str:
    """Everything the state holds, the derived draw index included."""
    selection = None
    if state.selection is not None:
        selection = {
            "trees": {k: t.slots() for k, t in sorted(state.selection.trees.items())},
            "totals": {k: [t.total, t.count, list(t.fen), list(t.mx)] for k, t in sorted(state.selection.trees.items())},
            "weights": dict(sorted(state.selection.weights.items())),
            "marked": sorted(state.selection.marked),
            "bonds": state.selection.bonds,
        }
    encoded = encode_state(state).decode()  # every dict's key order too (a sorted-keys dump of ``to_dict`` would not see it)
    view = {"state": state.to_dict(), "selection": selection, "touched": sorted(state.touched), "encoded": encoded}
    return json.dumps(view, sort_keys=True, default=str)


def refused(c, actor: str, kind: str, body: dict, code: str) -> None:
    before = fingerprint(c.state)
    with pytest.raises(EngineError) as err:
        c.submit(actor, kind, body)
    assert err.value.code == code
    assert fingerprint(c.state) == before, f"refused {kind} ({code}) changed the state"


def test_journal_undoes_every_kind_of_write():
    d, lst, s = JDict({"a": 1}), JList([1, 2, 3]), JSet({1})
    with pytest.raises(RuntimeError), journal():
        d["a"], d["b"] = 2, {"x": 1}
        d["b"]["y"] = 2  # a stored plain dict became journaled
        del d["a"]
        lst.append(4)
        lst[0] = 9
        lst.sort(reverse=True)
        s.add(2)
        s.discard(1)
        raise RuntimeError("refused")
    assert (d, lst, s) == ({"a": 1}, [1, 2, 3], {1})


def test_attempt_undoes_only_its_own_writes():
    d = JDict({"a": 1})
    with journal() as entries:
        d["a"] = 2

        def fails() -> None:
            d["b"] = 3
            raise Conflict("cannot", code="cannot")

        error = attempt(fails)
        assert error is not None and error.code == "cannot"
        assert d == {"a": 2}
    assert len(entries) == 1


def test_a_tick_refused_after_time_moved_changes_nothing(monkeypatch):
    """A refusal deep inside the oracle's tick (after time, deadlines, escrows and the ledger moved)
    leaves every part of the state as it was, and the next tick is the one the log replays."""
    c = market(n_miners=3, n_validators=3, params={"epoch_length_ticks": 12}, beacon=True)
    tid = submit(c)
    c.oracle("tick", {"ticks": 1})  # the draw assigns miners and validators
    assert c.state.tasks[tid].miners
    real = apply_module.process_governance_tallies
    calls = {"n": 0}

    def refuses_late(state):
        real(state)
        calls["n"] += 1
        if state.tick >= 13:  # after the epoch's deadlines passed and the epoch closed
            raise Conflict("refused at the end of the tick", code="late_refusal")

    monkeypatch.setattr(apply_module, "process_governance_tallies", refuses_late)
    before = fingerprint(c.state)
    with pytest.raises(EngineError) as err:
        c.oracle("tick", {"ticks": 20})
    assert err.value.code == "late_refusal" and calls["n"] > 1
    assert fingerprint(c.state) == before
    monkeypatch.setattr(apply_module, "process_governance_tallies", real)
    c.oracle("tick", {"ticks": 20})
    assert c.state.epoch >= 1
    assert exact(replay(c.events)) == exact(c.state)


def test_a_tick_citing_a_wrong_checkpoint_reveals_no_beacon_value():
    """The tick reveals its beacon value before it checks the checkpoint it cites: refused, the
    beacon, the waiting draws and the draw index are as they were."""
    c = market(n_miners=3, n_validators=3, beacon=True)
    submit(c)
    refused(
        c,
        c.state.oracle,
        "tick",
        {"ticks": 1, "beacon": _next_beacon(c), "checkpoint": {"seq": c.state.seq, "hash": "0x" + "ab" * 32}},
        "checkpoint_mismatch",
    )
    c.oracle("tick", {"ticks": 1})
    assert exact(replay(c.events)) == exact(c.state)


def _next_beacon(c) -> str:
    from cor_incentives.app.beacon import next_value
    from support.chain import beacon_secret

    return next_value(c.state, beacon_secret)


def test_an_offence_is_slashed_once_by_the_core_and_never_blocks_the_tick():
    """The oracle cannot pre-report a miss the core will find (its report is refused and changes
    nothing); the tick that passes the deadline slashes each late miner once, skips nothing, and a
    report of the same miss afterwards is refused as already used; replay agrees."""
    c = market(n_miners=3, n_validators=3, params={"epoch_length_ticks": 50})
    tid = submit(c)
    lazy = c.state.tasks[tid].miners[0].miner
    before = exact(c.state)
    with pytest.raises(EngineError) as e:
        c.oracle("slash.report", {"node": lazy, "offence": "missed_deadline", "evidence": {"task": tid}})
    assert e.value.code == "evidence_not_derivable" and exact(c.state) == before
    tick, deadlines = c.state.tick, dict(c.state.deadlines)
    c.oracle("tick", {"ticks": max(deadlines) - tick + 1})
    assert c.state.tasks[tid].state == "FAILED"  # nobody precommitted
    assert sorted(s.node for s in c.state.slashes) == sorted(a.miner for a in c.state.tasks[tid].miners)  # each once
    assert c.state.skipped == []
    with pytest.raises(EngineError) as e:
        c.oracle("slash.report", {"node": lazy, "offence": "missed_deadline", "evidence": {"task": tid}})
    assert e.value.code == "evidence_already_used"
    c.oracle("epoch.close", {})
    assert c.state.epochs[0].skipped == []
    assert exact(replay(c.events, check_each=True)) == exact(c.state)


def test_refused_commands_of_every_family_change_nothing():
    c = market(n_miners=3, n_validators=3, beacon=True)
    tid = submit(c)
    c.oracle("tick", {"ticks": 1})
    refused(c, "0x" + "11" * 20, "transfer", {"to": addr("user"), "amount": "1"}, "insufficient_funds")
    refused(c, addr("m0"), "stake.unbond", {"amount": str(10**30)}, "unbond_exceeds_stake")
    refused(c, addr("user"), "task.cancel", {"task": tid + 99}, "task_not_found")
    refused(c, addr("m0"), "gov.vote", {"proposal": 7, "option": "yes"}, "proposal_not_found")
    refused(c, addr("user"), "session.open", {"deposit": str(10**40)}, "insufficient_funds")
    refused(
        c,
        addr("user"),
        "task.submit",
        {"session": 1, "model": MODEL, "prompt_hash": h("p"), "prompt_bytes": 1, "input_tokens": 1, "max_output_tokens": 10**9},
        "invalid_tokens",
    )
    c.oracle("tick", {"ticks": 1})
    assert exact(replay(c.events)) == exact(c.state)


def test_a_multiplier_the_kernel_cannot_use_is_refused_at_proposal():
    """Params and the work-reward kernel share one bound: 6.0 (above the kernel's proven 5.0) is
    refused when proposed, so no passed proposal can halt the epoch close."""
    c = market(n_miners=3, n_validators=3)
    body = {"kind": "param_change", "title": "x", "changes": {"reputation_multiplier_max_ppb": 6 * 10**9}, "effective_epoch": 1}
    refused(c, addr("m0"), "gov.propose", body, "parameter_out_of_bounds")
