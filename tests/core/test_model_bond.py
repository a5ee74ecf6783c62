"""Rule 25 (``RULES_MODEL_BOND``): a model listing locks real money (``model.register`` moves
``model_listing_deposit_units`` to ``escrow:model:<id>``), ``model.retire`` returns it, and a retired model leaves the
live state at the first close's prune at which no open task names it (core/prune.py ``retire_models``)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import content_hash
from cor_incentives.core.prune import MODEL as MODEL_KIND
from cor_incentives.core.prune import fold, open_task_models, retire_models
from cor_incentives.core.records import CLOSED_TASK_STATES
from cor_incentives.core.rules import RULE_VERSIONS, RULES_MODEL_BOND
from cor_incentives.core.state_codec import decode_state, encode_record, encode_state, state_hash
from support.chain import addr
from support.market import COR, MODEL, commit_reveal, h, live_task, market, submit, validate_all

OLD = max(v for v in RULE_VERSIONS if v < RULES_MODEL_BOND)
EPOCH = 20  # ticks
DEPOSIT = 10 * COR  # model_listing_deposit_units' default
# the state hash main's code gave old_rule_log(), recorded once with main's src at 37add02 (rule 24 the latest there)
MAIN_STATE_HASH_24 = "0xdcf6ca2a1193f8bd57a548da6726b08d85718cea9718216c4df295c76f994fea"


def chain(rule_version: int | None = None, prune: int = 1, beacon: bool = False, **params):
    p = {"prune_closed_records": prune, "epoch_length_ticks": EPOCH, **params}
    if rule_version is not None:
        p["rule_version"] = rule_version
    return market(params=p, beacon=beacon)


def card(model_id: str, parent: str | None = None) -> dict:
    body = {"id": model_id, "parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit", "content_hash": h(model_id)}
    return body | ({"parent": parent} if parent else {})


def refused(c, who: str, kind: str, body: dict, code: str) -> EngineError:
    before, before_bytes, seq = c.state.to_dict(), encode_state(c.state), c.state.seq
    with pytest.raises(EngineError) as exc:
        c.as_(who, kind, body)
    assert exc.value.code == code, exc.value.message
    assert c.state.to_dict() == before and encode_state(c.state) == before_bytes and c.state.seq == seq
    return exc.value


def close(c) -> None:
    c.oracle("epoch.close", {})


def wallet(c, who: str) -> int:
    return c.balance(f"wallet:{addr(who)}")


def test_a_listing_locks_the_deposit_in_the_models_escrow():
    c = chain()
    assert c.state.params.model_listing_deposit_units == DEPOSIT
    assert c.balance(f"escrow:model:{MODEL}") == DEPOSIT  # the market's model paid it too
    before, supply = wallet(c, "dev"), c.state.ledger.total_supply()
    c.as_("dev", "model.register", card("tiny"))
    assert c.balance("escrow:model:tiny") == DEPOSIT and wallet(c, "dev") == before - DEPOSIT
    assert c.state.ledger.total_supply() == supply  # moved, not burned
    assert c.state.models["tiny"].retired_tick is None


def test_an_unfunded_key_is_refused_and_nothing_is_written():
    c = chain()
    err = refused(c, "nobody", "model.register", card("spam-0"), "model_deposit_unfunded")  # the nonce stays unused too
    assert err.details == {"deposit": str(DEPOSIT), "balance": "0"} and "10 COR" in err.message
    c.as_("user", "transfer", {"to": addr("poor"), "amount": str(DEPOSIT - 1)})
    refused(c, "poor", "model.register", card("spam-1"), "model_deposit_unfunded")  # one unit short
    c.as_("user", "transfer", {"to": addr("poor"), "amount": "1"})
    c.as_("poor", "model.register", card("spam-1"))  # exactly the deposit lists it
    assert wallet(c, "poor") == 0 and c.balance("escrow:model:spam-1") == DEPOSIT
    refused(c, "poor", "model.register", card("spam-2"), "model_deposit_unfunded")  # and the next needs another


def test_the_deposit_is_governed():
    c = chain(model_listing_deposit_units=str(COR))
    c.as_("user", "transfer", {"to": addr("poor"), "amount": str(COR)})
    c.as_("poor", "model.register", card("cheap"))
    assert c.balance("escrow:model:cheap") == COR


def test_retire_returns_the_deposit_and_the_model_leaves_at_the_next_close():
    c = chain()
    c.as_("dev", "model.register", card("tiny"))
    before = wallet(c, "dev")
    c.as_("dev", "model.retire", {"model": "tiny"})
    m = c.state.models["tiny"]
    assert m.retired_tick == c.state.tick and wallet(c, "dev") == before + DEPOSIT
    assert "escrow:model:tiny" not in c.state.ledger.balances and c.state.retired_models == {"tiny"}
    record = encode_record(m)
    c.oracle("tick", {"ticks": 3})
    assert "tiny" in c.state.models  # nothing leaves between closes
    previous = c.state.pruned.hash
    close(c)
    assert "tiny" not in c.state.models and MODEL in c.state.models and not c.state.retired_models
    rows = [r for r in c.state.retired if r[1] == MODEL_KIND]
    assert [(key, data) for _, _, key, _, data, _ in rows] == [(f"tiny@{m.registered_tick:012d}", record)]
    expected = previous
    for _, kind, key, _, data, _ in c.state.retired:
        expected = fold(expected, kind, key, content_hash(data))
    assert expected == c.state.pruned.hash
    c.state.check_entry_indexes()
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state) and state_hash(again) == state_hash(c.state)


def test_models_retiring_at_one_close_leave_in_id_order():
    c = chain()
    for mid in ("b", "a", "c"):
        c.as_("dev", "model.register", card(mid))
    for mid in ("c", "b", "a"):  # retired in another order than registered
        c.as_("dev", "model.retire", {"model": mid})
    close(c)
    assert [r[2].split("@")[0] for r in c.state.retired if r[1] == MODEL_KIND] == ["a", "b", "c"]


def test_messages_naming_a_retired_model_are_refused():
    c = chain()
    c.as_("dev", "model.register", card("tiny"))
    refused(c, "user", "model.retire", {"model": "tiny"}, "not_model_owner")
    refused(c, "dev", "model.retire", {"model": "nothing"}, "model_not_found")
    c.as_("dev", "model.retire", {"model": "tiny"})
    refused(c, "dev", "model.retire", {"model": "tiny"}, "model_retired")  # once
    body = {"session": 1, "model": "tiny", "prompt_hash": h("p"), "prompt_bytes": 1, "input_tokens": 3, "max_output_tokens": 8}
    refused(c, "user", "task.submit", body, "model_retired")  # no new task
    refused(c, "user", "model.register", card("tiny-ft", parent="tiny"), "model_retired")  # no new fine-tune
    refused(c, "user", "model.register", card("tiny"), "model_already_registered")  # the id is taken until it leaves
    close(c)
    refused(c, "dev", "model.retire", {"model": "tiny"}, "model_not_found")
    refused(c, "user", "task.submit", body, "model_not_found")
    refused(c, "user", "model.register", card("tiny-ft", parent="tiny"), "model_not_found")
    c.as_("user", "model.register", card("tiny"))  # the id is free again: a fresh record, a fresh deposit
    assert c.state.models["tiny"].owner == addr("user") and c.balance("escrow:model:tiny") == DEPOSIT


def test_a_parent_is_retired_after_its_fine_tunes():
    c = chain(RULES_MODEL_BOND)  # rule 25 only: from rule 26 the retire is accepted (tests/core/test_fine_tune_release.py)
    c.as_("user", "model.register", card("ft", parent=MODEL))
    err = refused(c, "dev", "model.retire", {"model": MODEL}, "model_has_fine_tunes")
    assert err.details["fine_tunes"] == ["ft"]
    c.as_("user", "model.retire", {"model": "ft"})
    refused(c, "dev", "model.retire", {"model": MODEL}, "model_has_fine_tunes")  # retired, still live: still a reader
    close(c)
    c.as_("dev", "model.retire", {"model": MODEL})
    close(c)
    assert not c.state.models


def test_an_open_task_keeps_its_retired_model_until_it_settles_and_pays_its_royalty():
    c = chain(redundancy=3)
    c.oracle("tick", {"ticks": c.state.epoch_start_tick + EPOCH - 2 - c.state.tick})  # two ticks before the close
    tid = submit(c)
    assert c.state.tasks[tid].deadline_tick > c.state.epoch_start_tick + EPOCH  # still open after it
    c.as_("dev", "model.retire", {"model": MODEL})
    assert open_task_models(c.state) == {MODEL}
    close(c)
    assert MODEL in c.state.models and c.state.retired_models == {MODEL}  # the task still reads it at its settlement
    t = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in t.miners})
    validate_all(c, tid, lambda v, m: (0, 900_000_000))
    assert live_task(c, tid).state == "SETTLED"  # (rule 27: its stub)
    royalty = [e for e in c.state.earnings if e.address == addr("dev") and e.stream == "task_fee:royalty"]
    assert royalty and royalty[-1].amount > 0  # the owner still earns the open task's royalty
    assert not open_task_models(c.state)
    close(c)
    assert MODEL not in c.state.models and not c.state.retired_models  # a closed task names it by id only
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)


def test_a_task_waiting_for_its_miners_draw_keeps_its_model():
    c = chain(beacon=True)
    tid = submit(c)
    assert c.state.tasks[tid].state == "CREATED" and not any(tid in ids for ids in c.state.deadlines.values())  # queued only
    c.as_("dev", "model.retire", {"model": MODEL})
    assert open_task_models(c.state) == {MODEL}
    retire_models(c.state)
    assert MODEL in c.state.models


@pytest.mark.parametrize(("rule_version", "prune"), [(OLD, 1), (None, 0)])
def test_rule_24_lists_for_free_and_no_pruning_keeps_retired_models(rule_version, prune):
    c = chain(rule_version, prune)
    if rule_version == OLD:
        c.as_("nobody", "model.register", card("free"))  # an unfunded key: accepted (what rule 25 closes)
        assert c.state.models["free"].owner == addr("nobody") and f"escrow:model:{MODEL}" not in c.state.ledger.balances
        refused(c, "nobody", "model.retire", {"model": "free"}, "rule_not_in_force")
    else:
        c.as_("dev", "model.retire", {"model": MODEL})
        for _ in range(2):
            close(c)
        assert MODEL in c.state.models and not any(r[1] == MODEL_KIND for r in c.state.retired)


def test_a_refused_retire_or_close_leaves_the_retired_models_index(monkeypatch):
    from cor_incentives.core import apply as apply_module
    from support.chain import refusing

    c = chain()
    c.as_("dev", "model.register", card("a"))
    c.as_("dev", "model.register", card("b"))
    c.as_("dev", "model.retire", {"model": "a"})
    before, before_bytes = set(c.state.retired_models), encode_state(c.state)
    assert decode_state(before_bytes).retired_models == {"a"}
    for kind, body in (("model.retire", {"model": "b"}), ("epoch.close", {})):
        monkeypatch.setitem(apply_module.HANDLERS, kind, (refusing(apply_module.HANDLERS[kind][0]), apply_module.HANDLERS[kind][1]))
        with pytest.raises(EngineError, match="refused after the writes"):
            c.as_("dev", kind, body) if kind == "model.retire" else close(c)
        assert c.state.retired_models == before and encode_state(c.state) == before_bytes
        c.state.check_entry_indexes()
        monkeypatch.undo()
    assert "retired_models" not in c.state.to_dict() and b"retired_models" not in encode_state(c.state)


def old_rule_log():
    """Under rule 24 with pruning on: an unfunded key lists three free models, a fine-tune of the market's model, a task
    on it submitted and cancelled, two closes (parameter versions pruned: their folded hash takes the fields rule 24
    knew, so rule 25's new parameter does not move it), another free model, a close."""
    c = chain(OLD)
    for i in range(3):
        c.as_("nobody", "model.register", card(f"free-{i}"))
    c.as_("user", "model.register", card("ft", parent=MODEL))
    tid = submit(c)
    c.as_("user", "task.cancel", {"task": tid})
    close(c)
    close(c)
    c.as_("nobody", "model.register", card("free-3"))
    close(c)
    assert c.state.pruned.count == 5 and len(c.state.models) == 6
    return c


def test_a_log_recorded_under_rule_24_replays_to_the_state_main_gave_it():
    assert OLD == 24
    c = old_rule_log()
    assert len(c.state.models) == 6 and all(m.retired_tick is None for m in c.state.models.values())
    again = replay(c.events, check_each=True)
    assert state_hash(again) == state_hash(c.state) == MAIN_STATE_HASH_24
    assert encode_state(again) == encode_state(c.state)


LIFE = st.tuples(
    st.booleans(),  # a fine-tune of an earlier live model
    st.booleans(),  # a task submitted on it (left open)
    st.booleans(),  # retired
)
TICKS = st.one_of(st.integers(0, 25), st.sampled_from([16, 18, 19]))  # (a few ticks before a close: its tasks still open)
ROUND = st.tuples(st.lists(LIFE, min_size=1, max_size=3), TICKS, st.integers(0, 2), st.booleans(), st.booleans())


def actions_of(rounds: list) -> list[tuple]:
    """Each round: a few model lives (listed, maybe as a fine-tune, maybe a task on it, maybe retired), maybe the retire of
    the oldest live model, after some ticks (so that a task may still be open at the closes that follow), closes and maybe
    a snapshot."""
    out: list[tuple] = []
    for lives, ticks, closes, retire_oldest, snapshot in rounds:
        out += [("tick", ticks)] if ticks else []  # (first: the round's tasks may be open at its closes)
        for tune, task, retired in lives:
            out.append(("register", tune))
            out += [("task", -1)] if task else []
            out += [("retire", -1)] if retired else []
        out += [("retire", 0)] if retire_oldest else []
        out += [("epoch", 0)] * closes
        out += [("snapshot", 0)] if snapshot else []
    return out


def act(c, action: tuple, listed: list[str]) -> bool:
    name, arg = action
    if name == "tick":
        c.oracle("tick", {"ticks": arg})
        return True
    if name == "epoch":
        close(c)
        return True
    try:
        if name == "register":
            mid = f"m-{len(listed)}"
            parent = next((m for m in reversed(listed) if m in c.state.models and c.state.models[m].retired_tick is None), None) if arg else None
            c.as_("dev", "model.register", card(mid, parent))
            listed.append(mid)
        elif name == "task":
            submit(c, model=listed[-1])
        elif name == "retire":
            c.as_("dev", "model.retire", {"model": listed[arg]})
    except EngineError:
        return False
    return True


def with_miners(c):
    """Three more miners serving the property test's models (a node's models are names: any id may be listed)."""
    for i in range(3):
        c.as_("user", "transfer", {"to": addr(f"x{i}"), "amount": str(3000 * COR)})
        c.as_(f"x{i}", "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": [f"m-{j}" for j in range(16)]})
    return c


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROUND, min_size=1, max_size=5))
def test_property_retired_models_leave_once_no_open_task_names_them(rounds):
    """Rules 25 and 24 side by side: the same messages; under 25 the retired models and only they leave, each at the first
    close with no open task naming it, the deposits of the listed ones are locked and come back whole; a snapshot
    decoded mid-way replays the rest to the same state."""
    c, old = with_miners(chain(RULES_MODEL_BOND)), with_miners(chain(OLD))  # (rule 26 beside 25: test_fine_tune_release)
    listed: list[str] = []
    old_listed: list[str] = []
    snapshot = None
    retired: list[str] = []
    for action in actions_of(rounds):
        if action[0] == "snapshot":
            snapshot = (encode_state(c.state), len(c.events))
            continue
        epoch, live = c.state.epoch, set(c.state.models)
        waiting, busy = set(c.state.retired_models), open_task_models(c.state)
        done = act(c, action, listed)
        if action[0] != "retire":
            assert act(old, action, old_listed) == done
        if c.state.epoch > epoch:  # a close: the retired models no open task names leave, only retired ones leave, and one
            # still live was named by an open task (a tick's open tasks only close: one may close after the prune)
            gone = sorted(live - set(c.state.models))
            assert waiting - busy <= set(gone) <= waiting and waiting - set(gone) <= busy
            event("a retired model left" if gone else "no retired model left")
            if waiting - set(gone):
                event("a retired model kept at a close by an open task")
            assert gone == sorted(k.split("@")[0] for _, kind, k, *_ in c.state.retired if kind == MODEL_KIND)
            retired += gone
        else:
            assert set(c.state.models) >= live  # nothing leaves between closes
        # every open task's model is live; every live unretired model holds its deposit, a retired one none
        opened = {t.model for t in c.state.tasks.values() if t.state not in CLOSED_TASK_STATES}
        assert opened <= set(c.state.models) and open_task_models(c.state) == opened
        for mid, m in c.state.models.items():
            assert c.balance(f"escrow:model:{mid}") == (0 if m.retired_tick is not None else DEPOSIT)
            assert m.parent is None or m.parent in c.state.models
    c.state.check_entry_indexes()
    assert listed == old_listed
    assert set(c.state.models) | set(retired) == set(old.state.models) and not set(c.state.models) & set(retired)
    assert c.state.ledger.total_supply() == old.state.ledger.total_supply()
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state)
    if snapshot is not None:
        from cor_incentives.core.apply import apply

        state = decode_state(snapshot[0])
        assert state.retired_models == {i for i, m in state.models.items() if m.retired_tick is not None}
        for later in c.events[snapshot[1] :]:
            apply(state, later)
        assert encode_state(state) == encode_state(c.state) and state.retired_models == c.state.retired_models


