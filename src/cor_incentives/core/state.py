"""The engine's state: everything ``apply`` reads and changes, in one place (docs/design.md §3).

State variables
    chain_id, oracle (the engine's own signing address), genesis_supply, minted, params (history by
    epoch), tick (logical time), epoch, seq and head_hash (the last applied event), the ledger, nonces
    (last accepted nonce per actor), nodes (each with its stake positions' stake × ticks this epoch),
    unbonding entries, redelegations still slashable at their source, slash records, evidence already used, the current epoch's earnings, the
    randomness beacon (the last revealed value and the draws waiting for the next), accounts (first
    seen, first funder), each stake position at the start of the last two epochs, and the community
    members eligible this epoch (snapshots taken when each epoch starts), and what was pruned: a count and
    a running hash of the closed records that left the live state (core/prune.py).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from typing import Any

from .epoch_columns import ValidationColumns, WorkColumns
from .errors import Conflict, EngineError, invariant
from .events import GENESIS_PREV_HASH
from .int_column import IntColumn
from .journal import Journaled, on_undo
from .ledger import Ledger
from .params import ParamHistory, Params
from .records import (
    ROLES,
    Account,
    Attestation,
    Beacon,
    Bounty,
    BountyStatus,
    BridgeRecord,
    Checkpoint,
    ClosedTask,
    Controller,
    EarningItem,
    EpochRecord,
    Model,
    NetworkPrompt,
    Node,
    Proposal,
    ProposalStatus,
    Pruned,
    Redelegation,
    Session,
    SkippedConsequence,
    SlashRecord,
    Task,
    Unbonding,
)
from .sampling import SelectionIndex
from .streams import EpochStreams


class EntryIndex:
    """Derived: the ids of a dict of entries (``State.unbondings``, ``State.redelegations``) by the value of each of a few
    fields, so an event reads the entries of one staker or of one node, not every entry of the network (issue 16: anyone
    with many funded keys can grow those sets at the price of a delegation and an undelegation each).

    Not part of the state's hash or of a snapshot (``state_codec.DERIVED_STATE_FIELDS``): rebuilt from the entries when a
    state is decoded (``of``), kept exact by the ``State`` methods that add and delete those entries (the only writers of
    which entries exist; the indexed fields of an entry never change), each write journaled (``journal.on_undo``), so a
    refused event or a skipped consequence (``journal.attempt``) leaves it equal to a rebuild. The full checks compare it
    with one (``State.check_entry_indexes``). Its own dicts and sets are plain: their order is never read (callers sort
    the ids), and a key deleted here costs O(1), not the journaled dicts' order keeping."""

    __slots__ = ("fields", "maps")

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.maps: dict[str, dict[Any, set[int]]] = {f: {} for f in fields}

    @classmethod
    def of(cls, fields: tuple[str, ...], entries: dict[int, Any]) -> EntryIndex:
        """The index of ``entries`` by ``fields`` (O(entries))."""
        index = cls(fields)
        for e in entries.values():
            index._put(e)
        return index

    def ids(self, name: str, value: Any) -> set[int] | tuple[()]:
        """The ids of the entries whose ``name`` is ``value`` (unordered; empty when none)."""
        return self.maps[name].get(value, ())

    def add(self, entry: Any) -> None:
        self._put(entry)
        on_undo(_index_drop, self, entry)

    def remove(self, entry: Any) -> None:
        self._drop(entry)
        on_undo(_index_put, self, entry)

    def _put(self, entry: Any) -> None:
        for name, by in self.maps.items():
            by.setdefault(getattr(entry, name), set()).add(entry.id)

    def _drop(self, entry: Any) -> None:
        for name, by in self.maps.items():
            key = getattr(entry, name)
            ids = by[key]
            ids.discard(entry.id)
            if not ids:
                del by[key]

    def as_dicts(self) -> dict[str, dict[Any, list[int]]]:
        """Every map with its keys and ids sorted (for comparing two indexes)."""
        return {name: {k: sorted(v) for k, v in sorted(by.items())} for name, by in self.maps.items()}


def _index_put(index: EntryIndex, entry: Any, _: object) -> None:
    index._put(entry)


def _index_drop(index: EntryIndex, entry: Any, _: object) -> None:
    index._drop(entry)


UNBONDING_INDEX = ("address", "node")
"""What ``State.unbonding_index`` indexes the unbonding entries by."""


REDELEGATION_INDEX = ("address", "source", "node", "mature_epoch")
"""What ``State.redelegation_index`` indexes the redelegations by (``node``: the node it moved to, which rule 23's
retirement test reads with ``source``; ``mature_epoch``: which ones to forget)."""


class SlashIndex:
    """Derived: the positions in ``State.slashes`` of each node's slash records, in the list's order (which is id order),
    so the slashes of one node are read without the whole history (``stake.cancel_unbond``: the slashes an entry was
    spared). As ``EntryIndex``: not hashed, not in a snapshot, rebuilt on decode (``of``), written only by
    ``State.add_slash`` (slash records are only ever appended), journaled, compared with a rebuild by the full checks."""

    __slots__ = ("by_node",)

    def __init__(self) -> None:
        self.by_node: dict[str, list[int]] = {}

    @classmethod
    def of(cls, slashes: list[SlashRecord]) -> SlashIndex:
        index = cls()
        for i, s in enumerate(slashes):
            index.by_node.setdefault(s.node, []).append(i)
        return index

    def add(self, node: str, position: int) -> None:
        self.by_node.setdefault(node, []).append(position)
        on_undo(_slash_index_pop, self, node)

    def as_dict(self) -> dict[str, list[int]]:
        return {k: list(v) for k, v in sorted(self.by_node.items())}


def _slash_index_pop(index: SlashIndex, node: str, _: object) -> None:
    positions = index.by_node[node]
    positions.pop()
    if not positions:
        del index.by_node[node]


def task_names(task: Task | ClosedTask) -> list[str]:
    """The nodes a task names, each as often as it names it: its router, each miner, each validator (``NodeRefs``); a
    closed task's stub names the same nodes as its whole record did (``ClosedTask``: its miners' addresses)."""
    names = list(task.miners) if isinstance(task, ClosedTask) else [a.miner for a in task.miners]
    names += task.validators
    if task.router is not None:
        names.append(task.router)
    return names


def session_names(session: Session) -> tuple[str, ...]:
    """The nodes an open session names: its dedicated miners (its next task draws among them); a closed one names none."""
    return session.dedicated_miners if session.is_open else ()


