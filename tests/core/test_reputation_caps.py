"""The index of capping reputations (``State.reputation_caps``; issue 16): ``node.register``'s starting reputation reads
the lowest running jail and the lowest recently slashed node of its role from a heap per role, not every node with a
jail on record and every slash record of the memory window; the same value at every rule version, in every state
(against the walk it replaced, kept here as the reference); derived (not hashed, not in a snapshot), rebuilt when a state
is decoded, journaled (a refused event or a skipped consequence leaves it holding what it held), and compared with a
rebuild by the full checks."""

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core import apply as apply_module
from cor_incentives.core.apply import conservation_holds
from cor_incentives.core.conservation import Conservation
from cor_incentives.core.errors import Conflict, InvariantViolation
from cor_incentives.core.journal import JDict, JList, JSet, attempt, journal
from cor_incentives.core.records import ROLES, SlashRecord
from cor_incentives.core.rules import LATEST, RULES_NEWCOMER_FLOOR, RULES_OFFENCE_ALLOWANCE, RULES_SLASHING, rules_since
from cor_incentives.core.staking import newcomer_reputation, process_register, starting_reputation
from cor_incentives.core.state import State, capping_nodes
from cor_incentives.core.state_codec import decode_state, encode_state, state_hash
from support.chain import Chain, addr, refusing
from support.replays import through_snapshot
from support.scans import DictScans, ListScans, SetScans

PPB = 10**9
SMALL = {
    "min_position_units": "1",  # no minimum position (rule 20): these tests move a few base units
    "min_self_bond_miner_units": "1",
    "min_self_bond_validator_units": "1",
    "min_self_bond_router_units": "1",
    "epoch_length_ticks": 5,
    "reputation_memory_epochs": 2,
}
NAMES = [f"k{i}" for i in range(60)]


def walked_starting_reputation(state: State, role: str) -> int:
    """``staking.starting_reputation`` as it was until the index (session 21): every node with a jail on record, then the
    slash records of the window from the newest."""
    p = state.params
    if not rules_since(p, RULES_SLASHING):
        return p.reputation_initial_ppb
    jailed = (state.nodes[i] for i in sorted(state.jailed))
    capped = {n.id: n.reputation_ppb for n in jailed if n.role == role and n.jailed_until_tick is not None and state.tick < n.jailed_until_tick}
    if rules_since(p, RULES_OFFENCE_ALLOWANCE):
        since = state.epoch - p.reputation_memory_epochs
        for s in reversed(state.slashes):
            if s.epoch < since:
                break
            node = state.nodes.get(s.node)
            if node is not None and node.role == role:
                capped[node.id] = node.reputation_ppb
    lowest = min([p.reputation_initial_ppb, *capped.values()])
    if rules_since(p, RULES_NEWCOMER_FLOOR):
        return newcomer_reputation(p.reputation_initial_ppb, p.reputation_newcomer_floor_ppb, lowest)
    return lowest


def slash_record(state: State, node_id: str) -> SlashRecord:
    """A slash record of ``node_id`` taken now (as a slash appends it; no stake moves: the index reads node and epoch)."""
    sid, tick = state.new_id(), state.tick
    return SlashRecord(sid, node_id, "commit_mismatch", tick, tick, state.epoch, f"0x{sid:x}", {"task": sid}, None, 0, 0, 0, 0, 0, {}, None)


def same_answers(state: State) -> list[int]:
    """Every role's start, asserted equal to the walk's (the walk first: the index's query lets go of entries)."""
    out = []
    for role in ROLES:
        expected = walked_starting_reputation(state, role)
        assert starting_reputation(state, role) == expected, role
        out.append(expected)
    return out


def held(state: State) -> Any:
    return state.reputation_caps.held(state)


def members(state: State) -> Any:
    """Everything the index holds but its heaps' stale entries: each role's members (capping or not yet let go), the floor."""
    caps = state.reputation_caps
    return [{r: dict(h.members) for r, h in heaps.items()} for heaps in (caps.jailed, caps.slashed)], caps.floor


