"""Rule 26 (``RULES_FINE_TUNE_RELEASE``): ``model.retire`` is no longer refused while live fine-tunes name the model; the
owner's deposit comes back at once, the retired parent stays live while a live model names it as its parent (their
royalty reads its owner) and leaves at the first close at which no open task and no model staying names it
(core/prune.py ``retire_models``, from ``State.fine_tune_counts``). Rule 25 refused the retire (attack fine_tune_hold)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError, InvariantViolation
from cor_incentives.core.prune import MODEL as MODEL_KIND
from cor_incentives.core.prune import open_task_models
from cor_incentives.core.records import CLOSED_TASK_STATES
from cor_incentives.core.rules import LATEST, RULES_FINE_TUNE_RELEASE, RULES_MODEL_BOND
from cor_incentives.core.state_codec import decode_state, encode_state, state_hash
from support.chain import addr
from support.market import COR, MODEL, commit_reveal, h, live_task, market, submit, validate_all
from support.replays import replays_as_recorded, resumed_from_snapshot

OLD = RULES_MODEL_BOND
DEPOSIT = 10 * COR  # model_listing_deposit_units' default
# the state hash main's code gave old_rule_log(), recorded once with main's src at a1c2ebe (rule 25 the latest there)
MAIN_STATE_HASH_25 = "0x561740fcb4fda71377c41ec1850a3a7944f0964386e8b4eaf24d45a9fc4b3444"


def chain(rule_version: int | None = None, **params):
    p = {"prune_closed_records": 1, "epoch_length_ticks": 20, **params}
    return market(params=p | ({"rule_version": rule_version} if rule_version is not None else {}))


def card(model_id: str, parent: str | None = None) -> dict:
    body = {"id": model_id, "parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit", "content_hash": h(model_id)}
    return body | ({"parent": parent} if parent else {})


def refused(c, who: str, kind: str, body: dict, code: str) -> EngineError:
    before, seq = encode_state(c.state), c.state.seq
    with pytest.raises(EngineError) as exc:
        c.as_(who, kind, body)
    assert exc.value.code == code, exc.value.message
    assert encode_state(c.state) == before and c.state.seq == seq
    return exc.value


def close(c) -> None:
    c.oracle("epoch.close", {})


def wallet(c, who: str) -> int:
    return c.balance(f"wallet:{addr(who)}")


def gone_at(c) -> list[str]:
    """The model ids the pruned rows of the state's last prune hold, in fold order."""
    return [k.split("@")[0] for _, kind, k, *_ in c.state.retired if kind == MODEL_KIND]


def serving(c, *models: str):
    """Three more miners serving ``models`` (a node's models are names)."""
    for i in range(3):
        c.as_("user", "transfer", {"to": addr(f"x{i}"), "amount": str(3000 * COR)})
        c.as_(f"x{i}", "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": list(models)})
    return c


def task_on(c, model: str) -> int:
    return submit(c, model=model)


def test_rule_26_is_the_latest_and_25_refused_the_retire():
    assert LATEST >= RULES_FINE_TUNE_RELEASE == 26  # (27: tests/core/test_task_stub.py)
    old = chain(OLD)
    old.as_("user", "model.register", card("ft", parent=MODEL))
    refused(old, "dev", "model.retire", {"model": MODEL}, "model_has_fine_tunes")


def test_a_strangers_fine_tune_no_longer_holds_the_owners_deposit():
    c = chain()
    c.as_("user", "model.register", card("ft", parent=MODEL))  # a stranger's fine-tune
    assert c.state.fine_tune_counts == {MODEL: 1}
    before, supply = wallet(c, "dev"), c.state.ledger.total_supply()
    c.as_("dev", "model.retire", {"model": MODEL})
    assert wallet(c, "dev") == before + DEPOSIT and f"escrow:model:{MODEL}" not in c.state.ledger.balances  # back at once
    assert c.state.ledger.total_supply() == supply and c.state.models[MODEL].retired_tick == c.state.tick
    refused(c, "user", "model.register", card("ft2", parent=MODEL), "model_retired")  # no new fine-tune of it
    refused(c, "dev", "model.retire", {"model": MODEL}, "model_retired")  # once
    for _ in range(3):
        close(c)
        assert MODEL in c.state.models and c.state.retired_models == {MODEL}  # its live fine-tune reads its owner
        assert c.state.models["ft"].parent == MODEL and c.balance("escrow:model:ft") == DEPOSIT
    c.as_("user", "model.retire", {"model": "ft"})
    close(c)  # the fine-tune leaves, and releases its parent at the same close (folded in id order)
    assert gone_at(c) == ["ft", MODEL] and not c.state.models and not c.state.retired_models and not c.state.fine_tune_counts
    c.state.check_entry_indexes()
    again = replay(c.events, check_each=True)
    assert encode_state(again) == encode_state(c.state) and state_hash(again) == state_hash(c.state)


