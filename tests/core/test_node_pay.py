"""The close's per-node payments in one pass per step (core/staking.py ``NodePay``, core/ledger.py ``Transfers``, lines by
``records.new_earning``) pay exactly what the node-by-node code paid, in the same order, and undo the same way.

The previous code is kept as a reference (tests/support/pay_reference.py):
- ``Transfers`` (and ``Ledger.transfer_many``) against ``Ledger.transfer`` with a ``Writes`` batch, move by move, on random
  balances and moves (zero, negative and boolean amounts, moves into and out of sources, moves that empty an account,
  moves that fail): the same balances in the same order, postings, refusal, values before, write log; rolled back, the
  balances are the ones before;
- ``NodePay`` crediting and settling many nodes against the reference functions node by node, on random states
  (delegations and undelegations spread over the epoch, random commissions and rewards, rule versions before and after
  the epoch document's, each stream, the work streams' order: every credit then every settlement, or the APR's: node by
  node): the same lines, postings, balances, positions, touched nodes and state hash; rolled back, the state before;
- whole closes: the same state hash, balances in order, record and root, postings; a close refused in the middle of the
  batched postings leaves nothing behind.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import epoch, rewards
from cor_incentives.core import ledger as acct
from cor_incentives.core.apply import apply, replay
from cor_incentives.core.errors import EngineError, InvariantViolation
from cor_incentives.core.journal import JDict, Writes, journal, rollback, values_before, write_log
from cor_incentives.core.ledger import Ledger, Transfers
from cor_incentives.core.params import ParamHistory
from cor_incentives.core.records import EarningItem
from cor_incentives.core.rules import RULES_EPOCH_DOCUMENT
from cor_incentives.core.staking import NodePay, accrue_nodes, process_delegate, start_stake_epochs
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import state_hash
from support import pay_reference
from support.epochs import epoch_events
from support.stake_moves import move_stake_at_random

ALL = "all"
ACCOUNTS = ["genesis", "minted", "pool:staking", "wallet:a", "wallet:b", "claimable:a", "rewards:n", "dust"]

amounts = st.one_of(
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=1, max_value=10**24),
    st.sampled_from([-1, True, False]),
    st.just(ALL),  # what the source holds at that point: the move empties it
)
moves = st.lists(
    st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), amounts, st.sampled_from(["r1", "r2"])),
    max_size=25,
)
starting = st.dictionaries(st.sampled_from(ACCOUNTS[2:]), st.integers(min_value=1, max_value=40), max_size=6)


def ledger_of(balances: dict[str, int]) -> Ledger:
    """A ledger holding ``balances`` (in that order) and what the sources gave out."""
    given_out = sum(balances.values())
    return Ledger(balances={"genesis": -given_out, **balances} if given_out else dict(balances))


def run_moves(ledger: Ledger, moves: list[tuple[Any, ...]], current: bool, many: bool) -> tuple[str | None, list[Any]]:
    """The moves inside one event's journal, until the first refusal; returns the refusal and the journal's entries
    (not yet rolled back)."""
    refused = None
    with journal() as entries:
        writes = Writes()
        try:
            resolved = ((src, dst, ledger.balance(src) if amount == ALL else amount, reason) for src, dst, amount, reason in moves)
            if current and many:
                ledger.transfer_many(resolved, writes)
            elif current:
                move = Transfers(ledger, writes).move
                for m in resolved:
                    move(*m)
            else:
                for m in resolved:
                    pay_reference.transfer(ledger, *m, writes)
        except (EngineError, InvariantViolation) as exc:  # (into a source holding less than nothing: the invariant)
            refused = f"{type(exc).__name__}: {exc}"
        kept = list(entries)
        entries.clear()  # (the test rolls back itself)
    return refused, kept


@settings(max_examples=300, deadline=None)
@given(starting, moves, st.booleans(), st.booleans())
def test_transfers_post_what_transfer_posts_one_by_one(balances: dict[str, int], moves: list[tuple[Any, ...]], many: bool, logged: bool) -> None:
    current, reference = ledger_of(balances), ledger_of(balances)
    before = list(current.balances.items())
    logs = []
    for ledger, is_current in ((current, True), (reference, False)):
        if logged:  # as ``cor verify`` replays: the balances' writes noted in a write log
            with write_log(ledger.balances) as log:
                refused, entries = run_moves(ledger, moves, is_current, many)
            logs.append(log.values_before())
        else:
            refused, entries = run_moves(ledger, moves, is_current, many)
        ledger_result = (refused, list(ledger.balances.items()), list(ledger.postings), values_before(entries, ledger.balances))
        if is_current:
            current_result, current_entries = ledger_result, entries
        else:
            reference_result, reference_entries = ledger_result, entries
    assert current_result == reference_result
    assert logs[:1] == logs[1:]
    rollback(current_entries)
    rollback(reference_entries)
    assert list(current.balances.items()) == list(reference.balances.items())
    assert dict(current.balances) == dict(before)  # (an account emptied and written again comes back in another place)
    assert list(current.postings) == [] == list(reference.postings)


def test_transfers_refuse_what_transfer_refuses() -> None:
    ledger = ledger_of({"wallet:a": 5})
    move = Transfers(ledger, Writes()).move
    with pytest.raises(EngineError, match="insufficient|holds"):
        move("wallet:a", "wallet:b", 6, "r")
    for bad in (-1, True, 1.5, "1"):
        with pytest.raises(EngineError, match="non-negative integer"):
            move("wallet:a", "wallet:b", bad, "r")  # type: ignore[arg-type]
    assert dict(ledger.balances) == {"genesis": -5, "wallet:a": 5} and ledger.postings == []


# --- NodePay against node-by-node ------------------------------------------------------------------


@cache
def events_of(seed: int) -> list[Any]:
    return epoch_events("honest_only", seed)


def random_state(seed: int, rule_version: int | None) -> State:
    """The state before the close of a simulated epoch, with random delegations and undelegations over its ticks, random
    commissions (some nodes with all their stake gone), under ``rule_version`` (None: the scenario's)."""
    state = replay(events_of(seed % 3)[:-1])
    move_stake_at_random(state, random.Random(seed), seed, commissions=True)
    if rule_version is not None:
        h = state.params_history
        state.params_history = ParamHistory(tuple((e, p.replace(rule_version=rule_version)) for e, p in h.versions))
    state.ledger.commit()
    state.touched.clear()
    return state


def snapshot(state: State) -> dict[str, Any]:
    return {
        "hash": state_hash(state),
        "balances": list(state.ledger.balances.items()),
        "postings": list(state.ledger.postings),
        "earnings": list(state.earnings),
        "touched": set(state.touched),
        "positions": {
            n: (node.stake_ticks, node.stake_tick_mark, [(a, p.stake_ticks, p.mark) for a, p in node.positions.items()])
            for n, node in state.nodes.items()
        },
    }


def assert_paid_alike_then_undone(current: State, reference: State, entries: list[Any], entries_reference: list[Any], start: dict[str, Any]) -> None:
    """The two states paid alike (snapshot, journal's values before); each rolled back, the state before (``start``),
    the touched nodes aside."""
    assert snapshot(current) == snapshot(reference)
    assert values_before(entries, current.ledger.balances) == values_before(entries_reference, reference.ledger.balances)
    rollback(entries)
    rollback(entries_reference)
    assert {k: v for k, v in snapshot(current).items() if k != "touched"} == {k: v for k, v in start.items() if k != "touched"}


def pay_nodes(state: State, rewards_of: dict[str, int], stream: str, interleaved: bool, current: bool) -> tuple[list[int], list[Any]]:
    """Credit each node its reward from the pool and settle its stakers (the APR's order when ``interleaved``: node by
    node; else the work streams': every credit, then every settlement); returns what each credit and settlement returned
    and the journal's entries (not rolled back)."""
    stake_line = f"{stream}:stake"
    out: list[int] = []
    with journal() as entries:
        writes = Writes()
        payer = NodePay(state, writes)

        def credit(node_id: str, reward: int) -> int:
            detail = {"formula": "f", "inputs": {"r": reward}}
            if current:
                return payer.credit(node_id, acct.NETWORK_INCENTIVES_POOL, reward, stream, detail)
            return pay_reference.credit_node_reward(state, node_id, acct.NETWORK_INCENTIVES_POOL, reward, stream, detail, writes)

        def settle(node_id: str) -> int:
            if current:
                return payer.settle(node_id, stake_line)
            return pay_reference.settle_node_rewards(state, node_id, stake_line, writes)

        paid = [n for n in sorted(rewards_of) if rewards_of[n]]
        if interleaved:
            for n in paid:
                out += [credit(n, rewards_of[n]), settle(n)]
        else:
            out += [credit(n, rewards_of[n]) for n in paid]
            out += [settle(n) for n in sorted(rewards_of)]
        kept = list(entries)
        entries.clear()
    return out, kept


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    rule_version=st.sampled_from([None, RULES_EPOCH_DOCUMENT - 1, RULES_EPOCH_DOCUMENT]),
    stream=st.sampled_from(["miner_work", "validator_work", "staking_apr", "test"]),
    interleaved=st.booleans(),
    data=st.data(),
)
def test_node_pay_pays_what_node_by_node_paid(seed: int, rule_version: int | None, stream: str, interleaved: bool, data: st.DataObject) -> None:
    current, reference = random_state(seed, rule_version), random_state(seed, rule_version)
    start = snapshot(current)
    assert start == snapshot(reference)
    amount = st.one_of(st.sampled_from([0, 1, 7, 9_999, 10_001]), st.integers(min_value=1, max_value=10**24))
    rewards_of = {n: data.draw(amount, label=n) for n in sorted(current.nodes)}
    returned, entries = pay_nodes(current, rewards_of, stream, interleaved, current=True)
    returned_reference, entries_reference = pay_nodes(reference, rewards_of, stream, interleaved, current=False)
    assert returned == returned_reference
    assert_paid_alike_then_undone(current, reference, entries, entries_reference, start)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    rule_version=st.sampled_from([None, RULES_EPOCH_DOCUMENT - 1, RULES_EPOCH_DOCUMENT]),
    stream=st.sampled_from(["miner_work", "validator_work", "test"]),
    data=st.data(),
)
def test_settle_all_settles_many_nodes_as_node_by_node(seed: int, rule_version: int | None, stream: str, data: st.DataObject) -> None:
    """``NodePay.settle_all`` of many nodes in one call (``settle`` is one node's: the test above), in any order, some named
    twice, some with nothing waiting, after every credit: what each returns (a node named twice: its dust once, 0 the
    second time), lines, postings, balances, positions, touched nodes and journal as the reference's settlement of each
    node in turn; rolled back, the state before."""
    current, reference = random_state(seed, rule_version), random_state(seed, rule_version)
    start = snapshot(current)
    nodes = sorted(current.nodes)
    amount = st.one_of(st.sampled_from([0, 1, 7, 9_999, 10_001]), st.integers(min_value=1, max_value=10**24))
    rewards_of = {n: data.draw(amount, label=n) for n in nodes}
    order = data.draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=2 * len(nodes)), label="order")
    stake_line = f"{stream}:stake"
    detail = {"formula": "f", "inputs": {}}

    def pay(state: State, bulk: bool) -> tuple[list[int], list[Any]]:
        with journal() as entries:
            writes = Writes()
            payer = NodePay(state, writes)
            for n in nodes:
                if rewards_of[n]:
                    if bulk:
                        payer.credit(n, acct.NETWORK_INCENTIVES_POOL, rewards_of[n], stream, detail)
                    else:
                        pay_reference.credit_node_reward(state, n, acct.NETWORK_INCENTIVES_POOL, rewards_of[n], stream, detail, writes)
            if bulk:
                dust = payer.settle_all(order, stake_line)
            else:
                dust = [pay_reference.settle_node_rewards(state, n, stake_line, writes) for n in order]
            kept = list(entries)
            entries.clear()
        return dust, kept

    dust, entries = pay(current, True)
    dust_reference, entries_reference = pay(reference, False)
    assert dust == dust_reference and len(dust) == len(order)
    assert_paid_alike_then_undone(current, reference, entries, entries_reference, start)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    rule_version=st.sampled_from([None, RULES_EPOCH_DOCUMENT - 1, RULES_EPOCH_DOCUMENT]),
    stream=st.sampled_from(["staking_apr", "miner_work", "test"]),
    data=st.data(),
)
def test_credit_all_pays_what_node_by_node_paid(seed: int, rule_version: int | None, stream: str, data: st.DataObject) -> None:
    """``NodePay.credit_all`` (the staking APR's pay: each node's line, credit and stakers' settlement, node after node) in one
    call, against the reference's line, ``credit_node_reward`` and ``settle_node_rewards`` of each node in turn: nodes in any
    order, some named twice, rewards of 0 and of every size, an unknown node (refused: the journal rolls back either
    way); the same lines, postings, balances, positions, touched nodes and journal's values before; rolled back, the
    state before."""
    current, reference = random_state(seed, rule_version), random_state(seed, rule_version)
    start = snapshot(current)
    nodes = sorted(current.nodes)
    amount = st.one_of(st.sampled_from([0, 1, 7, 9_999, 10_001]), st.integers(min_value=1, max_value=10**24))
    order = data.draw(st.lists(st.sampled_from([*nodes, "0x" + "e" * 40]), min_size=1, max_size=2 * len(nodes)), label="order")
    pays = [(n, data.draw(amount, label=n), {"formula": "f", "inputs": {"i": i}}) for i, n in enumerate(order)]
    node_line, stake_line = f"{stream}:node", f"{stream}:stake"

    def pay(state: State, bulk: bool) -> tuple[str | None, list[Any]]:
        refused = None
        with journal() as entries:
            writes = Writes()
            try:
                if bulk:
                    NodePay(state, writes).credit_all(acct.NETWORK_INCENTIVES_POOL, stream, iter(pays), node_line, stake_line)
                else:
                    for n, reward, detail in pays:
                        writes.append(state.earnings, EarningItem(n, node_line, 0, detail))
                        pay_reference.credit_node_reward(state, n, acct.NETWORK_INCENTIVES_POOL, reward, stream, detail, writes)
                        pay_reference.settle_node_rewards(state, n, stake_line, writes)
            except EngineError as e:
                refused = e.code
            kept = list(entries)
            entries.clear()
        return refused, kept

    refused, entries = pay(current, True)
    refused_reference, entries_reference = pay(reference, False)
    assert refused == refused_reference
    assert_paid_alike_then_undone(current, reference, entries, entries_reference, start)