class World:
    """A chain with keys to register, and writes made the way the core makes them (``State.jail``, ``add_slash``,
    ``set_reputation``, the oracle's ticks, a governed ``reputation_memory_epochs``)."""

    def __init__(self, rule_version: int) -> None:
        self.c = Chain(wallets={n: 10 for n in NAMES}, params={**SMALL, "rule_version": rule_version})
        self.free = list(NAMES)

    @property
    def state(self) -> State:
        return self.c.state

    def nodes(self) -> list[str]:
        return sorted(self.state.nodes)

    def direct(self, r: random.Random) -> None:
        """One write to the state outside an event (as a handler makes it), or a query."""
        state, nodes = self.state, self.nodes()
        every = ["jail", "slash", "reputation", "reputation", "unjail", "memory", "query", "stray_slash"]
        what = r.choice(every if nodes else ["query", "stray_slash"])
        if what == "jail":
            state.jail(r.choice(nodes), state.tick + r.randint(0, 12))
        elif what == "slash":
            node_id = r.choice(nodes)
            state.add_slash(slash_record(state, node_id))
            if r.random() < 0.5:
                state.jail(node_id, state.tick + r.randint(0, 12))
        elif what == "reputation":
            node = state.nodes[r.choice(nodes)]
            state.set_reputation(node, r.choice([0, PPB, r.randint(0, PPB), r.randint(300_000_000, 600_000_000)]))
        elif what == "unjail":
            ended = [n for n in nodes if state.nodes[n].jailed_until_tick is not None and state.tick >= state.nodes[n].jailed_until_tick]
            if ended:
                state.unjail(r.choice(ended))
        elif what == "memory":  # a governed change of the window (up or down) in force now
            history = state.params_history
            assert history is not None
            state.params_history = history.with_changes(state.epoch, {"reputation_memory_epochs": r.randint(0, 5)})
        elif what == "stray_slash" and self.free:
            state.add_slash(slash_record(state, addr(r.choice(self.free))))  # a key slashed before it registers (synthetic)
        else:
            starting_reputation(state, r.choice(ROLES))

    def step(self, op: str, r: random.Random) -> None:
        state = self.state
        if op == "register" and self.free:
            name = self.free.pop(r.randrange(len(self.free)))
            role = r.choice(ROLES)
            expected = walked_starting_reputation(state, role)
            self.c.as_(name, "node.register", {"role": role, "self_bond": "1"})
            assert state.nodes[addr(name)].reputation_ppb == state.nodes[addr(name)].reputation_start_ppb == expected
        elif op == "tick":
            self.c.oracle("tick", {"ticks": r.choice([1, 2, 3, 6, 11])})
        elif op == "snapshot":  # a snapshot taken and opened: the index made again from the records (its floor the window's start)
            self.c.state = through_snapshot(state)
            assert encode_state(self.c.state) == encode_state(state) and held(self.c.state) == held(state)
            state = self.c.state
        elif op == "upgrade":  # a governed rule version, raised (only up) from now on
            history, version = state.params_history, state.params.rule_version
            assert history is not None
            if version < LATEST:
                state.params_history = history.with_changes(state.epoch, {"rule_version": r.randint(version + 1, LATEST)})
        elif op in ("refused", "savepoint"):
            before, answers, kept = held(state), same_answers(state), members(state)

            def writes() -> None:
                for _ in range(r.randint(1, 5)):
                    self.direct(r)
                raise Conflict("refused after the writes", code="test_refusal")

            if op == "refused":
                with pytest.raises(Conflict), journal():
                    writes()
            else:
                assert attempt(writes) is not None
            assert members(state) == kept and held(state) == before
            assert state.reputation_caps.consistent(state) and same_answers(state) == answers
        else:
            self.direct(r)
        state.check_entry_indexes()
        same_answers(state)


OPS = ["register", "register", "tick", "direct", "direct", "direct", "refused", "savepoint"]


RULE_VERSIONS = [RULES_SLASHING - 1, RULES_SLASHING, RULES_OFFENCE_ALLOWANCE - 1, RULES_OFFENCE_ALLOWANCE, RULES_NEWCOMER_FLOOR - 1, LATEST]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule_version=st.sampled_from(RULE_VERSIONS),
    ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 2**32)), min_size=1, max_size=60),
)
def test_the_start_is_the_walks_at_every_rule_version_in_every_state(rule_version, ops):
    """Random registrations, jails, slashes, reputation writes, ticks (closing epochs), changes of the memory window (up
    and down), refused writes and skipped ones: after each, every role's start equals the walk's, the index equals a
    rebuild (the Chain's full check after each event, ``check_entry_indexes`` after each step), and a registration
    starts where the walk says."""
    w = World(rule_version)
    for op, seed in ops:
        w.step(op, random.Random(seed))