class NodeRefs:
    """Derived: how many times the live tasks (``State.tasks``: each one's router, miners and validators, ``task_names``)
    and the open sessions (their dedicated miners, ``session_names``) name each node, so rule 23's retirement test
    (``prune.retirable``) reads one count per idle node instead of walking every live task and session at every close
    (an amplification: a churner's idle key made every close walk them all). A node named twice counts twice; a node at 0
    has no key.

    As ``EntryIndex``: not hashed, not in a snapshot, rebuilt when a state is decoded (``of``); written where tasks and
    sessions name nodes: a task recorded (``tasks._open_task``), its miners drawn or its validators assigned, a task
    pruned (``prune.process_prune``), a session opened, its miners drawn or closed; each write journaled
    (``journal.on_undo``), so a refused event or a skipped consequence leaves it equal to a rebuild; compared with one by
    the full checks (``State.check_entry_indexes``). Its dict is plain: its order is never read, and a key deleted here
    costs O(1), not the journaled dicts' order keeping."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    @classmethod
    def of(cls, tasks: dict[int, Task], sessions: dict[int, Session], closed_tasks: dict[int, ClosedTask] | None = None) -> NodeRefs:
        """The counts of ``tasks``, the closed tasks' stubs and ``sessions`` (O(them))."""
        refs = cls()
        for task in tasks.values():
            refs._add(task_names(task), 1)
        for stub in (closed_tasks or {}).values():
            refs._add(task_names(stub), 1)
        for session in sessions.values():
            refs._add(session_names(session), 1)
        return refs

    def add(self, names: list[str] | tuple[str, ...]) -> None:
        """Each of ``names`` is named once more."""
        if names:
            self._add(names, 1)
            on_undo(_node_refs_add, self, names, -1)

    def drop(self, names: list[str] | tuple[str, ...]) -> None:
        """Each of ``names`` is named once less (it was named)."""
        if names:
            self._add(names, -1)
            on_undo(_node_refs_add, self, names, 1)

    def drop_counts(self, counts: Mapping[str, int]) -> None:
        """Each node of ``counts`` is named that many times less (it was named at least that often): the window's drop of
        many stubs at once (``prune.drop_stubs``), O(the nodes named) and one journal entry, not O(names) and one a stub.
        Checked whole before any write: a node named fewer times than dropped raises and changes nothing."""
        held = self.counts
        for name, by in counts.items():
            invariant(by > 0 and held.get(name, 0) >= by, f"node {name} named fewer than no times")
        if counts:
            _node_refs_add_counts(self, counts, -1)
            on_undo(_node_refs_add_counts, self, counts, 1)

    def named(self, node_id: str) -> bool:
        return node_id in self.counts

    def _add(self, names: list[str] | tuple[str, ...], by: int) -> None:
        counts = self.counts
        for name in names:
            left = counts.get(name, 0) + by
            invariant(left >= 0, f"node {name} named fewer than no times")
            if left:
                counts[name] = left
            else:
                del counts[name]

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def _node_refs_add(refs: NodeRefs, names: list[str] | tuple[str, ...], by: int) -> None:
    refs._add(names, by)


def _node_refs_add_counts(refs: NodeRefs, counts: Mapping[str, int], sign: int) -> None:
    held = refs.counts
    for name, by in counts.items():
        left = held.get(name, 0) + sign * by
        if left:
            held[name] = left
        else:
            del held[name]


_ABSENT = object()  # a node not held by a ``CapHeap`` (what its undo restores)


class CapHeap:
    """One role's nodes that may cap a newcomer's start (``ReputationCaps``), by reputation: ``members`` (node -> its
    reputation, kept equal to the node's) and ``heap``, a binary heap of ``(reputation, node)`` holding an entry for each
    member's reputation, and stale ones (a member's earlier reputations, nodes no longer held) that are dropped when they
    reach the top. Its dicts and lists are plain: ``put`` and ``lowest`` journal what they change (``journal.on_undo``)."""

    __slots__ = ("members", "heap")

    def __init__(self) -> None:
        self.members: dict[str, int] = {}
        self.heap: list[tuple[int, str]] = []

    def put(self, node_id: str, reputation: int) -> None:
        """Hold ``node_id`` at ``reputation`` (O(log n); a heap that holds more than twice its members' entries is made
        again from them)."""
        old = self.members.get(node_id, _ABSENT)
        if old == reputation:
            return
        self.members[node_id] = reputation
        heapq.heappush(self.heap, (reputation, node_id))
        on_undo(_cap_restore, self, node_id, old)
        if len(self.heap) > 2 * len(self.members) + 32:
            self.heap = [(r, n) for n, r in self.members.items()]
            heapq.heapify(self.heap)

    def drop(self, node_id: str) -> None:
        """Let go of ``node_id`` (a node leaving the state, core/prune.py ``retire_nodes``); its heap entry is stale."""
        old = self.members.pop(node_id, _ABSENT)
        if old is not _ABSENT:
            on_undo(_cap_restore, self, node_id, old)

    def _set(self, node_id: str, reputation: int) -> None:
        """``put`` without a journal or a check (an index being made)."""
        self.members[node_id] = reputation
        heapq.heappush(self.heap, (reputation, node_id))

    def lowest(self, caps: Callable[[str], bool]) -> int | None:
        """The lowest reputation of the members that ``caps`` now; a member at the top that no longer does is let go (it
        never caps again without a ``put``: see ``ReputationCaps``). None when none caps. Amortised O(log n): each entry
        popped was pushed once."""
        heap, members = self.heap, self.members
        while heap:
            reputation, node_id = heap[0]
            if members.get(node_id) == reputation:
                if caps(node_id):
                    return reputation
                del members[node_id]
                on_undo(_cap_restore, self, node_id, reputation)
            heapq.heappop(heap)
        return None

    def consistent(self, state: State, role: str) -> bool:
        """Every member is a node of ``role`` held at its reputation and has its heap entry (O(entries))."""
        entries = set(self.heap)
        for node_id, reputation in self.members.items():
            node = state.nodes.get(node_id)
            if node is None or node.role != role or node.reputation_ppb != reputation or (reputation, node_id) not in entries:
                return False
        return True


def _cap_restore(heap: CapHeap, node_id: str, old: Any) -> None:
    if old is _ABSENT:
        heap.members.pop(node_id, None)
    else:  # (its entry may have been popped as stale meanwhile: pushed again; an extra entry is only stale)
        heap.members[node_id] = old
        heapq.heappush(heap.heap, (old, node_id))


