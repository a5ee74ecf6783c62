"""Closed work leaves the live state (rule version ``RULES_PRUNE``): memory follows open work, not history.

Concepts
    After each epoch close, records that nothing in the core reads any more leave ``State``:

    - a *closed task* (settled, failed or cancelled) created at or before
      ``epoch - unbonding_period_epochs``: evidence about it is too old to slash (slashing.py ``_fresh``). From
      ``RULES_TASK_STUB`` its whole record left already, at the end of the event that closed it (``retire_closed_tasks``:
      folded and handed to the database then), and what leaves here is its stub (``State.closed_tasks``, a
      ``ClosedTask``), with no second fold;
    - an *expired bounty* (``bounty.expire`` ran) with its entries, from rule ``RULES_BOUNTY_RETIRE``, at the first
      close after its expiry: nothing can be paid, refunded or reviewed any more (a message naming it is refused with
      ``bounty_not_found`` instead of ``bounty_expired``); one whose reviewer draw still waits for the beacon stays
      until the draw has run;
    - a *node with nothing left* (``RULES_NODE_RETIRE``), at the close's prune: no stake, no unbonding entry or
      redelegation from or to it, no live task or open session naming it, no jail or slash record of its key, no
      voting proposal's snapshot or first-rules offence count naming it (``retirable``). A message naming it is then
      refused ``node_not_found``, as for a key never registered, and the key may ``node.register`` again as a fresh
      record. Its pruned key is ``<address>@<registered tick>`` (a key may be retired more than once);
    - a *closed session* (``RULES_SESSION_BOUND``), at the first close after ``session.close``: its tasks are all closed
      and its deposit returned, so nothing reads it (``retire_sessions``); a message naming it is refused
      ``session_not_found``. One whose dedicated miners' draw still waits for the beacon stays until it ran;
    - a *retired model* (``RULES_MODEL_BOND``), at the first close after ``model.retire`` at which no open task names it
      and no model staying names it as its parent (``retire_models``; from ``RULES_FINE_TUNE_RELEASE`` a model with live
      fine-tunes may be retired, and stays live until they left): its deposit went back at the retire and no new task or
      fine-tune may name it, so only an open task's settlement (its fee's royalty) and its live fine-tunes' (their
      parent's royalty) still read it. A message naming it
      is then refused ``model_not_found`` and its id may be registered again as a fresh record. Its pruned key is
      ``<id>@<registered tick>``;
    - a *parameter version* superseded before the epoch that just closed (each controller step
      adds one per epoch; only ``cor verify``'s slashing audit and the parameter history views read
      older ones, from the database);
    - the *record of an earlier epoch* (every closed epoch but the one that just closed): its statement
      lines, totals, streams, staking, reputation, controllers, governance and skipped consequences.
      While one of its leaves is unclaimed (or it was posted to an EVM chain) it stays as a *slim
      record*, its span, root, leaves and checkpoint, which is all ``reward.claim`` and
      ``bridge.post`` read; once every leaf is claimed it goes, with its ``claimed`` marks.

    Each record that leaves is folded, in order, into a running hash kept in the state:

        pruned.hash = sha256(pruned.hash ‖ kind ‖ ":" ‖ id ‖ ":" ‖ sha256(canonical bytes of the record))

    the record's bytes with the fields a rule version knew (``state_codec.pruned_record_hash``): a parameter version's own
    ``rule_version``; any other record's rule version at retirement, but never fewer fields than rule 24 knew (every field
    until then), so a field added for a later rule moves no older log's hash

    so the state hash (an anchored checkpoint, core/state_codec.py) commits to exactly what left it.
    The engine writes each record's canonical bytes to its database as the event is applied
    (``state.retired``, derived), and reads them back from there (app/archive.py); ``cor verify``
    recomputes ``pruned.hash`` from the database's copies.

Parameters
    ``prune_closed_records`` (1: prune; 0: keep everything in memory, for the simulator, which has
    no database), ``unbonding_period_epochs`` (the evidence window).
"""

from __future__ import annotations

from dataclasses import replace