OPS_OPENED = [*OPS, "snapshot", "upgrade"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule_version=st.sampled_from(RULE_VERSIONS[:-1]),
    ops=st.lists(st.tuples(st.sampled_from(OPS_OPENED), st.integers(0, 2**32)), min_size=1, max_size=60),
)
def test_the_start_is_the_walks_across_snapshots_and_rule_upgrades(rule_version, ops):
    """As above, with snapshots taken and opened between the steps (the decoded index holds the window from its start on,
    not every slash: a window made longer afterwards, or rules that start reading the window, must read the slash records
    again) and the rule version raised by governance (from none of the slashing rules, or no window, to the latest)."""
    w = World(rule_version)
    for op, seed in ops:
        w.step(op, random.Random(seed))


@pytest.mark.parametrize("seed", range(4))
def test_long_random_runs(seed):
    """Longer runs than the property test's (hundreds of steps: heaps made again from their members, windows refilled)."""
    r = random.Random(seed)
    w = World(LATEST if seed % 2 else RULES_NEWCOMER_FLOOR - 1)
    for _ in range(400):
        w.step(r.choice(OPS), r)


@pytest.mark.parametrize("seed", range(3))
def test_long_random_runs_across_snapshots_and_rule_upgrades(seed):
    """Long runs with snapshots opened between the steps and the rules raised from ``RULES_SLASHING`` (no window yet)."""
    r = random.Random(100 + seed)
    w = World(RULES_SLASHING)
    for _ in range(300):
        w.step(r.choice([*OPS, "snapshot"] if r.random() < 0.98 else ["upgrade"]), r)


def crowded(n: int = 60) -> Chain:
    """``n`` miners and ``n`` validators registered; every second one jailed (running), every third one slashed this
    epoch, reputations spread; one key (``new``) funded and not registered."""
    names = [f"m{i}" for i in range(n)] + [f"v{i}" for i in range(n)]
    c = Chain(wallets={**{x: 10 for x in names}, "new": 10, "new2": 10}, params=SMALL)
    for x in names:
        c.as_(x, "node.register", {"role": "miner" if x[0] == "m" else "validator", "self_bond": "1"})
    state = c.state
    r = random.Random(7)
    for i, x in enumerate(names):
        node = state.nodes[addr(x)]
        state.set_reputation(node, r.randint(410_000_000, 490_000_000))
        if i % 2 == 0:
            state.jail(node.id, state.tick + 50)
        if i % 3 == 0:
            state.add_slash(slash_record(state, node.id))
    conservation_holds(state)
    return c


def test_a_registration_reads_no_whole_set_of_nodes_jails_or_slashes():
    """``node.register`` never iterates the nodes, the jailed nodes or the slash records: the walk read every jailed node
    and the window's slashes (~0.72 ms at 1 k jailed nodes slashed in the window, ~11 ms at 10 k, against ~0.065 ms:
    bench/per_event.py --register)."""
    c = crowded()
    c.check = False  # the full check reads them all: run once at the end
    state = c.state
    expected = walked_starting_reputation(state, "miner")
    containers = [(state.nodes, DictScans, JDict), (state.jailed, SetScans, JSet), (state.slashes, ListScans, JList)]
    for obj, counting, _ in containers:
        obj.__class__ = counting
        counting.count = 0
    try:
        c.as_("new", "node.register", {"role": "miner", "self_bond": "1"})
        counts = [counting.count for _, counting, _ in containers]
        walked = walked_starting_reputation(state, "validator")  # the reference walk is seen by the counters
        walked_counts = [counting.count for _, counting, _ in containers]
    finally:
        for obj, _, plain in containers:
            obj.__class__ = plain
    assert counts == [0, 0, 0], counts
    assert walked_counts[1] > 0 and walked_counts[2] > 0, walked_counts
    assert state.nodes[addr("new")].reputation_ppb == expected < 500_000_000
    assert walked == starting_reputation(state, "validator")
    conservation_holds(state)


