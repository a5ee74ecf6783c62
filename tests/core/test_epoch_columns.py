"""The epoch's rows held as columns (``core.epoch_columns``): appends are all-or-nothing with the event, the
rows read back are the records appended, and the canonical encoding (state hash, snapshots) is exactly the
encoding of the list of records the rows used to be."""

from __future__ import annotations

import json
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import state_codec
from cor_incentives.core.epoch_columns import ValidationColumns, WorkColumns
from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.journal import attempt, journal
from cor_incentives.core.records import TaskKind, ValidationRow, WorkRow
from cor_incentives.core.state import State
from support.replays import through_snapshot

NODES = [f"0x{i:040x}" for i in range(5)]
MODELS = ["m-a", "m-b", "m-c"]
KINDS = st.sampled_from(list(TaskKind))

work_rows = st.builds(
    WorkRow,
    task=st.integers(1, 2**40),
    node=st.sampled_from(NODES),
    complexity_units=st.integers(0, 2**40),
    quality_ppb=st.integers(0, 10**9),
    in_consensus=st.booleans(),
    precommitted=st.booleans(),
    model=st.sampled_from(MODELS),
    kind=KINDS,
    fee_units=st.integers(0, 10**30),  # beyond 64 bits: kept exact
)
validation_rows = st.builds(
    ValidationRow,
    task=st.integers(1, 2**40),
    node=st.sampled_from(NODES),
    agreement_ppb=st.integers(0, 10**9),
    on_time=st.booleans(),
    kind=KINDS,
    canary_failed=st.booleans(),
)
# an event: the rows it appends, and whether it fails after appending them (and where: in a savepoint or the event)
events = st.lists(
    st.tuples(st.lists(work_rows, max_size=4), st.lists(validation_rows, max_size=6), st.sampled_from(["ok", "fails", "skipped"])),
    max_size=12,
)


def picture(store):
    """Everything a store holds, interned names included."""
    return (list(store), list(store.nodes.names), list(getattr(store, "models", None).names) if isinstance(store, WorkColumns) else None)


class Refused(InvalidInput):
    code = "refused"


@settings(max_examples=150, deadline=None)
@given(events)
def test_a_failing_event_leaves_the_columns_as_before(script):
    """Rows appended by an event that fails afterwards (its journal undone), or inside a skipped consequence
    (``attempt``), are gone, interned node and model ids included; the rows of events that apply stay, in order."""
    work, checks = WorkColumns(), ValidationColumns()
    expect_work: list[WorkRow] = []
    expect_checks: list[ValidationRow] = []
    for new_work, new_checks, outcome in script:
        before = picture(work), picture(checks)

        def append(new_work=new_work, new_checks=new_checks):
            for r in new_work:
                work.append_row(r)
            for v in new_checks:
                checks.append_row(v)

        if outcome == "fails":
            with pytest.raises(Refused), journal():
                append()
                raise Refused("the event fails after its appends")
            assert (picture(work), picture(checks)) == before
        elif outcome == "skipped":
            with journal():
                assert isinstance(attempt(lambda: (append(), (_ for _ in ()).throw(Refused("skipped")))), Refused)
            assert (picture(work), picture(checks)) == before
        else:
            with journal():
                append()
            expect_work += new_work
            expect_checks += new_checks
        assert list(work) == expect_work and list(checks) == expect_checks
        # interned ids are the first appearance in the rows: a store rebuilt from the rows is equal
        rebuilt_work, rebuilt_checks = WorkColumns(), ValidationColumns()
        rebuilt_work.extend(expect_work)
        rebuilt_checks.extend(expect_checks)
        assert work == rebuilt_work and checks == rebuilt_checks
        assert picture(work) == picture(rebuilt_work)


@settings(max_examples=100, deadline=None)
@given(st.lists(work_rows, max_size=20), st.lists(validation_rows, max_size=20))
def test_the_columns_encode_as_the_list_of_records(rows, checks):
    """The state's canonical encoding holds the rows exactly as the list of records encoded them (so the state
    hash and snapshots are unchanged), and decodes back to equal columns."""
    state = State()
    state.epoch_work.extend(rows)
    state.epoch_validations.extend(checks)
    body = json.loads(state_codec.encode_state(state))["state"]
    as_records_work = state_codec._codec(list[WorkRow])[0](rows)
    as_records_checks = state_codec._codec(list[ValidationRow])[0](checks)
    assert body["epoch_work"] == as_records_work and body["epoch_validations"] == as_records_checks
    # the same bytes, key order included
    dumps = json.dumps
    assert dumps(body["epoch_work"], separators=(",", ":")) == dumps(as_records_work, separators=(",", ":"))
    back = through_snapshot(state)
    assert back.epoch_work == state.epoch_work and back.epoch_validations == state.epoch_validations
    assert list(back.epoch_work) == rows and list(back.epoch_validations) == checks
    assert state.to_dict()["epoch_work"] == State(epoch_work=back.epoch_work).to_dict()["epoch_work"]


def test_rows_read_back_as_records():
    store = WorkColumns()
    row = WorkRow(7, NODES[1], 12, 900_000_000, True, False, "m-b", TaskKind.USER, 10**24)
    store.append_row(row)
    assert len(store) == 1 and store[0] == row and store[-1] == row and list(store) == [row]
    assert type(store[0].in_consensus) is bool and store[0].kind is TaskKind.USER
    with pytest.raises(IndexError):
        store[1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 2**64), max_size=4), st.booleans()), max_size=10))
def test_fee_shares_are_int64_exactly_while_every_one_fits(script):
    """The fee shares are held as an int64 column while every share of the rows fits int64 and as Python integers from
    the first that does not; an event that fails takes the column back to what its rows make it (int64 again when the
    share past int64 was its own), so two stores of the same rows are equal."""
    store, fees = WorkColumns(), []
    for shares, fails in script:
        if fails:
            with pytest.raises(Refused), journal():
                for f in shares:
                    store.append(1, NODES[0], 1, 1, True, True, "m-a", TaskKind.USER, f)
                raise Refused("the event fails after its appends")
        else:
            with journal():
                for f in shares:
                    store.append(1, NODES[0], 1, 1, True, True, "m-a", TaskKind.USER, f)
            fees += shares
        assert list(store.fee_units) == fees and all(type(f) is int for f in store.fee_units)
        assert isinstance(store.fee_units, array) == all(f < 2**63 for f in fees)
        rebuilt = WorkColumns()
        for f in fees:
            rebuilt.append(1, NODES[0], 1, 1, True, True, "m-a", TaskKind.USER, f)
        assert store == rebuilt