from .bounties import REVIEWER_DRAW
from .errors import invariant
from .events import content_hash
from .journal import pop_keys
from .models import model_account
from .params import ParamHistory, Params
from .records import CLOSED_TASK_STATES, Bounty, BountyStatus, ClosedTask, EpochRecord, Model, Node, Session, Task
from .rules import RULES_BOUNTY_RETIRE, RULES_MODEL_BOND, RULES_NODE_RETIRE, RULES_PRUNE, RULES_SESSION_BOUND, rules_since
from .sampling import WeightTree
from .selection import pool_keys
from .sessions import RESERVE as SESSION_DRAW
from .sessions import session_account
from .state import State, assert_ready, task_names
from .state_codec import encode_record, pruned_record_hash
from .tasks import ESCALATION as ESCALATION_DRAW
from .tasks import MINERS as MINERS_DRAW
from .tasks import VALIDATORS as VALIDATORS_DRAW

TASK = "task"
BOUNTY = "bounty"
NODE = "node"
SESSION = "session"
MODEL = "model"
EPOCH = "epoch"
PARAMS = "params"

RECORDS: dict[str, type] = {TASK: Task, BOUNTY: Bounty, NODE: Node, SESSION: Session, MODEL: Model, EPOCH: EpochRecord, PARAMS: Params}
"""The record type of each pruned kind (what ``cor verify`` decodes a database row as)."""


def pruning(state: State) -> bool:
    """Whether closed records leave the live state under the parameters in force."""
    p = state.params
    return rules_since(p, RULES_PRUNE) and p.prune_closed_records == 1


def fold(previous: str, kind: str, key: int | str, record_hash: str) -> str:
    """The running hash after one more pruned record."""
    return content_hash(f"{previous}{kind}:{key}:{record_hash}".encode("ascii"))


def retire(state: State, kind: str, key: int | str, record: object) -> None:
    """Fold one record into ``pruned`` with the fields the rule version in force knew (``pruned_record_hash``) and hand its
    whole bytes and that rule version to the database (``state.retired``)."""
    data = encode_record(record)
    rules = state.params.rule_version
    state.pruned.hash = fold(state.pruned.hash, kind, key, pruned_record_hash(type(record), rules, data, record))
    state.retired.append((state.seq + 1, kind, key, state.pruned.count, data, rules))
    state.pruned.count += 1


def slim(record: EpochRecord) -> EpochRecord:
    """What a closed epoch keeps while a leaf may still be claimed: its span, root, leaves and checkpoint."""
    return replace(record, totals={}, items=[], streams={}, staking={}, reputation={}, controllers={}, governance=[], skipped=[])


def fully_claimed(state: State, e: int, record: EpochRecord) -> bool:
    """Nothing left to pay in the engine: no root, or every leaf claimed (an epoch posted on chain stays)."""
    if e in state.bridged:
        return False
    return record.root is None or all(f"{e}|{a}" in state.claimed for a in record.leaves)


def _drop_taken(state: State) -> None:
    """Forget the rows an earlier event handed to the database (taken, or not wanted: no database)."""
    seq = state.seq + 1
    if any(r[0] != seq for r in state.retired):
        state.retired = [r for r in state.retired if r[0] == seq]


def retire_closed_tasks(state: State) -> None:
    """At the end of an event (``apply``) and before a close's prune: each task this event closed under
    ``RULES_TASK_STUB`` with pruning on (``tasks._close`` noted it in ``state.closing``, and ``stubs_closed_tasks``) leaves
    whole, in the order it closed: folded into ``pruned`` as ``task:<id>`` with the bytes ``retire`` folds and handed to
    the database in this event's transaction (``state.retired``), and its ``ClosedTask`` stub takes its place
    (``State.closed_tasks``, in the order the tasks closed; ``State.stub_epochs`` buckets them by ``created_epoch`` for the
    window's end, with the nodes they name: O(names) a stub). Nothing in the event reads the whole record after this: it
    runs after the handler (the settle code reads and writes the task after ``_close``: ``_finalize``'s
    ``_update_validators`` after a ``_fail``) and, in a close, before the prune. Under the journal like every write: a
    refused event leaves no fold, stub or row. A task a queued draw waits for may leave: every draw handler skips a task
    missing from ``State.tasks`` as it skips a closed one (``tasks._drawn_task``). The node counts do not move (the stub
    names the nodes the record named)."""
    closing = state.closing
    if not closing:
        return
    _drop_taken(state)
    for tid in closing:
        task = state.tasks.pop(tid)
        invariant(task.state in CLOSED_TASK_STATES, f"task {tid} retires open")
        stub = state.closed_tasks[tid] = ClosedTask.of(task, state.nodes)  # (its nodes' addresses: the node table's strings)
        state.stub_epochs.push(stub)
        retire(state, TASK, tid, task)
    state.closing = []