@pytest.mark.parametrize("seed", [5, 6])
def test_bulk_accrual_and_new_stake_epoch_roll_back(seed: int) -> None:
    """``staking.accrue_nodes`` and ``start_stake_epochs`` write every node's counts through one batch's attribute journal
    (``Writes.attr_log``): refused afterwards, the state is the one before (counts, marks, positions, hash)."""
    state = random_state(seed, None)
    start = snapshot(state)
    state.tick += 3  # counts to bring up to date
    nodes = [state.nodes[n] for n in sorted(state.nodes)]
    with pytest.raises(InvariantViolation), journal():
        writes = Writes()
        accrue_nodes(state, nodes, writes)
        moved = snapshot(state)["positions"]
        start_stake_epochs(state, nodes, writes)
        assert moved != start["positions"] and all(not node.stake_ticks for node in nodes)
        raise InvariantViolation("refused after the writes")
    state.tick -= 3
    assert {k: v for k, v in snapshot(state).items() if k != "touched"} == {k: v for k, v in start.items() if k != "touched"}


def test_node_pay_pays_and_lines_something() -> None:
    """The comparison above is not empty: commissions, stakers' shares with several positions, dust."""
    state = random_state(4, None)
    pay_nodes(state, {n: 10**21 + 7 for n in state.nodes}, "miner_work", False, current=True)
    streams = {i.stream for i in state.earnings}
    assert {"miner_work:commission", "miner_work:stake", "miner_work:dust"} <= streams
    assert any(len(node.positions) > 1 for node in state.nodes.values())
    assert all(state.ledger.balance(acct.rewards(n)) == 0 for n in state.nodes)