class ReputationCaps:
    """Derived: per role, the nodes whose reputation may cap a newcomer's start (``staking.starting_reputation``), so
    ``node.register`` reads the lowest of them in O(log n) instead of every node with a jail on record and every slash
    record of the memory window (issue 16: ~11 ms at 10 k jailed nodes slashed in the window, bench/per_event.py --register).

    ``jailed[role]`` holds every node of the role whose jail is running (``state.tick < jailed_until_tick``), put there by
    ``State.jail``; a jail ends when the tick passes it, and the tick never goes back, so a node whose jail has ended is let
    go when it reaches the top (a new jail puts it back). ``slashed[role]`` holds every node of the role with a slash
    record of epoch ``floor`` or later (its last one: records are appended in epoch order), put there by
    ``State.add_slash``; a query for the window from epoch ``since >= floor`` lets go of those whose last slash is older
    (the window only moves forward, so ``floor`` becomes ``since``), and a query from ``since < floor`` (the governed
    ``reputation_memory_epochs`` raised) makes them again from the window's slash records (``refill``: once per such
    change). Each member is held at its node's reputation, re-keyed by every write of it (``State.set_reputation``).
    ``floor`` None: every slashed node is held (a fresh state).

    As ``EntryIndex``: not hashed, not in a snapshot (``state_codec.DERIVED_STATE_FIELDS``), made again when a state is
    decoded (``of``), every write journaled (a refused event or skipped consequence leaves it holding what it held), and
    compared by the full checks (``State.check_entry_indexes``) with the capping nodes found by reading every jailed node
    and the window's slash records (``capping_nodes``): the members that cap, and each member's reputation and entry."""

    __slots__ = ("jailed", "slashed", "floor")

    def __init__(self) -> None:
        self.jailed: dict[str, CapHeap] = {r: CapHeap() for r in ROLES}
        self.slashed: dict[str, CapHeap] = {r: CapHeap() for r in ROLES}
        self.floor: int | None = None

    @classmethod
    def of(cls, state: State) -> ReputationCaps:
        """The index of ``state`` (O(jailed nodes + the window's slash records)); no journal is written."""
        caps = cls()
        for node_id in state.jailed:
            node = state.nodes[node_id]
            if node.jailed_until_tick is not None and state.tick < node.jailed_until_tick:
                _heap(caps.jailed, node.role)._set(node_id, node.reputation_ppb)
        caps.slashed, caps.floor = _slashed_since(state, window_start(state))
        return caps

    def on_jail(self, node: Node) -> None:
        _heap(self.jailed, node.role).put(node.id, node.reputation_ppb)

    def on_slash(self, node: Node | None) -> None:
        if node is not None:
            _heap(self.slashed, node.role).put(node.id, node.reputation_ppb)

    def on_reputation(self, node: Node) -> None:
        """``node``'s reputation changed: its entries, if held, re-keyed (O(log n); O(1) when it is not held)."""
        node_id, role = node.id, node.role
        held = self.jailed.get(role)
        if held is not None and node_id in held.members:
            held.put(node_id, node.reputation_ppb)
        held = self.slashed.get(role)
        if held is not None and node_id in held.members:
            held.put(node_id, node.reputation_ppb)

    def forget(self, node: Node) -> None:
        """``node`` left the state (core/prune.py ``retire_nodes``): no heap holds it any more."""
        for heaps in (self.jailed, self.slashed):
            held = heaps.get(node.role)
            if held is not None:
                held.drop(node.id)

    def lowest(self, state: State, role: str, since: int | None) -> int | None:
        """The lowest reputation of the nodes of ``role`` whose jail is running and (``since`` given) of those slashed in
        epoch ``since`` or later; None when there is none."""
        nodes, tick = state.nodes, state.tick

        def jailed(node_id: str) -> bool:
            until = nodes[node_id].jailed_until_tick
            return until is not None and tick < until

        low = _heap(self.jailed, role).lowest(jailed)
        if since is None:
            return low
        if self.floor is None or since > self.floor:
            on_undo(_caps_restore, self, self.slashed, self.floor)
            self.floor = since
        elif since < self.floor:
            self.refill(state, since)
        slashes, by_node = state.slashes, state.slash_index.by_node

        def slashed(node_id: str) -> bool:
            positions = by_node.get(node_id)
            return positions is not None and slashes[positions[-1]].epoch >= since

        recent = _heap(self.slashed, role).lowest(slashed)
        return recent if low is None or (recent is not None and recent < low) else low

    def refill(self, state: State, since: int) -> None:
        """``slashed`` made again from the slash records of epoch ``since`` on (O(them)), journaled as one swap."""
        on_undo(_caps_restore, self, self.slashed, self.floor)
        self.slashed, self.floor = _slashed_since(state, since)

    def held(self, state: State) -> dict[str, dict[str, dict[str, int]]]:
        """The members that cap now, with the reputations held (``capping_nodes``' shape: the roles with any): the jailed
        ones whose jail is running, the slashed ones whose last slash is in the window (a window starting before ``floor``
        is not compared: a query refills it first)."""
        since = window_start(state)
        tick = state.tick
        out: dict[str, dict[str, dict[str, int]]] = {"jailed": {}, "slashed": {}}
        for role, heap in self.jailed.items():
            running = {}
            for node_id, reputation in heap.members.items():
                until = state.nodes[node_id].jailed_until_tick if node_id in state.nodes else None
                if until is not None and tick < until:
                    running[node_id] = reputation
            if running:
                out["jailed"][role] = running
        if since is not None and self.floor is not None and since < self.floor:
            out["slashed"] = capping_nodes(state)["slashed"]
            return out
        by_node = state.slash_index.by_node
        for role, heap in self.slashed.items():
            recent = {}
            for node_id, reputation in heap.members.items():
                positions = by_node.get(node_id)
                if positions and (since is None or state.slashes[positions[-1]].epoch >= since):
                    recent[node_id] = reputation
            if recent:
                out["slashed"][role] = recent
        return out

    def consistent(self, state: State) -> bool:
        return all(heap.consistent(state, role) for heaps in (self.jailed, self.slashed) for role, heap in heaps.items())


def _heap(heaps: dict[str, CapHeap], role: str) -> CapHeap:
    """``heaps[role]``, made empty if absent (every role of ``ROLES`` has one from the start)."""
    heap = heaps.get(role)
    if heap is None:
        heap = heaps[role] = CapHeap()
    return heap


def _caps_restore(caps: ReputationCaps, slashed: dict[str, CapHeap], floor: int | None) -> None:
    caps.slashed, caps.floor = slashed, floor


def window_start(state: State) -> int | None:
    """The first epoch of the reputation memory window (``state.epoch - reputation_memory_epochs``); None before genesis."""
    if state.params_history is None:
        return None
    return state.epoch - state.params.reputation_memory_epochs


def _slashed_since(state: State, since: int | None) -> tuple[dict[str, CapHeap], int | None]:
    """Per role, the nodes with a slash record of epoch ``since`` or later (None: any), at their reputations."""
    heaps = {r: CapHeap() for r in ROLES}
    for s in reversed(state.slashes):  # in the order they were taken: epochs never go down
        if since is not None and s.epoch < since:
            break
        node = state.nodes.get(s.node)
        if node is not None and s.node not in _heap(heaps, node.role).members:
            heaps[node.role]._set(node.id, node.reputation_ppb)
    return heaps, since