def process_prune(state: State) -> None:
    """After an epoch close (``RULES_PRUNE``, ``prune_closed_records`` = 1): closed tasks and earlier epoch records leave."""
    if not pruning(state):
        return
    retire_closed_tasks(state)  # (the tasks this close closed so far: their stubs, then the window)
    _drop_taken(state)
    horizon = state.epoch - state.params.unbonding_period_epochs
    for tid in closed_past_window(state, horizon):
        task = state.tasks.pop(tid)
        state.node_refs.drop(task_names(task))
        retire(state, TASK, tid, task)
    drop_stubs(state, horizon)  # the stubs: folded at their close
    if rules_since(state.params, RULES_BOUNTY_RETIRE):
        retire_bounties(state)
    if rules_since(state.params, RULES_NODE_RETIRE):
        retire_nodes(state)
    if rules_since(state.params, RULES_SESSION_BOUND):
        retire_sessions(state)
    if rules_since(state.params, RULES_MODEL_BOND):
        retire_models(state)
    closed = state.epoch - 1  # the epoch that just closed keeps its whole record
    through = state.pruned.epochs_through
    for e in [e for e in state.epochs if e < closed]:
        record = state.epochs[e]
        if e > through:
            retire(state, EPOCH, e, record)
        if fully_claimed(state, e, record):
            for a in record.leaves:
                state.claimed.discard(f"{e}|{a}")
            del state.epochs[e]
        elif e > through:
            state.epochs[e] = slim(record)
    state.pruned.epochs_through = max(through, closed - 1)
    prune_param_versions(state, closed)


def closed_past_window(state: State, horizon: int) -> list[int]:
    """The closed tasks created at or before ``horizon``, in ``state.tasks``' order: the tasks to retire.

    ``state.tasks`` is in creation order, so by ``created_epoch`` (``State.check_tasks_in_creation_order``): a task goes
    in only when it is opened (``tasks._open_task``, its id the next id, ``created_epoch`` the current epoch, which never
    decreases) and leaves only here (a pop keeps the others' order; no savepoint deletes one, so none goes back at the
    end; a refused close's rollback puts the journal's kept tail back in place; a snapshot keeps the order). The tasks
    past the window are thus a prefix, and the walk stops at the first task created after ``horizon``: O(tasks retired
    + old tasks still open), not O(live tasks), with the same tasks in the same order as the filter of every live task
    that stood here before. Every task it walks past is checked: none closed past the window stays live."""
    out: list[int] = []
    for tid, task in state.tasks.items():
        if task.created_epoch > horizon:
            break
        if task.state in CLOSED_TASK_STATES:
            out.append(tid)
    return out