def test_a_parent_whose_id_sorts_first_leaves_at_the_close_its_last_fine_tune_leaves():
    c = chain()
    c.as_("dev", "model.register", card("a"))
    c.as_("user", "model.register", card("b", parent="a"))
    c.as_("user", "model.register", card("c", parent="b"))  # a chain: a <- b <- c
    c.as_("user", "model.register", card("d", parent="a"))
    assert dict(c.state.fine_tune_counts) == {"a": 2, "b": 1}
    for mid, who in (("a", "dev"), ("b", "user")):
        c.as_(who, "model.retire", {"model": mid})
    close(c)
    assert {"a", "b"} <= set(c.state.models) and not gone_at(c)  # b held by c, a by b and d
    c.as_("user", "model.retire", {"model": "c"})
    close(c)  # c leaves, then b (its last fine-tune left), and a still has d
    assert gone_at(c) == ["b", "c"] and "a" in c.state.models and dict(c.state.fine_tune_counts) == {"a": 1}
    c.as_("user", "model.retire", {"model": "d"})
    close(c)
    assert gone_at(c) == ["a", "d"] and set(c.state.models) == {MODEL}
    c.state.check_entry_indexes()
    assert encode_state(replay(c.events, check_each=True)) == encode_state(c.state)


def test_an_open_task_on_a_fine_tune_keeps_it_and_pays_the_retired_parents_owner():
    c = serving(chain(redundancy=3), "ft")
    c.as_("user", "model.register", card("ft", parent=MODEL))
    c.as_("dev", "model.retire", {"model": MODEL})
    c.oracle("tick", {"ticks": c.state.epoch_start_tick + 20 - 2 - c.state.tick})  # two ticks before the close
    tid = task_on(c, "ft")
    c.as_("user", "model.retire", {"model": "ft"})  # retired, but its open task still reads it (and so its parent)
    assert open_task_models(c.state) == {"ft"}
    close(c)
    assert {MODEL, "ft"} <= set(c.state.models) and not gone_at(c)
    t = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in t.miners})
    validate_all(c, tid, lambda v, m: (0, 900_000_000))
    assert live_task(c, tid).state == "SETTLED"  # (rule 27: its stub)
    parent = [e for e in c.state.earnings if e.address == addr("dev") and e.stream == "task_fee:royalty_parent"]
    assert parent and parent[-1].amount > 0  # the retired parent's owner earns its parent royalty
    close(c)
    assert gone_at(c) == ["ft", MODEL] and set(c.state.models) == set()
    assert encode_state(replay(c.events, check_each=True)) == encode_state(c.state)


def test_an_open_task_on_the_parent_keeps_it_after_its_fine_tunes_left():
    c = chain(redundancy=3)
    c.as_("user", "model.register", card("ft", parent=MODEL))
    c.oracle("tick", {"ticks": c.state.epoch_start_tick + 20 - 2 - c.state.tick})
    submit(c)  # on MODEL, open across the close
    c.as_("dev", "model.retire", {"model": MODEL})
    c.as_("user", "model.retire", {"model": "ft"})
    close(c)
    assert gone_at(c) == ["ft"] and MODEL in c.state.models and not c.state.fine_tune_counts  # the task holds it


def test_the_fine_tune_count_is_derived_journaled_and_rebuilt(monkeypatch):
    from cor_incentives.core import apply as apply_module
    from support.chain import refusing

    c = chain()
    c.as_("user", "model.register", card("ft", parent=MODEL))
    c.as_("user", "model.register", card("base"))
    c.as_("dev", "model.retire", {"model": MODEL})
    c.as_("user", "model.retire", {"model": "ft"})
    before, before_bytes = dict(c.state.fine_tune_counts), encode_state(c.state)
    assert decode_state(before_bytes).fine_tune_counts == {MODEL: 1}  # rebuilt from the models
    assert b"fine_tune_counts" not in before_bytes and "fine_tune_counts" not in c.state.to_dict()
    for kind, body in (("model.register", card("ft3", parent="base")), ("epoch.close", {})):
        monkeypatch.setitem(apply_module.HANDLERS, kind, (refusing(apply_module.HANDLERS[kind][0]), apply_module.HANDLERS[kind][1]))
        with pytest.raises(EngineError, match="refused after the writes"):
            c.as_("user", kind, body) if kind == "model.register" else close(c)
        assert c.state.fine_tune_counts == before and encode_state(c.state) == before_bytes
        c.state.check_entry_indexes()
        monkeypatch.undo()
    c.state.fine_tune_counts[MODEL] = 2
    with pytest.raises(InvariantViolation, match="live fine-tunes differs"):
        c.state.check_entry_indexes()