# --- whole closes ------------------------------------------------------------------------------------

CASES = [("honest_only", 21), ("lazy_miners", 22), ("sybil_split", 23)]


def use_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node-by-node payments in the work streams and the APR step."""
    monkeypatch.setattr(rewards, "_pay_stream", pay_reference._pay_stream)
    steps = [pay_reference.process_staking_apr if s is rewards.process_staking_apr else s for s in epoch.EPOCH_STEPS]
    assert steps != epoch.EPOCH_STEPS
    monkeypatch.setattr(epoch, "EPOCH_STEPS", steps)


def before_close(name: str, seed: int) -> tuple[State, Any]:
    events = epoch_events(name, seed)
    state = replay(events[:-1])
    rng = random.Random(seed)
    for i, node_id in enumerate(sorted(state.nodes)):
        state.nodes[node_id].commission_bps = rng.choice([0, 700, 10_000])
        for j in range(rng.randrange(0, 3)):
            addr, amount = f"0x{(seed * 1000 + i * 10 + j):040x}", rng.randrange(1, 10**21)
            state.ledger.transfer("treasury", acct.wallet(addr), amount, "test_fund")
            process_delegate(state, addr, {"node": node_id, "amount": str(amount)})
    state.ledger.commit()
    state.touched.clear()
    return state, events[-1]


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_the_close_pays_what_the_reference_paid(name: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    current, close = before_close(name, seed)
    applied = apply(current, close)
    use_reference(monkeypatch)
    reference, _ = before_close(name, seed)
    applied_reference = apply(reference, close)
    closed = current.epoch - 1
    record = current.epochs[closed]
    assert any(i.stream == "staking_apr:stake" for i in record.items) and any(i.stream == "miner_work:commission" for i in record.items)
    assert state_hash(current) == state_hash(reference)
    assert list(current.ledger.balances.items()) == list(reference.ledger.balances.items())
    assert record == reference.epochs[closed] and record.root == reference.epochs[closed].root
    assert applied.postings == applied_reference.postings


def failing_at(fail_at: int, error: Exception, monkeypatch: pytest.MonkeyPatch, stream: str = "miner_work") -> list[str]:
    """``Transfers.move`` raising ``error`` at ``stream``'s ``fail_at``-th posting; returns the postings tried."""
    made: list[str] = []
    move = Transfers.move

    def failing(self: Transfers, src: str, dst: str, amount: int, reason: str) -> None:
        if reason.startswith(stream):
            made.append(reason)
            if len(made) == fail_at:
                raise error
        move(self, src, dst, amount, reason)

    monkeypatch.setattr(Transfers, "move", failing)
    return made