def drop_stubs(state: State, horizon: int) -> int:
    """The closed tasks' stubs created at or before ``horizon`` leave ``State.closed_tasks`` (``RULES_TASK_STUB``: their
    whole records were folded at the events that closed them; nothing is folded here), and the nodes they name are named
    that much less (``State.node_refs``). How many left.

    In bulk, as a close past the window drops a whole epoch's stubs (1 M tasks an epoch: 1 M stubs): their ids and the
    count of the names they hold are ``State.stub_epochs``' buckets of those epochs, taken whole (no heap pop, no read of
    a stub's names); the stubs are popped from ``closed_tasks`` at C speed with one journal entry (``journal.pop_keys``:
    the others keep their order, a rollback restores theirs) and the counts taken off the node counts once per node
    (``NodeRefs.drop_counts``). The same state as a drop of each stub in id order (``closed_tasks.pop``,
    ``node_refs.drop(task_names(stub))``: session 30's, kept in tests/core/test_stub_drop.py as the reference): the same
    stubs leave, the counts are sums, and removing keys leaves the others' order whatever the order of removal."""
    ids, names = state.stub_epochs.take_due(horizon)
    if not ids:
        return 0
    pop_keys(state.closed_tasks, ids)
    state.node_refs.drop_counts(names)
    return len(ids)


def queued_draws(state: State, purpose: str) -> set[int]:
    """The ids whose ``purpose`` draw still waits in the beacon's queue (none without a beacon: every draw ran at once);
    a record a queued draw will read stays live until the draw has run."""
    pending = state.beacon.pending if state.beacon is not None else ()
    return {ident for kind, ident in pending if kind == purpose}


def retire_bounties(state: State) -> None:
    """Expired bounties leave with their entries (``RULES_BOUNTY_RETIRE``), in id order, read from
    ``state.expired_bounties`` (O(those), no walk of the live bounties); one whose reviewer draw is still queued stays
    until it ran. No log reaches that case today: a tick runs ``process_bounty_deadlines`` and then the
    queued draws in the same event, and ``bounty.create`` needs a deadline after the current tick, so a bounty expires
    only after its draw ran (session 28's hunt, tests/properties/test_draws_after_prune.py). The guard stays for a
    future rule that could queue the draw across events; tests/core/test_bounty_retire.py queues one by hand."""
    waiting = queued_draws(state, REVIEWER_DRAW)
    for bid in sorted(state.expired_bounties - waiting):
        bounty = state.bounties.pop(bid)
        invariant(bounty.status == BountyStatus.EXPIRED, f"bounty {bid} retires unexpired")
        invariant(bid not in state.unexpired_bounties and bid not in state.undrawn_bounties, f"expired bounty {bid} is indexed as open")
        state.expired_bounties.discard(bid)
        retire(state, BOUNTY, bid, bounty)


def retire_sessions(state: State) -> None:
    """Closed sessions leave (``RULES_SESSION_BOUND``), in id order, read from ``state.closed_sessions`` (O(those), no walk
    of the sessions or tasks). Nothing reads a closed session's record any more: ``session.close`` needs no open task, so
    each of its tasks is closed and has settled or refunded into its escrow (a closed task refunds nothing later; slashing
    reads no session), ``task.submit`` and ``session.deposit`` refuse a closed session and the deposit went back whole at
    the close (its escrow account is gone from the ledger). The tasks still live name it by id only. One whose dedicated
    miners' draw is still queued for the beacon (closed before the draw ran) stays until it has run."""
    waiting = queued_draws(state, SESSION_DRAW)
    for sid in sorted(state.closed_sessions - waiting):
        session = state.sessions.pop(sid)
        invariant(not session.is_open and session.open_tasks == 0, f"session {sid} retires open")
        invariant(state.ledger.balance(session_account(sid)) == 0, f"session {sid} retires with a deposit")
        state.closed_sessions.discard(sid)
        retire(state, SESSION, sid, session)


