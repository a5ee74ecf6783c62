"""Rule 19 (RULES_ESCALATION_FROM_POOL): an escalation draws from the validators' pool tree with the task's validators
left out (selection.draw's ``excluding``), O((k + v) log n); rules 1-18 drew from a tree of every other selectable
validator built in id order, O(n) (issue 16)."""

import pytest

import cor_incentives.core.sampling as sampling
import cor_incentives.core.selection as selection
import cor_incentives.core.tasks as tasks
from cor_incentives.core import beacon
from cor_incentives.core.apply import apply, replay
from cor_incentives.core.errors import Conflict
from cor_incentives.core.records import TaskState
from cor_incentives.core.rules import RULES_ESCALATION_FROM_POOL
from cor_incentives.core.sampling import reference_draw
from cor_incentives.core.selection import draw
from cor_incentives.core.staking import is_selectable
from cor_incentives.core.state import ticks_to_epoch_end
from cor_incentives.core.state_codec import state_hash
from support.chain import addr
from support.market import commit_reveal, dissent, draw_now, market, submit, validate_all
from support.replays import replayed_to, through_snapshot

HONEST = (20_000_000, 850_000_000)


def ready(n_validators, params):
    """A user task on a network with a beacon, its outputs revealed and its first validators drawn."""
    c = market(n_miners=3, n_validators=n_validators, params=params, beacon=True)
    tid = submit(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    assert len(task.validators) == 3
    return c, task


COR = 10**18
LATE = [f"late{i}" for i in range(6)]  # registered after the first draw: their slots come after every v*, their ids do not


def disputed(rule_version: int, n_validators: int = 9, late: list[str] = LATE, slotted: bool = False):
    """A task whose first round (3 validators) dissents on the network of ``rule_version``: it waits for the beacon value
    that draws 3 more. ``late`` validators register after the first draw, so the pool's slot order is not id order
    (``slotted``: they take their slots before the dispute, at another task's draw, instead of at the escalation's)."""
    c, task = ready(n_validators=n_validators, params={"validators_per_task": 3, "rule_version": rule_version})
    for name in late:
        c.as_("user", "transfer", {"to": addr(name), "amount": str(10_000 * COR)})
        c.as_(name, "node.register", {"role": "validator", "self_bond": str(5000 * COR)})
    if slotted:
        draw_now(c, submit(c, "Name a colour."))  # its miners' draw syncs the index: the late validators take slots
    dissent(c, task)
    return c, task


def escalation_seed(c, task) -> bytes:
    return beacon.randomness(bytes.fromhex(c.state.beacon.value[2:]), "task:escalation", task.id)


def test_rule_19_draws_from_the_pools_slots_with_the_tasks_validators_at_weight_0():
    c, task = disputed(RULES_ESCALATION_FROM_POOL)
    first = list(task.validators)
    c.oracle("tick", {"ticks": 1})  # the value: the escalation's draw
    tree = c.state.selection.trees["validator"]
    ids = [n for n, _ in tree.slots()]
    assert ids[-len(LATE) :] == sorted(addr(n) for n in LATE) and ids != sorted(ids)  # slots by first weight, not by id
    slots = tree.slots()
    expected = reference_draw([(n, 0 if n in first else w) for n, w in slots], 3, escalation_seed(c, task))
    drawn = task.validators[3:]
    assert drawn == expected and len(drawn) == 3 and task.validators[:3] == first
    assert not set(drawn) & set(first) and all(is_selectable(c.state, c.state.nodes[v]) for v in drawn)
    assert {task.validator_round[v] for v in drawn} == {1}
    assert all(tree.weight(v) == c.state.selection.weights[v] > 0 for v in first)  # put back after the draw
    selection.check_index(c.state)  # every tree holds the weights recomputed from the state
    validate_all(c, task.id, lambda v, m: HONEST)
    assert task.state == TaskState.SETTLED and len(task.reports) == 6
    assert replay(c.events).to_dict() == c.state.to_dict()


def test_rule_18_keeps_the_draw_over_every_other_selectable_validator_in_id_order():
    c, task = disputed(RULES_ESCALATION_FROM_POOL - 1)
    first = set(task.validators)
    c.oracle("tick", {"ticks": 1})
    among = [v for v in sorted(c.state.nodes) if c.state.nodes[v].role == "validator" and v not in first]
    assert task.validators[3:] == draw(c.state, "validator", 3, escalation_seed(c, task), among=among)
    assert replay(c.events).to_dict() == c.state.to_dict()


def test_the_two_rules_draw_among_the_same_validators_but_not_the_same_ones():
    """Over many seeds both draws range over the same validators (every one not on the task); the pool's slot order is
    not id order here (the late validators), so some draws differ: why the draw is a new rule version."""
    drawn = {}
    for version in (RULES_ESCALATION_FROM_POOL - 1, RULES_ESCALATION_FROM_POOL):
        c, task = disputed(version)
        first = list(task.validators)
        rows = []
        for i in range(40):
            seed = i.to_bytes(4, "big")
            if version >= RULES_ESCALATION_FROM_POOL:
                rows.append(draw(c.state, "validator", 3, seed, excluding=first))
            else:
                rows.append(draw(c.state, "validator", 3, seed, among=[v for v in selection.eligible_nodes(c.state, "validator") if v not in first]))
        drawn[version] = rows
    old, new = drawn[RULES_ESCALATION_FROM_POOL - 1], drawn[RULES_ESCALATION_FROM_POOL]
    assert {v for row in old for v in row} == {v for row in new for v in row}
    assert old != new


def test_rule_19_escalation_scans_no_node_list(monkeypatch):
    """No eligible_nodes (the O(n) sorted scan of every node) in the escalation's draw; rule 18 makes one."""
    for version, scans in ((RULES_ESCALATION_FROM_POOL, False), (RULES_ESCALATION_FROM_POOL - 1, True)):
        c, task = disputed(version)
        calls = []

        def scan(*args, calls=calls, **kwargs):
            calls.append(args[1:])
            raise AssertionError("a scan of every node")

        with monkeypatch.context() as m:
            m.setattr(tasks, "eligible_nodes", scan)
            m.setattr(selection, "eligible_nodes", scan)
            if scans:
                with pytest.raises(AssertionError, match="a scan of every node"):
                    c.oracle("tick", {"ticks": 1})
            else:
                c.oracle("tick", {"ticks": 1})
                assert len(task.validators) == 6
        assert bool(calls) == scans


def test_rule_19_escalation_weighs_only_the_marked_nodes(monkeypatch):
    """The nodes whose selectability the escalation's tick reads: under rule 19 only those the index re-reads (marked
    since the last draw: here none of the 40 validators), under rule 18 every validator (the scan in id order)."""
    weighed = {}
    for version in (RULES_ESCALATION_FROM_POOL, RULES_ESCALATION_FROM_POOL - 1):
        c, task = disputed(version, n_validators=40, late=[])
        read = []

        def counting(state, node, *args, read=read):
            read.append(node.id)
            return is_selectable(state, node, *args)

        with monkeypatch.context() as m:
            m.setattr(selection, "is_selectable", counting)
            c.oracle("tick", {"ticks": 1})
        assert len(task.validators) == 6
        weighed[version] = {v for v in read if c.state.nodes[v].role == "validator"}
    assert len(weighed[RULES_ESCALATION_FROM_POOL]) <= 3  # (the round's validators, if their reveal marked them)
    assert len(weighed[RULES_ESCALATION_FROM_POOL - 1]) == 40


# --- review (session 23): refusals, snapshots, repeated draws ---


def checked_index(state) -> None:
    """``check_index`` on a decoded copy: it syncs the index it checks (marked nodes take their slots), a write to the
    hashed state that, made between events, a replay would not make (the core runs it only inside an epoch close)."""
    selection.check_index(through_snapshot(state))


def trees(state):
    """Everything of the selection index a draw could leave changed: per tree its slots, sums, maxima, totals."""
    idx = state.selection
    out = {key: (t.cap, list(t.ids), dict(t.slot), list(t.weights), list(t.fen), list(t.mx), t.total, t.count) for key, t in idx.trees.items()}
    return out, dict(idx.weights), set(idx.marked), idx.bonds


@pytest.mark.parametrize("slotted", [False, True])
def test_a_tick_refused_after_its_escalation_draw_leaves_the_state_and_its_hash_as_before(monkeypatch, slotted):
    """The draw zeroes the task's validators in the pool tree and puts them back; the event is then refused (here: right
    after the draw's validators are assigned). The journal undoes it all: same hash, same trees, the draw still waiting,
    and the next tick draws what a replay of the accepted log draws. ``slotted``: no validator takes its slot in that
    tick, so the pool tree is not rebuilt (a rebuild swaps whole lists, which the journal puts back whole) and only the
    per-slot writes of the draw are there to undo."""
    c, task = disputed(RULES_ESCALATION_FROM_POOL, slotted=slotted)
    before, tree_before = state_hash(c.state), trees(c.state)
    real, drawn = tasks._escalated, []

    def refused(state, t, got):
        real(state, t, got)
        drawn.append(list(got))
        raise Conflict("refused after the draw", code="test_refusal")

    with monkeypatch.context() as m:
        m.setattr(tasks, "_escalated", refused)
        with pytest.raises(Conflict, match="refused after the draw"):
            c.oracle("tick", {"ticks": 1})
    assert len(drawn) == 1 and len(drawn[0]) == 3  # the draw did run, zeroing and restoring weights inside the event
    assert state_hash(c.state) == before and trees(c.state) == tree_before
    assert len(task.validators) == 3 and task.state == TaskState.COMMITTED
    checked_index(c.state)
    c.oracle("tick", {"ticks": 1})
    assert task.validators[3:] == drawn[0]  # the same value (the refused tick's beacon reveal was undone too)
    assert replay(c.events).to_dict() == c.state.to_dict()
    assert state_hash(replay(c.events)) == state_hash(c.state)


@pytest.mark.parametrize("slotted", [False, True])
@pytest.mark.parametrize("fail_after", [0, 1, 3])
def test_a_tick_whose_escalation_draw_raises_midway_leaves_the_state_and_its_hash_as_before(monkeypatch, fail_after, slotted):
    """The draw itself fails after ``fail_after`` random numbers (the task's validators at weight 0 in the pool tree,
    maybe a certain node taken out): the tree's own finally and the event's journal leave everything as it was."""
    c, task = disputed(RULES_ESCALATION_FROM_POOL, slotted=slotted)
    before, tree_before = state_hash(c.state), trees(c.state)
    real, calls = sampling.rand, []

    def failing(seed, counter, bound):
        calls.append(counter)
        if len(calls) > fail_after:
            raise RuntimeError("the draw failed")
        return real(seed, counter, bound)

    with monkeypatch.context() as m:
        m.setattr(sampling, "rand", failing)
        with pytest.raises(RuntimeError, match="the draw failed"):
            c.oracle("tick", {"ticks": 1})
    assert calls  # the draw was reached
    assert state_hash(c.state) == before and trees(c.state) == tree_before
    assert len(task.validators) == 3
    c.oracle("tick", {"ticks": 1})
    assert len(task.validators) == 6 and not set(task.validators[3:]) & set(task.validators[:3])
    assert state_hash(replay(c.events)) == state_hash(c.state)


@pytest.mark.parametrize("version", [RULES_ESCALATION_FROM_POOL - 1, RULES_ESCALATION_FROM_POOL])
def test_a_state_decoded_from_a_snapshot_draws_the_same_escalation_validators_as_the_live_one(version):
    """The pool's slot order is history (the late validators' slots come after every v*, their ids do not): a snapshot
    must carry it, or rule 19's draw over the slots picks other validators after a restart."""
    c, task = disputed(version, slotted=True)
    twin = through_snapshot(c.state)
    assert state_hash(twin) == state_hash(c.state) and trees(twin)[0] == trees(c.state)[0]
    ids = [n for n, _ in twin.selection.trees["validator"].slots()]
    assert ids != sorted(ids)  # the order a decode from the nodes alone (id order) would get wrong
    c.oracle("tick", {"ticks": 1})
    apply(twin, c.events[-1])
    assert len(task.validators) == 6
    assert twin.tasks[task.id].validators == task.validators
    assert state_hash(twin) == state_hash(c.state)
    validate_all(c, task.id, lambda v, m: HONEST)
    for event in [e for e in c.events if e.seq > twin.seq]:
        apply(twin, event)
    assert twin.tasks[task.id].state == TaskState.SETTLED and state_hash(twin) == state_hash(c.state)


def test_many_escalation_draws_excluding_any_names_leave_the_index_exact_and_the_hash_unchanged():
    """Draws excluding the task's validators, miners (in other pools), unknown names, repeated names, every validator,
    an iterator: none changes the index or the state hash; each excludes exactly what it names."""
    c, task = disputed(RULES_ESCALATION_FROM_POOL, n_validators=12)
    selection.sync(c.state)
    before, tree_before = state_hash(c.state), trees(c.state)
    validators = [n for n, w in c.state.selection.trees["validator"].slots() if w > 0]
    miners = [n for n in c.state.nodes if c.state.nodes[n].role == "miner"]
    exclusions = [
        task.validators,
        task.validators + task.validators,  # repeated
        miners + task.validators[:1],  # names of another pool
        ["0xnobody", "", addr("nobody")],  # names the tree never saw
        validators,  # the whole pool: nothing left to draw
        validators[:-1],  # one left
        validators[:-2] + ["0xnobody"],
        None,  # an iterator over the task's validators, read once
    ]
    for i in range(40):
        listed = exclusions[i % len(exclusions)]
        excluding = listed if listed is not None else iter(task.validators)
        listed = listed if listed is not None else task.validators
        got = draw(c.state, "validator", 3 + i % 5, i.to_bytes(4, "big"), excluding=excluding)
        left = [v for v in validators if v not in set(listed)]
        assert len(got) == len(set(got)) == min(3 + i % 5, len(left)) and set(got) <= set(left)
        assert trees(c.state) == tree_before
    checked_index(c.state)
    assert state_hash(c.state) == before


def test_escalations_in_a_row_keep_the_index_exact():
    """Task after task escalated on one network (each tick's draw zeroes and restores another task's validators): after
    each the index holds exactly the weights recomputed from the state, each draw left out its own task's validators,
    and a replay and a snapshot's decode reach the same hash."""
    c, task = disputed(RULES_ESCALATION_FROM_POOL, n_validators=12, late=LATE[:3])
    done = [task]
    for i in range(4):
        c.oracle("tick", {"ticks": 1})
        assert len(task.validators) == 6 and not set(task.validators[3:]) & set(task.validators[:3])
        checked_index(c.state)
        validate_all(c, task.id, lambda v, m: HONEST)
        assert task.state == TaskState.SETTLED
        tid = submit(c, f"Name prime number {i}.")
        draw_now(c, tid)
        task = c.state.tasks[tid]
        commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
        draw_now(c, tid)
        dissent(c, task)
        done.append(task)
    replayed_to(c.events, c.state)
    through_snapshot(c.state)
    assert len({tuple(t.validators) for t in done}) > 1


def test_a_task_disputed_under_rule_18_and_escalated_in_the_tick_that_activates_19_is_drawn_under_19():
    """The rule is the one in force when the draw runs, not when the task was made or disputed: governance passes
    rule_version 19; a task is disputed in the last epoch of 18; the tick revealing its escalation value closes that
    epoch (which executes the change) before it runs the draws, so the escalation is rule 19's draw over the pool's
    slots with the task's validators at weight 0, not rule 18's (they differ here: late validators, slots not in id
    order). Both draws range over the same validators with the same inclusion law; live and replay agree."""
    gov = {"gov_voting_period_ticks": 10, "epoch_length_ticks": 40, "gov_min_deposit_units": str(100 * COR), "gov_timelock_ticks": 1}
    c = market(n_miners=3, n_validators=9, params={"validators_per_task": 3, "rule_version": RULES_ESCALATION_FROM_POOL - 1, **gov}, beacon=True)
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})  # the stake votes from here on
    pid = c.state.next_id
    body = {"kind": "param_change", "title": "rule 19", "changes": {"rule_version": RULES_ESCALATION_FROM_POOL}, "effective_epoch": c.state.epoch + 1}
    c.as_("user", "gov.propose", body)
    for n in [f"m{i}" for i in range(3)] + [f"v{i}" for i in range(9)] + ["router"]:
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": 12})  # voting ends: the next epoch close executes the change
    assert c.state.proposals[pid].status == "PASSED" and c.state.params.rule_version == RULES_ESCALATION_FROM_POOL - 1
    assert ticks_to_epoch_end(c.state) > 12
    c.oracle("tick", {"ticks": ticks_to_epoch_end(c.state) - 12})  # room for the task's few ticks before the close
    tid = submit(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    for name in LATE[:3]:
        c.as_("user", "transfer", {"to": addr(name), "amount": str(10_000 * COR)})
        c.as_(name, "node.register", {"role": "validator", "self_bond": str(5000 * COR)})
    draw_now(c, submit(c, "Name a colour."))  # the late validators take slots after every v*
    dissent(c, task)
    epoch, first = c.state.epoch, list(task.validators)
    assert c.state.params.rule_version == RULES_ESCALATION_FROM_POOL - 1 and ticks_to_epoch_end(c.state) > 1
    c.oracle("tick", {"ticks": ticks_to_epoch_end(c.state)})  # closes the epoch, executes the change, then draws
    assert c.state.epoch == epoch + 1 and c.state.params.rule_version == RULES_ESCALATION_FROM_POOL
    assert c.state.proposals[pid].status == "EXECUTED"
    seed, tree = escalation_seed(c, task), c.state.selection.trees["validator"]
    ids = [n for n, _ in tree.slots()]
    assert ids != sorted(ids)
    drawn = task.validators[3:]
    assert drawn == reference_draw([(n, 0 if n in first else w) for n, w in tree.slots()], 3, seed)
    old = draw(c.state, "validator", 3, seed, among=[v for v in selection.eligible_nodes(c.state, "validator") if v not in first])
    assert drawn != old  # what rule 18 would have drawn
    assert state_hash(replay(c.events)) == state_hash(c.state)


@pytest.mark.parametrize("version", [RULES_ESCALATION_FROM_POOL - 1, RULES_ESCALATION_FROM_POOL])
def test_an_escalation_with_every_validator_already_on_the_task_draws_none_and_the_task_goes_on(version):
    """The whole pool excluded (3 validators, all on the task): the draw returns nobody under both rules, the tree is as
    it was, and the task goes on with the reports it has (the round given back), as rule 18 did."""
    c, task = disputed(version, n_validators=3, late=[])
    tree_before = trees(c.state)[0]
    c.oracle("tick", {"ticks": 1})
    assert len(task.validators) == 3 and task.round == 0 and task.state != TaskState.COMMITTED
    assert trees(c.state)[0] == tree_before
    checked_index(c.state)
    assert state_hash(replay(c.events)) == state_hash(c.state)


def test_a_state_decoded_from_a_snapshot_undoes_a_refused_escalation_draw(monkeypatch):
    """The trees a snapshot decodes are journaled as the live ones: the escalation tick (whose sync re-weighs a validator
    delegated to since the last draw) refused after its draw on the decoded state leaves its hash and trees as they
    were, and the accepted tick then matches the live state's."""
    c, task = disputed(RULES_ESCALATION_FROM_POOL, slotted=True)
    other = next(v for v in selection.eligible_nodes(c.state, "validator") if v not in task.validators)
    c.as_("user", "stake.delegate", {"node": other, "amount": str(3000 * COR)})  # re-weighed by the tick's sync
    twin = through_snapshot(c.state)
    before, tree_before = state_hash(twin), trees(twin)
    c.oracle("tick", {"ticks": 1})
    real = tasks._escalated

    def refused(state, t, got):
        real(state, t, got)
        raise Conflict("refused after the draw", code="test_refusal")

    with monkeypatch.context() as m:
        m.setattr(tasks, "_escalated", refused)
        with pytest.raises(Conflict):
            apply(twin, c.events[-1])
    assert state_hash(twin) == before and trees(twin) == tree_before
    apply(twin, c.events[-1])
    assert twin.tasks[task.id].validators == task.validators and state_hash(twin) == state_hash(c.state)