def capping_nodes(state: State) -> dict[str, dict[str, dict[str, int]]]:
    """The nodes that cap a newcomer's start now, per role, read from every node with a jail on record and every slash
    record of the window (what ``starting_reputation`` walked until the index; the full checks' rebuild): those whose
    jail is running, and those slashed in epoch ``window_start`` or later, each with its reputation (the roles with any)."""
    jailed: dict[str, dict[str, int]] = {}
    for node_id in sorted(state.jailed):
        node = state.nodes[node_id]
        if node.jailed_until_tick is not None and state.tick < node.jailed_until_tick:
            jailed.setdefault(node.role, {})[node_id] = node.reputation_ppb
    heaps, _ = _slashed_since(state, window_start(state))
    return {"jailed": jailed, "slashed": {role: dict(heap.members) for role, heap in heaps.items() if heap.members}}


class DueIds:
    """Derived: the ids of one of the state's derived sets of open items (``State.undrawn_bounties`` by ``deadline_tick``,
    ``State.voting_proposals`` by ``end_tick``) in a binary heap of ``(tick due, id)``, so the oracle's tick reads the
    items due now and the next tick one is due (``apply.next_due_tick``) without reading every open item at every step
    (issue 16: anyone holds 10 k bounties open at a prize of one base unit each, ``bounties.MAX_OPEN_BOUNTIES``).

    Every id of the set has an entry at its item's due tick (the tick never changes); an entry whose id left the set, or
    whose item is due at another tick (an id a refused event had handed out, taken again), is stale and dropped when
    read. ``pop_due`` takes the entries due (journaled: a refused tick puts them back); a push is not undone (what a
    refused event pushed is then stale, or repeats a live entry: ids are read once). As ``EntryIndex``: not hashed, not
    in a snapshot (``state_codec.DERIVED_STATE_FIELDS``), made again when a state is decoded (``of``), compared with a
    rebuild by the full checks (``State.check_entry_indexes``). Its list is plain: ``heapq`` writes it."""

    __slots__ = ("heap",)

    def __init__(self) -> None:
        self.heap: list[tuple[int, int]] = []

    @classmethod
    def of(cls, ids: AbstractSet[int], items: Mapping[int, Any], attr: str) -> DueIds:
        """The heap of ``ids`` at their items' ``attr`` (a sorted list is a heap)."""
        due = cls()
        due.heap = sorted((getattr(items[i], attr), i) for i in ids)
        return due

    def push(self, tick: int, ident: int) -> None:
        heapq.heappush(self.heap, (tick, ident))

    def _pop(self) -> tuple[int, int]:
        entry = heapq.heappop(self.heap)
        on_undo(_due_push, self, entry)
        return entry

    def _live(self, ids: AbstractSet[int], items: Mapping[int, Any], attr: str, entry: tuple[int, int]) -> bool:
        item = items.get(entry[1]) if entry[1] in ids else None
        return item is not None and getattr(item, attr) == entry[0]

    def pop_due(self, ids: AbstractSet[int], items: Mapping[int, Any], attr: str, tick: int) -> list[int]:
        """The ids of the set due at ``tick`` or before, taken from the heap, in id order (stale entries dropped)."""
        heap, out = self.heap, set()
        while heap and heap[0][0] <= tick:
            entry = self._pop()
            if self._live(ids, items, attr, entry):
                out.add(entry[1])
        if len(heap) > 2 * len(ids) + 32:  # (stale entries piled up: made again from the set, the old heap kept for an undo)
            on_undo(_due_restore, self, heap)
            self.heap = DueIds.of(ids - out, items, attr).heap
        return sorted(out)

    def next_after(self, ids: set[int], items: dict[int, Any], attr: str, tick: int) -> int | None:
        """The earliest due tick after ``tick`` of the set's items (None: none). Stale entries at the top are dropped; an
        item due at ``tick`` or before whose id is still in the set (none, as the core takes them: each is taken at the
        first step at or after its due tick) sends the question to every item of the set, as it was read before."""
        heap = self.heap
        while heap and not self._live(ids, items, attr, heap[0]):
            self._pop()
        if not heap:
            return None
        if heap[0][0] > tick:
            return heap[0][0]
        return min((t for t in (getattr(items[i], attr) for i in ids) if t > tick), default=None)

    def live(self, ids: AbstractSet[int], items: Mapping[int, Any], attr: str) -> list[tuple[int, int]]:
        """The live entries, sorted (for comparing with a rebuild)."""
        return sorted({e for e in self.heap if self._live(ids, items, attr, e)})


def _due_push(due: DueIds, entry: tuple[int, int], _: object) -> None:
    heapq.heappush(due.heap, entry)


def _due_restore(due: DueIds, heap: list[tuple[int, int]], _: object) -> None:
    due.heap = heap


class StubEpochs:
    """Derived: the closed tasks' stubs (``State.closed_tasks``, ``RULES_TASK_STUB``) by ``created_epoch``: each epoch's ids
    in the order they closed (``buckets``: epoch -> ids) and how many times its stubs name each node (``names``: epoch ->
    node -> count, ``task_names`` of each stub summed), so the close that ends the window takes whole buckets
    (``take_due``: O(buckets) and one journal entry, no heap pop per stub) and ``prune.drop_stubs`` takes the names off
    ``State.node_refs`` once per node named (O(nodes), not a read of every dropped stub's names: ~1 µs a stub at 1 M,
    the decoded stubs' strings scattered in memory; each name is counted here by the event that closes the task, its
    stub just made). Exact: every stub has one entry, in its epoch's bucket, its names in its epoch's counts, nothing
    else is held (``push`` is journaled, so a refused event's stubs leave nothing; there is no stale entry to skip). As
    ``EntryIndex``: not hashed, not in a snapshot (``state_codec.DERIVED_STATE_FIELDS``), made again when a state is
    decoded (``of``), compared with a rebuild by the full checks (``State.check_entry_indexes``: the ``(epoch, id)`` pairs
    sorted, the order inside a bucket is never read, and the counts). Its dicts and lists are plain: ``push`` and
    ``take_due`` journal what they change."""

    __slots__ = ("buckets", "names")

    def __init__(self) -> None:
        self.buckets: dict[int, list[int]] = {}
        self.names: dict[int, dict[str, int]] = {}

    @classmethod
    def of(cls, stubs: Mapping[int, ClosedTask]) -> StubEpochs:
        """The buckets of ``stubs`` and their names (O(stubs)), each bucket in ``stubs``' order."""
        index = cls()
        for stub in stubs.values():
            index._add(stub)
        return index

    def push(self, stub: ClosedTask) -> None:
        """A stub just made (journaled: a refused event takes it back)."""
        self._add(stub)
        on_undo(_stub_epochs_unpush, self, stub)

    def _add(self, stub: ClosedTask) -> None:
        epoch = stub.created_epoch
        bucket = self.buckets.get(epoch)
        if bucket is None:
            self.buckets[epoch] = [stub.id]
            counts = self.names[epoch] = {}
        else:
            bucket.append(stub.id)
            counts = self.names[epoch]
        for name in stub.miners:
            counts[name] = counts.get(name, 0) + 1
        for name in stub.validators:
            counts[name] = counts.get(name, 0) + 1
        if stub.router is not None:
            counts[stub.router] = counts.get(stub.router, 0) + 1

    def take_due(self, horizon: int) -> tuple[list[int], dict[str, int]]:
        """The ids of the stubs created at or before ``horizon`` (by epoch, each epoch's in the order they closed) and how
        many times they name each node, taken out (journaled). O(buckets + ids + nodes named), and O(1) a stub when one
        epoch's bucket is due (each close takes one: the window moves by one epoch)."""
        buckets, names = self.buckets, self.names
        due = sorted(e for e in buckets if e <= horizon)
        if not due:
            return [], {}
        taken = [(e, buckets.pop(e), names.pop(e)) for e in due]
        on_undo(_stub_epochs_restore, self, taken)
        if len(taken) == 1:
            return taken[0][1], taken[0][2]
        counts: dict[str, int] = {}
        for _, _, named in taken:
            for name, n in named.items():
                counts[name] = counts.get(name, 0) + n
        return [i for _, ids, _ in taken for i in ids], counts

    def entries(self) -> list[tuple[int, int]]:
        """Every ``(epoch, id)`` held, sorted (for comparing with a rebuild: a duplicate or a stray entry shows)."""
        return sorted((e, i) for e, ids in self.buckets.items() for i in ids)

    def counts(self) -> dict[int, dict[str, int]]:
        """Each epoch's counts of names, sorted (for comparing with a rebuild)."""
        return {e: dict(sorted(self.names[e].items())) for e in sorted(self.names)}