def retire_models(state: State) -> None:
    """Retired models leave (``RULES_MODEL_BOND``), in id order, read from ``state.retired_models`` (O(those), and O(open
    tasks) when one of them has no fine-tune left: no walk of the models or the closed tasks). The readers of
    ``state.models``: ``task.submit``, a quote and a fine-tune's ``model.register`` refuse a retired model
    (``listed_model``); an open task's settlement reads its model (price and royalty: fees.settle_fee,
    tasks._record_work), so a model named by an open task stays until that task closed; a live fine-tune's settlement and
    marketplace share read its parent's owner (fees.settle_fee, rewards.process_marketplace_rewards), so a model named as
    parent by a model staying stays too (``state.fine_tune_counts``, O(1) a model; under rule 25 a model with live
    fine-tunes could not be retired, from ``RULES_FINE_TUNE_RELEASE`` it can). A fine-tune leaving at this close releases
    its parent at the same close (the fine-tunes first, then the parents they free, whatever their ids; folded in id
    order). This epoch's marketplace share was paid by the close before its prune; a closed task and a node's ``models``
    name a model by id only. Its deposit went back at the retire (its escrow account is gone from the ledger)."""
    counts = state.fine_tune_counts
    free = sorted(m for m in state.retired_models if not counts.get(m))
    if not free:
        return
    busy = open_task_models(state)
    ready = [m for m in free if m not in busy]
    leaving: set[str] = set()
    while ready:
        mid = ready.pop()
        leaving.add(mid)
        parent = state.models[mid].parent
        if parent is None:
            continue
        left = counts[parent] - 1
        if left:
            counts[parent] = left
            continue
        del counts[parent]
        if parent in state.retired_models and parent not in busy:
            ready.append(parent)  # its last fine-tune leaves now
    for mid in sorted(leaving):
        model = state.models.pop(mid)
        invariant(model.retired_tick is not None, f"model {mid} retires unretired")
        invariant(state.ledger.balance(model_account(mid)) == 0, f"model {mid} retires with a deposit")
        invariant(mid not in counts, f"model {mid} retires with live fine-tunes")
        state.retired_models.discard(mid)
        retire(state, MODEL, model_key(model), model)


def open_task_models(state: State) -> set[str]:
    """The models named by an open task: one with a deadline (``state.deadlines``) or waiting for a draw of its miners,
    validators or escalation (the beacon's queue, where a task waits without a deadline): O(open tasks), bounded by
    ``max_open_tasks``."""
    ids: set[int] = set().union(*state.deadlines.values()) if state.deadlines else set()
    for purpose in (MINERS_DRAW, VALIDATORS_DRAW, ESCALATION_DRAW):
        ids |= queued_draws(state, purpose)
    tasks = state.tasks
    return {tasks[i].model for i in ids if i in tasks and tasks[i].state not in CLOSED_TASK_STATES}


def model_key(model: Model) -> str:
    """A retired model's pruned key: its id and the tick it registered at (zero-padded): an id may be registered, retired
    and registered again, each record with its own key."""
    return f"{model.id}@{model.registered_tick:012d}"


def node_key(node: Node) -> str:
    """A retired node's pruned key: its address and the tick it registered at (zero-padded, so one key's records sort by
    time). The same key may register, retire and register again: each record has its own."""
    return f"{node.id}@{node.registered_tick:012d}"