@pytest.mark.parametrize("fail_at", [1, 8, 21])
def test_a_close_refused_inside_the_batched_postings_leaves_nothing(fail_at: int, monkeypatch: pytest.MonkeyPatch) -> None:
    state, close = before_close("honest_only", 24)
    hash_before, balances_before = state_hash(state), list(state.ledger.balances.items())
    made = failing_at(fail_at, RuntimeError("a bug in the middle of the step's postings"), monkeypatch)
    with pytest.raises(RuntimeError):
        apply(state, close)
    assert len(made) == fail_at
    assert state_hash(state) == hash_before
    assert list(state.ledger.balances.items()) == balances_before
    monkeypatch.undo()
    fresh, _ = before_close("honest_only", 24)
    apply(state, close)
    apply(fresh, close)
    assert state_hash(state) == state_hash(fresh)
    assert list(state.ledger.balances.items()) == list(fresh.ledger.balances.items())


def assert_refused_step_undone_whole(step: Any, stream: str, seed: int, fail_at: int, error: EngineError, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal (``error``, an EngineError) at ``stream``'s ``fail_at``-th posting skips the epoch step ``step``
    (``journal.attempt``): the close is the one where the step refused before writing anything."""
    state, close = before_close("honest_only", seed)
    made = failing_at(fail_at, error, monkeypatch, stream)
    apply(state, close)
    assert len(made) == fail_at
    monkeypatch.undo()

    def refused(state: State) -> None:
        raise error

    refused.__name__ = step.__name__  # (the name the skip records)
    monkeypatch.setattr(epoch, "EPOCH_STEPS", [refused if s is step else s for s in epoch.EPOCH_STEPS])
    refused_first, _ = before_close("honest_only", seed)
    apply(refused_first, close)
    record = state.epochs[state.epoch - 1]
    assert record.skipped and not any(i.stream.startswith(stream) for i in record.items)
    assert state_hash(state) == state_hash(refused_first)
    assert list(state.ledger.balances.items()) == list(refused_first.ledger.balances.items())
    assert state.epochs[state.epoch - 1] == refused_first.epochs[refused_first.epoch - 1]


@pytest.mark.parametrize("fail_at", [1, 8, 21])
def test_a_step_skipped_inside_the_batched_postings_is_undone_whole(fail_at: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal in the middle of the miners stream's postings skips that step, undone whole."""
    error = EngineError("refused in the middle of the step's postings")
    assert_refused_step_undone_whole(rewards.process_miner_rewards, "miner_work", 25, fail_at, error, monkeypatch)


@pytest.mark.parametrize("fail_at", [1, 2, 3, 40])
def test_the_apr_step_refused_inside_its_bulk_pay_is_undone_whole(fail_at: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal in the middle of the staking APR's postings (``NodePay.credit_all``: a node's commission, its stakers'
    part, a staker's share) skips that step: the close is the one where the step refused before writing anything (its
    accrual, lines, postings, balances, touched counts all undone)."""
    error = EngineError("refused in the middle of the APR's postings")
    assert_refused_step_undone_whole(rewards.process_staking_apr, "staking_apr", 26, fail_at, error, monkeypatch)


def test_new_earning_is_the_record_the_constructor_makes() -> None:
    from cor_incentives.core.records import EarningItem, new_earning

    detail = {"node": "n", "inputs": {"a": 1}}
    made, constructed = new_earning("a", "s:stake", 5, detail, True), EarningItem("a", "s:stake", 5, detail, True)
    assert made == constructed and repr(made) == repr(constructed)
    assert list(vars(made).items()) == list(vars(constructed).items())
    assert type(made.detail) is type(constructed.detail) is JDict and made.detail is not detail
    assert new_earning("d", "x", 0, {}) == EarningItem("d", "x", 0, {})