def old_rule_log():
    """Under rule 25 with pruning on: a stranger's fine-tune of the market's model and a fine-tune of it; the owner's
    retire refused (not in the log); the stranger retires its fine-tunes, a close; the owner retires, a close."""
    c = chain(OLD)
    c.as_("user", "model.register", card("ft", parent=MODEL))
    c.as_("user", "model.register", card("ft-ft", parent="ft"))
    with pytest.raises(EngineError):
        c.as_("dev", "model.retire", {"model": MODEL})
    close(c)
    c.as_("user", "model.retire", {"model": "ft-ft"})
    close(c)
    c.as_("user", "model.retire", {"model": "ft"})
    close(c)
    c.as_("dev", "model.retire", {"model": MODEL})
    close(c)
    assert not c.state.models and c.state.pruned.count >= 3
    return c


def test_a_log_recorded_under_rule_25_replays_to_the_state_main_gave_it():
    c = old_rule_log()
    replays_as_recorded(c.events, c.state, MAIN_STATE_HASH_25)


# --- property: rules 26 and 25 side by side -------------------------------------------------------------------------

REGISTER = st.tuples(st.just("register"), st.integers(-1, 7), st.sampled_from(["dev", "user"]))  # parent: the n-th listed, mod (-1: none)
RETIRE = st.tuples(st.sampled_from(["retire", "release"]), st.integers(0, 7), st.sampled_from(["", "close"]))  # by its
# registrant (release: its parent's retire first); then maybe a close
CLOSED = ("epoch", 0, "")
CLOSE = st.just(CLOSED)
STEP = st.one_of(
    REGISTER,
    REGISTER,
    RETIRE,
    RETIRE,
    CLOSE,
    st.tuples(st.just("task"), st.integers(0, 7), st.just("")),  # submitted by the user, on the n-th listed
    st.tuples(st.just("tick"), st.sampled_from([1, 5, 17]), st.just("")),
    st.tuples(st.just("snapshot"), st.just(0), st.just("")),
)
IDS = [f"m-{i}" for i in range(10)]