def retirable(state: State) -> list[str]:
    """The nodes that nothing in the live state can still pay, slash, draw or refer to (``RULES_NODE_RETIRE``), by id.

    A node qualifies when, after the close:
    - it holds no stake: ``stake_total``, its self-bond and every delegation are 0, no staker position is left for the
      epoch to pay (``positions``, forgotten at the close once empty) and nothing waits in ``rewards:<node>``;
    - no unbonding entry from it is left (matured ones included: ``stake.withdraw`` reads the node's entries, and a slash
      takes from entries that started after the offence) and no redelegation from or to it (each is slashable for its
      source's offences until it matures);
    - no live task names it as router, miner or validator: closed tasks stay live until their evidence is too old
      (``slashing._fresh`` refuses a task created at or before ``epoch - unbonding_period_epochs``, the same horizon that
      retires closed tasks above), so every offence it could still be slashed for, and every payment a task still owes it,
      keeps it; and no open session names it as a dedicated miner (its next task draws among them);
    - no jail on record (a running jail caps newcomers' start, ``staking.starting_reputation``; an ended one not
      unjailed still bars its operator's voter reward, ``governance.barred_voters``) and no slash record of its key (a
      slash caps newcomers for ``reputation_memory_epochs``, a window governance may widen again, and the key's record
      holds the reputation the slash left: a slashed key keeps its record, so it can never register afresh; slash records
      are kept whole anyway, so this adds at most one record per slash, each of which cost its penalty);
    - no voting proposal's snapshot names it (its operator votes its positions there), and no first-rules offence count
      (``offence_log``, rules 1-3) is held for it.
    Bounty reviewers are addresses (an award or a score reads no node record), so a reviewer's node may retire.
    O(nodes) for the zero-stake test (the close already walks every node several times), then O(1) per idle node for the
    live tasks and open sessions (``State.node_refs``, counted where tasks and sessions name nodes: not a walk of every
    live task at each close a node is idle, which a churner's idle keys would make every close pay) and the
    redelegations (``redelegation_index`` by source and by node); each voting proposal's snapshot is asked about each idle
    node (a dict keyed by node: O(idle nodes × voting proposals), not a union of every snapshot's nodes, which a proposal
    holds for its whole voting period, up to ``gov_voting_period_ticks``), and the first-rules offence counts (at most one
    per node and offence; the close's ``process_offence_windows`` walks them anyway) are read once, and only when some
    node has no stake left."""
    balances = state.ledger.balances
    redelegations = state.redelegation_index
    idle = [
        node_id
        for node_id, node in state.nodes.items()
        if node.stake_total == 0
        and not node.delegators
        and not node.positions
        and node.jailed_until_tick is None
        and balances.get(f"bonded:{node_id}", 0) == 0
        and balances.get(f"rewards:{node_id}", 0) == 0
        and not state.unbonding_index.ids("node", node_id)
        and node_id not in state.slash_index.by_node
        and not state.node_refs.named(node_id)
        and not redelegations.ids("source", node_id)
        and not redelegations.ids("node", node_id)
    ]
    if not idle:
        return []
    snapshots = [state.proposals[pid].positions for pid in state.voting_proposals]  # each keyed by node
    offenders = {key.split("|")[0] for key in state.offence_log}
    return sorted(node_id for node_id in idle if node_id not in offenders and not any(node_id in p for p in snapshots))


def retire_nodes(state: State) -> None:
    """Nodes with nothing left leave (``RULES_NODE_RETIRE``), in id order, each folded as ``node:<address>@<tick>``. The
    selection index forgets each one: its weight (0: it is not selectable), its marks, and its slots, each tree that held
    one made again from its other slots in their order (``compact``: O(the tree's slots), once per tree a close touches).
    A draw reads only the positive weights in slot order, so no draw changes; a key registered again takes new slots."""
    idx = state.selection
    emptied: dict[str, set[str]] = {}  # pool key -> the retired nodes holding a slot in its tree
    for node_id in retirable(state):
        node = state.nodes.pop(node_id)
        invariant(node_id not in state.jailed and not state.slashes_of(node_id), f"node {node_id} retires with a jail or a slash on record")
        if idx is not None:
            for key in pool_keys(node):
                tree = idx.trees.get(key)
                if tree is not None and node_id in tree.slot:
                    emptied.setdefault(key, set()).add(node_id)
            idx.weights.pop(node_id, None)
            idx.marked.discard(node_id)
        state.reputation_caps.forget(node)  # (none holds it: a member is jailed or slashed, and neither retires)
        state.touched.add(node_id)  # (the projections delete its row: the database holds its record in ``pruned``)
        retire(state, NODE, node_key(node), node)
    if idx is not None:
        for key, gone in sorted(emptied.items()):
            idx.trees[key] = compact(idx.trees[key], gone)


def compact(tree: WeightTree, gone: set[str]) -> WeightTree:
    """``tree`` without the slots of ``gone`` (retired nodes), the other slots in their order with their weights."""
    return WeightTree.from_slots([(n, w) for n, w in tree.slots() if n not in gone])


def prune_param_versions(state: State, closed: int) -> None:
    """Parameter versions superseded before epoch ``closed`` leave: the history keeps the one in force then and later ones."""
    versions = assert_ready(state).versions
    keep = max(i for i, (e, _) in enumerate(versions) if e <= closed or i == 0)
    for e, p in versions[:keep]:
        retire(state, PARAMS, e, p)
    if keep:
        state.params_history = ParamHistory(versions[keep:])