def test_a_long_life_keeps_each_heap_within_twice_its_nodes_and_the_start_the_walks():
    """A long life whose top never lets go (one miner jailed for ever at reputation 0): the others jailed for a few ticks,
    slashed now and then, every reputation written at each epoch (as the close writes them) and a registration's query at
    each. Their jails end and their slashes leave the window while they stay members (let go only at the top), each
    write pushes an entry, and the heap is made again from its members once it holds more than twice them plus 32: every
    heap stays within 2 x the role's nodes + 32 (a heap never made again grows by an entry a write: past that bound
    within three epochs here), every member is a node of its role, and the start equals the walk's at every epoch."""
    n = 40
    names = [f"m{i}" for i in range(n)]
    c = Chain(wallets={x: 10 for x in names}, params=SMALL)
    for x in names:
        c.as_(x, "node.register", {"role": "miner", "self_bond": "1"})
    state, r = c.state, random.Random(3)
    ids = [addr(x) for x in names]
    state.set_reputation(state.nodes[ids[0]], 0)
    state.jail(ids[0], 10**12)
    for _ in range(60):
        for node_id in r.sample(ids[1:], 4):
            state.jail(node_id, state.tick + r.randint(0, 3))
        state.add_slash(slash_record(state, r.choice(ids[1:])))
        for node_id in ids[1:]:
            state.set_reputation(state.nodes[node_id], r.randint(1, PPB))
        c.oracle("tick", {"ticks": 5})
        same_answers(state)  # (asserts each role's start equals the walk's)
        caps = state.reputation_caps
        for heaps in (caps.jailed, caps.slashed):
            for role, heap in heaps.items():
                of_role = [i for i, node in state.nodes.items() if node.role == role]
                assert len(heap.heap) <= 2 * len(of_role) + 32, (role, len(heap.heap), len(heap.members))
                assert set(heap.members) <= set(of_role)
    assert len(caps.jailed["miner"].members) > 20  # (ended jails held as members: the top, capping, never lets them go)
    state.check_entry_indexes()


def test_a_refused_registration_leaves_the_index_as_it_was(monkeypatch):
    """A registration whose query let go of ended jails and out-of-window slashes, then was refused: the index holds what
    it held (the members let go are back, with their heap entries), equal to a rebuild; the same registration is then
    accepted at the walk's value."""
    c = crowded()
    state = c.state
    c.oracle("tick", {"ticks": 60})  # every jail has ended; the epoch moved past the window of the slashes
    assert walked_starting_reputation(state, "miner") == 500_000_000
    before = held(state)
    members = {r: dict(h.members) for r, h in state.reputation_caps.jailed.items()}
    assert sum(map(len, members.values())) == 60  # held until a query lets them go
    monkeypatch.setitem(apply_module.HANDLERS, "node.register", (refusing(process_register), False))
    with pytest.raises(Conflict, match="refused after the writes"):
        c.as_("new", "node.register", {"role": "miner", "self_bond": "1"})
    assert {r: dict(h.members) for r, h in state.reputation_caps.jailed.items()} == members
    assert held(state) == before == capping_nodes(state)
    assert state.reputation_caps.consistent(state)
    monkeypatch.undo()
    c.as_("new", "node.register", {"role": "miner", "self_bond": "1"})
    assert state.nodes[addr("new")].reputation_ppb == 500_000_000
    assert not state.reputation_caps.jailed["miner"].members  # let go by the accepted query
    conservation_holds(state)


def test_a_skipped_consequence_undoes_its_index_writes_without_a_journal():
    """``journal.attempt`` in a replay (no journal): a jail, a slash and a reputation write undone with the records."""
    c = crowded()
    state = c.state
    before, answers = held(state), same_answers(state)
    node = state.nodes[addr("m1")]

    def writes():
        state.set_reputation(node, 1)
        state.jail(node.id, state.tick + 5)
        state.add_slash(slash_record(state, addr("v1")))
        assert starting_reputation(state, "miner") == walked_starting_reputation(state, "miner") == 400_000_000  # rule 13's floor
        raise Conflict("cannot", code="test_skip")

    assert attempt(writes) is not None
    assert held(state) == before == capping_nodes(state) and same_answers(state) == answers
    conservation_holds(state)