def test_governance_activates_rule_25_and_a_model_listed_free_before_retires_with_nothing_to_return():
    """A model listed under rule 24 holds no deposit; after a passed param_change to rule 25 its owner may retire it (the
    escrow is empty: nothing moves) and it leaves at the next close, while a new listing pays the deposit. The log (both
    rules) replays to the same state."""
    gov = {"gov_voting_period_ticks": 10, "epoch_length_ticks": 40, "gov_min_deposit_units": str(100 * COR), "gov_timelock_ticks": 1}
    c = market(params={"rule_version": OLD, "prune_closed_records": 1, **gov})
    c.as_("nobody", "model.register", card("free"))
    close(c)
    close(c)  # the stake votes from here on
    pid = c.state.next_id
    c.as_(
        "user",
        "gov.propose",
        {"kind": "param_change", "title": "rule 25", "changes": {"rule_version": RULES_MODEL_BOND}, "effective_epoch": c.state.epoch + 1},
    )
    for n in [f"m{i}" for i in range(4)] + [f"v{i}" for i in range(3)] + ["router"]:
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": 12})
    close(c)
    assert c.state.proposals[pid].status == "EXECUTED" and c.state.params.rule_version == RULES_MODEL_BOND
    assert f"escrow:model:{MODEL}" not in c.state.ledger.balances  # listed free, grandfathered
    refused(c, "nobody", "model.register", card("free-2"), "model_deposit_unfunded")
    c.as_("nobody", "model.retire", {"model": "free"})  # nothing to return
    assert c.balance(f"wallet:{addr('nobody')}") == 0
    close(c)
    assert "free" not in c.state.models and MODEL in c.state.models
    assert state_hash(replay(c.events, check_each=True)) == state_hash(c.state)
