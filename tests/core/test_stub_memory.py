"""A closed task's stub's memory (rule 27's ``ClosedTask``, design.md §9): slots, and one ``str`` per address it names
(a node's: the node table's ``id``) instead of a copy per stub, both where the settling event makes it
(``ClosedTask.of`` with the state's nodes) and where a snapshot's stubs are decoded (``ClosedTask.sharing``,
``state_codec.decode_state``). Nothing hashed or encoded moves: the reference is the stub as main defined it before (a
frozen dataclass with a ``__dict__``, its addresses as they came), and its bytes, the snapshot's and the state hash are
compared with it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.apply import apply, replay
from cor_incentives.core.records import ClosedTask, TaskKind, TaskState
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import decode_record, decode_state, encode_record, encode_state, state_hash
from core.test_task_stub import NEW, chain, closed_world, settle
from support.market import draw_now, submit
from support.replays import through_snapshot


@dataclass(frozen=True)
class ReferenceStub:
    """``ClosedTask`` as main defined it before this change (a ``__dict__``, addresses as they came): the reference."""

    id: int
    kind: TaskKind
    user: str | None
    state: TaskState
    created_epoch: int
    created_tick: int
    router: str | None
    miners: tuple[str, ...]
    validators: tuple[str, ...]
    canary_committed: bool


def fresh(s: str) -> str:
    """An equal ``str`` that is a new object (as a decoder makes one per occurrence)."""
    return "".join(list(s))


def addresses(stub: ClosedTask) -> list[str]:
    return [a for a in (stub.user, stub.router, *stub.miners, *stub.validators) if a is not None]


def node_addresses(stub: ClosedTask) -> list[str]:
    return [a for a in (stub.router, *stub.miners, *stub.validators) if a is not None]


def one_object_per_address(stubs: list[ClosedTask], of=addresses) -> bool:
    """Every address the stubs hold (``of`` each) is one object: as many objects as distinct texts."""
    held = [a for s in stubs for a in of(s)]
    return len({id(a) for a in held}) == len(set(held))


POOL = [f"0x{k:040x}" for k in range(1, 9)]
address = st.sampled_from(POOL).map(fresh)
stubs = st.lists(
    st.builds(
        ClosedTask,
        id=st.integers(0, 2**63),
        kind=st.sampled_from(list(TaskKind)),
        user=st.none() | address,
        state=st.sampled_from([TaskState.SETTLED, TaskState.FAILED, TaskState.CANCELLED]),
        created_epoch=st.integers(0, 10**6),
        created_tick=st.integers(0, 10**12),
        router=st.none() | address,
        miners=st.lists(address, max_size=5).map(tuple),
        validators=st.lists(address, max_size=12).map(tuple),
        canary_committed=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda s: s.id,
)


def test_the_stub_holds_the_fields_main_gave_it_in_slots():
    assert [f.name for f in dataclasses.fields(ClosedTask)] == [f.name for f in dataclasses.fields(ReferenceStub)]
    c, *_ = closed_world(NEW)
    stub = next(iter(c.state.closed_tasks.values()))
    assert not hasattr(stub, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(stub, "user", "0x0")  # noqa: B010


@settings(max_examples=150, deadline=None)
@given(stubs)
def test_property_sharing_moves_no_byte_no_equality_no_hash(made):
    reference = [ReferenceStub(*(getattr(s, f.name) for f in dataclasses.fields(s))) for s in made]
    seen: dict[str, str] = {}
    shared = [s.sharing(seen) for s in made]
    for s, ref, sh in zip(made, reference, shared, strict=True):
        assert encode_record(s) == encode_record(ref) == encode_record(sh)
        assert sh == s and decode_record(ClosedTask, encode_record(s)) == s
        assert dataclasses.astuple(sh) == dataclasses.astuple(ref)
    assert one_object_per_address(shared)
    held = State()
    held.closed_tasks.update({s.id: s for s in made})
    again = through_snapshot(held)
    assert list(again.closed_tasks) == list(held.closed_tasks)  # (their order is in the hash)
    assert encode_state(again) == encode_state(held) and state_hash(again) == state_hash(held)
    assert one_object_per_address(list(again.closed_tasks.values()))


def test_the_settling_event_names_the_nodes_by_the_node_tables_strings():
    c, *_ = closed_world(NEW)
    live = list(c.state.closed_tasks.values())
    assert sum(bool(node_addresses(s)) for s in live) == 2  # (the settled two; the cancelled one names none)
    for stub in live:
        assert all(a is c.state.nodes[a].id for a in node_addresses(stub))
    assert one_object_per_address(live, node_addresses)


def test_of_with_the_node_table_is_the_stub_without_it():
    c = chain(NEW)
    tid = submit(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    copy = decode_record(type(task), encode_record(task))  # every address its own object, as after a snapshot
    nodes = c.state.nodes
    plain, shared = ClosedTask.of(copy), ClosedTask.of(copy, nodes)
    assert plain == shared and encode_record(plain) == encode_record(shared)
    assert node_addresses(shared) and all(a is nodes[a].id for a in node_addresses(shared))
    assert not any(a is nodes[a].id for a in node_addresses(plain))


def test_a_snapshots_stubs_decode_sharing_their_addresses_and_replay_to_the_full_replays_hash():
    c = chain(NEW, unbonding=2)
    for _ in range(2):
        settle(c, submit(c))
    snapshot, seen = encode_state(c.state), len(c.events)
    for _ in range(2):
        settle(c, submit(c))
    c.as_("user", "task.cancel", {"task": submit(c)})
    assert len(c.state.closed_tasks) == 5
    state = decode_state(snapshot)
    stubs = list(state.closed_tasks.values())
    assert len(stubs) == 2 and one_object_per_address(stubs)
    assert all(a is state.nodes[a].id for s in stubs for a in node_addresses(s))
    for later in c.events[seen:]:
        apply(state, later)
    full = replay(c.events, check_each=True)
    assert state_hash(state) == state_hash(full) == state_hash(c.state)
    assert encode_state(state) == encode_state(full) and list(state.closed_tasks) == list(c.state.closed_tasks)
    assert one_object_per_address(list(state.closed_tasks.values()), node_addresses)  # (a live stub's user: its event's)
    c.oracle("epoch.close", {})
    apply(state, c.events[-1])
    assert state_hash(state) == state_hash(c.state) and state.entry_indexes() == c.state.entry_indexes()