def test_the_index_is_not_in_a_snapshot_and_is_rebuilt_from_it():
    c = crowded()
    state = c.state
    data, hashed = encode_state(state), state_hash(state)
    assert b"reputation_caps" not in data
    state.reputation_caps.jailed["miner"].members.clear()  # not encoded: the bytes and the hash do not move
    assert encode_state(state) == data and state_hash(state) == hashed
    decoded = decode_state(data)
    assert held(decoded) == capping_nodes(decoded) and all(held(decoded)[k].get(r) for k in ("jailed", "slashed") for r in ("miner", "validator"))
    assert decoded.reputation_caps.consistent(decoded)
    assert same_answers(decoded) == [walked_starting_reputation(decoded, r) for r in ROLES]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda s: s.reputation_caps.jailed["miner"].members.pop(addr("m0")), "differs from the running jails"),
        (lambda s: s.reputation_caps.slashed["validator"].members.pop(addr("v0")), "differs from the running jails"),
        (lambda s: s.reputation_caps.jailed["miner"].members.__setitem__(addr("m0"), 7), "holds a reputation other"),
        (lambda s: s.reputation_caps.slashed["miner"].heap.clear(), "lacks its entry"),
        (lambda s: s.reputation_caps.jailed["validator"].members.__setitem__(addr("m2"), s.nodes[addr("m2")].reputation_ppb), "other than"),
        (lambda s: s.nodes[addr("m0")].__setattr__("reputation_ppb", 1), "holds a reputation other"),  # a write not through set_reputation
    ],
)
def test_the_full_checks_find_an_index_that_differs_from_a_rebuild(damage, message):
    c = crowded()
    conservation_holds(c.state)
    damage(c.state)
    with pytest.raises(InvariantViolation, match=message):
        conservation_holds(c.state)
    with pytest.raises(InvariantViolation, match=message):
        Conservation().full(c.state)


def test_a_window_made_longer_brings_back_the_slashes_it_had_let_go():
    """A governed ``reputation_memory_epochs`` raised after a query let go of a slash older than the window: the next query
    reads the window's slash records again (the walk's answer), once."""
    c = Chain(wallets={"bad": 10, "a": 10, "b": 10, "c": 10}, params={**SMALL, "reputation_memory_epochs": 1})
    state = c.state
    c.as_("bad", "node.register", {"role": "miner", "self_bond": "1"})
    state.set_reputation(state.nodes[addr("bad")], 450_000_000)
    state.add_slash(slash_record(state, addr("bad")))
    c.oracle("tick", {"ticks": 10})  # epoch 2: the epoch-0 slash is out of a one-epoch window
    c.as_("a", "node.register", {"role": "miner", "self_bond": "1"})
    assert state.nodes[addr("a")].reputation_ppb == 500_000_000 and not state.reputation_caps.slashed["miner"].members
    history = state.params_history
    assert history is not None
    state.params_history = history.with_changes(state.epoch, {"reputation_memory_epochs": 3})
    c.as_("b", "node.register", {"role": "miner", "self_bond": "1"})
    assert state.nodes[addr("b")].reputation_ppb == 450_000_000 == walked_starting_reputation(state, "miner")
    assert state.reputation_caps.floor == state.epoch - 3


def test_a_key_with_slash_records_of_its_own_caps_once_it_registers():
    """Slash records of a key that is not a node (none a handler writes: a synthetic history) count from its registration
    on, as the walk counted them: the key is put in its role's heap when it registers."""
    c = Chain(wallets={"old": 10, "a": 10}, params=SMALL)
    state = c.state
    state.add_slash(slash_record(state, addr("old")))
    c.as_("old", "node.register", {"role": "validator", "self_bond": "1"})
    state.set_reputation(state.nodes[addr("old")], 420_000_000)
    c.as_("a", "node.register", {"role": "validator", "self_bond": "1"})
    assert state.nodes[addr("a")].reputation_ppb == 420_000_000 == walked_starting_reputation(state, "validator")