def _stub_epochs_unpush(index: StubEpochs, stub: ClosedTask, _: object) -> None:
    epoch = stub.created_epoch
    bucket = index.buckets[epoch]
    bucket.pop()
    if not bucket:
        del index.buckets[epoch]
        del index.names[epoch]
        return
    counts = index.names[epoch]
    for name in task_names(stub):
        left = counts[name] - 1
        if left:
            counts[name] = left
        else:
            del counts[name]


def _stub_epochs_restore(index: StubEpochs, taken: list[tuple[int, list[int], dict[str, int]]], _: object) -> None:
    for e, ids, named in taken:
        index.buckets[e] = ids
        index.names[e] = named


def _unbonding_index() -> EntryIndex:
    return EntryIndex(UNBONDING_INDEX)


def _redelegation_index() -> EntryIndex:
    return EntryIndex(REDELEGATION_INDEX)


@dataclass
class State(Journaled):
    """The whole engine state."""

    chain_id: str = ""
    oracle: str = ""
    genesis_supply: int = 0
    minted: int = 0
    params_history: ParamHistory | None = None
    tick: int = 0
    epoch: int = 0
    epoch_start_tick: int = 0
    seq: int = -1
    head_hash: str = GENESIS_PREV_HASH
    ledger: Ledger = field(default_factory=Ledger)
    nonces: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    unbondings: dict[int, Unbonding] = field(default_factory=dict)
    redelegations: dict[int, Redelegation] = field(default_factory=dict)  # moved stake still slashable at its source
    slashes: list[SlashRecord] = field(default_factory=list)
    evidence_used: set[str] = field(default_factory=set)
    earnings: list[EarningItem] = field(default_factory=list)
    epochs: dict[int, EpochRecord] = field(default_factory=dict)
    models: dict[str, Model] = field(default_factory=dict)
    sessions: dict[int, Session] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    # the stubs of the closed tasks inside the evidence window whose whole record left (``RULES_TASK_STUB``: core/prune.py
    # ``retire_closed_tasks``), in creation order; empty under earlier rules and with pruning off
    closed_tasks: dict[int, ClosedTask] = field(default_factory=dict)
    deadlines: dict[int, set[int]] = field(default_factory=dict)  # tick -> open task ids with a deadline then
    offence_log: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # "node|offence" -> [(epoch, task)]
    epoch_work: WorkColumns = field(default_factory=WorkColumns)  # miner rows of the current epoch, as columns (core/epoch_columns.py)
    epoch_validations: ValidationColumns = field(default_factory=ValidationColumns)  # validator rows of the current epoch, as columns
    claimed: set[str] = field(default_factory=set)  # "epoch|address" already claimed
    bridged: dict[int, BridgeRecord] = field(default_factory=dict)  # epochs paid on an EVM chain (bridge.post)
    beacon: Beacon | None = None  # the randomness beacon (None: a network whose genesis has none)
    network_prompts: tuple[NetworkPrompt, ...] = ()  # the genesis prompt set network tasks are composed from (core/network_prompts.py)
    proposals: dict[int, Proposal] = field(default_factory=dict)
    controllers: dict[str, Controller] = field(default_factory=dict)  # by name
    bounties: dict[int, Bounty] = field(default_factory=dict)
    curators: set[str] = field(default_factory=set)  # community curators (appointed by governance)
    community_points: dict[str, int] = field(default_factory=dict)  # member -> attested points this epoch
    community_eligible: set[str] = field(default_factory=set)  # members eligible this epoch (snapshot at its start)
    accounts: dict[str, Account] = field(default_factory=dict)  # address -> first seen, first funder
    position_starts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (node, staker) -> stake at the last two epoch starts
    attestations: list[Attestation] = field(default_factory=list)  # of this epoch
    epoch_streams: EpochStreams = field(default_factory=EpochStreams)  # scratch of the epoch close in progress
    next_id: int = 1
    last_checkpoint: Checkpoint | None = None  # the oracle's latest checkpoint
    state_anchors: dict[int, str] = field(default_factory=dict)  # seq -> hash of the state after it, as an oracle checkpoint carried it (rules 4)
    skipped: list[SkippedConsequence] = field(default_factory=list)  # consequences skipped this epoch (see core.journal.attempt)
    pruned: Pruned = field(default_factory=Pruned)  # closed records that left the live state (core/prune.py, RULES_PRUNE)
    # derived: (seq, kind, id, n, canonical bytes, rule version in force) of the records an event pruned, until the database took them
    retired: list[tuple[int, str, int | str, int, bytes, int]] = field(default_factory=list, repr=False, compare=False)
    # derived: where pruned records are read back (app/archive.py); never read by the core
    history: Any = field(default=None, repr=False, compare=False)
    recent_hashes: dict[int, str] = field(default_factory=dict, repr=False, compare=False)  # seq -> hash of the last events (derived from the log)
    touched: set[str] = field(default_factory=set, repr=False, compare=False)  # nodes changed by the current event (for projections)
    jailed: set[str] = field(default_factory=set, repr=False, compare=False)  # derived: nodes with a jail on record (jailed_until_tick set)
    selection: SelectionIndex | None = field(default=None, repr=False, compare=False)  # derived: draw weights (networks with a beacon)
    # derived: the unbonding entries' ids by address and by node (rebuilt from ``unbondings`` when a state is decoded)
    unbonding_index: EntryIndex = field(default_factory=_unbonding_index, repr=False, compare=False)
    # derived: the redelegations' ids by address, source node and maturing epoch (rebuilt from ``redelegations`` likewise)
    redelegation_index: EntryIndex = field(default_factory=_redelegation_index, repr=False, compare=False)
    # derived: each node's slash records' positions in ``slashes`` (rebuilt from ``slashes`` likewise)
    slash_index: SlashIndex = field(default_factory=SlashIndex, repr=False, compare=False)
    # derived: a proposal's addresses with power in its snapshot (its nodes and their stakers), made at its first vote
    # (``governance.has_voting_power``; a snapshot never changes): later votes check one set, not every node of it
    proposal_voters: dict[int, tuple[Proposal, frozenset[str]]] = field(default_factory=dict, repr=False, compare=False)
    # derived: the ids of the proposals still VOTING (``governance.process_propose`` adds, the tally removes), the
    # bounties whose reviewers are to be drawn and are not yet (``drawn`` and no ``drawn_tick``: created so, removed at
    # the draw's request) and the bounties not expired (created so, removed by ``bounty.expire``): the oracle's tick and
    # ``bounty.create`` read these, not every proposal or bounty ever made (rebuilt from the records likewise)
    voting_proposals: set[int] = field(default_factory=set, repr=False, compare=False)
    undrawn_bounties: set[int] = field(default_factory=set, repr=False, compare=False)
    unexpired_bounties: set[int] = field(default_factory=set, repr=False, compare=False)
    # derived: the ids of the expired bounties still live (``bounty.expire`` adds, ``prune.retire_bounties`` removes): the
    # close's prune reads these, not every bounty (rebuilt from ``bounties`` likewise)
    expired_bounties: set[int] = field(default_factory=set, repr=False, compare=False)
    # derived: the first two sets' ids by the tick each is due (``DueIds``: the bounties' deadlines, the proposals' ends)
    bounty_deadlines: DueIds = field(default_factory=DueIds, repr=False, compare=False)
    proposal_ends: DueIds = field(default_factory=DueIds, repr=False, compare=False)
    # derived: per role, the nodes whose reputation may cap a newcomer's start (running jails, the memory window's
    # slashes), by reputation (``ReputationCaps``: rebuilt likewise)
    reputation_caps: ReputationCaps = field(default_factory=ReputationCaps, repr=False, compare=False)
    # derived: this epoch's attestations as (member, reference) pairs, and the points each curator gave in them:
    # ``community.attest`` reads these, not every attestation (reset with ``attestations``; rebuilt from it likewise)
    attested: set[tuple[str, str]] = field(default_factory=set, repr=False, compare=False)
    curator_points: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # derived: how many times the live tasks and the open sessions name each node (``NodeRefs``: rule 23's retirement
    # test reads it, not every task; rebuilt from ``tasks`` and ``sessions`` likewise)
    node_refs: NodeRefs = field(default_factory=NodeRefs, repr=False, compare=False)
    # derived: the ids of the closed sessions still live (``session.close`` adds, ``prune.retire_sessions`` removes): the
    # close's prune reads these, not every session (rebuilt from ``sessions`` likewise)
    closed_sessions: set[int] = field(default_factory=set, repr=False, compare=False)
    # derived: the ids of the retired models still live (``model.retire`` adds, ``prune.retire_models`` removes): the
    # close's prune reads these, not every model (rebuilt from ``models`` likewise)
    retired_models: set[str] = field(default_factory=set, repr=False, compare=False)
    # derived: how many live models (retired or not) name each model as their parent (``model.register`` adds one,
    # ``prune.retire_models`` takes it off; a parent with none has no key): rule 26's retirement test and rule 25's
    # retire refusal read it, not every model (rebuilt from ``models`` likewise)
    fine_tune_counts: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # derived: the ids of the tasks the event being applied closed, to retire at its end (``RULES_TASK_STUB``, pruning on:
    # ``tasks._close`` adds, ``prune.retire_closed_tasks`` empties; empty between events)
    closing: list[int] = field(default_factory=list, repr=False, compare=False)
    # derived: the closed tasks' stubs by ``created_epoch`` (``StubEpochs``: the close's prune takes the buckets past the
    # window from it, not by walking every stub; rebuilt from ``closed_tasks`` likewise)
    stub_epochs: StubEpochs = field(default_factory=StubEpochs, repr=False, compare=False)

    @property
    def params(self) -> Params:
        """The parameters in force at the current epoch."""
        return assert_ready(self).at(self.epoch)

    def touch(self, node_id: str) -> None:
        """Note that a node changed: for the projections, and for the selection index (its weight may have)."""
        self.touched.add(node_id)
        if self.selection is not None:
            self.selection.marked.add(node_id)

    def jail(self, node_id: str, until: int) -> None:
        """Jail a node until tick ``until`` (a running jail is never shortened); ``jailed`` indexes it, so
        what asks about running jails reads those nodes only, not every node."""
        node = self.nodes[node_id]
        node.jailed_until_tick = max(until, node.jailed_until_tick or 0)
        self.jailed.add(node_id)
        self.reputation_caps.on_jail(node)

    def unjail(self, node_id: str) -> None:
        self.nodes[node_id].jailed_until_tick = None
        self.jailed.discard(node_id)

    def add_unbonding(self, entry: Unbonding) -> None:
        """A new unbonding entry, indexed by its address and node (``unbonding_index``)."""
        self.unbondings[entry.id] = entry
        self.unbonding_index.add(entry)

    def remove_unbonding(self, entry: Unbonding) -> None:
        """Delete an unbonding entry (withdrawn, or cancelled whole) and its index entries."""
        del self.unbondings[entry.id]
        self.unbonding_index.remove(entry)

    def unbondings_of(self, address: str) -> list[Unbonding]:
        """The unbonding entries of ``address``, by id: O(its entries), not O(every entry)."""
        return [self.unbondings[i] for i in sorted(self.unbonding_index.ids("address", address))]

    def unbondings_from(self, node_id: str) -> list[Unbonding]:
        """The unbonding entries from ``node_id``, by id: O(its entries), not O(every entry)."""
        return [self.unbondings[i] for i in sorted(self.unbonding_index.ids("node", node_id))]

    def add_redelegation(self, entry: Redelegation) -> None:
        """A new redelegation, indexed (``redelegation_index``)."""
        self.redelegations[entry.id] = entry
        self.redelegation_index.add(entry)

    def remove_redelegation(self, entry: Redelegation) -> None:
        """Forget a redelegation (matured) and its index entries."""
        del self.redelegations[entry.id]
        self.redelegation_index.remove(entry)

    def redelegations_of(self, address: str) -> list[Redelegation]:
        """The redelegations of ``address``, by id: O(its entries), not O(every entry)."""
        return [self.redelegations[i] for i in sorted(self.redelegation_index.ids("address", address))]

    def redelegations_from(self, node_id: str) -> list[Redelegation]:
        """The redelegations out of ``node_id``, by id: O(its entries), not O(every entry)."""
        return [self.redelegations[i] for i in sorted(self.redelegation_index.ids("source", node_id))]

    def redelegations_matured(self) -> list[Redelegation]:
        """The redelegations whose ``mature_epoch`` is this epoch or earlier, by id: O(the maturing epochs held + those)."""
        by_epoch = self.redelegation_index.maps["mature_epoch"]
        return [self.redelegations[i] for i in sorted(i for e, ids in by_epoch.items() if e <= self.epoch for i in ids)]

    def add_slash(self, record: SlashRecord) -> None:
        """A new slash record, last (``slashes`` is in id order), indexed by its node (``slash_index``)."""
        self.slashes.append(record)
        self.slash_index.add(record.node, len(self.slashes) - 1)
        self.reputation_caps.on_slash(self.nodes.get(record.node))

    def set_reputation(self, node: Node, reputation_ppb: int) -> None:
        """Write a node's reputation (every write of it goes here): its entries in ``reputation_caps`` follow."""
        node.reputation_ppb = reputation_ppb
        self.reputation_caps.on_reputation(node)

    def slashes_of(self, node_id: str) -> list[SlashRecord]:
        """The slash records of ``node_id``, in id order: O(its slashes), not O(every slash)."""
        return [self.slashes[i] for i in self.slash_index.by_node.get(node_id, ())]

    def entry_indexes(self) -> dict[str, Any]:
        """The derived indexes of entries and slash records, as comparable dicts."""
        return {
            "unbondings": self.unbonding_index.as_dicts(),
            "redelegations": self.redelegation_index.as_dicts(),
            "slashes": self.slash_index.as_dict(),
            **{name: sorted(ids) for name, ids in self.open_ids().items()},
            "attested": sorted(self.attested),
            "curator_points": dict(sorted(self.curator_points.items())),
            "node_refs": self.node_refs.as_dict(),
            "fine_tune_counts": dict(sorted(self.fine_tune_counts.items())),
            "stub_epochs": self.stub_epochs.entries(),
            "stub_epoch_names": self.stub_epochs.counts(),
        }

    def open_ids(self) -> dict[str, set[int] | set[str]]:
        """The derived sets of open proposals and bounties, of expired bounties, closed sessions and retired models, as held."""
        return {
            "voting_proposals": self.voting_proposals,
            "undrawn_bounties": self.undrawn_bounties,
            "unexpired_bounties": self.unexpired_bounties,
            "expired_bounties": self.expired_bounties,
            "closed_sessions": self.closed_sessions,
            "retired_models": self.retired_models,
        }

    def due_indexes(self) -> list[tuple[DueIds, set[int], dict[int, Any], str]]:
        """Each ``DueIds`` with the set, the records and the due tick's field it indexes."""
        return [
            (self.bounty_deadlines, self.undrawn_bounties, self.bounties, "deadline_tick"),
            (self.proposal_ends, self.voting_proposals, self.proposals, "end_tick"),
        ]

    def open_ids_rebuilt(self) -> dict[str, set[int] | set[str]]:
        """The derived sets of open proposals and bounties, of expired bounties, closed sessions and retired models, rebuilt
        from the records (O(every proposal, bounty, session and model))."""
        bounties = self.bounties.items()
        return {
            "voting_proposals": {i for i, p in self.proposals.items() if p.status == ProposalStatus.VOTING},
            "undrawn_bounties": {i for i, b in bounties if b.drawn and b.drawn_tick is None},
            "unexpired_bounties": {i for i, b in bounties if b.status != BountyStatus.EXPIRED},
            "expired_bounties": {i for i, b in bounties if b.status == BountyStatus.EXPIRED},
            "closed_sessions": {i for i, s in self.sessions.items() if not s.is_open},
            "retired_models": {i for i, m in self.models.items() if m.retired_tick is not None},
        }

    def attestation_indexes_rebuilt(self) -> tuple[set[tuple[str, str]], dict[str, int]]:
        """``attested`` and ``curator_points`` rebuilt from this epoch's attestations (O(them))."""
        points: dict[str, int] = {}
        for a in self.attestations:
            points[a.curator] = points.get(a.curator, 0) + a.points
        return {(a.member, a.reference) for a in self.attestations}, points

    def rebuild_entry_indexes(self) -> None:
        """The derived indexes of entries and slash records, rebuilt from them (a decoded state; ``reputation_caps`` reads
        ``jailed``, rebuilt first)."""
        self.unbonding_index = EntryIndex.of(UNBONDING_INDEX, self.unbondings)
        self.redelegation_index = EntryIndex.of(REDELEGATION_INDEX, self.redelegations)
        self.slash_index = SlashIndex.of(self.slashes)
        for name, ids in self.open_ids_rebuilt().items():
            setattr(self, name, ids)
        self.bounty_deadlines = DueIds.of(self.undrawn_bounties, self.bounties, "deadline_tick")
        self.proposal_ends = DueIds.of(self.voting_proposals, self.proposals, "end_tick")
        self.reputation_caps = ReputationCaps.of(self)
        self.attested, self.curator_points = self.attestation_indexes_rebuilt()
        self.node_refs = NodeRefs.of(self.tasks, self.sessions, self.closed_tasks)
        self.fine_tune_counts = self.fine_tune_counts_rebuilt()
        self.stub_epochs = StubEpochs.of(self.closed_tasks)

    def fine_tune_counts_rebuilt(self) -> dict[str, int]:
        """How many live models name each model as their parent, counted from the models (O(every model))."""
        counts: dict[str, int] = {}
        for m in self.models.values():
            if m.parent is not None:
                counts[m.parent] = counts.get(m.parent, 0) + 1
        return counts

    def check_entry_indexes(self) -> None:
        """Raise InvariantViolation unless each derived index of entries and slash records equals a rebuild (O(them))."""
        invariant(
            self.unbonding_index.as_dicts() == EntryIndex.of(UNBONDING_INDEX, self.unbondings).as_dicts(),
            "unbonding index differs from the unbonding entries",
        )
        invariant(
            self.redelegation_index.as_dicts() == EntryIndex.of(REDELEGATION_INDEX, self.redelegations).as_dicts(),
            "redelegation index differs from the redelegations",
        )
        invariant(self.slash_index.as_dict() == SlashIndex.of(self.slashes).as_dict(), "slash index differs from the slash records")
        invariant(self.open_ids() == self.open_ids_rebuilt(), "the open proposals' and bounties' ids differ from the records")
        for due, ids, items, attr in self.due_indexes():
            invariant(due.live(ids, items, attr) == DueIds.of(ids, items, attr).heap, f"the due ticks by {attr} differ from the open items")
        caps = self.reputation_caps
        invariant(caps.consistent(self), "the capping reputations' index holds a reputation other than its node's, or lacks its entry")
        invariant(caps.held(self) == capping_nodes(self), "the capping reputations' index differs from the running jails and the window's slashes")
        invariant(
            (set(self.attested), dict(self.curator_points)) == self.attestation_indexes_rebuilt(),
            "the attested (member, reference) pairs or the curators' points differ from the epoch's attestations",
        )
        invariant(
            self.node_refs.as_dict() == NodeRefs.of(self.tasks, self.sessions, self.closed_tasks).as_dict(),
            "the count of live tasks' and open sessions' references to each node differs from the tasks and sessions",
        )
        invariant(dict(self.fine_tune_counts) == self.fine_tune_counts_rebuilt(), "the count of each model's live fine-tunes differs from the models")
        rebuilt = StubEpochs.of(self.closed_tasks)
        invariant(
            self.stub_epochs.entries() == rebuilt.entries() and self.stub_epochs.counts() == rebuilt.counts(),
            "the closed tasks' stubs by created epoch, or the nodes each epoch's stubs name, differ from the stubs",
        )
        self.check_tasks_in_creation_order()

    def check_tasks_in_creation_order(self) -> None:
        """Raise InvariantViolation unless ``tasks`` iterates in creation order: ids rising, ``created_epoch`` never falling
        (O(live tasks)). The close's prune reads only the prefix of tasks created at or before its horizon
        (``prune.closed_past_window``), which is every such task only in this order."""
        last_id, last_epoch = -1, -1
        for tid, task in self.tasks.items():
            invariant(tid == task.id, f"task {task.id} is kept under id {tid}")
            invariant(tid > last_id and task.created_epoch >= last_epoch, f"task {tid} is out of creation order in the live tasks")
            last_id, last_epoch = tid, task.created_epoch
        for tid, stub in self.closed_tasks.items():  # (in the order they closed: the window reads ``stub_epochs``)
            invariant(tid == stub.id and tid not in self.tasks, f"closed task {tid}'s stub is kept under id {stub.id} or its task is live whole")

    def skip(self, what: str, error: EngineError) -> None:
        """Record a consequence that could not happen (its writes were undone by ``journal.attempt``)."""
        self.skipped.append(SkippedConsequence(self.seq + 1, self.tick, what, error.code, error.message))

    def new_id(self) -> int:
        """A fresh sequential identifier (deterministic)."""
        i = self.next_id
        self.next_id += 1
        return i

    def to_dict(self) -> dict[str, Any]:
        """Canonical, comparable, JSON-ready view (big ints as strings)."""
        view: dict[str, Any] = json_ready(
            {
                "chain_id": self.chain_id,
                "oracle": self.oracle,
                "genesis_supply": self.genesis_supply,
                "minted": self.minted,
                "params": [[e, p.to_dict()] for e, p in (self.params_history.versions if self.params_history else ())],
                "tick": self.tick,
                "epoch": self.epoch,
                "epoch_start_tick": self.epoch_start_tick,
                "seq": self.seq,
                "head_hash": self.head_hash,
                "balances": dict(sorted(self.ledger.balances.items())),
                "nonces": dict(sorted(self.nonces.items())),
                "nodes": {k: asdict(v) for k, v in sorted(self.nodes.items())},
                "unbondings": {str(k): asdict(v) for k, v in sorted(self.unbondings.items())},
                "slashes": [asdict(s) for s in self.slashes],
                "evidence_used": sorted(self.evidence_used),
                "earnings": [asdict(e) for e in self.earnings],
                "epochs": {str(k): asdict(v) for k, v in sorted(self.epochs.items())},
                "models": {k: asdict(v) for k, v in sorted(self.models.items())},
                "sessions": {str(k): asdict(v) for k, v in sorted(self.sessions.items())},
                "tasks": {str(k): asdict(v) for k, v in sorted(self.tasks.items())},
                "closed_tasks": {str(k): asdict(v) for k, v in sorted(self.closed_tasks.items())},
                "deadlines": {str(k): sorted(v) for k, v in sorted(self.deadlines.items())},
                "offence_log": dict(sorted(self.offence_log.items())),
                "epoch_work": [asdict(r) for r in self.epoch_work],
                "epoch_validations": [asdict(r) for r in self.epoch_validations],
                "claimed": sorted(self.claimed),
                "proposals": {str(k): asdict(v) for k, v in sorted(self.proposals.items())},
                "controllers": {k: asdict(v) for k, v in sorted(self.controllers.items())},
                "bounties": {str(k): asdict(v) for k, v in sorted(self.bounties.items())},
                "curators": sorted(self.curators),
                "community_points": dict(sorted(self.community_points.items())),
                "attestations": [asdict(a) for a in self.attestations],
                "community_eligible": sorted(self.community_eligible),
                "accounts": {k: asdict(v) for k, v in sorted(self.accounts.items())},
                "position_starts": {f"{n}|{a}": list(v) for (n, a), v in sorted(self.position_starts.items())},
                "next_id": self.next_id,
                # absent when empty, so a log without bridge commands keeps the fingerprint it always had
                **({"bridged": {str(k): asdict(v) for k, v in sorted(self.bridged.items())}} if self.bridged else {}),
                **({"beacon": asdict(self.beacon)} if self.beacon is not None else {}),
                **({"network_prompts": [asdict(x) for x in self.network_prompts]} if self.network_prompts else {}),
                **({"redelegations": {str(k): asdict(v) for k, v in sorted(self.redelegations.items())}} if self.redelegations else {}),
                **({"last_checkpoint": asdict(self.last_checkpoint)} if self.last_checkpoint is not None else {}),
                **({"state_anchors": {str(k): v for k, v in sorted(self.state_anchors.items())}} if self.state_anchors else {}),
                **({"skipped": [asdict(x) for x in self.skipped]} if self.skipped else {}),
                **({"pruned": asdict(self.pruned)} if self.pruned.count or self.pruned.epochs_through >= 0 else {}),
            }
        )
        return view


def assert_ready(state: State) -> ParamHistory:
    """The parameter history, or ``no_genesis`` before the genesis event."""
    if state.params_history is None:
        raise Conflict("the network has no genesis yet; run `cor init`", code="no_genesis")
    return state.params_history


def ticks_to_epoch_end(state: State) -> int:
    """Ticks left until the current epoch closes."""
    return state.epoch_start_tick + state.params.epoch_length_ticks - state.tick


def json_ready(obj: Any) -> Any:
    """``obj`` with integers above 2**53 as decimal strings and sets as sorted lists (JSON-safe, canonical)."""
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return str(obj) if abs(obj) > 2**53 else obj
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, IntColumn)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(json_ready(v) for v in obj)
    return obj