def act(c, step: tuple, listed: list[tuple[str, str]]) -> str | None:
    """Apply one step to ``c``; the refusal's code (None: accepted)."""
    name, n, who = step
    try:
        if name == "tick":
            c.oracle("tick", {"ticks": n})
        elif name == "epoch":
            close(c)
        elif name == "register":
            parent = listed[n % len(listed)][0] if n >= 0 and listed else None
            mid = IDS[len(listed)]
            c.as_(who, "model.register", card(mid, parent))
            listed.append((mid, who))
        elif name in ("retire", "release") and listed:
            mid, owner = listed[n % len(listed)]
            m = c.state.models.get(mid)
            if name == "release" and m is not None and m.parent is not None:  # its parent first, then the fine-tune
                c.as_(next(o for i, o in listed if i == m.parent), "model.retire", {"model": m.parent})
            c.as_(owner, "model.retire", {"model": mid})
        elif name == "task" and listed:
            submit(c, model=listed[n % len(listed)][0])
    except EngineError as e:
        if name == "register":
            listed.append((IDS[len(listed)], who))  # the id is spent either way (both worlds name the same models)
        return e.code
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=8, max_size=30))
def test_property_rule_26_releases_the_owner_and_keeps_a_parent_while_a_model_names_it(steps):
    """The same messages under 26 and 25. Under 26 a retire is never refused model_has_fine_tunes and returns the deposit at
    once; whenever 25 accepts a retire, so does 26. After every step under 26: every live model's parent is live, every
    open task's model is live, a retired model holds no deposit and a listed one its deposit; at a close, a retired model
    stays only while an open task or a model staying names it (and leaves at the first close when none does); the
    fine-tune counts equal a rebuild; supply is the same in both worlds. A snapshot decoded mid-way replays the rest to
    the same state, and the whole log replays."""
    new, old = serving(chain(), *IDS), serving(chain(OLD), *IDS)
    listed: list[tuple[str, str]] = []
    old_listed: list[tuple[str, str]] = []
    snapshot = None
    registered: set[str] = set()
    retired: set[str] = set()
    for step in [s for drawn in steps for s in [drawn, *([CLOSED] if drawn[2] == "close" else [])]]:  # a retire's close
        if len(listed) >= len(IDS) and step[0] == "register":
            continue
        if step[0] == "snapshot":
            snapshot = (encode_state(new.state), len(new.events))
            continue
        epoch, before = new.state.epoch, dict(new.state.models)
        live = set(before)
        waiting, busy = set(new.state.retired_models), open_task_models(new.state)
        code, old_code = act(new, step, listed), act(old, step, old_listed)
        assert code != "model_has_fine_tunes"
        target = listed[step[1] % len(listed)][0] if listed and step[0] == "retire" else None
        if step[0] == "retire" and old_code is None:  # 26 accepts every retire 25 accepts, unless it accepted it earlier (the
            # model retired, or gone since) or never listed the model (a fine-tune of a parent 26 let retire and 25 did not)
            assert (
                code is None
                or (code in ("model_retired", "model_not_found") and target in retired)
                or (code == "model_not_found" and target not in registered)
            )
        if step[0] in ("retire", "release") and code is None and old_code == "model_has_fine_tunes":
            event("a retire 25 refused for a fine-tune is accepted")
        if new.state.epoch > epoch:
            gone = set(live - set(new.state.models))
            kept = waiting - gone
            parents = {m.parent for m in new.state.models.values()}
            assert gone <= waiting and kept <= busy | parents  # only retired ones leave; one kept is still read
            assert not (waiting - busy) - gone - parents  # none left waiting that nothing reads
            if kept & parents - busy:
                event("a retired parent kept at a close by its fine-tune")
            if any(before[g].parent in gone for g in gone):
                event("a parent left at its fine-tune's close")
        else:
            assert set(new.state.models) >= live
        registered |= set(new.state.models)
        retired |= set(new.state.retired_models)
        opened = {t.model for t in new.state.tasks.values() if t.state not in CLOSED_TASK_STATES}
        assert opened <= set(new.state.models)
        for mid, m in new.state.models.items():
            assert m.parent is None or m.parent in new.state.models
            assert new.balance(f"escrow:model:{mid}") == (0 if m.retired_tick is not None else DEPOSIT)
        new.state.check_entry_indexes()
        assert new.state.ledger.total_supply() == old.state.ledger.total_supply()
    for c in (new, old):
        replays_as_recorded(c.events, c.state)
    if snapshot is not None:
        assert resumed_from_snapshot(snapshot, new.events, new.state).fine_tune_counts == new.state.fine_tune_counts


@pytest.mark.parametrize("rule_version", [OLD, RULES_FINE_TUNE_RELEASE])
def test_the_marketplace_share_of_a_fine_tune_reads_its_live_parent_or_stops(rule_version, monkeypatch):
    """``process_marketplace_rewards`` pays a fine-tune's parent owner ``parent_royalty_bps`` of its share: the parent is
    live under every rule (registered listed; rule 25 refuses its retire, 26 keeps it live), so a state without it is a
    broken invariant that stops the close, not a share paid whole to the fine-tune's owner."""
    from cor_incentives.app.views import epoch as epoch_view
    from cor_incentives.core import rewards

    monkeypatch.setattr(rewards, "model_usage", lambda *args: {"ft": 1})  # the fine-tune's use in network tasks
    c = chain(rule_version)
    c.as_("dev", "model.register", card("base"))
    c.as_("user", "model.register", card("ft", parent="base"))
    close(c)
    bps = c.state.params.parent_royalty_bps
    budget = int(epoch_view(c.state, 0)["streams"]["marketplace"]["budget"])
    to_parent = budget * bps // 10_000
    assert 0 < to_parent < budget
    assert c.balance(f"claimable:{addr('dev')}") == to_parent and c.balance(f"claimable:{addr('user')}") == budget - to_parent
    c.state.models.pop("base")  # (no rule does this: a broken state)
    with pytest.raises(InvariantViolation, match="parent 'base'"):
        close(c)
